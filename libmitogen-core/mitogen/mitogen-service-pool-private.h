/* mitogen-service-pool-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-service-pool.h"

G_BEGIN_DECLS

/* Sends a CALL_SERVICE request whose reply goes to @reply_to, for
 * callers that read it on a receiver of their own (a file stream ends
 * with it). */
G_GNUC_INTERNAL
gboolean mitogen_service_send_request (MitogenRouter *router,
                                       guint32 dst_id,
                                       const gchar *service,
                                       const gchar *method,
                                       GVariant *args,
                                       guint32 reply_to,
                                       GCancellable *cancellable,
                                       GError **error);

G_END_DECLS
