/* mitogen-context.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-receiver.h>
#include <mitogen/mitogen-router.h>

G_BEGIN_DECLS

/**
 * MitogenProgressFunc:
 * @progress: a value the function emitted with mitogen_call_emit_progress()
 * @user_data: the data given with the call
 *
 * Receives progress of a call, on the broker thread, in the order it was
 * emitted and before the result. Keep it short.
 */
typedef void (*MitogenProgressFunc) (GVariant *progress, gpointer user_data);

#define MITOGEN_TYPE_CONTEXT (mitogen_context_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenContext, mitogen_context, MITOGEN, CONTEXT, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenContext *mitogen_context_new            (MitogenRouter *router,
                                                guint32 context_id,
                                                const gchar *name);
/* Router methods that make contexts: here, not in mitogen-router.h,
 * because a router does not depend on contexts. The names avoid GObject's
 * own connect() in introspected languages: router.connect_context(). */
MITOGEN_AVAILABLE_IN_ALL
MitogenContext *mitogen_router_connect_context (MitogenRouter *router,
                                                const gchar *transport,
                                                GVariant *options,
                                                MitogenContext *via,
                                                GCancellable *cancellable,
                                                GError **error);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_router_connect_context_async (MitogenRouter *router,
                                                      const gchar *transport,
                                                      GVariant *options,
                                                      MitogenContext *via,
                                                      GCancellable *cancellable,
                                                      GAsyncReadyCallback callback,
                                                      gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
MitogenContext *mitogen_router_connect_context_finish (MitogenRouter *router,
                                                       GAsyncResult *result,
                                                       GError **error);

MITOGEN_AVAILABLE_IN_ALL
MitogenContext *mitogen_router_myself (MitogenRouter *router);

MITOGEN_AVAILABLE_IN_ALL
MitogenRouter  *mitogen_context_get_router     (MitogenContext *self);
MITOGEN_AVAILABLE_IN_ALL
guint32         mitogen_context_get_context_id (MitogenContext *self);
MITOGEN_AVAILABLE_IN_ALL
const gchar    *mitogen_context_get_name       (MitogenContext *self);
MITOGEN_AVAILABLE_IN_ALL
MitogenStream  *mitogen_context_get_stream     (MitogenContext *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_context_is_connected   (MitogenContext *self);
MITOGEN_AVAILABLE_IN_ALL
void mitogen_context_set_auth_id (MitogenContext *self, guint32 auth_id);

MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_context_send          (MitogenContext *self,
                                                MitogenMessage *msg,
                                                GCancellable *cancellable,
                                                GError **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenReceiver *mitogen_context_send_async    (MitogenContext *self,
                                                MitogenMessage *msg);

MITOGEN_AVAILABLE_IN_ALL
GVariant *mitogen_context_call          (MitogenContext *self,
                                         const gchar *function,
                                         GVariant *args,
                                         GCancellable *cancellable,
                                         GError **error);
MITOGEN_AVAILABLE_IN_ALL
void      mitogen_context_call_async    (MitogenContext *self,
                                         const gchar *function,
                                         GVariant *args,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
GVariant *mitogen_context_call_finish   (MitogenContext *self,
                                         GAsyncResult *result,
                                         GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean  mitogen_context_call_no_reply (MitogenContext *self,
                                         const gchar *function,
                                         GVariant *args,
                                         GCancellable *cancellable,
                                         GError **error);
MITOGEN_AVAILABLE_IN_ALL
GVariant *mitogen_context_call_with_progress (MitogenContext *self,
                                              const gchar *function,
                                              GVariant *args,
                                              MitogenProgressFunc progress,
                                              gpointer user_data,
                                              GCancellable *cancellable,
                                              GError **error);

MITOGEN_AVAILABLE_IN_ALL
gboolean  mitogen_context_shutdown        (MitogenContext *self,
                                           gboolean wait,
                                           GCancellable *cancellable,
                                           GError **error);
MITOGEN_AVAILABLE_IN_ALL
void      mitogen_context_shutdown_async  (MitogenContext *self,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
gboolean  mitogen_context_shutdown_finish (MitogenContext *self,
                                           GAsyncResult *result,
                                           GError **error);

G_END_DECLS
