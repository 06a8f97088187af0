/* mitogen-su-stream.c: the `su` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "../password-prompt/mitogen-prompt-patterns.h"

#include <gmodule.h>
#include <mitogen/mitogen.h>
#include <string.h>

/**
 * MitogenSuStream:
 *
 * Starts a child context on this host as another user through su(1), on
 * a pseudo-terminal when there is a password to answer su's prompt with.
 * The password is written to the terminal when su asks; it is never put
 * on a command line or in an environment.
 *
 * su's prompt and messages cannot be chosen as sudo's can, and are
 * translated: `prompt-patterns` and `failure-patterns` say what they
 * look like. The defaults cover the C locale of util-linux and shadow su
 * and the `[sudo: authenticate] Password:` form of sudo-rs's su.
 *
 * Options: those of [class@Mitogen.ParentStream], and `username`
 * (default `root`), `su-path` (default `su`), `prompt-patterns` and
 * `failure-patterns`.
 */
#define MITOGEN_TYPE_SU_STREAM (mitogen_su_stream_get_type ())
G_DECLARE_FINAL_TYPE (
    MitogenSuStream, mitogen_su_stream, MITOGEN, SU_STREAM, MitogenParentStream)

struct _MitogenSuStream
{
  MitogenParentStream parent_instance;

  gchar *username;
  gchar *su_path;
  gchar **prompt_patterns;
  gchar **failure_patterns;
  /* Compiled from the two above by get_boot_command. */
  MitogenPromptPatterns *prompts;
  MitogenPromptPatterns *failures;
};

G_DEFINE_DYNAMIC_TYPE (MitogenSuStream,
                       mitogen_su_stream,
                       MITOGEN_TYPE_PARENT_STREAM)

enum
{
  PROP_0,
  PROP_USERNAME,
  PROP_SU_PATH,
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

/* util-linux: "user X does not exist or the user entry does not contain
 * all the required fields"; shadow: "user X does not exist". */
static const gchar *const unknown_user[] = {
  "does not exist",
  "unknown user",
  "unknown login",
  NULL,
};

/* su runs its command with the user's shell, as one string. */
static gchar *
quote_command (gchar **argv)
{
  g_autoptr (GString) command = g_string_new ("exec");

  for (guint i = 0; argv[i]; i++)
    {
      g_autofree gchar *quoted = g_shell_quote (argv[i]);

      g_string_append_printf (command, " %s", quoted);
    }
  return g_string_free (g_steal_pointer (&command), FALSE);
}

static gboolean
compile_patterns (MitogenSuStream *self, GError **error)
{
  g_clear_pointer (&self->prompts, mitogen_prompt_patterns_free);
  g_clear_pointer (&self->failures, mitogen_prompt_patterns_free);
  self->prompts = mitogen_prompt_patterns_new (
      (const gchar *const *) self->prompt_patterns, "su prompt-patterns",
      error);
  if (!self->prompts)
    return FALSE;
  self->failures = mitogen_prompt_patterns_new (
      (const gchar *const *) self->failure_patterns, "su failure-patterns",
      error);
  return self->failures != NULL;
}

static gchar **
mitogen_su_stream_get_boot_command (MitogenParentStream *stream, GError **error)
{
  MitogenSuStream *self = MITOGEN_SU_STREAM (stream);
  g_auto (GStrv) agent = NULL;
  gchar **argv;

  /* su would take it for an option. */
  if (!*self->username || self->username[0] == '-')
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "su: “%s” is not a user name", self->username);
      return NULL;
    }
  if (!compile_patterns (self, error))
    return NULL;
  agent = mitogen_parent_stream_get_agent_command (stream, error);
  if (!agent)
    return NULL;
  argv = g_new0 (gchar *, 6);
  argv[0] = g_strdup (self->su_path);
  argv[1] = g_strdup (self->username);
  argv[2] = g_strdup ("-c");
  argv[3] = quote_command (agent);
  return argv;
}

static gboolean
mitogen_su_stream_check_output (MitogenParentStream *stream,
                                const gchar *text,
                                GError **error)
{
  MitogenSuStream *self = MITOGEN_SU_STREAM (stream);

  if (mitogen_prompt_patterns_match (self->failures, text))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "su: incorrect password for %s", self->username);
      return TRUE;
    }
  for (guint i = 0; unknown_user[i]; i++)
    if (strstr (text, unknown_user[i]))
      {
        g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                     "su: unknown user %s", self->username);
        return TRUE;
      }
  return FALSE;
}

static gboolean
mitogen_su_stream_is_prompt (MitogenParentStream *stream, GString *output)
{
  MitogenSuStream *self = MITOGEN_SU_STREAM (stream);

  return mitogen_prompt_patterns_match_last_line (self->prompts, output);
}

static void
mitogen_su_stream_get_property (GObject *object,
                                guint prop_id,
                                GValue *value,
                                GParamSpec *pspec)
{
  MitogenSuStream *self = MITOGEN_SU_STREAM (object);

  switch (prop_id)
    {
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_SU_PATH:
      g_value_set_string (value, self->su_path);
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
mitogen_su_stream_set_property (GObject *object,
                                guint prop_id,
                                const GValue *value,
                                GParamSpec *pspec)
{
  MitogenSuStream *self = MITOGEN_SU_STREAM (object);

  switch (prop_id)
    {
    case PROP_USERNAME:
      set_string (&self->username, value, "root");
      break;
    case PROP_SU_PATH:
      set_string (&self->su_path, value, "su");
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
mitogen_su_stream_finalize (GObject *object)
{
  MitogenSuStream *self = MITOGEN_SU_STREAM (object);

  g_free (self->username);
  g_free (self->su_path);
  g_strfreev (self->prompt_patterns);
  g_strfreev (self->failure_patterns);
  mitogen_prompt_patterns_free (self->prompts);
  mitogen_prompt_patterns_free (self->failures);
  G_OBJECT_CLASS (mitogen_su_stream_parent_class)->finalize (object);
}

static void
mitogen_su_stream_class_init (MitogenSuStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MitogenParentStreamClass *parent_class = MITOGEN_PARENT_STREAM_CLASS (klass);

  object_class->get_property = mitogen_su_stream_get_property;
  object_class->set_property = mitogen_su_stream_set_property;
  object_class->finalize = mitogen_su_stream_finalize;

  parent_class->transport_name = "su";
  parent_class->get_boot_command = mitogen_su_stream_get_boot_command;
  parent_class->is_prompt = mitogen_su_stream_is_prompt;
  parent_class->check_output = mitogen_su_stream_check_output;

  /**
   * MitogenSuStream:username:
   *
   * The user to run the agent as.
   */
  props[PROP_USERNAME]
      = g_param_spec_string ("username", NULL, NULL, "root",
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSuStream:su-path:
   *
   * The su program; searched in `PATH`.
   */
  props[PROP_SU_PATH] = g_param_spec_string (
      "su-path", NULL, NULL, "su", G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSuStream:prompt-patterns:
   *
   * Regular expressions (case-insensitive) for su's password prompt,
   * matched against the line su leaves unfinished; `password: ?$` by
   * default. Set them for a translated su.
   */
  props[PROP_PROMPT_PATTERNS]
      = g_param_spec_boxed ("prompt-patterns", NULL, NULL, G_TYPE_STRV,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSuStream:failure-patterns:
   *
   * Regular expressions (case-insensitive) for what su says when the
   * password is wrong, such as `Authentication failure`.
   */
  props[PROP_FAILURE_PATTERNS]
      = g_param_spec_boxed ("failure-patterns", NULL, NULL, G_TYPE_STRV,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
mitogen_su_stream_class_finalize (MitogenSuStreamClass *klass)
{
}

static void
mitogen_su_stream_init (MitogenSuStream *self)
{
  self->username = g_strdup ("root");
  self->su_path = g_strdup ("su");
  self->prompt_patterns = g_strdupv ((gchar **) default_prompts);
  self->failure_patterns = g_strdupv ((gchar **) default_failures);
}

G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);

G_MODULE_EXPORT GType
mitogen_transport_register (GTypeModule *module)
{
  mitogen_su_stream_register_type (module);
  return MITOGEN_TYPE_SU_STREAM;
}
