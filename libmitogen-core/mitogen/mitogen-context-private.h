/* mitogen-context-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-context.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL
MitogenReceiver *mitogen_context_start_call (MitogenContext *self,
                                            const gchar *chain_id,
                                            const gchar *function,
                                            GVariant *args,
                                            guint32 progress_handle,
                                            gboolean want_reply,
                                            GError **error);
G_GNUC_INTERNAL
GVariant        *mitogen_context_finish_call (MitogenContext *self,
                                             MitogenMessage *reply,
                                             GError **error);

G_GNUC_INTERNAL
MitogenContext  *mitogen_context_connect_with_id (MitogenRouter *router,
                                                 const gchar *transport,
                                                 GVariant *options,
                                                 guint32 context_id,
                                                 GCancellable *cancellable,
                                                 GError **error);

G_GNUC_INTERNAL
GVariant *mitogen_context_call_chained          (MitogenContext *self,
                                                 const gchar *chain_id,
                                                 const gchar *function,
                                                 GVariant *args,
                                                 GCancellable *cancellable,
                                                 GError **error);
G_GNUC_INTERNAL
void      mitogen_context_call_chained_async    (MitogenContext *self,
                                                 gpointer source_object,
                                                 const gchar *chain_id,
                                                 const gchar *function,
                                                 GVariant *args,
                                                 GCancellable *cancellable,
                                                 GAsyncReadyCallback callback,
                                                 gpointer user_data);
G_GNUC_INTERNAL
void      mitogen_context_call_chained_no_reply (MitogenContext *self,
                                                 const gchar *chain_id,
                                                 const gchar *function,
                                                 GVariant *args);

G_GNUC_INTERNAL
void      mitogen_context_ensure_log_forwarding (MitogenRouter *router);

G_END_DECLS
