/* test-setns.c: the setns transport, into namespaces the test makes with
 * unshare(1): a pid, mount, uts and net namespace whose init is `sleep`,
 * with a hostname and a tmpfs of its own.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>

#include "mitogen-test-util.h"

#define NS_HOSTNAME "mitogen-setns-test"

typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *ctx;
  GSubprocess *unshare;
  gchar *mount_dir;
  gint init_pid; /* the namespace's pid 1, as we see it */
} Fixture;

/* The child of unshare --fork is the namespace's init. */
static gint
child_of (const gchar *pid)
{
  g_autofree gchar *path
      = g_strdup_printf ("/proc/%s/task/%s/children", pid, pid);
  g_autofree gchar *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  return (gint) g_ascii_strtoll (text, NULL, 10);
}

/* Starts the namespace and waits for its init to say it is ready. */
static gboolean
start_namespace (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenTestDeadline) deadline
      = mitogen_test_deadline_new (MITOGEN_TEST_WAIT);
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree gchar *line = NULL;
  g_autofree gchar *script = g_strdup_printf (
      "hostname " NS_HOSTNAME " && mount -t tmpfs mitogen-setns %s && "
      "echo ready && exec sleep infinity",
      f->mount_dir);

  f->unshare = g_subprocess_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
      "unshare", "--fork", "--pid", "--mount-proc", "--uts", "--net", "--mount",
      "--ipc", "sh", "-c", script, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (f->unshare));
  line = g_data_input_stream_read_line_utf8 (out, NULL, deadline->cancellable,
                                             &error);
  g_assert_no_error (error);
  if (g_strcmp0 (line, "ready") != 0)
    {
      /* unshare's own words: the kernel or a sandbox forbids it. */
      g_test_skip_printf ("cannot make namespaces here: %s",
                          line ? line : "(no output)");
      return FALSE;
    }
  f->init_pid = child_of (g_subprocess_get_identifier (f->unshare));
  g_assert_cmpint (f->init_pid, >, 0);
  return TRUE;
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->mount_dir = g_dir_make_tmp ("mitogen-setns-XXXXXX", NULL);
  g_assert_nonnull (f->mount_dir);
  mitogen_test_master_new (&f->broker, &f->router);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  mitogen_test_master_stop (f->broker, f->ctx);
  g_clear_object (&f->ctx);
  mitogen_test_master_clear (&f->broker, &f->router);
  if (f->unshare)
    {
      /* SIGKILL to the init ends the namespace; unshare then exits. */
      if (f->init_pid > 0)
        kill (f->init_pid, SIGKILL);
      g_subprocess_force_exit (f->unshare);
      g_subprocess_wait (f->unshare, NULL, NULL);
      g_clear_object (&f->unshare);
    }
  g_rmdir (f->mount_dir);
  g_free (f->mount_dir);
}

static GVariant *
pid_options (gint pid)
{
  return g_variant_new_parsed ("{'pid': <%i>}", pid);
}

static gchar *
read_remote (MitogenContext *ctx, const gchar *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) v = mitogen_context_call (
      ctx, "core.read_file", g_variant_new ("(s)", path), NULL, &error);
  gsize len;
  const gchar *data;

  g_assert_no_error (error);
  data = g_variant_get_fixed_array (v, &len, 1);
  return g_strndup (data, len);
}

/* The agent sees the namespace's hostname, mounts and pid 1. */
static void
assert_inside (Fixture *f, MitogenContext *ctx)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) host
      = mitogen_context_call (ctx, "core.hostname", NULL, NULL, &error);
  g_autofree gchar *mounts = NULL;
  g_autofree gchar *init = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (host, NULL), ==, NS_HOSTNAME);
  mounts = read_remote (ctx, "/proc/self/mounts");
  g_assert_nonnull (strstr (mounts, f->mount_dir));
  init = read_remote (ctx, "/proc/1/cmdline");
  g_assert_cmpstr (init, ==, "sleep");
  /* Our own pid 1 is not sleep: the agent's /proc is the namespace's. */
  g_assert_cmpint (mitogen_test_getpid (ctx), !=, f->init_pid);
}

static void
test_enters (Fixture *f, gconstpointer data)
{
  if (!start_namespace (f))
    return;
  f->ctx = mitogen_test_connect (f->router, "setns", pid_options (f->init_pid),
                                 NULL);
  assert_inside (f, f->ctx);
}

/* local/setns:PID: a hop of a chain. */
static void
test_chain (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenContext) inner = NULL;

  if (!start_namespace (f))
    return;
  f->ctx = mitogen_test_connect (f->router, "local", NULL, NULL);
  inner = mitogen_test_connect (f->router, "setns", pid_options (f->init_pid),
                                f->ctx);
  assert_inside (f, inner);
}

static GError *
connect_fails (Fixture *f, GVariant *options)
{
  GError *error = NULL;
  g_autoptr (MitogenContext) ctx = mitogen_router_connect_context (
      f->router, "setns", mitogen_test_connect_options (options), NULL, NULL,
      &error);

  g_assert_null (ctx);
  g_assert_nonnull (error);
  return error;
}

static void
test_missing_pid (Fixture *f, gconstpointer data)
{
  /* Above any pid_max the kernel allows (2^22). */
  g_autoptr (GError) error = connect_fails (f, pid_options (G_MAXINT - 1));

  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "no process"));
  g_clear_error (&error);
  error = connect_fails (f, NULL);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "no pid given"));
}

/* Only root may enter namespaces of root's user namespace: from a sudo
 * hop to an unprivileged user the transport refuses, naming root. */
static void
test_non_root (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenContext) inner = NULL;

  if (!start_namespace (f))
    return;
  if (!getpwnam ("mitogen-test"))
    {
      g_test_skip ("user mitogen-test is missing: run scripts/setup-test-env");
      return;
    }
  f->ctx = mitogen_test_connect (
      f->router, "sudo",
      g_variant_new_parsed ("{'username': <'mitogen-test'>}"), NULL);
  inner = mitogen_router_connect_context (
      f->router, "setns",
      /* Not uploaded: the sudo hop's agent, installed in the build tree,
       * has no bundle to pass on, and the refusal comes before any run. */
      mitogen_test_connect_options (g_variant_new_parsed (
          "{'pid': <%i>, 'upload-agent': <false>}", f->init_pid)),
      f->ctx, NULL, &error);
  g_assert_null (inner);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "needs root"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/setns/enters", Fixture, NULL, setup, test_enters, teardown);
  g_test_add ("/setns/chain", Fixture, NULL, setup, test_chain, teardown);
  g_test_add ("/setns/missing-pid", Fixture, NULL, setup, test_missing_pid,
              teardown);
  g_test_add ("/setns/non-root", Fixture, NULL, setup, test_non_root, teardown);
  return g_test_run ();
}
