/* The ssh transport against a real sshd on 127.0.0.1, started by the test
 * with its own host key, client keys and configuration in a temporary
 * directory. Needs root (sshd runs as root and logs in as root), sshd and
 * ssh-keygen; skips otherwise. The agent is run on the far side by its
 * build path, which is on the same machine. */
#include <mitogen/mitogen.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define SSHD "/usr/sbin/sshd"
#define CONNECT_TIMEOUT 20.0
/* Failures are to come at once, well inside the connect timeout. */
#define QUICK_USEC (10 * G_USEC_PER_SEC)

typedef struct {
  gboolean ok;
  gchar *dir;
  gchar *known_hosts;
  gchar *client_key;
  gchar *stranger_key;
  guint16 port;
  GSubprocess *sshd;
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *ctx;
} Fixture;

static guint16
free_port (void)
{
  g_autoptr(GSocket) sock = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                       G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (sock, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
keygen (const gchar *path)
{
  g_autoptr(GError) error = NULL;
  gint status = -1;

  g_spawn_sync (NULL,
                (gchar *[]) { "ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                              "-f", (gchar *) path, NULL },
                NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                NULL, NULL, NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
}

static gboolean
port_open (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
  return conn != NULL;
}

static void
setup (Fixture *f,
       gconstpointer data)
{
  g_autofree gchar *keygen_path = g_find_program_in_path ("ssh-keygen");
  g_autofree gchar *ssh_path = g_find_program_in_path ("ssh");
  g_autoptr(GError) error = NULL;
  g_autofree gchar *host_key = NULL, *pub = NULL, *pub_path = NULL;
  g_autofree gchar *auth = NULL, *config = NULL, *config_path = NULL;
  gint64 deadline;

  f->broker = mitogen_broker_new ();
  f->router = mitogen_router_new (f->broker);

  if (!g_file_test (SSHD, G_FILE_TEST_IS_EXECUTABLE) || !keygen_path || !ssh_path)
    {
      g_test_skip ("sshd, ssh or ssh-keygen is not installed");
      return;
    }
  if (getuid () != 0)
    {
      g_test_skip ("needs root (as in CI) to run sshd");
      return;
    }
  if (!g_getenv ("MITOGEN_AGENT"))
    {
      g_test_skip ("MITOGEN_AGENT is unset");
      return;
    }
  g_mkdir_with_parents ("/run/sshd", 0755);

  f->dir = g_dir_make_tmp ("mitogen-test-ssh-XXXXXX", &error);
  g_assert_no_error (error);
  host_key = g_build_filename (f->dir, "hostkey", NULL);
  f->client_key = g_build_filename (f->dir, "client", NULL);
  f->stranger_key = g_build_filename (f->dir, "stranger", NULL);
  f->known_hosts = g_build_filename (f->dir, "known_hosts", NULL);
  keygen (host_key);
  keygen (f->client_key);
  keygen (f->stranger_key);

  pub_path = g_strconcat (f->client_key, ".pub", NULL);
  g_file_get_contents (pub_path, &pub, NULL, &error);
  g_assert_no_error (error);
  auth = g_build_filename (f->dir, "authorized_keys", NULL);
  g_file_set_contents (auth, pub, -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (f->known_hosts, "", 0, &error);
  g_assert_no_error (error);

  f->port = free_port ();
  config = g_strdup_printf ("Port %u\n"
                            "ListenAddress 127.0.0.1\n"
                            "HostKey %s\n"
                            "AuthorizedKeysFile %s\n"
                            "PidFile %s/pid\n"
                            "StrictModes no\n"
                            "UsePAM no\n"
                            "PermitRootLogin prohibit-password\n"
                            "PasswordAuthentication no\n"
                            "KbdInteractiveAuthentication no\n",
                            f->port, host_key, auth, f->dir);
  config_path = g_build_filename (f->dir, "sshd_config", NULL);
  g_file_set_contents (config_path, config, -1, &error);
  g_assert_no_error (error);

  f->sshd = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                              G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                              SSHD, "-D", "-e", "-f", config_path, NULL);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!port_open (f->port))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (G_USEC_PER_SEC / 20);
    }
  f->ok = TRUE;
}

static void
remove_tree (const gchar *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
}

static void
teardown (Fixture *f,
          gconstpointer data)
{
  if (f->ctx)
    mitogen_context_shutdown (f->ctx, TRUE, NULL, NULL);
  mitogen_broker_shutdown (f->broker);
  mitogen_broker_join (f->broker);
  g_clear_object (&f->ctx);
  g_clear_object (&f->router);
  g_clear_object (&f->broker);
  if (f->sshd)
    {
      g_subprocess_force_exit (f->sshd);
      g_subprocess_wait (f->sshd, NULL, NULL);
      g_clear_object (&f->sshd);
    }
  if (f->dir)
    remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->known_hosts);
  g_free (f->client_key);
  g_free (f->stranger_key);
}

static GVariant *
ssh_options (Fixture *f,
             const gchar *check,
             const gchar *key,
             guint16 port)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "hostname", "s", "127.0.0.1");
  g_variant_dict_insert (&dict, "username", "s", "root");
  g_variant_dict_insert (&dict, "port", "i", (gint) port);
  g_variant_dict_insert (&dict, "identity-file", "s", key);
  g_variant_dict_insert (&dict, "check-host-keys", "s", check);
  g_variant_dict_insert (&dict, "known-hosts-file", "s", f->known_hosts);
  g_variant_dict_insert (&dict, "connect-timeout", "d", CONNECT_TIMEOUT);
  /* Not this machine's ssh configuration: only the test's. */
  g_variant_dict_insert_value (&dict, "ssh-args",
                               g_variant_new_strv ((const gchar *[]) { "-F", "/dev/null" }, 2));
  return g_variant_dict_end (&dict);
}

static void
assert_works (Fixture *f)
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
  g_assert_cmpstr (user, ==, "root");
}

/* Connects and expects a quick failure whose message has @needle. */
static void
assert_fails (Fixture *f,
              GVariant *options,
              GQuark domain,
              gint code,
              const gchar *needle)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  f->ctx = mitogen_context_connect (f->router, "ssh", options, NULL, NULL, &error);
  g_test_message ("error: %s", error ? error->message : "(none)");
  g_assert_error (error, domain, code);
  g_assert_null (f->ctx);
  g_assert_nonnull (strstr (error->message, needle));
  g_assert_cmpint (g_get_monotonic_time () - start, <, QUICK_USEC);
}

static void
test_accept_new (Fixture *f,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *known = NULL;

  if (!f->ok)
    return;
  f->ctx = mitogen_context_connect (f->router, "ssh",
                                    ssh_options (f, "accept-new", f->client_key, f->port),
                                    NULL, NULL, &error);
  g_assert_no_error (error);
  assert_works (f);

  /* The new key was recorded. */
  g_file_get_contents (f->known_hosts, &known, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (known, "ssh-ed25519"));
}

static void
test_enforce_unknown (Fixture *f,
                      gconstpointer data)
{
  if (!f->ok)
    return;
  assert_fails (f, ssh_options (f, "enforce", f->client_key, f->port),
                MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT, "host key");
}

static void
test_ignore (Fixture *f,
             gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *known = NULL;

  if (!f->ok)
    return;
  f->ctx = mitogen_context_connect (f->router, "ssh",
                                    ssh_options (f, "ignore", f->client_key, f->port),
                                    NULL, NULL, &error);
  g_assert_no_error (error);
  assert_works (f);
  /* Nothing was recorded. */
  g_file_get_contents (f->known_hosts, &known, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (known, ==, "");
}

static void
test_refused (Fixture *f,
              gconstpointer data)
{
  if (!f->ok)
    return;
  assert_fails (f, ssh_options (f, "ignore", f->client_key, free_port ()),
                MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT, "unreachable");
}

static void
test_permission_denied (Fixture *f,
                        gconstpointer data)
{
  if (!f->ok)
    return;
  assert_fails (f, ssh_options (f, "ignore", f->stranger_key, f->port),
                MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                "permission denied");
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
  return g_test_run ();
}
