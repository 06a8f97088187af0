/* mitogen-message.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-message.h"
#include "mitogen-protocol.h"

#include <string.h>

#include "mitogen-errors.h"

/**
 * MitogenMessage:
 *
 * One frame of the protocol: Mitogen's header (`dst_id`, `src_id`,
 * `auth_id`, `handle`, `reply_to`) and a body holding a serialized
 * `GVariant` of type `v` in normal form, or nothing.
 *
 * A message is immutable once handed to a router or stream; until then the
 * setters fill in its header.
 */
struct _MitogenMessage {
  gint ref_count;
  guint32 dst_id;
  guint32 src_id;
  guint32 auth_id;
  guint32 handle;
  guint32 reply_to;
  GBytes *data;
};

G_DEFINE_BOXED_TYPE (MitogenMessage, mitogen_message, mitogen_message_ref,
                     mitogen_message_unref)

/**
 * mitogen_message_new_from_bytes:
 * @dst_id: the destination context id
 * @handle: the destination handle
 * @data: (nullable): the body, already serialized
 *
 * Creates a message to @handle in @dst_id whose body is @data, serialized
 * already, as a decoder builds it.
 *
 * Returns: (transfer full): a new message
 */
MitogenMessage *
mitogen_message_new_from_bytes (guint32 dst_id,
                                guint32 handle,
                                GBytes *data)
{
  MitogenMessage *self = g_new0 (MitogenMessage, 1);

  self->ref_count = 1;
  self->dst_id = dst_id;
  self->handle = handle;
  self->data = data ? g_bytes_ref (data) : g_bytes_new_static ("", 0);
  return self;
}

/**
 * mitogen_message_new:
 * @dst_id: the destination context id
 * @handle: the destination handle
 * @data: (nullable): the body; a floating reference is sunk
 *
 * Creates a new message carrying @data.
 *
 * Returns: (transfer full): a new message carrying @data
 */
MitogenMessage *
mitogen_message_new (guint32 dst_id,
                     guint32 handle,
                     GVariant *data)
{
  g_autoptr(GBytes) bytes = NULL;

  if (data)
    {
      g_autoptr(GVariant) boxed = g_variant_ref_sink (g_variant_new_variant (data));
      bytes = g_variant_get_data_as_bytes (boxed);
    }
  return mitogen_message_new_from_bytes (dst_id, handle, bytes);
}

/**
 * mitogen_message_new_dead:
 * @dst_id: the destination context id
 * @handle: the destination handle
 * @reason: why the message is dead: shown to whoever waited for a reply
 *
 * Builds the message a router sends in place of a reply that will never
 * come, so that the waiter wakes with an error.
 *
 * Returns: (transfer full): a new message with `reply_to` set to
 *   %MITOGEN_HANDLE_IS_DEAD
 */
MitogenMessage *
mitogen_message_new_dead (guint32 dst_id,
                          guint32 handle,
                          const gchar *reason)
{
  MitogenMessage *self =
    mitogen_message_new (dst_id, handle, g_variant_new_string (reason));
  self->reply_to = MITOGEN_HANDLE_IS_DEAD;
  return self;
}

/**
 * mitogen_message_ref:
 * @self: a message
 *
 * Takes a reference to @self.
 *
 * Returns: (transfer full): @self
 */
MitogenMessage *
mitogen_message_ref (MitogenMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_int_inc (&self->ref_count);
  return self;
}

/**
 * mitogen_message_unref:
 * @self: (transfer full): a message
 *
 * Drops a reference to @self, freeing it with the last.
 */
void
mitogen_message_unref (MitogenMessage *self)
{
  g_return_if_fail (self != NULL);
  if (g_atomic_int_dec_and_test (&self->ref_count))
    {
      g_bytes_unref (self->data);
      g_free (self);
    }
}

#define DEFINE_HEADER_FIELD(field)                                             \
  guint32 mitogen_message_get_##field (const MitogenMessage *self)             \
  {                                                                            \
    return self->field;                                                        \
  }                                                                            \
  void mitogen_message_set_##field (MitogenMessage *self, guint32 value)       \
  {                                                                            \
    self->field = value;                                                       \
  }

/**
 * mitogen_message_get_dst_id:
 * @self: a message
 *
 * Returns the context the message is for.
 *
 * Returns: the context the message is for
 */
/**
 * mitogen_message_set_dst_id:
 * @self: a message
 * @id: the context the message is for
 *
 * Sets the context the message is for.
 */
DEFINE_HEADER_FIELD (dst_id)
/**
 * mitogen_message_get_src_id:
 * @self: a message
 *
 * Returns the context that sent the message, as checked by the routers on its
 * way.
 *
 * Returns: the context that sent the message, as checked by the routers
 *   on its way
 */
/**
 * mitogen_message_set_src_id:
 * @self: a message
 * @id: the sending context
 *
 * Sets the sending context.
 */
DEFINE_HEADER_FIELD (src_id)
/**
 * mitogen_message_get_auth_id:
 * @self: a message
 *
 * Returns the context on whose authority the message was sent.
 *
 * Returns: the context on whose authority the message was sent
 */
/**
 * mitogen_message_set_auth_id:
 * @self: a message
 * @id: the context on whose authority the message is sent
 *
 * Sets the context on whose authority the message is sent.
 */
DEFINE_HEADER_FIELD (auth_id)
/**
 * mitogen_message_get_handle:
 * @self: a message
 *
 * Returns the handle the message is for.
 *
 * Returns: the handle the message is for
 */
/**
 * mitogen_message_set_handle:
 * @self: a message
 * @handle: the handle the message is for
 *
 * Sets the handle the message is for.
 */
DEFINE_HEADER_FIELD (handle)
/**
 * mitogen_message_get_reply_to:
 * @self: a message
 *
 * Returns the handle that takes the reply, 0 for none, or
 * %MITOGEN_HANDLE_IS_DEAD.
 *
 * Returns: the handle that takes the reply, 0 for none, or
 *   %MITOGEN_HANDLE_IS_DEAD
 */
/**
 * mitogen_message_set_reply_to:
 * @self: a message
 * @handle: the handle that takes the reply
 *
 * Sets the handle that takes the reply.
 */
DEFINE_HEADER_FIELD (reply_to)

/**
 * mitogen_message_get_bytes:
 * @self: a message
 *
 * Returns the serialized body.
 *
 * Returns: (transfer none): the serialized body
 */
GBytes *
mitogen_message_get_bytes (const MitogenMessage *self)
{
  return self->data;
}

/**
 * mitogen_message_get_size:
 * @self: a message
 *
 * Returns the length of the body in bytes.
 *
 * Returns: the length of the body in bytes
 */
gsize
mitogen_message_get_size (const MitogenMessage *self)
{
  return g_bytes_get_size (self->data);
}

/**
 * mitogen_message_is_dead:
 * @self: a message
 *
 * Returns %TRUE if the message reports a dead or unreachable destination.
 *
 * Returns: %TRUE if the message reports a dead or unreachable destination
 */
gboolean
mitogen_message_is_dead (const MitogenMessage *self)
{
  return self->reply_to == MITOGEN_HANDLE_IS_DEAD;
}

static GVariant *
parse_body (const MitogenMessage *self,
            gboolean from_parent,
            GError **error)
{
  g_autoptr(GVariant) boxed = NULL;

  boxed = g_variant_ref_sink (
    g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT, self->data, from_parent));
  /* Peers are not trusted: a body that is not in normal form would be
   * read differently by different code, so it is refused outright. The
   * parent, which controls this process anyway, is spared the check:
   * GLib checks arrays element by element, which made a 1 MiB module
   * cost 15 ms to receive. */
  if (!g_variant_is_normal_form (boxed))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "Message body of %" G_GSIZE_FORMAT " bytes from context %u "
                   "is not a GVariant in normal form",
                   g_bytes_get_size (self->data), self->src_id);
      return NULL;
    }
  return g_variant_get_variant (boxed);
}

static GVariant *
get_data (const MitogenMessage *self,
          gboolean from_parent,
          GError **error)
{
  g_autoptr(GVariant) value = NULL;

  if (g_bytes_get_size (self->data) == 0)
    {
      if (mitogen_message_is_dead (self))
        g_set_error_literal (error, MITOGEN_CHANNEL_ERROR,
                             MITOGEN_CHANNEL_ERROR_DEAD,
                             "The remote end is dead");
      return NULL;
    }

  value = parse_body (self, from_parent, error);
  if (!value)
    return NULL;

  if (mitogen_message_is_dead (self))
    {
      const gchar *reason = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
                              ? g_variant_get_string (value, NULL)
                              : "The remote end is dead";
      g_set_error_literal (error, MITOGEN_CHANNEL_ERROR,
                           MITOGEN_CHANNEL_ERROR_DEAD, reason);
      return NULL;
    }
  return g_steal_pointer (&value);
}

/**
 * mitogen_message_get_data:
 * @self: a message
 * @error: return location for an error
 *
 * Unpacks the body.
 *
 * Returns: (transfer full) (nullable): the body's value, or %NULL for an
 *   empty body (with no error); %NULL with %MITOGEN_CHANNEL_ERROR_DEAD for a
 *   dead message, carrying its reason, or %MITOGEN_STREAM_ERROR_PROTOCOL
 *   for a body that is not valid
 */
GVariant *
mitogen_message_get_data (const MitogenMessage *self,
                          GError **error)
{
  return get_data (self, FALSE, error);
}

GVariant *
mitogen_message_get_data_from_parent (const MitogenMessage *self,
                                      GError **error)
{
  return get_data (self, TRUE, error);
}

static void
put_be32 (guint8 *p,
          guint32 v)
{
  v = GUINT32_TO_BE (v);
  memcpy (p, &v, 4);
}

/**
 * mitogen_message_encode_header:
 * @self: a message
 * @header: (array fixed-size=26) (out caller-allocates): receives the
 *   %MITOGEN_MESSAGE_HEADER_SIZE bytes of the frame header
 *
 * Writes the frame header of @self, big-endian, into @header.
 */
void
mitogen_message_encode_header (const MitogenMessage *self,
                               guint8 *header)
{
  guint16 magic = GUINT16_TO_BE (MITOGEN_MESSAGE_MAGIC);

  memcpy (header, &magic, 2);
  put_be32 (header + 2, self->dst_id);
  put_be32 (header + 6, self->src_id);
  put_be32 (header + 10, self->auth_id);
  put_be32 (header + 14, self->handle);
  put_be32 (header + 18, self->reply_to);
  put_be32 (header + 22, (guint32) g_bytes_get_size (self->data));
}

/**
 * mitogen_message_encode:
 * @self: a message
 *
 * Returns the whole frame, header and body.
 *
 * Returns: (transfer full): the whole frame, header and body
 */
GBytes *
mitogen_message_encode (const MitogenMessage *self)
{
  gsize len = g_bytes_get_size (self->data);
  guint8 *frame = g_malloc (MITOGEN_MESSAGE_HEADER_SIZE + len);

  mitogen_message_encode_header (self, frame);
  if (len)
    memcpy (frame + MITOGEN_MESSAGE_HEADER_SIZE,
            g_bytes_get_data (self->data, NULL), len);
  return g_bytes_new_take (frame, MITOGEN_MESSAGE_HEADER_SIZE + len);
}
