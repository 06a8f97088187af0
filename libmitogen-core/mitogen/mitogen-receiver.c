/* mitogen-receiver.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-receiver.h"

#include "mitogen-errors.h"

/**
 * MitogenReceiver:
 *
 * Receives the messages sent to one handle of a router.
 *
 * Messages queue on a [class@Latch] until a thread takes them with
 * mitogen_receiver_get(), or are handed straight to a pending
 * mitogen_receiver_get_async(), whose callback runs in the caller's
 * thread-default main context.
 *
 * A dead message (its sender died, or it could not be routed) makes the
 * getter fail with %MITOGEN_CHANNEL_ERROR_DEAD carrying the reason.
 */

/* What the router's handler holds: the receiver itself may go away while
 * the handler is still installed. */
typedef struct {
  MitogenLatch *latch;
  GMutex lock;
  GQueue tasks; /* Pending* of get_async() calls */
} Inbox;

struct _MitogenReceiver {
  GObject parent_instance;

  MitogenRouter *router;
  guint32 handle;
  Inbox *inbox;
  gboolean closed;
};

G_DEFINE_FINAL_TYPE (MitogenReceiver, mitogen_receiver, G_TYPE_OBJECT)

/* A get_async() waiting in the inbox. */
typedef struct {
  GTask *task;
  GSource *cancel_source; /* nullable */
} Pending;

static void
pending_free (Pending *p)
{
  if (p->cancel_source)
    {
      g_source_destroy (p->cancel_source);
      g_source_unref (p->cancel_source);
    }
  g_object_unref (p->task);
  g_free (p);
}

static void
pending_return (Pending *p,
                MitogenMessage *msg,
                GError *error)
{
  if (msg)
    g_task_return_pointer (p->task, mitogen_message_ref (msg),
                           (GDestroyNotify) mitogen_message_unref);
  else
    g_task_return_error (p->task, error);
  pending_free (p);
}

static void
inbox_clear (gpointer data)
{
  Inbox *inbox = data;

  g_object_unref (inbox->latch);
  g_mutex_clear (&inbox->lock);
  g_assert (g_queue_is_empty (&inbox->tasks));
}

static void
inbox_unref (gpointer data)
{
  g_atomic_rc_box_release_full (data, inbox_clear);
}

static void
on_message (MitogenMessage *msg,
            gpointer user_data)
{
  Inbox *inbox = user_data;
  Pending *p;

  g_mutex_lock (&inbox->lock);
  p = g_queue_pop_head (&inbox->tasks);
  g_mutex_unlock (&inbox->lock);

  if (p)
    pending_return (p, msg, NULL);
  else
    mitogen_latch_put (inbox->latch, mitogen_message_ref (msg), NULL);
}

static void
mitogen_receiver_finalize (GObject *object)
{
  MitogenReceiver *self = MITOGEN_RECEIVER (object);

  mitogen_receiver_close (self);
  inbox_unref (self->inbox);
  g_object_unref (self->router);

  G_OBJECT_CLASS (mitogen_receiver_parent_class)->finalize (object);
}

static void
mitogen_receiver_class_init (MitogenReceiverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_receiver_finalize;
}

static void
mitogen_receiver_init (MitogenReceiver *self)
{
  self->inbox = g_atomic_rc_box_new0 (Inbox);
  self->inbox->latch = mitogen_latch_new_full ((GDestroyNotify) mitogen_message_unref);
  g_mutex_init (&self->inbox->lock);
}

/**
 * mitogen_receiver_new:
 * @router: the router
 * @handle: the handle to receive on, or 0 to allocate one
 * @persist: %FALSE to receive a single message, as for a reply
 * @respondent_id: the context messages are expected from, or
 *   %MITOGEN_CONTEXT_ID_NONE; if it disconnects, the receiver gets a dead
 *   message
 * @policy: (nullable) (scope forever): who may send here
 *
 * Creates a new receiver, installed on @router.
 *
 * Returns: (transfer full): a new receiver, installed on @router
 */
MitogenReceiver *
mitogen_receiver_new (MitogenRouter *router,
                      guint32 handle,
                      gboolean persist,
                      guint32 respondent_id,
                      MitogenPolicyFunc policy)
{
  MitogenReceiver *self = g_object_new (MITOGEN_TYPE_RECEIVER, NULL);

  self->router = g_object_ref (router);
  self->handle = mitogen_router_add_handler (
    router, handle, persist ? MITOGEN_HANDLER_PERSIST : MITOGEN_HANDLER_NONE,
    respondent_id, policy, on_message, g_atomic_rc_box_acquire (self->inbox),
    inbox_unref);
  return self;
}

/**
 * mitogen_receiver_get_handle:
 * @self: a receiver
 *
 * Returns the handle messages for this receiver are sent to.
 *
 * Returns: the handle messages for this receiver are sent to
 */
guint32
mitogen_receiver_get_handle (MitogenReceiver *self)
{
  return self->handle;
}

/**
 * mitogen_receiver_get_router:
 * @self: a receiver
 *
 * Returns the router.
 *
 * Returns: (transfer none): the router
 */
MitogenRouter *
mitogen_receiver_get_router (MitogenReceiver *self)
{
  return self->router;
}

/**
 * mitogen_receiver_get_latch:
 * @self: a receiver
 *
 * Returns the latch messages queue on.
 *
 * Returns: (transfer none): the latch messages queue on
 */
MitogenLatch *
mitogen_receiver_get_latch (MitogenReceiver *self)
{
  return self->inbox->latch;
}

/**
 * mitogen_receiver_empty:
 * @self: a receiver
 *
 * Returns %TRUE if mitogen_receiver_get() would block.
 *
 * Returns: %TRUE if mitogen_receiver_get() would block
 */
gboolean
mitogen_receiver_empty (MitogenReceiver *self)
{
  return mitogen_latch_empty (self->inbox->latch);
}

static MitogenMessage *
check_dead (MitogenMessage *msg,
            GError **error)
{
  if (msg && mitogen_message_is_dead (msg))
    {
      g_autoptr(GVariant) unused = mitogen_message_get_data (msg, error);
      mitogen_message_unref (msg);
      return NULL;
    }
  return msg;
}

static void
closed_error (GError **error)
{
  g_set_error_literal (error, MITOGEN_CHANNEL_ERROR,
                       MITOGEN_CHANNEL_ERROR_CLOSED, "The receiver is closed");
}

/**
 * mitogen_receiver_get:
 * @self: a receiver
 * @timeout_usec: how long to wait, or -1 for ever
 * @cancellable: (nullable): ends the wait
 * @error: return location for an error
 *
 * Takes the next message, waiting for it.
 *
 * Returns: (transfer full) (nullable): the message; %NULL with
 *   %MITOGEN_CHANNEL_ERROR_DEAD if the sender died,
 *   %MITOGEN_CHANNEL_ERROR_CLOSED once closed, or %MITOGEN_TIMEOUT_ERROR
 */
MitogenMessage *
mitogen_receiver_get (MitogenReceiver *self,
                      gint64 timeout_usec,
                      GCancellable *cancellable,
                      GError **error)
{
  GError *local_error = NULL;
  MitogenMessage *msg;

  g_return_val_if_fail (MITOGEN_IS_RECEIVER (self), NULL);

  msg = mitogen_latch_get (self->inbox->latch, timeout_usec, TRUE, cancellable,
                           &local_error);
  if (!msg)
    {
      if (g_error_matches (local_error, MITOGEN_LATCH_ERROR,
                           MITOGEN_LATCH_ERROR_CLOSED))
        {
          g_error_free (local_error);
          closed_error (error);
        }
      else
        g_propagate_error (error, local_error);
      return NULL;
    }
  return check_dead (msg, error);
}

/**
 * mitogen_receiver_get_value:
 * @self: a receiver
 * @timeout_usec: how long to wait, or -1 for ever
 * @cancellable: (nullable): ends the wait
 * @error: return location for an error
 *
 * Like mitogen_receiver_get(), returning the message's data.
 *
 * Returns: (transfer full) (nullable): the data; %NULL with no error for a
 *   message without data
 */
GVariant *
mitogen_receiver_get_value (MitogenReceiver *self,
                            gint64 timeout_usec,
                            GCancellable *cancellable,
                            GError **error)
{
  g_autoptr(MitogenMessage) msg =
    mitogen_receiver_get (self, timeout_usec, cancellable, error);

  return msg ? mitogen_message_get_data (msg, error) : NULL;
}

typedef struct {
  Inbox *inbox;
  GTask *task;
} CancelData;

static void
cancel_data_free (gpointer data)
{
  CancelData *c = data;
  inbox_unref (c->inbox);
  g_object_unref (c->task);
  g_free (c);
}

static gboolean
on_get_cancelled (GCancellable *cancellable,
                  gpointer user_data)
{
  CancelData *c = user_data;
  Pending *found = NULL;

  /* Runs in the caller's context; the broker may be completing the same
   * task, so only the queue, under the lock, decides who does. */
  g_mutex_lock (&c->inbox->lock);
  for (GList *l = c->inbox->tasks.head; l; l = l->next)
    if (((Pending *) l->data)->task == c->task)
      {
        found = l->data;
        g_queue_delete_link (&c->inbox->tasks, l);
        break;
      }
  g_mutex_unlock (&c->inbox->lock);

  if (found)
    {
      GError *error = NULL;
      g_cancellable_set_error_if_cancelled (cancellable, &error);
      pending_return (found, NULL, error);
    }
  return G_SOURCE_REMOVE;
}

/**
 * mitogen_receiver_get_async:
 * @self: a receiver
 * @cancellable: (nullable): ends the wait
 * @callback: (scope async): called with the message
 * @user_data: (closure): data for @callback
 *
 * Waits for the next message without blocking a thread. The callback runs
 * in the thread-default main context of the caller.
 */
void
mitogen_receiver_get_async (MitogenReceiver *self,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  MitogenMessage *msg;
  Pending *p;

  g_task_set_source_tag (task, mitogen_receiver_get_async);

  msg = mitogen_latch_get (self->inbox->latch, 0, FALSE, NULL, &error);
  if (msg)
    {
      g_task_return_pointer (task, msg, (GDestroyNotify) mitogen_message_unref);
      return;
    }
  if (self->closed)
    {
      g_task_return_new_error (task, MITOGEN_CHANNEL_ERROR,
                               MITOGEN_CHANNEL_ERROR_CLOSED,
                               "The receiver is closed");
      return;
    }

  p = g_new0 (Pending, 1);
  p->task = g_object_ref (task);
  if (cancellable)
    {
      CancelData *c = g_new (CancelData, 1);

      c->inbox = g_atomic_rc_box_acquire (self->inbox);
      c->task = g_object_ref (task);
      p->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (p->cancel_source, G_SOURCE_FUNC (on_get_cancelled),
                             c, cancel_data_free);
      g_source_attach (p->cancel_source, g_task_get_context (task));
    }

  g_mutex_lock (&self->inbox->lock);
  g_queue_push_tail (&self->inbox->tasks, p);
  g_mutex_unlock (&self->inbox->lock);

  /* A message may have been queued on the latch between the check above
   * and the push; move it over. */
  msg = mitogen_latch_get (self->inbox->latch, 0, FALSE, NULL, NULL);
  if (msg)
    {
      on_message (msg, self->inbox);
      mitogen_message_unref (msg);
    }
}

/**
 * mitogen_receiver_get_finish:
 * @self: a receiver
 * @result: the result
 * @error: return location for an error
 *
 * Finishes mitogen_receiver_get_async().
 *
 * Returns: (transfer full) (nullable): the message, or %NULL with @error
 *   set as for mitogen_receiver_get()
 */
MitogenMessage *
mitogen_receiver_get_finish (MitogenReceiver *self,
                             GAsyncResult *result,
                             GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return check_dead (g_task_propagate_pointer (G_TASK (result), error), error);
}

/**
 * mitogen_receiver_close:
 * @self: a receiver
 *
 * Removes the receiver from its router and wakes every waiter with
 * %MITOGEN_CHANNEL_ERROR_CLOSED. Messages sent here afterwards are
 * answered dead.
 */
void
mitogen_receiver_close (MitogenReceiver *self)
{
  GQueue tasks = G_QUEUE_INIT;
  Pending *p;

  if (self->closed)
    return;
  self->closed = TRUE;

  mitogen_router_del_handler (self->router, self->handle);
  mitogen_latch_close (self->inbox->latch);

  g_mutex_lock (&self->inbox->lock);
  tasks = self->inbox->tasks;
  g_queue_init (&self->inbox->tasks);
  g_mutex_unlock (&self->inbox->lock);

  while ((p = g_queue_pop_head (&tasks)))
    pending_return (p, NULL,
                    g_error_new_literal (MITOGEN_CHANNEL_ERROR,
                                         MITOGEN_CHANNEL_ERROR_CLOSED,
                                         "The receiver is closed"));
}
