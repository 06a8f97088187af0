/* mitogen-tree-listing-private.h: the checks get_tree makes of the
 * listing a context gives (core.list_tree). Private.
 *
 * The listing is the other side's word: its entries come parents first,
 * the tree itself (the relative path "") first of all, and each other path
 * is made of plain components ("", "." and ".." are not) below a
 * directory listed before it and made here. A symlink is never a parent,
 * so nothing is written through one. Without file system access, so that
 * a fuzz target can drive it.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MITOGEN_TREE_LISTING_TYPE "a(ssuts)"

typedef struct _MitogenTreeListing MitogenTreeListing;

G_GNUC_INTERNAL
MitogenTreeListing *mitogen_tree_listing_new (const gchar *context_name,
                                              const gchar *src);
G_GNUC_INTERNAL
gboolean mitogen_tree_listing_check_type (MitogenTreeListing *self,
                                          GVariant *listing,
                                          GError **error);
G_GNUC_INTERNAL
gboolean mitogen_tree_listing_check (MitogenTreeListing *self,
                                     const gchar *relative,
                                     GError **error);
G_GNUC_INTERNAL
void mitogen_tree_listing_add_dir (MitogenTreeListing *self,
                                   const gchar *relative);
G_GNUC_INTERNAL
gboolean mitogen_tree_listing_finish (MitogenTreeListing *self, GError **error);
G_GNUC_INTERNAL
void mitogen_tree_listing_free (MitogenTreeListing *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenTreeListing, mitogen_tree_listing_free)

G_END_DECLS
