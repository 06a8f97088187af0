/* mitogen-waker-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-basic-stream.h"
#include "mitogen-broker.h"

G_BEGIN_DECLS

#define MITOGEN_TYPE_WAKER (mitogen_waker_get_type ())
G_GNUC_INTERNAL
G_DECLARE_FINAL_TYPE (MitogenWaker, mitogen_waker, MITOGEN, WAKER,
                      MitogenBasicStream)

G_GNUC_INTERNAL
MitogenWaker *mitogen_waker_new   (MitogenBroker *broker,
                                   GError **error);
G_GNUC_INTERNAL
gboolean      mitogen_waker_defer (MitogenWaker *self,
                                   MitogenDeferFunc func,
                                   gpointer user_data,
                                   GDestroyNotify destroy);
G_GNUC_INTERNAL
void          mitogen_waker_close (MitogenWaker *self);

G_END_DECLS
