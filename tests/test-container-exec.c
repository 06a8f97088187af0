/* test-container-exec.c: the container exec transports (docker, podman,
 * buildah, lxc, lxd, incus, kubectl, jail).
 *
 * Each tool is a stand-in that this test puts first on PATH, so that
 * every transport is tested here, with or without its engine (podman,
 * docker and lxc run for real in test-engines.c; buildah, lxd, incus,
 * kubectl and jail have no engine that runs on the test machine):
 * a shell script that logs the command line the transport built, then
 * runs its trailing `/bin/sh -c FIRST-STAGE` on this host as the real
 * tool would in the container, or for the container names `missing`,
 * `stopped` and `broken` says what the real tools say and fails. What is
 * tested is thus the exact command line, the zero-install bootstrap over
 * the tool's pipe, and each error a transport reports; not the engines.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <glib/gstdio.h>
#include <mitogen/mitogen.h>
#include <string.h>

#include "mitogen-test-util.h"

static gchar *standin_dir;

typedef struct
{
  const gchar *transport;
  const gchar *tool;
  const gchar *expected; /* the tool's arguments before /bin/sh -c */
} Form;

static const Form forms[] = {
  { "docker", "docker", "exec -i box" },
  { "podman", "podman", "exec -i box" },
  { "buildah", "buildah", "run box --" },
  { "lxc", "lxc-attach", "--clear-env -n box --" },
  { "lxd", "lxc", "exec --mode=non-interactive box --" },
  { "incus", "incus", "exec --mode=non-interactive box --" },
  { "kubectl", "kubectl", "exec -i box --" },
  { "jail", "jexec", "box" },
};

/* Logs "ARGS…" up to /bin/sh to $0.log, one line a run. */
static const gchar standin_script[]
    = "#!/bin/sh\n"
      "log=\"$0.log\"; args=\n"
      "while [ $# -gt 0 ] && [ \"$1\" != /bin/sh ]; do\n"
      "  args=\"$args${args:+ }$1\"; shift\n"
      "done\n"
      "echo \"$args\" >>\"$log\"\n"
      "case \" $args \" in\n"
      "  *' missing '*) echo 'Error: no such container: missing' >&2; exit "
      "1;;\n"
      "  *' stopped '*) echo 'Error: container stopped is not running' >&2; "
      "exit 1;;\n"
      "  *' broken '*) exit 3;;\n"
      "esac\n"
      "exec \"$@\"\n";

static void
write_standins (void)
{
  g_autoptr (GError) error = NULL;

  standin_dir = g_dir_make_tmp ("mitogen-standin-XXXXXX", &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      g_autofree gchar *path
          = g_build_filename (standin_dir, forms[i].tool, NULL);

      g_file_set_contents (path, standin_script, -1, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_chmod (path, 0755), ==, 0);
    }
}

static void
remove_standins (void)
{
  g_autoptr (GDir) dir = g_dir_open (standin_dir, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree gchar *path = g_build_filename (standin_dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (standin_dir);
  g_clear_pointer (&standin_dir, g_free);
}

static gchar *
last_logged (const Form *form)
{
  g_autofree gchar *path
      = g_strdup_printf ("%s/%s.log", standin_dir, form->tool);
  g_autofree gchar *text = NULL;
  gchar **lines;
  gchar *last;
  guint n;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_strchomp (text);
  lines = g_strsplit (text, "\n", -1);
  n = g_strv_length (lines);
  last = g_strdup (lines[n - 1]);
  g_strfreev (lines);
  return last;
}

static GVariant *
options (const gchar *container)
{
  return g_variant_new_parsed ("{'container': <%s>}", container);
}

static void
test_reaches (gconstpointer data)
{
  const Form *form = data;
  MitogenBroker *broker;
  MitogenRouter *router;
  g_autoptr (MitogenContext) ctx = NULL;
  g_autoptr (MitogenContext) inner = NULL;
  g_autofree gchar *logged = NULL;

  mitogen_test_master_new (&broker, &router);
  ctx = mitogen_test_connect (router, form->transport, options ("box"), NULL);
  g_assert_cmpint (mitogen_test_getpid (ctx), >, 0);
  logged = last_logged (form);
  g_assert_cmpstr (logged, ==, form->expected);
  /* A hop of a chain, the bundle passed on from the first. */
  inner = mitogen_test_connect (router, form->transport, options ("box"), ctx);
  g_assert_cmpint (mitogen_test_getpid (inner), >, 0);
  mitogen_test_master_stop (broker, ctx);
  mitogen_test_master_clear (&broker, &router);
}

static GError *
connect_fails (const Form *form, GVariant *opts)
{
  MitogenBroker *broker;
  MitogenRouter *router;
  GError *error = NULL;
  g_autoptr (MitogenContext) ctx = NULL;

  mitogen_test_master_new (&broker, &router);
  ctx = mitogen_router_connect_context (router, form->transport,
                                        mitogen_test_connect_options (opts),
                                        NULL, NULL, &error);
  g_assert_null (ctx);
  g_assert_nonnull (error);
  mitogen_test_master_stop (broker, NULL);
  mitogen_test_master_clear (&broker, &router);
  return error;
}

static void
assert_fails_with (const Form *form, GVariant *opts, const gchar *text)
{
  g_autoptr (GError) error = connect_fails (form, opts);

  g_test_message ("%s: %s", form->transport, error->message);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, text));
}

static void
test_errors (gconstpointer data)
{
  const Form *form = data;
  g_autoptr (GError) error = NULL;

  assert_fails_with (form, options ("missing"), "“missing” not found");
  assert_fails_with (form, options ("stopped"), "is not running");
  assert_fails_with (form, NULL, "no container given");
  assert_fails_with (form, options ("-rm"), "invalid container name");
  /* The tool's exit status, when it said nothing we know. */
  error = connect_fails (form, options ("broken"));
  g_assert_nonnull (strstr (error->message, "status 3"));
  g_clear_error (&error);
  /* No such tool. */
  error = connect_fails (
      form, g_variant_new_parsed ("{'container': <'box'>, 'tool-path': "
                                  "<'/nonexistent/tool'>}"));
  g_assert_nonnull (strstr (error->message, "/nonexistent/tool"));
}

/* The tools that cannot choose a user refuse one; the others pass it. */
static void
test_username (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      GVariant *opts = g_variant_new_parsed (
          "{'container': <'missing'>, 'username': <'nobody'>}");
      g_autoptr (GError) error = connect_fails (&forms[i], opts);
      g_autofree gchar *logged = NULL;

      if (strstr (error->message, "a username cannot be given"))
        continue;
      logged = last_logged (&forms[i]);
      g_assert_nonnull (strstr (logged, "nobody"));
    }
}

int
main (int argc, char **argv)
{
  g_autofree gchar *path = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  /* Before any thread: the stand-ins come first on PATH. */
  write_standins ();
  path = g_strdup_printf ("%s:%s", standin_dir, g_getenv ("PATH"));
  g_setenv ("PATH", path, TRUE);
  for (gsize i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      g_autofree gchar *reaches
          = g_strdup_printf ("/container-exec/%s/reaches", forms[i].transport);
      g_autofree gchar *errors
          = g_strdup_printf ("/container-exec/%s/errors", forms[i].transport);

      g_test_add_data_func (reaches, &forms[i], test_reaches);
      g_test_add_data_func (errors, &forms[i], test_errors);
    }
  g_test_add_func ("/container-exec/username", test_username);
  status = g_test_run ();
  remove_standins ();
  return status;
}
