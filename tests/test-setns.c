/* test-setns.c: the setns transport, into namespaces the test makes with
 * unshare(1): a pid, mount, uts and net namespace whose init is `sleep`,
 * with a hostname and a tmpfs of its own.
 *
 * A container named through its engine is found by running the engine's
 * command. No engine runs on this machine, so a stand-in of each (docker,
 * podman, lxc-info, lxc, machinectl), first on PATH, answers with the pid
 * of the namespace's init when asked for the one container it knows and
 * records the command line it was given; the agent really enters the
 * namespace.
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
#define CONTAINER "box"

/* The folder of the stand-in engines, first on PATH. */
static gchar *engine_dir;

/* What each stand-in is called, what it prints for the known container
 * (%s the pid), and the command line the transport must give it. */
typedef struct
{
  const gchar *kind;
  const gchar *tool;
  const gchar *format;
  const gchar *args;
} Engine;

static const Engine engines[] = {
  { "docker", "docker", "%s\n", "inspect --format {{.State.Pid}} " CONTAINER },
  { "podman", "podman", "%s\n", "inspect --format {{.State.Pid}} " CONTAINER },
  { "lxc", "lxc-info", "%s\n", "-n " CONTAINER " -p -H" },
  { "lxd", "lxc",
    "Name: " CONTAINER "\nStatus: RUNNING\nType: container\nPID: %s\n",
    "info " CONTAINER },
  { "machinectl", "machinectl", "%s\n",
    "show --property=Leader --value " CONTAINER },
};

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

/* A stand-in that records its arguments in TOOL.args and prints the pid
 * in the file `pid` if one of them names the container in `name`; it
 * fails as an engine does for any other. */
static void
write_engine (const Engine *engine)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *path = g_build_filename (engine_dir, engine->tool, NULL);
  g_autofree gchar *script
      = g_strdup_printf ("#!/bin/sh\n"
                         "d=%s\n"
                         "echo \"$*\" >\"$d/%s.args\"\n"
                         "for a; do\n"
                         "  if [ \"$a\" = \"$(cat \"$d/name\")\" ]; then\n"
                         "    exec printf '%s' \"$(cat \"$d/pid\")\"\n"
                         "  fi\n"
                         "done\n"
                         "echo \"Error: No such container: $a\" >&2\n"
                         "exit 1\n",
                         engine_dir, engine->tool, engine->format);

  g_file_set_contents (path, script, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, 0755), ==, 0);
}

static void
set_engine_answer (const gchar *name, gint pid)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *name_path = g_build_filename (engine_dir, "name", NULL);
  g_autofree gchar *pid_path = g_build_filename (engine_dir, "pid", NULL);
  g_autofree gchar *pid_text = g_strdup_printf ("%d", pid);

  g_file_set_contents (name_path, name, -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (pid_path, pid_text, -1, &error);
  g_assert_no_error (error);
}

/* The command line the stand-in @tool last got, without the tool. */
static gchar *
engine_args (const gchar *tool)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *name = g_strdup_printf ("%s.args", tool);
  g_autofree gchar *path = g_build_filename (engine_dir, name, NULL);
  gchar *text = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  g_unlink (path);
  return g_strchomp (text);
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
  mounts = mitogen_test_read_remote (ctx, "/proc/self/mounts");
  g_assert_nonnull (strstr (mounts, f->mount_dir));
  init = mitogen_test_read_remote (ctx, "/proc/1/cmdline");
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

static void
rm_rf (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (dir);
}

static GVariant *
container_options (const gchar *kind, const gchar *container)
{
  return g_variant_new_parsed ("{'kind': <%s>, 'container': <%s>}", kind,
                               container);
}

/* setns with kind and container: the engine's command finds the pid. */
static void
test_container (Fixture *f, gconstpointer data)
{
  const Engine *engine = data;
  g_autofree gchar *args = NULL;

  if (!start_namespace (f))
    return;
  set_engine_answer (CONTAINER, f->init_pid);
  f->ctx = mitogen_test_connect (
      f->router, "setns", container_options (engine->kind, CONTAINER), NULL);
  args = engine_args (engine->tool);
  g_assert_cmpstr (args, ==, engine->args);
  assert_inside (f, f->ctx);
  g_assert_cmpstr (mitogen_context_get_name (f->ctx), ==, "setns." CONTAINER);
}

/* local/setns: the lookup runs in the hop that enters the namespaces. */
static void
test_container_chain (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenContext) inner = NULL;

  if (!start_namespace (f))
    return;
  set_engine_answer (CONTAINER, f->init_pid);
  f->ctx = mitogen_test_connect (f->router, "local", NULL, NULL);
  inner = mitogen_test_connect (
      f->router, "setns", container_options ("docker", CONTAINER), f->ctx);
  assert_inside (f, inner);
}

static void
assert_fails_with (Fixture *f, GVariant *options, const gchar *message)
{
  g_autoptr (GError) error = connect_fails (f, options);

  g_test_message ("%s", error->message);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  if (!strstr (error->message, message))
    g_error ("“%s” does not say “%s”", error->message, message);
}

static void
test_container_unknown (Fixture *f, gconstpointer data)
{
  g_autofree gchar *args = NULL;

  set_engine_answer (CONTAINER, 1);
  assert_fails_with (f, container_options ("docker", "nope"),
                     "docker knows no container “nope”: Error: No such "
                     "container: nope");
  args = engine_args ("docker");
  g_assert_cmpstr (args, ==, "inspect --format {{.State.Pid}} nope");
  assert_fails_with (f, container_options ("lxd", "nope"),
                     "lxc knows no container “nope”");
}

/* docker says 0 for a stopped container, lxc-info nothing. */
static void
test_container_stopped (Fixture *f, gconstpointer data)
{
  set_engine_answer (CONTAINER, 0);
  assert_fails_with (f, container_options ("docker", CONTAINER),
                     "docker container “" CONTAINER "” is not running");
}

static void
test_container_no_engine (Fixture *f, gconstpointer data)
{
  assert_fails_with (f,
                     g_variant_new_parsed ("{'kind': <'podman'>, "
                                           "'container': <'box'>, "
                                           "'tool-path': <'mitogen-no-such-"
                                           "engine'>}"),
                     "setns: mitogen-no-such-engine is not installed");
}

static void
test_container_bad_options (Fixture *f, gconstpointer data)
{
  assert_fails_with (f, container_options ("rkt", CONTAINER),
                     "unknown container kind “rkt”");
  assert_fails_with (f, g_variant_new_parsed ("{'container': <'box'>}"),
                     "a container needs its kind");
  assert_fails_with (f, container_options ("docker", "--help"),
                     "“--help” is not a container name");
  assert_fails_with (
      f,
      g_variant_new_parsed ("{'kind': <'docker'>, 'container': <'box'>, "
                            "'pid': <1>}"),
      "give a pid or a container, not both");
}

int
main (int argc, char **argv)
{
  g_autofree gchar *path = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  /* Before any thread: the stand-in engines first on PATH. */
  engine_dir = g_dir_make_tmp ("mitogen-setns-engines-XXXXXX", NULL);
  g_assert_nonnull (engine_dir);
  for (gsize i = 0; i < G_N_ELEMENTS (engines); i++)
    write_engine (&engines[i]);
  path = g_strdup_printf ("%s:%s", engine_dir, g_getenv ("PATH"));
  g_setenv ("PATH", path, TRUE);

  g_test_add ("/setns/enters", Fixture, NULL, setup, test_enters, teardown);
  g_test_add ("/setns/chain", Fixture, NULL, setup, test_chain, teardown);
  g_test_add ("/setns/missing-pid", Fixture, NULL, setup, test_missing_pid,
              teardown);
  g_test_add ("/setns/non-root", Fixture, NULL, setup, test_non_root, teardown);
  for (gsize i = 0; i < G_N_ELEMENTS (engines); i++)
    {
      g_autofree gchar *name
          = g_strdup_printf ("/setns/container/%s", engines[i].kind);

      g_test_add (name, Fixture, &engines[i], setup, test_container, teardown);
    }
  g_test_add ("/setns/container/chain", Fixture, NULL, setup,
              test_container_chain, teardown);
  g_test_add ("/setns/container/unknown", Fixture, NULL, setup,
              test_container_unknown, teardown);
  g_test_add ("/setns/container/stopped", Fixture, NULL, setup,
              test_container_stopped, teardown);
  g_test_add ("/setns/container/no-engine", Fixture, NULL, setup,
              test_container_no_engine, teardown);
  g_test_add ("/setns/container/bad-options", Fixture, NULL, setup,
              test_container_bad_options, teardown);
  status = g_test_run ();
  rm_rf (engine_dir);
  g_free (engine_dir);
  return status;
}
