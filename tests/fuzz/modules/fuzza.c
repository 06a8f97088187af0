/* fuzza: a function module with no functions, requiring fuzzb, for the
 * fuzzed module responder to serve. It links nothing.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen-module-info.h>

static const gchar *const requires[] = { "fuzzb", NULL };
static const MitogenFunctionInfo functions[] = { { NULL } };

MITOGEN_MODULE_DEFINE ("fuzza", requires, functions);
