/* mitogen-minimize-source.c: strip comments and docstrings from Python source
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-minimize-source.h"

#include <string.h>

/*
 * The source is read once by a small Python tokenizer that records only what
 * the minimizer needs: where comments are, which bytes lie inside string
 * literals, and a summary of every logical line. Deciding what to drop then
 * marks bytes, and the output is the source with marked bytes left out.
 *
 * Line ends are never dropped, so every line keeps its number and tracebacks
 * from minimized code still point at the right line of the original. Code is
 * never reindented, so what is left of a line is a prefix of the original.
 */

/* Nested f-strings recurse; hostile input must not exhaust the stack. */
#define MAX_STRING_NESTING 32

#define NO_OFFSET G_MAXSIZE

#define UTF8_BOM "\xef\xbb\xbf"

/* One byte of these per byte of source. */
enum {
  MARK_IN_STRING = 1 << 0,
  MARK_DELETE = 1 << 1,
  MARK_PASS_BEFORE = 1 << 2,
};

typedef enum {
  TOKEN_NONE,
  TOKEN_NAME,
  TOKEN_NUMBER,
  TOKEN_PLAIN_STRING,
  TOKEN_FORMATTED_STRING,
  TOKEN_COLON,
  TOKEN_OTHER_OP,
} TokenKind;

typedef struct {
  gsize start;  /* offset of the first token */
  gsize end;    /* offset of the line end (or end of input) closing it */
  gsize indent; /* column of the first token, as Python counts it */
  gboolean only_plain_strings;
  gboolean opens_def_or_class;
  gboolean ends_with_colon;
  /* The run of string literals that ends the line, as in `def f(): "doc"`. */
  gsize trailing_strings_start;
  gboolean colon_before_trailing_strings;
} LogicalLine;

typedef struct {
  gsize start;
  gsize end;
} Comment;

typedef struct {
  gchar quote;
  gboolean triple;
  gboolean raw;
} StringKind;

typedef struct {
  const gchar *src;
  gsize len;
  gsize body_start; /* past a UTF-8 byte order mark */
  gsize pos;
  gsize bracket_depth;
  gboolean continued; /* a backslash joined this physical line to the last */
  gsize pending_indent;

  gboolean in_line;
  LogicalLine line;
  gsize line_tokens;
  TokenKind last_kind;
  gboolean first_token_is_async;

  GArray *lines;    /* of LogicalLine */
  GArray *comments; /* of Comment */
  guint8 *marks;
} Tokenizer;

static gboolean scan_string (const Tokenizer *t,
                             gsize pos,
                             gboolean raw,
                             gboolean formatted,
                             guint nesting,
                             gsize *end);

static gboolean
is_line_end_char (gchar c)
{
  /* Python reads a lone \r as a line end too. */
  return c == '\n' || c == '\r';
}

static gboolean
is_blank (gchar c)
{
  return c == ' ' || c == '\t' || c == '\f';
}

static gboolean
is_name_start (gchar c)
{
  /* Any non-ASCII byte may be part of a UTF-8 encoded identifier. */
  return g_ascii_isalpha (c) || c == '_' || (guchar) c >= 0x80;
}

static gboolean
is_name_char (gchar c)
{
  return is_name_start (c) || g_ascii_isdigit (c);
}

static gboolean
is_quote (gchar c)
{
  return c == '\'' || c == '"';
}

static gsize
skip_line_end (const Tokenizer *t,
               gsize pos)
{
  if (t->src[pos] == '\r' && pos + 1 < t->len && t->src[pos + 1] == '\n')
    return pos + 2;
  return pos + 1;
}

static gsize
skip_to_line_end (const Tokenizer *t,
                  gsize pos)
{
  while (pos < t->len && !is_line_end_char (t->src[pos]))
    pos++;
  return pos;
}

static gsize
skip_name (const Tokenizer *t,
           gsize pos)
{
  while (pos < t->len && is_name_char (t->src[pos]))
    pos++;
  return pos;
}

/* Columns as Python's tokenizer counts them for indentation. */
static gsize
measure_indent (const Tokenizer *t)
{
  gsize column = 0;
  gsize pos;

  for (pos = t->pos; pos < t->len; pos++)
    {
      switch (t->src[pos])
        {
        case ' ':
          column++;
          break;
        case '\t':
          column = (column / 8 + 1) * 8;
          break;
        case '\f':
          column = 0;
          break;
        default:
          return column;
        }
    }
  return column;
}

static gboolean
parse_string_prefix (const gchar *prefix,
                     gsize len,
                     gboolean *raw,
                     gboolean *formatted)
{
  static const gchar *const valid[] = {
    "r", "u", "b", "f", "br", "rb", "fr", "rf", NULL
  };
  gchar lower[3] = { 0 };
  gsize i;

  if (len == 0 || len > 2)
    return FALSE;
  for (i = 0; i < len; i++)
    lower[i] = g_ascii_tolower (prefix[i]);
  if (!g_strv_contains (valid, lower))
    return FALSE;
  *raw = strchr (lower, 'r') != NULL;
  *formatted = strchr (lower, 'f') != NULL;
  return TRUE;
}

/* Runs of string scanning: each takes the offset to start at and, on
 * success, sets @end past what it read. They fail on anything Python would
 * not accept as a string literal, which makes the whole source be left
 * alone rather than risk cutting a literal apart. */

static gboolean
at_closing_quote (const Tokenizer *t,
                  const StringKind *kind,
                  gsize pos)
{
  if (t->src[pos] != kind->quote)
    return FALSE;
  if (!kind->triple)
    return TRUE;
  return pos + 2 < t->len &&
         t->src[pos + 1] == kind->quote &&
         t->src[pos + 2] == kind->quote;
}

static gsize
closing_quote_length (const StringKind *kind)
{
  return kind->triple ? 3 : 1;
}

/* Even in a raw string a backslash keeps the next character (a quote, or
 * a line end) from ending the literal. */
static gsize
skip_escape (const Tokenizer *t,
             gsize pos)
{
  gsize next = pos + 1;

  if (next >= t->len)
    return t->len;
  if (is_line_end_char (t->src[next]))
    return skip_line_end (t, next);
  return next + 1;
}

static gsize
skip_fstring_escape (const Tokenizer *t,
                     const StringKind *kind,
                     gsize pos)
{
  gsize next = pos + 1;

  /* As in Python 3.12, a backslash does not stop a brace opening or
   * closing a replacement field. */
  if (next < t->len && (t->src[next] == '{' || t->src[next] == '}'))
    return next;

  /* In \N{DASH} the braces belong to the escape. */
  if (!kind->raw && next + 1 < t->len &&
      t->src[next] == 'N' && t->src[next + 1] == '{')
    {
      gsize pos_in_name = next + 2;

      while (pos_in_name < t->len && t->src[pos_in_name] != '}' &&
             t->src[pos_in_name] != kind->quote &&
             !is_line_end_char (t->src[pos_in_name]))
        pos_in_name++;
      if (pos_in_name < t->len && t->src[pos_in_name] == '}')
        return pos_in_name + 1;
      return pos_in_name;
    }

  return skip_escape (t, pos);
}

static gboolean
scan_plain_string_body (const Tokenizer *t,
                        const StringKind *kind,
                        gsize pos,
                        gsize *end)
{
  while (pos < t->len)
    {
      gchar c = t->src[pos];

      if (c == '\\')
        pos = skip_escape (t, pos);
      else if (at_closing_quote (t, kind, pos))
        {
          *end = pos + closing_quote_length (kind);
          return TRUE;
        }
      else if (is_line_end_char (c) && !kind->triple)
        return FALSE;
      else
        pos++;
    }
  return FALSE;
}

static gboolean scan_replacement_field (const Tokenizer *t,
                                        const StringKind *kind,
                                        gsize pos,
                                        guint nesting,
                                        gsize *end);

/* The format spec after `{value:` may hold replacement fields itself. */
static gboolean
scan_format_spec (const Tokenizer *t,
                  const StringKind *kind,
                  gsize pos,
                  guint nesting,
                  gsize *end)
{
  while (pos < t->len)
    {
      gchar c = t->src[pos];

      if (c == '{')
        {
          if (!scan_replacement_field (t, kind, pos + 1, nesting + 1, &pos))
            return FALSE;
        }
      else if (c == '}')
        {
          *end = pos + 1;
          return TRUE;
        }
      else if (c == '\\')
        pos = skip_fstring_escape (t, kind, pos);
      else if (at_closing_quote (t, kind, pos))
        return FALSE;
      else if (is_line_end_char (c) && !kind->triple)
        return FALSE;
      else
        pos++;
    }
  return FALSE;
}

/* Reads the Python expression in an f-string's `{...}`, up to and including
 * the closing brace. Strings in it may reuse the enclosing quote, and it may
 * span lines and hold comments, as Python 3.12 allows; for older code that
 * reads the same as a plain scan to the closing quote would. */
static gboolean
scan_replacement_field (const Tokenizer *t,
                        const StringKind *kind,
                        gsize pos,
                        guint nesting,
                        gsize *end)
{
  gsize depth = 0;

  if (nesting > MAX_STRING_NESTING)
    return FALSE;

  while (pos < t->len)
    {
      gchar c = t->src[pos];

      if (is_quote (c))
        {
          if (!scan_string (t, pos, FALSE, FALSE, nesting + 1, &pos))
            return FALSE;
        }
      else if (is_name_start (c))
        {
          gsize name_end = skip_name (t, pos);
          gboolean raw, formatted;

          if (name_end < t->len && is_quote (t->src[name_end]) &&
              parse_string_prefix (t->src + pos, name_end - pos,
                                   &raw, &formatted))
            {
              if (!scan_string (t, name_end, raw, formatted, nesting + 1,
                                &pos))
                return FALSE;
            }
          else
            pos = name_end;
        }
      else if (c == '(' || c == '[' || c == '{')
        {
          depth++;
          pos++;
        }
      else if (c == ')' || c == ']')
        {
          if (depth == 0)
            return FALSE;
          depth--;
          pos++;
        }
      else if (c == '}' && depth > 0)
        {
          depth--;
          pos++;
        }
      else if (c == '}')
        {
          *end = pos + 1;
          return TRUE;
        }
      else if (c == ':' && depth == 0)
        return scan_format_spec (t, kind, pos + 1, nesting, end);
      else if (c == '#')
        pos = skip_to_line_end (t, pos);
      else if (c == '\\')
        {
          if (pos + 1 >= t->len || !is_line_end_char (t->src[pos + 1]))
            return FALSE;
          pos = skip_line_end (t, pos + 1);
        }
      else
        pos++;
    }
  return FALSE;
}

static gboolean
scan_fstring_body (const Tokenizer *t,
                   const StringKind *kind,
                   gsize pos,
                   guint nesting,
                   gsize *end)
{
  while (pos < t->len)
    {
      gchar c = t->src[pos];

      if (c == '\\')
        pos = skip_fstring_escape (t, kind, pos);
      else if (c == '{' && pos + 1 < t->len && t->src[pos + 1] == '{')
        pos += 2;
      else if (c == '{')
        {
          if (!scan_replacement_field (t, kind, pos + 1, nesting, &pos))
            return FALSE;
        }
      else if (at_closing_quote (t, kind, pos))
        {
          *end = pos + closing_quote_length (kind);
          return TRUE;
        }
      else if (is_line_end_char (c) && !kind->triple)
        return FALSE;
      else
        pos++;
    }
  return FALSE;
}

/* @pos is at the opening quote, past any prefix. */
static gboolean
scan_string (const Tokenizer *t,
             gsize pos,
             gboolean raw,
             gboolean formatted,
             guint nesting,
             gsize *end)
{
  StringKind kind;

  if (nesting > MAX_STRING_NESTING)
    return FALSE;

  kind.quote = t->src[pos];
  kind.triple = pos + 2 < t->len &&
                t->src[pos + 1] == kind.quote &&
                t->src[pos + 2] == kind.quote;
  kind.raw = raw;
  pos += closing_quote_length (&kind);

  if (formatted)
    return scan_fstring_body (t, &kind, pos, nesting, end);
  return scan_plain_string_body (t, &kind, pos, end);
}

/* Building the logical line summaries. */

static gboolean
token_text_is (const Tokenizer *t,
               gsize start,
               gsize end,
               const gchar *word)
{
  gsize len = strlen (word);

  return end - start == len && memcmp (t->src + start, word, len) == 0;
}

static void
begin_logical_line (Tokenizer *t,
                    gsize start)
{
  t->line = (LogicalLine) {
    .start = start,
    .end = start,
    .indent = t->pending_indent,
    .only_plain_strings = TRUE,
    .trailing_strings_start = NO_OFFSET,
  };
  t->in_line = TRUE;
  t->line_tokens = 0;
  t->last_kind = TOKEN_NONE;
  t->first_token_is_async = FALSE;
}

static void
end_logical_line (Tokenizer *t,
                  gsize end)
{
  t->line.end = end;
  g_array_append_val (t->lines, t->line);
  t->in_line = FALSE;
}

static void
note_name (Tokenizer *t,
           gsize start,
           gsize end)
{
  if (t->line_tokens == 0)
    {
      t->line.opens_def_or_class = token_text_is (t, start, end, "def") ||
                                   token_text_is (t, start, end, "class");
      t->first_token_is_async = token_text_is (t, start, end, "async");
    }
  else if (t->line_tokens == 1 && t->first_token_is_async)
    t->line.opens_def_or_class = token_text_is (t, start, end, "def");
}

static void
note_token (Tokenizer *t,
            TokenKind kind,
            gsize start,
            gsize end)
{
  LogicalLine *line = &t->line;

  if (!t->in_line)
    begin_logical_line (t, start);
  t->continued = FALSE;

  if (kind == TOKEN_NAME)
    note_name (t, start, end);

  if (kind == TOKEN_PLAIN_STRING)
    {
      if (line->trailing_strings_start == NO_OFFSET)
        {
          line->trailing_strings_start = start;
          line->colon_before_trailing_strings = t->last_kind == TOKEN_COLON;
        }
    }
  else
    {
      line->only_plain_strings = FALSE;
      line->trailing_strings_start = NO_OFFSET;
    }

  line->ends_with_colon = kind == TOKEN_COLON;
  t->last_kind = kind;
  t->line_tokens++;
}

/* The tokenizer proper. Each read_* function consumes one token or
 * separator at t->pos, and fails on input Python could not tokenize. */

static void
read_comment (Tokenizer *t)
{
  Comment comment;

  comment.start = t->pos;
  comment.end = skip_to_line_end (t, t->pos);
  g_array_append_val (t->comments, comment);
  t->pos = comment.end;
}

static void
read_line_end (Tokenizer *t)
{
  /* Inside brackets a line end does not end the statement. */
  if (t->in_line && t->bracket_depth == 0)
    end_logical_line (t, t->pos);
  t->continued = FALSE;
  t->pos = skip_line_end (t, t->pos);
}

static gboolean
read_continuation (Tokenizer *t)
{
  gsize next = t->pos + 1;

  if (next >= t->len || !is_line_end_char (t->src[next]))
    return FALSE;
  t->pos = skip_line_end (t, next);
  t->continued = TRUE;
  return TRUE;
}

static gboolean
read_string (Tokenizer *t,
             gsize start,
             gboolean raw,
             gboolean formatted)
{
  gsize end;
  gsize pos;

  if (!scan_string (t, t->pos, raw, formatted, 0, &end))
    return FALSE;
  for (pos = start; pos < end; pos++)
    t->marks[pos] |= MARK_IN_STRING;
  t->pos = end;
  note_token (t, formatted ? TOKEN_FORMATTED_STRING : TOKEN_PLAIN_STRING,
              start, end);
  return TRUE;
}

static gboolean
read_name_or_prefixed_string (Tokenizer *t)
{
  gsize start = t->pos;
  gsize end = skip_name (t, start);
  gboolean raw, formatted;

  if (end < t->len && is_quote (t->src[end]) &&
      parse_string_prefix (t->src + start, end - start, &raw, &formatted))
    {
      t->pos = end;
      return read_string (t, start, raw, formatted);
    }
  t->pos = end;
  note_token (t, TOKEN_NAME, start, end);
  return TRUE;
}

/* Numbers only need reading far enough that nothing in them is mistaken
 * for anything else; `1e-5` reading as three tokens does no harm. */
static void
read_number (Tokenizer *t)
{
  gsize start = t->pos;

  while (t->pos < t->len &&
         (is_name_char (t->src[t->pos]) || t->src[t->pos] == '.'))
    t->pos++;
  note_token (t, TOKEN_NUMBER, start, t->pos);
}

static gboolean
read_operator (Tokenizer *t)
{
  gchar c = t->src[t->pos];
  TokenKind kind = TOKEN_OTHER_OP;

  switch (c)
    {
    case '(':
    case '[':
    case '{':
      t->bracket_depth++;
      break;
    case ')':
    case ']':
    case '}':
      if (t->bracket_depth == 0)
        return FALSE;
      t->bracket_depth--;
      break;
    case ':':
      kind = TOKEN_COLON;
      break;
    case '$':
    case '?':
    case '`':
      return FALSE;
    default:
      if (g_ascii_iscntrl (c))
        return FALSE;
      break;
    }

  note_token (t, kind, t->pos, t->pos + 1);
  t->pos++;
  return TRUE;
}

static gboolean
read_token (Tokenizer *t)
{
  gchar c = t->src[t->pos];

  if (is_name_start (c))
    return read_name_or_prefixed_string (t);
  if (g_ascii_isdigit (c) ||
      (c == '.' && t->pos + 1 < t->len && g_ascii_isdigit (t->src[t->pos + 1])))
    {
      read_number (t);
      return TRUE;
    }
  if (is_quote (c))
    return read_string (t, t->pos, FALSE, FALSE);
  return read_operator (t);
}

static gboolean
tokenize (Tokenizer *t)
{
  gboolean at_line_start = TRUE;

  while (t->pos < t->len)
    {
      gchar c = t->src[t->pos];

      if (at_line_start && !t->in_line)
        t->pending_indent = measure_indent (t);
      at_line_start = FALSE;

      if (is_blank (c))
        t->pos++;
      else if (c == '#')
        read_comment (t);
      else if (is_line_end_char (c))
        {
          read_line_end (t);
          at_line_start = TRUE;
        }
      else if (c == '\\')
        {
          if (!read_continuation (t))
            return FALSE;
        }
      else if (!read_token (t))
        return FALSE;
    }

  /* Python fails on end of input inside brackets or after a backslash. */
  if (t->bracket_depth > 0 || t->continued)
    return FALSE;
  if (t->in_line)
    end_logical_line (t, t->len);
  return TRUE;
}

static void
tokenizer_init (Tokenizer *t,
                const gchar *source)
{
  memset (t, 0, sizeof *t);
  t->src = source;
  t->len = strlen (source);
  if (g_str_has_prefix (source, UTF8_BOM))
    t->body_start = strlen (UTF8_BOM);
  t->pos = t->body_start;
  t->lines = g_array_new (FALSE, FALSE, sizeof (LogicalLine));
  t->comments = g_array_new (FALSE, FALSE, sizeof (Comment));
  t->marks = g_malloc0 (t->len);
}

static void
tokenizer_clear (Tokenizer *t)
{
  g_array_unref (t->lines);
  g_array_unref (t->comments);
  g_free (t->marks);
}

/* Deciding what goes. */

static void
mark_deleted (Tokenizer *t,
              gsize start,
              gsize end)
{
  gsize pos;

  for (pos = start; pos < end; pos++)
    t->marks[pos] |= MARK_DELETE;
}

static gsize
count_non_line_end_bytes (const Tokenizer *t,
                          gsize start,
                          gsize end)
{
  gsize count = 0;
  gsize pos;

  for (pos = start; pos < end; pos++)
    if (!is_line_end_char (t->src[pos]))
      count++;
  return count;
}

static void
replace_with_pass (Tokenizer *t,
                   gsize start,
                   gsize end)
{
  /* A docstring no longer than "pass" already keeps its block valid, and
   * replacing it would make the source bigger. */
  if (count_non_line_end_bytes (t, start, end) <= strlen ("pass"))
    return;
  mark_deleted (t, start, end);
  t->marks[start] |= MARK_PASS_BEFORE;
}

static gsize
next_line_start (const Tokenizer *t,
                 gsize pos)
{
  pos = skip_to_line_end (t, pos);
  return pos < t->len ? skip_line_end (t, pos) : pos;
}

static gboolean
comment_starts_line (const Tokenizer *t,
                     const Comment *comment)
{
  gsize pos = comment->start;

  while (pos > t->body_start && is_blank (t->src[pos - 1]))
    pos--;
  return pos == t->body_start || is_line_end_char (t->src[pos - 1]);
}

static gboolean
is_encoding_cookie (const Tokenizer *t,
                    const Comment *comment)
{
  g_autofree gchar *text = g_strndup (t->src + comment->start,
                                      comment->end - comment->start);

  /* The pattern from PEP 263. */
  return g_regex_match_simple ("^#.*?coding[:=][ \\t]*[-\\w.]+", text,
                               G_REGEX_RAW, 0);
}

/* A `#!` line and an encoding cookie change how the file is run and read,
 * so they stay; only lines 1 and 2 may hold them. */
static gboolean
is_kept_comment (const Tokenizer *t,
                 const Comment *comment,
                 gsize line_2_start,
                 gsize line_3_start)
{
  if (comment->start >= line_3_start || !comment_starts_line (t, comment))
    return FALSE;
  if (comment->start < line_2_start &&
      g_str_has_prefix (t->src + comment->start, "#!"))
    return TRUE;
  return is_encoding_cookie (t, comment);
}

static void
mark_comments (Tokenizer *t)
{
  gsize line_2_start = next_line_start (t, t->body_start);
  gsize line_3_start = next_line_start (t, line_2_start);
  guint i;

  for (i = 0; i < t->comments->len; i++)
    {
      const Comment *comment = &g_array_index (t->comments, Comment, i);

      if (!is_kept_comment (t, comment, line_2_start, line_3_start))
        mark_deleted (t, comment->start, comment->end);
    }
}

static gboolean
starts_body_of_def_or_class (const LogicalLine *header,
                             const LogicalLine *line)
{
  return header->opens_def_or_class &&
         header->ends_with_colon &&
         line->indent > header->indent;
}

/* A docstring is a statement made only of string literals that comes first
 * in a module, class or function. A body left empty by dropping it gets
 * `pass`; a statement that follows on the same line after `;` keeps the
 * docstring, since dropping only part of the line is not worth the risk. */
static void
mark_docstrings (Tokenizer *t)
{
  const LogicalLine *lines = (const LogicalLine *) t->lines->data;
  guint n_lines = t->lines->len;
  guint i;

  for (i = 0; i < n_lines; i++)
    {
      const LogicalLine *line = &lines[i];

      if (i == 0 && line->only_plain_strings)
        mark_deleted (t, line->start, line->end);
      else if (i > 0 && line->only_plain_strings &&
               starts_body_of_def_or_class (&lines[i - 1], line))
        {
          gboolean block_goes_on = i + 1 < n_lines &&
                                   lines[i + 1].indent >= line->indent;

          if (block_goes_on)
            mark_deleted (t, line->start, line->end);
          else
            replace_with_pass (t, line->start, line->end);
        }
      else if (line->opens_def_or_class &&
               line->colon_before_trailing_strings)
        replace_with_pass (t, line->trailing_strings_start, line->end);
    }
}

static void
strip_trailing_blanks (GString *out)
{
  gsize len = out->len;

  while (len > 0 && is_blank (out->str[len - 1]))
    len--;
  g_string_truncate (out, len);
}

static gchar *
render (const Tokenizer *t)
{
  GString *out = g_string_sized_new (t->len);
  gsize pos;

  for (pos = 0; pos < t->len; pos++)
    {
      gchar c = t->src[pos];
      guint8 mark = t->marks[pos];

      if (mark & MARK_PASS_BEFORE)
        g_string_append (out, "pass");

      if (is_line_end_char (c))
        {
          /* Blanks before a line end inside a kept string are data. */
          if (!(mark & MARK_IN_STRING) || (mark & MARK_DELETE))
            strip_trailing_blanks (out);
          /* Python ends a line at a lone \r too; if all that stood between
           * one and a \n went, the two would read as a single \r\n and
           * every later line would move up. */
          if (c == '\n' && pos > 0 && t->src[pos - 1] != '\r' &&
              out->len > 0 && out->str[out->len - 1] == '\r')
            g_string_append_c (out, ' ');
          g_string_append_c (out, c);
        }
      else if (!(mark & MARK_DELETE))
        g_string_append_c (out, c);
    }
  strip_trailing_blanks (out);

  return g_string_free (out, FALSE);
}

/**
 * mitogen_minimize_source:
 * @source: Python source code
 *
 * Removes comments and docstrings from Python @source, as Python Mitogen's
 * `mitogen.minify.minimize_source()` does before sending modules to
 * children.
 *
 * Every line keeps its line number: dropped lines are left blank, so
 * tracebacks still match the original. A docstring that was the only
 * statement of its class or function becomes `pass`. A `#!` line and an
 * encoding cookie on lines 1–2 are kept, and trailing blanks outside string
 * literals are removed. Unlike Python Mitogen, code is not reindented, so
 * each line that remains is a prefix of its original.
 *
 * Source that cannot be tokenized, such as with an unterminated string or
 * unbalanced brackets, is returned unchanged.
 *
 * Returns: (transfer full): the minimized source; free with g_free()
 */
gchar *
mitogen_minimize_source (const gchar *source)
{
  Tokenizer t;
  gchar *result;

  g_return_val_if_fail (source != NULL, NULL);

  tokenizer_init (&t, source);
  if (tokenize (&t))
    {
      mark_comments (&t);
      mark_docstrings (&t);
      result = render (&t);
    }
  else
    result = g_strdup (source);
  tokenizer_clear (&t);

  return result;
}
