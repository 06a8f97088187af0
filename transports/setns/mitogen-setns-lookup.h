/* mitogen-setns-lookup.h: a container's init pid, from its engine
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The kinds of container the setns transport can name, as a list for
 * errors and docs. */
#define MITOGEN_SETNS_KINDS "docker, podman, lxc, lxd, machinectl"

gboolean mitogen_setns_lookup_pid (const gchar *kind,
                                   const gchar *tool_path,
                                   const gchar *container,
                                   gint64 deadline,
                                   gint *out_pid,
                                   GError **error);

G_END_DECLS
