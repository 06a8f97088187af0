/* mitogen-latch.c: a queue whose waiters stay interruptible
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-latch.h"
#include "mitogen-latch-private.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mitogen-errors.h"

/**
 * MitogenLatch:
 *
 * A queue that many threads may put to and wait on.
 *
 * Unlike a `GAsyncQueue`, a wait with a timeout wakes exactly on time, a
 * wait can be ended by a `GCancellable`, and mitogen_latch_close() wakes
 * every sleeper with %MITOGEN_LATCH_ERROR_CLOSED.
 *
 * A waiting thread sleeps on a futex word of its own: waking it is one
 * system call on each side, the least a hand-off between threads costs,
 * and a sleep needs no descriptor. An item put while threads sleep is
 * handed straight to the one that has slept longest, so items are taken in
 * the order threads began to wait.
 */

typedef struct {
  gint state;     /* the futex word: 0 while asleep, 1 once woken or poked */
  gboolean woken; /* under the latch's lock: handed an item, or closed */
  gboolean closed;
  gpointer item;
} Sleeper;

struct _MitogenLatch {
  GObject parent_instance;

  GMutex mutex;
  GQueue items;
  GQueue sleepers;
  gboolean closed;
  GDestroyNotify item_free;
  MitogenLatchNotify notify;
  gpointer notify_data;
};

G_DEFINE_FINAL_TYPE (MitogenLatch, mitogen_latch, G_TYPE_OBJECT)

static void
free_item (MitogenLatch *self,
           gpointer item)
{
  if (self->item_free && item)
    self->item_free (item);
}

static void
mitogen_latch_finalize (GObject *object)
{
  MitogenLatch *self = MITOGEN_LATCH (object);
  gpointer item;

  g_assert (g_queue_is_empty (&self->sleepers));
  while ((item = g_queue_pop_head (&self->items)))
    free_item (self, item);
  g_mutex_clear (&self->mutex);

  G_OBJECT_CLASS (mitogen_latch_parent_class)->finalize (object);
}

static void
mitogen_latch_class_init (MitogenLatchClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_latch_finalize;
}

static void
mitogen_latch_init (MitogenLatch *self)
{
  g_mutex_init (&self->mutex);
}

/**
 * mitogen_latch_new:
 *
 * Creates a latch whose items are not owned by it.
 *
 * Returns: (transfer full): a new latch
 */
MitogenLatch *
mitogen_latch_new (void)
{
  return mitogen_latch_new_full (NULL);
}

/**
 * mitogen_latch_new_full: (skip)
 * @item_free: (nullable): frees items left in the latch when it is closed or
 *   finalized, and items refused by a closed latch
 *
 * Creates a latch whose items left queued when it is closed or finalized are
 * freed with @item_free.
 *
 * Returns: (transfer full): a new latch
 */
MitogenLatch *
mitogen_latch_new_full (GDestroyNotify item_free)
{
  MitogenLatch *self = g_object_new (MITOGEN_TYPE_LATCH, NULL);
  self->item_free = item_free;
  return self;
}

/**
 * mitogen_latch_empty:
 * @self: a latch
 *
 * Tells whether mitogen_latch_get() would block. As with any queue shared
 * between threads, the answer may be stale by the time it is used.
 *
 * Returns: %TRUE when no item is queued
 */
gboolean
mitogen_latch_empty (MitogenLatch *self)
{
  return mitogen_latch_size (self) == 0;
}

/**
 * mitogen_latch_size:
 * @self: a latch
 *
 * Returns the number of queued items.
 *
 * Returns: the number of queued items
 */
gsize
mitogen_latch_size (MitogenLatch *self)
{
  gsize n;

  g_return_val_if_fail (MITOGEN_IS_LATCH (self), 0);

  g_mutex_lock (&self->mutex);
  n = self->items.length;
  g_mutex_unlock (&self->mutex);
  return n;
}

/**
 * mitogen_latch_get_n_waiters:
 * @self: a latch
 *
 * Returns how many threads wait in mitogen_latch_get() for an item: each
 * of them is handed the next one put, or woken by mitogen_latch_close().
 *
 * Returns: the number of threads waiting on @self
 */
guint
mitogen_latch_get_n_waiters (MitogenLatch *self)
{
  guint n;

  g_return_val_if_fail (MITOGEN_IS_LATCH (self), 0);

  g_mutex_lock (&self->mutex);
  n = self->sleepers.length;
  g_mutex_unlock (&self->mutex);
  return n;
}

/**
 * mitogen_latch_is_closed:
 * @self: a latch
 *
 * Returns %TRUE once mitogen_latch_close() was called.
 *
 * Returns: %TRUE once mitogen_latch_close() was called
 */
gboolean
mitogen_latch_is_closed (MitogenLatch *self)
{
  gboolean closed;

  g_mutex_lock (&self->mutex);
  closed = self->closed;
  g_mutex_unlock (&self->mutex);
  return closed;
}

static void
set_closed_error (GError **error)
{
  g_set_error_literal (error, MITOGEN_LATCH_ERROR, MITOGEN_LATCH_ERROR_CLOSED,
                       "The latch was closed");
}

/* Under the latch's lock: @sleeper has what it waited for. Returns the
 * word to wake once the lock is released: woken first, the sleeper would
 * only block on the lock still held. The wake may then reach a sleeper
 * that already left (it saw the word change): a spurious wake of whatever
 * waits at that stack address next, which every futex user tolerates. */
static gint *
mark_woken (Sleeper *sleeper)
{
  sleeper->woken = TRUE;
  g_atomic_int_set (&sleeper->state, 1);
  return &sleeper->state;
}

static void
wake_word (gint *word)
{
  syscall (SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* From the cancelling thread: ends the sleep, not the wait; the sleeper
 * then finds it was not woken and reports the cancellation. */
static void
poke_sleeper (GCancellable *cancellable, gpointer data)
{
  Sleeper *sleeper = data;

  g_atomic_int_set (&sleeper->state, 1);
  wake_word (&sleeper->state);
}

/* Sleeps until woken, cancelled or past @deadline. */
static void
sleep_on (Sleeper *sleeper, gint64 deadline, GCancellable *cancellable)
{
  gulong handler = 0;

  if (cancellable)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (poke_sleeper),
                                     sleeper, NULL);

  while (g_atomic_int_get (&sleeper->state) == 0)
    {
      struct timespec ts, *timeout = NULL;

      if (deadline >= 0)
        {
          gint64 left = deadline - g_get_monotonic_time ();

          if (left <= 0)
            break;
          ts.tv_sec = (time_t) (left / G_USEC_PER_SEC);
          ts.tv_nsec = (long) (left % G_USEC_PER_SEC) * 1000;
          timeout = &ts;
        }
      /* Returns at once if the word is no longer 0; EINTR and spurious
       * wakes just go round again. */
      syscall (SYS_futex, &sleeper->state, FUTEX_WAIT_PRIVATE, 0, timeout, NULL,
               0);
    }

  /* Waits for a callback already running elsewhere, which touches
   * @sleeper. */
  if (handler)
    g_cancellable_disconnect (cancellable, handler);
}

/**
 * mitogen_latch_get:
 * @self: a latch
 * @timeout_usec: how long to wait, in microseconds, or -1 for ever
 * @block: if %FALSE, fail at once with %MITOGEN_TIMEOUT_ERROR_WOULD_BLOCK
 *   when the latch is empty
 * @cancellable: (nullable): ends the wait with %G_IO_ERROR_CANCELLED
 * @error: return location for an error
 *
 * Takes the next item, sleeping until one arrives if need be.
 *
 * Returns: (transfer full) (nullable): the item; %NULL with @error set on
 *   %MITOGEN_LATCH_ERROR_CLOSED, %MITOGEN_TIMEOUT_ERROR or cancellation
 */
gpointer
mitogen_latch_get (MitogenLatch *self,
                   gint64 timeout_usec,
                   gboolean block,
                   GCancellable *cancellable,
                   GError **error)
{
  gint64 deadline
      = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  Sleeper sleeper = { 0 };
  gpointer item;

  g_return_val_if_fail (MITOGEN_IS_LATCH (self), NULL);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  g_mutex_lock (&self->mutex);
  if (self->closed)
    {
      g_mutex_unlock (&self->mutex);
      set_closed_error (error);
      return NULL;
    }
  if (!g_queue_is_empty (&self->items))
    {
      item = g_queue_pop_head (&self->items);
      g_mutex_unlock (&self->mutex);
      return item;
    }
  if (!block || timeout_usec == 0)
    {
      g_mutex_unlock (&self->mutex);
      g_set_error_literal (error, MITOGEN_TIMEOUT_ERROR,
                           block ? MITOGEN_TIMEOUT_ERROR_TIMED_OUT
                                 : MITOGEN_TIMEOUT_ERROR_WOULD_BLOCK,
                           "The latch is empty");
      return NULL;
    }
  g_queue_push_tail (&self->sleepers, &sleeper);
  g_mutex_unlock (&self->mutex);

  sleep_on (&sleeper, deadline, cancellable);

  g_mutex_lock (&self->mutex);
  if (!sleeper.woken)
    g_queue_remove (&self->sleepers, &sleeper);
  g_mutex_unlock (&self->mutex);

  if (sleeper.woken)
    {
      if (sleeper.closed)
        {
          set_closed_error (error);
          return NULL;
        }
      return sleeper.item;
    }

  if (!g_cancellable_set_error_if_cancelled (cancellable, error))
    g_set_error (error, MITOGEN_TIMEOUT_ERROR, MITOGEN_TIMEOUT_ERROR_TIMED_OUT,
                 "Timed out after %" G_GINT64_FORMAT " µs waiting on a latch",
                 timeout_usec);
  return NULL;
}

/**
 * mitogen_latch_put:
 * @self: a latch
 * @item: (transfer full) (not nullable): the item; %NULL is refused, since
 *   it could not be told from "nothing there"
 * @error: return location for an error
 *
 * Queues @item, waking the thread that has slept longest, if any.
 *
 * Returns: %TRUE on success; %FALSE with %MITOGEN_LATCH_ERROR_CLOSED if the
 *   latch was closed, in which case @item was freed
 */
gboolean
mitogen_latch_put (MitogenLatch *self,
                   gpointer item,
                   GError **error)
{
  Sleeper *sleeper;
  gint *wake = NULL;

  g_return_val_if_fail (MITOGEN_IS_LATCH (self), FALSE);
  g_return_val_if_fail (item != NULL, FALSE);

  g_mutex_lock (&self->mutex);
  if (self->closed)
    {
      g_mutex_unlock (&self->mutex);
      free_item (self, item);
      set_closed_error (error);
      return FALSE;
    }

  sleeper = g_queue_pop_head (&self->sleepers);
  if (sleeper)
    {
      sleeper->item = item;
      wake = mark_woken (sleeper);
    }
  else
    {
      g_queue_push_tail (&self->items, item);
      /* Called under the lock, so that once mitogen_latch_set_notify()
       * returns, the old hook is not running and never will again. */
      if (self->notify)
        self->notify (self, self->notify_data);
    }
  g_mutex_unlock (&self->mutex);
  if (wake)
    wake_word (wake);
  return TRUE;
}

/**
 * mitogen_latch_close:
 * @self: a latch
 *
 * Marks the latch closed and wakes every sleeping thread with
 * %MITOGEN_LATCH_ERROR_CLOSED. Queued items are freed. Closing twice does
 * nothing more.
 */
void
mitogen_latch_close (MitogenLatch *self)
{
  GQueue items = G_QUEUE_INIT;
  Sleeper *sleeper;
  gpointer item;

  g_return_if_fail (MITOGEN_IS_LATCH (self));

  g_mutex_lock (&self->mutex);
  self->closed = TRUE;
  while ((sleeper = g_queue_pop_head (&self->sleepers)))
    {
      sleeper->closed = TRUE;
      /* Under the lock: close is rare, and the sleepers must not be
       * touched once it is released. */
      wake_word (mark_woken (sleeper));
    }
  items = self->items;
  g_queue_init (&self->items);
  g_mutex_unlock (&self->mutex);

  while ((item = g_queue_pop_head (&items)))
    free_item (self, item);
}

/**
 * mitogen_latch_set_notify:
 * @self: a latch
 * @notify: (nullable) (scope forever): called when an item is queued that no
 *   sleeper took
 * @user_data: (closure): data for @notify
 *
 * Lets [class@Select] learn of new items without sleeping on every latch.
 * The hook runs with the latch locked: it must not call back into this
 * latch.
 */
void
mitogen_latch_set_notify (MitogenLatch *self,
                          MitogenLatchNotify notify,
                          gpointer user_data)
{
  g_mutex_lock (&self->mutex);
  self->notify = notify;
  self->notify_data = user_data;
  g_mutex_unlock (&self->mutex);
}

/*
 * mitogen_latch_claim_notify:
 * @self: a latch
 * @notify: the hook to install
 * @user_data: its data, which names the owner
 *
 * Installs @notify only if no hook is installed, in one step, so that two
 * selects adding the same source at once cannot both believe they own it.
 *
 * Returns: (nullable): %NULL if the hook was installed, else the data of
 *   the hook already there (the owner)
 */
gpointer
mitogen_latch_claim_notify (MitogenLatch *self,
                            MitogenLatchNotify notify,
                            gpointer user_data)
{
  gpointer owner = NULL;

  g_mutex_lock (&self->mutex);
  if (self->notify)
    owner = self->notify_data ? self->notify_data : (gpointer) self;
  else
    {
      self->notify = notify;
      self->notify_data = user_data;
    }
  g_mutex_unlock (&self->mutex);
  return owner;
}
