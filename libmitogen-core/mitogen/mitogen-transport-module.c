/* mitogen-transport-module.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-transport-module.h"

#include <gmodule.h>

#include "mitogen-errors.h"

/**
 * MitogenTransportModule:
 *
 * One transport plugin: a shared module that registers its stream type
 * with `G_DEFINE_DYNAMIC_TYPE` against this `GTypeModule`, as GStreamer's
 * plugins do. It is loaded the first time its stream type is asked for.
 */
struct _MitogenTransportModule {
  GTypeModule parent_instance;

  gchar *name;
  gchar *path;
  GModule *library;
  GType stream_type;
  gchar *load_error;
};

G_DEFINE_FINAL_TYPE (MitogenTransportModule, mitogen_transport_module,
                     G_TYPE_TYPE_MODULE)

static gboolean
mitogen_transport_module_load (GTypeModule *module)
{
  MitogenTransportModule *self = MITOGEN_TRANSPORT_MODULE (module);
  MitogenTransportRegisterFunc register_func = NULL;

  g_clear_pointer (&self->load_error, g_free);
  self->library = g_module_open (self->path, G_MODULE_BIND_LOCAL);
  if (!self->library)
    {
      self->load_error = g_strdup (g_module_error ());
      return FALSE;
    }
  if (!g_module_symbol (self->library, MITOGEN_TRANSPORT_REGISTER_SYMBOL,
                        (gpointer *) &register_func) || !register_func)
    {
      self->load_error = g_strdup_printf ("%s does not export %s", self->path,
                                          MITOGEN_TRANSPORT_REGISTER_SYMBOL);
      g_module_close (self->library);
      self->library = NULL;
      return FALSE;
    }
  self->stream_type = register_func (module);
  return TRUE;
}

static void
mitogen_transport_module_unload (GTypeModule *module)
{
  MitogenTransportModule *self = MITOGEN_TRANSPORT_MODULE (module);

  g_clear_pointer (&self->library, g_module_close);
}

static void
mitogen_transport_module_finalize (GObject *object)
{
  MitogenTransportModule *self = MITOGEN_TRANSPORT_MODULE (object);

  g_free (self->name);
  g_free (self->path);
  g_free (self->load_error);
  G_OBJECT_CLASS (mitogen_transport_module_parent_class)->finalize (object);
}

static void
mitogen_transport_module_class_init (MitogenTransportModuleClass *klass)
{
  GTypeModuleClass *module_class = G_TYPE_MODULE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = mitogen_transport_module_finalize;
  module_class->load = mitogen_transport_module_load;
  module_class->unload = mitogen_transport_module_unload;
}

static void
mitogen_transport_module_init (MitogenTransportModule *self)
{
}

/**
 * mitogen_transport_module_new:
 * @name: the transport's name, such as `ssh`
 * @path: the module file
 *
 * Creates a module, not loaded yet.
 *
 * Returns: (transfer full): a module, not loaded yet
 */
MitogenTransportModule *
mitogen_transport_module_new (const gchar *name,
                              const gchar *path)
{
  MitogenTransportModule *self =
    g_object_new (MITOGEN_TYPE_TRANSPORT_MODULE, NULL);

  self->name = g_strdup (name);
  self->path = g_strdup (path);
  g_type_module_set_name (G_TYPE_MODULE (self), name);
  return self;
}

/**
 * mitogen_transport_module_get_name:
 * @self: a module
 *
 * Returns the transport's name.
 *
 * Returns: the transport's name
 */
const gchar *
mitogen_transport_module_get_name (MitogenTransportModule *self)
{
  return self->name;
}

/**
 * mitogen_transport_module_get_path:
 * @self: a module
 *
 * Returns the module file.
 *
 * Returns: the module file
 */
const gchar *
mitogen_transport_module_get_path (MitogenTransportModule *self)
{
  return self->path;
}

/**
 * mitogen_transport_module_get_stream_type:
 * @self: a module
 * @error: return location for an error
 *
 * Loads the module, once, and keeps it loaded.
 *
 * Returns: the stream type, or %G_TYPE_INVALID with @error set
 */
GType
mitogen_transport_module_get_stream_type (MitogenTransportModule *self,
                                          GError **error)
{
  /* Used for good: instances of its types may live anywhere. */
  if (!self->stream_type && !g_type_module_use (G_TYPE_MODULE (self)))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "Transport “%s” could not be loaded: %s", self->name,
                   self->load_error ? self->load_error : "unknown error");
      return G_TYPE_INVALID;
    }
  return self->stream_type;
}
