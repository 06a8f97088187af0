/* mitogen-push-file-service.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-push-file-service.h"

#include "mitogen-file-service.h"
#include "mitogen-file-stream-private.h"
#include "mitogen-service-pool-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

/**
 * MitogenPushFileService:
 *
 * The file service of an intermediate context: it answers
 * #MITOGEN_FILE_SERVICE_NAME for the contexts below it from a cache,
 * fetching each file (by path and version) from its own parent once, so a
 * file pushed to many contexts below a hop crosses each link once, as
 * modules do. Whether a path may be had at all is for the master's
 * [class@FileService] to say: a refusal comes down as the error.
 *
 * The cache is unlinked temporary files, not memory: a large file costs
 * the hop disk, and a window of memory.
 */

#define DEFAULT_KEY "mitogen-push-file-service"

typedef struct
{
  gint refs;
  gboolean done;
  int fd;
  GVariant *header;
  GError *error;
} Entry;

struct _MitogenPushFileService
{
  GObject parent_instance;

  MitogenRouter *router; /* not owned */
  GMutex lock;
  GCond cond;
  GHashTable *cache; /* "path\nversion" -> Entry */
  guint n_fetched;
};

G_DEFINE_FINAL_TYPE (MitogenPushFileService,
                     mitogen_push_file_service,
                     G_TYPE_OBJECT)

static void
entry_unref (gpointer data)
{
  Entry *entry = data;

  if (!g_atomic_int_dec_and_test (&entry->refs))
    return;
  if (entry->fd >= 0)
    close (entry->fd);
  g_clear_pointer (&entry->header, g_variant_unref);
  g_clear_error (&entry->error);
  g_free (entry);
}

static void
mitogen_push_file_service_finalize (GObject *object)
{
  MitogenPushFileService *self = MITOGEN_PUSH_FILE_SERVICE (object);

  g_hash_table_unref (self->cache);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_push_file_service_parent_class)->finalize (object);
}

static void
mitogen_push_file_service_class_init (MitogenPushFileServiceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_push_file_service_finalize;
}

static void
mitogen_push_file_service_init (MitogenPushFileService *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->cache
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, entry_unref);
}

static int
open_cache_file (GError **error)
{
  const gchar *dir = g_get_tmp_dir ();
  g_autofree gchar *name = NULL;
  int fd = open (dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

  if (fd >= 0)
    return fd;
  name = g_build_filename (dir, "mitogen-push-XXXXXX", NULL);
  fd = g_mkstemp_full (name, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv),
                   "Cannot create a cache file in “%s”: %s", dir,
                   g_strerror (errsv));
      return -1;
    }
  g_unlink (name);
  return fd;
}

static gboolean
fetch_upstream (MitogenPushFileService *self,
                Entry *entry,
                GVariant *args,
                const gchar *path,
                GError **error)
{
  gsize n_parents = 0;
  const guint32 *parents
      = mitogen_router_get_parent_ids (self->router, &n_parents);
  g_autoptr (MitogenReceiver) sink = NULL;

  if (n_parents == 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   "No parent to fetch “%s” from", path);
      return FALSE;
    }
  entry->fd = open_cache_file (error);
  if (entry->fd < 0)
    return FALSE;
  sink = mitogen_receiver_new (self->router, 0, TRUE, parents[0], NULL);
  if (!mitogen_service_send_request (
          self->router, parents[0], MITOGEN_FILE_SERVICE_NAME, "fetch",
          g_variant_ref (args), mitogen_receiver_get_handle (sink), NULL,
          error))
    return FALSE;
  entry->header = mitogen_file_stream_receive (
      self->router, sink, parents[0], entry->fd, path, NULL, NULL, NULL, error);
  return entry->header != NULL;
}

/* The cached copy, fetched by this call or by one before it. */
static Entry *
get_entry (MitogenPushFileService *self,
           GVariant *args,
           const gchar *path,
           const gchar *version)
{
  g_autofree gchar *key = g_strconcat (path, "\n", version, NULL);
  Entry *entry;
  gboolean mine = FALSE;

  g_mutex_lock (&self->lock);
  entry = g_hash_table_lookup (self->cache, key);
  if (!entry)
    {
      entry = g_new0 (Entry, 1);
      entry->refs = 1;
      entry->fd = -1;
      g_hash_table_insert (self->cache, g_strdup (key), entry);
      mine = TRUE;
    }
  g_atomic_int_inc (&entry->refs);
  g_mutex_unlock (&self->lock);

  if (mine)
    {
      GError *error = NULL;
      gboolean ok = fetch_upstream (self, entry, args, path, &error);

      g_mutex_lock (&self->lock);
      entry->done = TRUE;
      entry->error = error;
      self->n_fetched++;
      /* A failure is not cached: the next push tries again. */
      if (!ok)
        g_hash_table_remove (self->cache, key);
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      return entry;
    }
  g_mutex_lock (&self->lock);
  while (!entry->done)
    g_cond_wait (&self->cond, &self->lock);
  g_mutex_unlock (&self->lock);
  return entry;
}

static GVariant *
fetch (MitogenMessage *request,
       GVariant *args,
       gpointer user_data,
       GError **error)
{
  MitogenPushFileService *self = user_data;
  const gchar *path, *version;
  guint64 token;
  Entry *entry;
  gboolean ok = FALSE;

  g_variant_get (args, "(&s&st)", &path, &version, &token);
  entry = get_entry (self, args, path, version);
  if (entry->error)
    g_propagate_error (error, g_error_copy (entry->error));
  else
    ok = mitogen_file_stream_send (
        self->router, mitogen_message_get_src_id (request),
        mitogen_message_get_reply_to (request), entry->fd, path, entry->header,
        NULL, NULL, NULL, error);
  entry_unref (entry);
  return ok ? g_variant_new ("()") : NULL;
}

/**
 * mitogen_push_file_service_get_default:
 * @router: the router of an intermediate context
 *
 * The push file service of @router's context, created and added to its
 * [func@ServicePool.get_default] on first use.
 *
 * Returns: (transfer none): the service
 */
MitogenPushFileService *
mitogen_push_file_service_get_default (MitogenRouter *router)
{
  static GMutex create_lock;
  MitogenPushFileService *self;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);

  g_mutex_lock (&create_lock);
  self = g_object_get_data (G_OBJECT (router), DEFAULT_KEY);
  if (!self)
    {
      self = g_object_new (MITOGEN_TYPE_PUSH_FILE_SERVICE, NULL);
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

/**
 * mitogen_push_file_service_get_n_fetched:
 * @self: a push file service
 *
 * Gets how many files this hop fetched from its parent, for telling cache hits from misses.
 *
 * Returns: how many files it fetched from its parent (each once)
 */
guint
mitogen_push_file_service_get_n_fetched (MitogenPushFileService *self)
{
  guint n;

  g_return_val_if_fail (MITOGEN_IS_PUSH_FILE_SERVICE (self), 0);
  g_mutex_lock (&self->lock);
  n = self->n_fetched;
  g_mutex_unlock (&self->lock);
  return n;
}
