/* mitogen-context.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-context.h"

#include <string.h>

#include "mitogen-context-private.h"
#include "mitogen-errors.h"
#include "mitogen-latch.h"
#include "mitogen-log-escape.h"
#include "mitogen-module-responder.h"
#include "mitogen-parent-stream.h"
#include "mitogen-protocol.h"
#include "mitogen-sender-private.h"
#include "mitogen-transport-registry.h"
#include "mitogen-parent-stream-private.h"

/**
 * MitogenContext:
 *
 * A handle on another context: the master, a child, or a context further
 * down the tree. Calls run functions there (`core.getpid`), in the order
 * sent; a context that dies wakes every caller waiting on it with
 * %MITOGEN_CHANNEL_ERROR_DEAD naming it.
 *
 * mitogen_router_connect_context() starts a child through a transport and
 * returns its context.
 *
 * A child's log records, and the lines its functions print, are logged
 * here in the domain `mitogen.ctx.NAME` with the fields `MITOGEN_CONTEXT`,
 * `MITOGEN_SOURCE_DOMAIN`, `MITOGEN_REMOTE_LEVEL` (the child's level:
 * `ERROR`, `CRITICAL`, `WARNING`, `MESSAGE`, `INFO` or `DEBUG`) and, for
 * printed lines, `MITOGEN_STREAM`. They are logged at %G_LOG_LEVEL_MESSAGE
 * at most, so that no child can abort a master whose warnings or
 * criticals are fatal, and with control characters escaped (`\n`, `\r`,
 * `\t`, `\xNN`, and `\\` for a backslash), so that none can forge a line.
 */
struct _MitogenContext {
  GObject parent_instance;

  MitogenRouter *router;
  guint32 context_id;
  guint32 auth_id; /* MITOGEN_CONTEXT_ID_NONE: our own */
  gchar *name;
  MitogenStream *stream; /* for a child started from here */
  gulong route_removed_id;
  gboolean disconnected;
  MitogenLatch *gone;    /* gets an item once unreachable */
};

G_DEFINE_FINAL_TYPE (MitogenContext, mitogen_context, G_TYPE_OBJECT)

enum {
  SIGNAL_DISCONNECT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
mitogen_context_dispose (GObject *object)
{
  MitogenContext *self = MITOGEN_CONTEXT (object);

  if (self->router)
    g_clear_signal_handler (&self->route_removed_id, self->router);
  g_clear_object (&self->stream);
  G_OBJECT_CLASS (mitogen_context_parent_class)->dispose (object);
}

static void
mitogen_context_finalize (GObject *object)
{
  MitogenContext *self = MITOGEN_CONTEXT (object);

  g_clear_object (&self->router);
  g_clear_object (&self->gone);
  g_free (self->name);
  G_OBJECT_CLASS (mitogen_context_parent_class)->finalize (object);
}

static void
mitogen_context_class_init (MitogenContextClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mitogen_context_dispose;
  object_class->finalize = mitogen_context_finalize;

  /**
   * MitogenContext::disconnect:
   * @self: the context
   *
   * Emitted, usually on the broker thread, when a context started from
   * here (directly or through another) becomes unreachable.
   */
  signals[SIGNAL_DISCONNECT] =
    g_signal_new ("disconnect", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
mitogen_context_init (MitogenContext *self)
{
  self->gone = mitogen_latch_new ();
}

/**
 * mitogen_context_new:
 * @router: the router of this process
 * @context_id: the context's id
 * @name: (nullable): its name; defaults to one made from the id
 *
 * Makes a handle on a context that already exists, such as the master
 * (id 0) from a child.
 *
 * Returns: (transfer full): a new context handle
 */
MitogenContext *
mitogen_context_new (MitogenRouter *router,
                     guint32 context_id,
                     const gchar *name)
{
  MitogenContext *self = g_object_new (MITOGEN_TYPE_CONTEXT, NULL);

  self->router = g_object_ref (router);
  self->context_id = context_id;
  self->auth_id = MITOGEN_CONTEXT_ID_NONE;
  self->name = name ? g_strdup (name)
                    : mitogen_router_dup_context_name (router, context_id);
  return self;
}

/**
 * mitogen_router_myself:
 * @router: a router
 *
 * A context for this process, as Mitogen's `Router.myself()`: handed to
 * another context in a message, it lets that one call back or send here;
 * used here, messages go to this process's own handlers.
 *
 * Returns: (transfer full): a context with @router's own id, named "self"
 */
MitogenContext *
mitogen_router_myself (MitogenRouter *router)
{
  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);

  return mitogen_context_new (router, mitogen_router_get_context_id (router),
                              "self");
}

/**
 * mitogen_context_get_router:
 * @self: a context
 *
 * Returns the router messages leave by.
 *
 * Returns: (transfer none): the router messages leave by
 */
MitogenRouter *
mitogen_context_get_router (MitogenContext *self)
{
  return self->router;
}

/**
 * mitogen_context_get_context_id:
 * @self: a context
 *
 * Returns the context's id.
 *
 * Returns: the context's id
 */
guint32
mitogen_context_get_context_id (MitogenContext *self)
{
  return self->context_id;
}

/**
 * mitogen_context_get_name:
 * @self: a context
 *
 * Returns the context's name, such as `local.4242`.
 *
 * Returns: the context's name, such as `local.4242`
 */
const gchar *
mitogen_context_get_name (MitogenContext *self)
{
  return self->name;
}

/**
 * mitogen_context_get_stream:
 * @self: a context
 *
 * Returns the stream to the child, if it was started from this process.
 *
 * Returns: (transfer none) (nullable): the stream to the child, if it was
 *   started from this process
 */
MitogenStream *
mitogen_context_get_stream (MitogenContext *self)
{
  return self->stream;
}

/**
 * mitogen_context_is_connected:
 * @self: a context
 *
 * Returns %FALSE once a context started from here (directly or through
 * another) has become unreachable; %TRUE otherwise.
 *
 * Returns: %FALSE once a context started from here (directly or through
 *   another) has become unreachable; %TRUE otherwise
 */
gboolean
mitogen_context_is_connected (MitogenContext *self)
{
  return !self->disconnected;
}

/* Sends @msg at once, whatever the queue: for control messages such as
 * SHUTDOWN, which must not wait behind a peer that does not read. */
static void
queue_message (MitogenContext *self, MitogenMessage *msg)
{
  mitogen_message_set_dst_id (msg, self->context_id);
  if (self->auth_id != MITOGEN_CONTEXT_ID_NONE)
    mitogen_router_route_with_authority (self->router, msg, self->auth_id);
  else
    mitogen_router_route (self->router, msg);
}

/**
 * mitogen_context_set_auth_id:
 * @self: a context
 * @auth_id: the authority to send on, or %MITOGEN_CONTEXT_ID_NONE for this
 *   process's own
 *
 * Sends everything for @self from now on (calls, messages) on @auth_id's
 * authority, as Mitogen's calls under another context's authority: in a
 * child the master allowed (mitogen_router_grant_authority()), a context
 * for a sibling with the master's id as authority lets the sibling accept
 * the calls under its usual policy.
 */
void
mitogen_context_set_auth_id (MitogenContext *self, guint32 auth_id)
{
  g_return_if_fail (MITOGEN_IS_CONTEXT (self));
  self->auth_id = auth_id;
}

/**
 * mitogen_context_send:
 * @self: a context
 * @msg: a message; its destination is set to this context
 * @cancellable: (nullable): ends the wait for room
 * @error: return location for an error
 *
 * Sends @msg, first waiting while the stream it leaves by is not
 * #MitogenStream:writable: a context that does not read slows its sender
 * down instead of growing this process's memory. On the broker thread it
 * never waits.
 *
 * Returns: %TRUE once sent; %FALSE with %MITOGEN_STREAM_ERROR_DISCONNECTED
 *   if that stream disconnected first, or %G_IO_ERROR_CANCELLED
 */
gboolean
mitogen_context_send (MitogenContext *self,
                      MitogenMessage *msg,
                      GCancellable *cancellable,
                      GError **error)
{
  if (!mitogen_sender_wait_room (self->router, self->context_id, cancellable,
                                 error))
    return FALSE;
  queue_message (self, msg);
  return TRUE;
}

/**
 * mitogen_context_send_async:
 * @self: a context
 * @msg: a message; its destination and `reply_to` are set
 *
 * Sends @msg and returns a receiver for its one reply, which fails with
 * %MITOGEN_CHANNEL_ERROR_DEAD if the context dies first. It queues @msg
 * without waiting for room; callers that produce much check
 * mitogen_stream_wait_writable() first, as the call functions do.
 *
 * Returns: (transfer full): the receiver of the reply
 */
MitogenReceiver *
mitogen_context_send_async (MitogenContext *self,
                            MitogenMessage *msg)
{
  MitogenReceiver *recv =
    mitogen_receiver_new (self->router, 0, FALSE, self->context_id, NULL);

  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  queue_message (self, msg);
  return recv;
}

static gboolean
split_function (const gchar *function,
                gchar **module,
                const gchar **name,
                GError **error)
{
  const gchar *dot = function ? strchr (function, '.') : NULL;

  if (!dot || dot == function || !dot[1])
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "“%s” is not of the form MODULE.FUNCTION",
                   function ? function : "");
      return FALSE;
    }
  *module = g_strndup (function, (gsize) (dot - function));
  *name = dot + 1;
  return TRUE;
}

MitogenReceiver *
mitogen_context_start_call (MitogenContext *self,
                            const gchar *chain_id,
                            const gchar *function,
                            GVariant *args,
                            guint32 progress_handle,
                            gboolean want_reply,
                            GError **error)
{
  g_autofree gchar *module = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GVariant) owned_args = args ? g_variant_ref_sink (args) : NULL;
  const gchar *name;

  if (!split_function (function, &module, &name, error))
    return NULL;
  if (!owned_args)
    owned_args = g_variant_ref_sink (g_variant_new_tuple (NULL, 0));

  msg = mitogen_message_new (self->context_id, MITOGEN_HANDLE_CALL_FUNCTION,
                             g_variant_new (MITOGEN_CALL_TYPE,
                                            chain_id ? chain_id : "", module,
                                            name, owned_args, progress_handle));
  if (!want_reply)
    {
      queue_message (self, msg);
      return NULL;
    }
  return mitogen_context_send_async (self, msg);
}

GVariant *
mitogen_context_finish_call (MitogenContext *self,
                             MitogenMessage *reply,
                             GError **error)
{
  return mitogen_protocol_parse_reply (reply, self->name, error);
}

static GVariant *
wait_reply (MitogenContext *self,
            MitogenReceiver *recv,
            GCancellable *cancellable,
            GError **error)
{
  g_autoptr(MitogenMessage) reply =
    mitogen_receiver_get (recv, -1, cancellable, error);

  /* A late reply to a cancelled call finds no handler and is dropped. */
  mitogen_receiver_close (recv);
  if (!reply)
    return NULL;
  return mitogen_context_finish_call (self, reply, error);
}

/**
 * mitogen_context_call:
 * @self: a context
 * @function: `MODULE.FUNCTION`, such as `core.getpid`
 * @args: (nullable): the arguments, a tuple matching the function's
 *   signature; %NULL for none; a floating reference is sunk
 * @cancellable: (nullable): stops the wait, for room to send or for the
 *   result; once sent the call itself still runs
 * @error: return location for an error
 *
 * Calls @function in the context and waits for its result. The request
 * first waits for room, as mitogen_context_send().
 *
 * Returns: (transfer full) (nullable): the result; %NULL with
 *   %MITOGEN_CALL_ERROR when the function failed (carrying the remote
 *   error's domain, code, message and the context's name),
 *   %MITOGEN_CHANNEL_ERROR_DEAD when the context died, or
 *   %G_IO_ERROR_CANCELLED
 */
GVariant *
mitogen_context_call (MitogenContext *self,
                      const gchar *function,
                      GVariant *args,
                      GCancellable *cancellable,
                      GError **error)
{
  return mitogen_context_call_chained (self, NULL, function, args, cancellable,
                                       error);
}

GVariant *
mitogen_context_call_chained (MitogenContext *self,
                              const gchar *chain_id,
                              const gchar *function,
                              GVariant *args,
                              GCancellable *cancellable,
                              GError **error)
{
  g_autoptr(GVariant) owned_args = args ? g_variant_ref_sink (args) : NULL;
  g_autoptr(MitogenReceiver) recv = NULL;

  if (!mitogen_sender_wait_room (self->router, self->context_id, cancellable,
                                 error))
    return NULL;
  recv = mitogen_context_start_call (self, chain_id, function, owned_args, 0,
                                     TRUE, error);
  return recv ? wait_reply (self, recv, cancellable, error) : NULL;
}

/* A call of mitogen_context_call_chained_async(), until it is sent. */
typedef struct {
  MitogenContext *context;
  gchar *chain_id;
  gchar *function;
  GVariant *args;
} PendingCall;

static void
on_call_reply (GObject *source,
               GAsyncResult *result,
               gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  MitogenReceiver *recv = MITOGEN_RECEIVER (source);
  MitogenContext *self = ((PendingCall *) g_task_get_task_data (task))->context;
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) reply =
    mitogen_receiver_get_finish (recv, result, &error);
  GVariant *value = NULL;

  mitogen_receiver_close (recv);
  if (reply)
    value = mitogen_context_finish_call (self, reply, &error);
  if (value)
    g_task_return_pointer (task, value, (GDestroyNotify) g_variant_unref);
  else
    g_task_return_error (task, g_steal_pointer (&error));
}

/**
 * mitogen_context_call_async:
 * @self: a context
 * @function: `MODULE.FUNCTION`
 * @args: (nullable): the arguments; a floating reference is sunk
 * @cancellable: (nullable): stops the wait: the callback gets
 *   %G_IO_ERROR_CANCELLED and the late reply is dropped
 * @callback: (scope async): called, in the thread-default main context of
 *   the caller, with the result
 * @user_data: (closure): data for @callback
 *
 * Calls @function without blocking.
 */
void
mitogen_context_call_async (MitogenContext *self,
                            const gchar *function,
                            GVariant *args,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  mitogen_context_call_chained_async (self, self, NULL, function, args,
                                      cancellable, callback, user_data);
}

static void
pending_call_free (gpointer data)
{
  PendingCall *c = data;

  g_object_unref (c->context);
  g_free (c->chain_id);
  g_free (c->function);
  g_clear_pointer (&c->args, g_variant_unref);
  g_free (c);
}

static void
start_call_when_room (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  PendingCall *c = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenReceiver) recv = NULL;

  if (mitogen_sender_wait_room_finish (result, &error))
    recv = mitogen_context_start_call (c->context, c->chain_id, c->function,
                                       c->args, 0, TRUE, &error);
  if (!recv)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  mitogen_receiver_get_async (recv, g_task_get_cancellable (task),
                              on_call_reply, task);
}

void
mitogen_context_call_chained_async (MitogenContext *self,
                                    gpointer source_object,
                                    const gchar *chain_id,
                                    const gchar *function,
                                    GVariant *args,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  GTask *task = g_task_new (source_object, cancellable, callback, user_data);
  PendingCall *c = g_new0 (PendingCall, 1);

  c->context = g_object_ref (self);
  c->chain_id = g_strdup (chain_id);
  c->function = g_strdup (function);
  c->args = args ? g_variant_ref_sink (args) : NULL;
  g_task_set_source_tag (task, mitogen_context_call_chained_async);
  g_task_set_task_data (task, c, pending_call_free);
  /* The request is queued once the stream has room; until then nothing
   * blocks. */
  mitogen_sender_wait_room_async (self->router, self->context_id, cancellable,
                                  start_call_when_room, task);
}

/**
 * mitogen_context_call_finish:
 * @self: a context
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_context_call_async().
 *
 * Returns: (transfer full) (nullable): the function's result, or %NULL
 *   with @error set as for mitogen_context_call()
 */
GVariant *
mitogen_context_call_finish (MitogenContext *self,
                             GAsyncResult *result,
                             GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mitogen_context_call_no_reply:
 * @self: a context
 * @function: `MODULE.FUNCTION`
 * @args: (nullable): the arguments; a floating reference is sunk
 * @cancellable: (nullable): ends the wait for room
 * @error: return location for an error
 *
 * Calls @function and forgets it: no result, no error comes back. The
 * request first waits for room, as mitogen_context_send().
 *
 * Returns: %TRUE once sent; %FALSE with %MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION
 *   for a malformed @function, or an error as mitogen_context_send()
 */
gboolean
mitogen_context_call_no_reply (MitogenContext *self,
                               const gchar *function,
                               GVariant *args,
                               GCancellable *cancellable,
                               GError **error)
{
  g_autoptr(GVariant) owned_args = args ? g_variant_ref_sink (args) : NULL;
  GError *local_error = NULL;

  if (!mitogen_sender_wait_room (self->router, self->context_id, cancellable,
                                 error))
    return FALSE;
  mitogen_context_start_call (self, NULL, function, owned_args, 0, FALSE,
                              &local_error);
  if (local_error)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  return TRUE;
}

void
mitogen_context_call_chained_no_reply (MitogenContext *self,
                                       const gchar *chain_id,
                                       const gchar *function,
                                       GVariant *args)
{
  g_autoptr(GVariant) owned_args = args ? g_variant_ref_sink (args) : NULL;
  g_autoptr(GError) error = NULL;

  /* A stream that disconnects meanwhile fails the chain's next call. */
  if (!mitogen_sender_wait_room (self->router, self->context_id, NULL, NULL))
    return;
  mitogen_context_start_call (self, chain_id, function, owned_args, 0, FALSE,
                              &error);
  if (error)
    g_warning ("call_no_reply: %s", error->message);
}

/* Shared by the caller and the router's handler, which may still be
 * invoked after the caller stopped waiting (cancelled, or the context
 * died): @lock and @active make sure @func is neither called once the
 * caller has returned nor still running when it does. */
typedef struct {
  GMutex lock;
  gboolean active;
  MitogenProgressFunc func;
  gpointer user_data;
} Progress;

static void
progress_clear (gpointer data)
{
  g_mutex_clear (&((Progress *) data)->lock);
}

static void
progress_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, progress_clear);
}

static void
on_progress (MitogenMessage *msg,
             gpointer user_data)
{
  Progress *p = user_data;
  g_autoptr(GVariant) value = NULL;

  if (mitogen_message_is_dead (msg))
    return;
  value = mitogen_message_get_data (msg, NULL);
  g_mutex_lock (&p->lock);
  if (value && p->active)
    p->func (value, p->user_data);
  g_mutex_unlock (&p->lock);
}

/**
 * mitogen_context_call_with_progress:
 * @self: a context
 * @function: `MODULE.FUNCTION`
 * @args: (nullable): the arguments; a floating reference is sunk
 * @progress: (scope call): receives each progress value, on the broker
 *   thread, before this returns
 * @user_data: (closure): data for @progress
 * @cancellable: (nullable): stops the wait
 * @error: return location for an error
 *
 * Like mitogen_context_call(), for functions that report progress as they
 * go, such as `core.run` streaming a command's output.
 *
 * Returns: (transfer full) (nullable): the result
 */
GVariant *
mitogen_context_call_with_progress (MitogenContext *self,
                                    const gchar *function,
                                    GVariant *args,
                                    MitogenProgressFunc progress,
                                    gpointer user_data,
                                    GCancellable *cancellable,
                                    GError **error)
{
  g_autoptr(GVariant) owned_args = args ? g_variant_ref_sink (args) : NULL;
  Progress *p = g_atomic_rc_box_new0 (Progress);
  g_autoptr(MitogenReceiver) recv = NULL;
  GVariant *result;
  guint32 handle;

  g_mutex_init (&p->lock);
  p->active = TRUE;
  p->func = progress;
  p->user_data = user_data;
  handle = mitogen_router_add_handler (self->router, 0, MITOGEN_HANDLER_PERSIST,
                                       self->context_id, NULL, on_progress,
                                       g_atomic_rc_box_acquire (p),
                                       progress_release);
  if (mitogen_sender_wait_room (self->router, self->context_id, cancellable,
                                error))
    recv = mitogen_context_start_call (self, NULL, function, owned_args, handle,
                                       TRUE, error);
  result = recv ? wait_reply (self, recv, cancellable, error) : NULL;

  /* After a result all progress has been handled, as it travels ahead on
   * the same stream; after a cancelled or failed wait some may still
   * arrive, and must not reach @progress once this returns. */
  mitogen_router_del_handler (self->router, handle);
  g_mutex_lock (&p->lock);
  p->active = FALSE;
  g_mutex_unlock (&p->lock);
  progress_release (p);
  return result;
}

static void
on_route_removed (MitogenRouter *router,
                  guint context_id,
                  MitogenContext *self)
{
  if (context_id != self->context_id || self->disconnected)
    return;
  self->disconnected = TRUE;
  /* The latch wakes mitogen_context_shutdown(), whose caller may drop its
   * last reference at once: emit first, and hold one until done. */
  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_DISCONNECT], 0);
  mitogen_latch_put (self->gone, self, NULL);
  g_object_unref (self);
}

/* Watches for the context becoming unreachable: its own stream, or one
 * on the way to it, disconnecting. */
static void
watch_route (MitogenContext *self)
{
  self->route_removed_id = g_signal_connect (self->router, "route-removed",
                                             G_CALLBACK (on_route_removed), self);
}

/* Past the link's end, a child process of this one is killed within
 * MITOGEN_BROKER_KILL_BOUND; a second more covers its reaping. */
#define REAP_BOUND (MITOGEN_BROKER_KILL_BOUND + G_USEC_PER_SEC)

/* Asks the context to exit: its own process's stream does that under a
 * grace period (mitogen_parent_stream_shutdown()); one behind another
 * context is its parent's to stop. */
static void
request_shutdown (MitogenContext *self)
{
  g_autoptr(MitogenMessage) msg = NULL;

  if (self->stream && MITOGEN_IS_PARENT_STREAM (self->stream))
    {
      mitogen_parent_stream_shutdown (MITOGEN_PARENT_STREAM (self->stream));
      return;
    }
  /* Never waits for room: a child that does not read must still be asked. */
  msg = mitogen_message_new (self->context_id, MITOGEN_HANDLE_SHUTDOWN, NULL);
  queue_message (self, msg);
}

/* A child process is reaped within REAP_BOUND of its link going; one that
 * somehow is not (not ours to signal) is left, with the wait bounded. */
static gboolean
wait_reaped (MitogenContext *self,
             GCancellable *cancellable,
             GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!self->stream || !MITOGEN_IS_PARENT_STREAM (self->stream) ||
      mitogen_parent_stream_wait_exited (MITOGEN_PARENT_STREAM (self->stream),
                                         REAP_BOUND, cancellable, &local_error))
    return TRUE;
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_message ("Context %s: its process was not reaped within %" G_GINT64_FORMAT
             " ms of its link closing", self->name, (gint64) (REAP_BOUND / 1000));
  return TRUE;
}

/**
 * mitogen_context_shutdown:
 * @self: a context
 * @wait: wait until it has become unreachable, and for a context started
 *   from here, until its process has exited and been reaped
 * @cancellable: (nullable): stops the wait
 * @error: return location for an error
 *
 * Asks the context to exit: it stops taking calls, shuts down its own
 * children, flushes its output, and exits; a function still running is
 * abandoned after the broker's grace period.
 *
 * A context started from this process that has not closed its link within
 * the broker's grace period (mitogen_broker_set_shutdown_timeout()) is
 * disconnected, and its process sent `SIGTERM`, then `SIGKILL`
 * (%MITOGEN_BROKER_KILL_BOUND), and reaped: with @wait this returns
 * within the grace period and that bound, whatever the child does.
 *
 * Returns: %TRUE once asked, or once gone when @wait is set
 */
gboolean
mitogen_context_shutdown (MitogenContext *self,
                          gboolean wait,
                          GCancellable *cancellable,
                          GError **error)
{
  gpointer gone;

  request_shutdown (self);
  if (!wait || !self->route_removed_id)
    return TRUE;

  gone = mitogen_latch_get (self->gone, -1, TRUE, cancellable, error);
  if (!gone)
    return FALSE;
  /* Leave the item for any other waiter. */
  mitogen_latch_put (self->gone, gone, NULL);
  return wait_reaped (self, cancellable, error);
}

static void
shutdown_thread (GTask *task,
                 gpointer source,
                 gpointer task_data,
                 GCancellable *cancellable)
{
  GError *error = NULL;

  if (mitogen_context_shutdown (source, TRUE, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * mitogen_context_shutdown_async:
 * @self: a context
 * @cancellable: (nullable): stops the wait
 * @callback: (scope async): called once the context is gone
 * @user_data: (closure): data for @callback
 *
 * Like mitogen_context_shutdown() with @wait set, without blocking.
 */
void
mitogen_context_shutdown_async (MitogenContext *self,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, mitogen_context_shutdown_async);
  g_task_run_in_thread (task, shutdown_thread);
}

/**
 * mitogen_context_shutdown_finish:
 * @self: a context
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_context_shutdown_async().
 *
 * Returns: %TRUE once the context is gone
 */
gboolean
mitogen_context_shutdown_finish (MitogenContext *self,
                                 GAsyncResult *result,
                                 GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
set_stream_options (GObject *stream,
                    GVariant *options,
                    GError **error)
{
  GVariantIter iter;
  const gchar *key;
  GVariant *value;

  if (!options)
    return TRUE;
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      const gchar *prop = g_str_equal (key, "name") ? "context-name" : key;
      GParamSpec *pspec =
        g_object_class_find_property (G_OBJECT_GET_CLASS (stream), prop);
      g_auto(GValue) given = G_VALUE_INIT;
      g_auto(GValue) wanted = G_VALUE_INIT;

      if (!pspec || !(pspec->flags & G_PARAM_WRITABLE))
        {
          g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                       "Transport %s has no option “%s”",
                       G_OBJECT_TYPE_NAME (stream), key);
          g_variant_unref (value);
          return FALSE;
        }
      /* An option that takes any value (fork's on-start-args) takes it
       * as it is. */
      if (pspec->value_type == G_TYPE_VARIANT)
        {
          g_value_init (&wanted, G_TYPE_VARIANT);
          g_value_set_variant (&wanted, value);
          g_object_set_property (stream, prop, &wanted);
          continue;
        }
      g_dbus_gvariant_to_gvalue (value, &given);
      g_value_init (&wanted, pspec->value_type);
      if (!g_value_transform (&given, &wanted))
        {
          g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                       "Option “%s” wants a %s, not a %s", key,
                       g_type_name (pspec->value_type),
                       g_variant_get_type_string (value));
          g_variant_unref (value);
          return FALSE;
        }
      g_object_set_property (stream, prop, &wanted);
    }
  return TRUE;
}

static GVariant *
child_config (MitogenRouter *router,
              guint32 context_id)
{
  GVariantBuilder parents;
  const guint32 *ids;
  gsize n_ids;
  GVariantDict dict;

  g_variant_builder_init (&parents, G_VARIANT_TYPE ("au"));
  g_variant_builder_add (&parents, "u", mitogen_router_get_context_id (router));
  ids = mitogen_router_get_parent_ids (router, &n_ids);
  for (gsize i = 0; i < n_ids; i++)
    g_variant_builder_add (&parents, "u", ids[i]);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "context_id", "u", context_id);
  g_variant_dict_insert_value (&dict, "parent_ids", g_variant_builder_end (&parents));
  g_variant_dict_insert (&dict, "max_message_size", "t",
                         (guint64) mitogen_router_get_max_message_size (router));
  return g_variant_dict_end (&dict);
}

/* How a child's record is logged here, by its most severe level: never at
 * a level that can abort the master. ERROR always does, CRITICAL and
 * WARNING do under G_DEBUG=fatal-criticals or fatal-warnings and in every
 * GTest program, so those are logged as MESSAGE; the child's own level
 * travels in the field MITOGEN_REMOTE_LEVEL. */
typedef struct {
  GLogLevelFlags remote;
  const gchar *name;
  GLogLevelFlags local;
} RemoteLevel;

static const RemoteLevel remote_levels[] = {
  { G_LOG_LEVEL_ERROR, "ERROR", G_LOG_LEVEL_MESSAGE },
  { G_LOG_LEVEL_CRITICAL, "CRITICAL", G_LOG_LEVEL_MESSAGE },
  { G_LOG_LEVEL_WARNING, "WARNING", G_LOG_LEVEL_MESSAGE },
  { G_LOG_LEVEL_MESSAGE, "MESSAGE", G_LOG_LEVEL_MESSAGE },
  { G_LOG_LEVEL_INFO, "INFO", G_LOG_LEVEL_INFO },
  { G_LOG_LEVEL_DEBUG, "DEBUG", G_LOG_LEVEL_DEBUG },
};

/* A level with no known bit is taken as MESSAGE. */
static const RemoteLevel *
remote_level (gint level)
{
  for (gsize i = 0; i < G_N_ELEMENTS (remote_levels); i++)
    if (level & remote_levels[i].remote)
      return &remote_levels[i];
  return &remote_levels[3];
}

/* A child's record is data, not the master's own: it is logged in the
 * domain "mitogen.ctx.NAME" (never "mitogen", the library's own), at a
 * level that cannot abort the master, and with every control character
 * escaped, so that it can neither forge lines nor drive a terminal. */
static void
forward_log_record (MitogenMessage *msg,
                    gpointer user_data)
{
  MitogenRouter *router = user_data;
  g_autoptr(GVariant) record = mitogen_message_get_data (msg, NULL);
  g_autofree gchar *raw_name = NULL, *name = NULL, *domain = NULL;
  g_autofree gchar *source_domain = NULL, *text = NULL, *stream = NULL;
  const gchar *child_domain, *child_text, *child_stream;
  gint level;

  if (!record || !g_variant_is_of_type (record, G_VARIANT_TYPE (MITOGEN_LOG_TYPE)))
    return;
  g_variant_get (record, "(&si&s&s)", &child_domain, &level, &child_text,
                 &child_stream);
  raw_name = mitogen_router_dup_context_name (router, mitogen_message_get_src_id (msg));
  name = mitogen_log_escape (raw_name);
  domain = g_strconcat ("mitogen.ctx.", name, NULL);
  source_domain = mitogen_log_escape (child_domain);
  text = mitogen_log_escape (child_text);
  stream = mitogen_log_escape (child_stream);
  {
    const GLogField fields[] = {
      { "GLIB_DOMAIN", domain, -1 },
      { "MESSAGE", text, -1 },
      { "MITOGEN_CONTEXT", name, -1 },
      { "MITOGEN_SOURCE_DOMAIN", source_domain, -1 },
      { "MITOGEN_REMOTE_LEVEL", remote_level (level)->name, -1 },
      /* Last: left out for records that are not a stream's output. */
      { "MITOGEN_STREAM", stream, -1 },
    };
    g_log_structured_array (remote_level (level)->local, fields,
                            *stream ? G_N_ELEMENTS (fields) : G_N_ELEMENTS (fields) - 1);
  }
}

/* Internal rather than static for the fuzzer, which feeds the handler
 * without starting a child. */
void
mitogen_context_ensure_log_forwarding (MitogenRouter *router)
{
  /* Fails harmlessly once installed. */
  mitogen_router_add_handler (router, MITOGEN_HANDLE_FORWARD_LOG,
                              MITOGEN_HANDLER_PERSIST, MITOGEN_CONTEXT_ID_NONE,
                              NULL, forward_log_record, router, NULL);
}

MitogenContext *
mitogen_context_connect_with_id (MitogenRouter *router,
                                 const gchar *transport,
                                 GVariant *options,
                                 guint32 context_id,
                                 GCancellable *cancellable,
                                 GError **error)
{
  g_autoptr(MitogenParentStream) stream = NULL;
  g_autoptr(GVariant) config = NULL;
  MitogenContext *self;
  GType type;

  type = mitogen_transport_registry_get_stream_type (
    mitogen_transport_registry_get_default (), transport, error);
  if (!type)
    return NULL;

  stream = g_object_new (type, NULL);
  if (!set_stream_options (G_OBJECT (stream), options, error))
    return NULL;

  mitogen_context_ensure_log_forwarding (router);
  mitogen_parent_stream_ensure_detach_handler (router);
  config = g_variant_ref_sink (child_config (router, context_id));
  if (!mitogen_parent_stream_connect (stream, router, context_id, config,
                                      cancellable, error))
    return NULL;

  mitogen_router_set_context_name (router, context_id,
                                   mitogen_parent_stream_get_context_name (stream));
  self = mitogen_context_new (router, context_id,
                              mitogen_parent_stream_get_context_name (stream));
  self->stream = g_object_ref (MITOGEN_STREAM (stream));
  watch_route (self);
  if (mitogen_basic_stream_is_disconnected (MITOGEN_BASIC_STREAM (stream)))
    on_route_removed (router, context_id, self);
  return self;
}

/* A hop's failure to start the child comes back as a remote call error;
 * it is the stream or timeout error it was there, so callers can match it
 * across hops as they do for a direct child. */
static void
set_via_error (MitogenContext *via,
               GError **error)
{
  const gchar *hop = mitogen_context_get_name (via);
  const gchar *domain, *message;
  GQuark quark = 0;

  if (!error || !*error)
    return;
  if (g_error_matches (*error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE) &&
      (domain = mitogen_call_error_get_remote_domain (*error)))
    quark = g_quark_try_string (domain);
  message = (*error)->message;
  if (g_str_has_prefix (message, hop) && g_str_has_prefix (message + strlen (hop), ": "))
    message += strlen (hop) + 2;
  if (quark == MITOGEN_STREAM_ERROR || quark == MITOGEN_TIMEOUT_ERROR)
    {
      GError *local = g_error_new (quark, mitogen_call_error_get_remote_code (*error),
                                   "Via %s: %s", hop, message);

      g_clear_error (error);
      *error = local;
    }
  else
    g_prefix_error (error, "Via %s: ", hop);
}

static MitogenContext *
connect_via (MitogenRouter *router,
             const gchar *transport,
             GVariant *options,
             MitogenContext *via,
             GCancellable *cancellable,
             GError **error)
{
  guint32 context_id;
  g_autoptr (GVariant) result = NULL;
  g_autofree gchar *path = NULL;
  const gchar *name;
  MitogenContext *self;

  if (!options)
    options = g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);
  /* The via context takes the id from a range the master granted it, so
   * that every router on the way saw the grant and lets its route in. The
   * route (ADD_ROUTE) is announced ahead of this reply on the same stream,
   * so it is in place when the call returns. */
  result = mitogen_context_call (
      via, "agent.connect", g_variant_new ("(s@a{sv})", transport, options),
      cancellable, error);
  if (!result)
    {
      set_via_error (via, error);
      return NULL;
    }
  if (!g_variant_is_of_type (result, G_VARIANT_TYPE ("(us)")))
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE,
                   "Via %s: agent.connect returned %s, not (us)",
                   mitogen_context_get_name (via),
                   g_variant_get_type_string (result));
      return NULL;
    }
  g_variant_get (result, "(u&s)", &context_id, &name);
  /* The hop knows its child by where it is from there; from here, the path
   * says where it is: ssh.bastion/ssh.web1/sudo.root. */
  path = g_strconcat (mitogen_context_get_name (via), "/", name, NULL);
  self = mitogen_context_new (router, context_id, path);
  mitogen_router_set_context_name (router, context_id, self->name);
  watch_route (self);
  return self;
}

/**
 * mitogen_router_connect_context:
 * @router: the router of this process
 * @transport: the transport's name: `local`, `ssh`, …
 * @options: (nullable): the transport's options, an `a{sv}` whose keys are
 *   properties of its stream (`connect-timeout`, `hostname`, …); `name`
 *   names the context; a floating reference is sunk
 * @via: (nullable): a context to start the child from, instead of this
 *   process; messages to the child then route through it
 * @cancellable: (nullable): checked before the child starts
 * @error: return location for an error
 *
 * Starts a child context and waits until it is ready for calls, at most
 * for the transport's connect timeout. Blocks the calling thread.
 *
 * Returns: (transfer full) (nullable): the new context; %NULL with
 *   %MITOGEN_STREAM_ERROR_CONNECT, or %MITOGEN_TIMEOUT_ERROR, saying what
 *   failed
 */
MitogenContext *
mitogen_router_connect_context (MitogenRouter *router,
                                const gchar *transport,
                                GVariant *options,
                                MitogenContext *via,
                                GCancellable *cancellable,
                                GError **error)
{
  g_autoptr(GVariant) owned_options = options ? g_variant_ref_sink (options) : NULL;
  gsize n_parents;
  guint32 context_id;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);

  /* In the master, children fetch their modules from here. Any other
   * context passes its children's requests on (MitogenModuleForwarder),
   * which a responder would replace. */
  mitogen_router_get_parent_ids (router, &n_parents);
  if (n_parents == 0)
    mitogen_module_responder_get_for_router (router);
  if (via)
    return connect_via (router, transport, owned_options, via, cancellable, error);
  /* Outside the master the id comes from a range the master gave, so it
   * is unique in the whole tree and the master can route to the child
   * once ADD_ROUTE reaches it. */
  context_id = mitogen_router_allocate_id_full (router, cancellable, error);
  if (context_id == MITOGEN_CONTEXT_ID_NONE)
    return NULL;
  return mitogen_context_connect_with_id (router, transport, owned_options,
                                          context_id, cancellable, error);
}

typedef struct {
  MitogenRouter *router;
  gchar *transport;
  GVariant *options;
  MitogenContext *via;
} ConnectData;

static void
connect_data_free (gpointer data)
{
  ConnectData *d = data;

  g_object_unref (d->router);
  g_free (d->transport);
  g_clear_pointer (&d->options, g_variant_unref);
  g_clear_object (&d->via);
  g_free (d);
}

static void
connect_thread (GTask *task,
                gpointer source,
                gpointer task_data,
                GCancellable *cancellable)
{
  ConnectData *d = task_data;
  GError *error = NULL;
  MitogenContext *context = mitogen_router_connect_context (
      d->router, d->transport, d->options ? g_variant_ref (d->options) : NULL,
      d->via, cancellable, &error);

  if (context)
    g_task_return_pointer (task, context, g_object_unref);
  else
    g_task_return_error (task, error);
}

/**
 * mitogen_router_connect_context_async:
 * @router: the router of this process
 * @transport: the transport's name
 * @options: (nullable): the transport's options, `a{sv}`
 * @via: (nullable): a context to start the child from
 * @cancellable: (nullable): checked before the child starts
 * @callback: (scope async): called with the new context
 * @user_data: (closure): data for @callback
 *
 * Like mitogen_router_connect_context(), without blocking.
 */
void
mitogen_router_connect_context_async (MitogenRouter *router,
                                      const gchar *transport,
                                      GVariant *options,
                                      MitogenContext *via,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (router, cancellable, callback, user_data);
  ConnectData *d = g_new0 (ConnectData, 1);

  d->router = g_object_ref (router);
  d->transport = g_strdup (transport);
  d->options = options ? g_variant_ref_sink (options) : NULL;
  d->via = via ? g_object_ref (via) : NULL;
  g_task_set_source_tag (task, mitogen_router_connect_context_async);
  g_task_set_task_data (task, d, connect_data_free);
  g_task_run_in_thread (task, connect_thread);
}

/**
 * mitogen_router_connect_context_finish:
 * @router: the router given to mitogen_router_connect_context_async()
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_router_connect_context_async().
 *
 * Returns: (transfer full) (nullable): the new context
 */
MitogenContext *
mitogen_router_connect_context_finish (MitogenRouter *router,
                                       GAsyncResult *result,
                                       GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, router), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
