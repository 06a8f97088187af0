/* user.c: a test-only function module requiring "dep", which its parent
 * sends ahead of it
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>

static GVariant *
user_value (MitogenCall *call,
            GVariant *args,
            GError **error)
{
  return g_variant_new_int32 (42);
}

static const MitogenFunctionInfo user_functions[] = {
  { "value", "()", "i", user_value, "Return 42 (for tests)" },
  { NULL }
};

static const gchar *const user_requires[] = { "dep", NULL };

MITOGEN_MODULE_DEFINE ("user", user_requires, user_functions);
