/* core-files.c: core.read_file, core.write_file, core.stat
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "core-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

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
