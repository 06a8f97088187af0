/* mitogen-sent-modules.h: which modules went down which stream
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-router.h"

G_BEGIN_DECLS

#define MITOGEN_TYPE_SENT_MODULES (mitogen_sent_modules_get_type ())

G_GNUC_INTERNAL
G_DECLARE_FINAL_TYPE (
    MitogenSentModules, mitogen_sent_modules, MITOGEN, SENT_MODULES, GObject)

G_GNUC_INTERNAL
MitogenSentModules *mitogen_sent_modules_new (MitogenRouter *router);

G_GNUC_INTERNAL
guint32 mitogen_sent_modules_branch_of (MitogenSentModules *self,
                                        guint32 context_id);

G_GNUC_INTERNAL
gboolean mitogen_sent_modules_contains (MitogenSentModules *self,
                                        guint32 branch_id,
                                        const gchar *name);

G_GNUC_INTERNAL
void mitogen_sent_modules_add (MitogenSentModules *self,
                               guint32 branch_id,
                               const gchar *name);

G_GNUC_INTERNAL
gboolean mitogen_sent_modules_refuse_repeat (MitogenSentModules *self,
                                             guint32 context_id,
                                             const gchar *name);

G_GNUC_INTERNAL
guint mitogen_sent_modules_get_n_branches (MitogenSentModules *self);

G_END_DECLS
