/* mitogen-sudo-stream.c: the `sudo` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <errno.h>
#include <gmodule.h>
#include <mitogen/mitogen.h>
#include <string.h>
#include <unistd.h>

/**
 * MitogenSudoStream:
 *
 * Starts a child context on this host as another user, running the agent
 * through sudo(8) on a pseudo-terminal, so that sudo can ask for a password
 * there. The password, if any, is written to the terminal when sudo asks
 * for it; it is never put on a command line or in an environment.
 *
 * Options: those of [class@Mitogen.ParentStream] (among them `password`
 * and `upload-agent`), and `username` (default `root`), `preserve-env` (`-E`), `set-home` (`-H`), `login`
 * (`-i`), `sudo-path` (default `sudo`) and `sudo-args` (extra arguments,
 * placed before `--`).
 */
#define MITOGEN_TYPE_SUDO_STREAM (mitogen_sudo_stream_get_type ())
G_DECLARE_FINAL_TYPE (MitogenSudoStream, mitogen_sudo_stream, MITOGEN,
                      SUDO_STREAM, MitogenParentStream)

struct _MitogenSudoStream {
  MitogenParentStream parent_instance;

  gchar *username;
  gboolean preserve_env;
  gboolean set_home;
  gboolean login;
  gchar *sudo_path;
  gchar **sudo_args;
};

G_DEFINE_DYNAMIC_TYPE (MitogenSudoStream, mitogen_sudo_stream,
                       MITOGEN_TYPE_PARENT_STREAM)

enum {
  PROP_0,
  PROP_USERNAME,
  PROP_PRESERVE_ENV,
  PROP_SET_HOME,
  PROP_LOGIN,
  PROP_SUDO_PATH,
  PROP_SUDO_ARGS,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

/* Passed with -p, so that the prompt is recognised whatever the locale or
 * the PAM stack would have said. No `%`: sudo expands those. */
#define SUDO_PROMPT "mitogen-sudo-password:"

/* Mitogen's `sudo.USER`. */
static gchar *
mitogen_sudo_stream_dup_default_name (MitogenParentStream *stream)
{
  MitogenSudoStream *self = MITOGEN_SUDO_STREAM (stream);

  return g_strdup_printf ("sudo.%s", self->username ? self->username : "root");
}

static gchar **
mitogen_sudo_stream_get_boot_command (MitogenParentStream *stream,
                                      GError **error)
{
  MitogenSudoStream *self = MITOGEN_SUDO_STREAM (stream);
  g_auto(GStrv) agent = mitogen_parent_stream_get_agent_command (stream, error);
  GPtrArray *argv;

  if (!agent)
    return NULL;
  argv = g_ptr_array_new ();
  g_ptr_array_add (argv, g_strdup (self->sudo_path ? self->sudo_path : "sudo"));
  g_ptr_array_add (argv, g_strdup ("-u"));
  g_ptr_array_add (argv, g_strdup (self->username ? self->username : "root"));
  g_ptr_array_add (argv, g_strdup ("-p"));
  g_ptr_array_add (argv, g_strdup (SUDO_PROMPT));
  /* Without a password there is no terminal to ask on: sudo says so at
   * once instead. */
  if (!mitogen_parent_stream_get_password (stream))
    g_ptr_array_add (argv, g_strdup ("-n"));
  if (self->preserve_env)
    g_ptr_array_add (argv, g_strdup ("-E"));
  if (self->set_home)
    g_ptr_array_add (argv, g_strdup ("-H"));
  if (self->login)
    g_ptr_array_add (argv, g_strdup ("-i"));
  for (gchar **arg = self->sudo_args; arg && *arg; arg++)
    g_ptr_array_add (argv, g_strdup (*arg));
  g_ptr_array_add (argv, g_strdup ("--"));
  for (guint i = 0; agent[i]; i++)
    g_ptr_array_add (argv, g_strdup (agent[i]));
  g_ptr_array_add (argv, NULL);
  return (gchar **) g_ptr_array_free (argv, FALSE);
}

/* What sudo says when it will not run the command: fail at once rather
 * than wait for the deadline. */
static gboolean
mitogen_sudo_stream_check_output (MitogenParentStream *stream,
                                  const gchar *text,
                                  GError **error)
{
  MitogenSudoStream *self = MITOGEN_SUDO_STREAM (stream);
  static const gchar * const bad_password[] = {
    "Sorry, try again", "incorrect password", NULL,
  };
  static const gchar * const not_allowed[] = {
    "is not in the sudoers file", "is not allowed to", NULL,
  };

  for (guint i = 0; bad_password[i]; i++)
    if (strstr (text, bad_password[i]))
      {
        g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                     "sudo: incorrect password for %s", self->username);
        return TRUE;
      }
  for (guint i = 0; not_allowed[i]; i++)
    if (strstr (text, not_allowed[i]))
      {
        g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                     "sudo: this user may not run the agent as %s",
                     self->username);
        return TRUE;
      }
  if (strstr (text, "a password is required") ||
      strstr (text, "a terminal is required"))
    {
      g_set_error_literal (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                           "sudo asked for a password but none was given");
      return TRUE;
    }
  if (strstr (text, "unknown user"))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "sudo: unknown user %s", self->username);
      return TRUE;
    }
  return FALSE;
}

static gboolean
mitogen_sudo_stream_is_prompt (MitogenParentStream *stream,
                               GString *output)
{
  return g_str_has_suffix (output->str, SUDO_PROMPT);
}

static void
mitogen_sudo_stream_get_property (GObject *object,
                                  guint prop_id,
                                  GValue *value,
                                  GParamSpec *pspec)
{
  MitogenSudoStream *self = MITOGEN_SUDO_STREAM (object);

  switch (prop_id)
    {
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_PRESERVE_ENV:
      g_value_set_boolean (value, self->preserve_env);
      break;
    case PROP_SET_HOME:
      g_value_set_boolean (value, self->set_home);
      break;
    case PROP_LOGIN:
      g_value_set_boolean (value, self->login);
      break;
    case PROP_SUDO_PATH:
      g_value_set_string (value, self->sudo_path);
      break;
    case PROP_SUDO_ARGS:
      g_value_set_boxed (value, self->sudo_args);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_sudo_stream_set_property (GObject *object,
                                  guint prop_id,
                                  const GValue *value,
                                  GParamSpec *pspec)
{
  MitogenSudoStream *self = MITOGEN_SUDO_STREAM (object);

  switch (prop_id)
    {
    case PROP_USERNAME:
      g_free (self->username);
      self->username = g_value_dup_string (value);
      if (!self->username)
        self->username = g_strdup ("root");
      break;
    case PROP_PRESERVE_ENV:
      self->preserve_env = g_value_get_boolean (value);
      break;
    case PROP_SET_HOME:
      self->set_home = g_value_get_boolean (value);
      break;
    case PROP_LOGIN:
      self->login = g_value_get_boolean (value);
      break;
    case PROP_SUDO_PATH:
      g_free (self->sudo_path);
      self->sudo_path = g_value_dup_string (value);
      if (!self->sudo_path)
        self->sudo_path = g_strdup ("sudo");
      break;
    case PROP_SUDO_ARGS:
      g_strfreev (self->sudo_args);
      self->sudo_args = g_value_dup_boxed (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_sudo_stream_finalize (GObject *object)
{
  MitogenSudoStream *self = MITOGEN_SUDO_STREAM (object);

  g_free (self->username);
  g_free (self->sudo_path);
  g_strfreev (self->sudo_args);
  G_OBJECT_CLASS (mitogen_sudo_stream_parent_class)->finalize (object);
}

static void
mitogen_sudo_stream_class_init (MitogenSudoStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MitogenParentStreamClass *parent_class = MITOGEN_PARENT_STREAM_CLASS (klass);

  object_class->get_property = mitogen_sudo_stream_get_property;
  object_class->set_property = mitogen_sudo_stream_set_property;
  object_class->finalize = mitogen_sudo_stream_finalize;

  parent_class->transport_name = "sudo";
  parent_class->get_boot_command = mitogen_sudo_stream_get_boot_command;
  parent_class->is_prompt = mitogen_sudo_stream_is_prompt;
  parent_class->check_output = mitogen_sudo_stream_check_output;
  parent_class->dup_default_name = mitogen_sudo_stream_dup_default_name;

  /**
   * MitogenSudoStream:username:
   *
   * The user to run the agent as.
   */
  props[PROP_USERNAME] =
    g_param_spec_string ("username", NULL, NULL, "root",
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSudoStream:preserve-env:
   *
   * Whether to keep this process's environment (`-E`).
   */
  props[PROP_PRESERVE_ENV] =
    g_param_spec_boolean ("preserve-env", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSudoStream:set-home:
   *
   * Whether to set `HOME` to the target user's (`-H`).
   */
  props[PROP_SET_HOME] =
    g_param_spec_boolean ("set-home", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSudoStream:login:
   *
   * Whether to run the agent through the target user's login shell (`-i`).
   */
  props[PROP_LOGIN] =
    g_param_spec_boolean ("login", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSudoStream:sudo-path:
   *
   * The sudo program; searched in `PATH`.
   */
  props[PROP_SUDO_PATH] =
    g_param_spec_string ("sudo-path", NULL, NULL, "sudo",
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSudoStream:sudo-args:
   *
   * Further arguments to sudo, placed before the command.
   */
  props[PROP_SUDO_ARGS] =
    g_param_spec_boxed ("sudo-args", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
mitogen_sudo_stream_class_finalize (MitogenSudoStreamClass *klass)
{
}

static void
mitogen_sudo_stream_init (MitogenSudoStream *self)
{
  self->username = g_strdup ("root");
  self->sudo_path = g_strdup ("sudo");
}

G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);

G_MODULE_EXPORT GType
mitogen_transport_register (GTypeModule *module)
{
  mitogen_sudo_stream_register_type (module);
  return MITOGEN_TYPE_SUDO_STREAM;
}
