/* mitogen-file-progress.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-file-progress.h"

/**
 * MitogenFileProgress:
 *
 * How far a file transfer got: #MitogenFileProgress:bytes-done of
 * #MitogenFileProgress:bytes-total, across every file of a tree copy.
 *
 * Transfers update it from their worker threads; the notifications are
 * emitted in the thread-default main context of the thread that created
 * it (so a Python or GTK caller sees them on its main loop), coalesced:
 * a slow main loop sees fewer, never stale, values.
 */
struct _MitogenFileProgress
{
  GObject parent_instance;

  GMainContext *context;
  GMutex lock;
  guint64 done;
  guint64 total;
  /* The values last notified, read on the notifying thread only. */
  guint64 shown_done;
  guint64 shown_total;
  gboolean pending;
};

enum
{
  PROP_0,
  PROP_BYTES_DONE,
  PROP_BYTES_TOTAL,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

G_DEFINE_FINAL_TYPE (MitogenFileProgress, mitogen_file_progress, G_TYPE_OBJECT)

static void
mitogen_file_progress_finalize (GObject *object)
{
  MitogenFileProgress *self = MITOGEN_FILE_PROGRESS (object);

  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_file_progress_parent_class)->finalize (object);
}

static void
mitogen_file_progress_get_property (GObject *object,
                                    guint prop_id,
                                    GValue *value,
                                    GParamSpec *pspec)
{
  MitogenFileProgress *self = MITOGEN_FILE_PROGRESS (object);

  switch (prop_id)
    {
    case PROP_BYTES_DONE:
      g_value_set_uint64 (value, mitogen_file_progress_get_bytes_done (self));
      break;
    case PROP_BYTES_TOTAL:
      g_value_set_uint64 (value, mitogen_file_progress_get_bytes_total (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_file_progress_class_init (MitogenFileProgressClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mitogen_file_progress_finalize;
  object_class->get_property = mitogen_file_progress_get_property;

  /**
   * MitogenFileProgress:bytes-done:
   *
   * Bytes the receiving side has written.
   */
  props[PROP_BYTES_DONE] = g_param_spec_uint64 (
      "bytes-done", NULL, NULL, 0, G_MAXUINT64, 0,
      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenFileProgress:bytes-total:
   *
   * Bytes to transfer, as far as known.
   */
  props[PROP_BYTES_TOTAL] = g_param_spec_uint64 (
      "bytes-total", NULL, NULL, 0, G_MAXUINT64, 0,
      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
mitogen_file_progress_init (MitogenFileProgress *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
}

/**
 * mitogen_file_progress_new:
 *
 * Creates a progress to pass to a transfer and watch with notify.
 *
 * Returns: (transfer full): a progress at 0 of 0, notifying in the
 *   calling thread's thread-default main context
 */
MitogenFileProgress *
mitogen_file_progress_new (void)
{
  return g_object_new (MITOGEN_TYPE_FILE_PROGRESS, NULL);
}

/**
 * mitogen_file_progress_get_bytes_done:
 * @self: a progress
 *
 * Gets the bytes written so far.
 *
 * Returns: the #MitogenFileProgress:bytes-done
 */
guint64
mitogen_file_progress_get_bytes_done (MitogenFileProgress *self)
{
  guint64 value;

  g_return_val_if_fail (MITOGEN_IS_FILE_PROGRESS (self), 0);
  g_mutex_lock (&self->lock);
  value = self->done;
  g_mutex_unlock (&self->lock);
  return value;
}

/**
 * mitogen_file_progress_get_bytes_total:
 * @self: a progress
 *
 * Gets the bytes to write in all.
 *
 * Returns: the #MitogenFileProgress:bytes-total
 */
guint64
mitogen_file_progress_get_bytes_total (MitogenFileProgress *self)
{
  guint64 value;

  g_return_val_if_fail (MITOGEN_IS_FILE_PROGRESS (self), 0);
  g_mutex_lock (&self->lock);
  value = self->total;
  g_mutex_unlock (&self->lock);
  return value;
}

static gboolean
notify_idle (gpointer user_data)
{
  MitogenFileProgress *self = user_data;
  guint64 done, total;

  g_mutex_lock (&self->lock);
  done = self->done;
  total = self->total;
  self->pending = FALSE;
  g_mutex_unlock (&self->lock);

  g_object_freeze_notify (G_OBJECT (self));
  if (total != self->shown_total)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_BYTES_TOTAL]);
  if (done != self->shown_done)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_BYTES_DONE]);
  self->shown_done = done;
  self->shown_total = total;
  g_object_thaw_notify (G_OBJECT (self));
  return G_SOURCE_REMOVE;
}

/**
 * mitogen_file_progress_update:
 * @self: a progress
 * @bytes_done: bytes done
 * @bytes_total: bytes in all
 *
 * Sets both values, from any thread; see [class@FileProgress] for where
 * the notifications go.
 */
void
mitogen_file_progress_update (MitogenFileProgress *self,
                              guint64 bytes_done,
                              guint64 bytes_total)
{
  gboolean schedule;

  g_return_if_fail (MITOGEN_IS_FILE_PROGRESS (self));

  g_mutex_lock (&self->lock);
  self->done = bytes_done;
  self->total = bytes_total;
  schedule = !self->pending;
  self->pending = TRUE;
  g_mutex_unlock (&self->lock);
  if (schedule)
    g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, notify_idle,
                                g_object_ref (self), g_object_unref);
}
