/* mitogen-module-forwarder.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-importer.h>
#include <mitogen/mitogen-router.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_MODULE_FORWARDER (mitogen_module_forwarder_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenModuleForwarder, mitogen_module_forwarder,
                      MITOGEN, MODULE_FORWARDER, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenModuleForwarder *mitogen_module_forwarder_new (MitogenRouter *router,
                                                      MitogenImporter *importer);
MITOGEN_AVAILABLE_IN_ALL
guint mitogen_module_forwarder_get_n_requests (MitogenModuleForwarder *self);

G_END_DECLS
