/* The fork transport: contexts that are copies of this process, made by
 * the fork server that main() starts before anything else, including
 * while other threads of the master allocate, log and call. */
#define G_LOG_DOMAIN "test-fork"

#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT MITOGEN_TEST_WAIT

/* Log records from fork children that said "from a fork child". */
static gint fork_child_records;

/* Files whose presence the on-fork hook obeys: the hook runs in the
 * children, which see the file system as it is at connect time. */
static gchar *control_dir;

/* ---------------------------------------------------------------------- */
/* Processes and descriptors. */

/* The number of live processes whose parent is @parent. */
static guint
count_children_of (GPid parent)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const gchar *name;
  guint n = 0;

  g_assert_nonnull (proc);
  while ((name = g_dir_read_name (proc)))
    {
      g_autofree gchar *path = NULL;
      g_autofree gchar *stat = NULL;
      const gchar *paren;
      gchar state;
      int ppid;

      if (!g_ascii_isdigit (name[0]))
        continue;
      path = g_build_filename ("/proc", name, "stat", NULL);
      /* It may have exited since the listing. */
      if (!g_file_get_contents (path, &stat, NULL, NULL))
        continue;
      /* pid (comm) S ppid ...: comm may hold spaces and parentheses. */
      paren = strrchr (stat, ')');
      if (paren && sscanf (paren + 1, " %c %d", &state, &ppid) == 2 &&
          ppid == parent && state != 'Z' && state != 'X')
        n++;
    }
  return n;
}

/* Polls until the fork server has no child left, within WAIT. */
static gboolean
wait_no_fork_children (void)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;
  GPid server = mitogen_fork_server_get_pid ();

  g_assert_cmpint (server, >, 0);
  while (count_children_of (server) > 0)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (1000);
    }
  return TRUE;
}

/* Polls until @pid is gone, reaped included, within WAIT. */
static gboolean
wait_gone (GPid pid)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;

  while (kill (pid, 0) == 0 || errno != ESRCH)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (1000);
    }
  return TRUE;
}

/* Polls until @pid no longer runs, within WAIT. */
static gboolean
wait_not_running (GPid pid)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;

  while (mitogen_test_process_running (pid))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (2000);
    }
  return TRUE;
}

static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir))
    n++;
  return n;
}

/* The count once it is down to @most, or once WAIT has passed: a stream
 * the router is still letting go of on the broker thread, and GLib's child
 * watch, hold their descriptors for a moment after the shutdown that
 * waited for them returned. */
static guint
count_fds_down_to (guint most)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;
  guint n;

  while ((n = count_fds ()) > most && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  return n;
}

/* ---------------------------------------------------------------------- */
/* The master. */

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
} Fixture;

static void
setup (Fixture *f,
       gconstpointer data)
{
  mitogen_test_master_new (&f->broker, &f->router);
}

static void
teardown (Fixture *f,
          gconstpointer data)
{
  mitogen_test_master_stop (f->broker, NULL);
  mitogen_test_master_clear (&f->broker, &f->router);
}

static MitogenContext *
connect_transport (MitogenRouter *router,
                   const gchar *transport,
                   GVariant *options)
{
  return mitogen_test_connect (router, transport, options, NULL);
}

static MitogenContext *
connect_fork (MitogenRouter *router)
{
  return connect_transport (router, "fork", NULL);
}

static GPid
child_pid (MitogenContext *ctx)
{
  MitogenStream *stream = mitogen_context_get_stream (ctx);

  g_assert_true (MITOGEN_IS_PARENT_STREAM (stream));
  return mitogen_parent_stream_get_pid (MITOGEN_PARENT_STREAM (stream));
}

static gchar *
echo_string (MitogenContext *ctx,
             const gchar *text)
{
  g_autoptr(GVariant) boxed =
    mitogen_test_call_ok (ctx, "core.echo",
                          g_variant_new ("(v)", g_variant_new_string (text)));
  g_autoptr(GVariant) value = g_variant_get_variant (boxed);

  return g_variant_dup_string (value, NULL);
}

/* ---------------------------------------------------------------------- */
/* A fork context is a normal context. */

static void
test_calls (Fixture *f,
            gconstpointer data)
{
  g_autoptr(MitogenContext) a = connect_fork (f->router);
  g_autoptr(MitogenContext) b = connect_fork (f->router);
  g_autofree gchar *echoed = NULL;
  gint32 pid_a = mitogen_test_remote_pid (a);
  gint32 pid_b = mitogen_test_remote_pid (b);

  g_assert_cmpint (pid_a, ==, child_pid (a));
  g_assert_cmpint (pid_b, ==, child_pid (b));
  g_assert_cmpint (pid_a, !=, getpid ());
  g_assert_cmpint (pid_a, !=, pid_b);
  g_assert_cmpint (pid_a, !=, mitogen_fork_server_get_pid ());
  g_assert_true (g_str_has_prefix (mitogen_context_get_name (a), "fork."));

  echoed = echo_string (a, "round trip");
  g_assert_cmpstr (echoed, ==, "round trip");

  /* A chain of two calls, the second after the first. */
  {
    g_autoptr(MitogenCallChain) chain = mitogen_call_chain_new (b);
    g_autoptr(MitogenTestDeadline) deadline = mitogen_test_deadline_new (WAIT);
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) first = NULL, second = NULL;

    first = mitogen_call_chain_call (chain, "core.getpid", NULL,
                                     deadline->cancellable, &error);
    g_assert_no_error (error);
    second = mitogen_call_chain_call (chain, "core.echo",
                                      g_variant_new ("(v)", g_variant_new_int32 (7)),
                                      deadline->cancellable, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_variant_get_int32 (first), ==, pid_b);
    g_assert_true (g_variant_is_of_type (second, G_VARIANT_TYPE_VARIANT));
  }

  mitogen_test_shutdown_ok (a);
  mitogen_test_shutdown_ok (b);
  g_assert_true (wait_no_fork_children ());
}

/* The hook set before the fork server started ran in the child, and only
 * there. */
static void
test_on_fork (Fixture *f,
              gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_fork (f->router);
  g_autoptr(GVariant) v =
    mitogen_test_call_ok (ctx, "core.getenv",
                          g_variant_new ("(s)", "MITOGEN_TEST_FORKED"));
  const gchar *value = NULL;

  g_variant_get (v, "m&s", &value);
  g_assert_cmpstr (value, ==, "yes");
  g_assert_null (g_getenv ("MITOGEN_TEST_FORKED"));
  mitogen_test_shutdown_ok (ctx);
}

static void
test_options (Fixture *f,
              gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_transport (
    f->router, "fork",
    g_variant_new_parsed ("{'name': <'forky'>, 'debug': <true>, "
                          "'connect-timeout': <%d>}",
                          mitogen_test_scaled_seconds (5.0)));

  g_assert_cmpstr (mitogen_context_get_name (ctx), ==, "forky");
  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, child_pid (ctx));
  mitogen_test_shutdown_ok (ctx);
}

/* Function modules come from the module path on this host, or were
 * preloaded into the fork server (core): none is fetched from us. */
static void
test_modules (Fixture *f,
              gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_fork (f->router);
  MitogenModuleResponder *responder =
    mitogen_module_responder_get_for_router (f->router);
  guint before = mitogen_module_responder_get_n_requests (responder);
  gint64 deadline = g_get_monotonic_time () + WAIT;

  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, child_pid (ctx));
  g_variant_unref (mitogen_test_call_ok (ctx, "testing.log",
                                         g_variant_new ("(is)", G_LOG_LEVEL_WARNING,
                                                        "from a fork child")));
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (responder), ==, before);

  /* And its log records reach us like any context's. */
  while (!g_atomic_int_get (&fork_child_records))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
  mitogen_test_shutdown_ok (ctx);
}

/* ---------------------------------------------------------------------- */
/* Ends. */

static void
test_shutdown (Fixture *f,
               gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_fork (f->router);
  GPid pid = child_pid (ctx);

  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, pid);
  mitogen_test_shutdown_ok (ctx);
  /* Gone and reaped, by the fork server since it is not our child. */
  g_assert_true (wait_gone (pid));
  g_assert_true (wait_no_fork_children ());
}

typedef struct {
  MitogenContext *ctx;
  GError *error;
  gint64 returned;
} Sleeper;

static gpointer
sleeper_thread (gpointer data)
{
  Sleeper *s = data;
  g_autoptr(MitogenTestDeadline) deadline = mitogen_test_deadline_new (WAIT);
  g_autoptr(GVariant) v =
    mitogen_context_call (s->ctx, "core.sleep", g_variant_new ("(d)", 30.0),
                          deadline->cancellable, &s->error);

  g_assert_null (v);
  s->returned = g_get_monotonic_time ();
  return NULL;
}

static void
test_kill9 (Fixture *f,
            gconstpointer data)
{
  g_autoptr(MitogenContext) victim = connect_fork (f->router);
  g_autoptr(MitogenContext) other = connect_fork (f->router);
  GPid pid = child_pid (victim);
  Sleeper s = { victim, NULL, 0 };
  GThread *thread;
  gint64 killed;

  g_assert_cmpint (mitogen_test_remote_pid (victim), ==, pid);
  thread = g_thread_new ("sleeper", sleeper_thread, &s);
  /* Let the call reach the child; it fails the same way if it has not. */
  g_usleep (100000);
  killed = g_get_monotonic_time ();
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_thread_join (thread);

  g_test_message ("caller woke %.1f ms after SIGKILL",
                  (s.returned - killed) / 1000.0);
  g_assert_error (s.error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_clear_error (&s.error);
  g_assert_cmpint (s.returned - killed, <,
                   mitogen_test_scaled (G_USEC_PER_SEC));
  g_assert_true (wait_gone (pid));

  /* The other one does not mind. */
  g_assert_cmpint (mitogen_test_remote_pid (other), ==, child_pid (other));
  mitogen_test_shutdown_ok (other);
  g_assert_true (wait_no_fork_children ());
}

/* ---------------------------------------------------------------------- */
/* Connect failures. */

static void
touch (const gchar *name)
{
  g_autofree gchar *path = g_build_filename (control_dir, name, NULL);

  g_assert_true (g_file_set_contents (path, "", 0, NULL));
}

static void
untouch (const gchar *name)
{
  g_autofree gchar *path = g_build_filename (control_dir, name, NULL);

  g_assert_cmpint (g_unlink (path), ==, 0);
}

static void
test_hook_fails (Fixture *f,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;

  touch ("fail");
  ctx = mitogen_router_connect_context (f->router, "fork", NULL, NULL, NULL,
                                        &error);
  untouch ("fail");
  g_test_message ("%s", error ? error->message : "(no error)");
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "on-fork hook failed: asked to fail"));
  g_assert_true (wait_no_fork_children ());
}

/* What a child that died while it started wrote on its stderr is in the
 * connect error: it is all the master could learn. */
static void
test_bootstrap_death_quotes_stderr (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenContext) ctx = NULL;

  touch ("scream");
  ctx = mitogen_router_connect_context (f->router, "fork", NULL, NULL, NULL,
                                        &error);
  untouch ("scream");
  g_test_message ("%s", error ? error->message : "(no error)");
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (
      strstr (error->message, "boom: the fork child could not go on"));
  g_assert_true (wait_no_fork_children ());
}

/* Mitogen's on_start, per connection: the hook named by the option runs
 * in that child, with that connection's arguments, before its first call;
 * another child, connected without it, does not run it. */
static void
test_on_start_runs_before_serving (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenContext) hooked = connect_transport (
      f->router, "fork",
      g_variant_new_parsed (
          "{'on-start': <'setenv'>, "
          "'on-start-args': <('MITOGEN_TEST_ON_START', 'ran')>}"));
  g_autoptr (MitogenContext) plain = connect_fork (f->router);
  g_autoptr (GVariant) seen = mitogen_test_call_ok (
      hooked, "core.getenv", g_variant_new ("(s)", "MITOGEN_TEST_ON_START"));
  g_autoptr (GVariant) unset = mitogen_test_call_ok (
      plain, "core.getenv", g_variant_new ("(s)", "MITOGEN_TEST_ON_START"));
  const gchar *value = NULL;

  g_variant_get (seen, "m&s", &value);
  g_assert_cmpstr (value, ==, "ran");
  g_variant_get (unset, "m&s", &value);
  g_assert_null (value);
  g_assert_null (g_getenv ("MITOGEN_TEST_ON_START"));
  mitogen_test_shutdown_ok (hooked);
  mitogen_test_shutdown_ok (plain);
  g_assert_true (wait_no_fork_children ());
}

/* A hook that fails fails the connect, saying why; one that was never
 * added fails it before any child is made. */
static void
test_on_start_failure_fails_connect (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenContext) ctx = mitogen_router_connect_context (
      f->router, "fork",
      g_variant_new_parsed ("{'on-start': <'refuse'>, "
                            "'on-start-args': <'not today'>}"),
      NULL, NULL, &error);

  g_test_message ("%s", error ? error->message : "(no error)");
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (
      strstr (error->message, "on-start hook “refuse” failed: not today"));
  g_assert_true (wait_no_fork_children ());
  g_clear_error (&error);

  ctx = mitogen_router_connect_context (
      f->router, "fork", g_variant_new_parsed ("{'on-start': <'nonesuch'>}"),
      NULL, NULL, &error);
  g_test_message ("%s", error ? error->message : "(no error)");
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (
      strstr (error->message, "No on-start hook named “nonesuch”"));
}

static void
test_hook_hangs (Fixture *f,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  gint64 start = g_get_monotonic_time (), took;

  touch ("hang");
  ctx = mitogen_router_connect_context (
      f->router, "fork", g_variant_new_parsed ("{'connect-timeout': <0.5>}"),
      NULL, NULL, &error);
  took = g_get_monotonic_time () - start;
  g_test_message ("%s after %.2f s", error ? error->message : "(no error)",
                  took / 1e6);
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_TIMEOUT_ERROR, MITOGEN_TIMEOUT_ERROR_TIMED_OUT);
  g_assert_cmpint (took, <, mitogen_test_scaled (5 * G_USEC_PER_SEC));
  /* The stuck child was killed, not left waiting for the file to go. */
  g_assert_true (wait_no_fork_children ());
  untouch ("hang");
}

static void
test_not_running (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(MitogenBroker) broker = NULL;
      g_autoptr(MitogenRouter) router = NULL;
      g_autoptr(MitogenContext) ctx = NULL;
      g_autoptr(GError) error = NULL;
      GPid server = mitogen_fork_server_get_pid ();

      /* Stopping waits for the server: it is gone, not a zombie. */
      g_assert_cmpint (server, >, 0);
      mitogen_fork_server_stop ();
      g_assert_cmpint (mitogen_fork_server_get_pid (), ==, 0);
      g_assert_cmpint (kill (server, 0), ==, -1);
      g_assert_cmpint (errno, ==, ESRCH);

      broker = mitogen_broker_new ();
      router = mitogen_router_new (broker);
      ctx = mitogen_router_connect_context (router, "fork", NULL, NULL, NULL,
                                            &error);
      g_assert_null (ctx);
      g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
      g_assert_nonnull (strstr (error->message, "mitogen_fork_server_start()"));
      g_printerr ("%s\n", error->message);

      /* The broker has threads now: the server cannot start again. */
      g_clear_error (&error);
      g_assert_false (mitogen_fork_server_start (&error));
      g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED);
      mitogen_broker_shutdown (broker);
      mitogen_broker_join (broker);
      return;
    }
  g_test_trap_subprocess (NULL, WAIT, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*call mitogen_fork_server_start() early in main()*");
}

/* A fork child has no fork server of its own: it has threads from the
 * start. Asking it for a fork child must fail cleanly, not hang. */
static void
test_fork_of_fork (Fixture *f,
                   gconstpointer data)
{
  g_autoptr(MitogenContext) plain = connect_fork (f->router);
  g_autoptr(MitogenTestDeadline) deadline = mitogen_test_deadline_new (WAIT);
  g_autoptr(GError) error = NULL;
  g_autoptr (MitogenContext) refused = mitogen_router_connect_context (
      f->router, "fork", NULL, plain, deadline->cancellable, &error);
  g_autoptr(MitogenContext) parent = NULL;
  g_autoptr(MitogenContext) child = NULL;

  /* Without a fork server of its own, a fork child says what is missing. */
  g_assert_null (refused);
  g_assert_nonnull (strstr (error->message, "mitogen_fork_server_start()"));
  g_clear_error (&error);

  parent = mitogen_router_connect_context (
      f->router, "fork",
      mitogen_test_connect_options (
          g_variant_new_parsed ("{'fork-server': <true>}")),
      NULL, deadline->cancellable, &error);
  g_assert_no_error (error);
  child = mitogen_router_connect_context (
      f->router, "fork", mitogen_test_connect_options (NULL), parent,
      deadline->cancellable, &error);
  g_assert_no_error (error);
  g_assert_cmpint (mitogen_test_remote_pid (child), !=,
                   mitogen_test_remote_pid (parent));
  g_assert_cmpint (mitogen_test_remote_pid (child), !=, getpid ());

  mitogen_test_shutdown_ok (child);
  mitogen_test_shutdown_ok (parent);
  mitogen_test_shutdown_ok (plain);
  g_assert_true (wait_no_fork_children ());
}

/* The master of test_death_master(): starts a fork context, says the fork
 * server's pid and the child's, and waits to be killed. */
static int
master_child_main (void)
{
  g_autoptr(GError) error = NULL;
  MitogenBroker *broker = mitogen_broker_new ();
  MitogenRouter *router = mitogen_router_new (broker);
  MitogenContext *ctx = mitogen_router_connect_context (router, "fork", NULL,
                                                        NULL, NULL, &error);
  g_autoptr(GVariant) pid = NULL;

  if (ctx)
    pid = mitogen_context_call (ctx, "core.getpid", NULL, NULL, &error);
  if (!pid)
    {
      g_printerr ("master child: %s\n", error->message);
      return 1;
    }
  printf ("%d %d\n", mitogen_fork_server_get_pid (), g_variant_get_int32 (pid));
  fflush (stdout);
  for (;;)
    pause ();
}

/* Reads one line from @fd within WAIT. */
static gchar *
read_line (int fd)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;
  g_autoptr(GString) line = g_string_new (NULL);

  for (;;)
    {
      struct pollfd p = { fd, POLLIN, 0 };
      gint64 left = deadline - g_get_monotonic_time ();
      gchar c;

      if (left <= 0 || poll (&p, 1, (int) (left / 1000) + 1) < 0)
        return NULL;
      if (!p.revents)
        continue;
      if (read (fd, &c, 1) != 1)
        return NULL;
      if (c == '\n')
        return g_strdup (line->str);
      g_string_append_c (line, c);
    }
}

/* The fork server and its children do not outlive a master killed with
 * SIGKILL: the server reads end of file, each child loses its link. */
static void
test_death_master (void)
{
  g_autofree gchar *exe = g_file_read_link ("/proc/self/exe", NULL);
  const gchar *argv[] = { exe, "--master-child", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = NULL;
  GPid master, server = 0, child = 0;
  int out_fd, status;

  g_assert_nonnull (exe);
  g_assert_true (g_spawn_async_with_pipes (NULL, (gchar **) argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                           &master, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  line = read_line (out_fd);
  close (out_fd);
  g_assert_nonnull (line);
  g_assert_cmpint (sscanf (line, "%d %d", &server, &child), ==, 2);
  g_assert_true (mitogen_test_process_running (server));
  g_assert_true (mitogen_test_process_running (child));

  g_assert_cmpint (kill (master, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (master, &status, 0), ==, master);
  /* Whoever inherits them reaps them, or not: either way they stopped. */
  g_assert_true (wait_not_running (server));
  g_assert_true (wait_not_running (child));
}

/* ---------------------------------------------------------------------- */
/* Many forks while the master's other threads hold its locks. */

typedef struct {
  gint stop;
  gint calls;
  MitogenContext *local;
} Noise;

static gpointer
allocator_thread (gpointer data)
{
  Noise *n = data;
  GRand *rand = g_rand_new ();

  while (!g_atomic_int_get (&n->stop))
    {
      gpointer blocks[64];

      for (guint i = 0; i < G_N_ELEMENTS (blocks); i++)
        blocks[i] = g_malloc (g_rand_int_range (rand, 1, 64 * 1024));
      for (guint i = 0; i < G_N_ELEMENTS (blocks); i++)
        g_free (blocks[i]);
      /* Busy, but leaving the two-CPU machines that run the suite some
       * room for the contexts being started. */
      g_usleep (100);
    }
  g_rand_free (rand);
  return NULL;
}

static gpointer
logger_thread (gpointer data)
{
  Noise *n = data;

  for (guint i = 0; !g_atomic_int_get (&n->stop); i++)
    {
      /* Through g_logv() and its handler lookup, and straight to the
       * writer: both take GLib's log lock. */
      g_debug ("noise %u", i);
      g_message ("noise %u", i);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "MESSAGE", "noise %u", i);
      g_usleep (100);
    }
  return NULL;
}

static gpointer
caller_thread (gpointer data)
{
  Noise *n = data;

  while (!g_atomic_int_get (&n->stop))
    {
      g_autofree gchar *echoed = echo_string (n->local, "noise");

      g_assert_cmpstr (echoed, ==, "noise");
      g_atomic_int_inc (&n->calls);
    }
  return NULL;
}

static void
fork_call_shutdown (MitogenRouter *router)
{
  g_autoptr(MitogenContext) ctx = connect_fork (router);
  GPid pid = child_pid (ctx);

  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, pid);
  mitogen_test_shutdown_ok (ctx);
  g_assert_true (wait_no_fork_children ());
}

static void
test_stress (Fixture *f,
             gconstpointer data)
{
  GThreadFunc funcs[] = { allocator_thread, allocator_thread, allocator_thread,
                          logger_thread, logger_thread,
                          caller_thread, caller_thread, caller_thread };
  GThread *threads[G_N_ELEMENTS (funcs)];
  Noise noise = { 0 };
  guint n = g_getenv ("MITOGEN_TEST_QUICK") ? 100 : 1000;
  guint before, after;
  gint64 start;

  /* The first fork loads the transport. The noise threads' descriptors
   * (their latches' socketpairs) are theirs, so they are not running
   * while descriptors are counted. */
  noise.local = connect_transport (f->router, "local", NULL);
  g_free (echo_string (noise.local, "warm-up"));
  fork_call_shutdown (f->router);
  /* What the warm-up is still letting go of may be counted here: it is
   * a few descriptors, and a leak grows with n. */
  before = count_fds ();

  for (guint i = 0; i < G_N_ELEMENTS (funcs); i++)
    threads[i] = g_thread_new ("noise", funcs[i], &noise);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    fork_call_shutdown (f->router);
  g_test_message ("%u fork contexts connected, called and shut down in %.2f s "
                  "beside %d calls on a local context", n,
                  (g_get_monotonic_time () - start) / 1e6,
                  g_atomic_int_get (&noise.calls));
  g_atomic_int_set (&noise.stop, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (g_atomic_int_get (&noise.calls), >, 0);

  after = count_fds_down_to (before);
  g_assert_cmpuint (after, <=, before);
  mitogen_test_shutdown_ok (noise.local);
  g_object_unref (noise.local);
}

/* ---------------------------------------------------------------------- */

/* Runs in each fork child, before it becomes a context. */
static gboolean
on_fork (gpointer user_data,
         GError **error)
{
  g_autofree gchar *fail = NULL, *hang = NULL, *scream = NULL;

  if (!control_dir)
    return TRUE;
  fail = g_build_filename (control_dir, "fail", NULL);
  hang = g_build_filename (control_dir, "hang", NULL);
  scream = g_build_filename (control_dir, "scream", NULL);
  /* A child that dies while it starts, having said why on stderr only. */
  if (g_file_test (scream, G_FILE_TEST_EXISTS))
    {
      fputs ("boom: the fork child could not go on\n", stderr);
      fflush (stderr);
      _exit (1);
    }
  if (g_file_test (fail, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "asked to fail");
      return FALSE;
    }
  while (g_file_test (hang, G_FILE_TEST_EXISTS))
    g_usleep (10000);
  g_setenv ("MITOGEN_TEST_FORKED", "yes", TRUE);
  return TRUE;
}

/* The on-start hooks: "setenv" sets (NAME, VALUE) from its arguments,
 * "refuse" fails with the message it is given. */
static gboolean
on_start_setenv (MitogenExternalContext *context,
                 GVariant *args,
                 gpointer user_data,
                 GError **error)
{
  const gchar *name, *value;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("(ss)")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "setenv takes (ss), not %s",
                   g_variant_get_type_string (args));
      return FALSE;
    }
  /* A context, not yet serving: its router is there. */
  if (!mitogen_external_context_get_router (context))
    return FALSE;
  g_variant_get (args, "(&s&s)", &name, &value);
  return g_setenv (name, value, TRUE);
}

static gboolean
on_start_refuse (MitogenExternalContext *context,
                 GVariant *args,
                 gpointer user_data,
                 GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
               g_variant_get_string (args, NULL));
  return FALSE;
}

static void
drop_log (const gchar *domain,
          GLogLevelFlags level,
          const gchar *message,
          gpointer user_data)
{
}

/* Counts the records test_modules() asks for; the noise threads' records
 * go nowhere; others as usual. */
static GLogWriterOutput
quiet_writer (GLogLevelFlags level,
              const GLogField *fields,
              gsize n_fields,
              gpointer user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0 &&
        g_str_equal (fields[i].value, "from a fork child"))
      {
        g_atomic_int_inc (&fork_child_records);
        return G_LOG_WRITER_HANDLED;
      }
  if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG))
    return G_LOG_WRITER_HANDLED;
  /* A child's warning is printed, not made fatal here as ours are. */
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && fields[i].length < 0 &&
        g_str_has_prefix (fields[i].value, "mitogen.ctx."))
      return g_log_writer_standard_streams (level, fields, n_fields, user_data);
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* A run of this program by one of its tests, which needs no control
 * directory of its own. */
static gboolean
is_nested_run (int argc,
               char **argv)
{
  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--GTestSubprocess") ||
        g_str_equal (argv[i], "--master-child"))
      return TRUE;
  return FALSE;
}

#define ADD(path, func) \
  g_test_add ("/fork/" path, Fixture, NULL, setup, func, teardown)

int
main (int argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  /* Before anything that could start a thread: the fork server and its
   * children must be copies of a single-threaded process. */
  if (!is_nested_run (argc, argv))
    control_dir = g_dir_make_tmp ("test-fork-XXXXXX", NULL);
  mitogen_fork_server_set_on_fork (on_fork, NULL);
  mitogen_fork_server_add_on_start ("setenv", on_start_setenv, NULL);
  mitogen_fork_server_add_on_start ("refuse", on_start_refuse, NULL);
  if (!mitogen_fork_server_start (&error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }

  if (argc > 1 && g_str_equal (argv[1], "--master-child"))
    return master_child_main ();

  g_test_init (&argc, &argv, NULL);
  /* After the fork server started: a context may set the writer only once,
   * and sets its own. */
  g_log_set_writer_func (quiet_writer, NULL, NULL);
  /* GTest's own handler would print them. */
  g_log_set_handler (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO |
                     G_LOG_LEVEL_DEBUG, drop_log, NULL);

  ADD ("calls", test_calls);
  ADD ("on-fork", test_on_fork);
  ADD ("options", test_options);
  ADD ("modules", test_modules);
  ADD ("shutdown", test_shutdown);
  ADD ("kill9", test_kill9);
  g_test_add_func ("/fork/death/master", test_death_master);
  ADD ("connect/hook-fails", test_hook_fails);
  ADD ("connect/hook-hangs", test_hook_hangs);
  ADD ("connect/bootstrap-death-quotes-stderr",
       test_bootstrap_death_quotes_stderr);
  ADD ("on-start/runs-before-serving", test_on_start_runs_before_serving);
  ADD ("on-start/failure-fails-connect", test_on_start_failure_fails_connect);
  g_test_add_func ("/fork/connect/not-running", test_not_running);
  ADD ("fork-of-fork", test_fork_of_fork);
  ADD ("stress", test_stress);

  status = g_test_run ();

  mitogen_fork_server_stop ();
  if (control_dir)
    {
      g_rmdir (control_dir);
      g_free (control_dir);
    }
  return status;
}
