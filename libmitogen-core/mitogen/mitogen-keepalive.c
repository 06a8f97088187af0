/* mitogen-keepalive.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-keepalive-private.h"

/**
 * MitogenKeepalive:
 *
 * Declares a silent peer dead. Every #MitogenKeepalive:interval seconds it
 * looks at how many bytes its stream has received: any byte is a sign of
 * life. After an interval with none it sends a %MITOGEN_HANDLE_PING, which
 * the peer's router answers (mitogen_keepalive_install_responder()); after
 * #MitogenKeepalive:count probes with still nothing received, it
 * disconnects the stream with the reason "no answer to keepalive in N s",
 * which every waiter on the peer then gets in its
 * %MITOGEN_CHANNEL_ERROR_DEAD.
 *
 * A frozen process (stopped, swapped out for good, behind a dead network
 * link) is found this way; a busy one is not, as its broker thread answers
 * whatever its main thread is doing.
 */
struct _MitogenKeepalive
{
  GObject parent_instance;

  GWeakRef stream;
  GSource *timer;
  gdouble interval;
  guint count;
  guint64 last_received;
  guint unanswered;
  guint pings_sent;
};

G_DEFINE_FINAL_TYPE (MitogenKeepalive, mitogen_keepalive, G_TYPE_OBJECT)

static void
mitogen_keepalive_finalize (GObject *object)
{
  MitogenKeepalive *self = MITOGEN_KEEPALIVE (object);

  mitogen_keepalive_stop (self);
  g_weak_ref_clear (&self->stream);
  G_OBJECT_CLASS (mitogen_keepalive_parent_class)->finalize (object);
}

static void
mitogen_keepalive_class_init (MitogenKeepaliveClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_keepalive_finalize;
}

static void
mitogen_keepalive_init (MitogenKeepalive *self)
{
  g_weak_ref_init (&self->stream, NULL);
}

static void
send_ping (MitogenKeepalive *self, MitogenStream *stream)
{
  MitogenRouter *router = mitogen_stream_get_router (stream);
  g_autoptr (MitogenMessage) ping = NULL;
  guint32 own_id;

  if (!router)
    return;
  own_id = mitogen_router_get_context_id (router);
  ping = mitogen_message_new (mitogen_stream_get_remote_id (stream),
                              MITOGEN_HANDLE_PING, NULL);
  mitogen_message_set_src_id (ping, own_id);
  mitogen_message_set_auth_id (ping, own_id);
  mitogen_message_set_reply_to (ping, MITOGEN_HANDLE_PING);
  /* Straight onto this stream: the probe is of this link, whatever the
   * routes say. */
  mitogen_stream_send (stream, ping);
  self->pings_sent++;
}

static void
declare_dead (MitogenKeepalive *self, MitogenStream *stream)
{
  g_autofree gchar *reason = g_strdup_printf ("no answer to keepalive in %g s",
                                              self->interval * self->count);

  g_message ("Stream %s: %s; disconnecting",
             mitogen_basic_stream_get_name (MITOGEN_BASIC_STREAM (stream))
                 ?: "(unnamed)",
             reason);
  mitogen_keepalive_stop (self);
  mitogen_stream_close (stream, reason);
}

static gboolean
on_interval (gpointer user_data)
{
  MitogenKeepalive *self = user_data;
  g_autoptr (MitogenStream) stream = g_weak_ref_get (&self->stream);
  guint64 received;

  if (!stream
      || mitogen_basic_stream_is_disconnected (MITOGEN_BASIC_STREAM (stream)))
    {
      g_clear_pointer (&self->timer, g_source_unref);
      return G_SOURCE_REMOVE;
    }

  received = mitogen_stream_get_bytes_received (stream);
  if (received != self->last_received)
    {
      self->last_received = received;
      self->unanswered = 0;
      return G_SOURCE_CONTINUE;
    }
  if (self->unanswered >= self->count)
    {
      declare_dead (self, stream);
      return G_SOURCE_REMOVE;
    }
  self->unanswered++;
  send_ping (self, stream);
  return G_SOURCE_CONTINUE;
}

/**
 * mitogen_keepalive_new:
 * @stream: the stream to watch; held weakly
 * @context: (nullable): the main context its timer runs in, the broker's
 *   (the timer reads @stream's counters, which only that thread writes)
 * @interval: seconds between looks, > 0
 * @count: probes left unanswered before the peer is dead, >= 1
 *
 * Starts watching @stream at once.
 *
 * Returns: (transfer full): a running keepalive; drop it, or call
 *   mitogen_keepalive_stop(), to stop it
 */
MitogenKeepalive *
mitogen_keepalive_new (MitogenStream *stream,
                       GMainContext *context,
                       gdouble interval,
                       guint count)
{
  MitogenKeepalive *self = g_object_new (MITOGEN_TYPE_KEEPALIVE, NULL);

  g_return_val_if_fail (MITOGEN_IS_STREAM (stream), self);
  g_return_val_if_fail (interval > 0, self);

  g_weak_ref_set (&self->stream, stream);
  self->interval = interval;
  self->count = MAX (count, 1);
  self->last_received = mitogen_stream_get_bytes_received (stream);
  self->timer = g_timeout_source_new ((guint) MAX (interval * 1000, 1));
  g_source_set_callback (self->timer, on_interval, g_object_ref (self),
                         g_object_unref);
  g_source_set_static_name (self->timer, "mitogen-keepalive");
  g_source_attach (self->timer, context);
  return self;
}

/**
 * mitogen_keepalive_stop:
 * @self: a keepalive
 *
 * Stops the timer. Callable from any thread, more than once.
 */
void
mitogen_keepalive_stop (MitogenKeepalive *self)
{
  GSource *timer = g_steal_pointer (&self->timer);

  if (timer)
    {
      g_source_destroy (timer);
      g_source_unref (timer);
    }
}

/**
 * mitogen_keepalive_get_pings_sent:
 * @self: a keepalive
 *
 * Returns: how many probes were sent so far
 */
guint
mitogen_keepalive_get_pings_sent (MitogenKeepalive *self)
{
  return self->pings_sent;
}

static void
on_ping (MitogenMessage *msg, gpointer user_data)
{
  MitogenRouter *router = user_data;
  guint32 reply_to = mitogen_message_get_reply_to (msg);
  g_autoptr (MitogenMessage) pong = NULL;

  /* An answer has no reply_to, so answers are never answered. */
  if (reply_to == MITOGEN_HANDLE_NONE || mitogen_message_is_dead (msg))
    return;
  pong = mitogen_message_new (mitogen_message_get_src_id (msg), reply_to, NULL);
  mitogen_router_route (router, pong);
}

/**
 * mitogen_keepalive_install_responder:
 * @router: a router
 *
 * Has @router answer every %MITOGEN_HANDLE_PING that asks for a reply, from
 * its broker thread, so that a context whose main thread is busy still
 * shows it is alive. Every router does this from mitogen_router_new().
 */
void
mitogen_keepalive_install_responder (MitogenRouter *router)
{
  mitogen_router_add_handler (router, MITOGEN_HANDLE_PING,
                              MITOGEN_HANDLER_PERSIST, MITOGEN_CONTEXT_ID_NONE,
                              NULL, on_ping, router, NULL);
}
