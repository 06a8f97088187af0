/* mitogen-broker.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-broker.h"

#include <glib-unix.h>
#include <signal.h>

#include "mitogen-errors.h"
#include "mitogen-waker-private.h"
#include "mitogen-basic-stream-private.h"
#include "mitogen-broker-private.h"

/**
 * MitogenBroker:
 *
 * The I/O thread. It runs a `GMainContext` of its own, owns every stream's
 * file descriptors, and calls the streams' methods when their sides are
 * ready. Other threads hand it work with mitogen_broker_defer().
 *
 * mitogen_broker_shutdown() asks each stream to end gracefully, waits up
 * to the shutdown timeout for every keep-alive side to disconnect, then
 * disconnects whatever remains and lets the thread exit.
 */
typedef void (*StreamMethod) (MitogenBasicStream *stream,
                              MitogenBroker *broker);

typedef struct {
  MitogenBasicStream *stream;
  MitogenSide *side;
  GIOCondition condition;
  StreamMethod method;
  GSource *source;
  gboolean paused; /* watching for hang-up only */
} Registration;

struct _MitogenBroker {
  GObject parent_instance;

  GMainContext *context;
  GThread *thread;
  MitogenWaker *waker;
  GHashTable *readers; /* MitogenSide* -> Registration* */
  GHashTable *writers; /* MitogenSide* -> Registration* */
  gint64 shutdown_timeout;
  /* Cancelled by mitogen_broker_shutdown(). */
  GCancellable *shutdown_cancellable;
  gint holds;    /* atomic: children to be reaped before the thread ends */
  gint alive;    /* atomic */
  gint exited;   /* atomic */
  gboolean joined;
};

G_DEFINE_FINAL_TYPE (MitogenBroker, mitogen_broker, G_TYPE_OBJECT)

enum {
  SIGNAL_SHUTDOWN,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
registration_free (gpointer data)
{
  Registration *reg = data;

  g_source_destroy (reg->source);
  g_source_unref (reg->source);
  g_object_unref (reg->side);
  g_object_unref (reg->stream);
  g_free (reg);
}

/* Drops every registration of @stream's sides. */
static void
forget_stream (MitogenBroker *self,
               MitogenBasicStream *stream)
{
  MitogenSide *rside = mitogen_basic_stream_get_receive_side (stream);
  MitogenSide *wside = mitogen_basic_stream_get_transmit_side (stream);

  if (rside)
    g_hash_table_remove (self->readers, rside);
  if (wside)
    g_hash_table_remove (self->writers, wside);
}

typedef struct {
  MitogenBroker *broker;
  MitogenBasicStream *stream;
  StreamMethod method;
} Dispatch;

static gboolean
on_fd_ready (gint fd,
             GIOCondition condition,
             gpointer user_data)
{
  Dispatch *dispatch = user_data;
  MitogenBasicStream *stream = g_object_ref (dispatch->stream);

  /* The method may disconnect the stream, dropping the broker's last
   * reference to it, while still running on it. */
  dispatch->method (stream, dispatch->broker);
  /* A stream that disconnected without reaching this broker (its router
   * went first) left its closed sides registered: polled, a closed
   * descriptor is ready for ever, so drop them here, once. */
  if (mitogen_basic_stream_is_disconnected (stream))
    forget_stream (dispatch->broker, stream);
  g_object_unref (stream);
  return G_SOURCE_CONTINUE;
}

/* (Re)creates @reg's source: watching @reg->condition, or only hang-up
 * and errors while paused. */
static void
attach_source (MitogenBroker *self, Registration *reg)
{
  Dispatch *dispatch = g_new (Dispatch, 1);
  GIOCondition condition = reg->paused ? 0 : reg->condition;

  dispatch->broker = self;
  dispatch->stream = reg->stream;
  dispatch->method = reg->method;

  if (reg->source)
    {
      g_source_destroy (reg->source);
      g_source_unref (reg->source);
    }
  reg->source = g_unix_fd_source_new (mitogen_side_get_fd (reg->side),
                                      condition | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (reg->source, G_SOURCE_FUNC (on_fd_ready), dispatch,
                         g_free);
  g_source_set_static_name (reg->source, "mitogen-side");
  /* GLib blocks a source that cannot recurse for its dispatch, taking its
   * descriptor out of the poll set and putting it back: each a write to
   * the context's wake-up eventfd, and a spurious extra poll, per message.
   * Nothing iterates this context from within a dispatch (only the
   * broker thread's top level does), so nothing can recurse. */
  g_source_set_can_recurse (reg->source, TRUE);
  g_source_attach (reg->source, self->context);
}

static void
add_registration (MitogenBroker *self,
                  GHashTable *table,
                  MitogenSide *side,
                  MitogenBasicStream *stream,
                  GIOCondition condition,
                  StreamMethod method)
{
  Registration *reg;

  g_assert (mitogen_broker_is_broker_thread (self));

  if (!side || mitogen_side_is_closed (side) ||
      g_hash_table_contains (table, side))
    return;

  reg = g_new0 (Registration, 1);
  reg->stream = g_object_ref (stream);
  reg->side = g_object_ref (side);
  reg->condition = condition;
  reg->method = method;
  attach_source (self, reg);
  g_hash_table_insert (table, side, reg);
}

static void
mitogen_broker_finalize (GObject *object)
{
  MitogenBroker *self = MITOGEN_BROKER (object);

  if (self->thread && !self->joined)
    {
      mitogen_broker_shutdown (self);
      mitogen_broker_join (self);
    }
  g_clear_pointer (&self->readers, g_hash_table_unref);
  g_clear_pointer (&self->writers, g_hash_table_unref);
  g_clear_object (&self->waker);
  g_clear_object (&self->shutdown_cancellable);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (mitogen_broker_parent_class)->finalize (object);
}

static void
mitogen_broker_class_init (MitogenBrokerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_broker_finalize;

  /**
   * MitogenBroker::shutdown:
   * @self: the broker
   *
   * Emitted on the broker thread once every stream is disconnected, just
   * before the thread exits. Routers use it to wake every remaining
   * waiter with an error.
   */
  signals[SIGNAL_SHUTDOWN] =
    g_signal_new ("shutdown", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
mitogen_broker_init (MitogenBroker *self)
{
  self->context = g_main_context_new ();
  self->readers = g_hash_table_new_full (NULL, NULL, NULL, registration_free);
  self->writers = g_hash_table_new_full (NULL, NULL, NULL, registration_free);
  self->shutdown_timeout = MITOGEN_BROKER_SHUTDOWN_TIMEOUT;
  self->shutdown_cancellable = g_cancellable_new ();
}

/* Every stream registered for anything, once each. */
static GPtrArray *
registered_streams (MitogenBroker *self)
{
  GPtrArray *streams = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTable *tables[] = { self->readers, self->writers };

  for (guint t = 0; t < G_N_ELEMENTS (tables); t++)
    {
      GHashTableIter iter;
      Registration *reg;

      g_hash_table_iter_init (&iter, tables[t]);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &reg))
        /* The waker is left out: it must go on running deferred work
         * through the grace period, until mitogen_waker_close() ends it. */
        if (reg->stream != MITOGEN_BASIC_STREAM (self->waker) &&
            !g_ptr_array_find (streams, reg->stream, NULL))
          g_ptr_array_add (streams, g_object_ref (reg->stream));
    }
  return streams;
}

static gboolean
on_grace_period_over (gpointer user_data)
{
  gboolean *over = user_data;
  *over = TRUE;
  return G_SOURCE_REMOVE;
}

/* Disconnected children are sent SIGTERM, then SIGKILL (see
 * #MitogenParentStream), and reaped from this thread's main context: it
 * runs until they are, this long at most. */
#define HOLD_BOUND (MITOGEN_BROKER_KILL_BOUND + G_USEC_PER_SEC)

static void
wait_for_holds (MitogenBroker *self)
{
  g_autoptr(GSource) timer = NULL;
  gboolean over = FALSE;

  if (g_atomic_int_get (&self->holds) == 0)
    return;
  timer = g_timeout_source_new ((guint) (HOLD_BOUND / 1000));
  g_source_set_callback (timer, on_grace_period_over, &over, NULL);
  g_source_attach (timer, self->context);
  while (!over && g_atomic_int_get (&self->holds) > 0)
    g_main_context_iteration (self->context, TRUE);
  g_source_destroy (timer);
  if (over)
    g_message ("Broker shutdown: %d child processes not reaped after %"
               G_GINT64_FORMAT " ms; leaving them", g_atomic_int_get (&self->holds),
               (gint64) (HOLD_BOUND / 1000));
}

static void
run_shutdown (MitogenBroker *self)
{
  g_autoptr(GPtrArray) streams = registered_streams (self);
  g_autoptr(GSource) timer = NULL;
  gboolean over = FALSE;

  for (guint i = 0; i < streams->len; i++)
    mitogen_basic_stream_on_shutdown (streams->pdata[i], self);

  timer = g_timeout_source_new ((guint) (self->shutdown_timeout / 1000));
  g_source_set_callback (timer, on_grace_period_over, &over, NULL);
  g_source_attach (timer, self->context);
  while (!over && mitogen_broker_keep_alive (self))
    g_main_context_iteration (self->context, TRUE);
  g_source_destroy (timer);

  g_clear_pointer (&streams, g_ptr_array_unref);
  streams = registered_streams (self);
  if (over && streams->len > 0)
    g_message ("Broker shutdown: %u streams still alive after %" G_GINT64_FORMAT
               " ms grace period; disconnecting them", streams->len,
               self->shutdown_timeout / 1000);
  for (guint i = 0; i < streams->len; i++)
    mitogen_basic_stream_on_disconnect (streams->pdata[i], self);

  wait_for_holds (self);
  mitogen_waker_close (self->waker);
  g_hash_table_remove_all (self->readers);
  g_signal_emit (self, signals[SIGNAL_SHUTDOWN], 0);
  g_hash_table_remove_all (self->writers);
}

static gpointer
broker_thread (gpointer data)
{
  MitogenBroker *self = data;

  /* g_thread_new() may not have returned yet in the creating thread. */
  g_atomic_pointer_set (&self->thread, g_thread_self ());
  g_main_context_push_thread_default (self->context);
  /* Registered here: registering from another thread would itself go
   * through the waker. */
  mitogen_broker_start_receive (self, MITOGEN_BASIC_STREAM (self->waker));
  while (g_atomic_int_get (&self->alive))
    g_main_context_iteration (self->context, TRUE);
  run_shutdown (self);
  /* Sources destroyed during shutdown free their data on dispatch. */
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_main_context_pop_thread_default (self->context);
  g_atomic_int_set (&self->exited, TRUE);
  return NULL;
}

static void
ignore_sigpipe (void)
{
  struct sigaction sa;

  /* A write to a pipe whose reader died must fail with EPIPE, which the
   * stream handles, rather than kill the process. Only the default
   * disposition is replaced: an application's own handler stays. */
  if (sigaction (SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal (SIGPIPE, SIG_IGN);
}

/**
 * mitogen_broker_new:
 *
 * Creates a broker and starts its thread.
 *
 * Also sets `SIGPIPE` to be ignored if it has its default disposition, so
 * that writes to a dead peer fail instead of killing the process.
 *
 * Returns: (transfer full): a running broker
 */
MitogenBroker *
mitogen_broker_new (void)
{
  MitogenBroker *self = g_object_new (MITOGEN_TYPE_BROKER, NULL);
  g_autoptr(GError) error = NULL;

  ignore_sigpipe ();

  self->waker = mitogen_waker_new (self, &error);
  if (!self->waker)
    g_error ("Cannot create the broker's waker: %s", error->message);

  g_atomic_int_set (&self->alive, TRUE);
  self->thread = g_thread_new ("mitogen-broker", broker_thread, self);
  return self;
}

/**
 * mitogen_broker_get_context:
 * @self: a broker
 *
 * Returns the main context the broker thread runs.
 *
 * Returns: (transfer none): the main context the broker thread runs
 */
GMainContext *
mitogen_broker_get_context (MitogenBroker *self)
{
  return self->context;
}

/**
 * mitogen_broker_is_broker_thread:
 * @self: a broker
 *
 * Returns %TRUE when called on the broker's thread.
 *
 * Returns: %TRUE when called on the broker's thread
 */
gboolean
mitogen_broker_is_broker_thread (MitogenBroker *self)
{
  return g_thread_self () == g_atomic_pointer_get (&self->thread);
}

/**
 * mitogen_broker_is_alive:
 * @self: a broker
 *
 * Returns %FALSE once the broker thread has exited.
 *
 * Returns: %FALSE once the broker thread has exited
 */
gboolean
mitogen_broker_is_alive (MitogenBroker *self)
{
  return !g_atomic_int_get (&self->exited);
}

/**
 * mitogen_broker_defer:
 * @self: a broker
 * @func: (scope notified): the work
 * @user_data: (closure): data for @func
 * @destroy: (destroy user_data) (nullable): frees @user_data
 *
 * Runs @func on the broker thread: at once when called there, otherwise
 * soon, after waking the broker.
 *
 * Returns: %FALSE when the broker has exited and @func will never run;
 *   @destroy ran in that case
 */
gboolean
mitogen_broker_defer (MitogenBroker *self,
                      MitogenDeferFunc func,
                      gpointer user_data,
                      GDestroyNotify destroy)
{
  g_return_val_if_fail (MITOGEN_IS_BROKER (self), FALSE);

  if (mitogen_broker_is_broker_thread (self))
    {
      func (user_data);
      if (destroy)
        destroy (user_data);
      return TRUE;
    }
  return mitogen_waker_defer (self->waker, func, user_data, destroy);
}

/* One mitogen_broker_defer_sync(): shared by the waiting thread and the
 * broker, freed by whichever lets go last. */
typedef struct
{
  gatomicrefcount refs;
  GMutex lock;
  GCond cond;
  gboolean done; /* the broker ran or dropped the work */
  gboolean ran;
  MitogenDeferSyncFunc func;
  gpointer user_data;
  gpointer result;
  GError *error;
} DeferSync;

static void
defer_sync_unref (gpointer data)
{
  DeferSync *sync = data;

  if (!g_atomic_ref_count_dec (&sync->refs))
    return;
  g_mutex_clear (&sync->lock);
  g_cond_clear (&sync->cond);
  g_free (sync);
}

static void
defer_sync_run (gpointer data)
{
  DeferSync *sync = data;
  GError *error = NULL;
  gpointer result = sync->func (sync->user_data, &error);

  g_mutex_lock (&sync->lock);
  sync->result = result;
  sync->error = error;
  sync->ran = TRUE;
  g_mutex_unlock (&sync->lock);
}

/* Runs after defer_sync_run(), or instead of it when the broker exited
 * with the work still queued: either way the waiter may go. */
static void
defer_sync_done (gpointer data)
{
  DeferSync *sync = data;

  g_mutex_lock (&sync->lock);
  sync->done = TRUE;
  g_cond_signal (&sync->cond);
  g_mutex_unlock (&sync->lock);
  defer_sync_unref (sync);
}

/**
 * mitogen_broker_defer_sync:
 * @self: a broker
 * @func: (scope call): the work
 * @user_data: (closure): data for @func
 * @error: return location for an error
 *
 * Runs @func on the broker thread and waits for it, as Mitogen's
 * `Broker.defer_sync()` does: for work that must touch broker state and
 * whose answer the caller needs. Called on the broker thread, @func runs at
 * once. @func should be short: the broker serves no stream meanwhile.
 *
 * Returns: (nullable) (transfer full): what @func returned; %NULL with its
 *   error, or with %MITOGEN_STREAM_ERROR_DISCONNECTED when the broker exited
 *   before running it
 */
gpointer
mitogen_broker_defer_sync (MitogenBroker *self,
                           MitogenDeferSyncFunc func,
                           gpointer user_data,
                           GError **error)
{
  DeferSync *sync;
  gpointer result;

  g_return_val_if_fail (MITOGEN_IS_BROKER (self), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  if (mitogen_broker_is_broker_thread (self))
    return func (user_data, error);

  sync = g_new0 (DeferSync, 1);
  g_atomic_ref_count_init (&sync->refs);
  g_atomic_ref_count_inc (&sync->refs); /* the broker's */
  g_mutex_init (&sync->lock);
  g_cond_init (&sync->cond);
  sync->func = func;
  sync->user_data = user_data;
  /* On failure defer ran defer_sync_done(), so the wait below ends. */
  mitogen_broker_defer (self, defer_sync_run, sync, defer_sync_done);

  g_mutex_lock (&sync->lock);
  while (!sync->done)
    g_cond_wait (&sync->cond, &sync->lock);
  g_mutex_unlock (&sync->lock);

  result = sync->result;
  if (!sync->ran)
    g_set_error_literal (error, MITOGEN_STREAM_ERROR,
                         MITOGEN_STREAM_ERROR_DISCONNECTED,
                         "The broker exited before running the deferred work");
  else if (sync->error)
    g_propagate_error (error, g_steal_pointer (&sync->error));
  defer_sync_unref (sync);
  return result;
}

typedef struct {
  MitogenBroker *broker; /* unowned: see on_broker_thread() */
  MitogenBasicStream *stream;
  void (*op) (MitogenBroker *, MitogenBasicStream *);
} StreamOp;

static void
stream_op_run (gpointer data)
{
  StreamOp *op = data;
  op->op (op->broker, op->stream);
}

static void
stream_op_free (gpointer data)
{
  StreamOp *op = data;
  g_object_unref (op->stream);
  g_free (op);
}

/* Runs @fn now on the broker thread, or defers it there. */
static gboolean
on_broker_thread (MitogenBroker *self,
                  MitogenBasicStream *stream,
                  void (*fn) (MitogenBroker *, MitogenBasicStream *))
{
  StreamOp *op;

  if (mitogen_broker_is_broker_thread (self))
    return TRUE;

  op = g_new (StreamOp, 1);
  /* No reference: the broker runs or drops its queue before its thread
   * exits, and is finalized only after that. A reference could make the
   * broker thread drop the last one, running finalize there, where it
   * cannot join its own thread. */
  op->broker = self;
  op->stream = g_object_ref (stream);
  op->op = fn;
  mitogen_waker_defer (self->waker, stream_op_run, op, stream_op_free);
  return FALSE;
}

/**
 * mitogen_broker_start_receive:
 * @self: a broker
 * @stream: a stream with a receive side
 *
 * Has the broker call the stream's `on_receive` whenever its receive side
 * is readable. May be called from any thread.
 */
void
mitogen_broker_start_receive (MitogenBroker *self,
                              MitogenBasicStream *stream)
{
  if (on_broker_thread (self, stream, mitogen_broker_start_receive))
    add_registration (self, self->readers,
                      mitogen_basic_stream_get_receive_side (stream), stream,
                      G_IO_IN, mitogen_basic_stream_on_receive);
}

/**
 * mitogen_broker_stop_receive:
 * @self: a broker
 * @stream: a stream
 *
 * Undoes mitogen_broker_start_receive(). May be called from any thread.
 */
void
mitogen_broker_stop_receive (MitogenBroker *self,
                             MitogenBasicStream *stream)
{
  MitogenSide *side = mitogen_basic_stream_get_receive_side (stream);

  if (on_broker_thread (self, stream, mitogen_broker_stop_receive) && side)
    g_hash_table_remove (self->readers, side);
}

static void
set_receive_paused (MitogenBroker *self,
                    MitogenBasicStream *stream,
                    gboolean paused)
{
  MitogenSide *side = mitogen_basic_stream_get_receive_side (stream);
  Registration *reg = side ? g_hash_table_lookup (self->readers, side) : NULL;

  if (!reg || reg->paused == paused || mitogen_side_is_closed (side))
    return;
  reg->paused = paused;
  attach_source (self, reg);
}

static void
pause_receive_on_broker (MitogenBroker *self, MitogenBasicStream *stream)
{
  set_receive_paused (self, stream, TRUE);
}

static void
resume_receive_on_broker (MitogenBroker *self, MitogenBasicStream *stream)
{
  set_receive_paused (self, stream, FALSE);
}

/**
 * mitogen_broker_pause_receive:
 * @self: a broker
 * @stream: a stream registered with mitogen_broker_start_receive()
 *
 * Stops reading from @stream until mitogen_broker_resume_receive(), for
 * flow control: unlike mitogen_broker_stop_receive() the stream stays
 * registered, so shutdown still waits for it and disconnects it, and the
 * broker still calls its `on_receive` when the descriptor hangs up or
 * fails, so that a peer that dies meanwhile is noticed. May be called
 * from any thread.
 */
void
mitogen_broker_pause_receive (MitogenBroker *self, MitogenBasicStream *stream)
{
  if (on_broker_thread (self, stream, pause_receive_on_broker))
    pause_receive_on_broker (self, stream);
}

/**
 * mitogen_broker_resume_receive:
 * @self: a broker
 * @stream: a stream
 *
 * Undoes mitogen_broker_pause_receive(). May be called from any thread.
 */
void
mitogen_broker_resume_receive (MitogenBroker *self, MitogenBasicStream *stream)
{
  if (on_broker_thread (self, stream, resume_receive_on_broker))
    resume_receive_on_broker (self, stream);
}

/**
 * mitogen_broker_start_transmit:
 * @self: a broker
 * @stream: a stream with a transmit side
 *
 * Has the broker call the stream's `on_transmit` whenever its transmit
 * side is writable. May be called from any thread.
 */
void
mitogen_broker_start_transmit (MitogenBroker *self,
                               MitogenBasicStream *stream)
{
  if (on_broker_thread (self, stream, mitogen_broker_start_transmit))
    add_registration (self, self->writers,
                      mitogen_basic_stream_get_transmit_side (stream), stream,
                      G_IO_OUT, mitogen_basic_stream_on_transmit);
}

/**
 * mitogen_broker_stop_transmit:
 * @self: a broker
 * @stream: a stream
 *
 * Undoes mitogen_broker_start_transmit(). May be called from any thread.
 */
void
mitogen_broker_stop_transmit (MitogenBroker *self,
                              MitogenBasicStream *stream)
{
  MitogenSide *side = mitogen_basic_stream_get_transmit_side (stream);

  if (on_broker_thread (self, stream, mitogen_broker_stop_transmit) && side)
    g_hash_table_remove (self->writers, side);
}

/**
 * mitogen_broker_keep_alive:
 * @self: a broker
 *
 * Called on the broker thread.
 *
 * Returns: %TRUE while any side registered for receiving has keep-alive
 *   set, which holds up shutdown
 */
gboolean
mitogen_broker_keep_alive (MitogenBroker *self)
{
  GHashTableIter iter;
  MitogenSide *side;

  g_hash_table_iter_init (&iter, self->readers);
  while (g_hash_table_iter_next (&iter, (gpointer *) &side, NULL))
    if (mitogen_side_get_keep_alive (side) && !mitogen_side_is_closed (side))
      return TRUE;
  return FALSE;
}

/**
 * mitogen_broker_set_shutdown_timeout:
 * @self: a broker
 * @timeout_usec: the grace period of mitogen_broker_shutdown()
 *
 * Sets the grace period of mitogen_broker_shutdown().
 */
void
mitogen_broker_set_shutdown_timeout (MitogenBroker *self,
                                     gint64 timeout_usec)
{
  self->shutdown_timeout = MAX (timeout_usec, 0);
}

/**
 * mitogen_broker_get_shutdown_timeout:
 * @self: a broker
 *
 * Returns the grace period of mitogen_broker_shutdown(), in microseconds.
 *
 * Returns: the grace period of mitogen_broker_shutdown(), in microseconds
 */
gint64
mitogen_broker_get_shutdown_timeout (MitogenBroker *self)
{
  return self->shutdown_timeout;
}

/**
 * mitogen_broker_hold:
 * @self: a broker
 *
 * Says that something on the broker's main context must still run after
 * every stream is disconnected at shutdown, such as the reaping of a child
 * process: the thread then goes on running its main context until
 * mitogen_broker_release() balances this, or a bound passes. Callable from
 * any thread.
 */
void
mitogen_broker_hold (MitogenBroker *self)
{
  g_atomic_int_inc (&self->holds);
}

/**
 * mitogen_broker_release:
 * @self: a broker
 *
 * Undoes one mitogen_broker_hold(). Callable from any thread.
 */
void
mitogen_broker_release (MitogenBroker *self)
{
  if (g_atomic_int_dec_and_test (&self->holds))
    g_main_context_wakeup (self->context);
}

static void
stop_running (gpointer data)
{
  MitogenBroker *self = data;
  g_atomic_int_set (&self->alive, FALSE);
}

/**
 * mitogen_broker_shutdown:
 * @self: a broker
 *
 * Asks the broker to shut down, from any thread, and returns at once. Use
 * mitogen_broker_join() to wait for it.
 *
 * A connect in progress through a router of this broker (its child still
 * in its bootstrap) is aborted at once: its child is killed and the
 * connect fails with %MITOGEN_STREAM_ERROR_SHUTDOWN.
 */
void
mitogen_broker_shutdown (MitogenBroker *self)
{
  g_return_if_fail (MITOGEN_IS_BROKER (self));

  /* Connects in progress on other threads stop at once: their child could
   * not be served by this broker anyway. */
  g_cancellable_cancel (self->shutdown_cancellable);
  if (!g_atomic_int_get (&self->alive))
    return;
  if (mitogen_broker_is_broker_thread (self))
    stop_running (self);
  else
    mitogen_waker_defer (self->waker, stop_running, self, NULL);
}

/**
 * mitogen_broker_join:
 * @self: a broker
 *
 * Waits for the broker thread to exit. Must not be called on it.
 */
void
mitogen_broker_join (MitogenBroker *self)
{
  g_return_if_fail (!mitogen_broker_is_broker_thread (self));

  if (self->thread && !self->joined)
    {
      g_thread_join (self->thread);
      self->joined = TRUE;
    }
}

/**
 * mitogen_broker_get_shutdown_cancellable:
 * @self: a broker
 *
 * Returns a cancellable that mitogen_broker_shutdown() cancels, for work
 * on other threads (a child's bootstrap) that must stop when the broker
 * does.
 *
 * Returns: (transfer none): the broker's shutdown cancellable
 */
GCancellable *
mitogen_broker_get_shutdown_cancellable (MitogenBroker *self)
{
  return self->shutdown_cancellable;
}
