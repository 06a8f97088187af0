/* broken.c: a test-only function module that needs a symbol nothing
 * defines, so that loading it with immediate binding fails
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>

extern int mitogen_test_no_such_symbol (void);

static GVariant *
broken_value (MitogenCall *call,
              GVariant *args,
              GError **error)
{
  return g_variant_new_int32 (mitogen_test_no_such_symbol ());
}

static const MitogenFunctionInfo broken_functions[] = {
  { "value", "()", "i", broken_value, "Never runs: the module cannot load" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("broken", NULL, broken_functions);
