/* fuzz-message-decoder.c: the frame decoder and message bodies
 *
 * Input: a chunk size (0 for all at once), an options byte, then the byte
 * stream a peer sends. The stream is fed to a MitogenMessageDecoder in
 * chunks, as reads return it, through mitogen_message_decoder_feed() or,
 * inside a body, the body buffer a stream reads large bodies into. Every
 * message decoded must encode back to the very bytes it came from; its
 * body is unpacked as a handler would and parsed as a call's reply.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <stdlib.h>
#include <string.h>

#include <mitogen/mitogen.h>
#include <mitogen/mitogen-protocol.h>

#include "fuzz-common.h"

/* In the options byte. */
#define USE_BODY_BUFFER 0x01
#define SMALL_MAX_SIZE 0x02

/* Bytes before the stream. */
#define PREAMBLE 2

static void
unpack (MitogenMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) value = mitogen_message_get_data (msg, &error);
  g_autoptr (GError) reply_error = NULL;
  g_autoptr (GVariant) result
      = mitogen_protocol_parse_reply (msg, "fuzz", &reply_error);

  /* An error means nothing came back; no error, a value or an empty
   * body. */
  if (error && value)
    abort ();
  if (!error && !value && mitogen_message_get_size (msg) != 0)
    abort ();
  if (reply_error && result)
    abort ();
}

/* Checks @msg encodes back to the next bytes of @stream. */
static gsize
check_encoding (MitogenMessage *msg,
                const guint8 *stream,
                gsize stream_len,
                gsize offset)
{
  g_autoptr (GBytes) frame = mitogen_message_encode (msg);
  gsize len;
  const guint8 *bytes = g_bytes_get_data (frame, &len);

  if (offset + len > stream_len || memcmp (stream + offset, bytes, len) != 0)
    abort ();
  return offset + len;
}

static gboolean
feed_chunk (MitogenMessageDecoder *decoder,
            const guint8 *data,
            gsize len,
            gboolean use_body_buffer)
{
  g_autoptr (GError) error = NULL;

  while (len > 0)
    {
      gsize space;
      guint8 *body
          = use_body_buffer
                ? mitogen_message_decoder_get_body_buffer (decoder, &space)
                : NULL;
      gsize n;

      if (!body)
        return mitogen_message_decoder_feed (decoder, data, len, &error);
      n = MIN (len, space);
      memcpy (body, data, n);
      mitogen_message_decoder_commit_body (decoder, n);
      data += n;
      len -= n;
    }
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (MitogenMessageDecoder) decoder = NULL;
  gsize chunk, offset = 0, checked = 0;
  gboolean use_body_buffer;
  MitogenMessage *msg;

  if (size < PREAMBLE)
    return 0;
  fuzz_init_logging ();
  chunk = data[0] ? data[0] : size;
  use_body_buffer = (data[1] & USE_BODY_BUFFER) != 0;
  decoder = mitogen_message_decoder_new (data[1] & SMALL_MAX_SIZE ? 64 : 0);
  data += PREAMBLE;
  size -= PREAMBLE;

  while (offset < size)
    {
      gsize n = MIN (chunk, size - offset);
      gboolean ok = feed_chunk (decoder, data + offset, n, use_body_buffer);

      offset += n;
      while ((msg = mitogen_message_decoder_pop (decoder)))
        {
          checked = check_encoding (msg, data, size, checked);
          unpack (msg);
          mitogen_message_unref (msg);
        }
      if (!ok)
        break;
    }
  return 0;
}

static GBytes *
frame_of (guint32 handle, guint32 reply_to, GVariant *body)
{
  g_autoptr (MitogenMessage) msg = mitogen_message_new (1, handle, body);

  mitogen_message_set_src_id (msg, 2);
  mitogen_message_set_auth_id (msg, 2);
  mitogen_message_set_reply_to (msg, reply_to);
  return mitogen_message_encode (msg);
}

static void
add_stream (GPtrArray *seeds,
            guint8 chunk,
            guint8 options,
            GBytes *const *frames,
            gsize n_frames)
{
  GByteArray *input = g_byte_array_new ();
  const guint8 preamble[PREAMBLE] = { chunk, options };

  g_byte_array_append (input, preamble, PREAMBLE);
  for (gsize i = 0; i < n_frames; i++)
    g_byte_array_append (input, g_bytes_get_data (frames[i], NULL),
                         (guint) g_bytes_get_size (frames[i]));
  g_ptr_array_add (seeds, g_byte_array_free_to_bytes (input));
}

void
fuzz_target_seeds (GPtrArray *seeds)
{
  GBytes *frames[] = {
    frame_of (MITOGEN_HANDLE_ADD_ROUTE, 0, g_variant_new ("(us)", 7, "child")),
    frame_of (1000, 0,
              g_variant_new ("(bv)", TRUE, g_variant_new_string ("result"))),
    frame_of (1000, 0,
              g_variant_new ("(bv)", FALSE,
                             g_variant_new ("(ssis)", "ctx", "g-io-error-quark",
                                            1, "failed"))),
    frame_of (1001, MITOGEN_HANDLE_IS_DEAD, g_variant_new_string ("gone")),
    frame_of (MITOGEN_HANDLE_SHUTDOWN, 0, NULL),
    frame_of (MITOGEN_HANDLE_FORWARD_LOG, 0,
              g_variant_new ("(siss)", "dom", G_LOG_LEVEL_MESSAGE, "hi", "")),
  };

  add_stream (seeds, 0, 0, frames, G_N_ELEMENTS (frames));
  add_stream (seeds, 7, USE_BODY_BUFFER, frames, G_N_ELEMENTS (frames));
  add_stream (seeds, 1, SMALL_MAX_SIZE, frames, 2);
  for (gsize i = 0; i < G_N_ELEMENTS (frames); i++)
    g_bytes_unref (frames[i]);
}
