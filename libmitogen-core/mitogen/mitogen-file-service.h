/* mitogen-file-service.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-router.h>

G_BEGIN_DECLS

/**
 * MITOGEN_FILE_SERVICE_NAME:
 *
 * The service name under which contexts fetch files from their parent.
 */
#define MITOGEN_FILE_SERVICE_NAME "mitogen.FileService"

#define MITOGEN_TYPE_FILE_SERVICE (mitogen_file_service_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (
    MitogenFileService, mitogen_file_service, MITOGEN, FILE_SERVICE, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenFileService *mitogen_file_service_get_default (MitogenRouter *router);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_file_service_register (MitogenFileService *self,
                                        const gchar *path,
                                        GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_file_service_register_prefix (MitogenFileService *self,
                                               const gchar *root,
                                               GError **error);

G_END_DECLS
