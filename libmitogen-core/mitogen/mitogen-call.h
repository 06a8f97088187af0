/* mitogen-call.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-router.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_CALL (mitogen_call_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenCall, mitogen_call, MITOGEN, CALL, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenCall   *mitogen_call_new              (MitogenRouter *router,
                                              guint32 caller_id,
                                              guint32 progress_handle,
                                              const gchar *module,
                                              const gchar *function);
MITOGEN_AVAILABLE_IN_ALL
MitogenRouter *mitogen_call_get_router       (MitogenCall *self);
MITOGEN_AVAILABLE_IN_ALL
guint32        mitogen_call_get_caller_id    (MitogenCall *self);
MITOGEN_AVAILABLE_IN_ALL
const gchar   *mitogen_call_get_module       (MitogenCall *self);
MITOGEN_AVAILABLE_IN_ALL
const gchar   *mitogen_call_get_function     (MitogenCall *self);
MITOGEN_AVAILABLE_IN_ALL
GCancellable  *mitogen_call_get_cancellable  (MitogenCall *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_call_wants_progress   (MitogenCall *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_call_emit_progress    (MitogenCall *self,
                                              GVariant *data);

G_END_DECLS
