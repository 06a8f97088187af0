/* test-liveness.c: frozen and deaf children are found out and stopped;
 * a master that ends with contexts alive ends promptly and quietly; an
 * agent's own children die with it.
 *
 * Every child is a real agent started through the `local` transport.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <errno.h>
#include <mitogen/mitogen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mitogen-test-util.h"

/* Short, yet long enough for a child on a machine with every CPU busy
 * (load 40 on 2 cores seen) to answer a probe: it has INTERVAL * COUNT
 * seconds to. */
#define INTERVAL 1.0
#define COUNT 3
#define KEEPALIVE_REASON "no answer to keepalive in 3 s"

/* The grace period of the shutdown tests. */
#define GRACE (G_USEC_PER_SEC / 2)

typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *ctx;
  GPid pid;
} Fixture;

static GVariant *
keepalive_options (gdouble interval)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "keepalive-interval", "d", interval);
  g_variant_dict_insert (&dict, "keepalive-count", "u", (guint32) COUNT);
  return g_variant_dict_end (&dict);
}

static void
connect_child (Fixture *f, gdouble interval)
{
  mitogen_test_master_new (&f->broker, &f->router);
  mitogen_broker_set_shutdown_timeout (f->broker, GRACE);
  mitogen_module_responder_add_path (
      mitogen_module_responder_get_for_router (f->router),
      MITOGEN_TEST_MODULES_DIR);
  f->ctx = mitogen_test_connect (f->router, "local",
                                 keepalive_options (interval), NULL);
  f->pid = mitogen_parent_stream_get_pid (
      MITOGEN_PARENT_STREAM (mitogen_context_get_stream (f->ctx)));
  g_assert_cmpint (mitogen_test_remote_pid (f->ctx), ==, f->pid);
}

static void
fixture_clear (Fixture *f)
{
  mitogen_test_master_stop (f->broker, NULL);
  g_clear_object (&f->ctx);
  mitogen_test_master_clear (&f->broker, &f->router);
}

/* The process is gone: dead, or a zombie its new parent has yet to
 * reap. */
static gboolean
process_gone (GPid pid)
{
  return !mitogen_test_process_running (pid);
}

static gchar *
process_comm (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/comm", pid);
  gchar *comm = NULL;

  if (!g_file_get_contents (path, &comm, NULL, NULL))
    return g_strdup ("");
  return g_strstrip (comm);
}

/* Polls @check until it holds, failing the test after MITOGEN_TEST_WAIT. */
static void
wait_until (gboolean (*check) (GPid pid), GPid pid, const gchar *what)
{
  gint64 deadline = g_get_monotonic_time () + MITOGEN_TEST_WAIT;

  while (!check (pid))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out waiting for %s (pid %d)", what, pid);
      g_usleep (10000);
    }
}

/* Our own child, reaped: nothing is left to wait for. */
static void
assert_reaped (GPid pid)
{
  int status;

  g_assert_cmpint (waitpid (pid, &status, WNOHANG), ==, -1);
  g_assert_cmpint (errno, ==, ECHILD);
}

/* A call that waits on the child, from another thread. */
static gpointer
call_thread (gpointer data)
{
  MitogenContext *ctx = data;
  g_autoptr (MitogenTestDeadline) deadline
      = mitogen_test_deadline_new (MITOGEN_TEST_WAIT);
  GError *error = NULL;
  g_autoptr (GVariant) result
      = mitogen_context_call (ctx, "core.sleep", g_variant_new ("(d)", 1000.0),
                              deadline->cancellable, &error);

  g_assert_null (result);
  return error;
}

static void
assert_keepalive_death (GError *error)
{
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_assert_nonnull (strstr (error->message, KEEPALIVE_REASON));
}

static void
test_keepalive_stopped_child (void)
{
  Fixture f = { 0 };
  g_autoptr (MitogenTestDeadline) deadline = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) waiter_error = NULL;
  g_autoptr (GVariant) result = NULL;
  GThread *waiter;

  connect_child (&f, INTERVAL);
  waiter = g_thread_new ("waiter", call_thread, f.ctx);
  g_assert_cmpint (kill (f.pid, SIGSTOP), ==, 0);

  deadline = mitogen_test_deadline_new (MITOGEN_TEST_WAIT);
  result = mitogen_context_call (f.ctx, "core.getpid", NULL,
                                 deadline->cancellable, &error);
  g_assert_null (result);
  assert_keepalive_death (error);
  waiter_error = g_thread_join (waiter);
  assert_keepalive_death (waiter_error);

  g_assert_false (mitogen_context_is_connected (f.ctx));
  g_assert_cmpstr (
      mitogen_stream_get_disconnect_reason (mitogen_context_get_stream (f.ctx)),
      ==, KEEPALIVE_REASON);
  /* Stopped, it is sent SIGTERM with SIGCONT, and reaped. */
  g_assert_true (mitogen_parent_stream_wait_exited (
      MITOGEN_PARENT_STREAM (mitogen_context_get_stream (f.ctx)),
      MITOGEN_TEST_WAIT, NULL, NULL));
  assert_reaped (f.pid);
  fixture_clear (&f);
}

static void
test_keepalive_busy_child (void)
{
  Fixture f = { 0 };
  MitogenStream *stream;
  g_autoptr (GError) waiter_error = NULL;
  GThread *waiter;
  guint64 received0;
  gint64 deadline;

  connect_child (&f, INTERVAL);
  stream = mitogen_context_get_stream (f.ctx);
  /* Its main thread sleeps in a call: only its broker thread answers. */
  waiter = g_thread_new ("waiter", call_thread, f.ctx);

  /* Several probes, each answered, and the child still connected. */
  received0 = mitogen_stream_get_bytes_received (stream);
  deadline = g_get_monotonic_time () + MITOGEN_TEST_WAIT;
  while (mitogen_stream_get_bytes_received (stream)
         < received0 + 3 * MITOGEN_MESSAGE_HEADER_SIZE)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_assert_true (mitogen_context_is_connected (f.ctx));
      g_usleep (10000);
    }
  g_assert_true (mitogen_context_is_connected (f.ctx));
  g_assert_null (mitogen_stream_get_disconnect_reason (stream));

  mitogen_test_shutdown_ok (f.ctx);
  /* The shutdown cancels its call. */
  waiter_error = g_thread_join (waiter);
  g_assert_nonnull (waiter_error);
  fixture_clear (&f);
}

static gboolean
became_sleep (GPid pid)
{
  g_autofree gchar *comm = process_comm (pid);

  return g_str_equal (comm, "sleep");
}

/* Shuts the context down, which must return after the grace period and
 * within the kill bound (and the suite's generous margin), reaped. */
static void
assert_bounded_shutdown (Fixture *f)
{
  g_autoptr (MitogenTestDeadline) deadline
      = mitogen_test_deadline_new (MITOGEN_TEST_WAIT);
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  g_assert_true (
      mitogen_context_shutdown (f->ctx, TRUE, deadline->cancellable, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, GRACE);
  g_assert_false (mitogen_context_is_connected (f->ctx));
  assert_reaped (f->pid);
}

static void
test_shutdown_deaf_child (void)
{
  Fixture f = { 0 };

  /* No keepalive: the shutdown itself must end it. */
  connect_child (&f, 0.0);
  g_assert_true (mitogen_context_call_no_reply (f.ctx, "stubborn.become_sleep", NULL, NULL, NULL));
  wait_until (became_sleep, f.pid, "the child to become sleep");
  g_assert_true (mitogen_context_is_connected (f.ctx));

  assert_bounded_shutdown (&f);
  fixture_clear (&f);
}

static void
test_shutdown_stopped_child (void)
{
  Fixture f = { 0 };

  connect_child (&f, 0.0);
  g_assert_cmpint (kill (f.pid, SIGSTOP), ==, 0);
  assert_bounded_shutdown (&f);
  fixture_clear (&f);
}

/* Disposing a master with a child and a grandchild alive: the README's
 * programs end this way. Run in a subprocess, whose log records it counts:
 * no warning, and at most one line for each context (on a loaded machine
 * each may outlast its grace period, which is said once). */
static guint log_lines;
static guint log_warnings;

static GLogWriterOutput
count_lines (GLogLevelFlags level,
             const GLogField *fields,
             gsize n_fields,
             gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    log_warnings++;
  if (!(level & G_LOG_LEVEL_DEBUG))
    log_lines++;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static gdouble
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return (gdouble) (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
         + (gdouble) (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static void
dispose_with_chain (void)
{
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *child, *grandchild;
  GPid child_pid, grandchild_pid;
  gint64 start;
  gdouble cpu;

  g_log_set_writer_func (count_lines, NULL, NULL);
  mitogen_test_master_new (&broker, &router);
  child = mitogen_test_connect (router, "local", NULL, NULL);
  grandchild = mitogen_test_connect (router, "local", NULL, child);
  child_pid = mitogen_test_remote_pid (child);
  grandchild_pid = mitogen_test_remote_pid (grandchild);

  start = g_get_monotonic_time ();
  cpu = cpu_seconds ();
  /* The README's order: g_autoptr drops the last declared first. */
  g_object_unref (grandchild);
  g_object_unref (child);
  g_object_unref (router);
  g_object_unref (broker);

  /* Within the grace period and the kill bound (and a margin for a loaded
   * machine), and without spinning. */
  g_assert_cmpint (g_get_monotonic_time () - start, <,
                   MITOGEN_BROKER_SHUTDOWN_TIMEOUT + MITOGEN_BROKER_KILL_BOUND
                       + mitogen_test_scaled (3 * G_USEC_PER_SEC));
  g_assert_cmpfloat (cpu_seconds () - cpu, <, 0.5);
  g_assert_cmpuint (log_warnings, ==, 0);
  g_assert_cmpuint (log_lines, <=, 2);
  assert_reaped (child_pid);
  wait_until (process_gone, grandchild_pid, "the grandchild to exit");
}

static void
test_dispose_with_chain (void)
{
  if (g_test_subprocess ())
    {
      dispose_with_chain ();
      return;
    }
  g_test_trap_subprocess (NULL, 2 * MITOGEN_TEST_WAIT,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* The child of a process: the first found whose parent is @ppid. */
static GPid found_child;

static gboolean
has_sleep_child (GPid ppid)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc", 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree gchar *path = g_strdup_printf ("/proc/%s/stat", name);
      g_autofree gchar *stat = NULL;
      const gchar *rest;
      int parent;

      if (!g_ascii_isdigit (name[0])
          || !g_file_get_contents (path, &stat, NULL, NULL)
          || !strstr (stat, "(sleep)") || !(rest = strrchr (stat, ')'))
          || sscanf (rest + 2, "%*c %d", &parent) != 1 || parent != ppid)
        continue;
      found_child = (GPid) atoi (name);
      return TRUE;
    }
  return FALSE;
}

static gpointer
run_sleep_thread (gpointer data)
{
  MitogenContext *ctx = data;
  g_autoptr (MitogenTestDeadline) deadline
      = mitogen_test_deadline_new (MITOGEN_TEST_WAIT);
  g_autoptr (GVariant) args = g_variant_parse (
      NULL, "(['sleep', '1000'], @may nothing, @ms nothing, @a{ss} {})", NULL,
      NULL, NULL);
  GError *error = NULL;
  g_autoptr (GVariant) result = mitogen_context_call (
      ctx, "core.run", args, deadline->cancellable, &error);

  g_assert_null (result);
  return error;
}

static void
test_agent_killed_children_die (void)
{
  Fixture f = { 0 };
  g_autoptr (GError) error = NULL;
  GThread *runner;

  connect_child (&f, 0.0);
  runner = g_thread_new ("runner", run_sleep_thread, f.ctx);
  wait_until (has_sleep_child, f.pid, "core.run to start sleep");
  g_assert_cmpint (kill (f.pid, SIGKILL), ==, 0);
  wait_until (process_gone, found_child, "the agent's sleep to die with it");

  error = g_thread_join (runner);
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  fixture_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/liveness/keepalive/stopped-child",
                   test_keepalive_stopped_child);
  g_test_add_func ("/liveness/keepalive/busy-child", test_keepalive_busy_child);
  g_test_add_func ("/liveness/shutdown/deaf-child", test_shutdown_deaf_child);
  g_test_add_func ("/liveness/shutdown/stopped-child",
                   test_shutdown_stopped_child);
  g_test_add_func ("/liveness/dispose/with-chain", test_dispose_with_chain);
  g_test_add_func ("/liveness/agent-killed/children-die",
                   test_agent_killed_children_die);
  return g_test_run ();
}
