/* mitogen-transport-registry.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-transport-registry.h"

#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <unistd.h>

#include "mitogen-errors.h"
#include "mitogen-parent-stream.h"

/**
 * MitogenTransportRegistry:
 *
 * Knows the transports (`local`, `ssh`, …) by name. Like GStreamer's
 * registry it scans a path: the directories of `MITOGEN_TRANSPORT_PATH`
 * first, then the install directory, for files named
 * `mitogen-transport-NAME.so`; the first of a name wins. Scanning only
 * reads directory listings: a module is loaded when its transport is
 * first used.
 *
 * In a child context, a transport found nowhere in the path is fetched
 * from the parent like a function module (see
 * mitogen_transport_registry_set_importer()) and loaded from memory, so
 * that an agent with no transports installed can still start children of
 * its own.
 */
struct _MitogenTransportRegistry {
  GObject parent_instance;

  GMutex lock;
  GHashTable *modules; /* name -> MitogenTransportModule* */
  GWeakRef importer;   /* MitogenImporter: fetches what is missing */
};

G_DEFINE_FINAL_TYPE (MitogenTransportRegistry, mitogen_transport_registry,
                     G_TYPE_OBJECT)

static void
mitogen_transport_registry_finalize (GObject *object)
{
  MitogenTransportRegistry *self = MITOGEN_TRANSPORT_REGISTRY (object);

  g_hash_table_unref (self->modules);
  g_weak_ref_clear (&self->importer);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_transport_registry_parent_class)->finalize (object);
}

static void
mitogen_transport_registry_class_init (MitogenTransportRegistryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_transport_registry_finalize;
}

static void
mitogen_transport_registry_init (MitogenTransportRegistry *self)
{
  g_mutex_init (&self->lock);
  self->modules = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         g_object_unref);
  g_weak_ref_init (&self->importer, NULL);
}

static void
scan_dir (MitogenTransportRegistry *self,
          const gchar *dir)
{
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  const gchar *file;

  if (!listing)
    return;
  while ((file = g_dir_read_name (listing)))
    {
      g_autofree gchar *name = NULL;
      g_autofree gchar *path = NULL;

      if (!g_str_has_prefix (file, MITOGEN_TRANSPORT_MODULE_PREFIX) ||
          !g_str_has_suffix (file, ".so"))
        continue;
      name = g_strndup (file + strlen (MITOGEN_TRANSPORT_MODULE_PREFIX),
                        strlen (file) - strlen (MITOGEN_TRANSPORT_MODULE_PREFIX) - 3);
      if (g_hash_table_contains (self->modules, name))
        continue;
      path = g_build_filename (dir, file, NULL);
      g_hash_table_insert (self->modules, g_strdup (name),
                           mitogen_transport_module_new (name, path));
    }
}

/**
 * mitogen_transport_registry_new:
 * @path: (array zero-terminated=1): directories to scan, in order
 *
 * Creates a registry of the transports found in @path.
 *
 * Returns: (transfer full): a registry of the transports found in @path
 */
MitogenTransportRegistry *
mitogen_transport_registry_new (const gchar * const *path)
{
  MitogenTransportRegistry *self =
    g_object_new (MITOGEN_TYPE_TRANSPORT_REGISTRY, NULL);

  for (; path && *path; path++)
    scan_dir (self, *path);
  return self;
}

/**
 * mitogen_transport_registry_get_default:
 *
 * The registry of `MITOGEN_TRANSPORT_PATH` and the install directory,
 * scanned on first use.
 *
 * Returns: (transfer none): the default registry
 */
MitogenTransportRegistry *
mitogen_transport_registry_get_default (void)
{
  static MitogenTransportRegistry *registry;

  if (g_once_init_enter (&registry))
    {
      const gchar *env = g_getenv ("MITOGEN_TRANSPORT_PATH");
      g_auto(GStrv) dirs = g_strsplit (env ? env : "", G_SEARCHPATH_SEPARATOR_S, -1);
      g_autoptr(GStrvBuilder) path = g_strv_builder_new ();
      g_auto(GStrv) all = NULL;

      for (guint i = 0; dirs[i]; i++)
        if (*dirs[i])
          g_strv_builder_add (path, dirs[i]);
      g_strv_builder_add (path, MITOGEN_TRANSPORTDIR);
      all = g_strv_builder_end (path);
      g_once_init_leave (&registry,
                         mitogen_transport_registry_new ((const gchar * const *) all));
    }
  return registry;
}

/**
 * mitogen_transport_registry_list:
 * @self: a registry
 *
 * Returns the transports' names, sorted.
 *
 * Returns: (transfer full) (array zero-terminated=1): the transports'
 *   names, sorted
 */
gchar **
mitogen_transport_registry_list (MitogenTransportRegistry *self)
{
  g_autofree gpointer *keys = NULL;
  guint n;
  gchar **names;

  g_mutex_lock (&self->lock);
  keys = g_hash_table_get_keys_as_array (self->modules, &n);
  names = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++)
    names[i] = g_strdup (keys[i]);
  g_mutex_unlock (&self->lock);

  qsort (names, n, sizeof (gchar *), (int (*) (const void *, const void *)) g_strcmp0);
  return names;
}

/**
 * mitogen_transport_registry_register_bytes:
 * @self: a registry
 * @name: the transport's name
 * @bytes: the contents of its module file, `mitogen-transport-NAME.so`
 * @error: return location for an error
 *
 * Adds a transport held in memory, unless one of that name is known
 * already. The module is staged in a memfd, nothing is written to disk,
 * and loaded on first use like any other.
 *
 * Returns: (transfer none) (nullable): the transport's module, or %NULL
 *   with %MITOGEN_STREAM_ERROR_CONNECT
 */
MitogenTransportModule *
mitogen_transport_registry_register_bytes (MitogenTransportRegistry *self,
                                           const gchar *name,
                                           GBytes *bytes,
                                           GError **error)
{
  g_autofree gchar *file = g_strconcat (MITOGEN_TRANSPORT_MODULE_PREFIX, name,
                                        ".so", NULL);
  g_autofree gchar *path = NULL;
  MitogenTransportModule *module;
  gsize len, done = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  int fd = memfd_create (file, MFD_CLOEXEC);

  while (fd >= 0 && done < len)
    {
      gssize n = write (fd, data + done, len - done);
      if (n <= 0)
        break;
      done += (gsize) n;
    }
  if (fd < 0 || done < len)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "Transport “%s” could not be staged in memory", name);
      if (fd >= 0)
        close (fd);
      return NULL;
    }
  path = g_strdup_printf ("/proc/self/fd/%d", fd);

  g_mutex_lock (&self->lock);
  module = g_hash_table_lookup (self->modules, name);
  if (module)
    /* Another thread was first. */
    close (fd);
  else
    {
      /* The descriptor stays open for good, as the module's path: the
       * loader knows a library by its path, and would take a later memfd
       * given the same number for this one. */
      module = mitogen_transport_module_new (name, path);
      g_hash_table_insert (self->modules, g_strdup (name), module);
    }
  g_mutex_unlock (&self->lock);
  return module;
}

/**
 * mitogen_transport_registry_set_importer:
 * @self: a registry
 * @importer: (nullable): the importer of a child context, or %NULL
 *
 * Has lookups of a transport found nowhere in the path fetch its module
 * (`mitogen-transport-NAME`) from the parent through @importer, and
 * register it with mitogen_transport_registry_register_bytes(). The
 * registry does not keep @importer alive.
 */
void
mitogen_transport_registry_set_importer (MitogenTransportRegistry *self,
                                         MitogenImporter *importer)
{
  g_weak_ref_set (&self->importer, importer);
}

static MitogenTransportModule *
fetch (MitogenTransportRegistry *self,
       MitogenImporter *importer,
       const gchar *name,
       GError **error)
{
  g_autofree gchar *module_name = g_strconcat (MITOGEN_TRANSPORT_MODULE_PREFIX,
                                               name, NULL);
  g_autoptr(GBytes) bytes = NULL;

  g_debug ("Fetching transport “%s” from the parent", name);
  bytes = mitogen_importer_fetch (importer, module_name, error);
  return bytes ? mitogen_transport_registry_register_bytes (self, name, bytes, error)
               : NULL;
}

/**
 * mitogen_transport_registry_lookup:
 * @self: a registry
 * @name: a transport name
 * @error: return location for an error
 *
 * Finds a transport by name; in a child context, one found nowhere in the
 * path is fetched from the parent (see
 * mitogen_transport_registry_set_importer()), which blocks the calling
 * thread until the parent answers.
 *
 * Returns: (transfer none) (nullable): the transport's module, or %NULL
 *   with %MITOGEN_STREAM_ERROR_CONNECT naming the transports known
 */
MitogenTransportModule *
mitogen_transport_registry_lookup (MitogenTransportRegistry *self,
                                   const gchar *name,
                                   GError **error)
{
  g_autoptr(MitogenImporter) importer = NULL;
  g_autoptr(GError) fetch_error = NULL;
  MitogenTransportModule *module;
  g_auto(GStrv) known = NULL;
  g_autofree gchar *list = NULL;

  g_mutex_lock (&self->lock);
  module = g_hash_table_lookup (self->modules, name);
  g_mutex_unlock (&self->lock);
  if (module)
    return module;

  /* A name that could not be a file of ours is not asked for. */
  if (!mitogen_importer_is_valid_name (name))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "“%s” is not a transport name", name ? name : "");
      return NULL;
    }
  known = mitogen_transport_registry_list (self);
  list = g_strjoinv (", ", known);
  importer = g_weak_ref_get (&self->importer);
  if (importer)
    {
      module = fetch (self, importer, name, &fetch_error);
      if (module)
        return module;
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "No transport “%s” here (known: %s), and none from the "
                   "parent: %s", name, *list ? list : "none", fetch_error->message);
      return NULL;
    }
  g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
               "No transport “%s” (known: %s); set MITOGEN_TRANSPORT_PATH "
               "to the directory holding mitogen-transport-%s.so",
               name, *list ? list : "none", name);
  return NULL;
}

/**
 * mitogen_transport_registry_get_stream_type:
 * @self: a registry
 * @name: a transport name
 * @error: return location for an error
 *
 * Returns the transport's stream type, a [class@ParentStream] subclass,
 * loading its module if need be; %G_TYPE_INVALID with @error set.
 *
 * Returns: the transport's stream type, a [class@ParentStream] subclass,
 *   loading its module if need be; %G_TYPE_INVALID with @error set
 */
GType
mitogen_transport_registry_get_stream_type (MitogenTransportRegistry *self,
                                            const gchar *name,
                                            GError **error)
{
  MitogenTransportModule *module = mitogen_transport_registry_lookup (self, name, error);
  GType type;

  if (!module)
    return G_TYPE_INVALID;

  g_mutex_lock (&self->lock);
  type = mitogen_transport_module_get_stream_type (module, error);
  g_mutex_unlock (&self->lock);

  if (type && !g_type_is_a (type, MITOGEN_TYPE_PARENT_STREAM))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "Transport “%s” registered %s, which is not a "
                   "MitogenParentStream", name, g_type_name (type));
      return G_TYPE_INVALID;
    }
  return type;
}
