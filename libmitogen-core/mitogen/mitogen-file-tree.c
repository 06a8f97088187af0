/* mitogen-file-tree.c: copying a directory tree to and from a context
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-errors.h"
#include "mitogen-file-transfer-private.h"
#include "mitogen-tree-listing-private.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct
{
  MitogenContext *context;
  MitogenFileProgress *progress;
  GCancellable *cancellable;
  guint64 done;
  guint64 total;
} Tree;

static gboolean
set_errno_error (GError **error, const gchar *path)
{
  int errsv = errno;

  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
               "Cannot read “%s”: %s", path, g_strerror (errsv));
  return FALSE;
}

/* The bytes of every regular file below @path, for the progress. */
static gboolean
measure (const gchar *path, guint64 *total, GError **error)
{
  g_autoptr (GDir) dir = NULL;
  const gchar *name;
  GStatBuf st;

  if (g_lstat (path, &st) < 0)
    return set_errno_error (error, path);
  if (S_ISREG (st.st_mode))
    *total += (guint64) st.st_size;
  if (!S_ISDIR (st.st_mode))
    return TRUE;
  dir = g_dir_open (path, 0, error);
  if (!dir)
    return FALSE;
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree gchar *child = g_build_filename (path, name, NULL);

      if (!measure (child, total, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
call (Tree *tree, const gchar *function, GVariant *args, GError **error)
{
  g_autoptr (GVariant) result = mitogen_context_call (
      tree->context, function, args, tree->cancellable, error);
  return result != NULL;
}

static gboolean
copy_entry (Tree *tree, const gchar *src, const gchar *dst, GError **error);

static gboolean
copy_dir (
    Tree *tree, const gchar *src, const gchar *dst, guint mode, GError **error)
{
  g_autoptr (GDir) dir = NULL;
  const gchar *name;

  /* Writable while filling, its own mode once full. */
  if (!call (tree, "core.make_dir", g_variant_new ("(su)", dst, mode | 0700),
             error))
    return FALSE;
  dir = g_dir_open (src, 0, error);
  if (!dir)
    return FALSE;
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree gchar *from = g_build_filename (src, name, NULL);
      g_autofree gchar *to = g_build_filename (dst, name, NULL);

      if (!copy_entry (tree, from, to, error))
        return FALSE;
    }
  return call (tree, "core.make_dir", g_variant_new ("(su)", dst, mode), error);
}

static gboolean
copy_entry (Tree *tree, const gchar *src, const gchar *dst, GError **error)
{
  GStatBuf st;

  if (g_cancellable_set_error_if_cancelled (tree->cancellable, error))
    return FALSE;
  if (g_lstat (src, &st) < 0)
    return set_errno_error (error, src);
  if (S_ISDIR (st.st_mode))
    return copy_dir (tree, src, dst, st.st_mode & 07777, error);
  if (S_ISLNK (st.st_mode))
    {
      g_autofree gchar *target = g_file_read_link (src, error);

      return target
             && call (tree, "core.make_symlink",
                      g_variant_new ("(ss)", target, dst), error);
    }
  if (S_ISREG (st.st_mode))
    {
      if (!mitogen_context_put_file_at (tree->context, src, dst, tree->progress,
                                        tree->done, tree->total,
                                        tree->cancellable, error))
        return FALSE;
      tree->done += (guint64) st.st_size;
      return TRUE;
    }
  /* Devices, fifos and sockets are not files to copy. */
  g_debug ("Not copying “%s”: not a file, directory or symlink", src);
  return TRUE;
}

static gboolean
put_tree (MitogenContext *self,
          const gchar *src,
          const gchar *dst,
          MitogenFileProgress *progress,
          GCancellable *cancellable,
          GError **error)
{
  Tree tree = { self, progress, cancellable, 0, 0 };

  if (!measure (src, &tree.total, error))
    return FALSE;
  if (progress)
    mitogen_file_progress_update (progress, 0, tree.total);
  return copy_entry (&tree, src, dst, error);
}

/**
 * mitogen_context_put_tree:
 * @self: the context to write to
 * @src: a local directory (or file)
 * @dst: the path to create in @self
 * @progress: (nullable): told of the bytes of all files written
 * @cancellable: (nullable): stops the copy on both sides
 * @error: return location for an error
 *
 * Copies @src and everything below it to @dst in @self: directories with
 * their modes, symlinks as symlinks (never followed), and each file as
 * mitogen_context_put_file() does. A failure stops the copy with the
 * files done so far in place and the one in progress not begun.
 *
 * Returns: %TRUE once all of it is in place
 */
gboolean
mitogen_context_put_tree (MitogenContext *self,
                          const gchar *src,
                          const gchar *dst,
                          MitogenFileProgress *progress,
                          GCancellable *cancellable,
                          GError **error)
{
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (self), FALSE);
  return put_tree (self, src, dst, progress, cancellable, error);
}

/**
 * mitogen_context_put_tree_async:
 * @self: the context to write to
 * @src: a local directory (or file)
 * @dst: the path to create in @self
 * @progress: (nullable): told of the bytes of all files written
 * @cancellable: (nullable): stops the copy on both sides
 * @callback: called when done
 * @user_data: its data
 *
 * Starts mitogen_context_put_tree() on a worker thread.
 */
void
mitogen_context_put_tree_async (MitogenContext *self,
                                const gchar *src,
                                const gchar *dst,
                                MitogenFileProgress *progress,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_return_if_fail (MITOGEN_IS_CONTEXT (self));
  mitogen_file_transfer_start (self, put_tree, mitogen_context_put_tree_async,
                               src, dst, progress, cancellable, callback,
                               user_data);
}

/**
 * mitogen_context_put_tree_finish:
 * @self: the context
 * @result: the result
 * @error: return location for an error
 *
 * Finishes mitogen_context_put_tree_async().
 *
 * Returns: as mitogen_context_put_tree()
 */
gboolean
mitogen_context_put_tree_finish (MitogenContext *self,
                                 GAsyncResult *result,
                                 GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Getting a tree: the child lists it (core.list_tree) and each entry is
 * made here. The listing is the child's word, so each path is checked
 * (mitogen-tree-listing-private.h) to stay below @dst, and to lie in a
 * directory this copy made or found to be a directory (never through a
 * symlink the listing made). */

typedef struct
{
  MitogenContext *context;
  MitogenFileProgress *progress;
  GCancellable *cancellable;
  const gchar *src;
  const gchar *dst;
  guint64 done;
  guint64 total;
  MitogenTreeListing *listing; /* the checks, and the directories made */
  GPtrArray *modes; /* (local path, mode) of each, to set once full */
} GetTree;

typedef struct
{
  gchar *path;
  guint mode;
} DirMode;

static void
dir_mode_free (gpointer data)
{
  DirMode *d = data;

  g_free (d->path);
  g_free (d);
}

static gboolean
make_local_dir (GetTree *tree,
                const gchar *relative,
                const gchar *path,
                guint mode,
                GError **error)
{
  GStatBuf st;
  DirMode *d;

  /* Writable while filling, its own mode once full. */
  if (g_mkdir (path, 0700) < 0
      && !(errno == EEXIST && g_lstat (path, &st) == 0 && S_ISDIR (st.st_mode)))
    {
      int errsv = errno == EEXIST ? ENOTDIR : errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot make directory “%s”: %s", path, g_strerror (errsv));
      return FALSE;
    }
  mitogen_tree_listing_add_dir (tree->listing, relative);
  d = g_new0 (DirMode, 1);
  d->path = g_strdup (path);
  d->mode = mode;
  g_ptr_array_add (tree->modes, d);
  return TRUE;
}

/* Replaces whatever is at @path, as core.make_symlink does remotely. */
static gboolean
make_local_symlink (const gchar *target, const gchar *path, GError **error)
{
  g_autofree gchar *tmp
      = g_strdup_printf ("%s.mitogen-%08x", path, g_random_int ());

  if (symlink (target, tmp) < 0 || g_rename (tmp, path) < 0)
    {
      int errsv = errno;
      g_unlink (tmp);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot make symlink “%s”: %s", path, g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

static gboolean
get_entry (GetTree *tree,
           const gchar *relative,
           const gchar *type,
           guint mode,
           guint64 size,
           const gchar *target,
           GError **error)
{
  g_autofree gchar *from = *relative
                               ? g_build_filename (tree->src, relative, NULL)
                               : g_strdup (tree->src);
  g_autofree gchar *to = *relative
                             ? g_build_filename (tree->dst, relative, NULL)
                             : g_strdup (tree->dst);

  if (g_cancellable_set_error_if_cancelled (tree->cancellable, error))
    return FALSE;
  if (!mitogen_tree_listing_check (tree->listing, relative, error))
    return FALSE;
  if (g_str_equal (type, "directory"))
    return make_local_dir (tree, relative, to, mode & 07777, error);
  if (g_str_equal (type, "symlink"))
    return make_local_symlink (target, to, error);
  if (g_str_equal (type, "file"))
    {
      if (!mitogen_context_get_file_at (tree->context, from, to, tree->progress,
                                        tree->done, tree->total,
                                        tree->cancellable, error))
        return FALSE;
      tree->done += size;
      return TRUE;
    }
  g_debug ("Not copying “%s”: not a file, directory or symlink", from);
  return TRUE;
}

static gboolean
get_listed (GetTree *tree, GVariant *listing, GError **error)
{
  GVariantIter iter;
  const gchar *relative, *type, *target;
  guint32 mode;
  guint64 size;

  g_variant_iter_init (&iter, listing);
  while (g_variant_iter_next (&iter, "(&s&sut&s)", &relative, &type, &mode,
                              &size, &target))
    if (g_str_equal (type, "file"))
      tree->total += size;
  if (tree->progress)
    mitogen_file_progress_update (tree->progress, 0, tree->total);

  g_variant_iter_init (&iter, listing);
  while (g_variant_iter_next (&iter, "(&s&sut&s)", &relative, &type, &mode,
                              &size, &target))
    if (!get_entry (tree, relative, type, mode, size, target, error))
      return FALSE;
  return mitogen_tree_listing_finish (tree->listing, error);
}

static gboolean
get_tree (MitogenContext *self,
          const gchar *src,
          const gchar *dst,
          MitogenFileProgress *progress,
          GCancellable *cancellable,
          GError **error)
{
  GetTree tree = { self, progress, cancellable, src, dst, 0, 0, NULL, NULL };
  g_autoptr (MitogenTreeListing) checks
      = mitogen_tree_listing_new (mitogen_context_get_name (self), src);
  g_autoptr (GVariant) listing = NULL;
  gboolean ok;

  listing = mitogen_context_call (
      self, "core.list_tree", g_variant_new ("(s)", src), cancellable, error);
  if (!listing)
    return FALSE;
  if (!mitogen_tree_listing_check_type (checks, listing, error))
    return FALSE;

  tree.listing = checks;
  tree.modes = g_ptr_array_new_with_free_func (dir_mode_free);
  ok = get_listed (&tree, listing, error);
  /* Innermost first: a directory made read-only still had its contents
   * put in it. */
  for (guint i = tree.modes->len; i > 0; i--)
    {
      DirMode *d = g_ptr_array_index (tree.modes, i - 1);
      g_chmod (d->path, d->mode);
    }
  g_ptr_array_unref (tree.modes);
  return ok;
}

/**
 * mitogen_context_get_tree:
 * @self: the context to read from
 * @src: a directory (or file) in @self
 * @dst: the local path to create
 * @progress: (nullable): told of the bytes of all files written here
 * @cancellable: (nullable): stops the copy on both sides
 * @error: return location for an error
 *
 * Copies @src in @self and everything below it to @dst here, as
 * mitogen_context_put_tree() copies the other way. What @self lists is
 * checked: an entry that would land outside @dst or pass through a symlink
 * stops the copy with %MITOGEN_STREAM_ERROR_PROTOCOL.
 *
 * Returns: %TRUE once all of it is in place
 */
gboolean
mitogen_context_get_tree (MitogenContext *self,
                          const gchar *src,
                          const gchar *dst,
                          MitogenFileProgress *progress,
                          GCancellable *cancellable,
                          GError **error)
{
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (self), FALSE);
  return get_tree (self, src, dst, progress, cancellable, error);
}

/**
 * mitogen_context_get_tree_async:
 * @self: the context to read from
 * @src: a directory (or file) in @self
 * @dst: the local path to create
 * @progress: (nullable): told of the bytes of all files written here
 * @cancellable: (nullable): stops the copy on both sides
 * @callback: called when done
 * @user_data: its data
 *
 * Starts mitogen_context_get_tree() on a worker thread.
 */
void
mitogen_context_get_tree_async (MitogenContext *self,
                                const gchar *src,
                                const gchar *dst,
                                MitogenFileProgress *progress,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_return_if_fail (MITOGEN_IS_CONTEXT (self));
  mitogen_file_transfer_start (self, get_tree, mitogen_context_get_tree_async,
                               src, dst, progress, cancellable, callback,
                               user_data);
}

/**
 * mitogen_context_get_tree_finish:
 * @self: the context
 * @result: the result
 * @error: return location for an error
 *
 * Finishes mitogen_context_get_tree_async().
 *
 * Returns: as mitogen_context_get_tree()
 */
gboolean
mitogen_context_get_tree_finish (MitogenContext *self,
                                 GAsyncResult *result,
                                 GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
