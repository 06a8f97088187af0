/* mitogen-file-transfer-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-file-transfer.h"

G_BEGIN_DECLS

/* mitogen_context_put_file() as one file of a tree: its progress starts
 * at @base, of @total in all (0: just this file). */
G_GNUC_INTERNAL
gboolean mitogen_context_put_file_at (MitogenContext *self,
                                      const gchar *src,
                                      const gchar *dst,
                                      MitogenFileProgress *progress,
                                      guint64 base,
                                      guint64 total,
                                      GCancellable *cancellable,
                                      GError **error);

/* mitogen_context_get_file() as one file of a tree, as above. */
G_GNUC_INTERNAL
gboolean mitogen_context_get_file_at (MitogenContext *self,
                                      const gchar *src,
                                      const gchar *dst,
                                      MitogenFileProgress *progress,
                                      guint64 base,
                                      guint64 total,
                                      GCancellable *cancellable,
                                      GError **error);

typedef gboolean (*MitogenTransferFunc) (MitogenContext *self,
                                         const gchar *src,
                                         const gchar *dst,
                                         MitogenFileProgress *progress,
                                         GCancellable *cancellable,
                                         GError **error);

/* Runs @func on a worker thread for an _async. */
G_GNUC_INTERNAL
void mitogen_file_transfer_start (MitogenContext *self,
                                  MitogenTransferFunc func,
                                  gpointer tag,
                                  const gchar *src,
                                  const gchar *dst,
                                  MitogenFileProgress *progress,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);

G_END_DECLS
