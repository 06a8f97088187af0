/* mitogen-push-file-service.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-router.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_PUSH_FILE_SERVICE (mitogen_push_file_service_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenPushFileService,
                      mitogen_push_file_service,
                      MITOGEN,
                      PUSH_FILE_SERVICE,
                      GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenPushFileService *
mitogen_push_file_service_get_default (MitogenRouter *router);
MITOGEN_AVAILABLE_IN_ALL
guint mitogen_push_file_service_get_n_fetched (MitogenPushFileService *self);

G_END_DECLS
