/* mitogen-channel.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-receiver.h>
#include <mitogen/mitogen-sender.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_CHANNEL (mitogen_channel_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenChannel, mitogen_channel, MITOGEN, CHANNEL,
                      GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenChannel  *mitogen_channel_new          (MitogenRouter *router,
                                               guint32 dst_id,
                                               guint32 dst_handle,
                                               guint32 handle);
MITOGEN_AVAILABLE_IN_ALL
MitogenSender   *mitogen_channel_get_sender   (MitogenChannel *self);
MITOGEN_AVAILABLE_IN_ALL
MitogenReceiver *mitogen_channel_get_receiver (MitogenChannel *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_channel_send         (MitogenChannel *self,
                                               GVariant *data,
                                               GCancellable *cancellable,
                                               GError **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage  *mitogen_channel_get          (MitogenChannel *self,
                                               gint64 timeout_usec,
                                               GCancellable *cancellable,
                                               GError **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_channel_close        (MitogenChannel *self);

G_END_DECLS
