/* The sudo transport against the real sudo: a context as another user, and
 * sudo's password prompt answered, refused or unanswerable. Needs the
 * users and sudoers rule that scripts/setup-test-env makes, and root. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TARGET_USER "mitogen-test"
#define ADMIN_USER "mitogen-test-admin"
#define ADMIN_PASSWORD "s3cret-pass"
/* Given where sudo never asks, to check it goes nowhere. */
#define UNUSED_PASSWORD "unused-pass-8d2f6c"
#define CONNECT_TIMEOUT (mitogen_test_scaled_seconds (20.0))

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *ctx;
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
  mitogen_test_master_stop (f->broker, f->ctx);
  g_clear_object (&f->ctx);
  mitogen_test_master_clear (&f->broker, &f->router);
}

/* Whether the agent serves a link on a terminal, as sudo's is: it prints
 * its first marker there rather than refusing. */
static gboolean
agent_accepts_tty (const gchar *agent)
{
  g_autoptr(GError) error = NULL;
  GPid pid;
  int fd, status;
  gboolean ok;

  if (!mitogen_tty_create_child ((const gchar * const []) { agent, NULL }, NULL,
                                 &pid, &fd, &error))
    return FALSE;
  ok = mitogen_parent_stream_expect_marker (
    fd, MITOGEN_BOOT_MARKER_STARTED,
    mitogen_test_deadline_at (10 * G_USEC_PER_SEC), NULL, NULL);
  close (fd);
  kill (pid, SIGKILL);
  waitpid (pid, &status, 0);
  return ok;
}

/* Skips the test, saying why, unless this machine can run it. */
static gboolean
can_run (void)
{
  g_autofree gchar *sudo = g_find_program_in_path ("sudo");
  g_autofree gchar *runuser = g_find_program_in_path ("runuser");
  const gchar *agent = g_getenv ("MITOGEN_AGENT");
  gint status = -1;

  if (!sudo)
    {
      g_test_skip ("sudo is not installed");
      return FALSE;
    }
  if (getuid () != 0)
    {
      g_test_skip ("needs root (as in CI)");
      return FALSE;
    }
  if (!getpwnam (TARGET_USER) || !getpwnam (ADMIN_USER))
    {
      g_test_skip ("users " TARGET_USER " and " ADMIN_USER " are missing: "
                   "run scripts/setup-test-env");
      return FALSE;
    }
  if (!agent || !runuser)
    {
      g_test_skip ("MITOGEN_AGENT is unset or runuser is missing");
      return FALSE;
    }
  if (!g_spawn_sync (NULL, (gchar *[]) { runuser, "-u", TARGET_USER, "--",
                                         "test", "-x", (gchar *) agent, NULL },
                     NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, NULL) ||
      !g_spawn_check_wait_status (status, NULL))
    {
      g_test_skip ("the agent is not executable by " TARGET_USER
                   " (build tree not world-readable?)");
      return FALSE;
    }
  if (!agent_accepts_tty (agent))
    {
      g_test_skip ("the agent refuses to run with a terminal on stdin, "
                   "which sudo gives it");
      return FALSE;
    }
  return TRUE;
}

static GVariant *
sudo_options (const gchar *password)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "username", "s", TARGET_USER);
  g_variant_dict_insert (&dict, "connect-timeout", "d", CONNECT_TIMEOUT);
  if (password)
    g_variant_dict_insert (&dict, "password", "s", password);
  return g_variant_dict_end (&dict);
}

static void
assert_runs_as_target (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autofree gchar *uid = NULL;
  gint status;
  struct passwd *pw = getpwnam (TARGET_USER);

  g_assert_nonnull (pw);
  result = mitogen_context_call (ctx, "core.run",
                                 g_variant_new ("(^asmaymsa{ss})",
                                                (const gchar *[]) { "id", "-u", NULL },
                                                NULL, NULL, NULL),
                                 NULL, &error);
  g_assert_no_error (error);
  g_variant_get (result, "(i@ayay)", &status, &out, NULL);
  g_assert_cmpint (status, ==, 0);
  uid = g_strstrip (g_strndup (g_variant_get_data (out), g_variant_get_size (out)));
  g_assert_cmpint (atoi (uid), ==, (gint) pw->pw_uid);
}

static void
assert_file_lacks (const gchar *path,
                   const gchar *secret)
{
  g_autofree gchar *contents = NULL;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, NULL))
    return; /* gone, or not ours to read */
  g_assert_null (memmem (contents, len, secret, strlen (secret)));
}

static void
test_as_root (Fixture *f,
              gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) user = NULL;
  g_autoptr(GVariant) user_value = NULL;
  g_autoptr(GVariant) pid = NULL;
  GPid sudo_pid = 0;

  if (!can_run ())
    return;
  f->ctx = mitogen_router_connect_context (
      f->router, "sudo", sudo_options (UNUSED_PASSWORD), NULL, NULL, &error);
  g_assert_no_error (error);
  assert_runs_as_target (f->ctx);

  user = mitogen_context_call (f->ctx, "core.getenv",
                               g_variant_new ("(s)", "USER"), NULL, &error);
  g_assert_no_error (error);
  user_value = g_variant_get_maybe (user);
  g_assert_nonnull (user_value);
  g_assert_cmpstr (g_variant_get_string (user_value, NULL), ==, TARGET_USER);

  /* The password is in no command line and no environment. */
  pid = mitogen_context_call (f->ctx, "core.getpid", NULL, NULL, &error);
  g_assert_no_error (error);
  sudo_pid = mitogen_parent_stream_get_pid (
    MITOGEN_PARENT_STREAM (mitogen_context_get_stream (f->ctx)));
  g_assert_cmpint (sudo_pid, >, 0);
  for (guint i = 0; i < 2; i++)
    {
      gint p = i == 0 ? sudo_pid : g_variant_get_int32 (pid);
      g_autofree gchar *cmdline = g_strdup_printf ("/proc/%d/cmdline", p);
      g_autofree gchar *environ_ = g_strdup_printf ("/proc/%d/environ", p);

      assert_file_lacks (cmdline, UNUSED_PASSWORD);
      assert_file_lacks (environ_, UNUSED_PASSWORD);
    }
}

static void
test_unknown_user (Fixture *f,
                   gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  GVariantDict dict;
  gint64 start = g_get_monotonic_time ();

  if (!can_run ())
    return;
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "username", "s", "mitogen-no-such-user");
  f->ctx = mitogen_router_connect_context (
      f->router, "sudo", g_variant_dict_end (&dict), NULL, NULL, &error);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "unknown user"));
  g_assert_null (f->ctx);
  g_assert_cmpint (g_get_monotonic_time () - start, <,
                   mitogen_test_scaled (10 * G_USEC_PER_SEC));
}

/* In a subprocess, becomes ADMIN_USER for good, who may sudo to
 * TARGET_USER with a password. */
static void
become_admin (void)
{
  struct passwd *pw = getpwnam (ADMIN_USER);

  g_assert_nonnull (pw);
  g_assert_cmpint (setgroups (0, NULL), ==, 0);
  g_assert_cmpint (setgid (pw->pw_gid), ==, 0);
  g_assert_cmpint (setuid (pw->pw_uid), ==, 0);
}

static void
test_right_password (Fixture *f,
                     gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  if (g_test_subprocess ())
    {
      become_admin ();
      f->ctx = mitogen_router_connect_context (
          f->router, "sudo", sudo_options (ADMIN_PASSWORD), NULL, NULL, &error);
      g_assert_no_error (error);
      assert_runs_as_target (f->ctx);
      return;
    }
  if (!can_run ())
    return;
  g_test_trap_subprocess (NULL, mitogen_test_scaled (60 * G_USEC_PER_SEC),
                          G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_wrong_password (Fixture *f,
                     gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  if (g_test_subprocess ())
    {
      gint64 start = g_get_monotonic_time ();

      become_admin ();
      f->ctx = mitogen_router_connect_context (
          f->router, "sudo", sudo_options ("not-the-password"), NULL, NULL,
          &error);
      g_test_message ("%s", error ? error->message : "(no error)");
      g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
      /* Whose password sudo asked for: the caller's, not the target's. */
      g_assert_nonnull (strstr (error->message, "incorrect password for " ADMIN_USER));
      g_assert_nonnull (strstr (error->message, "as " TARGET_USER));
      g_assert_null (strstr (error->message, "not-the-password"));
      g_assert_null (f->ctx);
      /* Refused, not timed out. */
      g_assert_cmpint (g_get_monotonic_time () - start, <,
                       CONNECT_TIMEOUT / 2 * G_USEC_PER_SEC);
      return;
    }
  if (!can_run ())
    return;
  g_test_trap_subprocess (NULL, mitogen_test_scaled (60 * G_USEC_PER_SEC),
                          G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_no_password (Fixture *f,
                  gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  if (g_test_subprocess ())
    {
      gint64 start = g_get_monotonic_time ();

      become_admin ();
      f->ctx = mitogen_router_connect_context (
          f->router, "sudo", sudo_options (NULL), NULL, NULL, &error);
      g_test_message ("%s", error ? error->message : "(no error)");
      g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
      g_assert_nonnull (strstr (error->message,
                                "sudo asked for a password but none was given"));
      g_assert_null (f->ctx);
      g_assert_cmpint (g_get_monotonic_time () - start, <,
                       CONNECT_TIMEOUT / 2 * G_USEC_PER_SEC);
      return;
    }
  if (!can_run ())
    return;
  g_test_trap_subprocess (NULL, mitogen_test_scaled (60 * G_USEC_PER_SEC),
                          G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* sudo-args Mitogen knows set options; one it does not is refused by
 * name, before sudo runs. */
static void
test_sudo_args (Fixture *f,
                gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) home = NULL;
  g_autoptr(GVariant) home_value = NULL;
  struct passwd *pw;
  g_autoptr(GVariant) options = NULL;
  GVariantDict dict;

  if (!can_run ())
    return;
  /* The dict copies what it starts from, without sinking it. */
  options = g_variant_ref_sink (sudo_options (NULL));
  g_variant_dict_init (&dict, options);
  g_variant_dict_insert (&dict, "sudo-args", "^as",
                         (const gchar *[]) { "-H", "--bogus-flag", NULL });
  f->ctx = mitogen_router_connect_context (
      f->router, "sudo", g_variant_dict_end (&dict), NULL, NULL, &error);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "--bogus-flag"));
  g_assert_null (f->ctx);
  g_clear_error (&error);

  /* -H and -u from sudo-args: HOME is the target's. */
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "connect-timeout", "d", CONNECT_TIMEOUT);
  g_variant_dict_insert (&dict, "sudo-args", "^as",
                         (const gchar *[]) { "-H", "-u", TARGET_USER, NULL });
  f->ctx = mitogen_router_connect_context (
      f->router, "sudo", g_variant_dict_end (&dict), NULL, NULL, &error);
  g_assert_no_error (error);
  assert_runs_as_target (f->ctx);
  home = mitogen_context_call (f->ctx, "core.getenv",
                               g_variant_new ("(s)", "HOME"), NULL, &error);
  g_assert_no_error (error);
  home_value = g_variant_get_maybe (home);
  g_assert_nonnull (home_value);
  pw = getpwnam (TARGET_USER);
  g_assert_nonnull (pw);
  g_assert_cmpstr (g_variant_get_string (home_value, NULL), ==, pw->pw_dir);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, setup, func, teardown)
  ADD ("/sudo/as-root", test_as_root);
  ADD ("/sudo/unknown-user", test_unknown_user);
  ADD ("/sudo/right-password", test_right_password);
  ADD ("/sudo/wrong-password", test_wrong_password);
  ADD ("/sudo/no-password", test_no_password);
  ADD ("/sudo/sudo-args", test_sudo_args);
#undef ADD

  return g_test_run ();
}
