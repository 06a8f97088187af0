/* mitogen-io-logger-private.h: what the agent needs of an IoLogger
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-io-logger.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL
void mitogen_io_logger_set_writer (MitogenIoLogger *self,
                                   GLogWriterFunc writer,
                                   gpointer user_data);

G_END_DECLS
