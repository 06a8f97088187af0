/* fuzzb: a function module with no functions, required by fuzza.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen-module-info.h>

static const MitogenFunctionInfo functions[] = { { NULL } };

MITOGEN_MODULE_DEFINE ("fuzzb", NULL, functions);
