/* mitogen-stream.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-stream.h"

#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-broker.h"
#include "mitogen-errors.h"
#include "mitogen-io.h"
#include "mitogen-message-decoder.h"
#include "mitogen-router-private.h"

/**
 * MitogenStream:
 *
 * A [class@BasicStream] carrying framed [struct@Message]s to and from one
 * other context.
 *
 * Any thread may send: when nothing is queued, the message is written at
 * once on the sending thread, sparing a trip through the broker; whatever
 * the descriptor does not take is queued and written by the broker as the
 * descriptor drains, so a slow peer never blocks the broker or the sender.
 *
 * Received frames are decoded, checked and handed to the router. A frame
 * with a bad magic, a body over #MitogenStream:max-message-size, or an
 * unreadable descriptor disconnects the stream, with the reason logged and
 * kept in #MitogenStream:disconnect-reason.
 */

/* The largest batch of frames handed to one writev(). */
#define MAX_IOV 64

/* Bodies at least this large are read straight into place. */
#define LARGE_BODY (MITOGEN_CHUNK_SIZE / 4)

typedef struct {
  guint8 header[MITOGEN_MESSAGE_HEADER_SIZE];
  GBytes *body;
  gsize offset;        /* over header and body together */
  MitogenMessage *msg; /* answered if it never leaves */
} OutFrame;

typedef struct {
  MitogenRouter *router; /* unowned: routers outlive their streams */
  guint32 remote_id;
  gboolean is_privileged;
  MitogenMessageDecoder *decoder;
  guint8 *inbuf;
  gboolean expect_large; /* the last frame had a large body */

  GMutex lock;
  GQueue outq; /* OutFrame* */
  gsize pending_bytes;
  gboolean transmitting;
  gboolean disconnected;
  gboolean disconnect_when_flushed;
  gchar *disconnect_reason;

  guint64 bytes_received;
  guint64 bytes_sent;
  guint64 messages_received;
} MitogenStreamPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (MitogenStream, mitogen_stream,
                            MITOGEN_TYPE_BASIC_STREAM)

enum {
  PROP_0,
  PROP_REMOTE_ID,
  PROP_IS_PRIVILEGED,
  PROP_MAX_MESSAGE_SIZE,
  PROP_DISCONNECT_REASON,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

#define PRIV(self) \
  ((MitogenStreamPrivate *) mitogen_stream_get_instance_private (self))

static void
out_frame_free (gpointer data)
{
  OutFrame *frame = data;
  g_bytes_unref (frame->body);
  mitogen_message_unref (frame->msg);
  g_free (frame);
}

static MitogenBroker *
stream_broker (MitogenStream *self)
{
  MitogenRouter *router = PRIV (self)->router;
  return router ? mitogen_router_get_broker (router) : NULL;
}

static void
disconnect_on_broker (gpointer data)
{
  MitogenStream *self = data;
  mitogen_basic_stream_on_disconnect (MITOGEN_BASIC_STREAM (self),
                                      stream_broker (self));
}

/**
 * mitogen_stream_disconnect:
 * @self: a stream
 * @reason: (nullable): why, for logs and for waiters' errors
 *
 * Disconnects the stream from any thread: at once on the broker thread,
 * soon otherwise. The first reason given is kept.
 */
void
mitogen_stream_disconnect (MitogenStream *self,
                           const gchar *reason)
{
  MitogenStreamPrivate *priv = PRIV (self);
  MitogenBroker *broker = stream_broker (self);

  g_mutex_lock (&priv->lock);
  if (reason && !priv->disconnect_reason)
    priv->disconnect_reason = g_strdup (reason);
  g_mutex_unlock (&priv->lock);

  if (!broker)
    disconnect_on_broker (self);
  else
    mitogen_broker_defer (broker, disconnect_on_broker, g_object_ref (self),
                          g_object_unref);
}

static void
fail_protocol (MitogenStream *self,
               const gchar *what)
{
  g_autofree gchar *reason =
    g_strdup_printf ("Stream %s: %s", mitogen_basic_stream_get_name (
                       MITOGEN_BASIC_STREAM (self)) ?: "(unnamed)", what);

  g_message ("%s; disconnecting", reason);
  mitogen_stream_disconnect (self, reason);
}

/* Fills the frame's iovecs from @frame->offset on. */
static int
frame_iov (OutFrame *frame,
           struct iovec *iov)
{
  gsize body_len;
  const guint8 *body = g_bytes_get_data (frame->body, &body_len);
  int n = 0;

  if (frame->offset < MITOGEN_MESSAGE_HEADER_SIZE)
    {
      iov[n].iov_base = frame->header + frame->offset;
      iov[n].iov_len = MITOGEN_MESSAGE_HEADER_SIZE - frame->offset;
      n++;
      if (body_len)
        {
          iov[n].iov_base = (void *) body;
          iov[n].iov_len = body_len;
          n++;
        }
    }
  else
    {
      gsize off = frame->offset - MITOGEN_MESSAGE_HEADER_SIZE;
      iov[n].iov_base = (void *) (body + off);
      iov[n].iov_len = body_len - off;
      n++;
    }
  return n;
}

/* Writes what the descriptor takes. Called with the lock held.
 * Returns FALSE when the peer is gone. */
static gboolean
flush_locked (MitogenStream *self,
              GError **error)
{
  MitogenStreamPrivate *priv = PRIV (self);
  MitogenSide *side =
    mitogen_basic_stream_get_transmit_side (MITOGEN_BASIC_STREAM (self));

  while (!g_queue_is_empty (&priv->outq))
    {
      struct iovec iov[MAX_IOV];
      int iovcnt = 0;
      gssize n;

      for (GList *l = priv->outq.head; l && iovcnt <= MAX_IOV - 2; l = l->next)
        iovcnt += frame_iov (l->data, iov + iovcnt);

      n = mitogen_side_writev (side, iov, iovcnt, error);
      if (n < 0)
        return FALSE;
      if (n == 0)
        return TRUE;

      priv->bytes_sent += (guint64) n;
      priv->pending_bytes -= (gsize) n;
      while (n > 0)
        {
          OutFrame *frame = g_queue_peek_head (&priv->outq);
          gsize frame_len = MITOGEN_MESSAGE_HEADER_SIZE +
                            g_bytes_get_size (frame->body);
          gsize take = MIN ((gsize) n, frame_len - frame->offset);

          frame->offset += take;
          n -= (gssize) take;
          if (frame->offset == frame_len)
            out_frame_free (g_queue_pop_head (&priv->outq));
        }
    }
  return TRUE;
}

/**
 * mitogen_stream_send:
 * @self: a stream
 * @msg: the message; its header must be complete
 *
 * Queues @msg for the peer, writing at once what the descriptor takes.
 * Callable from any thread; never blocks.
 *
 * Returns: %FALSE if the stream is disconnected and @msg was dropped
 */
gboolean
mitogen_stream_send (MitogenStream *self,
                     MitogenMessage *msg)
{
  MitogenStreamPrivate *priv = PRIV (self);
  g_autoptr(GError) error = NULL;
  OutFrame *frame;
  gboolean start_transmit = FALSE;
  gboolean ok = TRUE;

  g_return_val_if_fail (MITOGEN_IS_STREAM (self), FALSE);

  frame = g_new (OutFrame, 1);
  mitogen_message_encode_header (msg, frame->header);
  frame->body = g_bytes_ref (mitogen_message_get_bytes (msg));
  frame->offset = 0;
  frame->msg = mitogen_message_ref (msg);

  g_mutex_lock (&priv->lock);
  if (priv->disconnected)
    {
      g_mutex_unlock (&priv->lock);
      out_frame_free (frame);
      return FALSE;
    }
  g_queue_push_tail (&priv->outq, frame);
  priv->pending_bytes += MITOGEN_MESSAGE_HEADER_SIZE + g_bytes_get_size (frame->body);
  if (!priv->transmitting)
    {
      ok = flush_locked (self, &error);
      if (ok && !g_queue_is_empty (&priv->outq))
        start_transmit = priv->transmitting = TRUE;
    }
  g_mutex_unlock (&priv->lock);

  if (!ok)
    mitogen_stream_disconnect (self, error->message);
  else if (start_transmit)
    mitogen_broker_start_transmit (stream_broker (self),
                                   MITOGEN_BASIC_STREAM (self));
  return ok;
}

static void
mitogen_stream_on_transmit (MitogenBasicStream *stream,
                            MitogenBroker *broker)
{
  MitogenStream *self = MITOGEN_STREAM (stream);
  MitogenStreamPrivate *priv = PRIV (self);
  g_autoptr(GError) error = NULL;
  gboolean ok, drained, then_disconnect;

  g_mutex_lock (&priv->lock);
  ok = flush_locked (self, &error);
  drained = g_queue_is_empty (&priv->outq);
  if (drained)
    priv->transmitting = FALSE;
  then_disconnect = drained && priv->disconnect_when_flushed;
  g_mutex_unlock (&priv->lock);

  if (!ok)
    {
      mitogen_stream_disconnect (self, error->message);
      return;
    }
  if (drained)
    mitogen_broker_stop_transmit (broker, stream);
  if (then_disconnect)
    mitogen_basic_stream_on_disconnect (stream, broker);
}

static void
route_decoded (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);
  MitogenMessage *msg;

  while ((msg = mitogen_message_decoder_pop (priv->decoder)))
    {
      priv->messages_received++;
      if (priv->router && !priv->disconnected)
        mitogen_router_route_from_stream (priv->router, msg, self);
      mitogen_message_unref (msg);
    }
}

static void
mitogen_stream_on_receive (MitogenBasicStream *stream,
                           MitogenBroker *broker)
{
  MitogenStream *self = MITOGEN_STREAM (stream);
  MitogenStreamPrivate *priv = PRIV (self);
  MitogenSide *side = mitogen_basic_stream_get_receive_side (stream);
  g_autoptr(GError) error = NULL;
  gsize body_space;
  guint8 *body = mitogen_message_decoder_get_body_buffer (priv->decoder,
                                                          &body_space);
  gssize n;

  /* Large bodies are read straight into place, sparing a copy; after a
   * large frame the next header is read alone so that its body can be too.
   * Everything else goes through the staging buffer, where many small
   * frames arrive in one read. */
  if (body && body_space >= LARGE_BODY)
    {
      n = mitogen_side_read (side, body, body_space, &error);
      if (n > 0)
        mitogen_message_decoder_commit_body (priv->decoder, (gsize) n);
      priv->expect_large = TRUE;
    }
  else
    {
      gsize want = MITOGEN_CHUNK_SIZE;

      if (!body && priv->expect_large)
        want = mitogen_message_decoder_get_header_needed (priv->decoder);
      priv->expect_large = FALSE;
      n = mitogen_side_read (side, priv->inbuf, want, &error);
      if (n > 0 && !mitogen_message_decoder_feed (priv->decoder, priv->inbuf,
                                                  (gsize) n, &error))
        {
          route_decoded (self);
          fail_protocol (self, error->message);
          return;
        }
    }

  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return;
  if (n < 0)
    {
      fail_protocol (self, error->message);
      return;
    }
  if (n == 0)
    {
      mitogen_stream_disconnect (self, "The peer closed the connection");
      return;
    }

  priv->bytes_received += (guint64) n;
  route_decoded (self);
}

static void
mitogen_stream_on_shutdown (MitogenBasicStream *stream,
                            MitogenBroker *broker)
{
  MitogenStreamPrivate *priv = PRIV (MITOGEN_STREAM (stream));
  gboolean flushed;

  /* Let queued messages leave first; the broker's grace period bounds
   * the wait. */
  g_mutex_lock (&priv->lock);
  flushed = g_queue_is_empty (&priv->outq);
  priv->disconnect_when_flushed = TRUE;
  g_mutex_unlock (&priv->lock);

  if (flushed)
    mitogen_basic_stream_on_disconnect (stream, broker);
}

/* Messages still queued, even those half written, never reach the peer:
 * whoever waits on a reply to one is told so, as if the stream had been
 * gone when it was sent. Called once the stream counts as disconnected,
 * so that no answer is queued here again. */
static void
answer_unsent (MitogenStream *self,
               GQueue *unsent)
{
  MitogenStreamPrivate *priv = PRIV (self);
  const gchar *name = mitogen_basic_stream_get_name (MITOGEN_BASIC_STREAM (self));
  g_autofree gchar *reason = NULL;
  OutFrame *frame;

  while ((frame = g_queue_pop_head (unsent)))
    {
      if (priv->router && mitogen_message_get_reply_to (frame->msg) != 0)
        {
          if (!reason)
            reason = g_strdup_printf ("Context %s (id %u) disconnected: %s",
                                      name ? name : "(unnamed)", priv->remote_id,
                                      priv->disconnect_reason ?: "the stream closed");
          mitogen_router_send_dead (priv->router, frame->msg, reason);
        }
      out_frame_free (frame);
    }
}

static void
mitogen_stream_on_disconnect (MitogenBasicStream *stream,
                              MitogenBroker *broker)
{
  MitogenStreamPrivate *priv = PRIV (MITOGEN_STREAM (stream));
  GQueue unsent = G_QUEUE_INIT;

  g_mutex_lock (&priv->lock);
  priv->disconnected = TRUE;
  unsent = priv->outq;
  g_queue_init (&priv->outq);
  priv->pending_bytes = 0;
  g_mutex_unlock (&priv->lock);
  answer_unsent (MITOGEN_STREAM (stream), &unsent);

  MITOGEN_BASIC_STREAM_CLASS (mitogen_stream_parent_class)
    ->on_disconnect (stream, broker);
}

static void
mitogen_stream_get_property (GObject *object,
                             guint prop_id,
                             GValue *value,
                             GParamSpec *pspec)
{
  MitogenStream *self = MITOGEN_STREAM (object);

  switch (prop_id)
    {
    case PROP_REMOTE_ID:
      g_value_set_uint (value, mitogen_stream_get_remote_id (self));
      break;
    case PROP_IS_PRIVILEGED:
      g_value_set_boolean (value, mitogen_stream_get_is_privileged (self));
      break;
    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_uint64 (value, mitogen_stream_get_max_message_size (self));
      break;
    case PROP_DISCONNECT_REASON:
      g_value_set_string (value, mitogen_stream_get_disconnect_reason (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_stream_set_property (GObject *object,
                             guint prop_id,
                             const GValue *value,
                             GParamSpec *pspec)
{
  MitogenStream *self = MITOGEN_STREAM (object);

  switch (prop_id)
    {
    case PROP_REMOTE_ID:
      mitogen_stream_set_remote_id (self, g_value_get_uint (value));
      break;
    case PROP_IS_PRIVILEGED:
      mitogen_stream_set_is_privileged (self, g_value_get_boolean (value));
      break;
    case PROP_MAX_MESSAGE_SIZE:
      mitogen_stream_set_max_message_size (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_stream_finalize (GObject *object)
{
  MitogenStreamPrivate *priv = PRIV (MITOGEN_STREAM (object));

  g_queue_clear_full (&priv->outq, out_frame_free);
  g_clear_object (&priv->decoder);
  g_free (priv->inbuf);
  g_free (priv->disconnect_reason);
  g_mutex_clear (&priv->lock);

  G_OBJECT_CLASS (mitogen_stream_parent_class)->finalize (object);
}

static void
mitogen_stream_class_init (MitogenStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MitogenBasicStreamClass *stream_class = MITOGEN_BASIC_STREAM_CLASS (klass);

  object_class->get_property = mitogen_stream_get_property;
  object_class->set_property = mitogen_stream_set_property;
  object_class->finalize = mitogen_stream_finalize;

  stream_class->on_receive = mitogen_stream_on_receive;
  stream_class->on_transmit = mitogen_stream_on_transmit;
  stream_class->on_shutdown = mitogen_stream_on_shutdown;
  stream_class->on_disconnect = mitogen_stream_on_disconnect;

  /**
   * MitogenStream:remote-id:
   *
   * The id of the context at the other end.
   */
  props[PROP_REMOTE_ID] =
    g_param_spec_uint ("remote-id", NULL, NULL, 0, G_MAXUINT32, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenStream:is-privileged:
   *
   * Whether the other end is this context's parent, whose messages may
   * speak for any context upstream.
   */
  props[PROP_IS_PRIVILEGED] =
    g_param_spec_boolean ("is-privileged", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenStream:max-message-size:
   *
   * The largest frame body accepted before the stream is disconnected.
   */
  props[PROP_MAX_MESSAGE_SIZE] =
    g_param_spec_uint64 ("max-message-size", NULL, NULL, 1, G_MAXUINT32,
                         MITOGEN_MAX_MESSAGE_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenStream:disconnect-reason:
   *
   * Why the stream disconnected, once it has.
   */
  props[PROP_DISCONNECT_REASON] =
    g_param_spec_string ("disconnect-reason", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
mitogen_stream_init (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);

  g_mutex_init (&priv->lock);
  priv->decoder = mitogen_message_decoder_new (MITOGEN_MAX_MESSAGE_SIZE);
  priv->inbuf = g_malloc (MITOGEN_CHUNK_SIZE);
}

/**
 * mitogen_stream_accept:
 * @self: a stream
 * @receive_fd: the descriptor to read; the stream takes ownership
 * @transmit_fd: the descriptor to write; may equal @receive_fd, in which
 *   case it is duplicated so that each side owns one
 *
 * Gives the stream its file descriptors.
 */
void
mitogen_stream_accept (MitogenStream *self,
                       int receive_fd,
                       int transmit_fd)
{
  MitogenBasicStream *stream = MITOGEN_BASIC_STREAM (self);
  g_autoptr(MitogenSide) rside = NULL;
  g_autoptr(MitogenSide) wside = NULL;

  if (transmit_fd == receive_fd)
    transmit_fd = fcntl (receive_fd, F_DUPFD_CLOEXEC, 3);

  rside = mitogen_side_new (stream, receive_fd, TRUE);
  wside = mitogen_side_new (stream, transmit_fd, FALSE);
  mitogen_basic_stream_set_receive_side (stream, rside);
  mitogen_basic_stream_set_transmit_side (stream, wside);
}

/**
 * mitogen_stream_new:
 * @router: (nullable): the router that receives this stream's messages
 * @remote_id: the id of the context at the other end
 * @receive_fd: the descriptor to read, or -1 to call
 *   mitogen_stream_accept() later
 * @transmit_fd: the descriptor to write; may equal @receive_fd
 *
 * Returns: (transfer full): a new stream
 */
MitogenStream *
mitogen_stream_new (MitogenRouter *router,
                    guint32 remote_id,
                    int receive_fd,
                    int transmit_fd)
{
  MitogenStream *self = g_object_new (MITOGEN_TYPE_STREAM,
                                      "remote-id", remote_id, NULL);

  PRIV (self)->router = router;
  if (receive_fd >= 0)
    mitogen_stream_accept (self, receive_fd, transmit_fd);
  return self;
}

/**
 * mitogen_stream_get_router:
 * @self: a stream
 *
 * Returns: (transfer none) (nullable): the router
 */
MitogenRouter *
mitogen_stream_get_router (MitogenStream *self)
{
  return PRIV (self)->router;
}

/**
 * mitogen_stream_set_router:
 * @self: a stream
 * @router: (nullable): the router that receives this stream's messages
 */
void
mitogen_stream_set_router (MitogenStream *self,
                           MitogenRouter *router)
{
  PRIV (self)->router = router;
}

/**
 * mitogen_stream_get_remote_id:
 * @self: a stream
 *
 * Returns: the id of the context at the other end
 */
guint32
mitogen_stream_get_remote_id (MitogenStream *self)
{
  return PRIV (self)->remote_id;
}

/**
 * mitogen_stream_set_remote_id:
 * @self: a stream
 * @remote_id: the id of the context at the other end
 */
void
mitogen_stream_set_remote_id (MitogenStream *self,
                              guint32 remote_id)
{
  PRIV (self)->remote_id = remote_id;
}

/**
 * mitogen_stream_get_is_privileged:
 * @self: a stream
 *
 * Returns: whether the other end is this context's parent
 */
gboolean
mitogen_stream_get_is_privileged (MitogenStream *self)
{
  return PRIV (self)->is_privileged;
}

/**
 * mitogen_stream_set_is_privileged:
 * @self: a stream
 * @is_privileged: whether the other end is this context's parent
 */
void
mitogen_stream_set_is_privileged (MitogenStream *self,
                                  gboolean is_privileged)
{
  PRIV (self)->is_privileged = is_privileged;
}

/**
 * mitogen_stream_get_max_message_size:
 * @self: a stream
 *
 * Returns: the largest frame body accepted
 */
gsize
mitogen_stream_get_max_message_size (MitogenStream *self)
{
  return mitogen_message_decoder_get_max_message_size (PRIV (self)->decoder);
}

/**
 * mitogen_stream_set_max_message_size:
 * @self: a stream
 * @max_message_size: the largest frame body accepted; set it before the
 *   stream receives
 */
void
mitogen_stream_set_max_message_size (MitogenStream *self,
                                     gsize max_message_size)
{
  MitogenStreamPrivate *priv = PRIV (self);

  g_clear_object (&priv->decoder);
  priv->decoder = mitogen_message_decoder_new (max_message_size);
}

/**
 * mitogen_stream_get_disconnect_reason:
 * @self: a stream
 *
 * Returns: (nullable): why the stream disconnected, or %NULL
 */
const gchar *
mitogen_stream_get_disconnect_reason (MitogenStream *self)
{
  return PRIV (self)->disconnect_reason;
}

/**
 * mitogen_stream_get_bytes_received:
 * @self: a stream
 *
 * Returns: bytes read from the peer so far
 */
guint64
mitogen_stream_get_bytes_received (MitogenStream *self)
{
  return PRIV (self)->bytes_received;
}

/**
 * mitogen_stream_get_bytes_sent:
 * @self: a stream
 *
 * Returns: bytes written to the peer so far
 */
guint64
mitogen_stream_get_bytes_sent (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);
  guint64 n;

  g_mutex_lock (&priv->lock);
  n = priv->bytes_sent;
  g_mutex_unlock (&priv->lock);
  return n;
}

/**
 * mitogen_stream_get_messages_received:
 * @self: a stream
 *
 * Returns: frames decoded so far
 */
guint64
mitogen_stream_get_messages_received (MitogenStream *self)
{
  return PRIV (self)->messages_received;
}

/**
 * mitogen_stream_get_pending_bytes:
 * @self: a stream
 *
 * Returns: bytes queued but not yet written
 */
gsize
mitogen_stream_get_pending_bytes (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);
  gsize n;

  g_mutex_lock (&priv->lock);
  n = priv->pending_bytes;
  g_mutex_unlock (&priv->lock);
  return n;
}
