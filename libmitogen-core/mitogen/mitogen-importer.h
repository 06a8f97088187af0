/* mitogen-importer.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-module-info.h>
#include <mitogen/mitogen-router.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_IMPORTER (mitogen_importer_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenImporter, mitogen_importer, MITOGEN, IMPORTER,
                      GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenImporter *mitogen_importer_new           (const gchar * const *path);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_importer_add_path      (MitogenImporter *self,
                                                 const gchar *dir);
MITOGEN_AVAILABLE_IN_ALL
const MitogenModuleInfo *
                 mitogen_importer_load          (MitogenImporter *self,
                                                 const gchar *name,
                                                 GError **error);
MITOGEN_AVAILABLE_IN_ALL
const MitogenFunctionInfo *
                 mitogen_importer_find_function (MitogenImporter *self,
                                                 const gchar *module,
                                                 const gchar *function,
                                                 GError **error);
MITOGEN_AVAILABLE_IN_ALL
GBytes          *mitogen_importer_fetch         (MitogenImporter *self,
                                                 const gchar *name,
                                                 GError **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_importer_set_parent    (MitogenImporter *self,
                                                 MitogenRouter *router,
                                                 guint32 parent_id);
MITOGEN_AVAILABLE_IN_ALL
guint            mitogen_importer_get_n_requests (MitogenImporter *self);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_importer_request       (MitogenImporter *self,
                                                 const gchar *name);
MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_importer_lookup_fetched (MitogenImporter *self,
                                                  const gchar *name,
                                                  gboolean *out_found,
                                                  GBytes **out_bytes,
                                                  gchar **out_sha256,
                                                  gchar ***out_requires,
                                                  gchar **out_error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_importer_forget        (MitogenImporter *self,
                                                 const gchar *name);
MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_importer_is_valid_name (const gchar *name);

G_END_DECLS
