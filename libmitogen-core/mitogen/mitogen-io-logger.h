/* mitogen-io-logger.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-basic-stream.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_IO_LOGGER (mitogen_io_logger_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenIoLogger, mitogen_io_logger, MITOGEN, IO_LOGGER,
                      MitogenBasicStream)

MITOGEN_AVAILABLE_IN_ALL
MitogenIoLogger *mitogen_io_logger_new        (const gchar *name,
                                               int dest_fd,
                                               GError **error);
MITOGEN_AVAILABLE_IN_ALL
guint64          mitogen_io_logger_get_lines  (MitogenIoLogger *self);

G_END_DECLS
