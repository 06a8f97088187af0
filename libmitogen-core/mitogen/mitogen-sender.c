/* mitogen-sender.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-sender.h"

#include "mitogen-errors.h"
#include "mitogen-sender-private.h"
#include "mitogen-stream.h"

/**
 * MitogenSender:
 *
 * Sends values to one handle of one context, typically a
 * [class@Receiver] there. Closing it sends a dead message, which ends the
 * receiver's iteration with %MITOGEN_CHANNEL_ERROR_DEAD.
 *
 * Sending waits for room on the stream the values leave by (see
 * #MitogenStream:transmit-window), with a cancellable, or completes
 * asynchronously once there is room.
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
 * Creates a sender of messages to @dst_handle in @dst_id.
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
 * Returns the destination context.
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
 * Returns the destination handle.
 *
 * Returns: the destination handle
 */
guint32
mitogen_sender_get_dst_handle (MitogenSender *self)
{
  return self->dst_handle;
}

/* The stream a message to @dst_id leaves by, or %NULL when it stays here
 * or has no route: no queue to wait for then. */
static MitogenStream *
stream_towards (MitogenRouter *router, guint32 dst_id)
{
  if (dst_id == mitogen_router_get_context_id (router))
    return NULL;
  return mitogen_router_stream_by_id (router, dst_id);
}

/* With @require_route, a value for a context we have no route to fails
 * here instead of being dropped unseen by the router. One lookup serves
 * both: a stream that goes after it fails the wait once it disconnects. */
static gboolean
no_route (MitogenRouter *router,
          guint32 dst_id,
          gboolean require_route,
          GError **error)
{
  if (!require_route || dst_id == mitogen_router_get_context_id (router))
    return FALSE;
  g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_DISCONNECTED,
               "No route to context %u: it has disconnected, or was never "
               "connected through this router",
               dst_id);
  return TRUE;
}

static gboolean
wait_room (MitogenRouter *router,
           guint32 dst_id,
           gboolean require_route,
           GCancellable *cancellable,
           GError **error)
{
  g_autoptr(MitogenStream) stream = stream_towards (router, dst_id);

  if (!stream)
    return !no_route (router, dst_id, require_route, error)
           && !g_cancellable_set_error_if_cancelled (cancellable, error);
  return mitogen_stream_wait_writable (stream, cancellable, error);
}

gboolean
mitogen_sender_wait_room (MitogenRouter *router,
                          guint32 dst_id,
                          GCancellable *cancellable,
                          GError **error)
{
  return wait_room (router, dst_id, FALSE, cancellable, error);
}

static void
on_room (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (mitogen_stream_wait_writable_finish (MITOGEN_STREAM (source), result,
                                           &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
wait_room_async (MitogenRouter *router,
                 guint32 dst_id,
                 gboolean require_route,
                 GCancellable *cancellable,
                 GAsyncReadyCallback callback,
                 gpointer user_data)
{
  g_autoptr(MitogenStream) stream = stream_towards (router, dst_id);
  GTask *task = g_task_new (router, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_source_tag (task, mitogen_sender_wait_room_async);
  if (stream)
    {
      mitogen_stream_wait_writable_async (stream, cancellable, on_room, task);
      return;
    }
  if (no_route (router, dst_id, require_route, &error))
    g_task_return_error (task, error);
  else if (!g_task_return_error_if_cancelled (task))
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

void
mitogen_sender_wait_room_async (MitogenRouter *router,
                                guint32 dst_id,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  wait_room_async (router, dst_id, FALSE, cancellable, callback, user_data);
}

gboolean
mitogen_sender_wait_room_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mitogen_sender_send:
 * @self: a sender
 * @data: (nullable): the value; a floating reference is sunk
 * @cancellable: (nullable): ends the wait for room
 * @error: return location for an error
 *
 * Sends @data, first waiting while the stream it leaves by is not
 * #MitogenStream:writable, so that a receiver that does not keep up slows
 * the sender down instead of growing this process's memory. On the
 * broker thread it never waits.
 *
 * Returns: %TRUE once sent; %FALSE with %MITOGEN_STREAM_ERROR_DISCONNECTED
 *   if there is no route to the destination or its stream disconnected
 *   first, or %G_IO_ERROR_CANCELLED
 */
gboolean
mitogen_sender_send (MitogenSender *self,
                     GVariant *data,
                     GCancellable *cancellable,
                     GError **error)
{
  g_autoptr(GVariant) owned = data ? g_variant_ref_sink (data) : NULL;
  g_autoptr(MitogenMessage) msg = NULL;

  g_return_val_if_fail (MITOGEN_IS_SENDER (self), FALSE);

  if (!wait_room (self->router, self->dst_id, TRUE, cancellable, error))
    return FALSE;
  msg = mitogen_message_new (self->dst_id, self->dst_handle, owned);
  mitogen_router_route (self->router, msg);
  return TRUE;
}

gboolean
mitogen_sender_send_bytes (MitogenSender *self,
                           GBytes *body,
                           GCancellable *cancellable,
                           GError **error)
{
  g_autoptr(MitogenMessage) msg = NULL;

  g_return_val_if_fail (MITOGEN_IS_SENDER (self), FALSE);

  if (!wait_room (self->router, self->dst_id, TRUE, cancellable, error))
    return FALSE;
  msg = mitogen_message_new_from_bytes (self->dst_id, self->dst_handle, body);
  mitogen_router_route (self->router, msg);
  return TRUE;
}

static void
send_when_room (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  MitogenSender *self = g_task_get_source_object (task);
  GError *error = NULL;
  g_autoptr(MitogenMessage) msg = NULL;

  if (!mitogen_sender_wait_room_finish (result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  msg = mitogen_message_new (self->dst_id, self->dst_handle,
                             g_task_get_task_data (task));
  mitogen_router_route (self->router, msg);
  g_task_return_boolean (task, TRUE);
}

/**
 * mitogen_sender_send_async:
 * @self: a sender
 * @data: (nullable): the value; a floating reference is sunk
 * @cancellable: (nullable): ends the wait for room; @data is then not sent
 * @callback: (scope async): called, in the thread-default main context of
 *   the caller, once @data is sent
 * @user_data: (closure): data for @callback
 *
 * Like mitogen_sender_send(), without blocking: @data is sent once the
 * stream it leaves by has room.
 */
void
mitogen_sender_send_async (MitogenSender *self,
                           GVariant *data,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, mitogen_sender_send_async);
  if (data)
    g_task_set_task_data (task, g_variant_ref_sink (data),
                          (GDestroyNotify) g_variant_unref);
  wait_room_async (self->router, self->dst_id, TRUE, cancellable,
                   send_when_room, task);
}

/**
 * mitogen_sender_send_finish:
 * @self: a sender
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_sender_send_async().
 *
 * Returns: %TRUE once sent; %FALSE with an error as mitogen_sender_send()
 */
gboolean
mitogen_sender_send_finish (MitogenSender *self,
                            GAsyncResult *result,
                            GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
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
