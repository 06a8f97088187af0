/* mitogen-channel.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-channel.h"

/**
 * MitogenChannel:
 *
 * A two-way link with a handle in another context: a [class@Sender] to it
 * and a [class@Receiver] for what comes back, which accepts messages from
 * that context only.
 */
struct _MitogenChannel {
  GObject parent_instance;

  MitogenSender *sender;
  MitogenReceiver *receiver;
};

G_DEFINE_FINAL_TYPE (MitogenChannel, mitogen_channel, G_TYPE_OBJECT)

static void
mitogen_channel_finalize (GObject *object)
{
  MitogenChannel *self = MITOGEN_CHANNEL (object);

  g_clear_object (&self->sender);
  g_clear_object (&self->receiver);
  G_OBJECT_CLASS (mitogen_channel_parent_class)->finalize (object);
}

static void
mitogen_channel_class_init (MitogenChannelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_channel_finalize;
}

static void
mitogen_channel_init (MitogenChannel *self)
{
}

/**
 * mitogen_channel_new:
 * @router: the router
 * @dst_id: the other context
 * @dst_handle: the handle to send to there
 * @handle: the handle to receive on here, or 0 to allocate one
 *
 * Creates a channel: a receiver on @handle here and a sender to @dst_handle
 * in @dst_id.
 *
 * Returns: (transfer full): a new channel
 */
MitogenChannel *
mitogen_channel_new (MitogenRouter *router,
                     guint32 dst_id,
                     guint32 dst_handle,
                     guint32 handle)
{
  MitogenChannel *self = g_object_new (MITOGEN_TYPE_CHANNEL, NULL);

  self->sender = mitogen_sender_new (router, dst_id, dst_handle);
  self->receiver = mitogen_receiver_new (router, handle, TRUE, dst_id, NULL);
  return self;
}

/**
 * mitogen_channel_get_sender:
 * @self: a channel
 *
 * Returns the sending half.
 *
 * Returns: (transfer none): the sending half
 */
MitogenSender *
mitogen_channel_get_sender (MitogenChannel *self)
{
  return self->sender;
}

/**
 * mitogen_channel_get_receiver:
 * @self: a channel
 *
 * Returns the receiving half.
 *
 * Returns: (transfer none): the receiving half
 */
MitogenReceiver *
mitogen_channel_get_receiver (MitogenChannel *self)
{
  return self->receiver;
}

/**
 * mitogen_channel_send:
 * @self: a channel
 * @data: (nullable): the value; a floating reference is sunk
 * @cancellable: (nullable): ends the wait for room
 * @error: return location for an error
 *
 * Sends @data to the other end, waiting for room as mitogen_sender_send().
 *
 * Returns: %TRUE once sent
 */
gboolean
mitogen_channel_send (MitogenChannel *self,
                      GVariant *data,
                      GCancellable *cancellable,
                      GError **error)
{
  return mitogen_sender_send (self->sender, data, cancellable, error);
}

/**
 * mitogen_channel_get:
 * @self: a channel
 * @timeout_usec: how long to wait, or -1
 * @cancellable: (nullable): ends the wait
 * @error: return location for an error
 *
 * Returns the next message from the other end, as mitogen_receiver_get().
 *
 * Returns: (transfer full) (nullable): the next message from the other
 *   end, as mitogen_receiver_get()
 */
MitogenMessage *
mitogen_channel_get (MitogenChannel *self,
                     gint64 timeout_usec,
                     GCancellable *cancellable,
                     GError **error)
{
  return mitogen_receiver_get (self->receiver, timeout_usec, cancellable, error);
}

/**
 * mitogen_channel_close:
 * @self: a channel
 *
 * Tells the other end the channel is finished and stops receiving.
 */
void
mitogen_channel_close (MitogenChannel *self)
{
  mitogen_sender_close (self->sender);
  mitogen_receiver_close (self->receiver);
}
