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
#include "mitogen-broker-private.h"
#include "mitogen-message-decoder-private.h"
#include "mitogen-stream-private.h"

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
 * The queue is bounded by #MitogenStream:transmit-window. Once that many
 * bytes wait (each queued frame counting a little more for its
 * bookkeeping, so that many tiny frames are bounded too), the stream stops being #MitogenStream:writable until half of
 * them have left. mitogen_stream_send() still queues, so the broker never
 * waits, but a stream whose messages the broker is handling when that
 * happens (forwarded here, or answered from a handler) stops being read
 * until this one is writable again: a peer that never reads slows down its
 * feeders instead of growing memory. Producers on other threads wait for
 * room first, with mitogen_stream_wait_writable() or its `_async` form,
 * which [class@Sender] and [class@Context] do for them.
 *
 * Received frames are decoded, checked and handed to the router. A frame
 * with a bad magic, a body over #MitogenStream:max-message-size, or an
 * unreadable descriptor disconnects the stream, with the reason logged and
 * kept in #MitogenStream:disconnect-reason.
 */

/* The largest batch of frames handed to one writev(). */
#define MAX_IOV 64

/* A send this soon after the previous one is part of a burst: it is
 * queued for the broker, which writes the whole burst in a few writev()s,
 * instead of costing a system call of its own. A lone send (a call, a
 * reply: never closer than a round trip) is still written at once. */
#define BURST_USEC 8

/* Bodies at least this large are read straight into place. */
#define LARGE_BODY (MITOGEN_CHUNK_SIZE / 4)

/* The staging buffer for everything else: a thousand small frames fit in
 * one read, and a body too small to be read in place fits whole. Kept
 * below malloc's mmap threshold and no larger than that, since every page
 * a read ever touched stays resident for the stream's life (an agent's
 * first module would otherwise dirty most of 128 KiB). */
#define STAGING_SIZE LARGE_BODY

typedef struct {
  GList link; /* in the queue: one allocation per frame, not two */
  guint8 header[MITOGEN_MESSAGE_HEADER_SIZE];
  GBytes *body;
  gsize offset;        /* over header and body together */
  MitogenMessage *msg; /* answered if it never leaves */
} OutFrame;

/* The stream whose messages the broker thread is handling, if any: what
 * it sends meanwhile is that stream's doing. */
static GPrivate receiving_stream;

/* While the broker routes the frames of one read, what it sends is only
 * queued, and each stream it sent to is written once the batch is routed:
 * a read of many small frames to forward or answer costs one writev() per
 * outgoing stream, not one per frame. */
typedef struct
{
  guint depth;        /* nested route_decoded() calls */
  GPtrArray *streams; /* MitogenStream*, each once, to write at the end */
} Batch;

static void
batch_free (gpointer data)
{
  Batch *batch = data;

  g_ptr_array_unref (batch->streams);
  g_free (batch);
}

static GPrivate batch_key = G_PRIVATE_INIT (batch_free);

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
  gint64 last_send;  /* monotonic µs of the last mitogen_stream_send() */
  gboolean in_batch; /* broker thread only: in the current Batch */
  gboolean disconnected;
  gboolean disconnect_when_flushed;
  gchar *disconnect_reason;
  gsize transmit_window;
  gboolean writable;
  GCond writable_cond;   /* signalled when writable or disconnected */
  GQueue writable_tasks; /* GTask* of mitogen_stream_wait_writable_async() */

  /* Broker thread only. */
  gboolean notified_writable; /* as last announced by notify::writable */
  GPtrArray *paused_readers;  /* streams not read until this one drains */
  guint pauses; /* how many streams this one's reading waits for */

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
  PROP_TRANSMIT_WINDOW,
  PROP_WRITABLE,
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

/* Frames are queued by their own link. */
static OutFrame *
pop_frame (GQueue *queue)
{
  GList *link = g_queue_pop_head_link (queue);
  return link ? link->data : NULL;
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
 * mitogen_stream_close:
 * @self: a stream
 * @reason: (nullable): why, for logs and for waiters' errors
 *
 * Disconnects the stream from any thread: at once on the broker thread,
 * soon otherwise. The first reason given is kept.
 */
void
mitogen_stream_close (MitogenStream *self, const gchar *reason)
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
  mitogen_stream_close (self, reason);
}

/* What a queued frame costs beyond its bytes: the frame, its list link,
 * the message and its GBytes, as malloc rounds them. Charged against the
 * window, so that a flood of tiny replies is bounded in memory and not
 * only in bytes. */
#define FRAME_COST 256

/* What the queue holds, bookkeeping included. Called with the lock held. */
static gsize
queued_cost_locked (MitogenStreamPrivate *priv)
{
  return priv->pending_bytes + priv->outq.length * FRAME_COST;
}

/* Below this the queue has room again; half the window, so that a
 * producer woken by room sends a good batch and the descriptor never
 * runs dry while it does. */
static gsize
low_water (MitogenStreamPrivate *priv)
{
  return priv->transmit_window / 2;
}

/* Updates priv->writable after the queue changed. Called with the lock
 * held. Returns TRUE when it changed: the caller then calls
 * writable_changed() once the lock is released. */
static gboolean
update_writable_locked (MitogenStreamPrivate *priv)
{
  gboolean writable = priv->writable;

  if (priv->disconnected)
    writable = FALSE;
  else if (priv->writable && queued_cost_locked (priv) >= priv->transmit_window)
    writable = FALSE;
  else if (!priv->writable && queued_cost_locked (priv) <= low_water (priv))
    writable = TRUE;

  if (writable == priv->writable)
    return FALSE;
  priv->writable = writable;
  g_cond_broadcast (&priv->writable_cond);
  return TRUE;
}

static gboolean mitogen_stream_check_writable (MitogenStream *self,
                                               GError **error);

static void
finish_writable_tasks (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);
  GQueue done = G_QUEUE_INIT;
  GTask *task;

  g_mutex_lock (&priv->lock);
  if (priv->writable || priv->disconnected)
    {
      done = priv->writable_tasks;
      g_queue_init (&priv->writable_tasks);
    }
  g_mutex_unlock (&priv->lock);

  while ((task = g_queue_pop_head (&done)))
    {
      g_autoptr(GError) error = NULL;

      if (g_task_get_task_data (task))
        g_source_destroy (g_task_get_task_data (task));
      if (mitogen_stream_check_writable (self, &error))
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
    }
}

static void route_decoded (MitogenStream *self);

/* One fewer stream holds up @self's reading; the last one lets it go on,
 * first with the frames it had decoded when it was paused. */
static void
unpause (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);
  MitogenBroker *broker;

  g_return_if_fail (priv->pauses > 0);
  if (--priv->pauses > 0 || priv->disconnected)
    return;
  route_decoded (self);
  broker = stream_broker (self);
  if (priv->pauses == 0 && !priv->disconnected && broker)
    mitogen_broker_resume_receive (broker, MITOGEN_BASIC_STREAM (self));
}

static void
release_paused_readers (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);
  g_autoptr(GPtrArray) readers = g_steal_pointer (&priv->paused_readers);

  priv->paused_readers = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; readers && i < readers->len; i++)
    unpause (readers->pdata[i]);
}

/* On the broker thread: tells watchers, resumes the streams that fed
 * this one, and completes async waits. */
static void
writable_changed_on_broker (gpointer data)
{
  MitogenStream *self = data;
  MitogenStreamPrivate *priv = PRIV (self);
  gboolean writable = mitogen_stream_is_writable (self);

  if (writable != priv->notified_writable)
    {
      priv->notified_writable = writable;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_WRITABLE]);
    }
  if (writable || priv->disconnected)
    release_paused_readers (self);
  finish_writable_tasks (self);
}

static void
writable_changed (MitogenStream *self)
{
  MitogenBroker *broker = stream_broker (self);

  if (!broker || !mitogen_broker_is_alive (broker))
    writable_changed_on_broker (self);
  else
    mitogen_broker_defer (broker, writable_changed_on_broker,
                          g_object_ref (self), g_object_unref);
}

/* @self went over its window while the broker handled a message from
 * the stream being read, if any: stop reading that one until @self
 * drains. */
static void
pause_feeder (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);
  MitogenStream *feeder = g_private_get (&receiving_stream);
  MitogenBroker *broker = stream_broker (self);

  if (!feeder || !broker || !mitogen_broker_is_broker_thread (broker)
      || PRIV (feeder)->disconnected
      || g_ptr_array_find (priv->paused_readers, feeder, NULL))
    return;
  g_ptr_array_add (priv->paused_readers, g_object_ref (feeder));
  /* The feeder is being read on this broker thread: it has a broker. */
  if (PRIV (feeder)->pauses++ == 0)
    mitogen_broker_pause_receive (broker, MITOGEN_BASIC_STREAM (feeder));
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
            out_frame_free (pop_frame (&priv->outq));
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
 * Callable from any thread; never blocks, even past
 * #MitogenStream:transmit-window: producers that can wait call
 * mitogen_stream_wait_writable() first. When the broker sends here over
 * the window while handling a message from another stream (or from this
 * one), it stops reading that stream until this one is writable again.
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
  gboolean changed, full;

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
  frame->link = (GList){ .data = frame };
  g_queue_push_tail_link (&priv->outq, &frame->link);
  priv->pending_bytes += MITOGEN_MESSAGE_HEADER_SIZE + g_bytes_get_size (frame->body);
  if (!priv->transmitting)
    {
      gint64 now = g_get_monotonic_time ();
      MitogenBroker *broker = stream_broker (self);
      gboolean on_broker = broker && mitogen_broker_is_broker_thread (broker);
      Batch *batch = on_broker ? g_private_get (&batch_key) : NULL;
      gboolean burst = now - priv->last_send < BURST_USEC && broker
                       && !on_broker && mitogen_broker_is_alive (broker);

      priv->last_send = now;
      if (batch && batch->depth > 0)
        {
          /* Written when the batch is routed, by flush_batched(). */
          if (!priv->in_batch)
            {
              priv->in_batch = TRUE;
              g_ptr_array_add (batch->streams, g_object_ref (self));
            }
        }
      else
        {
          if (!burst)
            ok = flush_locked (self, &error);
          if (ok && !g_queue_is_empty (&priv->outq))
            start_transmit = priv->transmitting = TRUE;
        }
    }
  changed = update_writable_locked (priv);
  full = !priv->writable;
  g_mutex_unlock (&priv->lock);

  if (!ok)
    mitogen_stream_close (self, error->message);
  else if (start_transmit)
    mitogen_broker_start_transmit (stream_broker (self),
                                   MITOGEN_BASIC_STREAM (self));
  if (changed)
    writable_changed (self);
  if (ok && full)
    pause_feeder (self);
  return ok;
}

static void
mitogen_stream_on_transmit (MitogenBasicStream *stream,
                            MitogenBroker *broker)
{
  MitogenStream *self = MITOGEN_STREAM (stream);
  MitogenStreamPrivate *priv = PRIV (self);
  g_autoptr(GError) error = NULL;
  gboolean ok, drained, then_disconnect, changed;

  g_mutex_lock (&priv->lock);
  ok = flush_locked (self, &error);
  drained = g_queue_is_empty (&priv->outq);
  if (drained)
    priv->transmitting = FALSE;
  then_disconnect = drained && priv->disconnect_when_flushed;
  changed = update_writable_locked (priv);
  g_mutex_unlock (&priv->lock);

  if (!ok)
    {
      mitogen_stream_close (self, error->message);
      return;
    }
  if (drained)
    mitogen_broker_stop_transmit (broker, stream);
  if (then_disconnect)
    mitogen_basic_stream_on_disconnect (stream, broker);
  /* Last: resumed feeders may queue here again at once. */
  else if (changed)
    writable_changed_on_broker (self);
}

/* On the broker thread, once a batch is routed: writes what it queued
 * here, as mitogen_stream_send() would have. */
static void
flush_batched (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);
  MitogenBroker *broker = stream_broker (self);
  g_autoptr (GError) error = NULL;
  gboolean ok = TRUE, start_transmit = FALSE, then_disconnect = FALSE;
  gboolean changed;

  g_mutex_lock (&priv->lock);
  priv->in_batch = FALSE;
  /* Another thread may have written the queue meanwhile, or handed it to
   * the broker's transmit watch. */
  if (!priv->transmitting && !priv->disconnected)
    {
      ok = flush_locked (self, &error);
      if (ok && !g_queue_is_empty (&priv->outq))
        start_transmit = priv->transmitting = TRUE;
      else if (ok)
        then_disconnect = priv->disconnect_when_flushed;
    }
  changed = update_writable_locked (priv);
  g_mutex_unlock (&priv->lock);

  if (!ok)
    mitogen_stream_close (self, error->message);
  else if (start_transmit && broker)
    mitogen_broker_start_transmit (broker, MITOGEN_BASIC_STREAM (self));
  else if (then_disconnect && broker)
    mitogen_basic_stream_on_disconnect (MITOGEN_BASIC_STREAM (self), broker);
  if (changed)
    writable_changed (self);
}

static Batch *
begin_batch (void)
{
  Batch *batch = g_private_get (&batch_key);

  if (!batch)
    {
      batch = g_new0 (Batch, 1);
      batch->streams = g_ptr_array_new_with_free_func (g_object_unref);
      g_private_set (&batch_key, batch);
    }
  batch->depth++;
  return batch;
}

static void
end_batch (Batch *batch)
{
  g_autoptr (GPtrArray) streams = NULL;

  if (--batch->depth > 0 || batch->streams->len == 0)
    return;
  /* Taken first: a flush that frees room may resume a paused stream,
   * whose routing is a batch of its own. */
  streams = g_steal_pointer (&batch->streams);
  batch->streams = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < streams->len; i++)
    flush_batched (streams->pdata[i]);
}

static void
route_decoded (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);
  gpointer outer = g_private_get (&receiving_stream);
  Batch *batch = begin_batch ();
  MitogenMessage *msg;

  /* Stops as soon as a stream this one feeds is full; the rest of the
   * batch waits in the decoder. */
  g_private_set (&receiving_stream, self);
  while (priv->pauses == 0
         && (msg = mitogen_message_decoder_pop (priv->decoder)))
    {
      priv->messages_received++;
      if (priv->router && !priv->disconnected)
        mitogen_router_route_from_stream (priv->router, msg, self);
      mitogen_message_unref (msg);
    }
  g_private_set (&receiving_stream, outer);
  end_batch (batch);
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

  /* While paused the broker watches only for hang-up: the peer is gone,
   * and what it left unread by us can no longer be answered. */
  if (priv->pauses > 0)
    {
      mitogen_stream_close (self, "The peer closed the connection");
      return;
    }

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
      gsize want = STAGING_SIZE;

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
      mitogen_stream_close (self, "The peer closed the connection");
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

  while ((frame = pop_frame (unsent)))
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
  update_writable_locked (priv);
  g_cond_broadcast (&priv->writable_cond);
  g_mutex_unlock (&priv->lock);
  answer_unsent (MITOGEN_STREAM (stream), &unsent);

  MITOGEN_BASIC_STREAM_CLASS (mitogen_stream_parent_class)
    ->on_disconnect (stream, broker);
  /* Waiters wake with an error; the streams that fed this one go on,
   * their messages here now answered as undeliverable. */
  writable_changed_on_broker (MITOGEN_STREAM (stream));
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
    case PROP_TRANSMIT_WINDOW:
      g_value_set_uint64 (value, mitogen_stream_get_transmit_window (self));
      break;
    case PROP_WRITABLE:
      g_value_set_boolean (value, mitogen_stream_is_writable (self));
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
    case PROP_TRANSMIT_WINDOW:
      mitogen_stream_set_transmit_window (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_stream_finalize (GObject *object)
{
  MitogenStreamPrivate *priv = PRIV (MITOGEN_STREAM (object));
  OutFrame *frame;

  while ((frame = pop_frame (&priv->outq)))
    out_frame_free (frame);
  g_clear_pointer (&priv->paused_readers, g_ptr_array_unref);
  g_cond_clear (&priv->writable_cond);
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
  /**
   * MitogenStream:transmit-window:
   *
   * How many bytes may wait to be written before the stream stops being
   * #MitogenStream:writable. A message is never split: the queue may
   * exceed the window by the last message let in.
   */
  props[PROP_TRANSMIT_WINDOW] = g_param_spec_uint64 (
      "transmit-window", NULL, NULL, 1, G_MAXSIZE, MITOGEN_TRANSMIT_WINDOW,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenStream:writable:
   *
   * Whether the transmit queue has room: %FALSE once
   * #MitogenStream:transmit-window bytes wait, %TRUE again once half of
   * them have been written; %FALSE once disconnected. Its notification is
   * emitted on the broker thread; event-driven producers wait for it, or
   * use mitogen_stream_wait_writable_async() to be called back in their
   * own main context.
   */
  props[PROP_WRITABLE] = g_param_spec_boolean (
      "writable", NULL, NULL, TRUE,
      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
mitogen_stream_init (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);

  g_mutex_init (&priv->lock);
  g_cond_init (&priv->writable_cond);
  priv->transmit_window = MITOGEN_TRANSMIT_WINDOW;
  priv->writable = priv->notified_writable = TRUE;
  priv->paused_readers = g_ptr_array_new_with_free_func (g_object_unref);
  priv->decoder = mitogen_message_decoder_new (MITOGEN_MAX_MESSAGE_SIZE);
  priv->inbuf = g_malloc (STAGING_SIZE);
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
 * Creates a framed message stream on @router to @remote_id, reading
 * @receive_fd and writing @transmit_fd.
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
 * Returns the router.
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
 * Returns the id of the context at the other end.
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
 * Returns whether the other end is this context's parent.
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
 *
 * Sets whether the other end is this context's parent.
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
 * Returns the largest frame body accepted.
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
 *
 * Sets the largest frame body accepted; set it before the stream receives.
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
 * Returns why the stream disconnected, or %NULL.
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
 * Returns bytes read from the peer so far.
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
 * Returns bytes written to the peer so far.
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
 * Returns frames decoded so far.
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
 * Returns bytes queued but not yet written.
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

/**
 * mitogen_stream_get_transmit_window:
 * @self: a stream
 *
 * Returns the bytes that may wait to be written before the stream stops being
 * writable.
 *
 * Returns: the bytes that may wait to be written before the stream stops
 *   being writable
 */
gsize
mitogen_stream_get_transmit_window (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);
  gsize n;

  g_mutex_lock (&priv->lock);
  n = priv->transmit_window;
  g_mutex_unlock (&priv->lock);
  return n;
}

/**
 * mitogen_stream_set_transmit_window:
 * @self: a stream
 * @window: the bytes that may wait to be written before the stream stops
 *   being writable; at least 1
 *
 * Sets #MitogenStream:transmit-window. Callable from any thread.
 */
void
mitogen_stream_set_transmit_window (MitogenStream *self, gsize window)
{
  MitogenStreamPrivate *priv = PRIV (self);
  gboolean changed;

  g_return_if_fail (MITOGEN_IS_STREAM (self));
  g_return_if_fail (window > 0);

  g_mutex_lock (&priv->lock);
  if (priv->transmit_window == window)
    {
      g_mutex_unlock (&priv->lock);
      return;
    }
  priv->transmit_window = window;
  changed = update_writable_locked (priv);
  g_mutex_unlock (&priv->lock);

  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_TRANSMIT_WINDOW]);
  if (changed)
    writable_changed (self);
}

/**
 * mitogen_stream_is_writable:
 * @self: a stream
 *
 * Returns the value of #MitogenStream:writable: whether a producer that can
 * wait should send now.
 *
 * Returns: the value of #MitogenStream:writable: whether a producer that
 *   can wait should send now
 */
gboolean
mitogen_stream_is_writable (MitogenStream *self)
{
  MitogenStreamPrivate *priv = PRIV (self);
  gboolean writable;

  g_mutex_lock (&priv->lock);
  writable = priv->writable;
  g_mutex_unlock (&priv->lock);
  return writable;
}

static void
set_disconnected_error_locked (MitogenStream *self, GError **error)
{
  MitogenStreamPrivate *priv = PRIV (self);

  g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_DISCONNECTED,
               "Stream %s disconnected: %s",
               mitogen_basic_stream_get_name (MITOGEN_BASIC_STREAM (self))
                   ?: "(unnamed)",
               priv->disconnect_reason ?: "gone");
}

/* TRUE when writable; FALSE with an error once disconnected; FALSE and no
 * error otherwise. */
static gboolean
check_writable_locked (MitogenStream *self, GError **error)
{
  MitogenStreamPrivate *priv = PRIV (self);

  if (priv->disconnected)
    set_disconnected_error_locked (self, error);
  return priv->writable && !priv->disconnected;
}

static gboolean
mitogen_stream_check_writable (MitogenStream *self, GError **error)
{
  MitogenStreamPrivate *priv = PRIV (self);
  gboolean ok;

  g_mutex_lock (&priv->lock);
  ok = check_writable_locked (self, error);
  g_mutex_unlock (&priv->lock);
  return ok;
}

static void
wake_waiters (GCancellable *cancellable, gpointer data)
{
  MitogenStreamPrivate *priv = PRIV (MITOGEN_STREAM (data));

  g_mutex_lock (&priv->lock);
  g_cond_broadcast (&priv->writable_cond);
  g_mutex_unlock (&priv->lock);
}

static gboolean
on_broker_thread (MitogenStream *self)
{
  MitogenBroker *broker = stream_broker (self);
  return broker && mitogen_broker_is_broker_thread (broker);
}

/**
 * mitogen_stream_wait_writable:
 * @self: a stream
 * @cancellable: (nullable): ends the wait
 * @error: return location for an error
 *
 * Waits until the stream is #MitogenStream:writable, blocking the calling
 * thread: what a producer that may block calls before
 * mitogen_stream_send(). On the broker thread it never waits, and
 * returns at once: the broker's own sends are bounded by pausing the
 * streams that feed them instead.
 *
 * Returns: %TRUE when the producer may send; %FALSE with
 *   %MITOGEN_STREAM_ERROR_DISCONNECTED once the stream is disconnected, or
 *   %G_IO_ERROR_CANCELLED
 */
gboolean
mitogen_stream_wait_writable (MitogenStream *self,
                              GCancellable *cancellable,
                              GError **error)
{
  MitogenStreamPrivate *priv = PRIV (self);
  gulong cancel_id = 0;
  gboolean ok;

  g_return_val_if_fail (MITOGEN_IS_STREAM (self), FALSE);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (on_broker_thread (self))
    {
      g_mutex_lock (&priv->lock);
      ok = !priv->disconnected;
      if (!ok)
        set_disconnected_error_locked (self, error);
      g_mutex_unlock (&priv->lock);
      return ok;
    }
  if (cancellable)
    cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (wake_waiters),
                                       self, NULL);

  g_mutex_lock (&priv->lock);
  while (!(ok = check_writable_locked (self, error)) && !priv->disconnected
         && !g_cancellable_is_cancelled (cancellable))
    g_cond_wait (&priv->writable_cond, &priv->lock);
  g_mutex_unlock (&priv->lock);

  if (cancellable)
    g_cancellable_disconnect (cancellable, cancel_id);
  if (!ok && !priv->disconnected)
    g_cancellable_set_error_if_cancelled (cancellable, error);
  return ok;
}

static gboolean
on_wait_cancelled (GCancellable *cancellable, gpointer data)
{
  GTask *task = data;
  MitogenStream *self = g_task_get_source_object (task);
  MitogenStreamPrivate *priv = PRIV (self);
  gboolean removed;

  g_mutex_lock (&priv->lock);
  removed = g_queue_remove (&priv->writable_tasks, task);
  g_mutex_unlock (&priv->lock);

  if (removed)
    {
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
    }
  return G_SOURCE_REMOVE;
}

/**
 * mitogen_stream_wait_writable_async:
 * @self: a stream
 * @cancellable: (nullable): ends the wait with %G_IO_ERROR_CANCELLED
 * @callback: (scope async): called, in the thread-default main context of
 *   the caller, once the stream is writable or disconnected
 * @user_data: (closure): data for @callback
 *
 * Like mitogen_stream_wait_writable(), without blocking; callable from
 * any thread, the broker's included.
 */
void
mitogen_stream_wait_writable_async (MitogenStream *self,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  MitogenStreamPrivate *priv = PRIV (self);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  gboolean ready;

  g_return_if_fail (MITOGEN_IS_STREAM (self));
  g_task_set_source_tag (task, mitogen_stream_wait_writable_async);

  g_mutex_lock (&priv->lock);
  ready = check_writable_locked (self, &error) || priv->disconnected;
  if (!ready)
    {
      if (cancellable)
        {
          GSource *source = g_cancellable_source_new (cancellable);

          g_source_set_callback (source, G_SOURCE_FUNC (on_wait_cancelled),
                                 g_object_ref (task), g_object_unref);
          g_source_set_static_name (source, "mitogen-stream-wait-writable");
          g_task_set_task_data (task, source, (GDestroyNotify) g_source_unref);
          g_source_attach (source, g_task_get_context (task));
        }
      g_queue_push_tail (&priv->writable_tasks, g_object_ref (task));
    }
  g_mutex_unlock (&priv->lock);

  if (error)
    g_task_return_error (task, g_steal_pointer (&error));
  else if (ready)
    g_task_return_boolean (task, TRUE);
}

/**
 * mitogen_stream_wait_writable_finish:
 * @self: a stream
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_stream_wait_writable_async().
 *
 * Returns: %TRUE when the producer may send; %FALSE with
 *   %MITOGEN_STREAM_ERROR_DISCONNECTED or %G_IO_ERROR_CANCELLED
 */
gboolean
mitogen_stream_wait_writable_finish (MitogenStream *self,
                                     GAsyncResult *result,
                                     GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
