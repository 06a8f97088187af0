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
 * (`-i`), `selinux-role` (`-r`), `selinux-type` (`-t`), `sudo-path`
 * (default `sudo`) and `sudo-args` (parsed as Mitogen does).
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
  gchar *selinux_role;
  gchar *selinux_type;
  /* Whose password sudo asked for, from its prompt. */
  gchar *asked_for;
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
  PROP_SELINUX_ROLE,
  PROP_SELINUX_TYPE,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

/* Passed with -p, so that the prompt is recognised whatever the locale or
 * the PAM stack would have said. sudo expands `%p` to the user whose
 * password it asks for: the caller's, the target's (targetpw) or root's
 * (rootpw), which the wrong-password error names. */
#define SUDO_PROMPT_START "mitogen-sudo-password("
#define SUDO_PROMPT_END "):"
#define SUDO_PROMPT SUDO_PROMPT_START "%p" SUDO_PROMPT_END

/* Takes @arg's value, the rest of it (`-uUSER`, `--user=USER`) or the
 * next argument, into @field. */
static gboolean
take_value (gchar ***args,
            const gchar *arg,
            gsize flag_len,
            gchar **field,
            GError **error)
{
  const gchar *value = arg + flag_len;

  if (*value == '=')
    value++;
  if (!*value)
    {
      if (!(*args)[1])
        {
          g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                       "sudo-args: %s needs a value", arg);
          return FALSE;
        }
      value = *++*args;
    }
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

/* sudo-args as Mitogen parses them: the flags it knows set the options
 * they stand for; any other would change how sudo runs the agent in ways
 * the bootstrap cannot follow, so is refused, by name. */
static gboolean
parse_sudo_args (MitogenSudoStream *self,
                 GError **error)
{
  for (gchar **arg = self->sudo_args; arg && *arg; arg++)
    {
      const gchar *a = *arg;

      if (g_str_equal (a, "-E") || g_str_equal (a, "--preserve-env"))
        self->preserve_env = TRUE;
      else if (g_str_equal (a, "-H") || g_str_equal (a, "--set-home"))
        self->set_home = TRUE;
      else if (g_str_equal (a, "-i") || g_str_equal (a, "--login"))
        self->login = TRUE;
      else if (g_str_has_prefix (a, "-u") || g_str_has_prefix (a, "--user"))
        {
          if (!take_value (&arg, a, a[1] == '-' ? 6 : 2, &self->username, error))
            return FALSE;
        }
      else if (g_str_has_prefix (a, "-r") || g_str_has_prefix (a, "--role"))
        {
          if (!take_value (&arg, a, a[1] == '-' ? 6 : 2, &self->selinux_role, error))
            return FALSE;
        }
      else if (g_str_has_prefix (a, "-t") || g_str_has_prefix (a, "--type"))
        {
          if (!take_value (&arg, a, a[1] == '-' ? 6 : 2, &self->selinux_type, error))
            return FALSE;
        }
      else
        {
          g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                       "sudo-args: unsupported sudo argument “%s”", a);
          return FALSE;
        }
    }
  return TRUE;
}

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

  if (!agent || !parse_sudo_args (self, error))
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
  if (self->selinux_role)
    {
      g_ptr_array_add (argv, g_strdup ("-r"));
      g_ptr_array_add (argv, g_strdup (self->selinux_role));
    }
  if (self->selinux_type)
    {
      g_ptr_array_add (argv, g_strdup ("-t"));
      g_ptr_array_add (argv, g_strdup (self->selinux_type));
    }
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
                     "sudo: incorrect password for %s (sudo asked for %s's "
                     "password to run the agent as %s)",
                     self->asked_for ? self->asked_for : self->username,
                     self->asked_for ? self->asked_for : "a", self->username);
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
  MitogenSudoStream *self = MITOGEN_SUDO_STREAM (stream);
  const gchar *start;

  if (!g_str_has_suffix (output->str, SUDO_PROMPT_END))
    return FALSE;
  start = g_strrstr (output->str, SUDO_PROMPT_START);
  if (!start || strchr (start, '\n'))
    return FALSE;
  start += strlen (SUDO_PROMPT_START);
  g_free (self->asked_for);
  self->asked_for = g_strndup (start, (gsize) (output->str + output->len -
                                               strlen (SUDO_PROMPT_END) - start));
  /* Not expanded (sudo-rs): nobody to name. */
  if (g_str_equal (self->asked_for, "%p"))
    g_clear_pointer (&self->asked_for, g_free);
  return TRUE;
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
    case PROP_SELINUX_ROLE:
      g_value_set_string (value, self->selinux_role);
      break;
    case PROP_SELINUX_TYPE:
      g_value_set_string (value, self->selinux_type);
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
    case PROP_SELINUX_ROLE:
      g_free (self->selinux_role);
      self->selinux_role = g_value_dup_string (value);
      break;
    case PROP_SELINUX_TYPE:
      g_free (self->selinux_type);
      self->selinux_type = g_value_dup_string (value);
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
  g_free (self->selinux_role);
  g_free (self->selinux_type);
  g_free (self->asked_for);
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
   * Further arguments to sudo, as Mitogen's `sudo_args`: `-E`, `-H`,
   * `-i`, `-u USER`, `-r ROLE` and `-t TYPE` (and their long forms) set
   * the options they stand for; any other fails the connect, naming it.
   */
  props[PROP_SUDO_ARGS] =
    g_param_spec_boxed ("sudo-args", NULL, NULL, G_TYPE_STRV,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSudoStream:selinux-role:
   *
   * The SELinux role to run the agent with (`-r`), or %NULL.
   */
  props[PROP_SELINUX_ROLE] =
    g_param_spec_string ("selinux-role", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSudoStream:selinux-type:
   *
   * The SELinux type to run the agent with (`-t`), or %NULL.
   */
  props[PROP_SELINUX_TYPE] =
    g_param_spec_string ("selinux-type", NULL, NULL, NULL,
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
