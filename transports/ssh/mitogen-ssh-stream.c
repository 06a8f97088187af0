/* mitogen-ssh-stream.c: the `ssh` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <errno.h>
#include <gmodule.h>
#include <mitogen/mitogen.h>
#include <string.h>
#include <unistd.h>

/**
 * MitogenSshStream:
 *
 * Starts a child context on another host through ssh(1). Nothing needs to
 * be installed there: by default the agent is uploaded and cached on the
 * far side (#MitogenParentStream:upload-agent); without upload it is run
 * by path (mitogen_parent_stream_get_agent_path()). ssh runs on a local
 * pseudo-terminal only so that a password prompt can be answered; no remote
 * terminal is allocated (`-T`), the link being binary. Without a password,
 * ssh runs with `BatchMode=yes` and never prompts.
 *
 * Options: those of [class@Mitogen.ParentStream] (among them `password`
 * and `upload-agent`), and `hostname`,
 * `username`, `port` (0: ssh's default), `identity-file`,
 * `check-host-keys` (`enforce`, `accept-new` or `ignore`),
 * `known-hosts-file`, `compression`, `keepalive-interval`,
 * `keepalive-count`, `identities-only`, `ssh-debug-level`, `ssh-path` (default
 * `ssh`) and `ssh-args` (extra arguments, placed before the host name).
 */
#define MITOGEN_TYPE_SSH_STREAM (mitogen_ssh_stream_get_type ())
G_DECLARE_FINAL_TYPE (MitogenSshStream, mitogen_ssh_stream, MITOGEN,
                      SSH_STREAM, MitogenParentStream)

struct _MitogenSshStream {
  MitogenParentStream parent_instance;

  gchar *hostname;
  gchar *username;
  gint port;
  gchar *identity_file;
  gchar *check_host_keys;
  gchar *known_hosts_file;
  gboolean compression;
  gint keepalive_interval;
  gint keepalive_count;
  gboolean identities_only;
  gint ssh_debug_level;
  gchar *ssh_path;
  gchar **ssh_args;
};

G_DEFINE_DYNAMIC_TYPE (MitogenSshStream, mitogen_ssh_stream,
                       MITOGEN_TYPE_PARENT_STREAM)

enum {
  PROP_0,
  PROP_HOSTNAME,
  PROP_USERNAME,
  PROP_PORT,
  PROP_IDENTITY_FILE,
  PROP_CHECK_HOST_KEYS,
  PROP_KNOWN_HOSTS_FILE,
  PROP_COMPRESSION,
  PROP_KEEPALIVE_INTERVAL,
  PROP_KEEPALIVE_COUNT,
  PROP_IDENTITIES_ONLY,
  PROP_SSH_DEBUG_LEVEL,
  PROP_SSH_PATH,
  PROP_SSH_ARGS,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static void
add_option (GPtrArray *argv,
            const gchar *name,
            const gchar *value)
{
  g_ptr_array_add (argv, g_strdup ("-o"));
  g_ptr_array_add (argv, g_strdup_printf ("%s=%s", name, value));
}

/* Mitogen's `ssh.HOST`, with the port when it is not the default. */
static gchar *
mitogen_ssh_stream_dup_default_name (MitogenParentStream *stream)
{
  MitogenSshStream *self = MITOGEN_SSH_STREAM (stream);

  if (self->port > 0)
    return g_strdup_printf ("ssh.%s:%d", self->hostname, self->port);
  return g_strdup_printf ("ssh.%s", self->hostname);
}

static gchar **
mitogen_ssh_stream_get_boot_command (MitogenParentStream *stream,
                                     GError **error)
{
  MitogenSshStream *self = MITOGEN_SSH_STREAM (stream);
  const gchar *check = self->check_host_keys ? self->check_host_keys : "enforce";
  gdouble timeout = mitogen_parent_stream_get_connect_timeout (stream);
  const gchar *password = mitogen_parent_stream_get_password (stream);
  g_auto(GStrv) agent = NULL;
  GString *remote;
  GPtrArray *argv;

  if (!self->hostname || !*self->hostname)
    {
      g_set_error_literal (error, MITOGEN_STREAM_ERROR,
                           MITOGEN_STREAM_ERROR_CONNECT,
                           "ssh: no hostname given");
      return NULL;
    }
  if (self->hostname[0] == '-')
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "ssh: invalid hostname “%s”", self->hostname);
      return NULL;
    }
  if (strcmp (check, "enforce") != 0 && strcmp (check, "accept-new") != 0 &&
      strcmp (check, "ignore") != 0)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "ssh: check-host-keys must be enforce, accept-new or "
                   "ignore, not “%s”", check);
      return NULL;
    }
  agent = mitogen_parent_stream_get_agent_command (stream, error);
  if (!agent)
    return NULL;

  argv = g_ptr_array_new ();
  g_ptr_array_add (argv, g_strdup (self->ssh_path ? self->ssh_path : "ssh"));
  g_ptr_array_add (argv, g_strdup ("-T"));
  /* Debug output goes where ssh's errors go, read during the bootstrap
   * (bounded there) and quoted if it fails. */
  add_option (argv, "LogLevel",
              (const gchar *[]) { "ERROR", "DEBUG1", "DEBUG2",
                                  "DEBUG3" }[CLAMP (self->ssh_debug_level, 0, 3)]);
  add_option (argv, "BatchMode", password ? "no" : "yes");
  if (timeout > 0)
    {
      gint whole = (gint) MIN (timeout, 86400.0);
      g_autofree gchar *secs = NULL;

      if (whole < timeout)
        whole++;
      secs = g_strdup_printf ("%d", MAX (whole, 1));
      add_option (argv, "ConnectTimeout", secs);
    }
  if (strcmp (check, "enforce") == 0)
    add_option (argv, "StrictHostKeyChecking", "yes");
  else if (strcmp (check, "accept-new") == 0)
    add_option (argv, "StrictHostKeyChecking", "accept-new");
  else
    add_option (argv, "StrictHostKeyChecking", "no");
  if (strcmp (check, "ignore") == 0)
    add_option (argv, "UserKnownHostsFile", "/dev/null");
  else if (self->known_hosts_file)
    add_option (argv, "UserKnownHostsFile", self->known_hosts_file);
  if (password)
    {
      add_option (argv, "PreferredAuthentications",
                  "publickey,keyboard-interactive,password");
      add_option (argv, "NumberOfPasswordPrompts", "1");
    }
  add_option (argv, "Compression", self->compression ? "yes" : "no");
  if (self->keepalive_interval > 0)
    {
      g_autofree gchar *interval = g_strdup_printf ("%d", self->keepalive_interval);

      add_option (argv, "ServerAliveInterval", interval);
    }
  if (self->keepalive_count > 0)
    {
      g_autofree gchar *count = g_strdup_printf ("%d", self->keepalive_count);

      add_option (argv, "ServerAliveCountMax", count);
    }
  if (self->port > 0)
    {
      g_ptr_array_add (argv, g_strdup ("-p"));
      g_ptr_array_add (argv, g_strdup_printf ("%d", self->port));
    }
  if (self->username)
    {
      g_ptr_array_add (argv, g_strdup ("-l"));
      g_ptr_array_add (argv, g_strdup (self->username));
    }
  if (self->identity_file)
    {
      g_ptr_array_add (argv, g_strdup ("-i"));
      g_ptr_array_add (argv, g_strdup (self->identity_file));
    }
  /* Only the keys named: an agent's many keys would use up the server's
   * MaxAuthTries before the right one. */
  if (self->identities_only && (self->identity_file || password))
    add_option (argv, "IdentitiesOnly", "yes");
  for (gchar **arg = self->ssh_args; arg && *arg; arg++)
    g_ptr_array_add (argv, g_strdup (*arg));
  g_ptr_array_add (argv, g_strdup (self->hostname));
  g_ptr_array_add (argv, g_strdup ("--"));
  /* The far side's shell parses the command again. */
  remote = g_string_new (NULL);
  for (guint i = 0; agent[i]; i++)
    {
      g_autofree gchar *quoted = g_shell_quote (agent[i]);

      if (i > 0)
        g_string_append_c (remote, ' ');
      g_string_append (remote, quoted);
    }
  g_ptr_array_add (argv, g_string_free (remote, FALSE));
  g_ptr_array_add (argv, NULL);
  return (gchar **) g_ptr_array_free (argv, FALSE);
}

/* What ssh says when it cannot connect: fail at once rather than wait for
 * the deadline. */
static gboolean
mitogen_ssh_stream_check_output (MitogenParentStream *stream,
                                 const gchar *text,
                                 GError **error)
{
  MitogenSshStream *self = MITOGEN_SSH_STREAM (stream);
  static const gchar * const unreachable[] = {
    "Connection refused", "No route to host", "Could not resolve",
    "Network is unreachable", NULL,
  };

  if (strstr (text, "REMOTE HOST IDENTIFICATION HAS CHANGED"))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "ssh: the host key of %s has changed", self->hostname);
      return TRUE;
    }
  if (strstr (text, "Host key verification failed"))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "ssh: the host key of %s is unknown or does not match",
                   self->hostname);
      return TRUE;
    }
  /* Newer OpenSSH: "user@host: Permission denied (…)"; some servers
   * say it in lower case. */
  if (g_strstr_len (text, -1, "ermission denied") &&
      !mitogen_parent_stream_get_password (stream) &&
      (strstr (text, "password") || strstr (text, "keyboard-interactive")))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "ssh: permission denied logging in to %s%s%s: the server "
                   "offers password login, and a password is required but "
                   "none was given (give one with --ask-password or "
                   "--password-fd, or the password option)",
                   self->username ? self->username : "",
                   self->username ? "@" : "", self->hostname);
      return TRUE;
    }
  if (strstr (text, "Permission denied") || strstr (text, "permission denied"))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "ssh: permission denied logging in to %s%s%s%s",
                   self->username ? self->username : "",
                   self->username ? "@" : "", self->hostname,
                   mitogen_parent_stream_get_password (stream)
                     ? " (incorrect password, or password login refused)" : "");
      return TRUE;
    }
  for (guint i = 0; unreachable[i]; i++)
    if (strstr (text, unreachable[i]))
      {
        g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                     "ssh: host %s is unreachable", self->hostname);
        return TRUE;
      }
  if (strstr (text, "Connection timed out") ||
      strstr (text, "Operation timed out"))
    {
      g_set_error (error, MITOGEN_TIMEOUT_ERROR, MITOGEN_TIMEOUT_ERROR_TIMED_OUT,
                   "ssh: connecting to %s timed out", self->hostname);
      return TRUE;
    }
  return FALSE;
}

/* Whether @output ends with a password prompt: "…password: " or
 * keyboard-interactive's "Password: ". */
static gboolean
mitogen_ssh_stream_is_prompt (MitogenParentStream *stream,
                              GString *output)
{
  gsize len = output->len;

  if (len == 0 || output->str[len - 1] != ' ')
    return FALSE;
  while (len > 0 && output->str[len - 1] == ' ')
    len--;
  return len >= 9 &&
         g_ascii_strncasecmp (output->str + len - 9, "password:", 9) == 0;
}

static void
mitogen_ssh_stream_get_property (GObject *object,
                                 guint prop_id,
                                 GValue *value,
                                 GParamSpec *pspec)
{
  MitogenSshStream *self = MITOGEN_SSH_STREAM (object);

  switch (prop_id)
    {
    case PROP_HOSTNAME:
      g_value_set_string (value, self->hostname);
      break;
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_PORT:
      g_value_set_int (value, self->port);
      break;
    case PROP_IDENTITY_FILE:
      g_value_set_string (value, self->identity_file);
      break;
    case PROP_CHECK_HOST_KEYS:
      g_value_set_string (value, self->check_host_keys);
      break;
    case PROP_KNOWN_HOSTS_FILE:
      g_value_set_string (value, self->known_hosts_file);
      break;
    case PROP_COMPRESSION:
      g_value_set_boolean (value, self->compression);
      break;
    case PROP_KEEPALIVE_INTERVAL:
      g_value_set_int (value, self->keepalive_interval);
      break;
    case PROP_KEEPALIVE_COUNT:
      g_value_set_int (value, self->keepalive_count);
      break;
    case PROP_IDENTITIES_ONLY:
      g_value_set_boolean (value, self->identities_only);
      break;
    case PROP_SSH_DEBUG_LEVEL:
      g_value_set_int (value, self->ssh_debug_level);
      break;
    case PROP_SSH_PATH:
      g_value_set_string (value, self->ssh_path);
      break;
    case PROP_SSH_ARGS:
      g_value_set_boxed (value, self->ssh_args);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
set_string (gchar **field,
            const GValue *value,
            const gchar *fallback)
{
  g_free (*field);
  *field = g_value_dup_string (value);
  if (!*field && fallback)
    *field = g_strdup (fallback);
}

static void
mitogen_ssh_stream_set_property (GObject *object,
                                 guint prop_id,
                                 const GValue *value,
                                 GParamSpec *pspec)
{
  MitogenSshStream *self = MITOGEN_SSH_STREAM (object);

  switch (prop_id)
    {
    case PROP_HOSTNAME:
      set_string (&self->hostname, value, NULL);
      break;
    case PROP_USERNAME:
      set_string (&self->username, value, NULL);
      break;
    case PROP_PORT:
      self->port = g_value_get_int (value);
      break;
    case PROP_IDENTITY_FILE:
      set_string (&self->identity_file, value, NULL);
      break;
    case PROP_CHECK_HOST_KEYS:
      set_string (&self->check_host_keys, value, "enforce");
      break;
    case PROP_KNOWN_HOSTS_FILE:
      set_string (&self->known_hosts_file, value, NULL);
      break;
    case PROP_COMPRESSION:
      self->compression = g_value_get_boolean (value);
      break;
    case PROP_KEEPALIVE_INTERVAL:
      self->keepalive_interval = g_value_get_int (value);
      break;
    case PROP_KEEPALIVE_COUNT:
      self->keepalive_count = g_value_get_int (value);
      break;
    case PROP_IDENTITIES_ONLY:
      self->identities_only = g_value_get_boolean (value);
      break;
    case PROP_SSH_DEBUG_LEVEL:
      self->ssh_debug_level = g_value_get_int (value);
      break;
    case PROP_SSH_PATH:
      set_string (&self->ssh_path, value, "ssh");
      break;
    case PROP_SSH_ARGS:
      g_strfreev (self->ssh_args);
      self->ssh_args = g_value_dup_boxed (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_ssh_stream_finalize (GObject *object)
{
  MitogenSshStream *self = MITOGEN_SSH_STREAM (object);

  g_free (self->hostname);
  g_free (self->username);
  g_free (self->identity_file);
  g_free (self->check_host_keys);
  g_free (self->known_hosts_file);
  g_free (self->ssh_path);
  g_strfreev (self->ssh_args);
  G_OBJECT_CLASS (mitogen_ssh_stream_parent_class)->finalize (object);
}

#define RW (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)

static void
mitogen_ssh_stream_class_init (MitogenSshStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MitogenParentStreamClass *parent_class = MITOGEN_PARENT_STREAM_CLASS (klass);

  object_class->get_property = mitogen_ssh_stream_get_property;
  object_class->set_property = mitogen_ssh_stream_set_property;
  object_class->finalize = mitogen_ssh_stream_finalize;

  parent_class->transport_name = "ssh";
  parent_class->get_boot_command = mitogen_ssh_stream_get_boot_command;
  parent_class->is_prompt = mitogen_ssh_stream_is_prompt;
  parent_class->check_output = mitogen_ssh_stream_check_output;
  parent_class->uploads_agent = TRUE;
  parent_class->dup_default_name = mitogen_ssh_stream_dup_default_name;

  /**
   * MitogenSshStream:hostname:
   *
   * The host to connect to. Required.
   */
  props[PROP_HOSTNAME] =
    g_param_spec_string ("hostname", NULL, NULL, NULL, RW);
  /**
   * MitogenSshStream:username:
   *
   * The user to log in as, or %NULL for ssh's default.
   */
  props[PROP_USERNAME] =
    g_param_spec_string ("username", NULL, NULL, NULL, RW);
  /**
   * MitogenSshStream:port:
   *
   * The port, or 0 for ssh's default.
   */
  props[PROP_PORT] =
    g_param_spec_int ("port", NULL, NULL, 0, 65535, 0, RW);
  /**
   * MitogenSshStream:identity-file:
   *
   * A private key to log in with (`-i`).
   */
  props[PROP_IDENTITY_FILE] =
    g_param_spec_string ("identity-file", NULL, NULL, NULL, RW);
  /**
   * MitogenSshStream:check-host-keys:
   *
   * `enforce` (unknown keys are refused), `accept-new` (unknown keys are
   * added, changed ones refused) or `ignore` (no checking, nothing
   * recorded).
   */
  props[PROP_CHECK_HOST_KEYS] =
    g_param_spec_string ("check-host-keys", NULL, NULL, "enforce", RW);
  /**
   * MitogenSshStream:known-hosts-file:
   *
   * The known hosts file, or %NULL for ssh's default. Unused under
   * `ignore`.
   */
  props[PROP_KNOWN_HOSTS_FILE] =
    g_param_spec_string ("known-hosts-file", NULL, NULL, NULL, RW);
  /**
   * MitogenSshStream:compression:
   *
   * Whether ssh compresses the link (`Compression=yes`, or `no`, which
   * overrides ssh_config).
   */
  props[PROP_COMPRESSION] =
    g_param_spec_boolean ("compression", NULL, NULL, FALSE, RW);
  /**
   * MitogenSshStream:keepalive-interval:
   *
   * Seconds between ssh's keepalive probes (`ServerAliveInterval`); 0
   * leaves ssh's setting.
   */
  props[PROP_KEEPALIVE_INTERVAL] =
    g_param_spec_int ("keepalive-interval", NULL, NULL, 0, G_MAXINT, 0, RW);
  /**
   * MitogenSshStream:keepalive-count:
   *
   * Probes unanswered before ssh gives up (`ServerAliveCountMax`); 0
   * leaves ssh's setting.
   */
  props[PROP_KEEPALIVE_COUNT] =
    g_param_spec_int ("keepalive-count", NULL, NULL, 0, G_MAXINT, 0, RW);
  /**
   * MitogenSshStream:identities-only:
   *
   * Whether ssh offers only the identity file's key (`IdentitiesOnly`)
   * when there is one or a password, not an agent's keys too.
   */
  props[PROP_IDENTITIES_ONLY] =
    g_param_spec_boolean ("identities-only", NULL, NULL, TRUE, RW);
  /**
   * MitogenSshStream:ssh-debug-level:
   *
   * ssh's debug level, 0 to 3 (`LogLevel=DEBUG1` … `DEBUG3`); what it
   * says is logged with the connect's errors.
   */
  props[PROP_SSH_DEBUG_LEVEL] =
    g_param_spec_int ("ssh-debug-level", NULL, NULL, 0, 3, 0, RW);
  /**
   * MitogenSshStream:ssh-path:
   *
   * The ssh program; searched in `PATH`.
   */
  props[PROP_SSH_PATH] =
    g_param_spec_string ("ssh-path", NULL, NULL, "ssh", RW);
  /**
   * MitogenSshStream:ssh-args:
   *
   * Further arguments to ssh, placed before the host name.
   */
  props[PROP_SSH_ARGS] =
    g_param_spec_boxed ("ssh-args", NULL, NULL, G_TYPE_STRV, RW);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
mitogen_ssh_stream_class_finalize (MitogenSshStreamClass *klass)
{
}

static void
mitogen_ssh_stream_init (MitogenSshStream *self)
{
  self->check_host_keys = g_strdup ("enforce");
  self->identities_only = TRUE;
  self->ssh_path = g_strdup ("ssh");
}

G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);

G_MODULE_EXPORT GType
mitogen_transport_register (GTypeModule *module)
{
  mitogen_ssh_stream_register_type (module);
  return MITOGEN_TYPE_SSH_STREAM;
}
