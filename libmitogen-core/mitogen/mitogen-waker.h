/* mitogen-waker.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-basic-stream.h>
#include <mitogen/mitogen-broker.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_WAKER (mitogen_waker_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenWaker, mitogen_waker, MITOGEN, WAKER,
                      MitogenBasicStream)

MITOGEN_AVAILABLE_IN_ALL
MitogenWaker *mitogen_waker_new   (MitogenBroker *broker,
                                   GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean      mitogen_waker_defer (MitogenWaker *self,
                                   MitogenDeferFunc func,
                                   gpointer user_data,
                                   GDestroyNotify destroy);
MITOGEN_AVAILABLE_IN_ALL
void          mitogen_waker_close (MitogenWaker *self);

G_END_DECLS
