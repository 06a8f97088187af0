/* mitogen-external-context.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-broker.h>
#include <mitogen/mitogen-context.h>
#include <mitogen/mitogen-importer.h>
#include <mitogen/mitogen-receiver.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_EXTERNAL_CONTEXT (mitogen_external_context_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenExternalContext, mitogen_external_context,
                      MITOGEN, EXTERNAL_CONTEXT, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenExternalContext *mitogen_external_context_new       (void);
MITOGEN_AVAILABLE_IN_ALL
gboolean                mitogen_external_context_bootstrap (MitogenExternalContext *self,
                                                            int in_fd,
                                                            int out_fd,
                                                            GError **error);
MITOGEN_AVAILABLE_IN_ALL
int                     mitogen_external_context_run       (MitogenExternalContext *self);

MITOGEN_AVAILABLE_IN_ALL
MitogenBroker   *mitogen_external_context_get_broker     (MitogenExternalContext *self);
MITOGEN_AVAILABLE_IN_ALL
MitogenRouter   *mitogen_external_context_get_router     (MitogenExternalContext *self);
MITOGEN_AVAILABLE_IN_ALL
MitogenContext  *mitogen_external_context_get_context    (MitogenExternalContext *self);
MITOGEN_AVAILABLE_IN_ALL
MitogenReceiver *mitogen_external_context_get_channel    (MitogenExternalContext *self);
MITOGEN_AVAILABLE_IN_ALL
MitogenImporter *mitogen_external_context_get_importer   (MitogenExternalContext *self);

MITOGEN_AVAILABLE_IN_ALL
MitogenExternalContext *mitogen_external_context_get_default (void);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_external_context_detach       (MitogenExternalContext *self,
                                                GCancellable *cancellable,
                                                GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_external_context_get_detached (MitogenExternalContext *self);

G_END_DECLS
