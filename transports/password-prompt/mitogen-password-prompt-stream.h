/* mitogen-password-prompt-stream.h: what su and doas share
 *
 * The base of the transports that run a program which asks for a password
 * on a terminal with a prompt and messages Mitogen cannot choose (su,
 * doas): the user to become, the program's path, the patterns of its
 * prompt and of its refusals, answering the prompt and reading the
 * refusals. Linked into each of their modules, not part of the library's
 * API. Each module registers its own copy of the base type, under a name
 * of its own (mitogen_password_prompt_stream_register_type()), since two
 * modules cannot register one type name.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gmodule.h>
#include <mitogen/mitogen.h>

#include "mitogen-prompt-patterns.h"

G_BEGIN_DECLS

#define MITOGEN_TYPE_PASSWORD_PROMPT_STREAM                                    \
  (mitogen_password_prompt_stream_get_type ())
G_DECLARE_DERIVABLE_TYPE (MitogenPasswordPromptStream,
                          mitogen_password_prompt_stream,
                          MITOGEN,
                          PASSWORD_PROMPT_STREAM,
                          MitogenParentStream)

/* @program: "su", the default of `program-path` and what errors start
 *   with; the path property is named after it ("su-path")
 * @unknown_user: what the program says of a user that does not exist
 * @build_command: the command line that runs @agent as the user, the
 *   program first
 * @check_more_output: the refusals of its own a program has (doas's
 *   rules), after the shared ones; may be NULL */
struct _MitogenPasswordPromptStreamClass
{
  MitogenParentStreamClass parent_class;

  const gchar *program;
  const gchar *const *unknown_user;
  gchar **(*build_command) (MitogenPasswordPromptStream *self, gchar **agent);
  gboolean (*check_more_output) (MitogenPasswordPromptStream *self,
                                 const gchar *text,
                                 GError **error);
};

void mitogen_password_prompt_stream_register_type (GTypeModule *module,
                                                   const gchar *program);
void mitogen_password_prompt_stream_class_install_path (GObjectClass *klass,
                                                        const gchar *program);
const gchar *
mitogen_password_prompt_stream_get_username (MitogenPasswordPromptStream *self);
const gchar *mitogen_password_prompt_stream_get_program_path (
    MitogenPasswordPromptStream *self);

G_END_DECLS
