/* fuzz-tree-listing.c: the listing a context gives for get_tree
 * (core.list_tree), checked as mitogen_context_get_tree() checks it
 *
 * Input: a serialised `v`, the listing of any type. Entries are checked in
 * order until one is refused, each directory accepted counting as made, as
 * get_tree makes it. The checks must agree exactly with a model written
 * here from the rules: the tree itself first and only first, then paths of
 * plain components below a directory accepted before; every path accepted
 * stays below the destination once joined to it.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <stdlib.h>
#include <string.h>

#include <mitogen/mitogen-tree-listing-private.h>

#include "fuzz-common.h"

#define DST "/dst"

/* What the rules say of @relative, the entry after @n_done accepted. */
static gboolean
model_accepts (GHashTable *dirs, guint n_done, const gchar *relative)
{
  g_auto (GStrv) parts = NULL;
  g_autofree gchar *parent = NULL;
  guint n;

  if (*relative == '\0' || n_done == 0)
    return *relative == '\0' && n_done == 0;
  parts = g_strsplit (relative, "/", -1);
  n = g_strv_length (parts);
  for (guint i = 0; i < n; i++)
    if (!*parts[i] || g_str_equal (parts[i], ".")
        || g_str_equal (parts[i], ".."))
      return FALSE;
  g_free (parts[n - 1]);
  parts[n - 1] = NULL;
  parent = g_strjoinv ("/", parts);
  return g_hash_table_contains (dirs, parent);
}

/* Joined to the destination, an accepted path names it or a path below. */
static void
check_below (const gchar *relative)
{
  g_autofree gchar *joined = g_build_filename (DST, relative, NULL);
  g_autofree gchar *canonical = g_canonicalize_filename (joined, "/");

  if (!g_str_equal (canonical, DST) && !g_str_has_prefix (canonical, DST "/"))
    abort ();
}

static void
check_listing (GVariant *listing)
{
  g_autoptr (MitogenTreeListing) checks
      = mitogen_tree_listing_new ("fuzz", "/src");
  g_autoptr (GHashTable) dirs
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GError) error = NULL;
  GVariantIter iter;
  const gchar *relative, *type, *target;
  guint32 mode;
  guint64 size;
  guint n_done = 0;

  if (!mitogen_tree_listing_check_type (checks, listing, &error))
    {
      if (g_variant_is_of_type (listing,
                                G_VARIANT_TYPE (MITOGEN_TREE_LISTING_TYPE)))
        abort ();
      return;
    }
  g_variant_iter_init (&iter, listing);
  while (g_variant_iter_next (&iter, "(&s&sut&s)", &relative, &type, &mode,
                              &size, &target))
    {
      gboolean ok = mitogen_tree_listing_check (checks, relative, &error);

      if (ok != model_accepts (dirs, n_done, relative))
        abort ();
      if (!ok)
        {
          if (!g_error_matches (error, MITOGEN_STREAM_ERROR,
                                MITOGEN_STREAM_ERROR_PROTOCOL))
            abort ();
          return;
        }
      check_below (relative);
      if (g_str_equal (type, "directory"))
        {
          mitogen_tree_listing_add_dir (checks, relative);
          g_hash_table_add (dirs, g_strdup (relative));
        }
      n_done++;
    }
  if (mitogen_tree_listing_finish (checks, &error) != (n_done > 0))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GVariant) outer = g_variant_ref_sink (
      g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT, bytes, FALSE));
  g_autoptr (GVariant) listing = g_variant_get_variant (outer);

  fuzz_init_logging ();
  check_listing (listing);
  return 0;
}

static void
add_seed (GPtrArray *seeds, const gchar *text)
{
  g_autoptr (GVariant) listing = g_variant_parse (NULL, text, NULL, NULL, NULL);
  g_autoptr (GVariant) outer
      = g_variant_ref_sink (g_variant_new_variant (listing));

  g_assert (listing);
  g_ptr_array_add (seeds, g_variant_get_data_as_bytes (outer));
}

#define ROOT "('', 'directory', uint32 493, uint64 0, '')"

void
fuzz_target_seeds (GPtrArray *seeds)
{
  add_seed (seeds, "[" ROOT ", ('a', 'directory', 493, 0, ''), "
                   "('a/f', 'file', 420, 3, ''), ('l', 'symlink', 511, 0, "
                   "'a'), ('l/x', 'file', 420, 3, '')]");
  add_seed (seeds, "[" ROOT ", ('../x', 'file', 420, 3, '')]");
  add_seed (seeds, "[" ROOT ", ('a', 'directory', 493, 0, ''), "
                   "('a/../../x', 'file', 420, 3, '')]");
  add_seed (seeds, "[" ROOT ", ('..', 'directory', 493, 0, ''), "
                   "('../x', 'file', 420, 3, '')]");
  add_seed (seeds, "[" ROOT ", ('.', 'directory', 493, 0, '')]");
  add_seed (seeds, "[" ROOT ", ('/etc/x', 'file', 420, 3, '')]");
  add_seed (seeds, "[" ROOT ", ('a//b', 'file', 420, 3, '')]");
  add_seed (seeds, "[('a', 'directory', uint32 493, uint64 0, '')]");
  add_seed (seeds, "[" ROOT ", " ROOT "]");
  add_seed (seeds, "@a(ssuts) []");
  add_seed (seeds, "'not a listing'");
}
