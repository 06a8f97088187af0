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

  if (!dot || dot == function || !dot[1])
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "“%s” is not of the form MODULE.FUNCTION", function);
      return NULL;
    }
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
  g_autofree gchar *text = NULL;

  if (!info)
    return FALSE;
  call_args = parse_call_args (info, args, error);
  if (!call_args)
    return FALSE;
  /* Not floating: the call takes a reference of its own. */
  result = mitogen_context_call (context, function, call_args, NULL, error);
  if (!result)
    return FALSE;

  text = g_variant_print (result, FALSE);
  printf ("%s\n", text);
  return fflush (stdout) == 0;
}

static gboolean
is_module_file (const gchar *word)
{
  return strchr (word, '/') != NULL || g_str_has_suffix (word, ".so");
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
  if (!words[3])
    {
      g_set_error_literal (
          error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
          "usage: mitogen call CONTEXT FILE.so MODULE.FUNCTION [ARG...]");
      return FALSE;
    }
  if (!mitogen_module_responder_register_file (
          mitogen_module_responder_get_for_router (session->router), words[2],
          NULL, error))
    return FALSE;
  return call_function (target, words[3], words + 4, error);
}
