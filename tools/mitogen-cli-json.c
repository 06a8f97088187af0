/* mitogen-cli-json.c: --json, results and errors for scripts.
 *
 * A result is written as JSON by its GVariant type: booleans as true and
 * false, numbers as numbers (a double that is not finite as null), strings,
 * object paths and signatures as strings, a maybe as null or its value, a
 * variant as its value, a dictionary as an object (keys that are not
 * strings in their GVariant text form), and arrays (byte strings
 * included) and tuples as arrays. An error is an object
 * {"error": {"domain", "code", "message"[, "context"]}} on stderr, the
 * domain and code those of the context that raised it.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void
cli_json_append_string (GString *out, const gchar *text)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) text; *p; p++)
    switch (*p)
      {
      case '"':
        g_string_append (out, "\\\"");
        break;
      case '\\':
        g_string_append (out, "\\\\");
        break;
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
        if (*p < 0x20 || *p == 0x7f)
          g_string_append_printf (out, "\\u%04x", *p);
        else
          g_string_append_c (out, (gchar) *p);
      }
  g_string_append_c (out, '"');
}

/* A dictionary's key as an object's: strings as they are, anything else
 * in its text form. */
static void
append_key (GString *out, GVariant *key)
{
  g_autofree gchar *text = NULL;

  if (g_variant_is_of_type (key, G_VARIANT_TYPE_STRING)
      || g_variant_is_of_type (key, G_VARIANT_TYPE_OBJECT_PATH)
      || g_variant_is_of_type (key, G_VARIANT_TYPE_SIGNATURE))
    {
      cli_json_append_string (out, g_variant_get_string (key, NULL));
      return;
    }
  text = g_variant_print (key, FALSE);
  cli_json_append_string (out, text);
}

static void
append_children (GString *out, GVariant *value, gboolean as_object)
{
  gsize n = g_variant_n_children (value);

  g_string_append_c (out, as_object ? '{' : '[');
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (value, i);

      if (i > 0)
        g_string_append_c (out, ',');
      if (as_object)
        {
          g_autoptr (GVariant) key = g_variant_get_child_value (child, 0);
          g_autoptr (GVariant) item = g_variant_get_child_value (child, 1);

          append_key (out, key);
          g_string_append_c (out, ':');
          cli_json_append_value (out, item);
        }
      else
        cli_json_append_value (out, child);
    }
  g_string_append_c (out, as_object ? '}' : ']');
}

void
cli_json_append_value (GString *out, GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      g_string_append (out, g_variant_get_boolean (value) ? "true" : "false");
      break;
    case G_VARIANT_CLASS_BYTE:
      g_string_append_printf (out, "%u", g_variant_get_byte (value));
      break;
    case G_VARIANT_CLASS_INT16:
      g_string_append_printf (out, "%d", g_variant_get_int16 (value));
      break;
    case G_VARIANT_CLASS_UINT16:
      g_string_append_printf (out, "%u", g_variant_get_uint16 (value));
      break;
    case G_VARIANT_CLASS_INT32:
      g_string_append_printf (out, "%d", g_variant_get_int32 (value));
      break;
    case G_VARIANT_CLASS_UINT32:
      g_string_append_printf (out, "%u", g_variant_get_uint32 (value));
      break;
    case G_VARIANT_CLASS_HANDLE:
      g_string_append_printf (out, "%d", g_variant_get_handle (value));
      break;
    case G_VARIANT_CLASS_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT,
                              g_variant_get_int64 (value));
      break;
    case G_VARIANT_CLASS_UINT64:
      g_string_append_printf (out, "%" G_GUINT64_FORMAT,
                              g_variant_get_uint64 (value));
      break;
    case G_VARIANT_CLASS_DOUBLE:
      {
        gdouble d = g_variant_get_double (value);
        gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

        if (isfinite (d))
          g_string_append (out, g_ascii_dtostr (buf, sizeof buf, d));
        else
          g_string_append (out, "null");
      }
      break;
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      cli_json_append_string (out, g_variant_get_string (value, NULL));
      break;
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr (GVariant) inner = g_variant_get_variant (value);
        cli_json_append_value (out, inner);
      }
      break;
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr (GVariant) inner = g_variant_get_maybe (value);

        if (inner)
          cli_json_append_value (out, inner);
        else
          g_string_append (out, "null");
      }
      break;
    case G_VARIANT_CLASS_ARRAY:
      append_children (out, value,
                       g_variant_type_is_dict_entry (g_variant_type_element (
                           g_variant_get_type (value))));
      break;
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
      append_children (out, value, FALSE);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* A remote error's message as the context said it: without the
 * "CONTEXT: " before it and the " (DOMAIN, CODE)" after it that the
 * library adds for a reader of the text, which the JSON says apart. */
static gchar *
remote_message (const GError *error, const gchar *context, const gchar *domain)
{
  g_autofree gchar *prefix = g_strconcat (context, ": ", NULL);
  g_autofree gchar *suffix = g_strdup_printf (
      " (%s, %d)", domain, mitogen_call_error_get_remote_code (error));
  gsize length = strlen (error->message);

  if (!g_str_has_prefix (error->message, prefix)
      || !g_str_has_suffix (error->message, suffix)
      || length < strlen (prefix) + strlen (suffix))
    return g_strdup (error->message);
  return g_strndup (error->message + strlen (prefix),
                    length - strlen (prefix) - strlen (suffix));
}

/* What went wrong where the error arose: a remote error's own domain and
 * code rather than the call domain's. */
static void
append_error (GString *out, const GError *error)
{
  const gchar *remote_domain = mitogen_call_error_get_remote_domain (error);
  const gchar *context = mitogen_call_error_get_context_name (error);
  g_autofree gchar *message
      = remote_domain && context
            ? remote_message (error, context, remote_domain)
            : g_strdup (error->message);

  g_string_append (out, "{\"error\":{\"domain\":");
  cli_json_append_string (
      out, remote_domain ? remote_domain : g_quark_to_string (error->domain));
  g_string_append_printf (
      out, ",\"code\":%d,\"message\":",
      remote_domain ? mitogen_call_error_get_remote_code (error) : error->code);
  cli_json_append_string (out, message);
  if (context)
    {
      g_string_append (out, ",\"context\":");
      cli_json_append_string (out, context);
    }
  g_string_append (out, "}}\n");
}

/**
 * cli_report_error:
 * @error: what failed
 *
 * Writes @error to stderr: as "mitogen: MESSAGE", or with --json as a JSON
 * object on a line of its own.
 */
void
cli_report_error (const GError *error)
{
  g_autoptr (GString) out = NULL;

  if (!cli_options.json)
    {
      cli_print_error ("%s", error->message);
      return;
    }
  out = g_string_new (NULL);
  append_error (out, error);
  fputs (out->str, stderr);
  fflush (stderr);
}

/* A result on a line of its own, as GVariant text or with --json as JSON;
 * %FALSE if stdout could not take it. */
gboolean
cli_print_result (GVariant *result)
{
  g_autoptr (GString) out = g_string_new (NULL);

  if (cli_options.json)
    cli_json_append_value (out, result);
  else
    g_variant_print_string (result, out, FALSE);
  g_string_append_c (out, '\n');
  fputs (out->str, stdout);
  return fflush (stdout) == 0;
}
