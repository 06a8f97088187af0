/* mitogen-module-forwarder.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-module-forwarder.h"

#include "mitogen-protocol.h"
#include "mitogen-sent-modules.h"
#include "mitogen-router-private.h"

/**
 * MitogenModuleForwarder:
 *
 * Answers `GET_MODULE` from the children of an intermediate context out of
 * what its [class@Importer] fetched from upstream, asking upstream once
 * per module however many children want it. With each module a child
 * first receives, unasked, the modules it needs that the child has not
 * had yet, so in a tree every module crosses each link once; a child
 * asking again is answered without it (see #MitogenSentModules).
 *
 * Modules pushed from upstream ahead of need (`FORWARD_MODULE`, see
 * mitogen_module_responder_forward_modules()) are kept the same way and
 * passed on towards the context they are for.
 */
struct _MitogenModuleForwarder {
  GObject parent_instance;

  MitogenRouter *router;     /* unowned: the router outlives us */
  MitogenImporter *importer;
  GMutex lock;
  GHashTable *waiting;       /* name -> GArray of child ids */
  MitogenSentModules *sent;
  guint n_requests;
};

G_DEFINE_FINAL_TYPE (MitogenModuleForwarder, mitogen_module_forwarder,
                     G_TYPE_OBJECT)

/* Sends @name, after what it needs, from the importer's cache. */
static void
send_to_child_locked (MitogenModuleForwarder *self,
                      guint32 child,
                      const gchar *name,
                      guint depth)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autofree gchar *sha256 = NULL, *error = NULL;
  g_auto(GStrv) requires = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  gboolean found;

  if (!mitogen_importer_lookup_fetched (self->importer, name, &found, &bytes,
                                        &sha256, &requires, &error))
    return;
  if (found && depth < 16)
    for (gchar **req = requires; *req; req++)
      if (!mitogen_sent_modules_contains (self->sent, child, *req))
        send_to_child_locked (self, child, *req, depth + 1);

  msg = mitogen_message_new (child, MITOGEN_HANDLE_LOAD_MODULE,
                             g_variant_new ("(sb@ays^ass)", name, found,
                                            g_variant_new_from_bytes (
                                              G_VARIANT_TYPE_BYTESTRING, bytes, TRUE),
                                            sha256, requires, error));
  mitogen_router_route (self->router, msg);
  if (found)
    mitogen_sent_modules_add (self->sent, child, name);
}

static void
on_fetched (MitogenImporter *importer,
            const gchar *name,
            MitogenModuleForwarder *self)
{
  g_autoptr(GArray) children = NULL;
  g_autofree gchar *waited_name = NULL;
  gboolean found = FALSE;

  g_mutex_lock (&self->lock);
  g_hash_table_steal_extended (self->waiting, name, (gpointer *) &waited_name,
                               (gpointer *) &children);
  for (guint i = 0; children && i < children->len; i++)
    send_to_child_locked (self, g_array_index (children, guint32, i), name, 0);
  g_mutex_unlock (&self->lock);

  /* A miss is not remembered: the module may exist by the next request. */
  mitogen_importer_lookup_fetched (importer, name, &found, NULL, NULL, NULL, NULL);
  if (children && !found)
    mitogen_importer_forget (importer, name);
}

static void
on_get_module (MitogenMessage *msg,
               gpointer user_data)
{
  MitogenModuleForwarder *self = user_data;
  g_autoptr(GVariant) body = NULL;
  guint32 child = mitogen_message_get_src_id (msg);
  const gchar *name;
  GArray *children;

  if (mitogen_message_is_dead (msg))
    return;
  body = mitogen_message_get_data (msg, NULL);
  if (!body || !g_variant_is_of_type (body, G_VARIANT_TYPE (MITOGEN_GET_MODULE_TYPE)))
    return;
  g_variant_get (body, "(&s)", &name);

  g_mutex_lock (&self->lock);
  self->n_requests++;
  if (mitogen_sent_modules_refuse_repeat (self->sent, child, name))
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  if (mitogen_importer_lookup_fetched (self->importer, name, NULL, NULL, NULL,
                                       NULL, NULL))
    {
      send_to_child_locked (self, child, name, 0);
      g_mutex_unlock (&self->lock);
      return;
    }
  children = g_hash_table_lookup (self->waiting, name);
  if (!children)
    {
      children = g_array_new (FALSE, FALSE, sizeof (guint32));
      g_hash_table_insert (self->waiting, g_strdup (name), children);
    }
  /* Asking twice before the answer is here changes nothing. */
  for (guint i = 0; i < children->len; i++)
    if (g_array_index (children, guint32, i) == child)
      {
        g_mutex_unlock (&self->lock);
        return;
      }
  g_array_append_val (children, child);
  g_mutex_unlock (&self->lock);

  mitogen_importer_request (self->importer, name);
}

/* FORWARD_MODULE from upstream: pass @name, just received, one stream
 * further towards the target, and the word on if that is not it yet. */
static void
on_forward_module (MitogenMessage *msg, gpointer user_data)
{
  MitogenModuleForwarder *self = user_data;
  g_autoptr (GVariant) body = NULL;
  g_autoptr (MitogenStream) stream = NULL;
  g_autoptr (MitogenMessage) onward = NULL;
  const gchar *name;
  guint32 target, next;

  if (mitogen_message_is_dead (msg))
    return;
  body = mitogen_message_get_data_from_parent (msg, NULL);
  if (!body
      || !g_variant_is_of_type (body,
                                G_VARIANT_TYPE (MITOGEN_FORWARD_MODULE_TYPE)))
    return;
  g_variant_get (body, "(u&s)", &target, &name);
  stream = mitogen_router_stream_by_id (self->router, target);
  if (!stream || mitogen_stream_get_is_privileged (stream))
    {
      g_debug ("Not forwarding module “%s” to context %u: no route below here",
               name, target);
      return;
    }
  next = mitogen_stream_get_remote_id (stream);

  g_mutex_lock (&self->lock);
  /* Upstream sends the module ahead of this, on the same stream. */
  if (!mitogen_importer_lookup_fetched (self->importer, name, NULL, NULL, NULL,
                                        NULL, NULL))
    {
      g_mutex_unlock (&self->lock);
      g_debug ("Not forwarding module “%s” to context %u: not received", name,
               target);
      return;
    }
  if (!mitogen_sent_modules_contains (self->sent, next, name))
    send_to_child_locked (self, next, name, 0);
  g_mutex_unlock (&self->lock);

  if (next == target)
    return;
  onward = mitogen_message_new (
      next, MITOGEN_HANDLE_FORWARD_MODULE,
      g_variant_new (MITOGEN_FORWARD_MODULE_TYPE, target, name));
  mitogen_router_route (self->router, onward);
}

static void
mitogen_module_forwarder_finalize (GObject *object)
{
  MitogenModuleForwarder *self = MITOGEN_MODULE_FORWARDER (object);

  g_signal_handlers_disconnect_by_func (self->importer, on_fetched, self);
  g_object_unref (self->importer);
  g_hash_table_unref (self->waiting);
  g_clear_object (&self->sent);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_module_forwarder_parent_class)->finalize (object);
}

static void
mitogen_module_forwarder_class_init (MitogenModuleForwarderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_module_forwarder_finalize;
}

static void
mitogen_module_forwarder_init (MitogenModuleForwarder *self)
{
  g_mutex_init (&self->lock);
  self->waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) g_array_unref);
}

/**
 * mitogen_module_forwarder_new:
 * @router: the intermediate context's router
 * @importer: its importer, which fetches from upstream
 *
 * Creates a forwarder answering `GET_MODULE` on @router.
 *
 * Returns: (transfer full): a forwarder answering `GET_MODULE` on @router
 */
MitogenModuleForwarder *
mitogen_module_forwarder_new (MitogenRouter *router,
                              MitogenImporter *importer)
{
  MitogenModuleForwarder *self = g_object_new (MITOGEN_TYPE_MODULE_FORWARDER, NULL);

  self->router = router;
  self->importer = g_object_ref (importer);
  self->sent = mitogen_sent_modules_new (router);
  g_signal_connect (importer, "fetched", G_CALLBACK (on_fetched), self);
  mitogen_router_add_handler (router, MITOGEN_HANDLE_GET_MODULE,
                              MITOGEN_HANDLER_PERSIST | MITOGEN_HANDLER_OVERWRITE,
                              MITOGEN_CONTEXT_ID_NONE,
                              mitogen_router_policy_is_immediate_child,
                              on_get_module, self, NULL);
  mitogen_router_add_handler (
      router, MITOGEN_HANDLE_FORWARD_MODULE,
      MITOGEN_HANDLER_PERSIST | MITOGEN_HANDLER_OVERWRITE,
      MITOGEN_CONTEXT_ID_NONE, mitogen_router_policy_has_parent_authority,
      on_forward_module, self, NULL);
  return self;
}

/**
 * mitogen_module_forwarder_get_n_requests:
 * @self: a forwarder
 *
 * Returns `GET_MODULE` requests from children so far.
 *
 * Returns: `GET_MODULE` requests from children so far
 */
guint
mitogen_module_forwarder_get_n_requests (MitogenModuleForwarder *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->n_requests;
  g_mutex_unlock (&self->lock);
  return n;
}
