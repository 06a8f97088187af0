/* mitogen-basic-stream.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib-object.h>
#include <mitogen/mitogen-side.h>
#include <mitogen/mitogen-types.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_BASIC_STREAM (mitogen_basic_stream_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (MitogenBasicStream, mitogen_basic_stream,
                          MITOGEN, BASIC_STREAM, GObject)

/**
 * MitogenBasicStreamClass:
 * @on_receive: the receive side is readable; must disconnect the stream
 *   when a read returns end of file
 * @on_transmit: the transmit side is writable
 * @on_shutdown: the broker is shutting down; the default disconnects
 * @on_disconnect: close both sides and unregister from the broker; the
 *   default does that and emits #MitogenBasicStream::disconnect
 *
 * Every method is called on the broker thread.
 */
struct _MitogenBasicStreamClass {
  GObjectClass parent_class;

  void (*on_receive)    (MitogenBasicStream *self, MitogenBroker *broker);
  void (*on_transmit)   (MitogenBasicStream *self, MitogenBroker *broker);
  void (*on_shutdown)   (MitogenBasicStream *self, MitogenBroker *broker);
  void (*on_disconnect) (MitogenBasicStream *self, MitogenBroker *broker);

  /*< private >*/
  gpointer padding[8];
};

MITOGEN_AVAILABLE_IN_ALL
MitogenSide *mitogen_basic_stream_get_receive_side  (MitogenBasicStream *self);
MITOGEN_AVAILABLE_IN_ALL
void         mitogen_basic_stream_set_receive_side  (MitogenBasicStream *self,
                                                     MitogenSide *side);
MITOGEN_AVAILABLE_IN_ALL
MitogenSide *mitogen_basic_stream_get_transmit_side (MitogenBasicStream *self);
MITOGEN_AVAILABLE_IN_ALL
void         mitogen_basic_stream_set_transmit_side (MitogenBasicStream *self,
                                                     MitogenSide *side);
MITOGEN_AVAILABLE_IN_ALL
const gchar *mitogen_basic_stream_get_name          (MitogenBasicStream *self);
MITOGEN_AVAILABLE_IN_ALL
void         mitogen_basic_stream_set_name          (MitogenBasicStream *self,
                                                     const gchar *name);
MITOGEN_AVAILABLE_IN_ALL
gboolean     mitogen_basic_stream_is_disconnected   (MitogenBasicStream *self);

MITOGEN_AVAILABLE_IN_ALL
void mitogen_basic_stream_on_receive    (MitogenBasicStream *self,
                                         MitogenBroker *broker);
MITOGEN_AVAILABLE_IN_ALL
void mitogen_basic_stream_on_disconnect (MitogenBasicStream *self,
                                         MitogenBroker *broker);

G_END_DECLS
