/* greet.c: the function module of docs/writing-a-module.md, built and
 * called by the tests so that the guide's code stays true
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <gio/gio.h>
#include <mitogen/mitogen.h>

static GVariant *
greet_hello (MitogenCall *call, GVariant *args, GError **error)
{
  const gchar *name;

  g_variant_get (args, "(&s)", &name);
  if (!*name)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "an empty name");
      return NULL;
    }
  return g_variant_new_take_string (g_strdup_printf ("hello, %s", name));
}

static const MitogenFunctionInfo greet_functions[]
    = { { "hello", "(s)", "s", greet_hello, "Return a greeting for a name" },
        { NULL } };

MITOGEN_MODULE_DEFINE ("greet", NULL, greet_functions);
