/* mitogen-fork-server.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib.h>
#include <mitogen/mitogen-external-context.h>
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

/**
 * MitogenForkOnStart:
 * @context: the child's context, set up but not yet serving
 * @args: the connection's `on-start-args`, `()` if none was given
 * @user_data: the data given to mitogen_fork_server_add_on_start()
 * @error: return location for an error
 *
 * Runs in a `fork` child connected with the `on-start` option naming it,
 * before the child serves calls; see mitogen_fork_server_add_on_start().
 *
 * Returns: %TRUE to go on; %FALSE with @error set makes the child exit and
 *   the connect fail with the error's message
 */
typedef gboolean (*MitogenForkOnStart) (MitogenExternalContext *context,
                                        GVariant *args,
                                        gpointer user_data,
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
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_fork_server_fork_full   (int link_fd,
                                          int stderr_fd,
                                          const gchar *on_start,
                                          GVariant *on_start_args,
                                          gint64 deadline,
                                          GPid *out_pid,
                                          GError **error);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_fork_server_add_on_start (const gchar *name,
                                           MitogenForkOnStart func,
                                           gpointer user_data);

G_END_DECLS
