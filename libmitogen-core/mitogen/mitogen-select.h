/* mitogen-select.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-latch.h>
#include <mitogen/mitogen-receiver.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_SELECT (mitogen_select_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenSelect, mitogen_select, MITOGEN, SELECT, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenSelect *mitogen_select_new     (gboolean oneshot);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_select_add     (MitogenSelect *self,
                                       GObject *source);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_select_remove  (MitogenSelect *self,
                                       GObject *source);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_select_empty   (MitogenSelect *self);
MITOGEN_AVAILABLE_IN_ALL
guint          mitogen_select_size    (MitogenSelect *self);
MITOGEN_AVAILABLE_IN_ALL
gpointer       mitogen_select_get     (MitogenSelect *self,
                                       gint64 timeout_usec,
                                       GCancellable *cancellable,
                                       GObject **out_source,
                                       GError **error);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_select_close   (MitogenSelect *self);

G_END_DECLS
