/* mitogen-io-logger-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-basic-stream.h"

G_BEGIN_DECLS

#define MITOGEN_TYPE_IO_LOGGER (mitogen_io_logger_get_type ())
G_GNUC_INTERNAL
G_DECLARE_FINAL_TYPE (MitogenIoLogger, mitogen_io_logger, MITOGEN, IO_LOGGER,
                      MitogenBasicStream)

G_GNUC_INTERNAL
MitogenIoLogger *mitogen_io_logger_new        (const gchar *name,
                                               int dest_fd,
                                               GError **error);
G_GNUC_INTERNAL
guint64          mitogen_io_logger_get_lines  (MitogenIoLogger *self);

G_END_DECLS
