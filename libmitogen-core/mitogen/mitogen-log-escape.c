/* mitogen-log-escape.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-log-escape.h"

#include <string.h>

/* Control characters would let a child end the line it is given and
 * forge lines of the master's own, or drive the terminal (ESC). */
static gboolean
is_control (gunichar c)
{
  return c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0);
}

static void
append_escaped (GString *out, gunichar c)
{
  switch (c)
    {
    case '\n':
      g_string_append (out, "\\n");
      break;
    case '\r':
      g_string_append (out, "\\r");
      break;
    case '\t':
      g_string_append (out, "\\t");
      break;
    default:
      g_string_append_printf (out, "\\x%02x", c);
    }
}

/*
 * mitogen_log_escape:
 * @text: text from another context, not necessarily valid UTF-8
 *
 * Returns one line of valid UTF-8 showing @text: control characters
 * (C0, DEL, C1) become `\n`, `\r`, `\t` or `\xNN`, a byte that is not
 * UTF-8 becomes `\xNN`, and a backslash is doubled so that no escape can
 * be mistaken for one of these.
 *
 * Returns: (transfer full): the escaped text
 */
gchar *
mitogen_log_escape (const gchar *text)
{
  GString *out = g_string_sized_new (strlen (text));
  const gchar *p = text;

  while (*p)
    {
      gunichar c = g_utf8_get_char_validated (p, -1);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p);
          p++;
          continue;
        }
      if (c == '\\')
        g_string_append (out, "\\\\");
      else if (is_control (c))
        append_escaped (out, c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  return g_string_free (out, FALSE);
}
