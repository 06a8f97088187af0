/* mitogen-file-stream.c: see mitogen-file-stream-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-file-stream-private.h"

#include "mitogen-errors.h"
#include "mitogen-protocol.h"
#include "mitogen-sender-private.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The receiver acknowledges every this many bytes, and at the end. */
#define ACK_STEP (1024 * 1024)

/* @meta, when given, describes the file in place of @st: a cached copy
 * passes on its original's mode, owner and time. */
static GVariant *
build_header (const struct stat *st, GVariant *meta, guint32 ack_handle)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  if (meta)
    {
      GVariantIter iter;
      const gchar *key;
      GVariant *value;

      g_variant_iter_init (&iter, meta);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
        {
          if (!g_str_equal (key, "ack") && !g_str_equal (key, "size"))
            g_variant_builder_add (&builder, "{sv}", key, value);
          g_variant_unref (value);
        }
      g_variant_builder_add (&builder, "{sv}", "size",
                             g_variant_new_uint64 ((guint64) st->st_size));
      g_variant_builder_add (&builder, "{sv}", "ack",
                             g_variant_new_uint32 (ack_handle));
      return g_variant_builder_end (&builder);
    }
  g_variant_builder_add (&builder, "{sv}", "size",
                         g_variant_new_uint64 ((guint64) st->st_size));
  g_variant_builder_add (&builder, "{sv}", "mode",
                         g_variant_new_uint32 (st->st_mode & 07777));
  g_variant_builder_add (&builder, "{sv}", "uid",
                         g_variant_new_uint32 (st->st_uid));
  g_variant_builder_add (&builder, "{sv}", "gid",
                         g_variant_new_uint32 (st->st_gid));
  g_variant_builder_add (&builder, "{sv}", "mtime",
                         g_variant_new_int64 (st->st_mtim.tv_sec));
  g_variant_builder_add (&builder, "{sv}", "mtime_nsec",
                         g_variant_new_uint32 ((guint32) st->st_mtim.tv_nsec));
  g_variant_builder_add (&builder, "{sv}", "ack",
                         g_variant_new_uint32 (ack_handle));
  return g_variant_builder_end (&builder);
}

/* Takes one acknowledgement; %FALSE on cancellation by either side, on
 * the receiver's death, or on a count that makes no sense. */
static gboolean
take_ack (MitogenReceiver *acks,
          guint64 sent,
          guint64 *acked,
          const gchar *path,
          GCancellable *cancellable,
          GError **error)
{
  g_autoptr (GVariant) data = NULL;
  guint64 value;

  data = mitogen_receiver_get_value (acks, -1, cancellable, error);
  if (!data)
    return FALSE;
  if (!g_variant_is_of_type (data, G_VARIANT_TYPE_UINT64))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "Sending “%s”: the receiver acknowledged with a %s", path,
                   g_variant_get_type_string (data));
      return FALSE;
    }
  value = g_variant_get_uint64 (data);
  if (value == MITOGEN_FILE_STREAM_CANCEL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                   "Sending “%s”: the receiver cancelled", path);
      return FALSE;
    }
  if (value > sent || value < *acked)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "Sending “%s”: the receiver acknowledged %" G_GUINT64_FORMAT
                   " bytes of %" G_GUINT64_FORMAT,
                   path, value, sent);
      return FALSE;
    }
  *acked = value;
  return TRUE;
}

/* A chunk as a message body: the `v` holding an `ay` of the file's next
 * bytes, that is the bytes then "\0ay", read straight into place. */
#define CHUNK_SUFFIX "\0ay"
#define CHUNK_SUFFIX_LEN 3

static GBytes *
read_chunk (int fd,
            guint64 offset,
            gsize want,
            guint64 size,
            const gchar *path,
            GError **error)
{
  guint8 *buf = g_malloc (want + CHUNK_SUFFIX_LEN);
  gsize got = 0;

  while (got < want)
    {
      ssize_t n = pread (fd, buf + got, want - got, (off_t) (offset + got));

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                       "Cannot read “%s”: %s", path, g_strerror (errsv));
          g_free (buf);
          return NULL;
        }
      if (n == 0)
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO,
                       "“%s” shrank to %" G_GUINT64_FORMAT " bytes while "
                       "being sent (it had %" G_GUINT64_FORMAT ")",
                       path, offset + got, size);
          g_free (buf);
          return NULL;
        }
      got += (gsize) n;
    }
  memcpy (buf + want, CHUNK_SUFFIX, CHUNK_SUFFIX_LEN);
  return g_bytes_new_take (buf, want + CHUNK_SUFFIX_LEN);
}

gboolean
mitogen_file_stream_send (MitogenRouter *router,
                          guint32 dst_id,
                          guint32 sink_handle,
                          int fd,
                          const gchar *path,
                          GVariant *meta,
                          MitogenFileStreamProgress progress,
                          gpointer progress_data,
                          GCancellable *cancellable,
                          GError **error)
{
  g_autoptr (MitogenReceiver) acks = NULL;
  g_autoptr (MitogenSender) sink = NULL;
  struct stat st;
  guint64 size, sent = 0, acked = 0;

  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "Cannot send “%s”: not a regular file", path);
      return FALSE;
    }
  size = (guint64) st.st_size;
  acks = mitogen_receiver_new (router, 0, TRUE, dst_id, NULL);
  sink = mitogen_sender_new (router, dst_id, sink_handle);
  if (!mitogen_sender_send (
          sink, build_header (&st, meta, mitogen_receiver_get_handle (acks)),
          cancellable, error))
    return FALSE;

  while (sent < size || acked < size)
    {
      g_autoptr (GBytes) chunk = NULL;
      gsize want = (gsize) MIN (MITOGEN_FILE_STREAM_CHUNK, size - sent);

      /* Past the window, or with everything sent, wait for the receiver;
       * otherwise look at what it said without waiting (a cancel). */
      while (sent - acked >= MITOGEN_FILE_STREAM_WINDOW || sent == size
             || !mitogen_receiver_empty (acks))
        {
          if (!take_ack (acks, sent, &acked, path, cancellable, error))
            return FALSE;
          if (progress)
            progress (acked, size, progress_data);
          if (acked == size)
            return TRUE;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      chunk = read_chunk (fd, sent, want, size, path, error);
      if (!chunk)
        return FALSE;
      if (!mitogen_sender_send_bytes (sink, chunk, cancellable, error))
        return FALSE;
      sent += want;
    }
  return TRUE;
}

static void
send_ack (MitogenRouter *router, guint32 dst_id, guint32 handle, guint64 value)
{
  if (handle == 0)
    return;
  /* An acknowledgement is tiny and the sender waits for it: it must not
   * wait for room itself, or two full windows could wait on each other. */
  g_autoptr (MitogenMessage) ack
      = mitogen_message_new (dst_id, handle, g_variant_new_uint64 (value));

  mitogen_router_route (router, ack);
}

static gboolean
set_write_error (GError **error, int errsv, const gchar *path)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
               "Cannot write “%s”: %s", path, g_strerror (errsv));
  return FALSE;
}

static gboolean
write_all (
    int fd, const guint8 *data, gsize length, const gchar *path, GError **error)
{
  while (length > 0)
    {
      ssize_t n = write (fd, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return set_write_error (error, errno, path);
      data += n;
      length -= (gsize) n;
    }
  return TRUE;
}

typedef struct
{
  MitogenRouter *router;
  guint32 src_id;
  const gchar *path;
  int fd;
  GVariant *header;
  guint64 size;
  guint64 done;
  guint64 acked;
  guint32 ack_handle;
} Receive;

static gboolean
take_header (Receive *r, GVariant *data, GError **error)
{
  GVariantDict dict;
  gboolean ok;

  g_variant_dict_init (&dict, data);
  ok = g_variant_dict_lookup (&dict, "size", "t", &r->size)
       && g_variant_dict_lookup (&dict, "ack", "u", &r->ack_handle);
  g_variant_dict_clear (&dict);
  if (!ok || r->header)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "Receiving “%s”: a malformed or second header", r->path);
      return FALSE;
    }
  r->header = g_variant_ref (data);
  /* Nothing will come to acknowledge: the sender waits for this. */
  if (r->size == 0)
    send_ack (r->router, r->src_id, r->ack_handle, 0);
  return TRUE;
}

static gboolean
take_chunk (Receive *r, const guint8 *bytes, gsize length, GError **error)
{
  if (!r->header || length > r->size - r->done)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "Receiving “%s”: data past the announced %" G_GUINT64_FORMAT
                   " bytes",
                   r->path, r->size);
      return FALSE;
    }
  /* A chunk of zeros becomes a hole: a sparse file stays sparse, and
   * costs the destination no disk. take_end() sets the final size. */
  if (length > 0 && bytes[0] == 0 && memcmp (bytes, bytes + 1, length - 1) == 0)
    {
      if (lseek (r->fd, (off_t) length, SEEK_CUR) < 0)
        return set_write_error (error, errno, r->path);
    }
  else if (!write_all (r->fd, bytes, length, r->path, error))
    return FALSE;
  r->done += length;
  if (r->done - r->acked >= ACK_STEP || r->done == r->size)
    {
      send_ack (r->router, r->src_id, r->ack_handle, r->done);
      r->acked = r->done;
    }
  return TRUE;
}

/* The end: the reply of whoever serves the file. */
static gboolean
take_end (Receive *r, MitogenMessage *msg, GError **error)
{
  g_autofree gchar *name
      = mitogen_router_dup_context_name (r->router, r->src_id);
  g_autoptr (GVariant) result
      = mitogen_protocol_parse_reply (msg, name ? name : "the sender", error);

  if (!result)
    return FALSE;
  if (r->header && r->done == r->size && ftruncate (r->fd, (off_t) r->size) < 0)
    return set_write_error (error, errno, r->path);
  if (!r->header || r->done != r->size)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "Receiving “%s”: the stream ended after %" G_GUINT64_FORMAT
                   " of %" G_GUINT64_FORMAT " bytes",
                   r->path, r->done, r->size);
      return FALSE;
    }
  return TRUE;
}

/* %TRUE while more is to come; *@finished once the end arrived whole. */
static gboolean
take_message (Receive *r,
              MitogenMessage *msg,
              gboolean *finished,
              GError **error)
{
  g_autoptr (GVariant) data = NULL;
  GBytes *body = mitogen_message_get_bytes (msg);
  gsize size = body ? g_bytes_get_size (body) : 0;
  const guint8 *bytes = body ? g_bytes_get_data (body, NULL) : NULL;

  /* A chunk is a `v` holding an `ay`: its bytes, then "\0ay". Any bytes
   * are an `ay` in normal form, so they are taken as they are: GLib's
   * normal-form check of a byte array looks at each byte on its own, and
   * cost more than everything else a transfer does. */
  if (size >= CHUNK_SUFFIX_LEN
      && memcmp (bytes + size - CHUNK_SUFFIX_LEN, CHUNK_SUFFIX,
                 CHUNK_SUFFIX_LEN)
             == 0)
    return take_chunk (r, bytes, size - CHUNK_SUFFIX_LEN, error);
  data = mitogen_message_get_data (msg, error);
  if (!data)
    return FALSE;
  if (g_variant_is_of_type (data, G_VARIANT_TYPE (MITOGEN_REPLY_TYPE)))
    {
      *finished = take_end (r, msg, error);
      return *finished;
    }
  if (g_variant_is_of_type (data, G_VARIANT_TYPE_VARDICT))
    return take_header (r, data, error);
  g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
               "Receiving “%s”: a message of type %s", r->path,
               g_variant_get_type_string (data));
  return FALSE;
}

GVariant *
mitogen_file_stream_receive (MitogenRouter *router,
                             MitogenReceiver *sink,
                             guint32 src_id,
                             int out_fd,
                             const gchar *path,
                             MitogenFileStreamProgress progress,
                             gpointer progress_data,
                             GCancellable *cancellable,
                             GError **error)
{
  Receive r = { router, src_id, path, out_fd, NULL, 0, 0, 0, 0 };
  gboolean finished = FALSE;

  while (!finished)
    {
      g_autoptr (MitogenMessage) msg
          = mitogen_receiver_get (sink, -1, cancellable, error);

      if (!msg || !take_message (&r, msg, &finished, error))
        {
          /* Tells the sender to stop, whatever went wrong here. */
          send_ack (router, src_id, r.ack_handle, MITOGEN_FILE_STREAM_CANCEL);
          g_clear_pointer (&r.header, g_variant_unref);
          return NULL;
        }
      if (progress && r.header)
        progress (r.done, r.size, progress_data);
    }
  return r.header;
}
