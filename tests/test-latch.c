/* test-latch.c: tests for MitogenLatch and MitogenSelect
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"

/* Bounds for waits that must end: long enough never to trip on a loaded
 * machine under a sanitizer or valgrind, short enough that a hang fails. */
#define SANITY_BOUND_USEC (mitogen_test_scaled (5 * G_USEC_PER_SEC))
#define WAIT_BOUND_USEC (mitogen_test_scaled (30 * G_USEC_PER_SEC))

#define N_SLEEPERS 8
#define N_PRODUCERS 8
#define N_CONSUMERS 8
#define CONTENTION_ITEMS 1000000
#define CONTENTION_ITEMS_QUICK 100000

/* ---------------------------------------------------------------------- */
/* Helpers */

static guint
count_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir))
    n++;
  return n;
}

/* Waits until @n_threads threads are registered sleepers on @latch: a put
 * or a close now must wake them, whether or not they have reached the
 * kernel yet. This waits for a condition; it does not guess how long
 * threads take to start. */
static void
wait_for_sleepers (MitogenLatch *latch, guint n_threads)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_BOUND_USEC;

  while (mitogen_latch_get_n_waiters (latch) < n_threads)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

/* The same for a select, whose getters sleep on a latch of its own. */
static void
wait_for_select_sleeper (MitogenSelect *select)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_BOUND_USEC;

  while (mitogen_select_get_n_waiters (select) < 1)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

static gboolean
test_quick (void)
{
  return g_strcmp0 (g_getenv ("MITOGEN_TEST_QUICK"), "1") == 0;
}

static gint n_items_freed;

static void
count_item_free (gpointer item)
{
  g_atomic_int_inc (&n_items_freed);
}

/* One get() in a thread of its own, and what it returned. */
typedef struct {
  MitogenLatch *latch;
  gint64 timeout_usec;
  GCancellable *cancellable;
  gpointer item;
  GError *error;
} Getter;

static gpointer
getter_thread (gpointer data)
{
  Getter *g = data;

  g->item = mitogen_latch_get (g->latch, g->timeout_usec, TRUE,
                               g->cancellable, &g->error);
  return NULL;
}

static GThread *
getter_start (Getter *g,
              MitogenLatch *latch,
              GCancellable *cancellable)
{
  *g = (Getter) {
    .latch = latch,
    .timeout_usec = -1,
    .cancellable = cancellable,
  };
  return g_thread_new ("getter", getter_thread, g);
}

/* ---------------------------------------------------------------------- */
/* Basic queue behaviour */

static void
test_latch_fifo (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_latch_empty (latch));
  g_assert_cmpuint (mitogen_latch_size (latch), ==, 0);
  g_assert_false (mitogen_latch_is_closed (latch));

  for (guint i = 1; i <= 5; i++)
    {
      g_assert_true (mitogen_latch_put (latch, GUINT_TO_POINTER (i), &error));
      g_assert_no_error (error);
      g_assert_cmpuint (mitogen_latch_size (latch), ==, i);
    }
  g_assert_false (mitogen_latch_empty (latch));

  for (guint i = 1; i <= 5; i++)
    {
      gpointer item = mitogen_latch_get (latch, -1, TRUE, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (GPOINTER_TO_UINT (item), ==, i);
      g_assert_cmpuint (mitogen_latch_size (latch), ==, 5 - i);
    }
  g_assert_true (mitogen_latch_empty (latch));
}

static void
test_latch_get_would_block (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr(GError) error = NULL;
  guint base_fds = count_open_fds ();
  gpointer item;

  item = mitogen_latch_get (latch, -1, FALSE, NULL, &error);
  g_assert_null (item);
  g_assert_error (error, MITOGEN_TIMEOUT_ERROR,
                  MITOGEN_TIMEOUT_ERROR_WOULD_BLOCK);
  /* A get that never sleeps opens nothing. */
  g_assert_cmpuint (count_open_fds (), ==, base_fds);

  /* Non-blocking still takes what is there. */
  mitogen_latch_put (latch, GUINT_TO_POINTER (7), NULL);
  item = mitogen_latch_get (latch, -1, FALSE, NULL, NULL);
  g_assert_cmpuint (GPOINTER_TO_UINT (item), ==, 7);
}

static void
test_latch_get_timeout (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr(GError) error = NULL;
  gint64 start, elapsed;
  gpointer item;

  start = g_get_monotonic_time ();
  item = mitogen_latch_get (latch, 50 * 1000, TRUE, NULL, &error);
  elapsed = g_get_monotonic_time () - start;

  g_assert_null (item);
  g_assert_error (error, MITOGEN_TIMEOUT_ERROR,
                  MITOGEN_TIMEOUT_ERROR_TIMED_OUT);
  /* The point of poll() with a deadline: never early. */
  g_assert_cmpint (elapsed, >=, 50 * 1000);
  g_assert_cmpint (elapsed, <, SANITY_BOUND_USEC);

  /* The timed-out sleeper must have unregistered, or this item would be
   * handed to a thread no longer waiting and be lost. */
  mitogen_latch_put (latch, GUINT_TO_POINTER (1), NULL);
  g_assert_cmpuint (mitogen_latch_size (latch), ==, 1);
}

static void
test_latch_get_timeout_zero (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr(GError) error = NULL;

  g_assert_null (mitogen_latch_get (latch, 0, TRUE, NULL, &error));
  g_assert_error (error, MITOGEN_TIMEOUT_ERROR,
                  MITOGEN_TIMEOUT_ERROR_TIMED_OUT);
}

/* ---------------------------------------------------------------------- */
/* Waking */

static void
test_latch_put_wakes_sleeper (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr (GError) error = NULL;
  GThread *thread;
  Getter g;

  thread = getter_start (&g, latch, NULL);
  wait_for_sleepers (latch, 1);

  g_assert_true (mitogen_latch_put (latch, GUINT_TO_POINTER (42), &error));
  g_assert_no_error (error);
  g_thread_join (thread);

  g_assert_no_error (g.error);
  g_assert_cmpuint (GPOINTER_TO_UINT (g.item), ==, 42);
  /* Handed straight to the sleeper, never queued. */
  g_assert_true (mitogen_latch_empty (latch));
}

/* Items go to sleepers in the order they began to wait. */
static void
test_latch_sleepers_fifo (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  GThread *threads[3];
  Getter getters[3];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      threads[i] = getter_start (&getters[i], latch, NULL);
      wait_for_sleepers (latch, i + 1);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    mitogen_latch_put (latch, GUINT_TO_POINTER (i + 1), NULL);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_thread_join (threads[i]);
      g_assert_no_error (getters[i].error);
      g_assert_cmpuint (GPOINTER_TO_UINT (getters[i].item), ==, i + 1);
    }
}

static void
test_latch_close_wakes_all (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new_full (count_item_free);
  g_autoptr (GError) error = NULL;
  GThread *threads[N_SLEEPERS];
  Getter getters[N_SLEEPERS];

  for (guint i = 0; i < N_SLEEPERS; i++)
    threads[i] = getter_start (&getters[i], latch, NULL);
  wait_for_sleepers (latch, N_SLEEPERS);

  mitogen_latch_close (latch);
  g_assert_true (mitogen_latch_is_closed (latch));

  for (guint i = 0; i < N_SLEEPERS; i++)
    {
      g_thread_join (threads[i]);
      g_assert_null (getters[i].item);
      g_assert_error (getters[i].error, MITOGEN_LATCH_ERROR,
                      MITOGEN_LATCH_ERROR_CLOSED);
      g_clear_error (&getters[i].error);
    }

  /* A closed latch refuses items and, owning them, frees them. */
  g_atomic_int_set (&n_items_freed, 0);
  g_assert_false (mitogen_latch_put (latch, GUINT_TO_POINTER (1), &error));
  g_assert_error (error, MITOGEN_LATCH_ERROR, MITOGEN_LATCH_ERROR_CLOSED);
  g_assert_cmpint (g_atomic_int_get (&n_items_freed), ==, 1);
  g_clear_error (&error);

  g_assert_null (mitogen_latch_get (latch, -1, TRUE, NULL, &error));
  g_assert_error (error, MITOGEN_LATCH_ERROR, MITOGEN_LATCH_ERROR_CLOSED);

  /* Closing twice is harmless. */
  mitogen_latch_close (latch);
}

static void
test_latch_close_frees_items (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new_full (count_item_free);
  MitogenLatch *unclosed;

  g_atomic_int_set (&n_items_freed, 0);
  for (guint i = 1; i <= 3; i++)
    mitogen_latch_put (latch, GUINT_TO_POINTER (i), NULL);
  mitogen_latch_close (latch);
  g_assert_cmpint (g_atomic_int_get (&n_items_freed), ==, 3);
  g_assert_cmpuint (mitogen_latch_size (latch), ==, 0);

  /* Finalizing an open latch frees what it still holds. */
  unclosed = mitogen_latch_new_full (count_item_free);
  mitogen_latch_put (unclosed, GUINT_TO_POINTER (1), NULL);
  mitogen_latch_put (unclosed, GUINT_TO_POINTER (2), NULL);
  g_object_unref (unclosed);
  g_assert_cmpint (g_atomic_int_get (&n_items_freed), ==, 5);
}

/* ---------------------------------------------------------------------- */
/* Cancellation */

static void
test_latch_cancel_sleeper (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  GThread *thread;
  Getter g;

  thread = getter_start (&g, latch, cancellable);
  wait_for_sleepers (latch, 1);

  g_cancellable_cancel (cancellable);
  g_thread_join (thread);

  g_assert_null (g.item);
  g_assert_error (g.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&g.error);

  /* The cancelled sleeper is gone: a new item stays queued. */
  mitogen_latch_put (latch, GUINT_TO_POINTER (1), NULL);
  g_assert_cmpuint (mitogen_latch_size (latch), ==, 1);
}

static void
test_latch_cancel_before (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_cancellable_cancel (cancellable);

  /* With a timeout past the bound, a get that slept would come back
   * TIMED_OUT. */
  start = g_get_monotonic_time ();
  g_assert_null (mitogen_latch_get (latch, 2 * SANITY_BOUND_USEC, TRUE,
                                    cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, SANITY_BOUND_USEC);
  g_clear_error (&error);

  /* As everywhere in GIO, a cancelled operation does nothing, even when
   * it could have: the item stays for someone else. */
  mitogen_latch_put (latch, GUINT_TO_POINTER (1), NULL);
  g_assert_null (mitogen_latch_get (latch, -1, TRUE, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (mitogen_latch_size (latch), ==, 1);
}

/* A wait with a cancellable costs no descriptor: a long-lived
 * cancellable used for many waits must not pile them up. */
static void
test_latch_cancel_releases_fd (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  guint base_fds;

  /* A first sleep, in case anything is made once per thread. */
  g_assert_null (mitogen_latch_get (latch, 1000, TRUE, NULL, NULL));
  base_fds = count_open_fds ();

  g_assert_null (mitogen_latch_get (latch, 1000, TRUE, cancellable, &error));
  g_assert_error (error, MITOGEN_TIMEOUT_ERROR,
                  MITOGEN_TIMEOUT_ERROR_TIMED_OUT);
  g_assert_cmpuint (count_open_fds (), ==, base_fds);
}

/* ---------------------------------------------------------------------- */
/* Contention */

/* Never a real item: those are 1..n_items. */
#define SENTINEL GUINT_TO_POINTER (G_MAXUINT)

typedef struct {
  MitogenLatch *latch;
  guint n_items;
  gint *seen; /* seen[i] counts deliveries of item i + 1 */
  gint n_seen;
  gint n_errors;
} Contention;

typedef struct {
  Contention *c;
  guint first;
  guint last; /* exclusive */
} Producer;

static gpointer
producer_thread (gpointer data)
{
  Producer *p = data;

  for (guint i = p->first; i < p->last; i++)
    if (!mitogen_latch_put (p->c->latch, GUINT_TO_POINTER (i + 1), NULL))
      g_atomic_int_inc (&p->c->n_errors);
  return NULL;
}

static gpointer
consumer_thread (gpointer data)
{
  Contention *c = data;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gpointer item = mitogen_latch_get (c->latch, -1, TRUE, NULL, &error);
      guint n;

      if (!item || item == SENTINEL)
        {
          if (error)
            g_atomic_int_inc (&c->n_errors);
          return NULL;
        }
      n = GPOINTER_TO_UINT (item);
      if (n == 0 || n > c->n_items)
        {
          g_atomic_int_inc (&c->n_errors);
          continue;
        }
      g_atomic_int_inc (&c->seen[n - 1]);
      g_atomic_int_inc (&c->n_seen);
    }
}

static void
test_latch_contention (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  Contention c = {
    .latch = latch,
    .n_items = test_quick () ? CONTENTION_ITEMS_QUICK : CONTENTION_ITEMS,
  };
  GThread *producers[N_PRODUCERS];
  GThread *consumers[N_CONSUMERS];
  Producer ranges[N_PRODUCERS];
  guint per_producer;

  g_test_message ("%u items through %d producers and %d consumers",
                  c.n_items, N_PRODUCERS, N_CONSUMERS);
  c.seen = g_new0 (gint, c.n_items);
  per_producer = c.n_items / N_PRODUCERS;

  for (guint i = 0; i < N_CONSUMERS; i++)
    consumers[i] = g_thread_new ("consumer", consumer_thread, &c);
  for (guint i = 0; i < N_PRODUCERS; i++)
    {
      ranges[i] = (Producer) {
        .c = &c,
        .first = i * per_producer,
        .last = i == N_PRODUCERS - 1 ? c.n_items : (i + 1) * per_producer,
      };
      producers[i] = g_thread_new ("producer", producer_thread, &ranges[i]);
    }
  for (guint i = 0; i < N_PRODUCERS; i++)
    g_thread_join (producers[i]);

  /* Queued after every real item, so each consumer stops only once the
   * real items ahead of its sentinel are taken. */
  for (guint i = 0; i < N_CONSUMERS; i++)
    mitogen_latch_put (latch, SENTINEL, NULL);
  for (guint i = 0; i < N_CONSUMERS; i++)
    g_thread_join (consumers[i]);

  g_assert_cmpint (c.n_errors, ==, 0);
  g_assert_cmpint (c.n_seen, ==, (gint) c.n_items);
  for (guint i = 0; i < c.n_items; i++)
    if (c.seen[i] != 1)
      g_error ("item %u was taken %d times", i + 1, c.seen[i]);
  g_assert_true (mitogen_latch_empty (latch));
  g_free (c.seen);
}

/* ---------------------------------------------------------------------- */
/* Notify hook */

typedef struct {
  guint calls;
  MitogenLatch *latch;
  GThread *thread;
} NotifyRecord;

static void
record_notify (MitogenLatch *latch,
               gpointer user_data)
{
  NotifyRecord *r = user_data;

  r->calls++;
  r->latch = latch;
  r->thread = g_thread_self ();
}

static gpointer
put_one_thread (gpointer data)
{
  mitogen_latch_put (data, GUINT_TO_POINTER (9), NULL);
  return NULL;
}

static void
test_latch_notify (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  NotifyRecord r = { 0 };
  GThread *thread;
  GThread *putter;
  Getter g;

  mitogen_latch_set_notify (latch, record_notify, &r);

  mitogen_latch_put (latch, GUINT_TO_POINTER (1), NULL);
  g_assert_cmpuint (r.calls, ==, 1);
  g_assert_true (r.latch == latch);
  g_assert_true (r.thread == g_thread_self ());

  /* Called from the putting thread, whichever that is. */
  putter = g_thread_new ("putter", put_one_thread, latch);
  g_assert_null (g_thread_join (putter));
  g_assert_cmpuint (r.calls, ==, 2);
  g_assert_true (r.thread == putter);

  /* An item a sleeper takes is not announced: nobody needs to look. */
  g_assert_cmpuint (GPOINTER_TO_UINT (mitogen_latch_get (latch, 0, FALSE, NULL, NULL)), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (mitogen_latch_get (latch, 0, FALSE, NULL, NULL)), ==, 9);
  thread = getter_start (&g, latch, NULL);
  wait_for_sleepers (latch, 1);
  mitogen_latch_put (latch, GUINT_TO_POINTER (2), NULL);
  g_thread_join (thread);
  g_assert_no_error (g.error);
  g_assert_cmpuint (GPOINTER_TO_UINT (g.item), ==, 2);
  g_assert_cmpuint (r.calls, ==, 2);

  mitogen_latch_set_notify (latch, NULL, NULL);
  mitogen_latch_put (latch, GUINT_TO_POINTER (3), NULL);
  g_assert_cmpuint (r.calls, ==, 2);
}

/* ---------------------------------------------------------------------- */
/* A sleep costs no descriptor */

typedef struct {
  MitogenLatch *latch;
  guint fds_after_sleep;
} SleepOnce;

static gpointer
sleep_once_thread (gpointer data)
{
  SleepOnce *s = data;
  g_autoptr(GError) error = NULL;

  g_assert_null (mitogen_latch_get (s->latch, 1000, TRUE, NULL, &error));
  g_assert_error (error, MITOGEN_TIMEOUT_ERROR,
                  MITOGEN_TIMEOUT_ERROR_TIMED_OUT);
  s->fds_after_sleep = count_open_fds ();
  return NULL;
}

static void
test_latch_sleep_uses_no_fd (void)
{
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  SleepOnce s = { .latch = latch };
  guint base_fds = count_open_fds ();

  g_thread_join (g_thread_new ("sleep-once", sleep_once_thread, &s));

  /* A sleeper waits on a futex word: nothing is opened for it, in the
   * thread's life or after. */
  g_assert_cmpuint (s.fds_after_sleep, ==, base_fds);
  g_assert_cmpuint (count_open_fds (), ==, base_fds);
}

/* ---------------------------------------------------------------------- */
/* Select */

typedef struct {
  MitogenLatch *latches[3];
  MitogenSelect *select;
} SelectFixture;

static void
select_fixture_init (SelectFixture *f,
                     gboolean oneshot)
{
  f->select = mitogen_select_new (oneshot);
  for (guint i = 0; i < G_N_ELEMENTS (f->latches); i++)
    {
      f->latches[i] = mitogen_latch_new ();
      g_assert_true (
          mitogen_select_add (f->select, G_OBJECT (f->latches[i]), NULL));
    }
}

static void
select_fixture_clear (SelectFixture *f)
{
  g_clear_object (&f->select);
  for (guint i = 0; i < G_N_ELEMENTS (f->latches); i++)
    g_clear_object (&f->latches[i]);
}

static void
assert_select_gets (MitogenSelect *select,
                    guint expected_item,
                    MitogenLatch *expected_source)
{
  g_autoptr(GError) error = NULL;
  GObject *source = NULL;
  gpointer item;

  item = mitogen_select_get (select, WAIT_BOUND_USEC, NULL, &source, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (GPOINTER_TO_UINT (item), ==, expected_item);
  g_assert_true (source == G_OBJECT (expected_source));
}

static void
assert_select_times_out (MitogenSelect *select)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;

  g_assert_null (mitogen_select_get (select, 50 * 1000, NULL, NULL, &error));
  elapsed = g_get_monotonic_time () - start;
  g_assert_error (error, MITOGEN_TIMEOUT_ERROR,
                  MITOGEN_TIMEOUT_ERROR_TIMED_OUT);
  g_assert_cmpint (elapsed, >=, 50 * 1000);
  g_assert_cmpint (elapsed, <, SANITY_BOUND_USEC);
}

static void
test_select_order (void)
{
  SelectFixture f;
  MitogenLatch **l = f.latches;

  select_fixture_init (&f, FALSE);
  g_assert_cmpuint (mitogen_select_size (f.select), ==, 3);
  g_assert_true (mitogen_select_empty (f.select));

  mitogen_latch_put (l[1], GUINT_TO_POINTER (1), NULL);
  mitogen_latch_put (l[0], GUINT_TO_POINTER (2), NULL);
  mitogen_latch_put (l[2], GUINT_TO_POINTER (3), NULL);
  mitogen_latch_put (l[1], GUINT_TO_POINTER (4), NULL);
  g_assert_false (mitogen_select_empty (f.select));

  assert_select_gets (f.select, 1, l[1]);
  assert_select_gets (f.select, 2, l[0]);
  assert_select_gets (f.select, 3, l[2]);
  assert_select_gets (f.select, 4, l[1]);
  g_assert_true (mitogen_select_empty (f.select));
  /* Not oneshot: every source is still watched. */
  g_assert_cmpuint (mitogen_select_size (f.select), ==, 3);

  select_fixture_clear (&f);
}

static void
test_select_counts_queued_items (void)
{
  g_autoptr(MitogenSelect) select = mitogen_select_new (FALSE);
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();

  mitogen_latch_put (latch, GUINT_TO_POINTER (1), NULL);
  mitogen_latch_put (latch, GUINT_TO_POINTER (2), NULL);
  g_assert_true (mitogen_select_add (select, G_OBJECT (latch), NULL));

  assert_select_gets (select, 1, latch);
  assert_select_gets (select, 2, latch);
  assert_select_times_out (select);
}

typedef struct {
  MitogenSelect *select;
  gpointer item;
  GObject *source;
  GError *error;
} SelectGetter;

static gpointer
select_getter_thread (gpointer data)
{
  SelectGetter *g = data;

  g->item = mitogen_select_get (g->select, -1, NULL, &g->source, &g->error);
  return NULL;
}

static void
test_select_wakes_sleeper (void)
{
  SelectFixture f;
  SelectGetter g = { 0 };
  GThread *thread;

  select_fixture_init (&f, FALSE);
  g.select = f.select;
  thread = g_thread_new ("select-getter", select_getter_thread, &g);
  wait_for_select_sleeper (f.select);

  mitogen_latch_put (f.latches[2], GUINT_TO_POINTER (5), NULL);
  g_thread_join (thread);
  g_assert_no_error (g.error);
  g_assert_cmpuint (GPOINTER_TO_UINT (g.item), ==, 5);
  g_assert_true (g.source == G_OBJECT (f.latches[2]));

  select_fixture_clear (&f);
}

static void
test_select_oneshot (void)
{
  SelectFixture f;
  MitogenLatch **l = f.latches;

  select_fixture_init (&f, TRUE);

  mitogen_latch_put (l[0], GUINT_TO_POINTER (1), NULL);
  mitogen_latch_put (l[1], GUINT_TO_POINTER (2), NULL);

  assert_select_gets (f.select, 1, l[0]);
  g_assert_cmpuint (mitogen_select_size (f.select), ==, 2);

  /* l[0] was dropped: its new item is not the select's business. */
  mitogen_latch_put (l[0], GUINT_TO_POINTER (3), NULL);
  assert_select_gets (f.select, 2, l[1]);
  g_assert_cmpuint (mitogen_select_size (f.select), ==, 1);
  assert_select_times_out (f.select);
  g_assert_cmpuint (mitogen_latch_size (l[0]), ==, 1);

  mitogen_latch_put (l[2], GUINT_TO_POINTER (4), NULL);
  assert_select_gets (f.select, 4, l[2]);
  g_assert_cmpuint (mitogen_select_size (f.select), ==, 0);

  select_fixture_clear (&f);
}

/* Items a oneshot source held beyond its first are not the select's any
 * more: it dropped the source. */
static void
test_select_oneshot_queued (void)
{
  g_autoptr(MitogenSelect) select = mitogen_select_new (TRUE);
  g_autoptr(MitogenLatch) latch = mitogen_latch_new ();
  g_autoptr(GError) error = NULL;

  mitogen_latch_put (latch, GUINT_TO_POINTER (1), NULL);
  mitogen_latch_put (latch, GUINT_TO_POINTER (2), NULL);
  g_assert_true (mitogen_select_add (select, G_OBJECT (latch), NULL));

  assert_select_gets (select, 1, latch);
  g_assert_null (mitogen_select_get (select, 0, NULL, NULL, &error));
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_CLOSED);
  g_assert_cmpuint (mitogen_latch_size (latch), ==, 1);
}

/* The select may hold the only reference to a source; dropping the source
 * must not leave the select pointing at it. ASan or valgrind catch the
 * failure (GObjects come from GSlice unless G_SLICE=always-malloc). */
static void
test_select_oneshot_owns_source (void)
{
  g_autoptr(MitogenSelect) select = mitogen_select_new (TRUE);
  g_autoptr(GError) error = NULL;
  MitogenLatch *latch = mitogen_latch_new ();

  mitogen_latch_put (latch, GUINT_TO_POINTER (1), NULL);
  mitogen_latch_put (latch, GUINT_TO_POINTER (2), NULL);
  g_assert_true (mitogen_select_add (select, G_OBJECT (latch), NULL));
  g_object_unref (latch);

  g_assert_cmpuint (GPOINTER_TO_UINT (mitogen_select_get (select, 0, NULL,
                                                          NULL, &error)), ==, 1);
  g_assert_no_error (error);
  g_assert_null (mitogen_select_get (select, 0, NULL, NULL, &error));
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_CLOSED);
}

/* Removing a source, or freeing the select, unhooks the select from its
 * sources: a later put must not call into a freed select. */
static void
test_select_unhooks_sources (void)
{
  g_autoptr(MitogenLatch) removed = mitogen_latch_new ();
  g_autoptr(MitogenLatch) kept = mitogen_latch_new ();
  MitogenSelect *select = mitogen_select_new (FALSE);

  g_assert_true (mitogen_select_add (select, G_OBJECT (removed), NULL));
  g_assert_true (mitogen_select_add (select, G_OBJECT (kept), NULL));
  g_assert_true (mitogen_select_remove (select, G_OBJECT (removed)));
  g_object_unref (select);

  g_assert_true (mitogen_latch_put (removed, GUINT_TO_POINTER (1), NULL));
  g_assert_true (mitogen_latch_put (kept, GUINT_TO_POINTER (2), NULL));
  g_assert_cmpuint (mitogen_latch_size (removed), ==, 1);
  g_assert_cmpuint (mitogen_latch_size (kept), ==, 1);
}

static void
test_select_empty_timeout (void)
{
  SelectFixture f;

  select_fixture_init (&f, FALSE);
  assert_select_times_out (f.select);
  select_fixture_clear (&f);
}

static void
test_select_remove (void)
{
  SelectFixture f;
  MitogenLatch **l = f.latches;

  select_fixture_init (&f, FALSE);
  g_assert_true (mitogen_select_remove (f.select, G_OBJECT (l[1])));
  g_assert_false (mitogen_select_remove (f.select, G_OBJECT (l[1])));
  g_assert_cmpuint (mitogen_select_size (f.select), ==, 2);

  mitogen_latch_put (l[1], GUINT_TO_POINTER (1), NULL);
  mitogen_latch_put (l[2], GUINT_TO_POINTER (2), NULL);
  assert_select_gets (f.select, 2, l[2]);
  assert_select_times_out (f.select);
  g_assert_cmpuint (mitogen_latch_size (l[1]), ==, 1);

  select_fixture_clear (&f);
}

static void
test_select_close (void)
{
  SelectFixture f;
  SelectGetter g = { 0 };
  g_autoptr (GError) error = NULL;
  GThread *thread;

  select_fixture_init (&f, FALSE);
  g.select = f.select;
  thread = g_thread_new ("select-getter", select_getter_thread, &g);
  wait_for_select_sleeper (f.select);

  mitogen_select_close (f.select);
  g_thread_join (thread);
  g_assert_null (g.item);
  g_assert_error (g.error, MITOGEN_LATCH_ERROR, MITOGEN_LATCH_ERROR_CLOSED);
  g_clear_error (&g.error);
  g_assert_cmpuint (mitogen_select_size (f.select), ==, 0);

  /* The former sources no longer call into the select. */
  mitogen_latch_put (f.latches[0], GUINT_TO_POINTER (1), NULL);
  g_assert_cmpuint (mitogen_latch_size (f.latches[0]), ==, 1);
  g_assert_true (mitogen_select_empty (f.select));

  g_assert_null (mitogen_select_get (f.select, 0, NULL, NULL, &error));
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_CLOSED);

  select_fixture_clear (&f);
}

static void
test_select_no_sources (void)
{
  g_autoptr(MitogenSelect) select = mitogen_select_new (FALSE);
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (mitogen_select_size (select), ==, 0);
  g_assert_null (mitogen_select_get (select, -1, NULL, NULL, &error));
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_CLOSED);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/latch/fifo", test_latch_fifo);
  g_test_add_func ("/latch/get/would-block", test_latch_get_would_block);
  g_test_add_func ("/latch/get/timeout", test_latch_get_timeout);
  g_test_add_func ("/latch/get/timeout-zero", test_latch_get_timeout_zero);
  g_test_add_func ("/latch/wake/put", test_latch_put_wakes_sleeper);
  g_test_add_func ("/latch/wake/sleepers-fifo", test_latch_sleepers_fifo);
  g_test_add_func ("/latch/close/wakes-all", test_latch_close_wakes_all);
  g_test_add_func ("/latch/close/frees-items", test_latch_close_frees_items);
  g_test_add_func ("/latch/cancel/sleeper", test_latch_cancel_sleeper);
  g_test_add_func ("/latch/cancel/before", test_latch_cancel_before);
  g_test_add_func ("/latch/cancel/releases-fd", test_latch_cancel_releases_fd);
  g_test_add_func ("/latch/contention", test_latch_contention);
  g_test_add_func ("/latch/notify", test_latch_notify);
  g_test_add_func ("/latch/sleep-uses-no-fd", test_latch_sleep_uses_no_fd);
  g_test_add_func ("/latch/select/order", test_select_order);
  g_test_add_func ("/latch/select/counts-queued-items",
                   test_select_counts_queued_items);
  g_test_add_func ("/latch/select/wakes-sleeper", test_select_wakes_sleeper);
  g_test_add_func ("/latch/select/oneshot", test_select_oneshot);
  g_test_add_func ("/latch/select/oneshot-queued", test_select_oneshot_queued);
  g_test_add_func ("/latch/select/oneshot-owns-source",
                   test_select_oneshot_owns_source);
  g_test_add_func ("/latch/select/unhooks-sources", test_select_unhooks_sources);
  g_test_add_func ("/latch/select/empty-timeout", test_select_empty_timeout);
  g_test_add_func ("/latch/select/remove", test_select_remove);
  g_test_add_func ("/latch/select/close", test_select_close);
  g_test_add_func ("/latch/select/no-sources", test_select_no_sources);

  return g_test_run ();
}
