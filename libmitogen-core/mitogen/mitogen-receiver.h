/* mitogen-receiver.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-latch.h>
#include <mitogen/mitogen-router.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_RECEIVER (mitogen_receiver_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenReceiver, mitogen_receiver, MITOGEN, RECEIVER,
                      GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenReceiver *mitogen_receiver_new        (MitogenRouter *router,
                                              guint32 handle,
                                              gboolean persist,
                                              guint32 respondent_id,
                                              MitogenPolicyFunc policy);
MITOGEN_AVAILABLE_IN_ALL
guint32          mitogen_receiver_get_handle (MitogenReceiver *self);
MITOGEN_AVAILABLE_IN_ALL
MitogenRouter   *mitogen_receiver_get_router (MitogenReceiver *self);
MITOGEN_AVAILABLE_IN_ALL
MitogenLatch    *mitogen_receiver_get_latch  (MitogenReceiver *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_receiver_empty      (MitogenReceiver *self);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage  *mitogen_receiver_get        (MitogenReceiver *self,
                                              gint64 timeout_usec,
                                              GCancellable *cancellable,
                                              GError **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_receiver_get_async  (MitogenReceiver *self,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage  *mitogen_receiver_get_finish (MitogenReceiver *self,
                                              GAsyncResult *result,
                                              GError **error);
MITOGEN_AVAILABLE_IN_ALL
GVariant *mitogen_receiver_get_value (MitogenReceiver *self,
                                      gint64 timeout_usec,
                                      GCancellable *cancellable,
                                      GError **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_receiver_close      (MitogenReceiver *self);

G_END_DECLS
