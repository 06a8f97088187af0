/* Trees of contexts: children started through other children, messages
 * routed both ways across them, modules fetched once per link, and a dead
 * middle hop waking the waiters of the contexts behind it. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <signal.h>
#include <unistd.h>

#define WAIT (mitogen_test_scaled (30 * G_USEC_PER_SEC))
#define N_LEAVES 10

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *hop;
  MitogenContext *leaves[N_LEAVES];
} Fixture;

static GMutex records_lock;
static GPtrArray *records; /* "domain\tmessage" of forwarded records */

static GLogWriterOutput
capture_writer (GLogLevelFlags level,
                const GLogField *fields,
                gsize n_fields,
                gpointer user_data)
{
  const gchar *domain = NULL, *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
      domain = fields[i].value;
    else if (g_str_equal (fields[i].key, "MESSAGE"))
      message = fields[i].value;
  if (domain && g_str_has_prefix (domain, "mitogen.ctx."))
    {
      g_mutex_lock (&records_lock);
      g_ptr_array_add (records, g_strdup_printf ("%s\t%s", domain, message));
      g_mutex_unlock (&records_lock);
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static MitogenContext *
connect_local (Fixture *f,
               MitogenContext *via)
{
  return mitogen_test_connect (f->router, "local", NULL, via);
}

static void
setup (Fixture *f,
       gconstpointer data)
{
  mitogen_test_master_new (&f->broker, &f->router);
  f->hop = connect_local (f, NULL);
}

static void
teardown (Fixture *f,
          gconstpointer data)
{
  mitogen_test_master_stop (f->broker, f->hop);
  for (guint i = 0; i < N_LEAVES; i++)
    g_clear_object (&f->leaves[i]);
  g_clear_object (&f->hop);
  mitogen_test_master_clear (&f->broker, &f->router);
}

static void
test_calls_through_hop (Fixture *f,
                        gconstpointer data)
{
  gint hop_pid = mitogen_test_getpid (f->hop);

  for (guint i = 0; i < N_LEAVES; i++)
    {
      gint pid;

      f->leaves[i] = connect_local (f, f->hop);
      pid = mitogen_test_getpid (f->leaves[i]);
      g_assert_cmpint (pid, !=, hop_pid);
      g_assert_cmpint (pid, !=, getpid ());
    }
}

static void
test_module_crosses_link_once (Fixture *f,
                               gconstpointer data)
{
  MitogenModuleResponder *responder =
    mitogen_module_responder_get_for_router (f->router);
  guint requests_before = mitogen_module_responder_get_n_requests (responder);
  guint64 bytes_before = mitogen_module_responder_get_bytes_sent (responder);
  g_autoptr(GBytes) core = mitogen_module_responder_lookup (responder, "core",
                                                            NULL, NULL, NULL);
  guint64 one_leaf_bytes = 0;

  /* Neither the hop nor the leaves have called anything yet. */
  for (guint i = 0; i < N_LEAVES; i++)
    {
      f->leaves[i] = connect_local (f, f->hop);
      mitogen_test_getpid (f->leaves[i]);
      if (i == 0)
        one_leaf_bytes = mitogen_module_responder_get_bytes_sent (responder) -
                         bytes_before;
    }

  g_test_message ("module bytes on the master link: %" G_GUINT64_FORMAT
                  " for 1 leaf, %" G_GUINT64_FORMAT " for %d leaves",
                  one_leaf_bytes,
                  mitogen_module_responder_get_bytes_sent (responder) - bytes_before,
                  N_LEAVES);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (responder) -
                    requests_before, ==, 1);
  g_assert_cmpuint (mitogen_module_responder_get_bytes_sent (responder) -
                    bytes_before, ==, g_bytes_get_size (core));
}

static guint
importer_requests (MitogenContext *ctx)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) v = mitogen_context_call (
      ctx, "testing.importer_requests", NULL, NULL, &error);

  g_assert_no_error (error);
  return g_variant_get_uint32 (v);
}

/* Mitogen's forward_modules(): a module pushed to a leaf through its hop
 * before anyone asks is there when the leaf's first call needs it. The
 * leaf asks nobody, the hop asks nobody, and the module crossed the
 * master's link once; without the push, the same first call makes the
 * leaf ask. */
static void
test_forward_modules_leaf_does_not_fetch (Fixture *f, gconstpointer data)
{
  MitogenModuleResponder *responder
      = mitogen_module_responder_get_for_router (f->router);
  const gchar *modules[] = { "testing", NULL };
  g_autoptr (GBytes) testing = mitogen_module_responder_lookup (
      responder, "testing", NULL, NULL, NULL);
  g_autoptr (GError) error = NULL;
  guint requests_before;
  guint64 bytes_before;

  f->leaves[0] = connect_local (f, f->hop);
  f->leaves[1] = connect_local (f, f->hop);
  requests_before = mitogen_module_responder_get_n_requests (responder);
  bytes_before = mitogen_module_responder_get_bytes_sent (responder);

  g_assert_true (mitogen_module_responder_forward_modules (
      responder, mitogen_context_get_context_id (f->leaves[0]), modules,
      &error));
  g_assert_no_error (error);
  /* The call travels behind the module on the same links. */
  g_assert_cmpuint (importer_requests (f->leaves[0]), ==, 0);
  g_assert_cmpuint (importer_requests (f->hop), ==, 0);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (responder), ==,
                    requests_before);
  g_assert_cmpuint (mitogen_module_responder_get_bytes_sent (responder)
                        - bytes_before,
                    ==, g_bytes_get_size (testing));

  /* The other leaf was not sent it: it asks its hop, which has it. */
  g_assert_cmpuint (importer_requests (f->leaves[1]), ==, 1);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (responder), ==,
                    requests_before);

  /* Nothing is pushed where there is no route. */
  g_assert_false (mitogen_module_responder_forward_modules (responder, 4242,
                                                            modules, &error));
  g_assert_error (error, MITOGEN_STREAM_ERROR,
                  MITOGEN_STREAM_ERROR_DISCONNECTED);
  g_clear_error (&error);
  {
    const gchar *missing[] = { "no-such-module", NULL };

    g_assert_false (mitogen_module_responder_forward_modules (
        responder, mitogen_context_get_context_id (f->leaves[0]), missing,
        &error));
    g_assert_error (error, MITOGEN_CALL_ERROR,
                    MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION);
  }
}

static void
test_logs_from_leaf (Fixture *f,
                     gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) unit = NULL;
  g_autofree gchar *expected = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT;
  gboolean seen = FALSE;

  f->leaves[0] = connect_local (f, f->hop);
  unit = mitogen_context_call (f->leaves[0], "testing.log",
                               g_variant_new ("(is)", G_LOG_LEVEL_WARNING,
                                              "hello from the leaf"),
                               NULL, &error);
  g_assert_no_error (error);
  expected = g_strdup_printf ("mitogen.ctx.%s\thello from the leaf",
                              mitogen_context_get_name (f->leaves[0]));
  /* The record travels ahead of the reply, but may be re-logged on the
   * broker thread just after the reply woke us. */
  while (!seen && g_get_monotonic_time () < deadline)
    {
      g_mutex_lock (&records_lock);
      for (guint i = 0; i < records->len && !seen; i++)
        seen = g_str_equal (records->pdata[i], expected);
      g_mutex_unlock (&records_lock);
      if (!seen)
        g_usleep (1000);
    }
  g_assert_true (seen);
}

typedef struct {
  MitogenContext *ctx;
  GError *error;
  gint64 woken_at;
} Sleeper;

static gpointer
sleep_thread (gpointer data)
{
  Sleeper *s = data;
  GVariant *r = mitogen_context_call (s->ctx, "core.sleep",
                                      g_variant_new ("(d)", 60.0), NULL, &s->error);

  s->woken_at = g_get_monotonic_time ();
  g_clear_pointer (&r, g_variant_unref);
  return NULL;
}

static void
test_dead_hop_wakes_leaf_waiters (Fixture *f,
                                  gconstpointer data)
{
  g_autoptr(GVariant) hop_pid = NULL;
  Sleeper s = { 0 };
  GThread *thread;
  gint64 killed_at;

  f->leaves[0] = connect_local (f, f->hop);
  mitogen_test_getpid (f->leaves[0]);
  hop_pid = mitogen_context_call (f->hop, "core.getpid", NULL, NULL, NULL);

  s.ctx = f->leaves[0];
  thread = g_thread_new ("sleeper", sleep_thread, &s);
  /* A round trip to the leaf after the sleep was sent: it is running. */
  mitogen_test_getpid (f->leaves[1] = connect_local (f, f->hop));

  killed_at = g_get_monotonic_time ();
  kill (g_variant_get_int32 (hop_pid), SIGKILL);
  g_thread_join (thread);

  g_assert_error (s.error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_test_message ("leaf waiter woken %" G_GINT64_FORMAT " µs after the hop was killed",
                  s.woken_at - killed_at);
  g_assert_cmpint (s.woken_at - killed_at, <, WAIT);
  g_assert_false (mitogen_context_is_connected (f->leaves[0]));
  g_clear_error (&s.error);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  records = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (capture_writer, NULL, NULL);

  g_test_add ("/tree/calls-through-hop", Fixture, NULL, setup,
              test_calls_through_hop, teardown);
  g_test_add ("/tree/module-crosses-link-once", Fixture, NULL, setup,
              test_module_crosses_link_once, teardown);
  g_test_add ("/tree/forward-modules-leaf-does-not-fetch", Fixture, NULL, setup,
              test_forward_modules_leaf_does_not_fetch, teardown);
  g_test_add ("/tree/logs-from-leaf", Fixture, NULL, setup,
              test_logs_from_leaf, teardown);
  g_test_add ("/tree/dead-hop-wakes-leaf-waiters", Fixture, NULL, setup,
              test_dead_hop_wakes_leaf_waiters, teardown);
  return g_test_run ();
}
