/* mitogen-stderr-tail-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MitogenStderrTail MitogenStderrTail;

G_GNUC_INTERNAL
MitogenStderrTail *mitogen_stderr_tail_new    (int fd);
G_GNUC_INTERNAL
MitogenStderrTail *mitogen_stderr_tail_ref    (MitogenStderrTail *self);
G_GNUC_INTERNAL
void               mitogen_stderr_tail_unref  (MitogenStderrTail *self);
G_GNUC_INTERNAL
void               mitogen_stderr_tail_start  (MitogenStderrTail *self,
                                               GMainContext *context);
G_GNUC_INTERNAL
gchar             *mitogen_stderr_tail_drain  (MitogenStderrTail *self);
G_GNUC_INTERNAL
void               mitogen_stderr_tail_forget (MitogenStderrTail *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenStderrTail, mitogen_stderr_tail_unref)

G_END_DECLS
