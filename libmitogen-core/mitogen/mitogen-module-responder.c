/* mitogen-module-responder.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-module-responder.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mitogen-errors.h"
#include "mitogen-importer.h"
#include "mitogen-module-info.h"
#include "mitogen-protocol.h"
#include "mitogen-sent-modules.h"
#include "mitogen-transport-registry.h"

/**
 * MitogenModuleResponder:
 *
 * Serves function modules to the master's children, which ask with
 * `GET_MODULE` and receive `LOAD_MODULE`: the module's bytes, their
 * SHA-256 and the names of the modules it needs. Those are sent first,
 * unless that context already had them, so a child rarely has to ask
 * twice. Each module goes to a child once: asked again, the responder
 * answers without it (see #MitogenSentModules).
 *
 * Only modules found in its path (see mitogen_get_child_modules()) or
 * registered with mitogen_module_responder_register_file() or
 * mitogen_module_responder_register_bytes() are served: a name with `/`
 * or `..` in it names nothing.
 *
 * Transports are served too, to contexts that lack one: the name
 * `mitogen-transport-NAME` stands for the file of transport `NAME` in the
 * default [class@TransportRegistry].
 */
typedef struct {
  GBytes *bytes;
  gchar *sha256;
  gchar **requires;
} Module;

struct _MitogenModuleResponder {
  GObject parent_instance;

  MitogenRouter *router; /* unowned: the router owns its responder */
  GMutex lock;
  GPtrArray *path;
  GHashTable *registered; /* name -> Module* (explicit registrations) */
  GHashTable *cache;      /* name -> Module* (found in path) */
  MitogenSentModules *sent;
  guint n_requests;
  guint64 bytes_sent;
};

G_DEFINE_FINAL_TYPE (MitogenModuleResponder, mitogen_module_responder,
                     G_TYPE_OBJECT)

enum {
  SIGNAL_REQUEST,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
module_free (gpointer data)
{
  Module *m = data;

  g_bytes_unref (m->bytes);
  g_free (m->sha256);
  g_strfreev (m->requires);
  g_free (m);
}

/* g_ptr_array_sort() passes pointers to the elements. */
static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

/**
 * mitogen_get_child_modules:
 * @path: a module directory
 *
 * Lists the function modules directly beneath @path: the names of its
 * `NAME.so` files that are valid module names.
 *
 * Returns: (transfer full) (array zero-terminated=1): the names, sorted
 */
gchar **
mitogen_get_child_modules (const gchar *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  const gchar *file;

  while (dir && (file = g_dir_read_name (dir)))
    {
      g_autofree gchar *name = NULL;
      g_autofree gchar *full = NULL;

      if (!g_str_has_suffix (file, ".so"))
        continue;
      name = g_strndup (file, strlen (file) - 3);
      if (!mitogen_importer_is_valid_name (name))
        continue;
      /* Files only, as the importer looks for: not a directory `x.so/`. */
      full = g_build_filename (path, file, NULL);
      if (g_file_test (full, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (names, g_steal_pointer (&name));
    }
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return (gchar **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* Reads what a module needs by opening it: modules on the master's own
 * path are trusted code. */
static gchar **
read_requires (const gchar *file,
               const gchar *name,
               GError **error)
{
  GModule *module = g_module_open (file, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  const MitogenModuleInfo *info = NULL;
  gchar **requires;

  if (!module)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "Module “%s” (%s) cannot be loaded: %s", name, file,
                   g_module_error ());
      return NULL;
    }
  g_module_symbol (module, MITOGEN_MODULE_INFO_SYMBOL, (gpointer *) &info);
  if (!info || info->abi_version != MITOGEN_MODULE_ABI_VERSION ||
      g_strcmp0 (info->name, name) != 0)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "%s is not a function module named “%s”", file, name);
      g_module_close (module);
      return NULL;
    }
  requires = g_strdupv ((gchar **) info->requires);
  if (!requires)
    requires = g_new0 (gchar *, 1);
  /* Never closed: unloading a library that registered types is unsafe. */
  return requires;
}

static Module *
module_new (GBytes *bytes,
            gchar **requires)
{
  Module *m = g_new0 (Module, 1);

  m->bytes = g_bytes_ref (bytes);
  m->sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  m->requires = requires;
  return m;
}

static Module *
load_file (const gchar *name,
           const gchar *file,
           GError **error)
{
  g_autofree gchar *contents = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gchar **requires;
  gsize len;

  if (!g_file_get_contents (file, &contents, &len, error))
    return NULL;
  requires = read_requires (file, name, error);
  if (!requires)
    return NULL;
  bytes = g_bytes_new_take (g_steal_pointer (&contents), len);
  return module_new (bytes, requires);
}

/* A transport's module, for a context that lacks it: the file the
 * master's own registry would load. It is not opened here, and needs no
 * function modules. */
static Module *
load_transport (const gchar *name,
                GError **error)
{
  const gchar *transport = name + strlen (MITOGEN_TRANSPORT_MODULE_PREFIX);
  MitogenTransportModule *module =
    mitogen_transport_registry_lookup (mitogen_transport_registry_get_default (),
                                       transport, NULL);
  g_autofree gchar *contents = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gsize len;

  if (!module)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "No transport “%s” in the master's transport path", transport);
      return NULL;
    }
  if (!g_file_get_contents (mitogen_transport_module_get_path (module), &contents,
                            &len, error))
    return NULL;
  bytes = g_bytes_new_take (g_steal_pointer (&contents), len);
  return module_new (bytes, g_new0 (gchar *, 1));
}

static gchar *
find_in_path_locked (MitogenModuleResponder *self,
                     const gchar *name)
{
  for (guint i = 0; i < self->path->len; i++)
    {
      g_auto(GStrv) names = mitogen_get_child_modules (self->path->pdata[i]);

      if (g_strv_contains ((const gchar * const *) names, name))
        {
          g_autofree gchar *file = g_strconcat (name, ".so", NULL);
          return g_build_filename (self->path->pdata[i], file, NULL);
        }
    }
  return NULL;
}

static Module *
lookup_locked (MitogenModuleResponder *self,
               const gchar *name,
               GError **error)
{
  Module *m;
  g_autofree gchar *file = NULL;

  if (!mitogen_importer_is_valid_name (name))
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "No such module “%s”", name);
      return NULL;
    }
  if ((m = g_hash_table_lookup (self->registered, name)) ||
      (m = g_hash_table_lookup (self->cache, name)))
    return m;

  if (g_str_has_prefix (name, MITOGEN_TRANSPORT_MODULE_PREFIX))
    {
      m = load_transport (name, error);
      if (m)
        g_hash_table_insert (self->cache, g_strdup (name), m);
      return m;
    }

  file = find_in_path_locked (self, name);
  if (!file)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "No such module “%s” in the master's module path", name);
      return NULL;
    }
  m = load_file (name, file, error);
  if (m)
    g_hash_table_insert (self->cache, g_strdup (name), m);
  return m;
}

/**
 * mitogen_module_responder_lookup:
 * @self: a responder
 * @name: a module name
 * @out_sha256: (out) (optional) (transfer full): the bytes' SHA-256, in hex
 * @out_requires: (out) (optional) (transfer full) (array zero-terminated=1):
 *   the modules it needs
 * @error: return location for an error
 *
 * Returns the module's bytes, or %NULL with
 * %MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION.
 *
 * Returns: (transfer full) (nullable): the module's bytes, or %NULL with
 *   %MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION
 */
GBytes *
mitogen_module_responder_lookup (MitogenModuleResponder *self,
                                 const gchar *name,
                                 gchar **out_sha256,
                                 gchar ***out_requires,
                                 GError **error)
{
  GBytes *bytes = NULL;
  Module *m;

  g_mutex_lock (&self->lock);
  m = lookup_locked (self, name, error);
  if (m)
    {
      bytes = g_bytes_ref (m->bytes);
      if (out_sha256)
        *out_sha256 = g_strdup (m->sha256);
      if (out_requires)
        *out_requires = g_strdupv (m->requires);
    }
  g_mutex_unlock (&self->lock);
  return bytes;
}

static void
send_load_module (MitogenModuleResponder *self,
                  guint32 dst_id,
                  const gchar *name,
                  Module *m,
                  const gchar *error_message)
{
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GBytes) none = g_bytes_new_static ("", 0);
  const gchar *const empty[] = { NULL };
  gsize len = m ? g_bytes_get_size (m->bytes) : 0;

  msg = mitogen_message_new (dst_id, MITOGEN_HANDLE_LOAD_MODULE,
                             g_variant_new ("(sb@ays^ass)", name, m != NULL,
                                            g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                                                      m ? m->bytes : none,
                                                                      TRUE),
                                            m ? m->sha256 : "",
                                            m ? (const gchar *const *) m->requires : empty,
                                            error_message ? error_message : ""));
  self->bytes_sent += len;
  mitogen_router_route (self->router, msg);
}

/* Sends @name's requirements, deepest first, then @name itself. */
static void
send_with_requirements_locked (MitogenModuleResponder *self,
                               guint32 dst_id,
                               guint32 branch_id,
                               const gchar *name,
                               guint depth)
{
  g_autoptr(GError) error = NULL;
  Module *m = lookup_locked (self, name, &error);

  if (m && depth < 16)
    for (gchar **req = m->requires; *req; req++)
      if (!mitogen_sent_modules_contains (self->sent, branch_id, *req))
        send_with_requirements_locked (self, dst_id, branch_id, *req,
                                       depth + 1);

  send_load_module (self, dst_id, name, m, error ? error->message : NULL);
  if (m)
    mitogen_sent_modules_add (self->sent, branch_id, name);
}

static void
on_get_module (MitogenMessage *msg,
               gpointer user_data)
{
  MitogenModuleResponder *self = user_data;
  g_autoptr(GVariant) body = NULL;
  guint32 src_id = mitogen_message_get_src_id (msg);
  const gchar *name;

  if (mitogen_message_is_dead (msg))
    return;
  body = mitogen_message_get_data (msg, NULL);
  if (!body || !g_variant_is_of_type (body, G_VARIANT_TYPE ("(s)")))
    return;
  g_variant_get (body, "(&s)", &name);

  g_mutex_lock (&self->lock);
  self->n_requests++;
  if (!mitogen_sent_modules_refuse_repeat (self->sent, src_id, name))
    send_with_requirements_locked (
        self, src_id, mitogen_sent_modules_branch_of (self->sent, src_id), name,
        0);
  g_mutex_unlock (&self->lock);
  g_signal_emit (self, signals[SIGNAL_REQUEST], 0, mitogen_message_get_src_id (msg),
                 name);
}

static void
mitogen_module_responder_finalize (GObject *object)
{
  MitogenModuleResponder *self = MITOGEN_MODULE_RESPONDER (object);

  g_ptr_array_unref (self->path);
  g_hash_table_unref (self->registered);
  g_hash_table_unref (self->cache);
  g_clear_object (&self->sent);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_module_responder_parent_class)->finalize (object);
}

static void
mitogen_module_responder_class_init (MitogenModuleResponderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_module_responder_finalize;

  /**
   * MitogenModuleResponder::request:
   * @self: the responder
   * @context_id: the context that asked
   * @name: the module it asked for, found or not
   *
   * Emitted on the broker thread once a `GET_MODULE` has been answered.
   */
  signals[SIGNAL_REQUEST] =
    g_signal_new ("request", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
}

static void
mitogen_module_responder_init (MitogenModuleResponder *self)
{
  g_mutex_init (&self->lock);
  self->path = g_ptr_array_new_with_free_func (g_free);
  self->registered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, module_free);
  self->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, module_free);
}

/**
 * mitogen_module_responder_new:
 * @router: the master's router; the responder answers `GET_MODULE` on it
 * @path: (array zero-terminated=1) (nullable): module directories
 *
 * Creates a responder answering children's `GET_MODULE` requests on @router
 * with modules from @path.
 *
 * Returns: (transfer full): a new responder
 */
MitogenModuleResponder *
mitogen_module_responder_new (MitogenRouter *router,
                              const gchar * const *path)
{
  MitogenModuleResponder *self = g_object_new (MITOGEN_TYPE_MODULE_RESPONDER, NULL);

  self->router = router;
  self->sent = mitogen_sent_modules_new (router);
  for (; path && *path; path++)
    mitogen_module_responder_add_path (self, *path);
  /* The handler holds no reference: the router owns the responder. */
  mitogen_router_add_handler (router, MITOGEN_HANDLE_GET_MODULE,
                              MITOGEN_HANDLER_PERSIST | MITOGEN_HANDLER_OVERWRITE,
                              MITOGEN_CONTEXT_ID_NONE, NULL, on_get_module,
                              self, NULL);
  return self;
}

/**
 * mitogen_module_responder_get_for_router:
 * @router: the master's router
 *
 * The responder of @router, made on first use with the directories of
 * `MITOGEN_PLUGIN_PATH` and the install directory as its path.
 *
 * Returns: (transfer none): the responder
 */
MitogenModuleResponder *
mitogen_module_responder_get_for_router (MitogenRouter *router)
{
  static GMutex lock;
  MitogenModuleResponder *self;

  g_mutex_lock (&lock);
  self = g_object_get_data (G_OBJECT (router), "mitogen-module-responder");
  if (!self)
    {
      const gchar *env = g_getenv ("MITOGEN_PLUGIN_PATH");
      g_auto(GStrv) dirs = g_strsplit (env ? env : "", G_SEARCHPATH_SEPARATOR_S, -1);

      self = mitogen_module_responder_new (router, NULL);
      for (guint i = 0; dirs[i]; i++)
        if (*dirs[i])
          mitogen_module_responder_add_path (self, dirs[i]);
      mitogen_module_responder_add_path (self, MITOGEN_PLUGINDIR);
      g_object_set_data_full (G_OBJECT (router), "mitogen-module-responder",
                              self, g_object_unref);
    }
  g_mutex_unlock (&lock);
  return self;
}

/**
 * mitogen_module_responder_add_path:
 * @self: a responder
 * @dir: a module directory, searched after those given before
 *
 * Adds @dir to the directories modules are served from.
 */
void
mitogen_module_responder_add_path (MitogenModuleResponder *self,
                                   const gchar *dir)
{
  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->path, g_strdup (dir));
  g_mutex_unlock (&self->lock);
}

/**
 * mitogen_module_responder_register_file:
 * @self: a responder
 * @file: a module file anywhere, such as `./mymod.so`
 * @out_name: (out) (optional) (transfer full): the module's name, read
 *   from the module itself
 * @error: return location for an error
 *
 * Serves the module in @file under the name it declares, ahead of the
 * path.
 *
 * Returns: %TRUE on success
 */
gboolean
mitogen_module_responder_register_file (MitogenModuleResponder *self,
                                        const gchar *file,
                                        gchar **out_name,
                                        GError **error)
{
  GModule *module = g_module_open (file, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  const MitogenModuleInfo *info = NULL;
  g_autofree gchar *name = NULL;
  Module *m;

  if (!module)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "Cannot load %s: %s", file, g_module_error ());
      return FALSE;
    }
  g_module_symbol (module, MITOGEN_MODULE_INFO_SYMBOL, (gpointer *) &info);
  if (!info || info->abi_version != MITOGEN_MODULE_ABI_VERSION ||
      !mitogen_importer_is_valid_name (info->name))
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "%s is not a libmitogen function module", file);
      return FALSE;
    }
  name = g_strdup (info->name);
  m = load_file (name, file, error);
  if (!m)
    return FALSE;

  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->registered, g_strdup (name), m);
  g_mutex_unlock (&self->lock);
  if (out_name)
    *out_name = g_steal_pointer (&name);
  return TRUE;
}

/**
 * mitogen_module_responder_register_bytes:
 * @self: a responder
 * @name: the module's name, as it declares it
 * @bytes: the module file's contents
 * @error: return location for an error
 *
 * Serves a module held in memory, ahead of the path.
 *
 * Returns: %TRUE on success
 */
gboolean
mitogen_module_responder_register_bytes (MitogenModuleResponder *self,
                                         const gchar *name,
                                         GBytes *bytes,
                                         GError **error)
{
  g_autofree gchar *file = NULL;
  gchar **requires;
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  int fd;

  if (!mitogen_importer_is_valid_name (name))
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                   "“%s” is not a valid module name", name);
      return FALSE;
    }
  /* Opened once here, through a memfd, to learn what it requires. */
  fd = memfd_create (name, MFD_CLOEXEC);
  if (fd < 0 || write (fd, data, len) != (gssize) len)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Cannot stage module “%s” in memory", name);
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  file = g_strdup_printf ("/proc/self/fd/%d", fd);
  requires = read_requires (file, name, error);
  /* read_requires() leaves the module loaded, so the descriptor stays
   * open with it: GLib and the dynamic loader know a library by its path,
   * and would take a later memfd given the same number for this module. */
  if (!requires)
    {
      close (fd);
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->registered, g_strdup (name), module_new (bytes, requires));
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* @name after what it needs, each once, into @order. */
static gboolean
add_closure_locked (MitogenModuleResponder *self,
                    const gchar *name,
                    GPtrArray *order,
                    guint depth,
                    GError **error)
{
  Module *m;

  if (g_ptr_array_find_with_equal_func (order, name, g_str_equal, NULL))
    return TRUE;
  m = lookup_locked (self, name, error);
  if (!m)
    return FALSE;
  if (depth < 16)
    for (gchar **req = m->requires; *req; req++)
      if (!add_closure_locked (self, *req, order, depth + 1, error))
        return FALSE;
  g_ptr_array_add (order, g_strdup (name));
  return TRUE;
}

static void
send_forward_module (MitogenModuleResponder *self,
                     guint32 hop_id,
                     guint32 target_id,
                     const gchar *name)
{
  g_autoptr (MitogenMessage) msg = mitogen_message_new (
      hop_id, MITOGEN_HANDLE_FORWARD_MODULE,
      g_variant_new (MITOGEN_FORWARD_MODULE_TYPE, target_id, name));

  mitogen_router_route (self->router, msg);
}

/**
 * mitogen_module_responder_forward_modules:
 * @self: a responder
 * @context_id: the context that will need the modules
 * @modules: (array zero-terminated=1): module names
 * @error: return location for an error
 *
 * Sends @modules, and the modules they need, to @context_id before it asks
 * for them, as Mitogen's `forward_modules()` does: each goes down the
 * stream towards the context unless it went that way already, and each
 * intermediate context keeps it and passes it on (`FORWARD_MODULE`), so
 * the context finds it at hand and the hops have it for their other
 * children. Returns without waiting; messages sent to the context later
 * arrive after the modules.
 *
 * Returns: %TRUE once sent; %FALSE with
 *   %MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION if a module is not served here,
 *   or %MITOGEN_STREAM_ERROR_DISCONNECTED if there is no route to the
 *   context
 */
gboolean
mitogen_module_responder_forward_modules (MitogenModuleResponder *self,
                                          guint32 context_id,
                                          const gchar *const *modules,
                                          GError **error)
{
  g_autoptr (MitogenStream) stream = NULL;
  g_autoptr (GPtrArray) order = g_ptr_array_new_with_free_func (g_free);
  guint32 hop_id;
  gboolean ok = TRUE;

  g_return_val_if_fail (MITOGEN_IS_MODULE_RESPONDER (self), FALSE);
  g_return_val_if_fail (modules != NULL, FALSE);

  stream = mitogen_router_stream_by_id (self->router, context_id);
  if (!stream || mitogen_stream_get_is_privileged (stream))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR,
                   MITOGEN_STREAM_ERROR_DISCONNECTED,
                   "Cannot forward modules to context %u: no route to it below "
                   "this one",
                   context_id);
      return FALSE;
    }
  hop_id = mitogen_stream_get_remote_id (stream);

  g_mutex_lock (&self->lock);
  for (const gchar *const *name = modules; ok && *name; name++)
    ok = add_closure_locked (self, *name, order, 0, error);
  for (guint i = 0; ok && i < order->len; i++)
    {
      const gchar *name = order->pdata[i];

      if (!mitogen_sent_modules_contains (self->sent, hop_id, name))
        {
          send_load_module (self, hop_id, name,
                            lookup_locked (self, name, NULL), NULL);
          mitogen_sent_modules_add (self->sent, hop_id, name);
        }
      if (hop_id != context_id)
        send_forward_module (self, hop_id, context_id, name);
    }
  g_mutex_unlock (&self->lock);
  return ok;
}

/**
 * mitogen_module_responder_get_n_requests:
 * @self: a responder
 *
 * Returns `GET_MODULE` requests answered so far.
 *
 * Returns: `GET_MODULE` requests answered so far
 */
guint
mitogen_module_responder_get_n_requests (MitogenModuleResponder *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->n_requests;
  g_mutex_unlock (&self->lock);
  return n;
}

/**
 * mitogen_module_responder_get_bytes_sent:
 * @self: a responder
 *
 * Returns module bytes sent so far.
 *
 * Returns: module bytes sent so far
 */
guint64
mitogen_module_responder_get_bytes_sent (MitogenModuleResponder *self)
{
  guint64 n;

  g_mutex_lock (&self->lock);
  n = self->bytes_sent;
  g_mutex_unlock (&self->lock);
  return n;
}

/**
 * mitogen_module_responder_get_n_contexts:
 * @self: a responder
 *
 * Counts the children whose record of modules sent the responder keeps:
 * the record goes when the route to the child does.
 *
 * Returns: how many children it has a record for
 */
guint
mitogen_module_responder_get_n_contexts (MitogenModuleResponder *self)
{
  g_return_val_if_fail (MITOGEN_IS_MODULE_RESPONDER (self), 0);

  return mitogen_sent_modules_get_n_branches (self->sent);
}
