/* mitogen-file-service-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-file-progress.h"
#include "mitogen-file-service.h"

G_BEGIN_DECLS

/* A put in progress: the service sending its file stops when
 * @cancellable is cancelled and reports to @progress, offset by @base
 * (the bytes of the tree copied before this file). */
G_GNUC_INTERNAL
guint64 mitogen_file_service_begin_transfer (MitogenFileService *self,
                                             GCancellable *cancellable,
                                             MitogenFileProgress *progress,
                                             guint64 base,
                                             guint64 total);
G_GNUC_INTERNAL
void mitogen_file_service_end_transfer (MitogenFileService *self,
                                        guint64 token);

G_END_DECLS
