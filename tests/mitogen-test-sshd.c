/* mitogen-test-sshd.c: a real sshd for the tests and benchmarks
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-test-sshd.h"
#include "mitogen-test-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/**
 * MitogenTestSshd:
 *
 * An sshd started for a test, in the current network namespace or in a
 * named one (`ip netns exec`), with its own host key, a client key that
 * may log in as root or as any test user, an empty known hosts file and
 * its configuration, all in a temporary directory that stop removes.
 *
 * Needs root: sshd must run as root to log users in. The far side is this
 * machine, so an agent run by path rather than uploaded is found at its
 * build path.
 */
struct _MitogenTestSshd {
  gchar *netns;
  gchar *address;
  guint16 port;
  gchar *dir;
  gchar *client_key;
  gchar *known_hosts;
  gchar *log;
  GSubprocess *sshd;
  /* Removes the directory once its stdin closes: at stop, or when the
   * test dies halfway and never calls stop. */
  GSubprocess *janitor;
};

#define SSHD "/usr/sbin/sshd"
/* How long a test waits for its sshd to accept; it takes milliseconds. */
#define READY_USEC (mitogen_test_scaled (10 * G_USEC_PER_SEC))
/* Enough for a hop that runs ssh itself; failures the tests expect come
 * at once. */
#define CONNECT_TIMEOUT (mitogen_test_scaled_seconds (20.0))

/**
 * mitogen_test_sshd_can_run:
 * @skip_reason: (out) (optional): why not, for g_test_skip()
 *
 * Returns: whether an sshd can be started here: root, with sshd, ssh and
 *   ssh-keygen installed and an agent to run
 */
gboolean
mitogen_test_sshd_can_run (gchar **skip_reason)
{
  g_autofree gchar *keygen = g_find_program_in_path ("ssh-keygen");
  g_autofree gchar *ssh = g_find_program_in_path ("ssh");
  const gchar *why = NULL;

  if (!g_file_test (SSHD, G_FILE_TEST_IS_EXECUTABLE) || !keygen || !ssh)
    why = "sshd, ssh or ssh-keygen is not installed";
  else if (getuid () != 0)
    why = "needs root (as in CI) to run sshd";
  else if (!g_getenv ("MITOGEN_AGENT"))
    why = "MITOGEN_AGENT is unset";
  if (why && skip_reason)
    *skip_reason = g_strdup (why);
  return why == NULL;
}

typedef struct {
  const gchar *netns;
  GThreadFunc func;
  gpointer data;
  gpointer result;
  int setns_errno;
} NetnsCall;

static gpointer
netns_thread (gpointer data)
{
  NetnsCall *c = data;

  /* The network namespace belongs to a thread, not the process, so only
   * this short-lived thread moves. */
  if (c->netns)
    {
      g_autofree gchar *path = g_build_filename ("/run/netns", c->netns, NULL);
      int fd = open (path, O_RDONLY | O_CLOEXEC);

      if (fd < 0 || setns (fd, CLONE_NEWNET) < 0)
        {
          c->setns_errno = errno;
          if (fd >= 0)
            close (fd);
          return NULL;
        }
      close (fd);
    }
  c->result = c->func (c->data);
  return NULL;
}

/**
 * mitogen_test_sshd_run_in_netns:
 * @netns: (nullable): a namespace made by `ip netns add`, or %NULL for
 *   the current one
 * @func: what to run there
 * @data: its argument
 * @result: (out) (optional): what it returned
 * @error: return location for an error
 *
 * Runs @func on a thread of its own inside @netns, and waits for it.
 *
 * Returns: %FALSE if the namespace could not be entered
 */
gboolean
mitogen_test_sshd_run_in_netns (const gchar *netns,
                                GThreadFunc func,
                                gpointer data,
                                gpointer *result,
                                GError **error)
{
  NetnsCall c = { netns, func, data, NULL, 0 };

  g_thread_join (g_thread_new ("netns", netns_thread, &c));
  if (c.setns_errno)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (c.setns_errno),
                   "Cannot enter network namespace %s: %s", netns,
                   g_strerror (c.setns_errno));
      return FALSE;
    }
  if (result)
    *result = c.result;
  return TRUE;
}

typedef struct {
  const gchar *address;
  guint16 port;
} Endpoint;

static gboolean
endpoint_sockaddr (const Endpoint *e,
                   struct sockaddr_in *sin)
{
  memset (sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  sin->sin_port = htons (e->port);
  return inet_pton (AF_INET, e->address, &sin->sin_addr) == 1;
}

static gpointer
bind_any_port (gpointer data)
{
  Endpoint *e = data;
  struct sockaddr_in sin;
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint port = 0;

  if (fd >= 0 && endpoint_sockaddr (e, &sin) &&
      bind (fd, (struct sockaddr *) &sin, sizeof sin) == 0 &&
      getsockname (fd, (struct sockaddr *) &sin, &len) == 0)
    port = ntohs (sin.sin_port);
  if (fd >= 0)
    close (fd);
  return GUINT_TO_POINTER (port);
}

/**
 * mitogen_test_sshd_free_port:
 * @netns: (nullable): the namespace, or %NULL for the current one
 * @address: an IPv4 address of that namespace
 *
 * Returns: a TCP port nothing listens on at @address just now, or 0
 */
guint16
mitogen_test_sshd_free_port (const gchar *netns,
                             const gchar *address)
{
  Endpoint e = { address, 0 };
  gpointer port = NULL;

  if (!mitogen_test_sshd_run_in_netns (netns, bind_any_port, &e, &port, NULL))
    return 0;
  return (guint16) GPOINTER_TO_UINT (port);
}

static gboolean
wait_fd (int fd,
         short events,
         int timeout_ms)
{
  struct pollfd p = { fd, events, 0 };
  int r;

  do
    r = poll (&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  return r > 0;
}

/* Whether sshd accepts a connection and greets it: listening alone is not
 * enough, the greeting means the server is past its start-up. */
static gpointer
says_hello (gpointer data)
{
  Endpoint *e = data;
  struct sockaddr_in sin;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  gboolean ok = FALSE;
  gchar banner[4];
  gsize got = 0;
  int soerr = 0;
  socklen_t len = sizeof soerr;

  if (fd < 0 || !endpoint_sockaddr (e, &sin))
    goto out;
  if (connect (fd, (struct sockaddr *) &sin, sizeof sin) < 0 &&
      errno != EINPROGRESS)
    goto out;
  if (!wait_fd (fd, POLLOUT, 1000) ||
      getsockopt (fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr)
    goto out;
  while (got < sizeof banner && wait_fd (fd, POLLIN, 2000))
    {
      gssize n = read (fd, banner + got, sizeof banner - got);

      if (n <= 0)
        break;
      got += (gsize) n;
    }
  ok = got == sizeof banner && memcmp (banner, "SSH-", 4) == 0;
out:
  if (fd >= 0)
    close (fd);
  return GINT_TO_POINTER (ok);
}

static gboolean
keygen (const gchar *path,
        GError **error)
{
  gint status = -1;

  return g_spawn_sync (NULL,
                       (gchar *[]) { "ssh-keygen", "-q", "-t", "ed25519",
                                     "-N", "", "-C", "mitogen-test",
                                     "-f", (gchar *) path, NULL },
                       NULL,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                       NULL, NULL, NULL, NULL, &status, error) &&
         g_spawn_check_wait_status (status, error);
}

/* Dies with the test, even one that aborts: an sshd left behind would
 * hold its port and its namespace. Only its listener: the sessions under
 * it end when their clients, the test's children, go. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
wait_ready (MitogenTestSshd *self,
            GError **error)
{
  gint64 deadline = g_get_monotonic_time () + READY_USEC;
  Endpoint e = { self->address, self->port };

  for (;;)
    {
      gpointer hello = NULL;

      if (!mitogen_test_sshd_run_in_netns (self->netns, says_hello, &e, &hello,
                                           error))
        return FALSE;
      if (hello)
        return TRUE;
      if (!g_subprocess_get_identifier (self->sshd) ||
          g_get_monotonic_time () > deadline)
        {
          g_autofree gchar *log = NULL;

          g_file_get_contents (self->log, &log, NULL, NULL);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "sshd on %s port %u %s: %s", self->address, self->port,
                       g_subprocess_get_identifier (self->sshd)
                         ? "does not answer" : "exited",
                       log ? log : "");
          return FALSE;
        }
      /* Connecting to a port not yet listening fails at once. */
      g_usleep (G_USEC_PER_SEC / 50);
    }
}

/**
 * mitogen_test_sshd_start:
 * @netns: (nullable): a namespace made by `ip netns add` to run sshd in,
 *   or %NULL for the current one
 * @listen_address: (nullable): the IPv4 address to listen on; by default
 *   127.0.0.1
 * @extra_config: (nullable): appended to sshd_config, such as a `Match`
 *   block
 * @error: return location for an error
 *
 * Starts sshd on a free port and waits until it greets a client. It lets
 * root in by key only, and the test users by the client key or their
 * password (checked by sshd itself: `UsePAM no`).
 *
 * Call it from a thread that lives as long as the sshd: the sshd is
 * killed when the thread that started it ends.
 *
 * Returns: (transfer full) (nullable): the running sshd
 */
MitogenTestSshd *
mitogen_test_sshd_start (const gchar *netns,
                         const gchar *listen_address,
                         const gchar *extra_config,
                         GError **error)
{
  g_autoptr(MitogenTestSshd) self = g_new0 (MitogenTestSshd, 1);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GStrvBuilder) argv_builder = g_strv_builder_new ();
  g_auto(GStrv) argv = NULL;
  g_autofree gchar *host_key = NULL, *pub_path = NULL, *pub = NULL;
  g_autofree gchar *auth = NULL, *config = NULL, *config_path = NULL;

  self->netns = g_strdup (netns);
  self->address = g_strdup (listen_address ? listen_address : "127.0.0.1");
  /* sshd's privilege separation directory; a fresh machine has none until
   * the system's sshd first starts. */
  g_mkdir_with_parents ("/run/sshd", 0755);

  self->dir = g_dir_make_tmp ("mitogen-test-sshd-XXXXXX", error);
  if (!self->dir)
    return NULL;
  self->janitor = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                      G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                      G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                    error, "sh", "-c",
                                    "read -r _ || :; rm -rf -- \"$0\"",
                                    self->dir, NULL);
  if (!self->janitor)
    return NULL;
  /* sshd reads authorized_keys as the user logging in. */
  g_chmod (self->dir, 0755);
  host_key = g_build_filename (self->dir, "host_key", NULL);
  self->client_key = g_build_filename (self->dir, "client_key", NULL);
  self->known_hosts = g_build_filename (self->dir, "known_hosts", NULL);
  self->log = g_build_filename (self->dir, "sshd.log", NULL);
  auth = g_build_filename (self->dir, "authorized_keys", NULL);
  config_path = g_build_filename (self->dir, "sshd_config", NULL);
  pub_path = g_strconcat (self->client_key, ".pub", NULL);

  if (!keygen (host_key, error) || !keygen (self->client_key, error) ||
      !g_file_get_contents (pub_path, &pub, NULL, error) ||
      !g_file_set_contents_full (auth, pub, -1, G_FILE_SET_CONTENTS_NONE,
                                 0644, error) ||
      !g_file_set_contents (self->known_hosts, "", 0, error))
    return NULL;

  self->port = mitogen_test_sshd_free_port (netns, self->address);
  if (!self->port)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "No free port on %s%s%s", self->address,
                   netns ? " in " : "", netns ? netns : "");
      return NULL;
    }
  /* Bash, as the login shell of a session sshd starts, sources ~/.bashrc
   * even for a command, unless it is nested (SHLVL >= 1 when it starts).
   * What a user's .bashrc does is not under test, and it can be slow: a
   * `pyenv rehash` there waits up to a minute for a lock that every other
   * login holds in turn, so on a busy machine a root login took 40 s and
   * overran the connect timeout. */
  config = g_strdup_printf ("SetEnv SHLVL=1\n"
                            "Port %u\n"
                            "ListenAddress %s\n"
                            "HostKey %s\n"
                            "AuthorizedKeysFile %s\n"
                            "PidFile %s/sshd.pid\n"
                            "StrictModes no\n"
                            "UsePAM no\n"
                            "PermitRootLogin prohibit-password\n"
                            "PasswordAuthentication yes\n"
                            "KbdInteractiveAuthentication yes\n"
                            "PrintMotd no\n"
                            "%s",
                            self->port, self->address, host_key, auth,
                            self->dir, extra_config ? extra_config : "");
  if (!g_file_set_contents (config_path, config, -1, error))
    return NULL;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_set_stderr_file_path (launcher, self->log);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  if (netns)
    g_strv_builder_addv (argv_builder,
                         (const gchar *[]) { "ip", "netns", "exec", netns, NULL });
  /* -e: the log in a file of ours, not syslog. */
  g_strv_builder_addv (argv_builder,
                       (const gchar *[]) { SSHD, "-D", "-e", "-f", config_path,
                                           NULL });
  argv = g_strv_builder_end (argv_builder);
  self->sshd = g_subprocess_launcher_spawnv (launcher,
                                             (const gchar * const *) argv,
                                             error);
  if (!self->sshd || !wait_ready (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

const gchar *
mitogen_test_sshd_get_address (MitogenTestSshd *self)
{
  return self->address;
}

guint16
mitogen_test_sshd_get_port (MitogenTestSshd *self)
{
  return self->port;
}

/* Returns: (nullable): the namespace sshd runs in */
const gchar *
mitogen_test_sshd_get_netns (MitogenTestSshd *self)
{
  return self->netns;
}

/* Returns: a private key authorized for root and for every user */
const gchar *
mitogen_test_sshd_get_client_key (MitogenTestSshd *self)
{
  return self->client_key;
}

/* Returns: a known hosts file, empty at first */
const gchar *
mitogen_test_sshd_get_known_hosts (MitogenTestSshd *self)
{
  return self->known_hosts;
}

/* Returns: the directory of sshd's files, removed by stop */
const gchar *
mitogen_test_sshd_get_dir (MitogenTestSshd *self)
{
  return self->dir;
}

/**
 * mitogen_test_sshd_add_key:
 * @self: an sshd
 * @name: a file name
 *
 * Returns: (transfer full): the path of a new private key in the sshd's
 *   directory, authorized for nobody; aborts the test on failure
 */
gchar *
mitogen_test_sshd_add_key (MitogenTestSshd *self,
                           const gchar *name)
{
  g_autoptr(GError) error = NULL;
  gchar *path = g_build_filename (self->dir, name, NULL);

  keygen (path, &error);
  g_assert_no_error (error);
  return path;
}

/**
 * mitogen_test_sshd_options:
 * @self: an sshd
 * @username: (nullable): whom to log in as; %NULL for ssh's default
 * @check_host_keys: (nullable): the policy; %NULL for the transport's
 *
 * Returns: (transfer floating): options for the `ssh` transport to reach
 *   this sshd with the client key, this sshd's known hosts file and no
 *   ssh configuration but the test's
 */
GVariant *
mitogen_test_sshd_options (MitogenTestSshd *self,
                           const gchar *username,
                           const gchar *check_host_keys)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "hostname", "s", self->address);
  if (username)
    g_variant_dict_insert (&dict, "username", "s", username);
  g_variant_dict_insert (&dict, "port", "i", (gint) self->port);
  g_variant_dict_insert (&dict, "identity-file", "s", self->client_key);
  if (check_host_keys)
    g_variant_dict_insert (&dict, "check-host-keys", "s", check_host_keys);
  g_variant_dict_insert (&dict, "known-hosts-file", "s", self->known_hosts);
  g_variant_dict_insert (&dict, "connect-timeout", "d", CONNECT_TIMEOUT);
  /* Not this machine's ssh configuration: only the test's. */
  g_variant_dict_insert_value (
    &dict, "ssh-args",
    g_variant_new_strv ((const gchar *[]) { "-F", "/dev/null" }, 2));
  return g_variant_dict_end (&dict);
}

/* The pids of @root's descendants, deepest last, read from /proc. */
static GArray *
descendants (GPid root)
{
  g_autoptr(GHashTable) children = g_hash_table_new_full (NULL, NULL, NULL,
                                                          (GDestroyNotify) g_array_unref);
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  GArray *found = g_array_new (FALSE, FALSE, sizeof (GPid));
  const gchar *name;

  while (proc && (name = g_dir_read_name (proc)))
    {
      g_autofree gchar *path = NULL, *stat = NULL;
      const gchar *after_comm;
      GPid pid = (GPid) strtol (name, NULL, 10);
      GPid ppid;
      GArray *siblings;

      if (pid <= 0)
        continue;
      path = g_build_filename ("/proc", name, "stat", NULL);
      /* "pid (comm) state ppid …"; comm may hold spaces and parentheses. */
      if (!g_file_get_contents (path, &stat, NULL, NULL) ||
          !(after_comm = strrchr (stat, ')')) ||
          sscanf (after_comm + 1, " %*c %d", &ppid) != 1)
        continue;
      siblings = g_hash_table_lookup (children, GINT_TO_POINTER (ppid));
      if (!siblings)
        {
          siblings = g_array_new (FALSE, FALSE, sizeof (GPid));
          g_hash_table_insert (children, GINT_TO_POINTER (ppid), siblings);
        }
      g_array_append_val (siblings, pid);
    }

  g_array_append_val (found, root);
  for (guint i = 0; i < found->len; i++)
    {
      GPid parent = g_array_index (found, GPid, i);
      GArray *kids = g_hash_table_lookup (children, GINT_TO_POINTER (parent));

      if (kids)
        g_array_append_vals (found, kids->data, kids->len);
    }
  g_array_remove_index (found, 0);
  return found;
}

static gboolean
is_sshd (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/comm", pid);
  g_autofree gchar *comm = NULL;

  return g_file_get_contents (path, &comm, NULL, NULL) &&
         g_str_equal (g_strchomp (comm), "sshd");
}

/* How long what ran in the sessions gets to end on its own. */
#define LINGER_USEC (mitogen_test_scaled (5 * G_USEC_PER_SEC))

/**
 * mitogen_test_sshd_stop:
 * @self: (nullable) (transfer full): an sshd
 *
 * Kills sshd and its sessions, gives what they ran (an agent that reads
 * end of file, a login shell) a moment to end on its own and kills what
 * is left, waits for sshd, removes its directory and frees @self.
 *
 * Only sshd's own processes are killed at once: a user's shell killed
 * halfway through its start-up files can leave their locks behind (a
 * `pyenv rehash` in root's .bashrc does) and slow every later login.
 */
void
mitogen_test_sshd_stop (MitogenTestSshd *self)
{
  if (!self)
    return;
  if (self->sshd && g_subprocess_get_identifier (self->sshd))
    {
      GPid pid = (GPid) strtol (g_subprocess_get_identifier (self->sshd), NULL, 10);
      gint64 deadline = g_get_monotonic_time () + LINGER_USEC;
      g_autoptr(GArray) below = NULL;
      gboolean left;

      /* Stopped, it forks no new session while its tree is read. */
      kill (pid, SIGSTOP);
      below = descendants (pid);
      for (guint i = 0; i < below->len; i++)
        if (is_sshd (g_array_index (below, GPid, i)))
          kill (g_array_index (below, GPid, i), SIGKILL);
      g_subprocess_force_exit (self->sshd);

      do
        {
          left = FALSE;
          for (guint i = 0; i < below->len && !left; i++)
            left = mitogen_test_process_running (g_array_index (below, GPid, i));
          if (left)
            g_usleep (G_USEC_PER_SEC / 100);
        }
      while (left && g_get_monotonic_time () < deadline);
      for (guint i = 0; i < below->len; i++)
        if (mitogen_test_process_running (g_array_index (below, GPid, i)))
          kill (g_array_index (below, GPid, i), SIGKILL);
    }
  if (self->sshd)
    g_subprocess_wait (self->sshd, NULL, NULL);
  g_clear_object (&self->sshd);
  if (self->janitor)
    {
      g_output_stream_close (g_subprocess_get_stdin_pipe (self->janitor), NULL,
                             NULL);
      g_subprocess_wait (self->janitor, NULL, NULL);
      g_clear_object (&self->janitor);
    }
  else if (self->dir)
    g_rmdir (self->dir);
  g_free (self->netns);
  g_free (self->address);
  g_free (self->dir);
  g_free (self->client_key);
  g_free (self->known_hosts);
  g_free (self->log);
  g_free (self);
}
