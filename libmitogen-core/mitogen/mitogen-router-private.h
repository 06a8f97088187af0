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
GPtrArray *mitogen_router_dup_child_streams (MitogenRouter *self);

G_END_DECLS
