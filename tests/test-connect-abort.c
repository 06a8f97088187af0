/* A connect that cannot finish: cancelled, or its broker shut down, it
 * ends at once and kills what it started; an agent upload over a slow
 * link that keeps moving outlives the connect timeout, one that stops
 * does not.
 *
 * The children never finish their handshake: the agent is a script that
 * sleeps (with a background sleep of its own, which must not be left
 * behind), or ssh reaches the test sshd through a ProxyCommand that
 * stalls or rate-limits (tests/relay.py). The ssh cases need what
 * test-ssh needs and skip otherwise. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-test-sshd.h"

/* Long enough that no test here can pass by reaching it. */
#define LONG_TIMEOUT 120.0
/* What "at once" allows on a loaded machine. */
#define PROMPT_USEC (mitogen_test_scaled (5 * G_USEC_PER_SEC))

typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
  gchar *dir;
  gchar *pid_file;
  gchar *stall;
  MitogenTestSshd *sshd;
  gchar *cache;
} Fixture;

typedef struct
{
  gboolean done;
  MitogenContext *ctx;
  GError *error;
} Result;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *script = NULL;

  mitogen_test_master_new (&f->broker, &f->router);
  f->dir = g_dir_make_tmp ("mitogen-connect-abort-XXXXXX", &error);
  g_assert_no_error (error);
  f->pid_file = g_build_filename (f->dir, "pids", NULL);
  f->stall = g_build_filename (f->dir, "stall.sh", NULL);
  /* Records its pid and its background child's, then waits for ever. */
  script = g_strdup_printf ("#!/bin/sh\n"
                            "sleep 1000 &\n"
                            "echo \"$$ $!\" >'%s.tmp' && mv '%s.tmp' '%s'\n"
                            "wait\n",
                            f->pid_file, f->pid_file, f->pid_file);
  g_file_set_contents (f->stall, script, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (f->stall, 0755), ==, 0);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_autofree gchar *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);

  mitogen_test_master_stop (f->broker, NULL);
  mitogen_test_master_clear (&f->broker, &f->router);
  g_clear_pointer (&f->sshd, mitogen_test_sshd_stop);
  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
  g_free (f->dir);
  g_free (f->pid_file);
  g_free (f->stall);
  g_free (f->cache);
}

static guint
count_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  while (g_dir_read_name (dir))
    n++;
  return n;
}

static void
on_connected (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Result *r = user_data;

  r->ctx = mitogen_router_connect_context_finish (MITOGEN_ROUTER (source), res,
                                                  &r->error);
  r->done = TRUE;
}

/* Runs the main context until the stalled child has said who it is. */
static void
wait_for_pids (Fixture *f, Result *r, GPid *script, GPid *background)
{
  gint64 deadline
      = mitogen_test_deadline_at (mitogen_test_scaled (30 * G_USEC_PER_SEC));
  g_autofree gchar *text = NULL;

  while (!g_file_get_contents (f->pid_file, &text, NULL, NULL))
    {
      g_assert_false (r->done);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10000);
    }
  g_assert_cmpint (sscanf (text, "%d %d", script, background), ==, 2);
}

static void
wait_done (Result *r)
{
  while (!r->done)
    g_main_context_iteration (NULL, TRUE);
}

/* Everything the stalled child started is gone: not running, and none of
 * our children is a zombie. */
static void
assert_gone (GPid script, GPid background)
{
  gint64 deadline
      = mitogen_test_deadline_at (mitogen_test_scaled (10 * G_USEC_PER_SEC));

  while (mitogen_test_process_running (script)
         || mitogen_test_process_running (background))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
    }
}

static void
assert_no_child_left (GPid child)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d", child);

  /* Reaped, not a zombie. */
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static GVariant *
stall_options (Fixture *f)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert_value (
      &dict, "agent-path",
      g_variant_new_strv ((const gchar *[]){ f->stall }, 1));
  g_variant_dict_insert (&dict, "connect-timeout", "d", LONG_TIMEOUT);
  return g_variant_dict_end (&dict);
}

typedef enum
{
  ABORT_CANCEL,
  ABORT_SHUTDOWN,
} AbortHow;

/* A connect that fails on its own, for what it opens once and keeps. */
static void
warm_up (Fixture *f, const gchar *transport)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Result r = { 0 };
  GVariantDict dict;

  g_cancellable_cancel (cancellable);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert_value (
      &dict, "agent-path",
      g_variant_new_strv ((const gchar *[]){ "/bin/false" }, 1));
  mitogen_router_connect_context_async (f->router, transport,
                                        g_variant_dict_end (&dict), NULL,
                                        cancellable, on_connected, &r);
  wait_done (&r);
  g_assert_null (r.ctx);
  g_clear_error (&r.error);
}

static void
connect_and_abort (Fixture *f,
                   const gchar *transport,
                   GVariant *options,
                   AbortHow how,
                   gboolean direct_child)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Result r = { 0 };
  GPid script = 0, background = 0;
  guint fds_before;
  gint64 start;

  /* What GLib and the library open once, for good (the transport's
   * module, GTask's worker pool), is opened before the count. */
  warm_up (f, transport);
  fds_before = count_fds ();

  mitogen_router_connect_context_async (f->router, transport, options, NULL,
                                        cancellable, on_connected, &r);
  wait_for_pids (f, &r, &script, &background);
  start = g_get_monotonic_time ();
  if (how == ABORT_CANCEL)
    g_cancellable_cancel (cancellable);
  else
    mitogen_broker_shutdown (f->broker);
  wait_done (&r);
  g_test_message ("error: %s", r.error ? r.error->message : "(none)");
  g_assert_cmpint (g_get_monotonic_time () - start, <, PROMPT_USEC);
  g_assert_null (r.ctx);
  if (how == ABORT_CANCEL)
    g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  else
    {
      g_assert_error (r.error, MITOGEN_STREAM_ERROR,
                      MITOGEN_STREAM_ERROR_SHUTDOWN);
      g_assert_nonnull (strstr (r.error->message, "shut down"));
    }
  g_clear_error (&r.error);
  assert_gone (script, background);
  if (direct_child)
    assert_no_child_left (script);
  /* The worker thread that ran the connect has let go of its socket. */
  g_assert_cmpuint (count_fds (), <=, fds_before);
}

static void
test_local_cancel (Fixture *f, gconstpointer data)
{
  connect_and_abort (f, "local", stall_options (f), ABORT_CANCEL, TRUE);
}

static void
test_local_shutdown (Fixture *f, gconstpointer data)
{
  connect_and_abort (f, "local", stall_options (f), ABORT_SHUTDOWN, TRUE);
}

/* A connect after the broker shut down fails at once, starting nothing. */
static void
test_after_shutdown (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenContext) ctx = NULL;

  mitogen_broker_shutdown (f->broker);
  ctx = mitogen_router_connect_context (f->router, "local", stall_options (f),
                                        NULL, NULL, &error);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_SHUTDOWN);
  g_assert_null (ctx);
  g_assert_false (g_file_test (f->pid_file, G_FILE_TEST_EXISTS));
}

static gboolean
start_sshd (Fixture *f)
{
  g_autofree gchar *skip = NULL;
  g_autofree gchar *extra = NULL;
  g_autoptr (GError) error = NULL;

  if (!mitogen_test_sshd_can_run (&skip))
    {
      g_test_skip (skip);
      return FALSE;
    }
  /* A cache of its own, empty, so that the agent is uploaded. */
  f->cache = g_build_filename (f->dir, "cache", NULL);
  g_assert_cmpint (g_mkdir (f->cache, 0700), ==, 0);
  /* A Match block, since the sshd's own SetEnv comes first. */
  extra = g_strdup_printf ("Match all\n  SetEnv SHLVL=1 XDG_CACHE_HOME=%s\n",
                           f->cache);
  f->sshd = mitogen_test_sshd_start (NULL, "127.0.0.1", extra, &error);
  g_assert_no_error (error);
  return TRUE;
}

static GVariant *
proxy_options (Fixture *f, const gchar *proxy_command, gdouble connect_timeout)
{
  g_autoptr (GVariant) base = g_variant_ref_sink (
      mitogen_test_sshd_options (f->sshd, "root", "ignore"));
  g_autofree gchar *proxy = g_strdup_printf ("ProxyCommand=%s", proxy_command);
  GVariantDict dict;

  g_variant_dict_init (&dict, base);
  g_variant_dict_insert_value (
      &dict, "ssh-args",
      g_variant_new_strv ((const gchar *[]){ "-F", "/dev/null", "-o", proxy },
                          4));
  g_variant_dict_insert (&dict, "connect-timeout", "d", connect_timeout);
  g_variant_dict_insert (&dict, "upload-agent", "b", TRUE);
  return g_variant_dict_end (&dict);
}

static void
test_ssh_proxy_cancel (Fixture *f, gconstpointer data)
{
  if (!start_sshd (f))
    return;
  /* The script is ssh's child, not ours. */
  connect_and_abort (f, "ssh", proxy_options (f, f->stall, LONG_TIMEOUT),
                     ABORT_CANCEL, FALSE);
}

static void
test_ssh_proxy_shutdown (Fixture *f, gconstpointer data)
{
  if (!start_sshd (f))
    return;
  connect_and_abort (f, "ssh", proxy_options (f, f->stall, LONG_TIMEOUT),
                     ABORT_SHUTDOWN, FALSE);
}

typedef struct
{
  guint64 last;
  guint64 total;
  guint count;
} Progress;

static void
on_progress (MitogenRouter *router,
             const gchar *name,
             guint64 received,
             guint64 total,
             gpointer user_data)
{
  Progress *p = user_data;

  g_assert_nonnull (name);
  g_assert_cmpuint (received, >=, p->last);
  g_assert_cmpuint (received, <=, total);
  p->last = received;
  p->total = total;
  p->count++;
}

static gsize
bundle_size (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenAgentBundle) bundle
      = mitogen_agent_bundle_get_default (&error);

  g_assert_no_error (error);
  return g_bytes_get_size (mitogen_agent_bundle_get_archive (bundle));
}

/* A relay to the sshd that passes what it is sent at @rate bytes/s, and
 * passes nothing after @stop_after bytes if that is not 0. */
static gchar *
relay_command (Fixture *f, guint64 rate, guint64 stop_after)
{
  g_autofree gchar *python = g_find_program_in_path ("python3");
  g_autofree gchar *relay
      = g_test_build_filename (G_TEST_DIST, "relay.py", NULL);

  if (!python)
    return NULL;
  return g_strdup_printf (
      "%s %s %s %u %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, python, relay,
      mitogen_test_sshd_get_address (f->sshd),
      mitogen_test_sshd_get_port (f->sshd), rate, stop_after);
}

/* The connect timeout of the upload tests: it also bounds the ssh login
 * before the upload, which takes seconds on a busy machine. */
#define UPLOAD_TIMEOUT 8.0

/* Uploading takes about two connect timeouts, with progress all along:
 * the connect succeeds, reporting it. */
static void
test_slow_upload (Fixture *f, gconstpointer data)
{
  gdouble timeout = mitogen_test_scaled_seconds (UPLOAD_TIMEOUT);
  gsize size = bundle_size ();
  guint64 rate = (guint64) (size / (2 * timeout));
  g_autofree gchar *relay = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenContext) ctx = NULL;
  Progress p = { 0 };
  gulong handler;
  gint64 start;

  if (!start_sshd (f))
    return;
  relay = relay_command (f, rate, 0);
  if (!relay)
    {
      g_test_skip ("no python3");
      return;
    }
  handler = g_signal_connect (f->router, "upload-progress",
                              G_CALLBACK (on_progress), &p);
  start = g_get_monotonic_time ();
  ctx = mitogen_router_connect_context (
      f->router, "ssh", proxy_options (f, relay, timeout), NULL, NULL, &error);
  g_signal_handler_disconnect (f->router, handler);
  g_test_message ("took %.1f s, connect timeout %.1f s, %u progress reports",
                  (g_get_monotonic_time () - start) / 1e6, timeout, p.count);
  g_assert_no_error (error);
  g_assert_nonnull (ctx);
  g_assert_cmpint (g_get_monotonic_time () - start, >,
                   (gint64) (timeout * G_USEC_PER_SEC));
  g_assert_cmpuint (p.count, >, 1);
  g_assert_cmpuint (p.total, ==, size);
  g_assert_cmpuint (p.last, ==, size);
  mitogen_test_shutdown_ok (ctx);
}

/* The link stops after a sixth of the bundle: the connect fails once the
 * connect timeout passes without progress. */
static void
test_stalled_upload (Fixture *f, gconstpointer data)
{
  gdouble timeout = mitogen_test_scaled_seconds (UPLOAD_TIMEOUT);
  gsize size = bundle_size ();
  g_autofree gchar *relay = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenContext) ctx = NULL;
  gint64 start;

  if (!start_sshd (f))
    return;
  relay = relay_command (f, size, size / 6);
  if (!relay)
    {
      g_test_skip ("no python3");
      return;
    }
  start = g_get_monotonic_time ();
  ctx = mitogen_router_connect_context (
      f->router, "ssh", proxy_options (f, relay, timeout), NULL, NULL, &error);
  g_test_message ("error after %.1f s: %s",
                  (g_get_monotonic_time () - start) / 1e6,
                  error ? error->message : "(none)");
  g_assert_error (error, MITOGEN_TIMEOUT_ERROR,
                  MITOGEN_TIMEOUT_ERROR_TIMED_OUT);
  g_assert_null (ctx);
  g_assert_cmpint (g_get_monotonic_time () - start, >=,
                   (gint64) (timeout * G_USEC_PER_SEC));
  g_assert_cmpint (g_get_monotonic_time () - start, <,
                   (gint64) (timeout * G_USEC_PER_SEC)
                       + mitogen_test_scaled (20 * G_USEC_PER_SEC));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/connect-abort/local-cancel", test_local_cancel);
  ADD ("/connect-abort/local-broker-shutdown", test_local_shutdown);
  ADD ("/connect-abort/after-broker-shutdown", test_after_shutdown);
  ADD ("/connect-abort/ssh-proxy-cancel", test_ssh_proxy_cancel);
  ADD ("/connect-abort/ssh-proxy-broker-shutdown", test_ssh_proxy_shutdown);
  ADD ("/connect-abort/slow-upload-progresses", test_slow_upload);
  ADD ("/connect-abort/stalled-upload-times-out", test_stalled_upload);
  return g_test_run ();
}
