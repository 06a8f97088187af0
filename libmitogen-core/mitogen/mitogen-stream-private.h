/* mitogen-stream-private.h: what only the library's own files call
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-stream.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL
void           mitogen_stream_accept             (MitogenStream *self,
                                                  int receive_fd,
                                                  int transmit_fd);
G_GNUC_INTERNAL
void           mitogen_stream_set_router         (MitogenStream *self,
                                                  MitogenRouter *router);
G_GNUC_INTERNAL
void           mitogen_stream_set_remote_id      (MitogenStream *self,
                                                  guint32 remote_id);

G_END_DECLS
