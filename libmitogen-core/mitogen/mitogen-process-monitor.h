/* mitogen-process-monitor.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib-object.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

/**
 * MitogenProcessFunc:
 * @pid: the process that exited
 * @wait_status: its raw wait status, for `WIFEXITED()` and friends
 * @user_data: the data given to mitogen_process_monitor_add()
 *
 * Told of a child's exit.
 */
typedef void (*MitogenProcessFunc) (GPid pid,
                                    gint wait_status,
                                    gpointer user_data);

#define MITOGEN_TYPE_PROCESS_MONITOR (mitogen_process_monitor_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenProcessMonitor, mitogen_process_monitor,
                      MITOGEN, PROCESS_MONITOR, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenProcessMonitor *mitogen_process_monitor_new (GMainContext *context);
MITOGEN_AVAILABLE_IN_ALL
void  mitogen_process_monitor_add    (MitogenProcessMonitor *self,
                                      GPid pid,
                                      MitogenProcessFunc callback,
                                      gpointer user_data,
                                      GDestroyNotify destroy);
MITOGEN_AVAILABLE_IN_ALL
guint mitogen_process_monitor_get_n_watched (MitogenProcessMonitor *self);

G_END_DECLS
