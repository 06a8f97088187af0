/* mitogen-basic-stream-private.h: what only the library's own files call
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-basic-stream.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL
void mitogen_basic_stream_on_transmit   (MitogenBasicStream *self,
                                         MitogenBroker *broker);
G_GNUC_INTERNAL
void mitogen_basic_stream_on_shutdown   (MitogenBasicStream *self,
                                         MitogenBroker *broker);

G_END_DECLS
