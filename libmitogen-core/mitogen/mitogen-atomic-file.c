/* mitogen-atomic-file.c: a destination written whole or not at all
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-file-stream-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

struct _MitogenAtomicFile
{
  gchar *path;
  gchar *dir;
  /* NULL for an O_TMPFILE, which has no name until committed. */
  gchar *tmp_path;
  int fd;
};

static gboolean
set_errno_error (GError **error,
                 int errsv,
                 const gchar *what,
                 const gchar *path)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
               "%s “%s”: %s", what, path, g_strerror (errsv));
  return FALSE;
}

MitogenAtomicFile *
mitogen_atomic_file_open (const gchar *path, GError **error)
{
  g_autoptr (MitogenAtomicFile) self = g_new0 (MitogenAtomicFile, 1);
  g_autofree gchar *base = g_path_get_basename (path);

  self->fd = -1;
  self->path = g_strdup (path);
  self->dir = g_path_get_dirname (path);
  self->fd = open (self->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (self->fd >= 0)
    return g_steal_pointer (&self);
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
    {
      set_errno_error (error, errno, "Cannot write", path);
      return NULL;
    }
  /* No O_TMPFILE here: a named temporary file beside @path. */
  self->tmp_path = g_strdup_printf ("%s/.%s.XXXXXX", self->dir, base);
  self->fd = g_mkstemp_full (self->tmp_path, O_WRONLY | O_CLOEXEC, 0600);
  if (self->fd < 0)
    {
      set_errno_error (error, errno, "Cannot write", path);
      return NULL;
    }
  return g_steal_pointer (&self);
}

int
mitogen_atomic_file_get_fd (MitogenAtomicFile *self)
{
  return self->fd;
}

/* Gives the O_TMPFILE a temporary name in its directory. */
static gboolean
link_tmpfile (MitogenAtomicFile *self, GError **error)
{
  g_autofree gchar *proc = g_strdup_printf ("/proc/self/fd/%d", self->fd);
  g_autofree gchar *base = g_path_get_basename (self->path);

  for (guint attempt = 0; attempt < 100; attempt++)
    {
      g_autofree gchar *name
          = g_strdup_printf ("%s/.%s.%08x", self->dir, base, g_random_int ());

      if (linkat (AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0)
        {
          self->tmp_path = g_steal_pointer (&name);
          return TRUE;
        }
      if (errno != EEXIST)
        return set_errno_error (error, errno, "Cannot write", self->path);
    }
  return set_errno_error (error, EEXIST, "Cannot write", self->path);
}

static gboolean
apply_metadata (MitogenAtomicFile *self, GVariant *header, GError **error)
{
  GVariantDict dict;
  guint32 mode = 0644, uid = 0, gid = 0, nsec = 0;
  gint64 mtime = 0;
  gboolean have_owner, have_mtime;

  g_variant_dict_init (&dict, header);
  g_variant_dict_lookup (&dict, "mode", "u", &mode);
  have_owner = g_variant_dict_lookup (&dict, "uid", "u", &uid)
               && g_variant_dict_lookup (&dict, "gid", "u", &gid);
  have_mtime = g_variant_dict_lookup (&dict, "mtime", "x", &mtime);
  g_variant_dict_lookup (&dict, "mtime_nsec", "u", &nsec);
  g_variant_dict_clear (&dict);

  /* Owner first: chown clears the set-id bits the mode sets. */
  if (have_owner && geteuid () == 0
      && fchown (self->fd, (uid_t) uid, (gid_t) gid) < 0)
    return set_errno_error (error, errno, "Cannot set the owner of",
                            self->path);
  if (fchmod (self->fd, (mode_t) (mode & 07777)) < 0)
    return set_errno_error (error, errno, "Cannot set the mode of", self->path);
  if (have_mtime)
    {
      struct timespec times[2] = {
        { 0, UTIME_OMIT },
        { (time_t) mtime, (long) MIN (nsec, 999999999u) },
      };
      if (futimens (self->fd, times) < 0)
        return set_errno_error (error, errno, "Cannot set the time of",
                                self->path);
    }
  return TRUE;
}

gboolean
mitogen_atomic_file_commit (MitogenAtomicFile *self,
                            GVariant *header,
                            GError **error)
{
  if (!apply_metadata (self, header, error))
    return FALSE;
  if (fsync (self->fd) < 0)
    return set_errno_error (error, errno, "Cannot write", self->path);
  if (!self->tmp_path && !link_tmpfile (self, error))
    return FALSE;
  if (g_rename (self->tmp_path, self->path) < 0)
    return set_errno_error (error, errno, "Cannot replace", self->path);
  g_clear_pointer (&self->tmp_path, g_free);
  return TRUE;
}

void
mitogen_atomic_file_free (MitogenAtomicFile *self)
{
  if (self->fd >= 0)
    close (self->fd);
  /* Not committed: nothing of it may stay. */
  if (self->tmp_path)
    g_unlink (self->tmp_path);
  g_free (self->tmp_path);
  g_free (self->dir);
  g_free (self->path);
  g_free (self);
}
