/* mitogen-file-transfer.h: moving files between contexts
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-context.h>
#include <mitogen/mitogen-file-progress.h>

G_BEGIN_DECLS

MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_put_file (MitogenContext *self,
                                   const gchar *src,
                                   const gchar *dst,
                                   MitogenFileProgress *progress,
                                   GCancellable *cancellable,
                                   GError **error);
MITOGEN_AVAILABLE_IN_ALL
void mitogen_context_put_file_async (MitogenContext *self,
                                     const gchar *src,
                                     const gchar *dst,
                                     MitogenFileProgress *progress,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_put_file_finish (MitogenContext *self,
                                          GAsyncResult *result,
                                          GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_get_file (MitogenContext *self,
                                   const gchar *src,
                                   const gchar *dst,
                                   MitogenFileProgress *progress,
                                   GCancellable *cancellable,
                                   GError **error);
MITOGEN_AVAILABLE_IN_ALL
void mitogen_context_get_file_async (MitogenContext *self,
                                     const gchar *src,
                                     const gchar *dst,
                                     MitogenFileProgress *progress,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_get_file_finish (MitogenContext *self,
                                          GAsyncResult *result,
                                          GError **error);

MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_put_tree (MitogenContext *self,
                                   const gchar *src,
                                   const gchar *dst,
                                   MitogenFileProgress *progress,
                                   GCancellable *cancellable,
                                   GError **error);
MITOGEN_AVAILABLE_IN_ALL
void mitogen_context_put_tree_async (MitogenContext *self,
                                     const gchar *src,
                                     const gchar *dst,
                                     MitogenFileProgress *progress,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_put_tree_finish (MitogenContext *self,
                                          GAsyncResult *result,
                                          GError **error);

MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_get_tree (MitogenContext *self,
                                   const gchar *src,
                                   const gchar *dst,
                                   MitogenFileProgress *progress,
                                   GCancellable *cancellable,
                                   GError **error);
MITOGEN_AVAILABLE_IN_ALL
void mitogen_context_get_tree_async (MitogenContext *self,
                                     const gchar *src,
                                     const gchar *dst,
                                     MitogenFileProgress *progress,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_get_tree_finish (MitogenContext *self,
                                          GAsyncResult *result,
                                          GError **error);

MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_file_fetch (MitogenRouter *router,
                             const gchar *path,
                             const gchar *version,
                             guint64 token,
                             const gchar *dst,
                             GCancellable *cancellable,
                             GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_file_send (MitogenRouter *router,
                            guint32 dst_id,
                            guint32 sink_handle,
                            const gchar *path,
                            GCancellable *cancellable,
                            GError **error);

G_END_DECLS
