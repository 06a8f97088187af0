/* mitogen-stream.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-basic-stream.h>
#include <mitogen/mitogen-message.h>

G_BEGIN_DECLS

/**
 * MITOGEN_TRANSMIT_WINDOW:
 *
 * The default #MitogenStream:transmit-window: 2 MiB, as Cockpit's bridge
 * uses, enough to keep a fast link busy.
 */
#define MITOGEN_TRANSMIT_WINDOW (2 * 1024 * 1024)

#define MITOGEN_TYPE_STREAM (mitogen_stream_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (MitogenStream, mitogen_stream, MITOGEN, STREAM,
                          MitogenBasicStream)

/**
 * MitogenStreamClass:
 *
 * The class of framed message streams.
 */
struct _MitogenStreamClass {
  MitogenBasicStreamClass parent_class;

  /*< private >*/
  gpointer padding[8];
};

MITOGEN_AVAILABLE_IN_ALL
MitogenStream *mitogen_stream_new                (MitogenRouter *router,
                                                  guint32 remote_id,
                                                  int receive_fd,
                                                  int transmit_fd);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_stream_send               (MitogenStream *self,
                                                  MitogenMessage *msg);
MITOGEN_AVAILABLE_IN_ALL
MitogenRouter *mitogen_stream_get_router         (MitogenStream *self);
MITOGEN_AVAILABLE_IN_ALL
guint32        mitogen_stream_get_remote_id      (MitogenStream *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_stream_get_is_privileged  (MitogenStream *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_stream_set_is_privileged  (MitogenStream *self,
                                                  gboolean is_privileged);
MITOGEN_AVAILABLE_IN_ALL
gsize          mitogen_stream_get_max_message_size (MitogenStream *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_stream_set_max_message_size (MitogenStream *self,
                                                    gsize max_message_size);
MITOGEN_AVAILABLE_IN_ALL
const gchar   *mitogen_stream_get_disconnect_reason (MitogenStream *self);
MITOGEN_AVAILABLE_IN_ALL
void mitogen_stream_close (MitogenStream *self, const gchar *reason);
MITOGEN_AVAILABLE_IN_ALL
guint64        mitogen_stream_get_bytes_received (MitogenStream *self);
MITOGEN_AVAILABLE_IN_ALL
guint64        mitogen_stream_get_bytes_sent     (MitogenStream *self);
MITOGEN_AVAILABLE_IN_ALL
guint64        mitogen_stream_get_messages_received (MitogenStream *self);
MITOGEN_AVAILABLE_IN_ALL
gsize          mitogen_stream_get_pending_bytes  (MitogenStream *self);
MITOGEN_AVAILABLE_IN_ALL
gsize          mitogen_stream_get_transmit_window (MitogenStream *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_stream_set_transmit_window (MitogenStream *self,
                                                   gsize window);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_stream_is_writable        (MitogenStream *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_stream_wait_writable      (MitogenStream *self,
                                                  GCancellable *cancellable,
                                                  GError **error);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_stream_wait_writable_async (MitogenStream *self,
                                                   GCancellable *cancellable,
                                                   GAsyncReadyCallback callback,
                                                   gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_stream_wait_writable_finish (MitogenStream *self,
                                                    GAsyncResult *result,
                                                    GError **error);

G_END_DECLS
