/* mitogen-fork-server.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

/**
 * MitogenForkFunc:
 * @user_data: the data given to mitogen_fork_server_set_on_fork()
 * @error: return location for an error
 *
 * Runs in each new `fork` child before it becomes a context; see
 * mitogen_fork_server_set_on_fork().
 *
 * Returns: %TRUE to go on; %FALSE with @error set makes the child exit and
 *   the connect fail with the error's message
 */
typedef gboolean (*MitogenForkFunc) (gpointer user_data,
                                     GError **error);

MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_fork_server_start       (GError **error);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_fork_server_stop        (void);
MITOGEN_AVAILABLE_IN_ALL
GPid     mitogen_fork_server_get_pid     (void);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_fork_server_set_on_fork (MitogenForkFunc func,
                                          gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_fork_server_preload     (const gchar *module);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_fork_server_fork        (int link_fd,
                                          gint64 deadline,
                                          GPid *out_pid,
                                          GError **error);

G_END_DECLS
