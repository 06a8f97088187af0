/* test-engines.c: the podman, docker and lxc transports, and setns by
 * container name, against the real engines.
 *
 * scripts/setup-test-env installs what makes each engine run on this
 * machine: an image of busybox and the C library (mitogen-test-rootfs)
 * for podman, configured by tests/engines/ (vfs storage, cgroupfs, limits
 * a sandbox allows), and for docker a daemon of the tests' own on
 * /run/mitogen-test/docker.sock. LXC's busybox template needs nothing
 * more. Each engine starts one container, with no network and a hostname
 * of its own, for the whole run; an engine that cannot start one skips
 * its tests, saying what it said.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-test-util.h"

#define ENGINE_HOSTNAME "mitogen-engine-test"
#define IMAGE "mitogen-test-rootfs"
#define DOCKER_SOCKET "/run/mitogen-test/docker.sock"

typedef struct
{
  const gchar *kind; /* the setns kind and the exec transport */
  const gchar *init; /* the start of the container's /proc/1/cmdline */
  gchar *container;  /* the one started for the run */
  gchar *skip;       /* why the engine cannot run here, if it cannot */
  gboolean started;
} Engine;

static Engine engines[] = {
  { "podman", "/bin/sleep" },
  { "docker", "/bin/sleep" },
  { "lxc", "init" },
};

typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *ctx;
} Fixture;

/* Runs @argv; on failure, says what it printed in *@why. */
static gboolean
run (const gchar *const *argv, gchar **why)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = NULL;
  gint status;

  if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                     NULL, &out, why, &status, &error))
    {
      *why = g_strdup (error->message);
      return FALSE;
    }
  if (g_spawn_check_wait_status (status, NULL))
    {
      g_clear_pointer (why, g_free);
      return TRUE;
    }
  if (!*why || !**why)
    {
      g_free (*why);
      *why = g_strdup_printf ("%s failed (%s)", argv[0], out ? out : "");
    }
  g_strchomp (*why);
  return FALSE;
}

static gboolean
start_engine (Engine *e)
{
  gchar *why = NULL;

  if (g_str_equal (e->kind, "lxc"))
    {
      const gchar *create[]
          = { "lxc-create", "-t", "busybox", "-n", e->container, NULL };
      const gchar *start[] = { "lxc-start",
                               "-n",
                               e->container,
                               "-s",
                               "lxc.net.0.type=empty",
                               "-s",
                               "lxc.uts.name=" ENGINE_HOSTNAME,
                               NULL };

      g_autofree gchar *path = g_find_program_in_path ("lxc-create");

      if (!path)
        why = g_strdup ("lxc is not installed: run scripts/install-deps");
      else if (run (create, &why))
        {
          e->started = TRUE;
          run (start, &why);
        }
    }
  else
    {
      const gchar *argv[] = {
        e->kind,      "run",           "-d",        "--name", e->container,
        "--hostname", ENGINE_HOSTNAME, "--network", "none",   IMAGE,
        "/bin/sleep", "2147483647",    NULL
      };
      g_autofree gchar *path = g_find_program_in_path (e->kind);

      if (!path)
        why = g_strdup_printf ("%s is not installed: run scripts/install-deps",
                               e->kind);
      else
        {
          e->started = TRUE;
          run (argv, &why);
        }
    }
  if (why)
    e->skip = g_strdup_printf ("%s cannot run a container here "
                               "(scripts/setup-test-env sets it up): %s",
                               e->kind, why);
  g_free (why);
  return !e->skip;
}

static void
stop_engine (Engine *e)
{
  gchar *why = NULL;

  if (!e->started)
    return;
  if (g_str_equal (e->kind, "lxc"))
    {
      const gchar *argv[] = { "lxc-destroy", "-f", "-n", e->container, NULL };
      run (argv, &why);
    }
  else
    {
      /* podman would first give sleep, as pid 1 deaf to SIGTERM, ten
       * seconds to stop; docker rm -f kills at once. */
      gboolean podman = g_str_equal (e->kind, "podman");
      const gchar *argv[] = { e->kind,
                              "rm",
                              "-f",
                              podman ? "-t" : e->container,
                              podman ? "0" : NULL,
                              e->container,
                              NULL };
      run (argv, &why);
    }
  if (why)
    g_printerr ("could not remove %s container %s: %s\n", e->kind, e->container,
                why);
  g_free (why);
}

static void
setup (Fixture *f, gconstpointer data)
{
  mitogen_test_master_new (&f->broker, &f->router);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  mitogen_test_master_stop (f->broker, f->ctx);
  g_clear_object (&f->ctx);
  mitogen_test_master_clear (&f->broker, &f->router);
}

static gboolean
engine_runs (const Engine *e)
{
  if (e->skip)
    g_test_skip (e->skip);
  return !e->skip;
}

/* The agent runs in the container: its hostname, its init. */
static void
assert_inside (const Engine *e, MitogenContext *ctx)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) host
      = mitogen_context_call (ctx, "core.hostname", NULL, NULL, &error);
  g_autofree gchar *init = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (host, NULL), ==, ENGINE_HOSTNAME);
  init = mitogen_test_read_remote (ctx, "/proc/1/cmdline");
  g_assert_true (g_str_has_prefix (init, e->init));
}

static GVariant *
exec_options (const gchar *container)
{
  return g_variant_new_parsed ("{'container': <%s>}", container);
}

static GVariant *
setns_options (const Engine *e, const gchar *container)
{
  return g_variant_new_parsed ("{'kind': <%s>, 'container': <%s>}", e->kind,
                               container);
}

/* The tool's exec command, the agent uploaded over its pipe. */
static void
test_exec (Fixture *f, gconstpointer data)
{
  const Engine *e = data;

  if (!engine_runs (e))
    return;
  f->ctx = mitogen_test_connect (f->router, e->kind,
                                 exec_options (e->container), NULL);
  assert_inside (e, f->ctx);
}

/* setns:KIND:CONTAINER: the engine gives the pid; no tool in the path. */
static void
test_setns (Fixture *f, gconstpointer data)
{
  const Engine *e = data;

  if (!engine_runs (e))
    return;
  f->ctx = mitogen_test_connect (f->router, "setns",
                                 setns_options (e, e->container), NULL);
  assert_inside (e, f->ctx);
}

/* Both say which container the engine does not know. */
static void
test_unknown (Fixture *f, gconstpointer data)
{
  const Engine *e = data;
  const gchar *missing = "mitogen-no-such-container";
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenContext) ctx = NULL;

  if (!engine_runs (e))
    return;
  ctx = mitogen_router_connect_context (
      f->router, "setns",
      mitogen_test_connect_options (setns_options (e, missing)), NULL, NULL,
      &error);
  g_assert_null (ctx);
  g_test_message ("setns: %s", error->message);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "knows no container"));
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  ctx = mitogen_router_connect_context (
      f->router, e->kind, mitogen_test_connect_options (exec_options (missing)),
      NULL, NULL, &error);
  g_assert_null (ctx);
  g_test_message ("%s: %s", e->kind, error->message);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, missing));
}

int
main (int argc, char **argv)
{
  g_autofree gchar *conf = NULL;
  g_autofree gchar *storage = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  /* Before any thread: what setup-test-env configured the engines with. */
  conf
      = g_test_build_filename (G_TEST_DIST, "engines", "containers.conf", NULL);
  storage
      = g_test_build_filename (G_TEST_DIST, "engines", "storage.conf", NULL);
  g_setenv ("CONTAINERS_CONF", conf, TRUE);
  g_setenv ("CONTAINERS_STORAGE_CONF", storage, TRUE);
  if (!g_getenv ("DOCKER_HOST") && access (DOCKER_SOCKET, F_OK) == 0)
    g_setenv ("DOCKER_HOST", "unix://" DOCKER_SOCKET, TRUE);

  for (gsize i = 0; i < G_N_ELEMENTS (engines); i++)
    {
      Engine *e = &engines[i];
      g_autofree gchar *exec = g_strdup_printf ("/engines/%s/exec", e->kind);
      g_autofree gchar *setns = g_strdup_printf ("/engines/%s/setns", e->kind);
      g_autofree gchar *unknown
          = g_strdup_printf ("/engines/%s/unknown", e->kind);

      e->container = g_strdup_printf ("mitogen-test-%d", (int) getpid ());
      if (!start_engine (e))
        g_test_message ("%s", e->skip);
      g_test_add (exec, Fixture, e, setup, test_exec, teardown);
      g_test_add (setns, Fixture, e, setup, test_setns, teardown);
      g_test_add (unknown, Fixture, e, setup, test_unknown, teardown);
    }
  status = g_test_run ();
  for (gsize i = 0; i < G_N_ELEMENTS (engines); i++)
    {
      stop_engine (&engines[i]);
      g_free (engines[i].container);
      g_free (engines[i].skip);
    }
  return status;
}
