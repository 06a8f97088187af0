/* The ssh transport against a real sshd on 127.0.0.1 (MitogenTestSshd),
 * started by the test with its own host key, client keys and
 * configuration in a temporary directory. Needs root (sshd runs as root
 * and logs in as root), sshd and ssh-keygen; skips otherwise. The agent
 * is run on the far side by its build path, which is on the same
 * machine. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mitogen-test-sshd.h"

/* Failures are to come at once, well inside the connect timeout. */
/* A failure is to come from its cause, before the connect timeout (the
 * library's default, which these connects keep) would end the attempt:
 * how much sooner depends on the machine's load, so that is all a test
 * can assert. */
#define QUICK_USEC ((gint64) (MITOGEN_CONNECT_TIMEOUT * G_USEC_PER_SEC))
/* What the hanging server test allows ssh, and what it allows beyond. */
#define SHORT_TIMEOUT 2.0
#define TIMEOUT_SLACK_USEC (mitogen_test_scaled (8 * G_USEC_PER_SEC))

/* The user with a password that scripts/setup-test-env makes. */
#define PASSWORD_USER "mitogen-test-admin"
#define PASSWORD "s3cret-pass"

typedef struct {
  MitogenTestSshd *sshd;
  gchar *stranger_key;
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *ctx;
} Fixture;

static void
setup (Fixture *f,
       gconstpointer data)
{
  g_autofree gchar *skip = NULL;
  g_autoptr(GError) error = NULL;

  mitogen_test_master_new (&f->broker, &f->router);

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
teardown (Fixture *f,
          gconstpointer data)
{
  mitogen_test_master_stop (f->broker, f->ctx);
  g_clear_object (&f->ctx);
  mitogen_test_master_clear (&f->broker, &f->router);
  g_clear_pointer (&f->sshd, mitogen_test_sshd_stop);
  g_free (f->stranger_key);
}

/* The fixture's options for root, with @key and @port in place of the
 * sshd's own when given. */
static GVariant *
ssh_options (Fixture *f,
             const gchar *check,
             const gchar *key,
             guint16 port)
{
  g_autoptr(GVariant) base =
    g_variant_ref_sink (mitogen_test_sshd_options (f->sshd, "root", check));
  GVariantDict dict;

  g_variant_dict_init (&dict, base);
  if (key)
    g_variant_dict_insert (&dict, "identity-file", "s", key);
  if (port)
    g_variant_dict_insert (&dict, "port", "i", (gint) port);
  return g_variant_dict_end (&dict);
}

/* Options that log in as the password user by password alone: the key
 * offered is one sshd does not know. */
static GVariant *
password_options (Fixture *f,
                  const gchar *password)
{
  g_autoptr(GVariant) base =
    g_variant_ref_sink (ssh_options (f, "ignore", f->stranger_key, 0));
  GVariantDict dict;

  g_variant_dict_init (&dict, base);
  g_variant_dict_insert (&dict, "username", "s", PASSWORD_USER);
  g_variant_dict_insert (&dict, "password", "s", password);
  return g_variant_dict_end (&dict);
}

static gboolean
user_exists (const gchar *name)
{
  gint status = -1;

  return g_spawn_sync (NULL, (gchar *[]) { "id", (gchar *) name, NULL }, NULL,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                         G_SPAWN_STDERR_TO_DEV_NULL,
                       NULL, NULL, NULL, NULL, &status, NULL) &&
         g_spawn_check_wait_status (status, NULL);
}

static void
assert_user (Fixture *f,
             const gchar *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pid = NULL, result = NULL, out = NULL;
  g_autofree gchar *user = NULL;
  gint status;

  pid = mitogen_context_call (f->ctx, "core.getpid", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (pid), >, 0);
  g_assert_cmpint (g_variant_get_int32 (pid), !=, getpid ());

  result = mitogen_context_call (f->ctx, "core.run",
                                 g_variant_new ("(^asmaymsa{ss})",
                                                (const gchar *[]) { "id", "-un", NULL },
                                                NULL, NULL, NULL),
                                 NULL, &error);
  g_assert_no_error (error);
  g_variant_get (result, "(i@ayay)", &status, &out, NULL);
  g_assert_cmpint (status, ==, 0);
  user = g_strstrip (g_strndup (g_variant_get_data (out), g_variant_get_size (out)));
  g_assert_cmpstr (user, ==, expected);
}

static void
assert_works (Fixture *f)
{
  assert_user (f, "root");
}

/* Connects and expects a failure within @within whose message has
 * @needle, in any case. */
static void
assert_fails_within (Fixture *f,
                     GVariant *options,
                     GQuark domain,
                     gint code,
                     const gchar *needle,
                     gint64 within)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  f->ctx = mitogen_router_connect_context (f->router, "ssh", options, NULL,
                                           NULL, &error);
  g_test_message ("error: %s", error ? error->message : "(none)");
  g_assert_error (error, domain, code);
  g_assert_null (f->ctx);
  g_assert_nonnull (strcasestr (error->message, needle));
  g_assert_cmpint (g_get_monotonic_time () - start, <, within);
}

static void
assert_fails (Fixture *f,
              GVariant *options,
              GQuark domain,
              gint code,
              const gchar *needle)
{
  assert_fails_within (f, options, domain, code, needle, QUICK_USEC);
}

static void
test_accept_new (Fixture *f,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *known = NULL;

  if (!f->sshd)
    return;
  f->ctx = mitogen_router_connect_context (
      f->router, "ssh", ssh_options (f, "accept-new", NULL, 0), NULL, NULL,
      &error);
  g_assert_no_error (error);
  assert_works (f);

  /* The new key was recorded. */
  g_file_get_contents (mitogen_test_sshd_get_known_hosts (f->sshd), &known,
                       NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (known, "ssh-ed25519"));
}

static void
test_enforce_unknown (Fixture *f,
                      gconstpointer data)
{
  if (!f->sshd)
    return;
  assert_fails (f, ssh_options (f, "enforce", NULL, 0),
                MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT, "host key");
}

static void
test_ignore (Fixture *f,
             gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *known = NULL;

  if (!f->sshd)
    return;
  f->ctx = mitogen_router_connect_context (
      f->router, "ssh", ssh_options (f, "ignore", NULL, 0), NULL, NULL, &error);
  g_assert_no_error (error);
  assert_works (f);
  /* Nothing was recorded. */
  g_file_get_contents (mitogen_test_sshd_get_known_hosts (f->sshd), &known,
                       NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (known, ==, "");
}

/* The wrong port: nothing listens there. */
static void
test_refused (Fixture *f,
              gconstpointer data)
{
  if (!f->sshd)
    return;
  assert_fails (f, ssh_options (f, "ignore", NULL,
                                mitogen_test_sshd_free_port (NULL, "127.0.0.1")),
                MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT, "unreachable");
}

static void
test_permission_denied (Fixture *f,
                        gconstpointer data)
{
  if (!f->sshd)
    return;
  assert_fails (f, ssh_options (f, "ignore", f->stranger_key, 0),
                MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                "permission denied");
}

static void
test_password (Fixture *f,
               gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  if (!f->sshd)
    return;
  if (!user_exists (PASSWORD_USER))
    {
      g_test_skip ("no user " PASSWORD_USER "; run scripts/setup-test-env");
      return;
    }
  f->ctx = mitogen_router_connect_context (
      f->router, "ssh", password_options (f, PASSWORD), NULL, NULL, &error);
  g_assert_no_error (error);
  assert_user (f, PASSWORD_USER);
}

static void
test_wrong_password (Fixture *f,
                     gconstpointer data)
{
  if (!f->sshd)
    return;
  if (!user_exists (PASSWORD_USER))
    {
      g_test_skip ("no user " PASSWORD_USER "; run scripts/setup-test-env");
      return;
    }
  assert_fails (f, password_options (f, "not-the-password"),
                MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                "permission denied");
}

/* The server takes passwords and none was given: the error says one is
 * needed and how to give it, not only "permission denied". */
static void
test_password_required (Fixture *f,
                        gconstpointer data)
{
  g_autoptr(GVariant) base = NULL;
  GVariantDict dict;

  if (!f->sshd)
    return;
  if (!user_exists (PASSWORD_USER))
    {
      g_test_skip ("no user " PASSWORD_USER "; run scripts/setup-test-env");
      return;
    }
  base = g_variant_ref_sink (password_options (f, PASSWORD));
  g_variant_dict_init (&dict, base);
  g_variant_dict_remove (&dict, "password");
  assert_fails (f, g_variant_dict_end (&dict), MITOGEN_STREAM_ERROR,
                MITOGEN_STREAM_ERROR_CONNECT, "a password is required");
}

/* Newer OpenSSH says "user@host: permission denied (…)" in lower case.
 * The ssh here does not, so a stand-in script plays it: the message is
 * what is under test, not ssh. */
static void
test_permission_denied_lower_case (Fixture *f,
                                   gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("mitogen-test-ssh-XXXXXX", &error);
  g_autofree gchar *script = NULL;
  GVariantDict dict;

  g_assert_no_error (error);
  script = g_build_filename (dir, "ssh", NULL);
  g_assert_true (g_file_set_contents (
    script,
    "#!/bin/sh\necho 'root@example.invalid: permission denied (publickey).' >&2\n"
    "exit 255\n",
    -1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (script, 0755), ==, 0);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "hostname", "s", "example.invalid");
  g_variant_dict_insert (&dict, "ssh-path", "s", script);
  g_variant_dict_insert (&dict, "upload-agent", "b", FALSE);
  assert_fails (f, g_variant_dict_end (&dict), MITOGEN_STREAM_ERROR,
                MITOGEN_STREAM_ERROR_CONNECT, "ssh: permission denied logging in");
  g_unlink (script);
  g_rmdir (dir);
}

/* Compression, keepalives, identities-only, the debug level and extra
 * arguments reach the real ssh's command line, and it logs in with them. */
static void
test_options (Fixture *f,
              gconstpointer data)
{
  g_autoptr(GVariant) base = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *path = NULL;
  g_autofree gchar *cmdline = NULL;
  gsize len;
  GVariantDict dict;
  static const gchar *const expected[] = {
    "Compression=yes", "ServerAliveInterval=7", "ServerAliveCountMax=4",
    "LogLevel=DEBUG1", "IdentitiesOnly=yes", "ConnectionAttempts=2", NULL,
  };

  if (!f->sshd)
    return;
  base = g_variant_ref_sink (ssh_options (f, "ignore", NULL, 0));
  g_variant_dict_init (&dict, base);
  g_variant_dict_insert (&dict, "compression", "b", TRUE);
  g_variant_dict_insert (&dict, "keepalive-interval", "i", 7);
  g_variant_dict_insert (&dict, "keepalive-count", "i", 4);
  g_variant_dict_insert (&dict, "ssh-debug-level", "i", 1);
  g_variant_dict_insert (&dict, "ssh-args", "^as",
                         (const gchar *[]) { "-o", "ConnectionAttempts=2", NULL });
  f->ctx = mitogen_router_connect_context (f->router, "ssh", g_variant_dict_end (&dict),
                                           NULL, NULL, &error);
  g_assert_no_error (error);
  assert_works (f);
  path = g_strdup_printf ("/proc/%d/cmdline",
                          mitogen_parent_stream_get_pid (MITOGEN_PARENT_STREAM (
                            mitogen_context_get_stream (f->ctx))));
  g_assert_true (g_file_get_contents (path, &cmdline, &len, NULL));
  for (guint i = 0; expected[i]; i++)
    {
      gboolean found = FALSE;

      for (gsize at = 0; at < len; at += strlen (cmdline + at) + 1)
        found = found || g_str_equal (cmdline + at, expected[i]);
      g_assert_true (found);
    }
}

/* A server that completes TCP's handshake (the kernel does, for a
 * listening socket) but never says a word: ssh waits for its banner until
 * the connect timeout. */
static void
test_connect_timeout (Fixture *f,
                      gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) mute = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GVariant) base = NULL;
  GVariantDict dict;

  if (!f->sshd)
    return;
  mute = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                       G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (mute, any, FALSE, &error);
  g_assert_no_error (error);
  g_socket_listen (mute, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (mute, &error);
  g_assert_no_error (error);

  base = g_variant_ref_sink (
    ssh_options (f, "ignore", NULL,
                 g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound))));
  g_variant_dict_init (&dict, base);
  g_variant_dict_insert (&dict, "connect-timeout", "d", SHORT_TIMEOUT);
  assert_fails_within (f, g_variant_dict_end (&dict),
                       MITOGEN_TIMEOUT_ERROR, MITOGEN_TIMEOUT_ERROR_TIMED_OUT,
                       "timed out",
                       (gint64) (SHORT_TIMEOUT * G_USEC_PER_SEC) +
                         TIMEOUT_SLACK_USEC);
}

int
main (int argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/ssh/accept-new", test_accept_new);
  ADD ("/ssh/enforce-unknown-host-key", test_enforce_unknown);
  ADD ("/ssh/ignore", test_ignore);
  ADD ("/ssh/refused", test_refused);
  ADD ("/ssh/permission-denied", test_permission_denied);
  ADD ("/ssh/password", test_password);
  ADD ("/ssh/wrong-password", test_wrong_password);
  ADD ("/ssh/connect-timeout", test_connect_timeout);
  ADD ("/ssh/password-required", test_password_required);
  ADD ("/ssh/options", test_options);
  ADD ("/ssh/permission-denied-lower-case", test_permission_denied_lower_case);
  return g_test_run ();
}
