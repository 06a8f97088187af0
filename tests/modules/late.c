/* late.c: a test-only function module that is not in any module path
 * when built (late.so.in): the tests copy it into one as late.so
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>

static GVariant *
late_value (MitogenCall *call,
            GVariant *args,
            GError **error)
{
  return g_variant_new_int32 (43);
}

static const MitogenFunctionInfo late_functions[] = {
  { "value", "()", "i", late_value, "Return 43 (for tests)" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("late", NULL, late_functions);
