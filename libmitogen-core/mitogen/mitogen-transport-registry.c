/* mitogen-transport-registry.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-transport-registry.h"

#include <stdlib.h>
#include <string.h>

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
 */
struct _MitogenTransportRegistry {
  GObject parent_instance;

  GMutex lock;
  GHashTable *modules; /* name -> MitogenTransportModule* */
};

G_DEFINE_FINAL_TYPE (MitogenTransportRegistry, mitogen_transport_registry,
                     G_TYPE_OBJECT)

static void
mitogen_transport_registry_finalize (GObject *object)
{
  MitogenTransportRegistry *self = MITOGEN_TRANSPORT_REGISTRY (object);

  g_hash_table_unref (self->modules);
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
 * mitogen_transport_registry_lookup:
 * @self: a registry
 * @name: a transport name
 * @error: return location for an error
 *
 * Returns: (transfer none) (nullable): the transport's module, or %NULL
 *   with %MITOGEN_STREAM_ERROR_CONNECT naming the transports known
 */
MitogenTransportModule *
mitogen_transport_registry_lookup (MitogenTransportRegistry *self,
                                   const gchar *name,
                                   GError **error)
{
  MitogenTransportModule *module;

  g_mutex_lock (&self->lock);
  module = g_hash_table_lookup (self->modules, name);
  g_mutex_unlock (&self->lock);

  if (!module)
    {
      g_auto(GStrv) known = mitogen_transport_registry_list (self);
      g_autofree gchar *list = g_strjoinv (", ", known);

      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "No transport “%s” (known: %s); set MITOGEN_TRANSPORT_PATH "
                   "to the directory holding mitogen-transport-%s.so",
                   name, *list ? list : "none", name);
    }
  return module;
}

/**
 * mitogen_transport_registry_get_stream_type:
 * @self: a registry
 * @name: a transport name
 * @error: return location for an error
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
