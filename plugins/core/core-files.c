/* core-files.c: core.read_file, core.write_file, core.stat
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "core-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

GVariant *
core_read_file (MitogenCall *call,
                GVariant *args,
                GError **error)
{
  const gchar *path;
  gchar *contents = NULL;
  gsize length = 0;

  g_variant_get (args, "(&s)", &path);
  /* The error names the path. */
  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  return g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, contents, length,
                                  TRUE, g_free, contents);
}

GVariant *
core_fetch_file (MitogenCall *call, GVariant *args, GError **error)
{
  const gchar *path, *version, *dst;
  guint64 token;

  g_variant_get (args, "(&s&st&s)", &path, &version, &token, &dst);
  if (!mitogen_file_fetch (mitogen_call_get_router (call), path, version, token,
                           dst, mitogen_call_get_cancellable (call), error))
    return NULL;
  return g_variant_new ("()");
}

GVariant *
core_send_file (MitogenCall *call, GVariant *args, GError **error)
{
  const gchar *path;
  guint32 sink;

  g_variant_get (args, "(&su)", &path, &sink);
  /* Only to the caller: a parent, as for every call. */
  if (!mitogen_file_send (mitogen_call_get_router (call),
                          mitogen_call_get_caller_id (call), sink, path,
                          mitogen_call_get_cancellable (call), error))
    return NULL;
  return g_variant_new ("()");
}

GVariant *
core_write_file (MitogenCall *call,
                 GVariant *args,
                 GError **error)
{
  g_autoptr(GVariant) data = NULL;
  const gchar *path;
  const guint8 *bytes;
  gsize length = 0;
  guint32 mode;

  g_variant_get (args, "(&s@ayu)", &path, &data, &mode);
  if (mode > 07777)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "Cannot write “%s”: mode 0%o has more than permission bits",
                   path, mode);
      return NULL;
    }
  bytes = g_variant_get_fixed_array (data, &length, 1);
  /* Writes a temporary file beside @path, syncs it and renames it over
   * @path: a reader sees the old contents or the new, never a part. The
   * error names the path. */
  if (!g_file_set_contents_full (path, (const gchar *) bytes, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT, (int) mode,
                                 error))
    return NULL;
  return g_variant_new ("()");
}

GVariant *
core_make_dir (MitogenCall *call, GVariant *args, GError **error)
{
  const gchar *path;
  guint32 mode;

  g_variant_get (args, "(&su)", &path, &mode);
  if ((g_mkdir (path, 0700) < 0 && errno != EEXIST) ||
      !g_file_test (path, G_FILE_TEST_IS_DIR) || g_chmod (path, (int) (mode & 07777)) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot make directory “%s”: %s", path, g_strerror (errsv));
      return NULL;
    }
  return g_variant_new ("()");
}

/* Replaces whatever is at @path, atomically: a symlink made beside it and
 * renamed over it. */
GVariant *
core_make_symlink (MitogenCall *call, GVariant *args, GError **error)
{
  const gchar *target, *path;
  g_autofree gchar *tmp = NULL;

  g_variant_get (args, "(&s&s)", &target, &path);
  tmp = g_strdup_printf ("%s.mitogen-%08x", path, g_random_int ());
  if (symlink (target, tmp) < 0 || g_rename (tmp, path) < 0)
    {
      int errsv = errno;
      g_unlink (tmp);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot make symlink “%s”: %s", path, g_strerror (errsv));
      return NULL;
    }
  return g_variant_new ("()");
}

static const gchar *
file_type_name (mode_t mode)
{
  if (S_ISREG (mode))
    return "file";
  if (S_ISDIR (mode))
    return "directory";
  if (S_ISLNK (mode))
    return "symlink";
  return "other";
}

GVariant *
core_stat (MitogenCall *call,
           GVariant *args,
           GError **error)
{
  GVariantBuilder builder;
  const gchar *path;
  GStatBuf st;

  g_variant_get (args, "(&s)", &path);
  if (g_lstat (path, &st) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot stat “%s”: %s", path, g_strerror (errsv));
      return NULL;
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "size",
                         g_variant_new_uint64 ((guint64) st.st_size));
  g_variant_builder_add (&builder, "{sv}", "mode",
                         g_variant_new_uint32 ((guint32) st.st_mode));
  g_variant_builder_add (&builder, "{sv}", "uid",
                         g_variant_new_uint32 ((guint32) st.st_uid));
  g_variant_builder_add (&builder, "{sv}", "gid",
                         g_variant_new_uint32 ((guint32) st.st_gid));
  g_variant_builder_add (&builder, "{sv}", "mtime",
                         g_variant_new_int64 ((gint64) st.st_mtime));
  g_variant_builder_add (&builder, "{sv}", "type",
                         g_variant_new_string (file_type_name (st.st_mode)));
  return g_variant_builder_end (&builder);
}

/* Adds @path's entry, as @relative, and those below it, parents first:
 * the order mitogen_context_get_tree() creates them in. */
static gboolean
list_entry (GVariantBuilder *builder,
            const gchar *path,
            const gchar *relative,
            GError **error)
{
  g_autofree gchar *target = NULL;
  g_autoptr (GDir) dir = NULL;
  const gchar *name;
  GStatBuf st;

  if (g_lstat (path, &st) < 0)
    {
      int errsv = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot stat “%s”: %s", path, g_strerror (errsv));
      return FALSE;
    }
  if (S_ISLNK (st.st_mode))
    {
      target = g_file_read_link (path, error);
      if (!target)
        return FALSE;
    }
  g_variant_builder_add (builder, "(ssuts)", relative,
                         file_type_name (st.st_mode),
                         (guint32) (st.st_mode & 07777), (guint64) st.st_size,
                         target ? target : "");
  if (!S_ISDIR (st.st_mode))
    return TRUE;

  dir = g_dir_open (path, 0, error);
  if (!dir)
    return FALSE;
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree gchar *child = g_build_filename (path, name, NULL);
      g_autofree gchar *child_relative
          = *relative ? g_build_filename (relative, name, NULL)
                      : g_strdup (name);

      if (!list_entry (builder, child, child_relative, error))
        return FALSE;
    }
  return TRUE;
}

/* The tree below a path, for mitogen_context_get_tree(): (path relative to
 * it, "" for itself; type as core.stat's; permission bits; size; symlink
 * target or ""), parents before their children. Symlinks are listed, never
 * followed. */
GVariant *
core_list_tree (MitogenCall *call, GVariant *args, GError **error)
{
  GVariantBuilder builder;
  const gchar *path;

  g_variant_get (args, "(&s)", &path);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(ssuts)"));
  if (!list_entry (&builder, path, "", error))
    {
      g_variant_builder_clear (&builder);
      return NULL;
    }
  return g_variant_builder_end (&builder);
}
