/* mitogen-call.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-call.h"

/**
 * MitogenCall:
 *
 * What a [callback@Func] knows of the call it serves: who called, and a
 * way to send progress (such as a command's output as it is produced)
 * back to the caller before the result.
 */
struct _MitogenCall {
  GObject parent_instance;

  MitogenRouter *router;
  guint32 caller_id;
  guint32 progress_handle;
  gchar *module;
  gchar *function;
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (MitogenCall, mitogen_call, G_TYPE_OBJECT)

static void
mitogen_call_finalize (GObject *object)
{
  MitogenCall *self = MITOGEN_CALL (object);

  g_clear_object (&self->router);
  g_clear_object (&self->cancellable);
  g_free (self->module);
  g_free (self->function);
  G_OBJECT_CLASS (mitogen_call_parent_class)->finalize (object);
}

static void
mitogen_call_class_init (MitogenCallClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_call_finalize;
}

static void
mitogen_call_init (MitogenCall *self)
{
  self->cancellable = g_cancellable_new ();
}

/**
 * mitogen_call_new:
 * @router: the router of the context running the call
 * @caller_id: the calling context
 * @progress_handle: the caller's handle for progress, or 0 for none
 * @module: the module called
 * @function: the function called
 *
 * Creates the call a function module's #MitogenFunc receives: who called,
 * which function, and where progress goes.
 *
 * Returns: (transfer full): a new call
 */
MitogenCall *
mitogen_call_new (MitogenRouter *router,
                  guint32 caller_id,
                  guint32 progress_handle,
                  const gchar *module,
                  const gchar *function)
{
  MitogenCall *self = g_object_new (MITOGEN_TYPE_CALL, NULL);

  self->router = router ? g_object_ref (router) : NULL;
  self->caller_id = caller_id;
  self->progress_handle = progress_handle;
  self->module = g_strdup (module);
  self->function = g_strdup (function);
  return self;
}

/**
 * mitogen_call_get_router:
 * @self: a call
 *
 * Returns the router of the running context.
 *
 * Returns: (transfer none) (nullable): the router of the running context
 */
MitogenRouter *
mitogen_call_get_router (MitogenCall *self)
{
  return self->router;
}

/**
 * mitogen_call_get_caller_id:
 * @self: a call
 *
 * Returns the id of the calling context.
 *
 * Returns: the id of the calling context
 */
guint32
mitogen_call_get_caller_id (MitogenCall *self)
{
  return self->caller_id;
}

/**
 * mitogen_call_get_module:
 * @self: a call
 *
 * Returns the module's name.
 *
 * Returns: the module's name
 */
const gchar *
mitogen_call_get_module (MitogenCall *self)
{
  return self->module;
}

/**
 * mitogen_call_get_function:
 * @self: a call
 *
 * Returns the function's name.
 *
 * Returns: the function's name
 */
const gchar *
mitogen_call_get_function (MitogenCall *self)
{
  return self->function;
}

/**
 * mitogen_call_get_cancellable:
 * @self: a call
 *
 * Returns the cancellable of the call, cancelled when the context shuts
 * down; a long function should watch it.
 *
 * Returns: (transfer none): cancelled when the context shuts down; a long
 *   function should watch it
 */
GCancellable *
mitogen_call_get_cancellable (MitogenCall *self)
{
  return self->cancellable;
}

/**
 * mitogen_call_wants_progress:
 * @self: a call
 *
 * Returns whether the caller listens for progress.
 *
 * Returns: whether the caller listens for progress
 */
gboolean
mitogen_call_wants_progress (MitogenCall *self)
{
  return self->progress_handle != 0;
}

/**
 * mitogen_call_emit_progress:
 * @self: a call
 * @data: the progress; a floating reference is sunk
 *
 * Sends @data to the caller's progress handler, if it has one. Progress
 * arrives before the result, in the order emitted.
 */
void
mitogen_call_emit_progress (MitogenCall *self,
                            GVariant *data)
{
  g_autoptr(MitogenMessage) msg = NULL;

  if (!self->progress_handle || !self->router)
    {
      g_variant_unref (g_variant_ref_sink (data));
      return;
    }
  msg = mitogen_message_new (self->caller_id, self->progress_handle, data);
  mitogen_router_route (self->router, msg);
}
