/* mitogen-doas-stream.c: the `doas` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "../password-prompt/mitogen-prompt-patterns.h"

#include <gmodule.h>
#include <mitogen/mitogen.h>
#include <string.h>

/**
 * MitogenDoasStream:
 *
 * Starts a child context on this host as another user through doas(1),
 * on a pseudo-terminal when there is a password to answer doas's prompt
 * with (doas reads it from a terminal only), and with `-n` otherwise, so
 * that a rule that wants a password fails at once. The password is
 * written to the terminal when doas asks; it is never put on a command
 * line or in an environment.
 *
 * doas's prompt (`doas (user@host) password:`) cannot be chosen as
 * sudo's can, and PAM may translate it: `prompt-patterns` and
 * `failure-patterns` say what it and a refusal look like.
 *
 * Options: those of [class@Mitogen.ParentStream], and `username`
 * (default `root`), `doas-path` (default `doas`), `prompt-patterns` and
 * `failure-patterns`.
 */
#define MITOGEN_TYPE_DOAS_STREAM (mitogen_doas_stream_get_type ())
G_DECLARE_FINAL_TYPE (MitogenDoasStream,
                      mitogen_doas_stream,
                      MITOGEN,
                      DOAS_STREAM,
                      MitogenParentStream)

struct _MitogenDoasStream
{
  MitogenParentStream parent_instance;

  gchar *username;
  gchar *doas_path;
  gchar **prompt_patterns;
  gchar **failure_patterns;
  /* Compiled from the two above by get_boot_command. */
  MitogenPromptPatterns *prompts;
  MitogenPromptPatterns *failures;
};

G_DEFINE_DYNAMIC_TYPE (MitogenDoasStream,
                       mitogen_doas_stream,
                       MITOGEN_TYPE_PARENT_STREAM)

enum
{
  PROP_0,
  PROP_USERNAME,
  PROP_DOAS_PATH,
  PROP_PROMPT_PATTERNS,
  PROP_FAILURE_PATTERNS,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

static const gchar *const default_prompts[] = {
  "password: ?$",
  NULL,
};

static const gchar *const default_failures[] = {
  "authentication fail",
  "incorrect password",
  NULL,
};

static const gchar *const unknown_user[] = {
  "unknown user",
  NULL,
};

static gboolean
compile_patterns (MitogenDoasStream *self, GError **error)
{
  g_clear_pointer (&self->prompts, mitogen_prompt_patterns_free);
  g_clear_pointer (&self->failures, mitogen_prompt_patterns_free);
  self->prompts = mitogen_prompt_patterns_new (
      (const gchar *const *) self->prompt_patterns, "doas prompt-patterns",
      error);
  if (!self->prompts)
    return FALSE;
  self->failures = mitogen_prompt_patterns_new (
      (const gchar *const *) self->failure_patterns, "doas failure-patterns",
      error);
  return self->failures != NULL;
}

static gchar **
mitogen_doas_stream_get_boot_command (MitogenParentStream *stream,
                                      GError **error)
{
  MitogenDoasStream *self = MITOGEN_DOAS_STREAM (stream);
  g_auto (GStrv) agent = NULL;
  GPtrArray *argv;

  /* doas would take it for an option. */
  if (!*self->username || self->username[0] == '-')
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "doas: “%s” is not a user name", self->username);
      return NULL;
    }
  if (!compile_patterns (self, error))
    return NULL;
  agent = mitogen_parent_stream_get_agent_command (stream, error);
  if (!agent)
    return NULL;
  argv = g_ptr_array_new ();
  g_ptr_array_add (argv, g_strdup (self->doas_path));
  /* Without a password there is no terminal to ask on: doas says so at
   * once instead. */
  if (!mitogen_parent_stream_get_password (stream))
    g_ptr_array_add (argv, g_strdup ("-n"));
  g_ptr_array_add (argv, g_strdup ("-u"));
  g_ptr_array_add (argv, g_strdup (self->username));
  g_ptr_array_add (argv, g_strdup ("--"));
  for (guint i = 0; agent[i]; i++)
    g_ptr_array_add (argv, g_strdup (agent[i]));
  g_ptr_array_add (argv, NULL);
  return (gchar **) g_ptr_array_free (argv, FALSE);
}

static gboolean
mitogen_doas_stream_check_output (MitogenParentStream *stream,
                                  const gchar *text,
                                  GError **error)
{
  MitogenDoasStream *self = MITOGEN_DOAS_STREAM (stream);

  if (mitogen_prompt_patterns_match (self->failures, text))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "doas: incorrect password for %s", self->username);
      return TRUE;
    }
  for (guint i = 0; unknown_user[i]; i++)
    if (strstr (text, unknown_user[i]))
      {
        g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                     "doas: unknown user %s", self->username);
        return TRUE;
      }
  if (strstr (text, "Operation not permitted"))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "doas: no rule lets this user run the agent as %s",
                   self->username);
      return TRUE;
    }
  if (strstr (text, "Authentication required")
      || strstr (text, "a tty is required"))
    {
      g_set_error_literal (error, MITOGEN_STREAM_ERROR,
                           MITOGEN_STREAM_ERROR_CONNECT,
                           "doas asked for a password but none was given");
      return TRUE;
    }
  return FALSE;
}

static gboolean
mitogen_doas_stream_is_prompt (MitogenParentStream *stream, GString *output)
{
  MitogenDoasStream *self = MITOGEN_DOAS_STREAM (stream);

  return mitogen_prompt_patterns_match_last_line (self->prompts, output);
}

static void
mitogen_doas_stream_get_property (GObject *object,
                                  guint prop_id,
                                  GValue *value,
                                  GParamSpec *pspec)
{
  MitogenDoasStream *self = MITOGEN_DOAS_STREAM (object);

  switch (prop_id)
    {
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_DOAS_PATH:
      g_value_set_string (value, self->doas_path);
      break;
    case PROP_PROMPT_PATTERNS:
      g_value_set_boxed (value, self->prompt_patterns);
      break;
    case PROP_FAILURE_PATTERNS:
      g_value_set_boxed (value, self->failure_patterns);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* A %NULL string or list stands for the default. */
static void
set_string (gchar **field, const GValue *value, const gchar *fallback)
{
  g_free (*field);
  *field = g_value_dup_string (value);
  if (!*field)
    *field = g_strdup (fallback);
}

static void
set_strv (gchar ***field, const GValue *value, const gchar *const *fallback)
{
  g_strfreev (*field);
  *field = g_value_dup_boxed (value);
  if (!*field)
    *field = g_strdupv ((gchar **) fallback);
}

static void
mitogen_doas_stream_set_property (GObject *object,
                                  guint prop_id,
                                  const GValue *value,
                                  GParamSpec *pspec)
{
  MitogenDoasStream *self = MITOGEN_DOAS_STREAM (object);

  switch (prop_id)
    {
    case PROP_USERNAME:
      set_string (&self->username, value, "root");
      break;
    case PROP_DOAS_PATH:
      set_string (&self->doas_path, value, "doas");
      break;
    case PROP_PROMPT_PATTERNS:
      set_strv (&self->prompt_patterns, value, default_prompts);
      break;
    case PROP_FAILURE_PATTERNS:
      set_strv (&self->failure_patterns, value, default_failures);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_doas_stream_finalize (GObject *object)
{
  MitogenDoasStream *self = MITOGEN_DOAS_STREAM (object);

  g_free (self->username);
  g_free (self->doas_path);
  g_strfreev (self->prompt_patterns);
  g_strfreev (self->failure_patterns);
  mitogen_prompt_patterns_free (self->prompts);
  mitogen_prompt_patterns_free (self->failures);
  G_OBJECT_CLASS (mitogen_doas_stream_parent_class)->finalize (object);
}

static void
mitogen_doas_stream_class_init (MitogenDoasStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MitogenParentStreamClass *parent_class = MITOGEN_PARENT_STREAM_CLASS (klass);

  object_class->get_property = mitogen_doas_stream_get_property;
  object_class->set_property = mitogen_doas_stream_set_property;
  object_class->finalize = mitogen_doas_stream_finalize;

  parent_class->transport_name = "doas";
  parent_class->get_boot_command = mitogen_doas_stream_get_boot_command;
  parent_class->is_prompt = mitogen_doas_stream_is_prompt;
  parent_class->check_output = mitogen_doas_stream_check_output;

  /**
   * MitogenDoasStream:username:
   *
   * The user to run the agent as.
   */
  props[PROP_USERNAME]
      = g_param_spec_string ("username", NULL, NULL, "root",
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenDoasStream:doas-path:
   *
   * The doas program; searched in `PATH`.
   */
  props[PROP_DOAS_PATH]
      = g_param_spec_string ("doas-path", NULL, NULL, "doas",
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenDoasStream:prompt-patterns:
   *
   * Regular expressions (case-insensitive) for doas's password prompt,
   * matched against the line doas leaves unfinished; `password: ?$` by
   * default. Set them for a translated PAM stack.
   */
  props[PROP_PROMPT_PATTERNS]
      = g_param_spec_boxed ("prompt-patterns", NULL, NULL, G_TYPE_STRV,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenDoasStream:failure-patterns:
   *
   * Regular expressions (case-insensitive) for what doas says when the
   * password is wrong, such as `Authentication failed`.
   */
  props[PROP_FAILURE_PATTERNS]
      = g_param_spec_boxed ("failure-patterns", NULL, NULL, G_TYPE_STRV,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
mitogen_doas_stream_class_finalize (MitogenDoasStreamClass *klass)
{
}

static void
mitogen_doas_stream_init (MitogenDoasStream *self)
{
  self->username = g_strdup ("root");
  self->doas_path = g_strdup ("doas");
  self->prompt_patterns = g_strdupv ((gchar **) default_prompts);
  self->failure_patterns = g_strdupv ((gchar **) default_failures);
}

G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);

G_MODULE_EXPORT GType
mitogen_transport_register (GTypeModule *module)
{
  mitogen_doas_stream_register_type (module);
  return MITOGEN_TYPE_DOAS_STREAM;
}
