/* mitogen-prompt-patterns.h: what su and doas say, as regular expressions
 *
 * Shared by the transports that answer a password prompt of a program
 * whose prompt and messages Mitogen cannot choose (su, doas): built into
 * each of their modules, not part of the library's API.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MitogenPromptPatterns MitogenPromptPatterns;

MitogenPromptPatterns *mitogen_prompt_patterns_new (
    const gchar *const *patterns, const gchar *property, GError **error);
void mitogen_prompt_patterns_free (MitogenPromptPatterns *self);
gboolean mitogen_prompt_patterns_match (MitogenPromptPatterns *self,
                                        const gchar *text);
gboolean mitogen_prompt_patterns_match_last_line (MitogenPromptPatterns *self,
                                                  const GString *output);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenPromptPatterns,
                               mitogen_prompt_patterns_free)

G_END_DECLS
