/* mitogen-sender-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-sender.h"

G_BEGIN_DECLS

/* Waits until the stream a message to @dst_id leaves by is writable; at
 * once when it stays here, has no route, or on the broker thread. */
G_GNUC_INTERNAL
gboolean mitogen_sender_wait_room        (MitogenRouter *router,
                                          guint32 dst_id,
                                          GCancellable *cancellable,
                                          GError **error);
G_GNUC_INTERNAL
void     mitogen_sender_wait_room_async  (MitogenRouter *router,
                                          guint32 dst_id,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
G_GNUC_INTERNAL
gboolean mitogen_sender_wait_room_finish (GAsyncResult *result,
                                          GError **error);

/* As mitogen_sender_send(), with @body the bytes of a serialised `v`
 * already: a large body is not copied to be serialised again. */
G_GNUC_INTERNAL
gboolean mitogen_sender_send_bytes       (MitogenSender *self,
                                          GBytes *body,
                                          GCancellable *cancellable,
                                          GError **error);

G_END_DECLS
