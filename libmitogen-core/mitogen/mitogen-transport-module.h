/* mitogen-transport-module.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib-object.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

/**
 * MITOGEN_TRANSPORT_REGISTER_SYMBOL:
 *
 * The function a transport module exports: `GType
 * mitogen_transport_register (GTypeModule *module)`, which registers the
 * module's stream type against @module and returns it.
 */
#define MITOGEN_TRANSPORT_REGISTER_SYMBOL "mitogen_transport_register"

/**
 * MitogenTransportRegisterFunc:
 * @module: the type module to register types against
 *
 * The function a transport module exports as
 * %MITOGEN_TRANSPORT_REGISTER_SYMBOL: it registers the module's stream type
 * against @module and returns it.
 *
 * Returns: the transport's stream type, a [class@ParentStream] subclass
 */
typedef GType (*MitogenTransportRegisterFunc) (GTypeModule *module);

#define MITOGEN_TYPE_TRANSPORT_MODULE (mitogen_transport_module_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenTransportModule, mitogen_transport_module,
                      MITOGEN, TRANSPORT_MODULE, GTypeModule)

MITOGEN_AVAILABLE_IN_ALL
MitogenTransportModule *mitogen_transport_module_new (const gchar *name,
                                                      const gchar *path);
MITOGEN_AVAILABLE_IN_ALL
const gchar *mitogen_transport_module_get_name        (MitogenTransportModule *self);
MITOGEN_AVAILABLE_IN_ALL
const gchar *mitogen_transport_module_get_path        (MitogenTransportModule *self);
MITOGEN_AVAILABLE_IN_ALL
GType        mitogen_transport_module_get_stream_type (MitogenTransportModule *self,
                                                       GError **error);

G_END_DECLS
