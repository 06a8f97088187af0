/* mitogen-sent-modules.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-sent-modules.h"

#include "mitogen-protocol.h"

/**
 * MitogenSentModules:
 *
 * What a module server (the master's [class@ModuleResponder], an
 * intermediate context's [class@ModuleForwarder]) has sent down each of
 * its streams, known by the id of the child at its end: each module goes
 * down a stream once, and the record goes with the stream's route.
 *
 * A context that asks again for a module it was sent gets a short
 * "already sent" answer instead of a second copy: a well-behaved importer
 * keeps what it received, even unasked, and only asks again after a copy
 * failed its check, so a child that asks twice is either broken or
 * flooding, and neither should cost the master a module per request. The
 * answer still wakes whoever waits, with an error that says why.
 */
struct _MitogenSentModules
{
  GObject parent_instance;

  MitogenRouter *router; /* unowned: the owner's router outlives it */
  GMutex lock;
  GHashTable *sent;   /* branch id -> GHashTable of names */
  GHashTable *warned; /* branch ids whose repeats were logged */
};

G_DEFINE_FINAL_TYPE (MitogenSentModules, mitogen_sent_modules, G_TYPE_OBJECT)

/* The stream a module for @context_id leaves by: its route, known by the
 * id of the child at its end; @context_id itself when there is none. */
guint32
mitogen_sent_modules_branch_of (MitogenSentModules *self, guint32 context_id)
{
  g_autoptr (MitogenStream) stream
      = mitogen_router_stream_by_id (self->router, context_id);

  return stream && !mitogen_stream_get_is_privileged (stream)
             ? mitogen_stream_get_remote_id (stream)
             : context_id;
}

gboolean
mitogen_sent_modules_contains (MitogenSentModules *self,
                               guint32 branch_id,
                               const gchar *name)
{
  GHashTable *names;
  gboolean found;

  g_mutex_lock (&self->lock);
  names = g_hash_table_lookup (self->sent, GUINT_TO_POINTER (branch_id));
  found = names && g_hash_table_contains (names, name);
  g_mutex_unlock (&self->lock);
  return found;
}

/* Records @name as sent down @branch_id's stream, while it has a route:
 * a record made after the route went would never be freed. */
void
mitogen_sent_modules_add (MitogenSentModules *self,
                          guint32 branch_id,
                          const gchar *name)
{
  g_autoptr (MitogenStream) stream
      = mitogen_router_stream_by_id (self->router, branch_id);
  GHashTable *names;

  if (!stream || mitogen_stream_get_is_privileged (stream))
    return;
  g_mutex_lock (&self->lock);
  names = g_hash_table_lookup (self->sent, GUINT_TO_POINTER (branch_id));
  if (!names)
    {
      names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_hash_table_insert (self->sent, GUINT_TO_POINTER (branch_id), names);
    }
  g_hash_table_add (names, g_strdup (name));
  g_mutex_unlock (&self->lock);
}

/* If @name went down @context_id's stream already, answers with a short
 * "already sent" and returns %TRUE; logs the first repeat of each stream
 * only. */
gboolean
mitogen_sent_modules_refuse_repeat (MitogenSentModules *self,
                                    guint32 context_id,
                                    const gchar *name)
{
  guint32 branch_id = mitogen_sent_modules_branch_of (self, context_id);
  g_autoptr (MitogenMessage) msg = NULL;
  g_autofree gchar *why = NULL;
  const gchar *const none[] = { NULL };
  gboolean first;

  if (!mitogen_sent_modules_contains (self, branch_id, name))
    return FALSE;

  g_mutex_lock (&self->lock);
  first = g_hash_table_add (self->warned, GUINT_TO_POINTER (branch_id));
  g_mutex_unlock (&self->lock);
  if (first)
    g_message ("Context %u asked again for module “%s”, already sent to it; "
               "further repeats from context %u are answered without it and "
               "not logged",
               context_id, name, branch_id);

  why = g_strdup_printf ("Module “%s” was sent to context %u already", name,
                         branch_id);
  msg = mitogen_message_new (
      context_id, MITOGEN_HANDLE_LOAD_MODULE,
      g_variant_new ("(sb@ays^ass)", name, FALSE,
                     g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "", 0, 1),
                     "", none, why));
  mitogen_router_route (self->router, msg);
  return TRUE;
}

/* How many streams have a record, for tests. */
guint
mitogen_sent_modules_get_n_branches (MitogenSentModules *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = g_hash_table_size (self->sent);
  g_mutex_unlock (&self->lock);
  return n;
}

static void
on_route_removed (MitogenRouter *router,
                  guint context_id,
                  MitogenSentModules *self)
{
  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->sent, GUINT_TO_POINTER (context_id));
  g_hash_table_remove (self->warned, GUINT_TO_POINTER (context_id));
  g_mutex_unlock (&self->lock);
}

static void
mitogen_sent_modules_finalize (GObject *object)
{
  MitogenSentModules *self = MITOGEN_SENT_MODULES (object);

  g_hash_table_unref (self->sent);
  g_hash_table_unref (self->warned);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_sent_modules_parent_class)->finalize (object);
}

static void
mitogen_sent_modules_class_init (MitogenSentModulesClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_sent_modules_finalize;
}

static void
mitogen_sent_modules_init (MitogenSentModules *self)
{
  g_mutex_init (&self->lock);
  self->sent = g_hash_table_new_full (NULL, NULL, NULL,
                                      (GDestroyNotify) g_hash_table_unref);
  self->warned = g_hash_table_new (NULL, NULL);
}

/* The record of what goes down @router's streams. It lets go of a stream's
 * record when the route to the child at its end is removed. */
MitogenSentModules *
mitogen_sent_modules_new (MitogenRouter *router)
{
  MitogenSentModules *self = g_object_new (MITOGEN_TYPE_SENT_MODULES, NULL);

  self->router = router;
  /* Disconnected when we are finalized, before or after the router. */
  g_signal_connect_object (router, "route-removed",
                           G_CALLBACK (on_route_removed), self, 0);
  return self;
}
