/* mitogen-id-allocator.h: context ids, and which branch owns which
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-router.h"

G_BEGIN_DECLS

#define MITOGEN_TYPE_ID_ALLOCATOR (mitogen_id_allocator_get_type ())

G_GNUC_INTERNAL
G_DECLARE_FINAL_TYPE (
    MitogenIdAllocator, mitogen_id_allocator, MITOGEN, ID_ALLOCATOR, GObject)

G_GNUC_INTERNAL
MitogenIdAllocator *mitogen_id_allocator_new (MitogenRouter *router);

G_GNUC_INTERNAL
guint32 mitogen_id_allocator_allocate (MitogenIdAllocator *self,
                                       GCancellable *cancellable,
                                       GError **error);

G_GNUC_INTERNAL
guint32 mitogen_id_allocator_get_quota (MitogenIdAllocator *self);

G_GNUC_INTERNAL
void mitogen_id_allocator_set_quota (MitogenIdAllocator *self, guint32 quota);

G_GNUC_INTERNAL
void mitogen_id_allocator_answer_request (MitogenIdAllocator *self,
                                          MitogenMessage *msg,
                                          guint32 branch_id);

G_GNUC_INTERNAL
void mitogen_id_allocator_note_passing (MitogenIdAllocator *self,
                                        MitogenMessage *msg,
                                        MitogenStream *in_stream);

G_GNUC_INTERNAL
gboolean mitogen_id_allocator_branch_owns (MitogenIdAllocator *self,
                                           guint32 branch_id,
                                           guint32 context_id);

G_GNUC_INTERNAL
void mitogen_id_allocator_forget_branch (MitogenIdAllocator *self,
                                         guint32 branch_id);

G_GNUC_INTERNAL
guint mitogen_id_allocator_get_n_branches (MitogenIdAllocator *self);

G_END_DECLS
