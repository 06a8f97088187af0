/* mitogen-file-transfer.c: put and get files between contexts
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-file-transfer.h"

#include "mitogen-errors.h"
#include "mitogen-file-service-private.h"
#include "mitogen-file-transfer-private.h"
#include "mitogen-file-stream-private.h"
#include "mitogen-protocol.h"
#include "mitogen-service-pool-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file error that crossed a context comes back in its own domain, so
 * that a caller can tell a full disk from a refusal with
 * g_error_matches(); others stay MITOGEN_CALL_ERROR. */
static void
propagate_unwrapped (GError **dest, GError *error)
{
  const gchar *domain = error->domain == MITOGEN_CALL_ERROR
                            ? mitogen_call_error_get_remote_domain (error)
                            : NULL;

  if (g_strcmp0 (domain, g_quark_to_string (G_FILE_ERROR)) == 0
      || g_strcmp0 (domain, g_quark_to_string (G_IO_ERROR)) == 0)
    {
      g_set_error_literal (dest, g_quark_from_string (domain),
                           mitogen_call_error_get_remote_code (error),
                           error->message);
      g_error_free (error);
      return;
    }
  g_propagate_error (dest, error);
}

/* Distinguishes versions of a path, so a hop's cache never serves an
 * older copy of a file that changed. */
static gchar *
describe_version (const struct stat *st)
{
  return g_strdup_printf ("%lu:%lu:%lld:%lld.%09ld", (gulong) st->st_dev,
                          (gulong) st->st_ino, (long long) st->st_size,
                          (long long) st->st_mtim.tv_sec,
                          (long) st->st_mtim.tv_nsec);
}

gboolean
mitogen_context_put_file_at (MitogenContext *self,
                             const gchar *src,
                             const gchar *dst,
                             MitogenFileProgress *progress,
                             guint64 base,
                             guint64 total,
                             GCancellable *cancellable,
                             GError **error)
{
  MitogenRouter *router = mitogen_context_get_router (self);
  MitogenFileService *service = mitogen_file_service_get_default (router);
  g_autofree gchar *real = NULL;
  g_autofree gchar *version = NULL;
  g_autoptr (GVariant) result = NULL;
  GError *local_error = NULL;
  struct stat st;
  guint64 token;

  real = realpath (src, NULL);
  if (!real || stat (real, &st) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot read “%s”: %s", src, g_strerror (errsv));
      return FALSE;
    }
  if (!mitogen_file_service_register (service, real, error))
    return FALSE;
  version = describe_version (&st);
  token = mitogen_file_service_begin_transfer (
      service, cancellable, progress, base,
      total ? total : base + (guint64) st.st_size);
  /* Not cancellable itself: cancelling stops the sending, and the child's
   * reply then says it removed what it had written. */
  result = mitogen_context_call (
      self, "core.fetch_file",
      g_variant_new ("(ssts)", real, version, token, dst), NULL, &local_error);
  mitogen_file_service_end_transfer (service, token);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    {
      g_clear_error (&local_error);
      return FALSE;
    }
  if (!result)
    {
      propagate_unwrapped (error, local_error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
put_file (MitogenContext *self,
          const gchar *src,
          const gchar *dst,
          MitogenFileProgress *progress,
          GCancellable *cancellable,
          GError **error)
{
  return mitogen_context_put_file_at (self, src, dst, progress, 0, 0,
                                      cancellable, error);
}

/* One file's progress as part of a tree's: from @base, of @total in all
 * (0: just this file). */
typedef struct
{
  MitogenFileProgress *progress;
  guint64 base;
  guint64 total;
} GetProgress;

static void
progress_cb (guint64 done, guint64 total, gpointer user_data)
{
  GetProgress *p = user_data;

  if (p->progress)
    mitogen_file_progress_update (p->progress, p->base + done,
                                  p->total ? p->total : p->base + total);
}

gboolean
mitogen_context_get_file_at (MitogenContext *self,
                             const gchar *src,
                             const gchar *dst,
                             MitogenFileProgress *progress,
                             guint64 base,
                             guint64 total,
                             GCancellable *cancellable,
                             GError **error)
{
  MitogenRouter *router = mitogen_context_get_router (self);
  guint32 id = mitogen_context_get_context_id (self);
  GetProgress p = { progress, base, total };
  g_autoptr (MitogenAtomicFile) file = NULL;
  g_autoptr (MitogenReceiver) sink = NULL;
  g_autoptr (MitogenMessage) msg = NULL;
  g_autoptr (GVariant) header = NULL;
  GError *local_error = NULL;

  file = mitogen_atomic_file_open (dst, error);
  if (!file)
    return FALSE;
  sink = mitogen_receiver_new (router, 0, TRUE, id, NULL);
  /* The call's reply goes to the sink too, after the last chunk. */
  msg = mitogen_message_new (
      id, MITOGEN_HANDLE_CALL_FUNCTION,
      g_variant_new (
          MITOGEN_CALL_TYPE, "", "core", "send_file",
          g_variant_new ("(su)", src, mitogen_receiver_get_handle (sink)), 0));
  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (sink));
  if (!mitogen_context_send (self, msg, cancellable, error))
    return FALSE;
  header = mitogen_file_stream_receive (
      router, sink, id, mitogen_atomic_file_get_fd (file), dst, progress_cb, &p,
      cancellable, &local_error);
  if (!header)
    {
      propagate_unwrapped (error, local_error);
      return FALSE;
    }
  return mitogen_atomic_file_commit (file, header, error);
}

static gboolean
get_file (MitogenContext *self,
          const gchar *src,
          const gchar *dst,
          MitogenFileProgress *progress,
          GCancellable *cancellable,
          GError **error)
{
  return mitogen_context_get_file_at (self, src, dst, progress, 0, 0,
                                      cancellable, error);
}

typedef struct
{
  MitogenTransferFunc func;
  gchar *src;
  gchar *dst;
  MitogenFileProgress *progress;
} TransferData;

static void
transfer_data_free (gpointer data)
{
  TransferData *t = data;

  g_free (t->src);
  g_free (t->dst);
  g_clear_object (&t->progress);
  g_free (t);
}

static void
transfer_thread (GTask *task,
                 gpointer source_object,
                 gpointer task_data,
                 GCancellable *cancellable)
{
  TransferData *t = task_data;
  GError *error = NULL;

  if (t->func (source_object, t->src, t->dst, t->progress, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
mitogen_file_transfer_start (MitogenContext *self,
                             MitogenTransferFunc func,
                             gpointer tag,
                             const gchar *src,
                             const gchar *dst,
                             MitogenFileProgress *progress,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  TransferData *t = g_new0 (TransferData, 1);

  t->func = func;
  t->src = g_strdup (src);
  t->dst = g_strdup (dst);
  t->progress = progress ? g_object_ref (progress) : NULL;
  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, t, transfer_data_free);
  g_task_run_in_thread (task, transfer_thread);
}

/**
 * mitogen_context_put_file:
 * @self: the context to write to
 * @src: a local file
 * @dst: the path to write in @self
 * @progress: (nullable): told of the bytes @self has written
 * @cancellable: (nullable): stops the transfer on both sides
 * @error: return location for an error
 *
 * Copies @src to @dst in @self, whatever its size: @self fetches it in
 * chunks under flow control from this context's [class@FileService]
 * (through the [class@PushFileService] of each hop on the way, so pushing
 * one file to many contexts below a hop crosses each link once). @dst is
 * written beside itself, synced and renamed into place with @src's mode,
 * time and (when @self runs as root) owner: a failure at any point, or a
 * cancellation, leaves @dst as it was and nothing beside it.
 *
 * Registers @src with the [class@FileService] for good.
 *
 * Returns: %TRUE once @dst is in place; otherwise %FALSE with @error in
 *   %G_FILE_ERROR or %G_IO_ERROR naming the path (%G_IO_ERROR_CANCELLED
 *   when cancelled), or %MITOGEN_CHANNEL_ERROR_DEAD
 */
gboolean
mitogen_context_put_file (MitogenContext *self,
                          const gchar *src,
                          const gchar *dst,
                          MitogenFileProgress *progress,
                          GCancellable *cancellable,
                          GError **error)
{
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (self), FALSE);
  return put_file (self, src, dst, progress, cancellable, error);
}

/**
 * mitogen_context_put_file_async:
 * @self: the context to write to
 * @src: a local file
 * @dst: the path to write in @self
 * @progress: (nullable): told of the bytes @self has written
 * @cancellable: (nullable): stops the transfer on both sides
 * @callback: called when done
 * @user_data: its data
 *
 * Starts mitogen_context_put_file() on a worker thread.
 */
void
mitogen_context_put_file_async (MitogenContext *self,
                                const gchar *src,
                                const gchar *dst,
                                MitogenFileProgress *progress,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_return_if_fail (MITOGEN_IS_CONTEXT (self));
  mitogen_file_transfer_start (self, put_file, mitogen_context_put_file_async,
                               src, dst, progress, cancellable, callback,
                               user_data);
}

/**
 * mitogen_context_put_file_finish:
 * @self: the context
 * @result: the result
 * @error: return location for an error
 *
 * Finishes mitogen_context_put_file_async().
 *
 * Returns: as mitogen_context_put_file()
 */
gboolean
mitogen_context_put_file_finish (MitogenContext *self,
                                 GAsyncResult *result,
                                 GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mitogen_context_get_file:
 * @self: the context to read from
 * @src: a file in @self
 * @dst: the local path to write
 * @progress: (nullable): told of the bytes written here
 * @cancellable: (nullable): stops the transfer on both sides
 * @error: return location for an error
 *
 * Copies @src in @self to @dst here, in chunks under flow control, and
 * writes @dst as mitogen_context_put_file() does: whole or not at all.
 *
 * Returns: %TRUE once @dst is in place; as mitogen_context_put_file()
 *   otherwise
 */
gboolean
mitogen_context_get_file (MitogenContext *self,
                          const gchar *src,
                          const gchar *dst,
                          MitogenFileProgress *progress,
                          GCancellable *cancellable,
                          GError **error)
{
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (self), FALSE);
  return get_file (self, src, dst, progress, cancellable, error);
}

/**
 * mitogen_context_get_file_async:
 * @self: the context to read from
 * @src: a file in @self
 * @dst: the local path to write
 * @progress: (nullable): told of the bytes written here
 * @cancellable: (nullable): stops the transfer on both sides
 * @callback: called when done
 * @user_data: its data
 *
 * Starts mitogen_context_get_file() on a worker thread.
 */
void
mitogen_context_get_file_async (MitogenContext *self,
                                const gchar *src,
                                const gchar *dst,
                                MitogenFileProgress *progress,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_return_if_fail (MITOGEN_IS_CONTEXT (self));
  mitogen_file_transfer_start (self, get_file, mitogen_context_get_file_async,
                               src, dst, progress, cancellable, callback,
                               user_data);
}

/**
 * mitogen_context_get_file_finish:
 * @self: the context
 * @result: the result
 * @error: return location for an error
 *
 * Finishes mitogen_context_get_file_async().
 *
 * Returns: as mitogen_context_get_file()
 */
gboolean
mitogen_context_get_file_finish (MitogenContext *self,
                                 GAsyncResult *result,
                                 GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mitogen_file_fetch:
 * @router: this context's router
 * @path: the path in the parent's file service
 * @version: what tells versions of @path apart in caches on the way
 * @token: the transfer's token from the master, 0 for none
 * @dst: where to write it here
 * @cancellable: (nullable): stops the transfer on both sides
 * @error: return location for an error
 *
 * The child's half of mitogen_context_put_file() (`core.fetch_file`):
 * fetches @path from this context's parent and writes @dst atomically.
 *
 * Returns: %TRUE once @dst is in place
 */
gboolean
mitogen_file_fetch (MitogenRouter *router,
                    const gchar *path,
                    const gchar *version,
                    guint64 token,
                    const gchar *dst,
                    GCancellable *cancellable,
                    GError **error)
{
  gsize n_parents = 0;
  const guint32 *parents = mitogen_router_get_parent_ids (router, &n_parents);
  g_autoptr (MitogenAtomicFile) file = NULL;
  g_autoptr (MitogenReceiver) sink = NULL;
  g_autoptr (GVariant) header = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), FALSE);

  if (n_parents == 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   "No parent to fetch “%s” from", path);
      return FALSE;
    }
  file = mitogen_atomic_file_open (dst, error);
  if (!file)
    return FALSE;
  sink = mitogen_receiver_new (router, 0, TRUE, parents[0], NULL);
  if (!mitogen_service_send_request (
          router, parents[0], MITOGEN_FILE_SERVICE_NAME, "fetch",
          g_variant_new ("(sst)", path, version, token),
          mitogen_receiver_get_handle (sink), cancellable, error))
    return FALSE;
  header = mitogen_file_stream_receive (router, sink, parents[0],
                                        mitogen_atomic_file_get_fd (file), dst,
                                        NULL, NULL, cancellable, &local_error);
  /* In its own domain, so it goes on up as what it is. */
  if (!header)
    {
      propagate_unwrapped (error, local_error);
      return FALSE;
    }
  return mitogen_atomic_file_commit (file, header, error);
}

/**
 * mitogen_file_send:
 * @router: this context's router
 * @dst_id: the receiving context
 * @sink_handle: its handle for the stream
 * @path: the file to send
 * @cancellable: (nullable): stops the transfer
 * @error: return location for an error
 *
 * The child's half of mitogen_context_get_file() (`core.send_file`):
 * sends @path to @sink_handle in @dst_id, in chunks under flow control.
 *
 * Returns: %TRUE once all of it was acknowledged
 */
gboolean
mitogen_file_send (MitogenRouter *router,
                   guint32 dst_id,
                   guint32 sink_handle,
                   const gchar *path,
                   GCancellable *cancellable,
                   GError **error)
{
  gboolean ok;
  int fd;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), FALSE);

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot open “%s”: %s", path, g_strerror (errsv));
      return FALSE;
    }
  ok = mitogen_file_stream_send (router, dst_id, sink_handle, fd, path, NULL,
                                 NULL, NULL, cancellable, error);
  close (fd);
  return ok;
}
