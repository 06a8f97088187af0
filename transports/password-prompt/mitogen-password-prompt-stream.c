/* mitogen-password-prompt-stream.c: what su and doas share
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-password-prompt-stream.h"

#include <string.h>

typedef struct
{
  gchar *username;
  gchar *program_path;
  gchar **prompt_patterns;
  gchar **failure_patterns;
  /* Compiled from the two above by get_boot_command. */
  MitogenPromptPatterns *prompts;
  MitogenPromptPatterns *failures;
} MitogenPasswordPromptStreamPrivate;

enum
{
  PROP_0,
  PROP_USERNAME,
  PROP_PROMPT_PATTERNS,
  PROP_FAILURE_PATTERNS,
  N_PROPS,
  /* Installed on the subclass, named after its program. */
  PROP_PROGRAM_PATH = N_PROPS,
};

static GParamSpec *props[N_PROPS];

/* This module's copy of the type; see the header. */
static GType mitogen_password_prompt_stream_type_id;
static gpointer mitogen_password_prompt_stream_parent_class;
static gint private_offset;

static const gchar *const default_prompts[] = {
  "password: ?$",
  NULL,
};

static const gchar *const default_failures[] = {
  "authentication fail",
  "incorrect password",
  NULL,
};

static MitogenPasswordPromptStreamPrivate *
get_private (MitogenPasswordPromptStream *self)
{
  return G_STRUCT_MEMBER_P (self, private_offset);
}

GType
mitogen_password_prompt_stream_get_type (void)
{
  return mitogen_password_prompt_stream_type_id;
}

static const gchar *
program_of (MitogenPasswordPromptStream *self)
{
  return MITOGEN_PASSWORD_PROMPT_STREAM_GET_CLASS (self)->program;
}

const gchar *
mitogen_password_prompt_stream_get_username (MitogenPasswordPromptStream *self)
{
  return get_private (self)->username;
}

const gchar *
mitogen_password_prompt_stream_get_program_path (
    MitogenPasswordPromptStream *self)
{
  return get_private (self)->program_path;
}

static gboolean
compile_patterns (MitogenPasswordPromptStream *self, GError **error)
{
  MitogenPasswordPromptStreamPrivate *priv = get_private (self);
  g_autofree gchar *prompt_property
      = g_strdup_printf ("%s prompt-patterns", program_of (self));
  g_autofree gchar *failure_property
      = g_strdup_printf ("%s failure-patterns", program_of (self));

  g_clear_pointer (&priv->prompts, mitogen_prompt_patterns_free);
  g_clear_pointer (&priv->failures, mitogen_prompt_patterns_free);
  priv->prompts = mitogen_prompt_patterns_new (
      (const gchar *const *) priv->prompt_patterns, prompt_property, error);
  if (!priv->prompts)
    return FALSE;
  priv->failures = mitogen_prompt_patterns_new (
      (const gchar *const *) priv->failure_patterns, failure_property, error);
  return priv->failures != NULL;
}

static gchar **
get_boot_command (MitogenParentStream *stream, GError **error)
{
  MitogenPasswordPromptStream *self = MITOGEN_PASSWORD_PROMPT_STREAM (stream);
  MitogenPasswordPromptStreamPrivate *priv = get_private (self);
  g_auto (GStrv) agent = NULL;

  /* The program would take it for an option. */
  if (!*priv->username || priv->username[0] == '-')
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "%s: “%s” is not a user name", program_of (self),
                   priv->username);
      return NULL;
    }
  if (!compile_patterns (self, error))
    return NULL;
  agent = mitogen_parent_stream_get_agent_command (stream, error);
  if (!agent)
    return NULL;
  return MITOGEN_PASSWORD_PROMPT_STREAM_GET_CLASS (self)->build_command (self,
                                                                         agent);
}

static gboolean
check_output (MitogenParentStream *stream, const gchar *text, GError **error)
{
  MitogenPasswordPromptStream *self = MITOGEN_PASSWORD_PROMPT_STREAM (stream);
  MitogenPasswordPromptStreamClass *klass
      = MITOGEN_PASSWORD_PROMPT_STREAM_GET_CLASS (self);
  MitogenPasswordPromptStreamPrivate *priv = get_private (self);

  if (mitogen_prompt_patterns_match (priv->failures, text))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "%s: incorrect password for %s", klass->program,
                   priv->username);
      return TRUE;
    }
  for (guint i = 0; klass->unknown_user && klass->unknown_user[i]; i++)
    if (strstr (text, klass->unknown_user[i]))
      {
        g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                     "%s: unknown user %s", klass->program, priv->username);
        return TRUE;
      }
  return klass->check_more_output
         && klass->check_more_output (self, text, error);
}

static gboolean
is_prompt (MitogenParentStream *stream, GString *output)
{
  MitogenPasswordPromptStream *self = MITOGEN_PASSWORD_PROMPT_STREAM (stream);

  return mitogen_prompt_patterns_match_last_line (get_private (self)->prompts,
                                                  output);
}

static void
get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  MitogenPasswordPromptStreamPrivate *priv
      = get_private (MITOGEN_PASSWORD_PROMPT_STREAM (object));

  switch (prop_id)
    {
    case PROP_USERNAME:
      g_value_set_string (value, priv->username);
      break;
    case PROP_PROGRAM_PATH:
      g_value_set_string (value, priv->program_path);
      break;
    case PROP_PROMPT_PATTERNS:
      g_value_set_boxed (value, priv->prompt_patterns);
      break;
    case PROP_FAILURE_PATTERNS:
      g_value_set_boxed (value, priv->failure_patterns);
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
set_property (GObject *object,
              guint prop_id,
              const GValue *value,
              GParamSpec *pspec)
{
  MitogenPasswordPromptStream *self = MITOGEN_PASSWORD_PROMPT_STREAM (object);
  MitogenPasswordPromptStreamPrivate *priv = get_private (self);

  switch (prop_id)
    {
    case PROP_USERNAME:
      set_string (&priv->username, value, "root");
      break;
    case PROP_PROGRAM_PATH:
      set_string (&priv->program_path, value, program_of (self));
      break;
    case PROP_PROMPT_PATTERNS:
      set_strv (&priv->prompt_patterns, value, default_prompts);
      break;
    case PROP_FAILURE_PATTERNS:
      set_strv (&priv->failure_patterns, value, default_failures);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
finalize (GObject *object)
{
  MitogenPasswordPromptStreamPrivate *priv
      = get_private (MITOGEN_PASSWORD_PROMPT_STREAM (object));

  g_free (priv->username);
  g_free (priv->program_path);
  g_strfreev (priv->prompt_patterns);
  g_strfreev (priv->failure_patterns);
  mitogen_prompt_patterns_free (priv->prompts);
  mitogen_prompt_patterns_free (priv->failures);
  G_OBJECT_CLASS (mitogen_password_prompt_stream_parent_class)
      ->finalize (object);
}

static void
class_init (MitogenPasswordPromptStreamClass *klass, gpointer class_data)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MitogenParentStreamClass *parent_class = MITOGEN_PARENT_STREAM_CLASS (klass);

  mitogen_password_prompt_stream_parent_class
      = g_type_class_peek_parent (klass);
  g_type_class_adjust_private_offset (klass, &private_offset);
  object_class->get_property = get_property;
  object_class->set_property = set_property;
  object_class->finalize = finalize;
  parent_class->get_boot_command = get_boot_command;
  parent_class->is_prompt = is_prompt;
  parent_class->check_output = check_output;

  /* MitogenSuStream:username, MitogenDoasStream:username: the user to
   * run the agent as. */
  props[PROP_USERNAME]
      = g_param_spec_string ("username", NULL, NULL, "root",
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /* …:prompt-patterns: regular expressions (case-insensitive) for the
   * password prompt, matched against the line the program leaves
   * unfinished; `password: ?$` by default. Set them for a translated
   * program or PAM stack. */
  props[PROP_PROMPT_PATTERNS]
      = g_param_spec_boxed ("prompt-patterns", NULL, NULL, G_TYPE_STRV,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /* …:failure-patterns: regular expressions (case-insensitive) for what
   * the program says when the password is wrong, such as
   * `Authentication failure`. */
  props[PROP_FAILURE_PATTERNS]
      = g_param_spec_boxed ("failure-patterns", NULL, NULL, G_TYPE_STRV,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
instance_init (GTypeInstance *instance, gpointer g_class)
{
  MitogenPasswordPromptStreamClass *klass = g_class;
  MitogenPasswordPromptStreamPrivate *priv
      = get_private ((MitogenPasswordPromptStream *) instance);

  priv->username = g_strdup ("root");
  priv->program_path = g_strdup (klass->program);
  priv->prompt_patterns = g_strdupv ((gchar **) default_prompts);
  priv->failure_patterns = g_strdupv ((gchar **) default_failures);
}

/* Registers this module's copy of the base as an abstract type named
 * after @program ("su"), before the module's own type. */
void
mitogen_password_prompt_stream_register_type (GTypeModule *module,
                                              const gchar *program)
{
  const GTypeInfo info = {
    .class_size = sizeof (MitogenPasswordPromptStreamClass),
    .class_init = (GClassInitFunc) class_init,
    .instance_size = sizeof (MitogenPasswordPromptStream),
    .instance_init = instance_init,
  };
  g_autofree gchar *name
      = g_strdup_printf ("MitogenPasswordPromptStream_%s", program);

  private_offset = sizeof (MitogenPasswordPromptStreamPrivate);
  mitogen_password_prompt_stream_type_id = g_type_module_register_type (
      module, MITOGEN_TYPE_PARENT_STREAM, name, &info, G_TYPE_FLAG_ABSTRACT);
}

/* Installs the subclass's path property, "PROGRAM-path": the program,
 * searched in `PATH`, @program by default. */
void
mitogen_password_prompt_stream_class_install_path (GObjectClass *klass,
                                                   const gchar *program)
{
  g_autofree gchar *name = g_strdup_printf ("%s-path", program);

  /* GObject gives each class its own (none inherited): the subclass's
   * property is this file's too. */
  klass->get_property = get_property;
  klass->set_property = set_property;
  g_object_class_install_property (
      klass, PROP_PROGRAM_PATH,
      g_param_spec_string (g_intern_string (name), NULL, NULL, program,
                           G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
}
