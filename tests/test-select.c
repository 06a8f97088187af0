/* test-select.c: MitogenSelect's ownership rules, nesting and mixed sources
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"

#define WAIT MITOGEN_TEST_WAIT

typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  mitogen_test_master_new (&f->broker, &f->router);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  mitogen_test_master_stop (f->broker, NULL);
  mitogen_test_master_clear (&f->broker, &f->router);
}

/* Delivers @value to @recv through the router, as a message from this
 * process to itself; the broker delivers it, so wait for it to be idle. */
static void
deliver (Fixture *f, MitogenReceiver *recv, guint32 value)
{
  g_autoptr (MitogenMessage) msg = mitogen_message_new (
      mitogen_router_get_context_id (f->router),
      mitogen_receiver_get_handle (recv), g_variant_new_uint32 (value));

  mitogen_router_route (f->router, msg);
  mitogen_test_broker_idle (f->broker);
}

static guint32
message_value (MitogenMessage *msg)
{
  g_autoptr (GVariant) v = mitogen_message_get_data (msg, NULL);

  g_assert_nonnull (v);
  return g_variant_get_uint32 (v);
}

static void
test_add_twice_fails (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenSelect) select = mitogen_select_new (FALSE);
  g_autoptr (MitogenReceiver) recv = mitogen_receiver_new (
      f->router, 0, TRUE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autoptr (MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (mitogen_select_add (select, G_OBJECT (recv), &error));
  g_assert_no_error (error);
  g_assert_false (mitogen_select_add (select, G_OBJECT (recv), &error));
  g_assert_error (error, MITOGEN_SELECT_ERROR, MITOGEN_SELECT_ERROR_OWNED);
  g_assert_nonnull (strstr (error->message, "already in this select"));
  g_clear_error (&error);

  g_assert_true (mitogen_select_add (select, G_OBJECT (latch), NULL));
  g_assert_false (mitogen_select_add (select, G_OBJECT (latch), &error));
  g_assert_error (error, MITOGEN_SELECT_ERROR, MITOGEN_SELECT_ERROR_OWNED);
  g_assert_cmpuint (mitogen_select_size (select), ==, 2);
}

/* The bug this guards: a second select silently took the receiver over, and
 * the first never woke again. */
static void
test_add_owned_by_other_fails (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenSelect) first = mitogen_select_new (FALSE);
  g_autoptr (MitogenSelect) second = mitogen_select_new (FALSE);
  g_autoptr (MitogenReceiver) recv = mitogen_receiver_new (
      f->router, 0, TRUE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenMessage) msg = NULL;

  g_assert_true (mitogen_select_add (first, G_OBJECT (recv), NULL));
  g_assert_false (mitogen_select_add (second, G_OBJECT (recv), &error));
  g_assert_error (error, MITOGEN_SELECT_ERROR, MITOGEN_SELECT_ERROR_OWNED);
  g_assert_nonnull (strstr (error->message, "more than one select"));
  g_clear_error (&error);
  g_assert_cmpuint (mitogen_select_size (second), ==, 0);

  /* The first still owns it and wakes. */
  deliver (f, recv, 7);
  msg = mitogen_select_get (first, WAIT, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (message_value (msg), ==, 7);

  /* Once removed from the first, the second may take it. */
  g_assert_true (mitogen_select_remove (first, G_OBJECT (recv)));
  g_assert_true (mitogen_select_add (second, G_OBJECT (recv), &error));
  g_assert_no_error (error);
}

static void
test_add_cycle_fails (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenSelect) outer = mitogen_select_new (FALSE);
  g_autoptr (MitogenSelect) middle = mitogen_select_new (FALSE);
  g_autoptr (MitogenSelect) inner = mitogen_select_new (FALSE);
  g_autoptr (GError) error = NULL;

  g_assert_false (mitogen_select_add (outer, G_OBJECT (outer), &error));
  g_assert_error (error, MITOGEN_SELECT_ERROR, MITOGEN_SELECT_ERROR_CYCLE);
  g_clear_error (&error);

  g_assert_true (mitogen_select_add (outer, G_OBJECT (middle), NULL));
  g_assert_true (mitogen_select_add (middle, G_OBJECT (inner), NULL));
  g_assert_false (mitogen_select_add (inner, G_OBJECT (outer), &error));
  g_assert_error (error, MITOGEN_SELECT_ERROR, MITOGEN_SELECT_ERROR_CYCLE);
  g_clear_error (&error);
  /* A select too belongs to one select at a time. */
  g_assert_false (mitogen_select_add (inner, G_OBJECT (middle), &error));
  g_assert_error (error, MITOGEN_SELECT_ERROR, MITOGEN_SELECT_ERROR_CYCLE);
  g_clear_error (&error);
  g_assert_false (mitogen_select_add (middle, G_OBJECT (inner), &error));
  g_assert_error (error, MITOGEN_SELECT_ERROR, MITOGEN_SELECT_ERROR_OWNED);
}

static void
test_add_bad_source_fails (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenSelect) select = mitogen_select_new (FALSE);
  g_autoptr (GError) error = NULL;

  g_assert_false (mitogen_select_add (select, G_OBJECT (f->router), &error));
  g_assert_error (error, MITOGEN_SELECT_ERROR, MITOGEN_SELECT_ERROR_BAD_SOURCE);
}

/* Mitogen's Select of Selects: an item of the inner select wakes the outer,
 * and says which source inside the inner it came from. Receivers, channels
 * and latches mixed, some items queued before they were added. */
static void
test_nested_mixed_sources (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenSelect) outer = mitogen_select_new (FALSE);
  g_autoptr (MitogenSelect) inner = mitogen_select_new (FALSE);
  g_autoptr (MitogenReceiver) recv = mitogen_receiver_new (
      f->router, 0, TRUE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autoptr (MitogenReceiver) inbox = mitogen_receiver_new (
      f->router, 0, TRUE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autoptr (MitogenChannel) chan = mitogen_channel_new (
      f->router, mitogen_router_get_context_id (f->router),
      mitogen_receiver_get_handle (inbox), 0);
  g_autoptr (MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr (GError) error = NULL;
  gboolean seen[4] = { FALSE };

  /* Queued before it is watched: counted at add. */
  deliver (f, recv, 1);
  g_assert_true (mitogen_select_add (inner, G_OBJECT (recv), NULL));
  g_assert_true (mitogen_select_add (inner, G_OBJECT (latch), NULL));
  g_assert_true (mitogen_select_add (outer, G_OBJECT (inner), NULL));
  g_assert_true (mitogen_select_add (outer, G_OBJECT (chan), NULL));
  g_assert_false (mitogen_select_empty (outer));

  mitogen_latch_put (latch, GUINT_TO_POINTER (2), NULL);
  /* To the channel's own receiver: a channel's peer sends to its handle. */
  deliver (f, mitogen_channel_get_receiver (chan), 3);
  deliver (f, recv, 4);

  for (guint i = 0; i < 4; i++)
    {
      GObject *source = NULL;
      gpointer item = mitogen_select_get (outer, WAIT, NULL, &source, &error);
      guint32 value;

      g_assert_no_error (error);
      g_assert_nonnull (item);
      if (source == G_OBJECT (latch))
        value = GPOINTER_TO_UINT (item);
      else
        {
          g_assert_true (source == G_OBJECT (recv)
                         || source == G_OBJECT (chan));
          value = message_value (item);
          mitogen_message_unref (item);
          g_assert_true (source == G_OBJECT (chan) ? value == 3 : value != 3);
        }
      g_assert_cmpuint (value, >=, 1);
      g_assert_cmpuint (value, <=, 4);
      g_assert_false (seen[value - 1]);
      seen[value - 1] = TRUE;
    }
  g_assert_true (mitogen_select_empty (outer));
  g_assert_null (mitogen_select_get (outer, 0, NULL, NULL, &error));
  g_assert_error (error, MITOGEN_TIMEOUT_ERROR,
                  MITOGEN_TIMEOUT_ERROR_TIMED_OUT);
}

/* A waiter asleep on the outer select is woken by an item that reaches the
 * inner one from another thread. */
static gpointer
put_later (gpointer data)
{
  mitogen_latch_put (data, GUINT_TO_POINTER (9), NULL);
  return NULL;
}

static void
test_nested_wakes_sleeper (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenSelect) outer = mitogen_select_new (TRUE);
  g_autoptr (MitogenSelect) inner = mitogen_select_new (TRUE);
  g_autoptr (MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr (GError) error = NULL;
  GObject *source = NULL;
  GThread *thread;
  gpointer item;

  g_assert_true (mitogen_select_add (inner, G_OBJECT (latch), NULL));
  g_assert_true (mitogen_select_add (outer, G_OBJECT (inner), NULL));
  thread = g_thread_new ("put-later", put_later, latch);
  item = mitogen_select_get (outer, WAIT, NULL, &source, &error);
  g_thread_join (thread);
  g_assert_no_error (error);
  g_assert_cmpuint (GPOINTER_TO_UINT (item), ==, 9);
  g_assert_true (source == G_OBJECT (latch));
  /* Oneshot at both levels: the inner dropped the latch, the outer the
   * inner. */
  g_assert_cmpuint (mitogen_select_size (inner), ==, 0);
  g_assert_cmpuint (mitogen_select_size (outer), ==, 0);
}

/* The form bindings call select.get() by: the message, with a type. */
static void
test_get_message_returns_message (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenSelect) select = mitogen_select_new (FALSE);
  g_autoptr (MitogenReceiver) recv = mitogen_receiver_new (
      f->router, 0, TRUE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autoptr (MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr (MitogenMessage) msg = NULL;
  g_autoptr (GError) error = NULL;
  GObject *source = NULL;

  g_assert_true (mitogen_select_add (select, G_OBJECT (recv), NULL));
  g_assert_true (mitogen_select_add (select, G_OBJECT (latch), NULL));
  deliver (f, recv, 5);
  msg = mitogen_select_get_message (select, WAIT, NULL, &source, &error);
  g_assert_no_error (error);
  g_assert_true (source == G_OBJECT (recv));
  g_assert_cmpuint (message_value (msg), ==, 5);

  mitogen_latch_put (latch, GUINT_TO_POINTER (1), NULL);
  g_assert_null (mitogen_select_get_message (select, WAIT, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn)                                                          \
  g_test_add ("/select/" path, Fixture, NULL, fixture_setup, fn,               \
              fixture_teardown)
  ADD ("add-twice-fails", test_add_twice_fails);
  ADD ("add-owned-by-other-select-fails", test_add_owned_by_other_fails);
  ADD ("add-cycle-fails", test_add_cycle_fails);
  ADD ("add-bad-source-fails", test_add_bad_source_fails);
  ADD ("nested-mixed-sources", test_nested_mixed_sources);
  ADD ("nested-wakes-sleeper", test_nested_wakes_sleeper);
  ADD ("get-message-returns-message", test_get_message_returns_message);
#undef ADD

  return g_test_run ();
}
