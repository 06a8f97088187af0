/* mitogen-prompt-patterns.c: what su and doas say, as regular expressions
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-prompt-patterns.h"

#include <mitogen/mitogen.h>
#include <string.h>

/* A prompt is the end of one line: a longer last line is output, not a
 * prompt, and is not searched byte after byte. */
#define MAX_PROMPT_LINE 512

struct _MitogenPromptPatterns
{
  GPtrArray *regexes; /* of GRegex */
  /* Where the line of the last prompt found starts, plus one; 0 for none.
   * A prompt is found as soon as it matches, "Password:" before the space
   * of "Password: " arrives: the rest of its line is not a second one. */
  gsize prompt_line;
};

/**
 * mitogen_prompt_patterns_new:
 * @patterns: (array zero-terminated=1): regular expressions, matched
 *   without regard to case, on bytes (what a child says need not be UTF-8)
 * @property: the property they came from, named in errors
 * @error: return location for an error
 *
 * Returns: (transfer full): the compiled patterns, or %NULL with @error
 *   set if one does not compile
 */
MitogenPromptPatterns *
mitogen_prompt_patterns_new (const gchar *const *patterns,
                             const gchar *property,
                             GError **error)
{
  g_autoptr (MitogenPromptPatterns) self = g_new0 (MitogenPromptPatterns, 1);

  self->regexes
      = g_ptr_array_new_with_free_func ((GDestroyNotify) g_regex_unref);
  for (; patterns && *patterns; patterns++)
    {
      g_autoptr (GError) local_error = NULL;
      GRegex *regex = g_regex_new (
          *patterns, G_REGEX_CASELESS | G_REGEX_RAW | G_REGEX_OPTIMIZE, 0,
          &local_error);

      if (!regex)
        {
          g_set_error (error, MITOGEN_STREAM_ERROR,
                       MITOGEN_STREAM_ERROR_CONNECT,
                       "%s: “%s” is not a regular expression: %s", property,
                       *patterns, local_error->message);
          return NULL;
        }
      g_ptr_array_add (self->regexes, regex);
    }
  return g_steal_pointer (&self);
}

void
mitogen_prompt_patterns_free (MitogenPromptPatterns *self)
{
  if (!self)
    return;
  g_ptr_array_unref (self->regexes);
  g_free (self);
}

/* Whether any pattern matches somewhere in @text. */
gboolean
mitogen_prompt_patterns_match (MitogenPromptPatterns *self, const gchar *text)
{
  if (!self)
    return FALSE;
  for (guint i = 0; i < self->regexes->len; i++)
    if (g_regex_match (self->regexes->pdata[i], text, 0, NULL))
      return TRUE;
  return FALSE;
}

/* Whether any pattern matches the line @output ends with, the one a
 * program waiting for a password has left unfinished, for the first
 * time on that line. */
gboolean
mitogen_prompt_patterns_match_last_line (MitogenPromptPatterns *self,
                                         const GString *output)
{
  const gchar *end = output->str + output->len;
  const gchar *line = end;

  while (line > output->str && line[-1] != '\n' && line[-1] != '\r')
    {
      line--;
      if (end - line > MAX_PROMPT_LINE)
        return FALSE;
    }
  if (line == end || !self
      || self->prompt_line == (gsize) (line - output->str) + 1)
    return FALSE;
  if (!mitogen_prompt_patterns_match (self, line))
    return FALSE;
  self->prompt_line = (gsize) (line - output->str) + 1;
  return TRUE;
}
