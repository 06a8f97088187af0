/* mitogen-importer.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-importer.h"

#include <string.h>

#include "mitogen-errors.h"

/**
 * MitogenImporter:
 *
 * Finds and loads function modules in a context: `NAME.so` in the
 * directories of its path, opened with GModule and checked for a
 * [struct@ModuleInfo] of this library's ABI. A module stays loaded for the
 * life of the importer.
 */
struct _MitogenImporter {
  GObject parent_instance;

  GMutex lock;
  GPtrArray *path;      /* gchar* */
  GHashTable *modules;  /* name -> GModule* */
};

G_DEFINE_FINAL_TYPE (MitogenImporter, mitogen_importer, G_TYPE_OBJECT)

static void
mitogen_importer_finalize (GObject *object)
{
  MitogenImporter *self = MITOGEN_IMPORTER (object);

  g_ptr_array_unref (self->path);
  g_hash_table_unref (self->modules);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_importer_parent_class)->finalize (object);
}

static void
mitogen_importer_class_init (MitogenImporterClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_importer_finalize;
}

static void
mitogen_importer_init (MitogenImporter *self)
{
  g_mutex_init (&self->lock);
  self->path = g_ptr_array_new_with_free_func (g_free);
  /* Modules are never closed: functions they registered may still be
   * referenced by code running in other threads. */
  self->modules = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/**
 * mitogen_importer_new:
 * @path: (array zero-terminated=1) (nullable): directories to search, in
 *   order
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

/**
 * mitogen_importer_load:
 * @self: an importer
 * @name: a module name
 * @error: return location for an error
 *
 * Loads the module, and the modules it requires, if not loaded already.
 *
 * Returns: (transfer none) (nullable): the module's description; %NULL with
 *   %MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION naming the module when it cannot
 *   be found or loaded
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
      if (!file)
        g_set_error (error, MITOGEN_CALL_ERROR,
                     MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                     "No module “%s” in the module path", name);
      else if ((module = open_module (name, file, error)))
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
