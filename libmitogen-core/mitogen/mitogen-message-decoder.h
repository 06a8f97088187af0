/* mitogen-message-decoder.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib-object.h>
#include <mitogen/mitogen-message.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_MESSAGE_DECODER (mitogen_message_decoder_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenMessageDecoder, mitogen_message_decoder,
                      MITOGEN, MESSAGE_DECODER, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenMessageDecoder *mitogen_message_decoder_new (gsize max_message_size);

MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_message_decoder_feed   (MitogenMessageDecoder *self,
                                                const guint8 *data,
                                                gsize len,
                                                GError **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_message_decoder_pop    (MitogenMessageDecoder *self);
MITOGEN_AVAILABLE_IN_ALL
guint8         *mitogen_message_decoder_get_body_buffer (MitogenMessageDecoder *self,
                                                         gsize *out_len);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_message_decoder_commit_body     (MitogenMessageDecoder *self,
                                                         gsize len);
MITOGEN_AVAILABLE_IN_ALL
gsize           mitogen_message_decoder_get_max_message_size (MitogenMessageDecoder *self);

G_END_DECLS
