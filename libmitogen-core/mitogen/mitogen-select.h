/* mitogen-select.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-latch.h>
#include <mitogen/mitogen-message.h>
#include <mitogen/mitogen-receiver.h>

G_BEGIN_DECLS

/**
 * MitogenSelectError:
 * @MITOGEN_SELECT_ERROR_OWNED: the source already belongs to a select
 *   (this one or another): Mitogen's "Cannot add a Receiver to more than
 *   one Select"
 * @MITOGEN_SELECT_ERROR_CYCLE: adding the select would make it watch
 *   itself
 * @MITOGEN_SELECT_ERROR_BAD_SOURCE: the source is not a receiver, channel,
 *   latch or select
 *
 * Errors of [method@Select.add].
 */
typedef enum
{
  MITOGEN_SELECT_ERROR_OWNED,
  MITOGEN_SELECT_ERROR_CYCLE,
  MITOGEN_SELECT_ERROR_BAD_SOURCE,
} MitogenSelectError;

#define MITOGEN_SELECT_ERROR (mitogen_select_error_quark ())
MITOGEN_AVAILABLE_IN_ALL
GQuark mitogen_select_error_quark (void);

#define MITOGEN_TYPE_SELECT (mitogen_select_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenSelect, mitogen_select, MITOGEN, SELECT, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenSelect *mitogen_select_new     (gboolean oneshot);
MITOGEN_AVAILABLE_IN_ALL
gboolean
mitogen_select_add (MitogenSelect *self, GObject *source, GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_select_remove  (MitogenSelect *self,
                                       GObject *source);

MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_select_empty   (MitogenSelect *self);
MITOGEN_AVAILABLE_IN_ALL
guint          mitogen_select_size    (MitogenSelect *self);
MITOGEN_AVAILABLE_IN_ALL
guint mitogen_select_get_n_waiters (MitogenSelect *self);
MITOGEN_AVAILABLE_IN_ALL
gpointer       mitogen_select_get     (MitogenSelect *self,
                                       gint64 timeout_usec,
                                       GCancellable *cancellable,
                                       GObject **out_source,
                                       GError **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_select_get_message (MitogenSelect *self,
                                            gint64 timeout_usec,
                                            GCancellable *cancellable,
                                            GObject **out_source,
                                            GError **error);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_select_close   (MitogenSelect *self);

G_END_DECLS
