/* mitogen-cli-call.c: `mitogen call CONTEXT MODULE.FUNCTION [ARG…]`, its
 * arguments typed by the function's own signature, asked of the context.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-cli.h"

#include <stdio.h>
#include <string.h>

typedef struct
{
  gchar *function;
  gchar *args_type;
  gchar *result_type;
  gchar *doc;
} FunctionInfo;

static void
function_info_free (FunctionInfo *info)
{
  g_free (info->function);
  g_free (info->args_type);
  g_free (info->result_type);
  g_free (info->doc);
  g_free (info);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FunctionInfo, function_info_free)

/* The arguments are typed by the context that runs the function, not by
 * anything this program was built with. */
static FunctionInfo *
describe_function (MitogenContext *context,
                   const gchar *function,
                   GError **error)
{
  const gchar *dot = strchr (function, '.');
  g_autofree gchar *module = NULL;
  g_autoptr (GVariant) result = NULL;
  FunctionInfo *info;

  /* Checked before connecting, by cli_check_call(). */
  g_assert (dot != NULL);
  module = g_strndup (function, (gsize) (dot - function));
  result = mitogen_context_call (context, "agent.describe",
                                 g_variant_new ("(ss)", module, dot + 1), NULL,
                                 error);
  if (!result)
    return NULL;

  info = g_new0 (FunctionInfo, 1);
  info->function = g_strdup (function);
  g_variant_get (result, "(sss)", &info->args_type, &info->result_type,
                 &info->doc);
  return info;
}

/* The types of the ARGs, in order: the items of a tuple, or the one
 * type of a function that takes a single value. */
static GPtrArray *
function_arg_types (const FunctionInfo *info)
{
  const GVariantType *type = G_VARIANT_TYPE (info->args_type);
  GPtrArray *types = g_ptr_array_new ();

  if (!g_variant_type_is_tuple (type))
    g_ptr_array_add (types, (gpointer) type);
  else
    for (const GVariantType *item = g_variant_type_first (type); item;
         item = g_variant_type_next (item))
      g_ptr_array_add (types, (gpointer) item);
  return types;
}

static GVariant *
parse_arg (const GVariantType *hint, const gchar *text, GError **error)
{
  g_autoptr (GError) parse_error = NULL;
  GVariant *value = g_variant_parse (hint, text, NULL, NULL, &parse_error);
  g_autofree gchar *context = NULL;

  if (value)
    return value;

  /* A bare word is the string it spells: `core.getenv HOME` rather than
   * `core.getenv "'HOME'"`. */
  if ((g_variant_type_equal (hint, G_VARIANT_TYPE_STRING)
       || g_variant_type_equal (hint, G_VARIANT_TYPE ("ms")))
      && g_utf8_validate (text, -1, NULL))
    {
      GVariant *string = g_variant_new_string (text);
      if (g_variant_type_is_maybe (hint))
        string = g_variant_new_maybe (NULL, string);
      return g_variant_ref_sink (string);
    }

  /* A variant takes any value, which need not be boxed by hand:
   * `core.echo 42` as well as `core.echo '<42>'`. */
  if (g_variant_type_equal (hint, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner
          = g_variant_parse (NULL, text, NULL, NULL, NULL);
      if (inner)
        return g_variant_ref_sink (g_variant_new_variant (inner));
    }

  context
      = g_strchomp (g_variant_parse_error_print_context (parse_error, text));
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "not a valid %.*s: %s",
               (int) g_variant_type_get_string_length (hint),
               g_variant_type_peek_string (hint), context);
  return NULL;
}

static void
set_usage_error (const FunctionInfo *info, GError **error, const gchar *problem)
{
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "%s\n  %s %s -> %s: %s", problem, info->function,
               info->args_type, info->result_type,
               *info->doc ? info->doc : "(undocumented)");
}

static GVariant *
parse_call_args (const FunctionInfo *info, gchar **args, GError **error)
{
  g_autoptr (GPtrArray) types = function_arg_types (info);
  g_autoptr (GPtrArray) values
      = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  guint n_args = args ? g_strv_length (args) : 0;

  if (n_args != types->len)
    {
      g_autofree gchar *problem
          = g_strdup_printf ("%s takes %u argument%s, not %u:", info->function,
                             types->len, types->len == 1 ? "" : "s", n_args);
      set_usage_error (info, error, problem);
      return NULL;
    }

  for (guint i = 0; i < n_args; i++)
    {
      g_autoptr (GError) arg_error = NULL;
      GVariant *value
          = parse_arg (g_ptr_array_index (types, i), args[i], &arg_error);

      if (!value)
        {
          g_autofree gchar *problem
              = g_strdup_printf ("argument %u of %s is %s", i + 1,
                                 info->function, arg_error->message);
          set_usage_error (info, error, problem);
          return NULL;
        }
      g_ptr_array_add (values, value);
    }

  if (!g_variant_type_is_tuple (G_VARIANT_TYPE (info->args_type)))
    return g_variant_ref (g_ptr_array_index (values, 0));
  return g_variant_ref_sink (
      g_variant_new_tuple ((GVariant **) values->pdata, values->len));
}

static gboolean
call_function (MitogenContext *context,
               const gchar *function,
               gchar **args,
               GError **error)
{
  g_autoptr (FunctionInfo) info = describe_function (context, function, error);
  g_autoptr (GVariant) call_args = NULL;
  g_autoptr (GVariant) result = NULL;

  if (!info)
    return FALSE;
  call_args = parse_call_args (info, args, error);
  if (!call_args)
    return FALSE;
  /* Not floating: the call takes a reference of its own. */
  result = mitogen_context_call (context, function, call_args, NULL, error);
  if (!result)
    return FALSE;
  return cli_print_result (result);
}

static gboolean
is_module_file (const gchar *word)
{
  return strchr (word, '/') != NULL || g_str_has_suffix (word, ".so");
}

/* Whether @name can be a module's or a function's name: what a user
 * mistyped is said before anything is started. */
static gboolean
is_name (const gchar *name, gsize length)
{
  if (length == 0)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '-')
      return FALSE;
  return TRUE;
}

static gboolean
check_function_name (const gchar *function, GError **error)
{
  const gchar *dot = strchr (function, '.');

  if (dot && is_name (function, (gsize) (dot - function))
      && is_name (dot + 1, strlen (dot + 1)))
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "“%s” is not of the form MODULE.FUNCTION (e.g. core.getpid; "
               "mitogen describe CONTEXT MODULE lists a module's functions)",
               function);
  return FALSE;
}

/* The words are checked before connecting. */
gboolean
cli_check_call (GStrv words, GError **error)
{
  if (!is_module_file (words[2]))
    return check_function_name (words[2], error);
  if (!words[3])
    {
      g_set_error_literal (
          error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
          "usage: mitogen call CONTEXT FILE.so MODULE.FUNCTION [ARG...]");
      return FALSE;
    }
  return check_function_name (words[3], error);
}

/* words: call CONTEXT [FILE.so] MODULE.FUNCTION [ARG…] */
gboolean
cli_command_call (CliSession *session, GStrv words, int *status, GError **error)
{
  MitogenContext *target = cli_session_get_target (session);

  *status = CLI_EXIT_OK;
  if (!is_module_file (words[2]))
    return call_function (target, words[2], words + 3, error);

  /* mitogen call CONTEXT ./mymod.so mymod.fn [ARG…]: the module is served
   * from that file, on no path. */
  if (!mitogen_module_responder_register_file (
          mitogen_module_responder_get_for_router (session->router), words[2],
          NULL, error))
    return FALSE;
  return call_function (target, words[3], words + 4, error);
}

/* describe */

static gboolean
print_function (const gchar *module, GVariant *entry)
{
  const gchar *name, *args_type, *result_type, *doc;

  g_variant_get (entry, "(&s&s&s&s)", &name, &args_type, &result_type, &doc);
  if (cli_options.json)
    {
      g_autoptr (GString) out = g_string_new ("{\"function\":");
      g_autofree gchar *full = g_strconcat (module, ".", name, NULL);

      cli_json_append_string (out, full);
      g_string_append (out, ",\"args\":");
      cli_json_append_string (out, args_type);
      g_string_append (out, ",\"result\":");
      cli_json_append_string (out, result_type);
      g_string_append (out, ",\"doc\":");
      cli_json_append_string (out, doc);
      g_string_append (out, "}\n");
      return fputs (out->str, stdout) >= 0;
    }
  return printf ("%s.%s %s -> %s\n    %s\n", module, name, args_type,
                 result_type, *doc ? doc : "(undocumented)")
         >= 0;
}

/* words: describe CONTEXT MODULE[.FUNCTION]: the module's functions (or
 * the one), as the context has them. */
gboolean
cli_command_describe (CliSession *session,
                      GStrv words,
                      int *status,
                      GError **error)
{
  MitogenContext *target = cli_session_get_target (session);
  g_auto (GStrv) parts = g_strsplit (words[2], ".", 2);
  g_autoptr (GVariant) list = NULL;
  GVariantIter iter;
  GVariant *entry;
  gboolean ok = TRUE;
  gboolean found = FALSE;

  *status = CLI_EXIT_OK;
  list = mitogen_context_call (target, "agent.functions",
                               g_variant_new ("(s)", parts[0]), NULL, error);
  if (!list)
    return FALSE;
  g_variant_iter_init (&iter, list);
  while (ok && (entry = g_variant_iter_next_value (&iter)))
    {
      const gchar *name;

      g_variant_get_child (entry, 0, "&s", &name);
      if (!parts[1] || g_str_equal (name, parts[1]))
        {
          found = TRUE;
          ok = print_function (parts[0], entry);
        }
      g_variant_unref (entry);
    }
  if (!ok || fflush (stdout) != 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "cannot write to stdout");
      return FALSE;
    }
  if (parts[1] && !found)
    {
      g_set_error (error, MITOGEN_CALL_ERROR,
                   MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "Module “%s” has no function “%s”", parts[0], parts[1]);
      return FALSE;
    }
  return TRUE;
}

/* describe's MODULE[.FUNCTION], before connecting */
gboolean
cli_check_describe (GStrv words, GError **error)
{
  const gchar *dot = strchr (words[2], '.');

  if (!dot && is_name (words[2], strlen (words[2])))
    return TRUE;
  return check_function_name (words[2], error);
}
