/* mitogen-module-info.h: the ABI of function modules
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gmodule.h>
#include <mitogen/mitogen-call.h>

G_BEGIN_DECLS

/**
 * MITOGEN_MODULE_ABI_VERSION:
 *
 * The version of [struct@ModuleInfo] this library understands. A module
 * built against another version is refused.
 */
#define MITOGEN_MODULE_ABI_VERSION 1

/**
 * MitogenFunc:
 * @call: the call: who called, and how to report progress
 * @args: the arguments, a tuple of the function's `args_type`
 * @error: return location for an error
 *
 * A function that contexts can call.
 *
 * Returns: (transfer full) (nullable): the result, of the function's
 *   `result_type`; a floating reference is sunk. %NULL with @error set on
 *   failure
 */
typedef GVariant *(*MitogenFunc) (MitogenCall *call,
                                  GVariant *args,
                                  GError **error);

/**
 * MitogenFunctionInfo:
 * @name: the function's name within its module
 * @args_type: the GVariant type string of the argument tuple, e.g. `(si)`
 * @result_type: the GVariant type string of the result
 * @func: the implementation
 * @doc: one line on what it does, for `mitogen describe`
 *
 * One function of a module.
 */
typedef struct {
  const gchar *name;
  const gchar *args_type;
  const gchar *result_type;
  MitogenFunc func;
  const gchar *doc;
} MitogenFunctionInfo;

/**
 * MitogenModuleInfo:
 * @abi_version: %MITOGEN_MODULE_ABI_VERSION
 * @name: the module's name, as callers spell it: `core` in `core.getpid`
 * @requires: (array zero-terminated=1) (nullable): names of modules this
 *   one needs loaded first
 * @functions: (array zero-terminated=1): the functions, ended by an entry
 *   whose @name is %NULL
 *
 * What a function module exports, as the symbol `mitogen_module_info`.
 * Define it with MITOGEN_MODULE_DEFINE().
 */
typedef struct {
  guint32 abi_version;
  const gchar *name;
  const gchar *const *requires;
  const MitogenFunctionInfo *functions;
} MitogenModuleInfo;

/**
 * MITOGEN_MODULE_INFO_SYMBOL:
 *
 * The symbol a function module exports.
 */
#define MITOGEN_MODULE_INFO_SYMBOL "mitogen_module_info"

/**
 * MITOGEN_MODULE_DEFINE:
 * @modname: the module's name, a string
 * @req: a %NULL-terminated `const gchar *const[]` of required modules, or
 *   %NULL
 * @funcs: a `MitogenFunctionInfo[]` ended by `{ NULL }`
 *
 * Exports a function module's description.
 */
#define MITOGEN_MODULE_DEFINE(modname, req, funcs)                             \
  G_MODULE_EXPORT const MitogenModuleInfo mitogen_module_info = {              \
    MITOGEN_MODULE_ABI_VERSION, (modname), (req), (funcs)                      \
  }

G_END_DECLS
