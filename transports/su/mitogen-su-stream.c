/* mitogen-su-stream.c: the `su` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-password-prompt-stream.h"

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
 * `failure-patterns` (see mitogen-password-prompt-stream.c).
 */
#define MITOGEN_TYPE_SU_STREAM (mitogen_su_stream_get_type ())
G_DECLARE_FINAL_TYPE (MitogenSuStream,
                      mitogen_su_stream,
                      MITOGEN,
                      SU_STREAM,
                      MitogenPasswordPromptStream)

struct _MitogenSuStream
{
  MitogenPasswordPromptStream parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (MitogenSuStream,
                       mitogen_su_stream,
                       MITOGEN_TYPE_PASSWORD_PROMPT_STREAM)

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

/* su USER -c 'exec AGENT…' */
static gchar **
mitogen_su_stream_build_command (MitogenPasswordPromptStream *self,
                                 gchar **agent)
{
  gchar **argv = g_new0 (gchar *, 5);

  argv[0] = g_strdup (mitogen_password_prompt_stream_get_program_path (self));
  argv[1] = g_strdup (mitogen_password_prompt_stream_get_username (self));
  argv[2] = g_strdup ("-c");
  argv[3] = quote_command (agent);
  return argv;
}

static void
mitogen_su_stream_class_init (MitogenSuStreamClass *klass)
{
  MitogenPasswordPromptStreamClass *prompt_class
      = MITOGEN_PASSWORD_PROMPT_STREAM_CLASS (klass);

  MITOGEN_PARENT_STREAM_CLASS (klass)->transport_name = "su";
  prompt_class->program = "su";
  prompt_class->unknown_user = unknown_user;
  prompt_class->build_command = mitogen_su_stream_build_command;
  /**
   * MitogenSuStream:su-path:
   *
   * The su program; searched in `PATH`.
   */
  mitogen_password_prompt_stream_class_install_path (G_OBJECT_CLASS (klass),
                                                     "su");
}

static void
mitogen_su_stream_class_finalize (MitogenSuStreamClass *klass)
{
}

static void
mitogen_su_stream_init (MitogenSuStream *self)
{
}

G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);

G_MODULE_EXPORT GType
mitogen_transport_register (GTypeModule *module)
{
  mitogen_password_prompt_stream_register_type (module, "su");
  mitogen_su_stream_register_type (module);
  return MITOGEN_TYPE_SU_STREAM;
}
