/* mitogen-router-private.h: what streams need of the router
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-router.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL
void mitogen_router_route_from_stream (MitogenRouter *self,
                                       MitogenMessage *msg,
                                       MitogenStream *in_stream);

G_GNUC_INTERNAL
void mitogen_router_emit_upload_progress (MitogenRouter *self,
                                          const gchar *context_name,
                                          guint64 received,
                                          guint64 total);

G_GNUC_INTERNAL
GPtrArray *mitogen_router_dup_child_streams (MitogenRouter *self);

G_GNUC_INTERNAL
gboolean       mitogen_router_is_parent_id    (MitogenRouter *self,
                                               guint32 context_id);
G_GNUC_INTERNAL
void           mitogen_router_send_dead       (MitogenRouter *self,
                                               MitogenMessage *msg,
                                               const gchar *reason);
G_GNUC_INTERNAL
gboolean mitogen_router_policy_is_immediate_child   (MitogenRouter *router,
                                                     MitogenMessage *msg,
                                                     MitogenStream *stream);

G_END_DECLS
