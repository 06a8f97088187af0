/* mitogen-transport-registry.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-importer.h>
#include <mitogen/mitogen-transport-module.h>

G_BEGIN_DECLS

/**
 * MITOGEN_TRANSPORT_MODULE_PREFIX:
 *
 * Transport module files are named `mitogen-transport-NAME.so`.
 */
#define MITOGEN_TRANSPORT_MODULE_PREFIX "mitogen-transport-"

#define MITOGEN_TYPE_TRANSPORT_REGISTRY (mitogen_transport_registry_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenTransportRegistry, mitogen_transport_registry,
                      MITOGEN, TRANSPORT_REGISTRY, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenTransportRegistry *mitogen_transport_registry_get_default (void);
MITOGEN_AVAILABLE_IN_ALL
MitogenTransportRegistry *mitogen_transport_registry_new         (const gchar * const *path);
MITOGEN_AVAILABLE_IN_ALL
gchar                  **mitogen_transport_registry_list        (MitogenTransportRegistry *self);
MITOGEN_AVAILABLE_IN_ALL
MitogenTransportModule  *mitogen_transport_registry_lookup      (MitogenTransportRegistry *self,
                                                                 const gchar *name,
                                                                 GError **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenTransportModule  *mitogen_transport_registry_register_bytes (MitogenTransportRegistry *self,
                                                                    const gchar *name,
                                                                    GBytes *bytes,
                                                                    GError **error);
MITOGEN_AVAILABLE_IN_ALL
void                     mitogen_transport_registry_set_importer (MitogenTransportRegistry *self,
                                                                  MitogenImporter *importer);
MITOGEN_AVAILABLE_IN_ALL
GType                    mitogen_transport_registry_get_stream_type (MitogenTransportRegistry *self,
                                                                     const gchar *name,
                                                                     GError **error);

G_END_DECLS
