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

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void
append_node (GString *out, JsonNode *node)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autofree gchar *text = NULL;

  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, NULL);
  g_string_append (out, text);
}

void
cli_json_append_string (GString *out, const gchar *text)
{
  g_autoptr (JsonNode) node = json_node_init_string (json_node_alloc (), text);

  append_node (out, node);
}

/* json-glib's mapping of GVariant, but for doubles that JSON cannot hold,
 * which it would print as a bare inf or nan: those are null. */
static gboolean
has_non_finite_double (GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return !isfinite (g_variant_get_double (value));
  if (!g_variant_is_container (value))
    return FALSE;
  for (gsize i = 0, n = g_variant_n_children (value); i < n; i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (value, i);

      if (has_non_finite_double (child))
        return TRUE;
    }
  return FALSE;
}

static GVariant *
finite_doubles (GVariant *value)
{
  GVariantBuilder builder;

  if (!has_non_finite_double (value))
    return g_variant_ref (value);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return g_variant_ref_sink (
        g_variant_new_maybe (G_VARIANT_TYPE_DOUBLE, NULL));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (value);
      g_autoptr (GVariant) fixed = finite_doubles (inner);

      return g_variant_ref_sink (g_variant_new_variant (fixed));
    }
  /* A container of a fixed element type cannot hold a maybe instead of a
   * double: its children become variants, which JSON prints alike. */
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  for (gsize i = 0, n = g_variant_n_children (value); i < n; i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (value, i);
      g_autoptr (GVariant) fixed = finite_doubles (child);

      g_variant_builder_add (&builder, "v", fixed);
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

void
cli_json_append_value (GString *out, GVariant *value)
{
  g_autoptr (GVariant) fixed = finite_doubles (value);
  g_autoptr (JsonNode) node = json_gvariant_serialize (fixed);

  append_node (out, node);
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
