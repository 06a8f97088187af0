/* mitogen-module-responder.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-router.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_MODULE_RESPONDER (mitogen_module_responder_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenModuleResponder, mitogen_module_responder,
                      MITOGEN, MODULE_RESPONDER, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenModuleResponder *mitogen_module_responder_new            (MitogenRouter *router,
                                                                 const gchar * const *path);
MITOGEN_AVAILABLE_IN_ALL
MitogenModuleResponder *mitogen_module_responder_get_for_router (MitogenRouter *router);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_module_responder_add_path       (MitogenModuleResponder *self,
                                                  const gchar *dir);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_module_responder_register_file  (MitogenModuleResponder *self,
                                                  const gchar *file,
                                                  gchar **out_name,
                                                  GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_module_responder_register_bytes (MitogenModuleResponder *self,
                                                  const gchar *name,
                                                  GBytes *bytes,
                                                  GError **error);
MITOGEN_AVAILABLE_IN_ALL
GBytes  *mitogen_module_responder_lookup         (MitogenModuleResponder *self,
                                                  const gchar *name,
                                                  gchar **out_sha256,
                                                  gchar ***out_requires,
                                                  GError **error);
MITOGEN_AVAILABLE_IN_ALL
guint    mitogen_module_responder_get_n_requests (MitogenModuleResponder *self);
MITOGEN_AVAILABLE_IN_ALL
guint    mitogen_module_responder_get_n_contexts (MitogenModuleResponder *self);
MITOGEN_AVAILABLE_IN_ALL
guint64  mitogen_module_responder_get_bytes_sent (MitogenModuleResponder *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_module_responder_forward_modules (MitogenModuleResponder *self,
                                                   guint32 context_id,
                                                   const gchar * const *modules,
                                                   GError **error);

MITOGEN_AVAILABLE_IN_ALL
gchar  **mitogen_get_child_modules               (const gchar *path);

G_END_DECLS
