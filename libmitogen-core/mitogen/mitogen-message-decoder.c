/* mitogen-message-decoder.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-message-decoder.h"

#include <string.h>

#include "mitogen-errors.h"
#include "mitogen-message-decoder-private.h"

/**
 * MitogenMessageDecoder:
 *
 * Turns a byte stream, split anywhere, into [struct@Message]s.
 *
 * Feed it whatever a read returned; pop the messages it completed. A frame
 * with a bad magic or a body over the maximum size fails the decoder for
 * good, with a %MITOGEN_STREAM_ERROR_PROTOCOL error that says why: the
 * stream cannot be resynchronised, so its owner disconnects it.
 *
 * While a large body is arriving, mitogen_message_decoder_get_body_buffer()
 * lets the reader read straight into the body, saving a copy.
 */
struct _MitogenMessageDecoder {
  GObject parent_instance;

  gsize max_message_size;
  guint8 header[MITOGEN_MESSAGE_HEADER_SIZE];
  gsize header_fill;

  /* The body being filled, once its header is complete. */
  gboolean in_body;
  guint8 *body;
  gsize body_len;
  gsize body_alloc;
  gsize body_fill;

  GQueue done;
  GError *failure;
};

G_DEFINE_FINAL_TYPE (MitogenMessageDecoder, mitogen_message_decoder,
                     G_TYPE_OBJECT)

/* Bodies up to this size are allocated whole when their header arrives. */
#define INITIAL_BODY_ALLOC (1024 * 1024)

/* Makes room for at least one more byte of the body. */
static void
grow_body (MitogenMessageDecoder *self)
{
  if (self->body_fill < self->body_alloc)
    return;
  self->body_alloc = MIN (self->body_len, self->body_alloc * 2);
  self->body = g_realloc (self->body, self->body_alloc);
}

static void
mitogen_message_decoder_finalize (GObject *object)
{
  MitogenMessageDecoder *self = MITOGEN_MESSAGE_DECODER (object);

  g_queue_clear_full (&self->done, (GDestroyNotify) mitogen_message_unref);
  g_free (self->body);
  g_clear_error (&self->failure);

  G_OBJECT_CLASS (mitogen_message_decoder_parent_class)->finalize (object);
}

static void
mitogen_message_decoder_class_init (MitogenMessageDecoderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_message_decoder_finalize;
}

static void
mitogen_message_decoder_init (MitogenMessageDecoder *self)
{
  self->max_message_size = MITOGEN_MAX_MESSAGE_SIZE;
}

/**
 * mitogen_message_decoder_new:
 * @max_message_size: the largest body accepted, or 0 for
 *   %MITOGEN_MAX_MESSAGE_SIZE
 *
 * Creates a decoder of Mitogen frames, refusing bodies larger than
 * @max_message_size.
 *
 * Returns: (transfer full): a new decoder
 */
MitogenMessageDecoder *
mitogen_message_decoder_new (gsize max_message_size)
{
  MitogenMessageDecoder *self = g_object_new (MITOGEN_TYPE_MESSAGE_DECODER, NULL);

  if (max_message_size)
    self->max_message_size = max_message_size;
  return self;
}

/**
 * mitogen_message_decoder_get_max_message_size:
 * @self: a decoder
 *
 * Returns the largest body accepted.
 *
 * Returns: the largest body accepted
 */
gsize
mitogen_message_decoder_get_max_message_size (MitogenMessageDecoder *self)
{
  return self->max_message_size;
}

static guint32
get_be32 (const guint8 *p)
{
  guint32 v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_BE (v);
}

static void
finish_body (MitogenMessageDecoder *self)
{
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_steal_pointer (&self->body),
                                              self->body_len);
  MitogenMessage *msg;

  msg = mitogen_message_new_from_bytes (get_be32 (self->header + 2),
                                        get_be32 (self->header + 14), bytes);
  mitogen_message_set_src_id (msg, get_be32 (self->header + 6));
  mitogen_message_set_auth_id (msg, get_be32 (self->header + 10));
  mitogen_message_set_reply_to (msg, get_be32 (self->header + 18));
  g_queue_push_tail (&self->done, msg);
  self->header_fill = 0;
  self->in_body = FALSE;
}

static gboolean
start_frame (MitogenMessageDecoder *self,
             GError **error)
{
  guint16 magic = (guint16) (self->header[0] << 8 | self->header[1]);
  guint32 len = get_be32 (self->header + 22);

  if (magic != MITOGEN_MESSAGE_MAGIC)
    {
      g_set_error (&self->failure, MITOGEN_STREAM_ERROR,
                   MITOGEN_STREAM_ERROR_PROTOCOL,
                   "Bad frame magic 0x%04x (expected 0x%04x): the peer is not "
                   "speaking the Mitogen protocol", magic,
                   MITOGEN_MESSAGE_MAGIC);
      g_propagate_error (error, g_error_copy (self->failure));
      return FALSE;
    }
  if (len > self->max_message_size)
    {
      g_set_error (&self->failure, MITOGEN_STREAM_ERROR,
                   MITOGEN_STREAM_ERROR_PROTOCOL,
                   "Frame of %u bytes exceeds max_message_size of %"
                   G_GSIZE_FORMAT " bytes", len, self->max_message_size);
      g_propagate_error (error, g_error_copy (self->failure));
      return FALSE;
    }

  self->in_body = TRUE;
  /* A peer's 26 bytes must not make us allocate 128 MiB: the body grows
   * as its bytes arrive. */
  self->body_alloc = MIN (len, INITIAL_BODY_ALLOC);
  self->body = g_malloc (MAX (self->body_alloc, 1));
  self->body_len = len;
  self->body_fill = 0;
  if (len == 0)
    finish_body (self);
  return TRUE;
}

/**
 * mitogen_message_decoder_feed:
 * @self: a decoder
 * @data: (array length=len): bytes read from the stream
 * @len: how many
 * @error: return location for an error
 *
 * Consumes @data. Completed messages wait for mitogen_message_decoder_pop().
 *
 * Returns: %FALSE once the stream is known to be corrupt
 */
gboolean
mitogen_message_decoder_feed (MitogenMessageDecoder *self,
                              const guint8 *data,
                              gsize len,
                              GError **error)
{
  g_return_val_if_fail (MITOGEN_IS_MESSAGE_DECODER (self), FALSE);

  while (len > 0)
    {
      gsize n;

      if (self->failure)
        break;

      if (self->in_body)
        {
          grow_body (self);
          n = MIN (len, self->body_alloc - self->body_fill);
          memcpy (self->body + self->body_fill, data, n);
          mitogen_message_decoder_commit_body (self, n);
        }
      else
        {
          n = MIN (len, MITOGEN_MESSAGE_HEADER_SIZE - self->header_fill);
          memcpy (self->header + self->header_fill, data, n);
          self->header_fill += n;
          if (self->header_fill == MITOGEN_MESSAGE_HEADER_SIZE &&
              !start_frame (self, error))
            return FALSE;
        }
      data += n;
      len -= n;
    }

  if (self->failure)
    {
      g_propagate_error (error, g_error_copy (self->failure));
      return FALSE;
    }
  return TRUE;
}

/**
 * mitogen_message_decoder_get_body_buffer:
 * @self: a decoder
 * @out_len: (out): the space left in the body
 *
 * While a body is incomplete, returns where its next bytes go, so that a
 * reader can read into it directly and then call
 * mitogen_message_decoder_commit_body(). The space may be less than the
 * rest of the body: the body grows as it fills.
 *
 * Returns: (nullable) (transfer none): the space, or %NULL when no body is
 *   being filled
 */
guint8 *
mitogen_message_decoder_get_body_buffer (MitogenMessageDecoder *self,
                                         gsize *out_len)
{
  if (!self->in_body || self->failure)
    {
      *out_len = 0;
      return NULL;
    }
  grow_body (self);
  *out_len = self->body_alloc - self->body_fill;
  return self->body + self->body_fill;
}

/**
 * mitogen_message_decoder_commit_body:
 * @self: a decoder
 * @len: bytes written into the space from
 *   mitogen_message_decoder_get_body_buffer()
 *
 * Tells the decoder that @len bytes were written into the space it handed
 * out, completing messages as their bodies fill.
 */
void
mitogen_message_decoder_commit_body (MitogenMessageDecoder *self,
                                     gsize len)
{
  g_return_if_fail (self->in_body);
  g_return_if_fail (len <= self->body_alloc - self->body_fill);

  self->body_fill += len;
  if (self->body_fill == self->body_len)
    finish_body (self);
}

/**
 * mitogen_message_decoder_get_header_needed:
 * @self: a decoder
 *
 * Returns: how many bytes the current frame header still lacks, or 0 while
 *   a body is being filled
 */
gsize
mitogen_message_decoder_get_header_needed (MitogenMessageDecoder *self)
{
  return self->in_body ? 0 : MITOGEN_MESSAGE_HEADER_SIZE - self->header_fill;
}

/**
 * mitogen_message_decoder_pop:
 * @self: a decoder
 *
 * Returns the oldest completed message, or %NULL.
 *
 * Returns: (transfer full) (nullable): the oldest completed message, or
 *   %NULL
 */
MitogenMessage *
mitogen_message_decoder_pop (MitogenMessageDecoder *self)
{
  return g_queue_pop_head (&self->done);
}
