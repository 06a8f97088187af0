/* mitogen-sender.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-router.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_SENDER (mitogen_sender_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenSender, mitogen_sender, MITOGEN, SENDER, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenSender *mitogen_sender_new            (MitogenRouter *router,
                                              guint32 dst_id,
                                              guint32 dst_handle);
MITOGEN_AVAILABLE_IN_ALL
guint32        mitogen_sender_get_dst_id     (MitogenSender *self);
MITOGEN_AVAILABLE_IN_ALL
guint32        mitogen_sender_get_dst_handle (MitogenSender *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_sender_send           (MitogenSender *self,
                                              GVariant *data,
                                              GCancellable *cancellable,
                                              GError **error);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_sender_send_async     (MitogenSender *self,
                                              GVariant *data,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_sender_send_finish    (MitogenSender *self,
                                              GAsyncResult *result,
                                              GError **error);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_sender_close          (MitogenSender *self);

G_END_DECLS
