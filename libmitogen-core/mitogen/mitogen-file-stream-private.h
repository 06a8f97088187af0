/* mitogen-file-stream-private.h: the chunked file protocol shared by the
 * file services and the put/get API. Private.
 *
 * A sender sends to the receiver's sink handle a header (a{sv}: size,
 * mode, uid, gid, mtime, mtime_nsec, and the handle of its acknowledgement
 * receiver), then the data as `ay` chunks; whoever answers the request
 * ends the stream with a call reply `(bv)` to the same handle, so success
 * or an error arrives in order after the last chunk. The receiver
 * acknowledges consumed bytes (`t`), and the sender keeps at most
 * MITOGEN_FILE_STREAM_WINDOW bytes unacknowledged: across any number of
 * hops, memory stays bounded by the window whatever the file's size. An
 * acknowledgement of G_MAXUINT64 cancels.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-receiver.h"
#include "mitogen-router.h"

G_BEGIN_DECLS

#define MITOGEN_FILE_STREAM_CHUNK (256 * 1024)
#define MITOGEN_FILE_STREAM_WINDOW (4 * 1024 * 1024)
#define MITOGEN_FILE_STREAM_CANCEL G_MAXUINT64

typedef void (*MitogenFileStreamProgress) (guint64 done,
                                           guint64 total,
                                           gpointer user_data);

G_GNUC_INTERNAL
gboolean mitogen_file_stream_send (MitogenRouter *router,
                                   guint32 dst_id,
                                   guint32 sink_handle,
                                   int fd,
                                   const gchar *path,
                                   GVariant *meta,
                                   MitogenFileStreamProgress progress,
                                   gpointer progress_data,
                                   GCancellable *cancellable,
                                   GError **error);

G_GNUC_INTERNAL
GVariant *mitogen_file_stream_receive (MitogenRouter *router,
                                       MitogenReceiver *sink,
                                       guint32 src_id,
                                       int out_fd,
                                       const gchar *path,
                                       MitogenFileStreamProgress progress,
                                       gpointer progress_data,
                                       GCancellable *cancellable,
                                       GError **error);

/* A file written beside its destination and renamed over it once whole;
 * an O_TMPFILE where the file system has them, so that even a receiver
 * killed half-way leaves nothing behind. */
typedef struct _MitogenAtomicFile MitogenAtomicFile;

G_GNUC_INTERNAL
MitogenAtomicFile *mitogen_atomic_file_open (const gchar *path, GError **error);
G_GNUC_INTERNAL
int mitogen_atomic_file_get_fd (MitogenAtomicFile *self);
G_GNUC_INTERNAL
gboolean mitogen_atomic_file_commit (MitogenAtomicFile *self,
                                     GVariant *header,
                                     GError **error);
G_GNUC_INTERNAL
void mitogen_atomic_file_free (MitogenAtomicFile *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenAtomicFile, mitogen_atomic_file_free)

G_END_DECLS
