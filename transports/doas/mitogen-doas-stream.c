/* mitogen-doas-stream.c: the `doas` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-password-prompt-stream.h"

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
 * `failure-patterns` (see mitogen-password-prompt-stream.c).
 */
#define MITOGEN_TYPE_DOAS_STREAM (mitogen_doas_stream_get_type ())
G_DECLARE_FINAL_TYPE (MitogenDoasStream,
                      mitogen_doas_stream,
                      MITOGEN,
                      DOAS_STREAM,
                      MitogenPasswordPromptStream)

struct _MitogenDoasStream
{
  MitogenPasswordPromptStream parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (MitogenDoasStream,
                       mitogen_doas_stream,
                       MITOGEN_TYPE_PASSWORD_PROMPT_STREAM)

static const gchar *const unknown_user[] = {
  "unknown user",
  NULL,
};

/* doas [-n] -u USER -- AGENT… */
static gchar **
mitogen_doas_stream_build_command (MitogenPasswordPromptStream *self,
                                   gchar **agent)
{
  GPtrArray *argv = g_ptr_array_new ();

  g_ptr_array_add (
      argv, g_strdup (mitogen_password_prompt_stream_get_program_path (self)));
  /* Without a password there is no terminal to ask on: doas says so at
   * once instead. */
  if (!mitogen_parent_stream_get_password (MITOGEN_PARENT_STREAM (self)))
    g_ptr_array_add (argv, g_strdup ("-n"));
  g_ptr_array_add (argv, g_strdup ("-u"));
  g_ptr_array_add (
      argv, g_strdup (mitogen_password_prompt_stream_get_username (self)));
  g_ptr_array_add (argv, g_strdup ("--"));
  for (guint i = 0; agent[i]; i++)
    g_ptr_array_add (argv, g_strdup (agent[i]));
  g_ptr_array_add (argv, NULL);
  return (gchar **) g_ptr_array_free (argv, FALSE);
}

/* doas's own refusals: no rule, or a password wanted and none given. */
static gboolean
mitogen_doas_stream_check_more_output (MitogenPasswordPromptStream *self,
                                       const gchar *text,
                                       GError **error)
{
  if (strstr (text, "Operation not permitted"))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "doas: no rule lets this user run the agent as %s",
                   mitogen_password_prompt_stream_get_username (self));
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

static void
mitogen_doas_stream_class_init (MitogenDoasStreamClass *klass)
{
  MitogenPasswordPromptStreamClass *prompt_class
      = MITOGEN_PASSWORD_PROMPT_STREAM_CLASS (klass);

  MITOGEN_PARENT_STREAM_CLASS (klass)->transport_name = "doas";
  prompt_class->program = "doas";
  prompt_class->unknown_user = unknown_user;
  prompt_class->build_command = mitogen_doas_stream_build_command;
  prompt_class->check_more_output = mitogen_doas_stream_check_more_output;
  /**
   * MitogenDoasStream:doas-path:
   *
   * The doas program; searched in `PATH`.
   */
  mitogen_password_prompt_stream_class_install_path (G_OBJECT_CLASS (klass),
                                                     "doas");
}

static void
mitogen_doas_stream_class_finalize (MitogenDoasStreamClass *klass)
{
}

static void
mitogen_doas_stream_init (MitogenDoasStream *self)
{
}

G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);

G_MODULE_EXPORT GType
mitogen_transport_register (GTypeModule *module)
{
  mitogen_password_prompt_stream_register_type (module, "doas");
  mitogen_doas_stream_register_type (module);
  return MITOGEN_TYPE_DOAS_STREAM;
}
