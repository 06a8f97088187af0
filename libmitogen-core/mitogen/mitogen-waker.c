/* mitogen-waker.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-waker-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <unistd.h>

/**
 * MitogenWaker:
 *
 * The stream other threads use to hand work to the broker: each deferred
 * function is queued, and the first one queued writes a byte to a pipe the
 * broker reads, waking it from `poll()`.
 *
 * Its receive side does not keep the broker alive during shutdown.
 */
typedef struct {
  MitogenDeferFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} Deferred;

struct _MitogenWaker {
  MitogenBasicStream parent_instance;

  MitogenBroker *broker; /* unowned: the broker owns its waker */
  MitogenSide *wake_side;
  GMutex lock;
  GArray *deferred;
  gboolean closed;
};

G_DEFINE_FINAL_TYPE (MitogenWaker, mitogen_waker, MITOGEN_TYPE_BASIC_STREAM)

static void
deferred_clear (gpointer data)
{
  Deferred *d = data;
  if (d->destroy)
    d->destroy (d->user_data);
}

static void
drain_pipe (MitogenSide *side)
{
  guint8 buf[64];
  while (mitogen_side_read (side, buf, sizeof buf, NULL) > 0)
    ;
}

static GArray *
new_deferred_array (void)
{
  GArray *array = g_array_new (FALSE, FALSE, sizeof (Deferred));
  g_array_set_clear_func (array, deferred_clear);
  return array;
}

static void
mitogen_waker_on_receive (MitogenBasicStream *stream,
                          MitogenBroker *broker)
{
  MitogenWaker *self = MITOGEN_WAKER (stream);
  g_autoptr(GArray) batch = NULL;

  g_mutex_lock (&self->lock);
  drain_pipe (mitogen_basic_stream_get_receive_side (stream));
  batch = g_steal_pointer (&self->deferred);
  self->deferred = new_deferred_array ();
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < batch->len; i++)
    {
      Deferred *d = &g_array_index (batch, Deferred, i);
      d->func (d->user_data);
    }
}

static void
mitogen_waker_finalize (GObject *object)
{
  MitogenWaker *self = MITOGEN_WAKER (object);

  g_clear_pointer (&self->deferred, g_array_unref);
  g_clear_object (&self->wake_side);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (mitogen_waker_parent_class)->finalize (object);
}

static void
mitogen_waker_class_init (MitogenWakerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_waker_finalize;
  MITOGEN_BASIC_STREAM_CLASS (klass)->on_receive = mitogen_waker_on_receive;
}

static void
mitogen_waker_init (MitogenWaker *self)
{
  g_mutex_init (&self->lock);
  self->deferred = new_deferred_array ();
}

/**
 * mitogen_waker_new:
 * @broker: the broker to wake
 * @error: return location for an error
 *
 * Returns: (transfer full) (nullable): a new waker, or %NULL if no pipe
 *   could be made
 */
MitogenWaker *
mitogen_waker_new (MitogenBroker *broker,
                   GError **error)
{
  g_autoptr(MitogenSide) rside = NULL;
  MitogenWaker *self;
  int fds[2];

  if (!g_unix_open_pipe (fds, FD_CLOEXEC, error))
    return NULL;

  self = g_object_new (MITOGEN_TYPE_WAKER, "name", "waker", NULL);
  self->broker = broker;
  rside = mitogen_side_new (MITOGEN_BASIC_STREAM (self), fds[0], FALSE);
  mitogen_basic_stream_set_receive_side (MITOGEN_BASIC_STREAM (self), rside);
  self->wake_side = mitogen_side_new (MITOGEN_BASIC_STREAM (self), fds[1], FALSE);
  return self;
}

/**
 * mitogen_waker_defer:
 * @self: a waker
 * @func: (scope notified): the work
 * @user_data: (closure): data for @func
 * @destroy: (destroy user_data) (nullable): frees @user_data once @func ran,
 *   or if it never will
 *
 * Queues @func to run on the broker thread, waking the broker.
 *
 * Returns: %FALSE if the waker is closed, in which case @destroy already
 *   ran
 */
gboolean
mitogen_waker_defer (MitogenWaker *self,
                     MitogenDeferFunc func,
                     gpointer user_data,
                     GDestroyNotify destroy)
{
  Deferred d = { func, user_data, destroy };
  gboolean first;

  g_mutex_lock (&self->lock);
  if (self->closed)
    {
      g_mutex_unlock (&self->lock);
      if (destroy)
        destroy (user_data);
      return FALSE;
    }
  first = self->deferred->len == 0;
  g_array_append_val (self->deferred, d);
  /* One byte per batch: the broker drains the pipe and the whole queue
   * together, so later callers need not write. */
  if (first)
    mitogen_side_write (self->wake_side, (const guint8 *) "W", 1, NULL);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/**
 * mitogen_waker_close:
 * @self: a waker
 *
 * Refuses further work and drops what is queued, running its destroy
 * functions.
 */
void
mitogen_waker_close (MitogenWaker *self)
{
  g_autoptr(GArray) dropped = NULL;

  g_mutex_lock (&self->lock);
  self->closed = TRUE;
  dropped = g_steal_pointer (&self->deferred);
  self->deferred = new_deferred_array ();
  g_mutex_unlock (&self->lock);
}
