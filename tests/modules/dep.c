/* dep.c: a test-only function module that another one requires
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>

static GVariant *
dep_value (MitogenCall *call,
           GVariant *args,
           GError **error)
{
  return g_variant_new_int32 (41);
}

static const MitogenFunctionInfo dep_functions[] = {
  { "value", "()", "i", dep_value, "Return 41 (for tests)" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("dep", NULL, dep_functions);
