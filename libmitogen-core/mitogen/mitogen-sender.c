/* mitogen-sender.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-sender.h"

/**
 * MitogenSender:
 *
 * Sends values to one handle of one context, typically a
 * [class@Receiver] there. Closing it sends a dead message, which ends the
 * receiver's iteration with %MITOGEN_CHANNEL_ERROR_DEAD.
 */
struct _MitogenSender {
  GObject parent_instance;

  MitogenRouter *router;
  guint32 dst_id;
  guint32 dst_handle;
};

G_DEFINE_FINAL_TYPE (MitogenSender, mitogen_sender, G_TYPE_OBJECT)

static void
mitogen_sender_finalize (GObject *object)
{
  g_object_unref (MITOGEN_SENDER (object)->router);
  G_OBJECT_CLASS (mitogen_sender_parent_class)->finalize (object);
}

static void
mitogen_sender_class_init (MitogenSenderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_sender_finalize;
}

static void
mitogen_sender_init (MitogenSender *self)
{
}

/**
 * mitogen_sender_new:
 * @router: the router to send through
 * @dst_id: the destination context
 * @dst_handle: the destination handle
 *
 * Returns: (transfer full): a new sender
 */
MitogenSender *
mitogen_sender_new (MitogenRouter *router,
                    guint32 dst_id,
                    guint32 dst_handle)
{
  MitogenSender *self = g_object_new (MITOGEN_TYPE_SENDER, NULL);

  self->router = g_object_ref (router);
  self->dst_id = dst_id;
  self->dst_handle = dst_handle;
  return self;
}

/**
 * mitogen_sender_get_dst_id:
 * @self: a sender
 *
 * Returns: the destination context
 */
guint32
mitogen_sender_get_dst_id (MitogenSender *self)
{
  return self->dst_id;
}

/**
 * mitogen_sender_get_dst_handle:
 * @self: a sender
 *
 * Returns: the destination handle
 */
guint32
mitogen_sender_get_dst_handle (MitogenSender *self)
{
  return self->dst_handle;
}

/**
 * mitogen_sender_send:
 * @self: a sender
 * @data: (nullable): the value; a floating reference is sunk
 *
 * Sends @data. Never blocks.
 */
void
mitogen_sender_send (MitogenSender *self,
                     GVariant *data)
{
  g_autoptr(MitogenMessage) msg =
    mitogen_message_new (self->dst_id, self->dst_handle, data);

  mitogen_router_route (self->router, msg);
}

/**
 * mitogen_sender_close:
 * @self: a sender
 *
 * Tells the receiver no more values will come.
 */
void
mitogen_sender_close (MitogenSender *self)
{
  g_autoptr(MitogenMessage) msg =
    mitogen_message_new_dead (self->dst_id, self->dst_handle,
                              "The sender closed the channel");

  mitogen_router_route (self->router, msg);
}
