/* mitogen-io.h: blocking I/O helpers and child process creation
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

/**
 * MITOGEN_CHUNK_SIZE:
 *
 * The most bytes one read of a stream asks for.
 */
#define MITOGEN_CHUNK_SIZE (128 * 1024)

/**
 * MitogenIoFunc:
 * @user_data: the data passed to [func@io_op]
 *
 * One system call, `read()` or `write()` say, whose `errno` [func@io_op]
 * interprets.
 *
 * Returns: the call's result, or -1 with `errno` set
 */
typedef gssize (*MitogenIoFunc) (gpointer user_data);

/**
 * MitogenIterReadFunc:
 * @data: (array length=len): the bytes read
 * @len: how many
 * @user_data: the data passed to [func@iter_read]
 *
 * Receives each chunk [func@iter_read] reads.
 *
 * Returns: %TRUE to go on reading, %FALSE to stop
 */
typedef gboolean (*MitogenIterReadFunc) (const guint8 *data,
                                         gsize len,
                                         gpointer user_data);

MITOGEN_AVAILABLE_IN_ALL
gssize   mitogen_io_op            (MitogenIoFunc func,
                                   gpointer user_data,
                                   gboolean *disconnected,
                                   GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_io_errno_is_disconnect (int errsv);

MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_iter_read        (int fd,
                                   gint64 deadline,
                                   MitogenIterReadFunc func,
                                   gpointer user_data,
                                   GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_write_all        (int fd,
                                   const guint8 *data,
                                   gsize len,
                                   gint64 deadline,
                                   GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_wait_fd          (int fd,
                                   GIOCondition condition,
                                   gint64 deadline,
                                   GError **error);

MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_create_child     (const gchar * const *argv,
                                   const gchar * const *envp,
                                   GPid *out_pid,
                                   int *out_fd,
                                   int *out_stderr_fd,
                                   GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_create_child_merged (const gchar * const *argv,
                                      const gchar * const *envp,
                                      GPid *out_pid,
                                      int *out_fd,
                                      GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_tty_create_child (const gchar * const *argv,
                                   const gchar * const *envp,
                                   GPid *out_pid,
                                   int *out_fd,
                                   GError **error);

MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_set_nonblocking  (int fd,
                                   gboolean nonblocking,
                                   GError **error);

G_END_DECLS
