/* mitogen-tree-listing.c: see mitogen-tree-listing-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-tree-listing-private.h"

#include "mitogen-errors.h"

#include <string.h>

struct _MitogenTreeListing
{
  gchar *context_name;
  gchar *src;
  gboolean seen_root;
  GHashTable *dirs; /* relative paths of the directories made */
};

MitogenTreeListing *
mitogen_tree_listing_new (const gchar *context_name, const gchar *src)
{
  MitogenTreeListing *self = g_new0 (MitogenTreeListing, 1);

  self->context_name = g_strdup (context_name);
  self->src = g_strdup (src);
  self->dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return self;
}

void
mitogen_tree_listing_free (MitogenTreeListing *self)
{
  g_hash_table_unref (self->dirs);
  g_free (self->context_name);
  g_free (self->src);
  g_free (self);
}

static gboolean
set_listing_error (GError **error,
                   const MitogenTreeListing *self,
                   const gchar *relative,
                   const gchar *why)
{
  g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
               "%s listed “%s” below “%s”, which %s", self->context_name,
               relative, self->src, why);
  return FALSE;
}

gboolean
mitogen_tree_listing_check_type (MitogenTreeListing *self,
                                 GVariant *listing,
                                 GError **error)
{
  if (!g_variant_is_of_type (listing,
                             G_VARIANT_TYPE (MITOGEN_TREE_LISTING_TYPE)))
    return set_listing_error (error, self, "", "is not a listing");
  return TRUE;
}

/* Plain components only: no empty ones (a leading, trailing or doubled
 * slash), no "." and no "..". */
static gboolean
is_plain_path (const gchar *relative)
{
  const gchar *part = relative;

  for (;;)
    {
      const gchar *end = strchr (part, '/');
      gsize len = end ? (gsize) (end - part) : strlen (part);

      if (len == 0 || (len == 1 && part[0] == '.')
          || (len == 2 && part[0] == '.' && part[1] == '.'))
        return FALSE;
      if (!end)
        return TRUE;
      part = end + 1;
    }
}

gboolean
mitogen_tree_listing_check (MitogenTreeListing *self,
                            const gchar *relative,
                            GError **error)
{
  const gchar *slash;
  g_autofree gchar *parent = NULL;

  if (self->seen_root == (*relative == '\0'))
    return set_listing_error (error, self, relative,
                              "does not begin with the tree itself");
  if (!self->seen_root)
    {
      self->seen_root = TRUE;
      return TRUE;
    }
  if (!is_plain_path (relative))
    return set_listing_error (error, self, relative, "is not a path below it");
  slash = strrchr (relative, '/');
  parent = slash ? g_strndup (relative, (gsize) (slash - relative))
                 : g_strdup ("");
  if (!g_hash_table_contains (self->dirs, parent))
    return set_listing_error (error, self, relative,
                              "is not in a directory listed before it");
  return TRUE;
}

/* @relative, checked, is now a directory here: entries may go in it. */
void
mitogen_tree_listing_add_dir (MitogenTreeListing *self, const gchar *relative)
{
  g_hash_table_add (self->dirs, g_strdup (relative));
}

gboolean
mitogen_tree_listing_finish (MitogenTreeListing *self, GError **error)
{
  if (!self->seen_root)
    return set_listing_error (error, self, "", "is empty");
  return TRUE;
}
