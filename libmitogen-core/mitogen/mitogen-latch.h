/* mitogen-latch.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_LATCH (mitogen_latch_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenLatch, mitogen_latch, MITOGEN, LATCH, GObject)

/**
 * MitogenLatchNotify:
 * @latch: the latch that received an item
 * @user_data: the data given to mitogen_latch_set_notify()
 *
 * Called, from the thread that called mitogen_latch_put(), when an item
 * arrives that no sleeping thread took.
 */
typedef void (*MitogenLatchNotify) (MitogenLatch *latch, gpointer user_data);

MITOGEN_AVAILABLE_IN_ALL
MitogenLatch *mitogen_latch_new      (void);
MITOGEN_AVAILABLE_IN_ALL
MitogenLatch *mitogen_latch_new_full (GDestroyNotify item_free);

MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_latch_empty  (MitogenLatch *self);
MITOGEN_AVAILABLE_IN_ALL
gsize    mitogen_latch_size   (MitogenLatch *self);
MITOGEN_AVAILABLE_IN_ALL
guint mitogen_latch_get_n_waiters (MitogenLatch *self);
MITOGEN_AVAILABLE_IN_ALL
gpointer mitogen_latch_get    (MitogenLatch *self,
                               gint64 timeout_usec,
                               gboolean block,
                               GCancellable *cancellable,
                               GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_latch_put    (MitogenLatch *self,
                               gpointer item,
                               GError **error);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_latch_close  (MitogenLatch *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_latch_is_closed (MitogenLatch *self);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_latch_set_notify (MitogenLatch *self,
                                   MitogenLatchNotify notify,
                                   gpointer user_data);

G_END_DECLS
