/* test-message.c: tests for MitogenMessage and MitogenMessageDecoder
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>

#include <string.h>

#define N_STREAM_MESSAGES 200
#define MAX_STREAM_BODY 70000
#define N_CORRUPTIONS 2000
#define N_GARBAGE_BODIES 2000

/* ---------------------------------------------------------------------- */
/* Helpers */

static gboolean
test_quick (void)
{
  return g_strcmp0 (g_getenv ("MITOGEN_TEST_QUICK"), "1") == 0;
}

static void
fill_random (guint8 *buf,
             gsize len)
{
  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) g_test_rand_int_range (0, 256);
}

static GBytes *
random_bytes (gsize len)
{
  guint8 *buf = g_malloc (MAX (len, 1));

  fill_random (buf, len);
  return g_bytes_new_take (buf, len);
}

static guint32
random_u32 (void)
{
  return (guint32) g_test_rand_int ();
}

/* Frame bodies are opaque to the decoder, so arbitrary bytes will do. */
static MitogenMessage *
random_message (gsize max_body)
{
  g_autoptr(GBytes) body = random_bytes (g_test_rand_int_range (0, max_body + 1));
  MitogenMessage *msg = mitogen_message_new_from_bytes (random_u32 (),
                                                        random_u32 (), body);

  mitogen_message_set_src_id (msg, random_u32 ());
  mitogen_message_set_auth_id (msg, random_u32 ());
  mitogen_message_set_reply_to (msg, random_u32 ());
  return msg;
}

static GPtrArray *
random_messages (guint n,
                 gsize max_body)
{
  GPtrArray *msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) mitogen_message_unref);

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (msgs, random_message (max_body));
  return msgs;
}

/* The frames of @msgs back to back, and where each one ends. */
static GByteArray *
encode_stream (GPtrArray *msgs,
               GArray *frame_ends)
{
  GByteArray *stream = g_byte_array_new ();

  for (guint i = 0; i < msgs->len; i++)
    {
      g_autoptr(GBytes) frame = mitogen_message_encode (msgs->pdata[i]);
      gsize len;
      const guint8 *data = g_bytes_get_data (frame, &len);

      g_byte_array_append (stream, data, len);
      if (frame_ends)
        g_array_append_val (frame_ends, stream->len);
    }
  return stream;
}

static void
assert_messages_equal (const MitogenMessage *a,
                       const MitogenMessage *b)
{
  g_assert_cmpuint (mitogen_message_get_dst_id (a), ==, mitogen_message_get_dst_id (b));
  g_assert_cmpuint (mitogen_message_get_src_id (a), ==, mitogen_message_get_src_id (b));
  g_assert_cmpuint (mitogen_message_get_auth_id (a), ==, mitogen_message_get_auth_id (b));
  g_assert_cmpuint (mitogen_message_get_handle (a), ==, mitogen_message_get_handle (b));
  g_assert_cmpuint (mitogen_message_get_reply_to (a), ==, mitogen_message_get_reply_to (b));
  g_assert_cmpuint (mitogen_message_get_size (a), ==, mitogen_message_get_size (b));
  g_assert_true (g_bytes_equal (mitogen_message_get_bytes (a),
                                mitogen_message_get_bytes (b)));
}

/* Pops everything the decoder completed, checking it against @expected from
 * index *next on. */
static void
pop_and_check (MitogenMessageDecoder *decoder,
               GPtrArray *expected,
               guint *next)
{
  MitogenMessage *msg;

  while ((msg = mitogen_message_decoder_pop (decoder)))
    {
      g_assert_cmpuint (*next, <, expected->len);
      assert_messages_equal (msg, expected->pdata[*next]);
      (*next)++;
      mitogen_message_unref (msg);
    }
}

/* A split point for @left bytes: mostly small, sometimes large, so that
 * splits land in headers as well as deep inside bodies. */
static gsize
random_chunk (gsize left)
{
  gsize max = g_test_rand_bit () ? 64 : 100000;
  gsize n = g_test_rand_int_range (1, max + 1);

  return MIN (left, n);
}

static MitogenMessage *
decode_one (GBytes *frame,
            GError **error)
{
  g_autoptr(MitogenMessageDecoder) decoder = mitogen_message_decoder_new (0);
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);

  if (!mitogen_message_decoder_feed (decoder, data, len, error))
    return NULL;
  return mitogen_message_decoder_pop (decoder);
}

/* ---------------------------------------------------------------------- */
/* MitogenMessage */

static void
test_message_new (void)
{
  g_autoptr(MitogenMessage) msg = mitogen_message_new (5, MITOGEN_HANDLE_CALL_FUNCTION,
                                                       g_variant_new_string ("x"));
  MitogenMessage *copy;

  g_assert_cmpuint (mitogen_message_get_dst_id (msg), ==, 5);
  g_assert_cmpuint (mitogen_message_get_handle (msg), ==, MITOGEN_HANDLE_CALL_FUNCTION);
  g_assert_cmpuint (mitogen_message_get_src_id (msg), ==, 0);
  g_assert_cmpuint (mitogen_message_get_auth_id (msg), ==, 0);
  g_assert_cmpuint (mitogen_message_get_reply_to (msg), ==, 0);
  g_assert_false (mitogen_message_is_dead (msg));
  g_assert_cmpuint (mitogen_message_get_size (msg), >, 0);
  g_assert_cmpuint (mitogen_message_get_size (msg), ==,
                    g_bytes_get_size (mitogen_message_get_bytes (msg)));

  mitogen_message_set_dst_id (msg, 11);
  mitogen_message_set_src_id (msg, 12);
  mitogen_message_set_auth_id (msg, 13);
  mitogen_message_set_handle (msg, 14);
  mitogen_message_set_reply_to (msg, 15);
  g_assert_cmpuint (mitogen_message_get_dst_id (msg), ==, 11);
  g_assert_cmpuint (mitogen_message_get_src_id (msg), ==, 12);
  g_assert_cmpuint (mitogen_message_get_auth_id (msg), ==, 13);
  g_assert_cmpuint (mitogen_message_get_handle (msg), ==, 14);
  g_assert_cmpuint (mitogen_message_get_reply_to (msg), ==, 15);

  /* A boxed copy is a reference to the same message. */
  copy = g_boxed_copy (MITOGEN_TYPE_MESSAGE, msg);
  g_assert_true (copy == msg);
  g_boxed_free (MITOGEN_TYPE_MESSAGE, copy);
}

static void
test_message_new_empty (void)
{
  g_autoptr(MitogenMessage) msg = mitogen_message_new (1, 2, NULL);
  g_autoptr(MitogenMessage) from_bytes = mitogen_message_new_from_bytes (1, 2, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (mitogen_message_get_size (msg), ==, 0);
  g_assert_cmpuint (mitogen_message_get_size (from_bytes), ==, 0);
  g_assert_nonnull (mitogen_message_get_bytes (from_bytes));
  g_assert_null (mitogen_message_get_data (msg, &error));
  g_assert_no_error (error);
}

static void
test_message_encode_header (void)
{
  static const guint8 expected[MITOGEN_MESSAGE_HEADER_SIZE] = {
    0x4d, 0x49,             /* magic */
    0x01, 0x02, 0x03, 0x04, /* dst_id */
    0x05, 0x06, 0x07, 0x08, /* src_id */
    0x09, 0x0a, 0x0b, 0x0c, /* auth_id */
    0x0d, 0x0e, 0x0f, 0x10, /* handle */
    0x11, 0x12, 0x13, 0x14, /* reply_to */
    0x00, 0x00, 0x01, 0x02, /* length: 258 */
  };
  guint8 body[258];
  guint8 header[MITOGEN_MESSAGE_HEADER_SIZE + 1];
  g_autoptr(GBytes) body_bytes = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GBytes) frame = NULL;
  const guint8 *frame_data;
  gsize frame_len;

  G_STATIC_ASSERT (MITOGEN_MESSAGE_HEADER_SIZE == 26);
  for (gsize i = 0; i < sizeof body; i++)
    body[i] = (guint8) (i * 7);
  body_bytes = g_bytes_new (body, sizeof body);
  msg = mitogen_message_new_from_bytes (0x01020304, 0x0d0e0f10, body_bytes);
  mitogen_message_set_src_id (msg, 0x05060708);
  mitogen_message_set_auth_id (msg, 0x090a0b0c);
  mitogen_message_set_reply_to (msg, 0x11121314);

  /* A canary after the header: it must write exactly 26 bytes. */
  memset (header, 0xaa, sizeof header);
  mitogen_message_encode_header (msg, header);
  for (gsize i = 0; i < MITOGEN_MESSAGE_HEADER_SIZE; i++)
    if (header[i] != expected[i])
      g_error ("header byte %" G_GSIZE_FORMAT " is 0x%02x, expected 0x%02x",
               i, header[i], expected[i]);
  g_assert_cmpuint (header[MITOGEN_MESSAGE_HEADER_SIZE], ==, 0xaa);

  frame = mitogen_message_encode (msg);
  frame_data = g_bytes_get_data (frame, &frame_len);
  g_assert_cmpmem (frame_data, MITOGEN_MESSAGE_HEADER_SIZE,
                   expected, MITOGEN_MESSAGE_HEADER_SIZE);
  g_assert_cmpmem (frame_data + MITOGEN_MESSAGE_HEADER_SIZE,
                   frame_len - MITOGEN_MESSAGE_HEADER_SIZE, body, sizeof body);
}

/* Encodes @value, decodes the frame, and checks the value survives both the
 * message and the wire. */
static void
assert_data_round_trips (GVariant *value)
{
  g_autoptr(GVariant) sunk = g_variant_ref_sink (value);
  g_autoptr(GVariant) boxed = g_variant_ref_sink (g_variant_new_variant (sunk));
  g_autoptr(MitogenMessage) msg = mitogen_message_new (3, 4, sunk);
  g_autoptr(MitogenMessage) decoded = NULL;
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GVariant) direct = NULL;
  g_autoptr(GVariant) received = NULL;
  g_autoptr(GError) error = NULL;

  /* The body is the value boxed in a "v", serialized. */
  g_assert_cmpmem (g_bytes_get_data (mitogen_message_get_bytes (msg), NULL),
                   mitogen_message_get_size (msg),
                   g_variant_get_data (boxed), g_variant_get_size (boxed));

  direct = mitogen_message_get_data (msg, &error);
  g_assert_no_error (error);
  g_assert_nonnull (direct);
  g_assert_true (g_variant_equal (direct, sunk));

  frame = mitogen_message_encode (msg);
  decoded = decode_one (frame, &error);
  g_assert_no_error (error);
  g_assert_nonnull (decoded);
  received = mitogen_message_get_data (decoded, &error);
  g_assert_no_error (error);
  g_assert_nonnull (received);
  g_assert_cmpstr (g_variant_get_type_string (received), ==,
                   g_variant_get_type_string (sunk));
  g_assert_true (g_variant_equal (received, sunk));
}

static void
test_message_data_string (void)
{
  assert_data_round_trips (g_variant_new_string ("hello, world"));
  assert_data_round_trips (g_variant_new_string (""));
}

static void
test_message_data_dict (void)
{
  g_autoptr(GVariantBuilder) builder = g_variant_builder_new (G_VARIANT_TYPE_VARDICT);

  g_variant_builder_add (builder, "{sv}", "int", g_variant_new_int32 (-7));
  g_variant_builder_add (builder, "{sv}", "str", g_variant_new_string ("v"));
  g_variant_builder_add (builder, "{sv}", "nested",
                         g_variant_new ("(tb)", G_GUINT64_CONSTANT (1) << 40, TRUE));
  assert_data_round_trips (g_variant_new ("(sa{sv})", "name", builder));
}

static void
test_message_data_large_bytes (void)
{
  gsize len = 1024 * 1024;
  g_autoptr(GBytes) bytes = random_bytes (len);

  assert_data_round_trips (
    g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE));
}

static void
test_message_dead (void)
{
  g_autoptr(MitogenMessage) msg = mitogen_message_new_dead (1, 2, "no route to context 9");
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_message_is_dead (msg));
  g_assert_cmpuint (mitogen_message_get_reply_to (msg), ==, MITOGEN_HANDLE_IS_DEAD);
  g_assert_cmpuint (mitogen_message_get_dst_id (msg), ==, 1);
  g_assert_cmpuint (mitogen_message_get_handle (msg), ==, 2);

  g_assert_null (mitogen_message_get_data (msg, &error));
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_assert_cmpstr (error->message, ==, "no route to context 9");
}

/* A dead message from a peer may carry no reason, or an odd one; it is
 * still dead. */
static void
test_message_dead_without_reason (void)
{
  g_autoptr(MitogenMessage) empty = mitogen_message_new_from_bytes (1, 2, NULL);
  g_autoptr(MitogenMessage) odd = mitogen_message_new (1, 2, g_variant_new_int32 (5));
  g_autoptr(GError) error = NULL;

  mitogen_message_set_reply_to (empty, MITOGEN_HANDLE_IS_DEAD);
  g_assert_null (mitogen_message_get_data (empty, &error));
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_assert_cmpstr (error->message, !=, "");
  g_clear_error (&error);

  mitogen_message_set_reply_to (odd, MITOGEN_HANDLE_IS_DEAD);
  g_assert_null (mitogen_message_get_data (odd, &error));
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_assert_cmpstr (error->message, !=, "");
}

static void
assert_body_refused (const guint8 *body,
                     gsize len)
{
  g_autoptr(GBytes) bytes = g_bytes_new (body, len);
  g_autoptr(MitogenMessage) msg = mitogen_message_new_from_bytes (1, 2, bytes);
  g_autoptr(GError) error = NULL;

  g_assert_null (mitogen_message_get_data (msg, &error));
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL);
}

static void
test_message_data_not_normal (void)
{
  /* A "v" holding a boolean: value byte, zero, type string. A boolean
   * byte of 2 is readable but not in normal form. */
  static const guint8 bad_boolean[] = { 0x02, 0x00, 'b' };
  /* The same shape with a type string that is no type. */
  static const guint8 bad_type[] = { 0x01, 0x00, '(' };
  /* No zero byte separating value and type. */
  static const guint8 no_separator[] = { 0xff, 0xff, 0xff };
  /* A string missing its terminating zero. */
  static const guint8 bad_string[] = { 'a', 'b', 0x00, 's' };
  /* The well-formed version, so the others fail for their fault only. */
  static const guint8 good_boolean[] = { 0x01, 0x00, 'b' };
  g_autoptr(GBytes) good = g_bytes_new_static (good_boolean, sizeof good_boolean);
  g_autoptr(MitogenMessage) msg = mitogen_message_new_from_bytes (1, 2, good);
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  value = mitogen_message_get_data (msg, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_get_boolean (value));

  assert_body_refused (bad_boolean, sizeof bad_boolean);
  assert_body_refused (bad_type, sizeof bad_type);
  assert_body_refused (no_separator, sizeof no_separator);
  assert_body_refused (bad_string, sizeof bad_string);
}

/* Whatever a peer sends, get_data() answers with a value or an error. */
static void
test_message_data_garbage (void)
{
  for (guint i = 0; i < N_GARBAGE_BODIES; i++)
    {
      g_autoptr(GBytes) bytes = random_bytes (g_test_rand_int_range (1, 65));
      g_autoptr(MitogenMessage) msg = mitogen_message_new_from_bytes (1, 2, bytes);
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GError) error = NULL;

      value = mitogen_message_get_data (msg, &error);
      if (value)
        {
          g_assert_no_error (error);
          g_assert_true (g_variant_is_normal_form (value));
        }
      else
        g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL);
    }
}

/* ---------------------------------------------------------------------- */
/* MitogenMessageDecoder: splitting */

typedef enum {
  FEED_WHOLE,
  FEED_BYTEWISE,
  FEED_RANDOM,
  FEED_BODY_BUFFER,
} FeedMode;

/* Feeds @stream as @mode says; with FEED_BODY_BUFFER, bodies are written
 * straight into the decoder's buffer about half the time. */
static void
feed_stream (MitogenMessageDecoder *decoder,
             const GByteArray *stream,
             FeedMode mode,
             GPtrArray *expected,
             guint *next)
{
  gsize pos = 0;

  while (pos < stream->len)
    {
      gsize left = stream->len - pos;
      g_autoptr(GError) error = NULL;
      gsize n;

      if (mode == FEED_BODY_BUFFER && g_test_rand_bit ())
        {
          gsize space = 0;
          guint8 *buf = mitogen_message_decoder_get_body_buffer (decoder, &space);

          if (buf)
            {
              g_assert_cmpuint (space, >, 0);
              n = random_chunk (left);
              n = MIN (n, space);
              memcpy (buf, stream->data + pos, n);
              mitogen_message_decoder_commit_body (decoder, n);
              pos += n;
              pop_and_check (decoder, expected, next);
              continue;
            }
          g_assert_cmpuint (space, ==, 0);
        }

      switch (mode)
        {
        case FEED_WHOLE:
          n = left;
          break;
        case FEED_BYTEWISE:
          n = 1;
          break;
        case FEED_RANDOM:
        case FEED_BODY_BUFFER:
        default:
          n = random_chunk (left);
          break;
        }
      g_assert_true (mitogen_message_decoder_feed (decoder, stream->data + pos,
                                                   n, &error));
      g_assert_no_error (error);
      pos += n;
      /* Popping as we go checks that messages are ready as soon as their
       * last byte arrives, not later. */
      pop_and_check (decoder, expected, next);
    }
}

static void
test_decoder_split (gconstpointer data)
{
  FeedMode mode = GPOINTER_TO_INT (data);
  guint n_messages = test_quick () && mode == FEED_BYTEWISE
                       ? N_STREAM_MESSAGES / 10 : N_STREAM_MESSAGES;
  g_autoptr(GPtrArray) msgs = random_messages (n_messages, MAX_STREAM_BODY);
  g_autoptr(GByteArray) stream = NULL;
  g_autoptr(MitogenMessageDecoder) decoder = mitogen_message_decoder_new (0);
  gsize space = 0;
  guint next = 0;

  /* Empty bodies and all-ones headers are in every stream, not left to
   * chance. */
  g_ptr_array_insert (msgs, g_test_rand_int_range (0, msgs->len + 1),
                      mitogen_message_new_from_bytes (0, 0, NULL));
  g_ptr_array_add (msgs, mitogen_message_new_from_bytes (G_MAXUINT32,
                                                         G_MAXUINT32, NULL));
  stream = encode_stream (msgs, NULL);

  feed_stream (decoder, stream, mode, msgs, &next);
  g_assert_cmpuint (next, ==, msgs->len);
  /* Nothing half-read is left over. */
  g_assert_null (mitogen_message_decoder_get_body_buffer (decoder, &space));
  g_assert_cmpuint (space, ==, 0);
  g_assert_null (mitogen_message_decoder_pop (decoder));
}

static void
test_decoder_pops_in_order (void)
{
  g_autoptr(GPtrArray) msgs = random_messages (20, 100);
  g_autoptr(GByteArray) stream = encode_stream (msgs, NULL);
  g_autoptr(MitogenMessageDecoder) decoder = mitogen_message_decoder_new (0);
  g_autoptr(GError) error = NULL;
  guint next = 0;

  /* All at once and popped only at the end: the queue keeps order. */
  g_assert_true (mitogen_message_decoder_feed (decoder, stream->data,
                                               stream->len, &error));
  g_assert_no_error (error);
  pop_and_check (decoder, msgs, &next);
  g_assert_cmpuint (next, ==, msgs->len);
}

/* ---------------------------------------------------------------------- */
/* MitogenMessageDecoder: corruption */

/* Corrupted streams use a small limit, so that a corrupted length either
 * fails at once or allocates little. */
#define CORRUPTION_MAX_BODY 300
#define CORRUPTION_MAX_MESSAGE_SIZE 1024
/* Bodies and garbage never hold this byte, so they cannot contain a magic
 * number and forge frames: a corrupted stream may lose messages but never
 * gain any. */
#define MAGIC_HIGH_BYTE ((MITOGEN_MESSAGE_MAGIC >> 8) & 0xff)

static void
scrub_magic (guint8 *buf,
             gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (buf[i] == MAGIC_HIGH_BYTE)
      buf[i] ^= 0x01;
}

static MitogenMessage *
scrubbed_message (void)
{
  g_autoptr(MitogenMessage) msg = random_message (CORRUPTION_MAX_BODY);
  gsize len = mitogen_message_get_size (msg);
  guint8 *body = g_memdup2 (g_bytes_get_data (mitogen_message_get_bytes (msg), NULL),
                            MAX (len, 1));
  g_autoptr(GBytes) bytes = NULL;
  MitogenMessage *clean;

  scrub_magic (body, len);
  bytes = g_bytes_new_take (body, len);
  clean = mitogen_message_new_from_bytes (mitogen_message_get_dst_id (msg),
                                          mitogen_message_get_handle (msg),
                                          bytes);
  mitogen_message_set_src_id (clean, mitogen_message_get_src_id (msg));
  mitogen_message_set_auth_id (clean, mitogen_message_get_auth_id (msg));
  mitogen_message_set_reply_to (clean, mitogen_message_get_reply_to (msg));
  return clean;
}

/* Corrupts @stream; returns the offset of the first changed byte. */
static gsize
corrupt_stream (GByteArray *stream)
{
  gsize first = stream->len;

  switch (g_test_rand_int_range (0, 3))
    {
    case 0: /* flip bytes */
      for (gint n = g_test_rand_int_range (1, 5); n > 0; n--)
        {
          gsize at = g_test_rand_int_range (0, stream->len);
          stream->data[at] ^= (guint8) g_test_rand_int_range (1, 256);
          first = MIN (first, at);
        }
      break;
    case 1: /* truncate */
      first = g_test_rand_int_range (0, stream->len);
      g_byte_array_set_size (stream, first);
      break;
    case 2: /* insert garbage */
    default:
      {
        guint8 garbage[64];
        gsize len = g_test_rand_int_range (1, sizeof garbage + 1);

        fill_random (garbage, len);
        scrub_magic (garbage, len);
        first = g_test_rand_int_range (0, stream->len + 1);
        g_byte_array_set_size (stream, stream->len + len);
        memmove (stream->data + first + len, stream->data + first,
                 stream->len - len - first);
        memcpy (stream->data + first, garbage, len);
      }
      break;
    }
  return first;
}

static void
assert_protocol_error (const GError *error)
{
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL);
  g_assert_nonnull (error->message);
  g_assert_cmpstr (error->message, !=, "");
}

static void
check_one_corruption (void)
{
  g_autoptr(GPtrArray) msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) mitogen_message_unref);
  g_autoptr(GArray) frame_ends = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GByteArray) stream = NULL;
  g_autoptr(MitogenMessageDecoder) decoder =
    mitogen_message_decoder_new (CORRUPTION_MAX_MESSAGE_SIZE);
  guint n_intact = 0;
  guint n_popped = 0;
  gboolean failed = FALSE;
  gsize first_bad;
  gsize pos = 0;
  MitogenMessage *msg;

  for (gint n = g_test_rand_int_range (1, 9); n > 0; n--)
    g_ptr_array_add (msgs, scrubbed_message ());
  stream = encode_stream (msgs, frame_ends);
  first_bad = corrupt_stream (stream);
  /* Frames wholly before the damage must come out unharmed. */
  while (n_intact < frame_ends->len &&
         g_array_index (frame_ends, guint, n_intact) <= first_bad)
    n_intact++;

  while (pos < stream->len && !failed)
    {
      g_autoptr(GError) error = NULL;
      gsize n = random_chunk (stream->len - pos);

      if (!mitogen_message_decoder_feed (decoder, stream->data + pos, n, &error))
        {
          assert_protocol_error (error);
          failed = TRUE;
        }
      else
        g_assert_no_error (error);
      pos += n;
    }

  while ((msg = mitogen_message_decoder_pop (decoder)))
    {
      if (n_popped < n_intact)
        assert_messages_equal (msg, msgs->pdata[n_popped]);
      n_popped++;
      mitogen_message_unref (msg);
    }
  g_assert_cmpuint (n_popped, <=, msgs->len);
  /* Whether it failed or waits for more, nothing intact was lost. */
  g_assert_cmpuint (n_popped, >=, n_intact);

  if (failed)
    {
      /* A failed decoder stays failed, whatever comes next. */
      g_autoptr(GByteArray) valid = encode_stream (msgs, NULL);
      g_autoptr(GError) error = NULL;
      gsize space = 42;

      g_assert_false (mitogen_message_decoder_feed (decoder, valid->data,
                                                    valid->len, &error));
      assert_protocol_error (error);
      g_clear_error (&error);
      g_assert_false (mitogen_message_decoder_feed (decoder, valid->data, 0,
                                                    &error));
      assert_protocol_error (error);
      g_assert_null (mitogen_message_decoder_pop (decoder));
      g_assert_null (mitogen_message_decoder_get_body_buffer (decoder, &space));
      g_assert_cmpuint (space, ==, 0);
    }
}

static void
test_decoder_corruption (void)
{
  for (guint i = 0; i < N_CORRUPTIONS; i++)
    check_one_corruption ();
}

/* Under the default 128 MiB limit a corrupted length is believed, so the
 * decoder is often left holding a large, partly filled body: finalizing it
 * then must free that body (the leak checkers see to it). */
static void
test_decoder_corruption_default_limit (void)
{
  for (guint i = 0; i < N_CORRUPTIONS / 10; i++)
    {
      g_autoptr(GPtrArray) msgs = random_messages (4, CORRUPTION_MAX_BODY);
      g_autoptr(GByteArray) stream = encode_stream (msgs, NULL);
      g_autoptr(MitogenMessageDecoder) decoder = mitogen_message_decoder_new (0);
      g_autoptr(GError) error = NULL;
      MitogenMessage *msg;

      corrupt_stream (stream);
      if (!mitogen_message_decoder_feed (decoder, stream->data, stream->len, &error))
        assert_protocol_error (error);
      else
        g_assert_no_error (error);
      while ((msg = mitogen_message_decoder_pop (decoder)))
        mitogen_message_unref (msg);
    }
}

/* ---------------------------------------------------------------------- */
/* MitogenMessageDecoder: limits */

static void
feed_header (MitogenMessageDecoder *decoder,
             guint16 magic,
             guint32 length,
             gboolean expect_ok,
             GError **error)
{
  guint8 header[MITOGEN_MESSAGE_HEADER_SIZE] = { 0 };
  guint32 be_length = GUINT32_TO_BE (length);

  header[0] = magic >> 8;
  header[1] = magic & 0xff;
  memcpy (header + 22, &be_length, 4);
  g_assert_cmpint (mitogen_message_decoder_feed (decoder, header, sizeof header,
                                                 error), ==, expect_ok);
}

static void
test_decoder_bad_magic (void)
{
  g_autoptr(MitogenMessageDecoder) decoder = mitogen_message_decoder_new (0);
  g_autoptr(MitogenMessage) good = mitogen_message_new (1, 2, g_variant_new_string ("a"));
  g_autoptr(GBytes) frame = mitogen_message_encode (good);
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  g_autoptr(MitogenMessage) popped = NULL;
  g_autoptr(GError) error = NULL;
  guint8 bad[MITOGEN_MESSAGE_HEADER_SIZE] = { 'H', 'T', 'T', 'P' };
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);

  /* A good frame and then a bad one in a single read. */
  g_byte_array_append (bytes, data, len);
  g_byte_array_append (bytes, bad, sizeof bad);
  g_assert_false (mitogen_message_decoder_feed (decoder, bytes->data,
                                                bytes->len, &error));
  assert_protocol_error (error);
  g_assert_nonnull (strstr (error->message, "magic"));
  g_clear_error (&error);

  /* What was complete before the damage is still delivered. */
  popped = mitogen_message_decoder_pop (decoder);
  g_assert_nonnull (popped);
  assert_messages_equal (popped, good);
  g_assert_null (mitogen_message_decoder_pop (decoder));

  /* Failed for good: even a valid frame is refused now. */
  g_assert_false (mitogen_message_decoder_feed (decoder, data, len, &error));
  assert_protocol_error (error);
  g_assert_nonnull (strstr (error->message, "magic"));
  g_assert_null (mitogen_message_decoder_pop (decoder));
}

static void
test_decoder_bad_magic_one_bit (void)
{
  g_autoptr(MitogenMessageDecoder) decoder = mitogen_message_decoder_new (0);
  g_autoptr(GError) error = NULL;

  feed_header (decoder, MITOGEN_MESSAGE_MAGIC ^ 0x0100, 0, FALSE, &error);
  assert_protocol_error (error);
  g_assert_nonnull (strstr (error->message, "magic"));
  g_clear_error (&error);

  /* Byte-swapped magic is wrong too: the header is big-endian. */
  g_clear_object (&decoder);
  decoder = mitogen_message_decoder_new (0);
  feed_header (decoder, GUINT16_SWAP_LE_BE (MITOGEN_MESSAGE_MAGIC), 0, FALSE, &error);
  assert_protocol_error (error);
  g_assert_nonnull (strstr (error->message, "magic"));
}

static void
test_decoder_max_message_size (void)
{
  g_autoptr(MitogenMessageDecoder) decoder = mitogen_message_decoder_new (100);
  g_autoptr(MitogenMessageDecoder) over = mitogen_message_decoder_new (100);
  g_autoptr(MitogenMessageDecoder) dflt = mitogen_message_decoder_new (0);
  g_autoptr(GBytes) body = random_bytes (100);
  g_autoptr(MitogenMessage) msg = mitogen_message_new_from_bytes (1, 2, body);
  g_autoptr(MitogenMessage) popped = NULL;
  g_autoptr(GBytes) frame = mitogen_message_encode (msg);
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);

  g_assert_cmpuint (mitogen_message_decoder_get_max_message_size (decoder), ==, 100);
  g_assert_cmpuint (mitogen_message_decoder_get_max_message_size (dflt), ==,
                    MITOGEN_MAX_MESSAGE_SIZE);

  /* Exactly the limit is allowed. */
  g_assert_true (mitogen_message_decoder_feed (decoder, data, len, &error));
  g_assert_no_error (error);
  popped = mitogen_message_decoder_pop (decoder);
  g_assert_nonnull (popped);
  assert_messages_equal (popped, msg);

  /* One more byte is refused as soon as the header says so, before any
   * body arrives. */
  feed_header (over, MITOGEN_MESSAGE_MAGIC, 101, FALSE, &error);
  assert_protocol_error (error);
  g_assert_nonnull (strstr (error->message, "max_message_size"));
  g_clear_error (&error);

  /* The largest length a header can hold is refused, not allocated. */
  feed_header (dflt, MITOGEN_MESSAGE_MAGIC, G_MAXUINT32, FALSE, &error);
  assert_protocol_error (error);
  g_assert_nonnull (strstr (error->message, "max_message_size"));
}

static void
test_decoder_empty_feed (void)
{
  g_autoptr(MitogenMessageDecoder) decoder = mitogen_message_decoder_new (0);
  g_autoptr(GError) error = NULL;
  gsize space = 42;

  g_assert_true (mitogen_message_decoder_feed (decoder, NULL, 0, &error));
  g_assert_no_error (error);
  g_assert_null (mitogen_message_decoder_pop (decoder));
  /* Between frames there is no body to fill. */
  g_assert_null (mitogen_message_decoder_get_body_buffer (decoder, &space));
  g_assert_cmpuint (space, ==, 0);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/message/new", test_message_new);
  g_test_add_func ("/message/new-empty", test_message_new_empty);
  g_test_add_func ("/message/encode-header", test_message_encode_header);
  g_test_add_func ("/message/data/string", test_message_data_string);
  g_test_add_func ("/message/data/dict", test_message_data_dict);
  g_test_add_func ("/message/data/large-bytes", test_message_data_large_bytes);
  g_test_add_func ("/message/data/not-normal", test_message_data_not_normal);
  g_test_add_func ("/message/data/garbage", test_message_data_garbage);
  g_test_add_func ("/message/dead", test_message_dead);
  g_test_add_func ("/message/dead-without-reason", test_message_dead_without_reason);

  g_test_add_data_func ("/message/decoder/split/whole",
                        GINT_TO_POINTER (FEED_WHOLE), test_decoder_split);
  g_test_add_data_func ("/message/decoder/split/bytewise",
                        GINT_TO_POINTER (FEED_BYTEWISE), test_decoder_split);
  g_test_add_data_func ("/message/decoder/split/random",
                        GINT_TO_POINTER (FEED_RANDOM), test_decoder_split);
  g_test_add_data_func ("/message/decoder/split/body-buffer",
                        GINT_TO_POINTER (FEED_BODY_BUFFER), test_decoder_split);
  g_test_add_func ("/message/decoder/pops-in-order", test_decoder_pops_in_order);
  g_test_add_func ("/message/decoder/corruption", test_decoder_corruption);
  g_test_add_func ("/message/decoder/corruption-default-limit",
                   test_decoder_corruption_default_limit);
  g_test_add_func ("/message/decoder/bad-magic", test_decoder_bad_magic);
  g_test_add_func ("/message/decoder/bad-magic-one-bit", test_decoder_bad_magic_one_bit);
  g_test_add_func ("/message/decoder/max-message-size", test_decoder_max_message_size);
  g_test_add_func ("/message/decoder/empty-feed", test_decoder_empty_feed);

  return g_test_run ();
}
