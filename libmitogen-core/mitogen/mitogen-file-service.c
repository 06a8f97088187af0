/* mitogen-file-service.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-file-service-private.h"

#include "mitogen-file-stream-private.h"
#include "mitogen-service-pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/**
 * MitogenFileService:
 *
 * Files a context (the master, usually) lets the contexts below it fetch:
 * single files and directory roots, registered by the application or by
 * mitogen_context_put_file(). A child fetches with `fetch (path, version,
 * token)` on `CALL_SERVICE` and gets the file as a chunked stream under a
 * window, so no file is ever one message and any size goes.
 *
 * A path is served only if, with every symlink and `..` resolved, it is a
 * registered file or lies below a registered root: a child cannot climb
 * out of a root by either.
 */

#define DEFAULT_KEY "mitogen-file-service"

typedef struct
{
  GCancellable *cancellable;
  MitogenFileProgress *progress;
  guint64 base;
  guint64 total;
} Transfer;

struct _MitogenFileService
{
  GObject parent_instance;

  MitogenRouter *router; /* not owned: the router owns the default */
  GMutex lock;
  GHashTable *files;     /* resolved path -> itself */
  GPtrArray *roots;      /* resolved directories */
  GHashTable *transfers; /* &token -> Transfer */
};

G_DEFINE_FINAL_TYPE (MitogenFileService, mitogen_file_service, G_TYPE_OBJECT)

static void
transfer_free (gpointer data)
{
  Transfer *transfer = data;

  g_clear_object (&transfer->cancellable);
  g_clear_object (&transfer->progress);
  g_free (transfer);
}

static void
mitogen_file_service_finalize (GObject *object)
{
  MitogenFileService *self = MITOGEN_FILE_SERVICE (object);

  g_hash_table_unref (self->files);
  g_ptr_array_unref (self->roots);
  g_hash_table_unref (self->transfers);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_file_service_parent_class)->finalize (object);
}

static void
mitogen_file_service_class_init (MitogenFileServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_file_service_finalize;
}

static void
mitogen_file_service_init (MitogenFileService *self)
{
  g_mutex_init (&self->lock);
  self->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->roots = g_ptr_array_new_with_free_func (g_free);
  self->transfers = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                           transfer_free);
}

static gchar *
resolve (const gchar *path, GError **error)
{
  g_autofree gchar *real = NULL;

  if (!g_path_is_absolute (path))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "“%s” is not an absolute path", path);
      return NULL;
    }
  real = realpath (path, NULL);
  if (!real)
    {
      int errsv = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot resolve “%s”: %s", path, g_strerror (errsv));
      return NULL;
    }
  return g_steal_pointer (&real);
}

/* Resolved already: */
static gboolean
is_allowed_locked (MitogenFileService *self, const gchar *real)
{
  if (g_hash_table_contains (self->files, real))
    return TRUE;
  for (guint i = 0; i < self->roots->len; i++)
    {
      const gchar *root = g_ptr_array_index (self->roots, i);
      gsize n = strlen (root);

      if (strncmp (real, root, n) == 0
          && (real[n] == '/' || (n == 1 && root[0] == '/')))
        return TRUE;
    }
  return FALSE;
}

/* Whom to tell of progress, with a ref on each, or nothing. */
static Transfer *
lookup_transfer (MitogenFileService *self, guint64 token)
{
  Transfer *found, *copy = NULL;

  g_mutex_lock (&self->lock);
  found = token ? g_hash_table_lookup (self->transfers, &token) : NULL;
  if (found)
    {
      copy = g_new0 (Transfer, 1);
      copy->cancellable
          = found->cancellable ? g_object_ref (found->cancellable) : NULL;
      copy->progress = found->progress ? g_object_ref (found->progress) : NULL;
      copy->base = found->base;
      copy->total = found->total;
    }
  g_mutex_unlock (&self->lock);
  return copy;
}

static void
transfer_progress (guint64 done, guint64 total, gpointer user_data)
{
  Transfer *transfer = user_data;

  if (transfer && transfer->progress)
    mitogen_file_progress_update (
        transfer->progress, transfer->base + done,
        MAX (transfer->total, transfer->base + total));
}

static GVariant *
fetch (MitogenMessage *request,
       GVariant *args,
       gpointer user_data,
       GError **error)
{
  MitogenFileService *self = user_data;
  const gchar *path, *version;
  guint64 token;
  g_autofree gchar *real = NULL;
  g_autoptr (GError) local_error = NULL;
  Transfer *transfer;
  gboolean allowed, ok;
  int fd;

  g_variant_get (args, "(&s&st)", &path, &version, &token);
  real = resolve (path, &local_error);
  g_mutex_lock (&self->lock);
  allowed = real && is_allowed_locked (self, real);
  g_mutex_unlock (&self->lock);
  /* Says the same of a missing file as of a forbidden one: a child learns
   * nothing of what exists outside what it was given. */
  if (!allowed)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                   "“%s” is not a registered file or below a registered "
                   "directory",
                   path);
      return NULL;
    }
  fd = open (real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot open “%s”: %s", path, g_strerror (errsv));
      return NULL;
    }
  transfer = lookup_transfer (self, token);
  ok = mitogen_file_stream_send (
      self->router, mitogen_message_get_src_id (request),
      mitogen_message_get_reply_to (request), fd, path, NULL, transfer_progress,
      transfer, transfer ? transfer->cancellable : NULL, error);
  close (fd);
  g_clear_pointer (&transfer, transfer_free);
  return ok ? g_variant_new ("()") : NULL;
}

/**
 * mitogen_file_service_get_default:
 * @router: a router
 *
 * The file service of @router's context, created and added to its
 * [func@ServicePool.get_default] on first use.
 *
 * Returns: (transfer none): the service
 */
MitogenFileService *
mitogen_file_service_get_default (MitogenRouter *router)
{
  static GMutex create_lock;
  MitogenFileService *self;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);

  g_mutex_lock (&create_lock);
  self = g_object_get_data (G_OBJECT (router), DEFAULT_KEY);
  if (!self)
    {
      self = g_object_new (MITOGEN_TYPE_FILE_SERVICE, NULL);
      self->router = router;
      g_object_set_data_full (G_OBJECT (router), DEFAULT_KEY, self,
                              g_object_unref);
      mitogen_service_pool_add_method (
          mitogen_service_pool_get_default (router), MITOGEN_FILE_SERVICE_NAME,
          "fetch", "(sst)", MITOGEN_SERVICE_POLICY_CHILD, 0, fetch, self, NULL);
    }
  g_mutex_unlock (&create_lock);
  return self;
}

static gboolean
add_resolved (MitogenFileService *self,
              const gchar *path,
              gboolean prefix,
              GError **error)
{
  g_autofree gchar *real = resolve (path, error);

  if (!real)
    return FALSE;
  if (g_file_test (real, G_FILE_TEST_IS_DIR) != prefix)
    {
      g_set_error (error, G_FILE_ERROR,
                   prefix ? G_FILE_ERROR_NOTDIR : G_FILE_ERROR_ISDIR,
                   prefix ? "“%s” is not a directory" : "“%s” is a directory",
                   path);
      return FALSE;
    }
  g_mutex_lock (&self->lock);
  if (prefix)
    g_ptr_array_add (self->roots, g_steal_pointer (&real));
  else
    g_hash_table_add (self->files, g_steal_pointer (&real));
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/**
 * mitogen_file_service_register:
 * @self: a file service
 * @path: an absolute path of a file
 * @error: return location for an error
 *
 * Lets every context below this one fetch @path.
 *
 * Returns: %FALSE if @path does not resolve to a file
 */
gboolean
mitogen_file_service_register (MitogenFileService *self,
                               const gchar *path,
                               GError **error)
{
  g_return_val_if_fail (MITOGEN_IS_FILE_SERVICE (self), FALSE);
  return add_resolved (self, path, FALSE, error);
}

/**
 * mitogen_file_service_register_prefix:
 * @self: a file service
 * @root: an absolute path of a directory
 * @error: return location for an error
 *
 * Lets every context below this one fetch any file under @root.
 *
 * Returns: %FALSE if @root does not resolve to a directory
 */
gboolean
mitogen_file_service_register_prefix (MitogenFileService *self,
                                      const gchar *root,
                                      GError **error)
{
  g_return_val_if_fail (MITOGEN_IS_FILE_SERVICE (self), FALSE);
  return add_resolved (self, root, TRUE, error);
}

guint64
mitogen_file_service_begin_transfer (MitogenFileService *self,
                                     GCancellable *cancellable,
                                     MitogenFileProgress *progress,
                                     guint64 base,
                                     guint64 total)
{
  Transfer *transfer = g_new0 (Transfer, 1);
  guint64 token;

  transfer->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  transfer->progress = progress ? g_object_ref (progress) : NULL;
  transfer->base = base;
  transfer->total = total;
  g_mutex_lock (&self->lock);
  /* Random, not counted: a child cannot guess another's transfer and
   * cancel it or feed its progress. */
  do
    token = ((guint64) g_random_int () << 32) | g_random_int ();
  while (token == 0 || g_hash_table_contains (self->transfers, &token));
  g_hash_table_insert (self->transfers, g_memdup2 (&token, sizeof token),
                       transfer);
  g_mutex_unlock (&self->lock);
  return token;
}

void
mitogen_file_service_end_transfer (MitogenFileService *self, guint64 token)
{
  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->transfers, &token);
  g_mutex_unlock (&self->lock);
}
