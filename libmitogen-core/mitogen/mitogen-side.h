/* mitogen-side.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib-object.h>
#include <sys/uio.h>
#include <mitogen/mitogen-types.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_SIDE (mitogen_side_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenSide, mitogen_side, MITOGEN, SIDE, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenSide        *mitogen_side_new            (MitogenBasicStream *stream,
                                                 int fd,
                                                 gboolean keep_alive);
MITOGEN_AVAILABLE_IN_ALL
MitogenBasicStream *mitogen_side_get_stream     (MitogenSide *self);
MITOGEN_AVAILABLE_IN_ALL
int                 mitogen_side_get_fd         (MitogenSide *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean            mitogen_side_get_keep_alive (MitogenSide *self);
MITOGEN_AVAILABLE_IN_ALL
int                 mitogen_side_fileno         (MitogenSide *self,
                                                 GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean            mitogen_side_is_closed      (MitogenSide *self);
MITOGEN_AVAILABLE_IN_ALL
void                mitogen_side_close          (MitogenSide *self);
MITOGEN_AVAILABLE_IN_ALL
gssize              mitogen_side_read           (MitogenSide *self,
                                                 guint8 *buffer,
                                                 gsize count,
                                                 GError **error);
MITOGEN_AVAILABLE_IN_ALL
gssize              mitogen_side_write          (MitogenSide *self,
                                                 const guint8 *buffer,
                                                 gsize count,
                                                 GError **error);
MITOGEN_AVAILABLE_IN_ALL
gssize              mitogen_side_writev         (MitogenSide *self,
                                                 const struct iovec *iov,
                                                 int iovcnt,
                                                 GError **error);

G_END_DECLS
