/* mitogen-importer.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-importer.h"

#include <string.h>

#include <sys/mman.h>
#include <unistd.h>

#include "mitogen-broker.h"
#include "mitogen-errors.h"
#include "mitogen-protocol.h"

/**
 * MitogenImporter:
 *
 * Finds and loads function modules in a context: `NAME.so` in the
 * directories of its path, if it has one, or else fetched from its parent
 * (mitogen_importer_set_parent()): it sends `GET_MODULE` and waits for
 * `LOAD_MODULE` with the module's bytes, their SHA-256 and the modules it
 * needs, which usually arrived just before it. The bytes are checked
 * against the hash and loaded from memory, through a memfd: nothing is
 * written to disk. Threads wanting the same module share one request.
 *
 * Every module is checked for a [struct@ModuleInfo] of this library's ABI,
 * and stays loaded for the life of the importer.
 */

/* A module asked of, or pushed by, the parent. */
typedef struct {
  gboolean done;
  gboolean found;
  GBytes *bytes;
  gchar *sha256;
  gchar **requires;
  gchar *error;
} Fetch;

static void
fetch_free (gpointer data)
{
  Fetch *f = data;

  g_clear_pointer (&f->bytes, g_bytes_unref);
  g_free (f->sha256);
  g_strfreev (f->requires);
  g_free (f->error);
  g_free (f);
}
struct _MitogenImporter {
  GObject parent_instance;

  GMutex lock;
  GPtrArray *path;      /* gchar* */
  GHashTable *modules;  /* name -> GModule* */

  MitogenRouter *router;
  guint32 parent_id;
  GHashTable *fetches;  /* name -> Fetch* */
  GCond fetched;
  gboolean parent_gone;
  guint n_requests;
};

G_DEFINE_FINAL_TYPE (MitogenImporter, mitogen_importer, G_TYPE_OBJECT)

enum {
  SIGNAL_FETCHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
mitogen_importer_finalize (GObject *object)
{
  MitogenImporter *self = MITOGEN_IMPORTER (object);

  g_ptr_array_unref (self->path);
  g_hash_table_unref (self->modules);
  g_hash_table_unref (self->fetches);
  g_clear_object (&self->router);
  g_cond_clear (&self->fetched);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_importer_parent_class)->finalize (object);
}

static void
mitogen_importer_class_init (MitogenImporterClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_importer_finalize;

  /**
   * MitogenImporter::fetched:
   * @self: the importer
   * @name: the module that arrived from the parent, found or not
   *
   * Emitted on the broker thread when `LOAD_MODULE` arrives.
   */
  signals[SIGNAL_FETCHED] =
    g_signal_new ("fetched", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
mitogen_importer_init (MitogenImporter *self)
{
  g_mutex_init (&self->lock);
  self->path = g_ptr_array_new_with_free_func (g_free);
  /* Modules are never closed: functions they registered may still be
   * referenced by code running in other threads. */
  self->modules = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->fetches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, fetch_free);
  g_cond_init (&self->fetched);
}

/**
 * mitogen_importer_new:
 * @path: (array zero-terminated=1) (nullable): directories to search, in
 *   order
 *
 * Creates an importer of function modules: it loads them from @path or
 * fetches them from the parent (`GET_MODULE`).
 *
 * Returns: (transfer full): a new importer
 */
MitogenImporter *
mitogen_importer_new (const gchar * const *path)
{
  MitogenImporter *self = g_object_new (MITOGEN_TYPE_IMPORTER, NULL);

  for (; path && *path; path++)
    mitogen_importer_add_path (self, *path);
  return self;
}

/**
 * mitogen_importer_add_path:
 * @self: an importer
 * @dir: a directory to search after those already given
 *
 * Adds @dir to the directories searched for function modules, after those
 * already given.
 */
void
mitogen_importer_add_path (MitogenImporter *self,
                           const gchar *dir)
{
  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->path, g_strdup (dir));
  g_mutex_unlock (&self->lock);
}

/**
 * mitogen_importer_is_valid_name:
 * @name: a module name
 *
 * Module names are letters, digits, `_` and `-`: nothing that can climb
 * out of a directory.
 *
 * Returns: whether @name is a valid module name
 */
gboolean
mitogen_importer_is_valid_name (const gchar *name)
{
  if (!name || !*name || strlen (name) > 64)
    return FALSE;
  for (const gchar *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

static gchar *
find_file_locked (MitogenImporter *self,
                  const gchar *name)
{
  g_autofree gchar *file = g_strconcat (name, ".so", NULL);

  for (guint i = 0; i < self->path->len; i++)
    {
      gchar *candidate = g_build_filename (self->path->pdata[i], file, NULL);
      if (g_file_test (candidate, G_FILE_TEST_IS_REGULAR))
        return candidate;
      g_free (candidate);
    }
  return NULL;
}

static const MitogenModuleInfo *
module_info (GModule *module)
{
  gpointer symbol = NULL;

  g_module_symbol (module, MITOGEN_MODULE_INFO_SYMBOL, &symbol);
  return symbol;
}

static GModule *
open_module (const gchar *name,
             const gchar *file,
             GError **error)
{
  GModule *module = g_module_open (file, G_MODULE_BIND_LOCAL);
  const MitogenModuleInfo *info;

  if (!module)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "Module “%s” could not be loaded: %s", name,
                   g_module_error ());
      return NULL;
    }
  info = module_info (module);
  if (!info || info->abi_version != MITOGEN_MODULE_ABI_VERSION ||
      g_strcmp0 (info->name, name) != 0)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "%s is not a libmitogen function module named “%s” of "
                   "ABI version %d", file, name, MITOGEN_MODULE_ABI_VERSION);
      g_module_close (module);
      return NULL;
    }
  return module;
}

static void
on_load_module (MitogenMessage *msg,
                gpointer user_data)
{
  MitogenImporter *self = user_data;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GVariant) bytes = NULL;
  const gchar *name, *sha256, *error;
  g_autofree const gchar **requires = NULL;
  gboolean found;
  Fetch *f;

  if (mitogen_message_is_dead (msg))
    {
      /* The parent is gone: nobody will answer. */
      g_mutex_lock (&self->lock);
      self->parent_gone = TRUE;
      g_cond_broadcast (&self->fetched);
      g_mutex_unlock (&self->lock);
      return;
    }
  body = mitogen_message_get_data_from_parent (msg, NULL);
  if (!body || !g_variant_is_of_type (body, G_VARIANT_TYPE (MITOGEN_LOAD_MODULE_TYPE)))
    return;
  g_variant_get (body, "(&sb@ay&s^a&s&s)", &name, &found, &bytes, &sha256,
                 &requires, &error);

  g_mutex_lock (&self->lock);
  f = g_hash_table_lookup (self->fetches, name);
  if (!f)
    {
      f = g_new0 (Fetch, 1);
      g_hash_table_insert (self->fetches, g_strdup (name), f);
    }
  if (!f->done)
    {
      f->done = TRUE;
      f->found = found;
      f->bytes = g_variant_get_data_as_bytes (bytes);
      f->sha256 = g_strdup (sha256);
      f->requires = g_strdupv ((gchar **) requires);
      f->error = g_strdup (error);
      g_cond_broadcast (&self->fetched);
    }
  g_mutex_unlock (&self->lock);
  g_signal_emit (self, signals[SIGNAL_FETCHED], 0, name);
}

/**
 * mitogen_importer_set_parent:
 * @self: an importer
 * @router: the context's router
 * @parent_id: the context to fetch modules from
 *
 * Fetches modules not found in the path from @parent_id.
 */
void
mitogen_importer_set_parent (MitogenImporter *self,
                             MitogenRouter *router,
                             guint32 parent_id)
{
  g_set_object (&self->router, router);
  self->parent_id = parent_id;
  mitogen_router_add_handler (router, MITOGEN_HANDLE_LOAD_MODULE,
                              MITOGEN_HANDLER_PERSIST | MITOGEN_HANDLER_OVERWRITE,
                              MITOGEN_CONTEXT_ID_NONE,
                              mitogen_router_policy_has_parent_authority,
                              on_load_module, g_object_ref (self), g_object_unref);
}

/**
 * mitogen_importer_get_n_requests:
 * @self: an importer
 *
 * Returns `GET_MODULE` requests sent so far.
 *
 * Returns: `GET_MODULE` requests sent so far
 */
guint
mitogen_importer_get_n_requests (MitogenImporter *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->n_requests;
  g_mutex_unlock (&self->lock);
  return n;
}

static void
request_locked (MitogenImporter *self,
                const gchar *name)
{
  g_autoptr(MitogenMessage) msg =
    mitogen_message_new (self->parent_id, MITOGEN_HANDLE_GET_MODULE,
                         g_variant_new (MITOGEN_GET_MODULE_TYPE, name));

  g_hash_table_insert (self->fetches, g_strdup (name), g_new0 (Fetch, 1));
  self->n_requests++;
  mitogen_router_route (self->router, msg);
}

/**
 * mitogen_importer_request:
 * @self: an importer with a parent
 * @name: a module name
 *
 * Asks the parent for @name unless it was asked for or has arrived
 * already, without waiting. #MitogenImporter::fetched tells when it is
 * here.
 */
void
mitogen_importer_request (MitogenImporter *self,
                          const gchar *name)
{
  g_mutex_lock (&self->lock);
  if (self->router && !g_hash_table_contains (self->fetches, name))
    request_locked (self, name);
  g_mutex_unlock (&self->lock);
}

/**
 * mitogen_importer_lookup_fetched:
 * @self: an importer
 * @name: a module name
 * @out_found: (out) (optional): whether the parent had it
 * @out_bytes: (out) (optional) (transfer full): its bytes
 * @out_sha256: (out) (optional) (transfer full): their SHA-256
 * @out_requires: (out) (optional) (transfer full) (array zero-terminated=1):
 *   the modules it needs
 * @out_error: (out) (optional) (transfer full): why it was not found
 *
 * Returns %TRUE if the parent's answer for @name has arrived.
 *
 * Returns: %TRUE if the parent's answer for @name has arrived
 */
gboolean
mitogen_importer_lookup_fetched (MitogenImporter *self,
                                 const gchar *name,
                                 gboolean *out_found,
                                 GBytes **out_bytes,
                                 gchar **out_sha256,
                                 gchar ***out_requires,
                                 gchar **out_error)
{
  Fetch *f;
  gboolean done;

  g_mutex_lock (&self->lock);
  f = g_hash_table_lookup (self->fetches, name);
  done = f && f->done;
  if (done)
    {
      if (out_found)
        *out_found = f->found;
      if (out_bytes)
        *out_bytes = g_bytes_ref (f->bytes);
      if (out_sha256)
        *out_sha256 = g_strdup (f->sha256);
      if (out_requires)
        *out_requires = g_strdupv (f->requires);
      if (out_error)
        *out_error = g_strdup (f->error);
    }
  g_mutex_unlock (&self->lock);
  return done;
}

/**
 * mitogen_importer_forget:
 * @self: an importer
 * @name: a module name
 *
 * Drops the parent's answer for @name, so that the next need asks again.
 */
void
mitogen_importer_forget (MitogenImporter *self,
                         const gchar *name)
{
  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->fetches, name);
  g_mutex_unlock (&self->lock);
}

static GModule *
open_from_memory (const gchar *name, GBytes *bytes, int *out_fd, GError **error)
{
  g_autofree gchar *file = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  gsize done = 0;
  GModule *module;
  int fd = memfd_create (name, MFD_CLOEXEC);

  while (fd >= 0 && done < len)
    {
      gssize n = write (fd, data + done, len - done);
      if (n <= 0)
        break;
      done += (gsize) n;
    }
  if (fd < 0 || done < len)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "Module “%s” could not be staged in memory", name);
      if (fd >= 0)
        close (fd);
      return NULL;
    }
  file = g_strdup_printf ("/proc/self/fd/%d", fd);
  module = open_module (name, file, error);
  /* A loaded module keeps its descriptor, as it stays loaded: GLib and the
   * dynamic loader know a library by its path, and would take a later
   * memfd given the same number for this module. */
  if (!module)
    close (fd);
  else
    *out_fd = fd;
  return module;
}

/* Once @name is loaded from @fd, its answer keeps the memfd's pages
 * instead of a copy on the heap: the bytes stay at hand for children
 * that ask for the module, but an agent no longer holds every module
 * twice, and pages no child asks for are never touched. */
static void
keep_answer_in_memfd_locked (MitogenImporter *self, const gchar *name, int fd)
{
  Fetch *f = g_hash_table_lookup (self->fetches, name);
  g_autoptr (GMappedFile) mapped = NULL;

  if (!f || !f->bytes || g_bytes_get_size (f->bytes) == 0)
    return;
  mapped = g_mapped_file_new_from_fd (fd, FALSE, NULL);
  if (!mapped
      || g_mapped_file_get_length (mapped) != g_bytes_get_size (f->bytes))
    return;
  g_bytes_unref (f->bytes);
  f->bytes = g_mapped_file_get_bytes (mapped);
}

/* Waits for the parent's answer for @name, asking if nobody has, and
 * returns its bytes once they match their SHA-256. Called with the lock. */
static GBytes *
await_locked (MitogenImporter *self,
              const gchar *name,
              GError **error)
{
  Fetch *f = g_hash_table_lookup (self->fetches, name);
  g_autofree gchar *sha256 = NULL;

  /* The answer is read on the broker thread: waiting there would wait for
   * ever. */
  if ((!f || !f->done) && !self->parent_gone &&
      mitogen_broker_is_broker_thread (mitogen_router_get_broker (self->router)))
    {
      g_set_error (error, MITOGEN_TIMEOUT_ERROR, MITOGEN_TIMEOUT_ERROR_WOULD_BLOCK,
                   "Module “%s” cannot be fetched on the broker thread", name);
      return NULL;
    }
  if (!f)
    request_locked (self, name);
  while ((f = g_hash_table_lookup (self->fetches, name)) && !f->done &&
         !self->parent_gone)
    g_cond_wait (&self->fetched, &self->lock);

  /* While this thread waited, another may have dropped a failed answer. */
  if (!f)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "Module “%s” could not be fetched", name);
      return NULL;
    }
  if (!f->done)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "Module “%s” cannot be fetched: the parent is gone", name);
      return NULL;
    }
  if (!f->found)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "%s", f->error && *f->error ? f->error : "No such module");
      /* Forget the answer: the module may exist by the next call. */
      g_hash_table_remove (self->fetches, name);
      return NULL;
    }
  sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, f->bytes);
  if (g_strcmp0 (sha256, f->sha256) != 0)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "Module “%s” failed verification: its SHA-256 is %s, not %s",
                   name, sha256, f->sha256);
      g_hash_table_remove (self->fetches, name);
      return NULL;
    }
  return g_bytes_ref (f->bytes);
}

/* Waits for @name from the parent and opens it. Called with the lock. */
static GModule *
fetch_locked (MitogenImporter *self,
              const gchar *name,
              GError **error)
{
  g_autoptr(GError) fetch_error = NULL;
  g_autoptr(GBytes) bytes = await_locked (self, name, &fetch_error);
  GModule *module;
  int fd = -1;

  /* While this thread waited, another may have loaded the module. */
  module = g_hash_table_lookup (self->modules, name);
  if (module)
    return module;
  if (!bytes)
    {
      g_propagate_error (error, g_steal_pointer (&fetch_error));
      return NULL;
    }
  module = open_from_memory (name, bytes, &fd, error);
  if (module)
    keep_answer_in_memfd_locked (self, name, fd);
  return module;
}

/**
 * mitogen_importer_fetch:
 * @self: an importer with a parent
 * @name: a module name
 * @error: return location for an error
 *
 * Fetches a file the parent serves under @name, such as a transport
 * module (`mitogen-transport-ssh`), without loading it: waits for the
 * parent's answer, which intermediate contexts pass on and keep for their
 * own children like any module's, and checks it against its SHA-256.
 * Blocks the calling thread, which must not be the broker's.
 *
 * Returns: (transfer full) (nullable): the bytes, or %NULL with
 *   %MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION saying why
 */
GBytes *
mitogen_importer_fetch (MitogenImporter *self,
                        const gchar *name,
                        GError **error)
{
  GBytes *bytes;

  g_return_val_if_fail (MITOGEN_IS_IMPORTER (self), NULL);

  if (!mitogen_importer_is_valid_name (name))
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "“%s” is not a valid module name", name ? name : "");
      return NULL;
    }
  g_mutex_lock (&self->lock);
  if (self->router)
    bytes = await_locked (self, name, error);
  else
    {
      bytes = NULL;
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "“%s” cannot be fetched: this context has no parent", name);
    }
  g_mutex_unlock (&self->lock);
  return bytes;
}

/**
 * mitogen_importer_load:
 * @self: an importer
 * @name: a module name
 * @error: return location for an error
 *
 * Loads the module, and the modules it requires, if not loaded already,
 * fetching them from the parent when they are not in the path.
 *
 * Returns: (transfer none) (nullable): the module's description; %NULL with
 *   %MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION naming the module when it cannot
 *   be found, verified or loaded
 */
const MitogenModuleInfo *
mitogen_importer_load (MitogenImporter *self,
                       const gchar *name,
                       GError **error)
{
  g_autofree gchar *file = NULL;
  const MitogenModuleInfo *info;
  GModule *module;

  if (!mitogen_importer_is_valid_name (name))
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "“%s” is not a valid module name", name ? name : "");
      return NULL;
    }

  g_mutex_lock (&self->lock);
  module = g_hash_table_lookup (self->modules, name);
  if (!module)
    {
      file = find_file_locked (self, name);
      if (file)
        module = open_module (name, file, error);
      else if (self->router)
        module = fetch_locked (self, name, error);
      else
        g_set_error (error, MITOGEN_CALL_ERROR,
                     MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                     "No module “%s” in the module path", name);
      if (module)
        g_hash_table_insert (self->modules, g_strdup (name), module);
    }
  g_mutex_unlock (&self->lock);

  if (!module)
    return NULL;
  info = module_info (module);
  for (const gchar *const *req = info->requires; req && *req; req++)
    if (!mitogen_importer_load (self, *req, error))
      return NULL;
  return info;
}

/**
 * mitogen_importer_find_function:
 * @self: an importer
 * @module: a module name
 * @function: a function name
 * @error: return location for an error
 *
 * Returns the function's description, loading its module if need be; %NULL
 * with %MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION otherwise.
 *
 * Returns: (transfer none) (nullable): the function's description, loading
 *   its module if need be; %NULL with
 *   %MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION otherwise
 */
const MitogenFunctionInfo *
mitogen_importer_find_function (MitogenImporter *self,
                                const gchar *module,
                                const gchar *function,
                                GError **error)
{
  const MitogenModuleInfo *info = mitogen_importer_load (self, module, error);

  if (!info)
    return NULL;
  for (const MitogenFunctionInfo *f = info->functions; f && f->name; f++)
    if (g_strcmp0 (f->name, function) == 0)
      return f;
  g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
               "Module “%s” has no function “%s”", module, function);
  return NULL;
}
