/* mitogen-select.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-select.h"

#include "mitogen-channel.h"
#include "mitogen-errors.h"
#include "mitogen-latch-private.h"

/**
 * mitogen_select_error_quark:
 *
 * The error domain of #MitogenSelectError, errors of adding sources to a [class@Select].
 *
 * Returns: the domain's quark
 */
/* clang-format off: it would space the name's dashes into the string */
G_DEFINE_QUARK (mitogen-select-error-quark, mitogen_select_error)
/* clang-format on */

/**
 * MitogenSelect:
 *
 * Waits on several [class@Receiver]s, [class@Channel]s, [class@Latch]es
 * and other selects at once, returning items in the order they arrived,
 * with the source each came from.
 *
 * Each source tells the select, through its latch's notify hook, when it
 * queues an item; the select queues the source on a latch of its own and
 * sleeps on that one latch. A oneshot select drops each source after its
 * first item, which suits waiting for the replies of many calls.
 */
struct _MitogenSelect {
  GObject parent_instance;

  gboolean oneshot;
  MitogenLatch *ready; /* sources with an item, one entry per item */
  GMutex lock;         /* guards sources: notify hooks run on any thread */
  GPtrArray *sources;  /* GObject* (ref) */
};

G_DEFINE_FINAL_TYPE (MitogenSelect, mitogen_select, G_TYPE_OBJECT)

/* The latch whose hook announces @source's items. A select nested in
 * another is announced by its own ready latch, so the outer select wakes
 * whenever the inner one would. */
static MitogenLatch *
source_latch (GObject *source)
{
  if (MITOGEN_IS_RECEIVER (source))
    return mitogen_receiver_get_latch (MITOGEN_RECEIVER (source));
  if (MITOGEN_IS_CHANNEL (source))
    return mitogen_receiver_get_latch (
        mitogen_channel_get_receiver (MITOGEN_CHANNEL (source)));
  if (MITOGEN_IS_SELECT (source))
    return MITOGEN_SELECT (source)->ready;
  if (MITOGEN_IS_LATCH (source))
    return MITOGEN_LATCH (source);
  return NULL;
}

/* Whether @self, directly or through selects inside it, watches @target:
 * adding @self to @target would then make a loop of hooks. */
static gboolean
reaches (MitogenSelect *self, MitogenSelect *target)
{
  g_autoptr (GPtrArray) nested
      = g_ptr_array_new_with_free_func (g_object_unref);

  if (self == target)
    return TRUE;
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->sources->len; i++)
    if (MITOGEN_IS_SELECT (self->sources->pdata[i]))
      g_ptr_array_add (nested, g_object_ref (self->sources->pdata[i]));
  g_mutex_unlock (&self->lock);
  for (guint i = 0; i < nested->len; i++)
    if (reaches (nested->pdata[i], target))
      return TRUE;
  return FALSE;
}

static void
on_source_put (MitogenLatch *latch,
               gpointer user_data)
{
  MitogenSelect *self = user_data;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->sources->len; i++)
    if (source_latch (self->sources->pdata[i]) == latch)
      {
        mitogen_latch_put (self->ready, self->sources->pdata[i], NULL);
        break;
      }
  g_mutex_unlock (&self->lock);
}

static void
mitogen_select_finalize (GObject *object)
{
  MitogenSelect *self = MITOGEN_SELECT (object);

  for (guint i = 0; i < self->sources->len; i++)
    mitogen_latch_set_notify (source_latch (self->sources->pdata[i]), NULL, NULL);
  g_ptr_array_unref (self->sources);
  g_object_unref (self->ready);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (mitogen_select_parent_class)->finalize (object);
}

static void
mitogen_select_class_init (MitogenSelectClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_select_finalize;
}

static void
mitogen_select_init (MitogenSelect *self)
{
  self->ready = mitogen_latch_new ();
  g_mutex_init (&self->lock);
  self->sources = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * mitogen_select_new:
 * @oneshot: remove each source after its first item
 *
 * Creates a select, which waits on several receivers or latches at once.
 *
 * Returns: (transfer full): a new select
 */
MitogenSelect *
mitogen_select_new (gboolean oneshot)
{
  MitogenSelect *self = g_object_new (MITOGEN_TYPE_SELECT, NULL);
  self->oneshot = oneshot;
  return self;
}

/**
 * mitogen_select_add:
 * @self: a select
 * @source: a [class@Receiver], [class@Channel], [class@Latch] or another
 *   select, in one select at a time
 * @error: return location for an error
 *
 * Starts watching @source, counting items it already holds. As in Mitogen,
 * a source belongs to one select at a time: adding it twice, adding one
 * another select watches, or adding a select that watches this one fails
 * with a [error@SelectError] and changes nothing.
 *
 * Returns: %TRUE if @source is now watched
 */
gboolean
mitogen_select_add (MitogenSelect *self, GObject *source, GError **error)
{
  MitogenLatch *latch = source_latch (source);
  gpointer owner;
  gsize queued;

  g_return_val_if_fail (MITOGEN_IS_SELECT (self), FALSE);
  if (!latch)
    {
      g_set_error (error, MITOGEN_SELECT_ERROR, MITOGEN_SELECT_ERROR_BAD_SOURCE,
                   "A select cannot watch a %s: it watches receivers, "
                   "channels, latches and selects",
                   G_OBJECT_TYPE_NAME (source));
      return FALSE;
    }
  if (MITOGEN_IS_SELECT (source) && reaches (MITOGEN_SELECT (source), self))
    {
      g_set_error_literal (error, MITOGEN_SELECT_ERROR,
                           MITOGEN_SELECT_ERROR_CYCLE,
                           "Adding this select would create a select cycle");
      return FALSE;
    }

  /* Claimed in one step under the latch's lock: of two selects adding the
   * same source at once, exactly one wins. An item arriving from now on is
   * announced by the hook; one that arrived before is counted below. One
   * counted twice costs get() a retry, one counted never would hang it.
   * Neither step holds our lock while taking the latch's: the hook takes
   * them in the other order. */
  owner = mitogen_latch_claim_notify (latch, on_source_put, self);
  if (owner)
    {
      g_set_error (error, MITOGEN_SELECT_ERROR, MITOGEN_SELECT_ERROR_OWNED,
                   owner == self ? "This %s is already in this select"
                                 : "Cannot add a %s to more than one select",
                   G_OBJECT_TYPE_NAME (source));
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->sources, g_object_ref (source));
  g_mutex_unlock (&self->lock);
  queued = mitogen_latch_size (latch);
  for (gsize i = 0; i < queued; i++)
    mitogen_latch_put (self->ready, source, NULL);
  return TRUE;
}

/**
 * mitogen_select_remove:
 * @self: a select
 * @source: a source added before
 *
 * Stops watching @source; returns %TRUE if it was being watched.
 *
 * Returns: %TRUE if @source was being watched
 */
gboolean
mitogen_select_remove (MitogenSelect *self,
                       GObject *source)
{
  gboolean found;

  g_mutex_lock (&self->lock);
  found = g_ptr_array_find (self->sources, source, NULL);
  g_mutex_unlock (&self->lock);
  if (!found)
    return FALSE;

  /* Once this returns, the hook is not running and will not run. */
  mitogen_latch_set_notify (source_latch (source), NULL, NULL);
  g_mutex_lock (&self->lock);
  g_ptr_array_remove (self->sources, source);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/**
 * mitogen_select_size:
 * @self: a select
 *
 * Returns the number of sources watched.
 *
 * Returns: the number of sources watched
 */
guint
mitogen_select_size (MitogenSelect *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->sources->len;
  g_mutex_unlock (&self->lock);
  return n;
}

/**
 * mitogen_select_empty:
 * @self: a select
 *
 * Returns %TRUE if mitogen_select_get() would block.
 *
 * Returns: %TRUE if mitogen_select_get() would block
 */
gboolean
mitogen_select_empty (MitogenSelect *self)
{
  return mitogen_latch_empty (self->ready);
}

/**
 * mitogen_select_get_n_waiters:
 * @self: a select
 *
 * Returns how many threads wait in mitogen_select_get() for a source to
 * become ready.
 *
 * Returns: the number of threads waiting on @self
 */
guint
mitogen_select_get_n_waiters (MitogenSelect *self)
{
  return mitogen_latch_get_n_waiters (self->ready);
}

static GObject *
hold_if_watched (MitogenSelect *self,
                 gpointer source)
{
  GObject *held = NULL;

  g_mutex_lock (&self->lock);
  if (g_ptr_array_find (self->sources, source, NULL))
    held = g_object_ref (source);
  g_mutex_unlock (&self->lock);
  return held;
}

/**
 * mitogen_select_get: (skip)
 * @self: a select
 * @timeout_usec: how long to wait, or -1
 * @cancellable: (nullable): ends the wait
 * @out_source: (out) (optional) (transfer none): the source of the item
 * @error: return location for an error
 *
 * Takes the next item of any source: a [struct@Message] for a receiver or
 * channel (a dead one fails with %MITOGEN_CHANNEL_ERROR_DEAD), the latch's
 * item for a latch, and for a select inside this one, that select's next
 * item, with @out_source set to the source inside it the item came from.
 *
 * The item's type depends on its source, which introspection cannot say:
 * bindings use [method@Select.get_message] under this name.
 *
 * Returns: (transfer full) (nullable): the item; %NULL with
 *   %MITOGEN_CHANNEL_ERROR_CLOSED when no source is left, or with the
 *   error of the wait
 */
gpointer
mitogen_select_get (MitogenSelect *self,
                    gint64 timeout_usec,
                    GCancellable *cancellable,
                    GObject **out_source,
                    GError **error)
{
  gint64 deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;

  for (;;)
    {
      gint64 left = deadline < 0 ? -1 : MAX (deadline - g_get_monotonic_time (), 0);
      g_autoptr(GObject) source = NULL;
      gpointer announced;
      gpointer item;

      if (mitogen_select_size (self) == 0 && mitogen_latch_empty (self->ready))
        {
          g_set_error_literal (error, MITOGEN_CHANNEL_ERROR,
                               MITOGEN_CHANNEL_ERROR_CLOSED,
                               "The select has nothing left to wait on");
          return NULL;
        }

      announced = mitogen_latch_get (self->ready, left, TRUE, cancellable, error);
      if (!announced)
        return NULL;
      /* Announced before its source was removed, which may have freed it. */
      source = hold_if_watched (self, announced);
      if (!source)
        continue;
      if (MITOGEN_IS_SELECT (source))
        {
          g_autoptr (GError) local_error = NULL;
          GObject *inner_source = NULL;

          /* The item is the inner select's, dead messages and all; an
           * announcement another thread answered first leaves it empty. */
          item = mitogen_select_get (MITOGEN_SELECT (source), 0, NULL,
                                     &inner_source, &local_error);
          if (!item
              && (g_error_matches (local_error, MITOGEN_TIMEOUT_ERROR,
                                   MITOGEN_TIMEOUT_ERROR_TIMED_OUT)
                  || g_error_matches (local_error, MITOGEN_CHANNEL_ERROR,
                                      MITOGEN_CHANNEL_ERROR_CLOSED)))
            continue;
          if (self->oneshot)
            mitogen_select_remove (self, source);
          if (out_source)
            *out_source = inner_source;
          if (!item)
            g_propagate_error (error, g_steal_pointer (&local_error));
          return item;
        }

      /* Another thread may have taken the item meanwhile. */
      item = mitogen_latch_get (source_latch (source), 0, FALSE, NULL, NULL);
      if (!item)
        continue;

      if (self->oneshot)
        mitogen_select_remove (self, source);
      /* (transfer none): still alive while the caller holds the source
       * elsewhere, as it does in every real use. */
      if (out_source)
        *out_source = source;

      if (!MITOGEN_IS_LATCH (source) && mitogen_message_is_dead (item))
        {
          g_autoptr(GVariant) unused = mitogen_message_get_data (item, error);
          mitogen_message_unref (item);
          return NULL;
        }
      return item;
    }
}

/**
 * mitogen_select_get_message: (rename-to mitogen_select_get)
 * @self: a select
 * @timeout_usec: how long to wait, or -1
 * @cancellable: (nullable): ends the wait
 * @out_source: (out) (optional) (transfer none): the receiver or channel
 *   the message came to
 * @error: return location for an error
 *
 * [method@Select.get] for a select whose sources are receivers, channels
 * and selects of them: the form bindings see, since a message has a type
 * introspection knows. A latch's items are opaque pointers, so an item
 * that came from a latch fails with %G_IO_ERROR_NOT_SUPPORTED, after it
 * was taken (and freed if the latch frees its items).
 *
 * Returns: (transfer full): the message
 */
MitogenMessage *
mitogen_select_get_message (MitogenSelect *self,
                            gint64 timeout_usec,
                            GCancellable *cancellable,
                            GObject **out_source,
                            GError **error)
{
  GObject *source = NULL;
  gpointer item
      = mitogen_select_get (self, timeout_usec, cancellable, &source, error);

  if (out_source)
    *out_source = source;
  if (item && MITOGEN_IS_LATCH (source))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "The item came from a latch, which holds pointers "
                           "only C can read");
      return NULL;
    }
  return item;
}

/**
 * mitogen_select_close:
 * @self: a select
 *
 * Stops watching every source and wakes waiters with
 * %MITOGEN_LATCH_ERROR_CLOSED.
 */
void
mitogen_select_close (MitogenSelect *self)
{
  while (self->sources->len > 0)
    mitogen_select_remove (self, self->sources->pdata[0]);
  mitogen_latch_close (self->ready);
}
