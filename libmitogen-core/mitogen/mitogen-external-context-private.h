/* mitogen-external-context-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-external-context.h"
#include "mitogen-fork-server.h"
#include "mitogen-io-logger-private.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL
MitogenIoLogger *mitogen_external_context_get_stdout_log (MitogenExternalContext *self);
G_GNUC_INTERNAL
MitogenIoLogger *mitogen_external_context_get_stderr_log (MitogenExternalContext *self);
G_GNUC_INTERNAL
void mitogen_external_context_set_log_writer_taken (MitogenExternalContext *self);
G_GNUC_INTERNAL
void mitogen_external_context_set_on_start (MitogenExternalContext *self,
                                            const gchar *name,
                                            MitogenForkOnStart func,
                                            GVariant *args,
                                            gpointer user_data);

G_END_DECLS
