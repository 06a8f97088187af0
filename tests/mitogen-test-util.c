/* mitogen-test-util.c: what the GTest suites share.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-test-util.h"

#include <math.h>
#include <string.h>

/* The multiplier. */

static gdouble
read_multiplier (void)
{
  const gchar *text = g_getenv ("MITOGEN_TEST_TIMEOUT_MULTIPLIER");
  gchar *end = NULL;
  gdouble m;

  if (!text || !*text)
    return 1.0;
  m = g_ascii_strtod (text, &end);
  /* A typo must not shrink every deadline, nor make one infinite. */
  if (*end || !isfinite (m) || m < 1.0)
    return 1.0;
  return m;
}

gdouble
mitogen_test_timeout_multiplier (void)
{
  static gsize once;
  static gdouble multiplier;

  if (g_once_init_enter (&once))
    {
      multiplier = read_multiplier ();
      g_once_init_leave (&once, 1);
    }
  return multiplier;
}

gint64
mitogen_test_scaled (gint64 usec)
{
  return (gint64) ((gdouble) usec * mitogen_test_timeout_multiplier ());
}

gdouble
mitogen_test_scaled_seconds (gdouble seconds)
{
  return seconds * mitogen_test_timeout_multiplier ();
}

gint64
mitogen_test_deadline_at (gint64 usec)
{
  return g_get_monotonic_time () + mitogen_test_scaled (usec);
}

GVariant *
mitogen_test_connect_options (GVariant *options)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, options);
  if (!g_variant_dict_contains (&dict, "connect-timeout"))
    g_variant_dict_insert (&dict, "connect-timeout", "d",
                           MITOGEN_TEST_CONNECT_TIMEOUT);
  if (options)
    g_variant_unref (g_variant_ref_sink (options));
  return g_variant_dict_end (&dict);
}

void
mitogen_test_master_new (MitogenBroker **broker,
                         MitogenRouter **router)
{
  *broker = mitogen_broker_new ();
  *router = mitogen_router_new (*broker);
}

void
mitogen_test_master_stop (MitogenBroker *broker,
                          MitogenContext *ctx)
{
  if (ctx)
    mitogen_context_shutdown (ctx, TRUE, NULL, NULL);
  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
}

void
mitogen_test_master_clear (MitogenBroker **broker,
                           MitogenRouter **router)
{
  g_clear_object (router);
  g_clear_object (broker);
}

MitogenContext *
mitogen_test_connect (MitogenRouter *router,
                      const gchar *transport,
                      GVariant *options,
                      MitogenContext *via)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_connect_context (
      router, transport, mitogen_test_connect_options (options), via, NULL,
      &error);

  g_assert_no_error (error);
  g_assert_nonnull (ctx);
  g_assert_true (mitogen_context_is_connected (ctx));
  return ctx;
}

gint32
mitogen_test_call_int (MitogenContext *ctx,
                       const gchar *function,
                       GVariant *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mitogen_context_call (ctx, function, args, NULL,
                                                &error);

  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32));
  return g_variant_get_int32 (v);
}

gint32
mitogen_test_getpid (MitogenContext *ctx)
{
  return mitogen_test_call_int (ctx, "core.getpid", NULL);
}

/* Deadlines. */

static GMainContext *timer_context;

static gpointer
timer_thread (gpointer data)
{
  for (;;)
    g_main_context_iteration (timer_context, TRUE);
  return NULL;
}

static gboolean
on_deadline (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

MitogenTestDeadline *
mitogen_test_deadline_new (gint64 usec)
{
  static gsize started;
  MitogenTestDeadline *d = g_new0 (MitogenTestDeadline, 1);

  if (g_once_init_enter (&started))
    {
      timer_context = g_main_context_new ();
      g_thread_unref (g_thread_new ("test-deadline", timer_thread, NULL));
      g_once_init_leave (&started, 1);
    }
  d->cancellable = g_cancellable_new ();
  d->source = g_timeout_source_new ((guint) (usec / 1000));
  g_source_set_callback (d->source, on_deadline, g_object_ref (d->cancellable),
                         g_object_unref);
  g_source_attach (d->source, timer_context);
  return d;
}

void
mitogen_test_deadline_free (MitogenTestDeadline *d)
{
  g_source_destroy (d->source);
  g_source_unref (d->source);
  g_object_unref (d->cancellable);
  g_free (d);
}

GVariant *
mitogen_test_call_ok (MitogenContext *ctx,
                      const gchar *function,
                      GVariant *args)
{
  g_autoptr(MitogenTestDeadline) deadline =
    mitogen_test_deadline_new (MITOGEN_TEST_WAIT);
  g_autoptr(GError) error = NULL;
  GVariant *result =
    mitogen_context_call (ctx, function, args, deadline->cancellable, &error);

  if (!result)
    g_error ("%s failed: %s", function, error->message);
  return result;
}

gint32
mitogen_test_remote_pid (MitogenContext *ctx)
{
  g_autoptr(GVariant) v = mitogen_test_call_ok (ctx, "core.getpid", NULL);

  return g_variant_get_int32 (v);
}

gchar *
mitogen_test_read_remote (MitogenContext *ctx, const gchar *path)
{
  g_autoptr(GVariant) v =
    mitogen_test_call_ok (ctx, "core.read_file", g_variant_new ("(s)", path));
  gsize len;
  const gchar *data = g_variant_get_fixed_array (v, &len, 1);

  return g_strndup (data, len);
}

void
mitogen_test_shutdown_ok (MitogenContext *ctx)
{
  g_autoptr(MitogenTestDeadline) deadline =
    mitogen_test_deadline_new (MITOGEN_TEST_WAIT);
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_context_shutdown (ctx, TRUE, deadline->cancellable,
                                           &error));
  g_assert_no_error (error);
  g_assert_false (mitogen_context_is_connected (ctx));
}

static void
put_done (gpointer data)
{
  mitogen_latch_put (data, GUINT_TO_POINTER (1), NULL);
}

void
mitogen_test_broker_idle (MitogenBroker *broker)
{
  g_autoptr (MitogenLatch) done = mitogen_latch_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (mitogen_broker_defer (broker, put_done, g_object_ref (done),
                                       g_object_unref));
  g_assert_nonnull (
      mitogen_latch_get (done, MITOGEN_TEST_WAIT, TRUE, NULL, &error));
  g_assert_no_error (error);
}

gboolean
mitogen_test_process_running (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree gchar *stat = NULL;
  const gchar *paren;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  /* pid (comm) S ...: comm may hold spaces and parentheses. */
  paren = strrchr (stat, ')');
  return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}
