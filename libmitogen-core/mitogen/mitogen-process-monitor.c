/* mitogen-process-monitor.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-process-monitor.h"

/**
 * MitogenProcessMonitor:
 *
 * Calls back with the exit status of child processes, and reaps them.
 *
 * It is GLib's child watch (`SIGCHLD` on one shared handler, or a pidfd)
 * with the callbacks run in a main context of the owner's choosing, such
 * as a broker's.
 */
typedef struct {
  MitogenProcessMonitor *monitor;
  MitogenProcessFunc callback;
  gpointer user_data;
  GDestroyNotify destroy;
  GSource *source;
} Watch;

struct _MitogenProcessMonitor {
  GObject parent_instance;

  GMainContext *context;
  GMutex lock;
  GPtrArray *watches; /* Watch* */
};

G_DEFINE_FINAL_TYPE (MitogenProcessMonitor, mitogen_process_monitor,
                     G_TYPE_OBJECT)

static void
watch_free (gpointer data)
{
  Watch *w = data;

  if (w->destroy)
    w->destroy (w->user_data);
  g_free (w);
}

static void
on_child_exit (GPid pid,
               gint wait_status,
               gpointer user_data)
{
  Watch *w = user_data;
  MitogenProcessMonitor *self = w->monitor;

  g_mutex_lock (&self->lock);
  g_ptr_array_remove_fast (self->watches, w);
  g_mutex_unlock (&self->lock);

  w->callback (pid, wait_status, w->user_data);
  g_source_unref (w->source);
}

static void
mitogen_process_monitor_finalize (GObject *object)
{
  MitogenProcessMonitor *self = MITOGEN_PROCESS_MONITOR (object);

  /* Leftover watches are cancelled: their processes are no longer ours to
   * reap through this monitor. */
  while (self->watches->len > 0)
    {
      Watch *w = g_ptr_array_steal_index_fast (self->watches, 0);
      GSource *source = w->source;
      g_source_destroy (source);
      g_source_unref (source);
    }
  g_ptr_array_unref (self->watches);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (mitogen_process_monitor_parent_class)->finalize (object);
}

static void
mitogen_process_monitor_class_init (MitogenProcessMonitorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_process_monitor_finalize;
}

static void
mitogen_process_monitor_init (MitogenProcessMonitor *self)
{
  g_mutex_init (&self->lock);
  self->watches = g_ptr_array_new ();
}

/**
 * mitogen_process_monitor_new:
 * @context: (nullable): where callbacks run; %NULL for the global default
 *   main context
 *
 * Creates a monitor that reaps the processes it watches and reports their
 * exit on the broker's thread.
 *
 * Returns: (transfer full): a new monitor
 */
MitogenProcessMonitor *
mitogen_process_monitor_new (GMainContext *context)
{
  MitogenProcessMonitor *self = g_object_new (MITOGEN_TYPE_PROCESS_MONITOR, NULL);

  self->context = context ? g_main_context_ref (context) : NULL;
  return self;
}

/**
 * mitogen_process_monitor_add:
 * @self: a monitor
 * @pid: a child of this process, started without being reaped
 *   (%G_SPAWN_DO_NOT_REAP_CHILD)
 * @callback: (scope notified): called once with the exit status
 * @user_data: (closure): data for @callback
 * @destroy: (destroy user_data) (nullable): frees @user_data
 *
 * Watches @pid, reaping it when it exits and passing its raw wait status
 * to @callback.
 */
void
mitogen_process_monitor_add (MitogenProcessMonitor *self,
                             GPid pid,
                             MitogenProcessFunc callback,
                             gpointer user_data,
                             GDestroyNotify destroy)
{
  Watch *w = g_new0 (Watch, 1);

  w->monitor = self;
  w->callback = callback;
  w->user_data = user_data;
  w->destroy = destroy;
  w->source = g_child_watch_source_new (pid);
  g_source_set_callback (w->source, G_SOURCE_FUNC (on_child_exit), w, watch_free);

  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->watches, w);
  g_mutex_unlock (&self->lock);

  g_source_attach (w->source, self->context);
}

/**
 * mitogen_process_monitor_get_n_watched:
 * @self: a monitor
 *
 * Returns how many processes are watched and not yet exited.
 *
 * Returns: how many processes are watched and not yet exited
 */
guint
mitogen_process_monitor_get_n_watched (MitogenProcessMonitor *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->watches->len;
  g_mutex_unlock (&self->lock);
  return n;
}
