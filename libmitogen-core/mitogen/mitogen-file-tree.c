/* mitogen-file-tree.c: copying a directory tree to a context
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-file-transfer-private.h"

#include <errno.h>
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
