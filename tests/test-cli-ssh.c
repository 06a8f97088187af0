/* test-cli-ssh.c: the mitogen command line against the real sshd the
 * tests start: the errors of a first connect name the flag that fixes
 * them, and run streams stdin across ssh.
 *
 * Needs what test-ssh needs (root, sshd, ssh-keygen); skips otherwise.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-test-sshd.h"
#include "mitogen-test-util.h"

#include <mitogen/mitogen.h>

#include <glib/gstdio.h>
#include <string.h>

/* The test user that logs in with its password (scripts/setup-test-env). */
#define PASSWORD_USER "mitogen-test-admin"

typedef struct
{
  MitogenTestSshd *sshd;
  gchar *stranger_key;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autofree gchar *skip = NULL;
  g_autoptr (GError) error = NULL;

  if (!mitogen_test_sshd_can_run (&skip))
    {
      g_test_skip (skip);
      return;
    }
  f->sshd = mitogen_test_sshd_start (NULL, "127.0.0.1", NULL, &error);
  g_assert_no_error (error);
  f->stranger_key = mitogen_test_sshd_add_key (f->sshd, "stranger");
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->sshd, mitogen_test_sshd_stop);
  g_free (f->stranger_key);
}

typedef struct
{
  gint status;
  gchar *out;
  gchar *err;
} CliResult;

static void
cli_result_clear (CliResult *r)
{
  g_free (r->out);
  g_free (r->err);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliResult, cli_result_clear)

/* Runs the CLI with @args after the options every run here takes, @input
 * (nullable) as its stdin, and waits for it. */
static void
run_cli (Fixture *f,
         const gchar *key,
         const gchar *known_hosts,
         const gchar *const *args,
         const gchar *input,
         CliResult *result)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *timeout = g_strdup_printf (
      "--connect-timeout=%g", mitogen_test_scaled_seconds (30));
  g_autofree gchar *key_arg = g_strconcat ("--identity-file=", key, NULL);
  g_autofree gchar *hosts_arg
      = g_strconcat ("--known-hosts=", known_hosts, NULL);

  g_strv_builder_add_many (builder, MITOGEN_CLI_PATH, timeout, key_arg,
                           hosts_arg, NULL);
  g_strv_builder_addv (builder, (const gchar **) args);
  argv = g_strv_builder_end (builder);
  proc = g_subprocess_newv ((const gchar *const *) argv,
                            G_SUBPROCESS_FLAGS_STDIN_PIPE
                                | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                            &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, input ? input : "", NULL, &result->out,
                                 &result->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  result->status = g_subprocess_get_exit_status (proc);
  g_test_message ("status %d; stdout: %s; stderr: %s", result->status,
                  result->out, result->err);
}

static gchar *
root_spec (Fixture *f)
{
  return g_strdup_printf ("ssh:root@%s:%u",
                          mitogen_test_sshd_get_address (f->sshd),
                          mitogen_test_sshd_get_port (f->sshd));
}

/* An unknown host key: refused under the default policy, with the flag
 * that accepts it named; accepted with that flag, and known after. */
static void
test_unknown_host_key (Fixture *f, gconstpointer data)
{
  g_autofree gchar *spec = NULL;
  g_autofree gchar *known_hosts = NULL;
  g_autofree gchar *dir = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (CliResult) refused = { 0 };
  g_auto (CliResult) accepted = { 0 };
  g_auto (CliResult) known = { 0 };
  gchar *contents = NULL;

  if (!f->sshd)
    return;
  spec = root_spec (f);
  dir = g_dir_make_tmp ("mitogen-test-cli-ssh-XXXXXX", &error);
  g_assert_no_error (error);
  known_hosts = g_build_filename (dir, "known_hosts", NULL);

  run_cli (f, mitogen_test_sshd_get_client_key (f->sshd), known_hosts,
           (const gchar *[]){ "run", spec, "--", "true", NULL }, NULL,
           &refused);
  g_assert_cmpint (refused.status, ==, 1);
  g_assert_nonnull (strstr (refused.err, "host key"));
  g_assert_nonnull (strstr (refused.err, "--host-key-policy=accept-new"));

  run_cli (f, mitogen_test_sshd_get_client_key (f->sshd), known_hosts,
           (const gchar *[]){ "--host-key-policy=accept-new", "run", spec, "--",
                              "true", NULL },
           NULL, &accepted);
  g_assert_cmpint (accepted.status, ==, 0);
  g_assert_true (g_file_get_contents (known_hosts, &contents, NULL, NULL));
  g_assert_cmpuint (strlen (contents), >, 0);
  g_free (contents);

  run_cli (f, mitogen_test_sshd_get_client_key (f->sshd), known_hosts,
           (const gchar *[]){ "run", spec, "--", "true", NULL }, NULL, &known);
  g_assert_cmpint (known.status, ==, 0);

  g_unlink (known_hosts);
  g_rmdir (dir);
}

/* The server wants a password and none was given: the error names
 * --ask-password. */
static void
test_password_required (Fixture *f, gconstpointer data)
{
  g_autofree gchar *spec = NULL;
  g_auto (CliResult) r = { 0 };

  if (!f->sshd)
    return;
  if (!g_spawn_command_line_sync ("id " PASSWORD_USER, NULL, NULL, NULL, NULL))
    {
      g_test_skip ("no user " PASSWORD_USER "; run scripts/setup-test-env");
      return;
    }
  spec = g_strdup_printf ("ssh:" PASSWORD_USER "@%s:%u",
                          mitogen_test_sshd_get_address (f->sshd),
                          mitogen_test_sshd_get_port (f->sshd));
  /* A key the server does not know: only a password would let us in. */
  run_cli (f, f->stranger_key, mitogen_test_sshd_get_known_hosts (f->sshd),
           (const gchar *[]){ "--host-key-policy=ignore", "run", spec, "--",
                              "true", NULL },
           NULL, &r);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "password"));
  g_assert_nonnull (strstr (r.err, "--ask-password"));
}

/* stdin crosses ssh to the command, to its end. */
static void
test_run_stdin (Fixture *f, gconstpointer data)
{
  g_autofree gchar *spec = NULL;
  g_auto (CliResult) r = { 0 };

  if (!f->sshd)
    return;
  spec = root_spec (f);
  run_cli (f, mitogen_test_sshd_get_client_key (f->sshd),
           mitogen_test_sshd_get_known_hosts (f->sshd),
           (const gchar *[]){ "--host-key-policy=ignore", "run", spec, "--",
                              "sh", "-c", "cat; echo end", NULL },
           "one\ntwo\n", &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "one\ntwo\nend\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/cli-ssh/unknown-host-key-names-accept-new", Fixture, NULL,
              setup, test_unknown_host_key, teardown);
  g_test_add ("/cli-ssh/password-required-names-ask-password", Fixture, NULL,
              setup, test_password_required, teardown);
  g_test_add ("/cli-ssh/run-stdin", Fixture, NULL, setup, test_run_stdin,
              teardown);
  return g_test_run ();
}
