/* mitogen-router.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-router.h"
#include "mitogen-keepalive-private.h"

#include "mitogen-router-private.h"

#include "mitogen-errors.h"
#include "mitogen-id-allocator.h"
#include "mitogen-log-limiter.h"
#include "mitogen-stream-private.h"

/* The longest context name kept from ADD_ROUTE: names are for logs and
 * errors, and a child's name must not cost the master more than that. */
#define MAX_NAME_LENGTH 255

/**
 * MitogenRouter:
 *
 * Delivers messages: to a handler in this context when `dst_id` is this
 * context, otherwise down the stream that leads to `dst_id`, or up to the
 * parent when no route is known.
 *
 * Every message that arrives on a stream is checked first: its `auth_id`
 * and `src_id` must be contexts reachable through that very stream, so no
 * context can speak for another. In a router that is unidirectional (the
 * master's default), a child's message may go up to its parents but not
 * across to another child.
 *
 * A child may announce a context behind it (`ADD_ROUTE`) only with an id
 * that was allocated to its own branch, and withdraw (`DEL_ROUTE`) only
 * a route it announced: the record of id grants each router keeps decides,
 * and a refusal is counted and logged once per stream.
 * A context's name goes with its route.
 *
 * A handler may name the context it expects its reply from (its
 * respondent). If the stream leading there disconnects, the handler
 * receives a dead message naming the context, so that nothing waits for a
 * reply that cannot come. Handlers run on the broker thread.
 *
 * A message that cannot be delivered (no route, no handler, refused, too
 * large, its stream gone) is answered with a dead message to its sender's
 * `reply_to`; one of this context's own that expects no reply, such as a
 * reply too large to send, goes to its recipient as a dead message
 * instead. Dropped forgeries and refusals are logged once, then as a count
 * every 10 s at most, however many a child sends.
 */

typedef struct {
  gint ref_count;
  guint32 handle;
  gboolean persist;
  guint32 respondent_id;
  MitogenPolicyFunc policy;
  MitogenMessageFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} Handler;

struct _MitogenRouter {
  GObject parent_instance;

  MitogenBroker *broker;
  guint32 context_id;
  GArray *parent_ids;
  gboolean unidirectional;
  gsize max_message_size;
  gint next_handle; /* atomic */

  MitogenIdAllocator *ids;

  GMutex lock;
  GHashTable *handlers;      /* handle -> Handler* */
  GHashTable *stream_by_id;  /* context id -> MitogenStream* (ref) */
  GHashTable *streams;       /* MitogenStream* -> signal handler id */
  GHashTable *names;         /* context id -> gchar*, while routed */
  GHashTable *refusing;      /* streams whose route refusals were logged */
  GHashTable *grants;        /* (context id << 32 | auth_id), as gint64 */
  guint n_refused_routes;
  gboolean shut_down;

  /* A child can make us drop or refuse a message per message it sends. */
  MitogenLogLimiter drop_log;    /* forged auth_id or src_id */
  MitogenLogLimiter refusal_log; /* a handler's policy said no */
};

G_DEFINE_FINAL_TYPE (MitogenRouter, mitogen_router, G_TYPE_OBJECT)

enum
{
  SIGNAL_ROUTE_REMOVED,
  SIGNAL_UPLOAD_PROGRESS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static Handler *
handler_ref (Handler *h)
{
  g_atomic_int_inc (&h->ref_count);
  return h;
}

static void
handler_unref (gpointer data)
{
  Handler *h = data;

  if (g_atomic_int_dec_and_test (&h->ref_count))
    {
      if (h->destroy)
        h->destroy (h->user_data);
      g_free (h);
    }
}

static const gchar *
stream_name (MitogenStream *stream)
{
  const gchar *name = mitogen_basic_stream_get_name (MITOGEN_BASIC_STREAM (stream));
  return name ? name : "(unnamed)";
}

static void
invoke_handler (Handler *h,
                MitogenMessage *msg)
{
  h->func (msg, h->user_data);
  handler_unref (h);
}

typedef struct {
  MitogenRouter *router;
  MitogenMessage *msg;
} Delivery;

static void
delivery_free (gpointer data)
{
  Delivery *d = data;
  g_object_unref (d->router);
  mitogen_message_unref (d->msg);
  g_free (d);
}

static void local_deliver (MitogenRouter *self, MitogenMessage *msg,
                           MitogenStream *in_stream);

static void
deliver_on_broker (gpointer data)
{
  Delivery *d = data;
  local_deliver (d->router, d->msg, NULL);
}

static void
route_local_on_broker (MitogenRouter *self,
                       MitogenMessage *msg)
{
  Delivery *d;

  if (mitogen_broker_is_broker_thread (self->broker))
    {
      local_deliver (self, msg, NULL);
      return;
    }
  d = g_new (Delivery, 1);
  d->router = g_object_ref (self);
  d->msg = mitogen_message_ref (msg);
  mitogen_broker_defer (self->broker, deliver_on_broker, d, delivery_free);
}

static MitogenStream *
lookup_stream_locked (MitogenRouter *self,
                      guint32 context_id)
{
  MitogenStream *stream = g_hash_table_lookup (self->stream_by_id,
                                               GUINT_TO_POINTER (context_id));

  /* Anything we have no route to lives upstream, if we have a parent. */
  if (!stream && self->parent_ids->len > 0)
    stream = g_hash_table_lookup (self->stream_by_id,
                                  GUINT_TO_POINTER (g_array_index (
                                    self->parent_ids, guint32, 0)));
  return stream ? g_object_ref (stream) : NULL;
}

/**
 * mitogen_router_send_dead:
 * @self: a router
 * @msg: a message that cannot be delivered
 * @reason: why, for whoever waits on the reply
 *
 * If @msg expects a reply, sends its sender a dead message in place of the
 * reply, so that the waiter wakes with %MITOGEN_CHANNEL_ERROR_DEAD.
 */
void
mitogen_router_send_dead (MitogenRouter *self,
                          MitogenMessage *msg,
                          const gchar *reason)
{
  g_autoptr(MitogenMessage) dead = NULL;
  guint32 reply_to = mitogen_message_get_reply_to (msg);

  g_debug ("Dropping message to %u:%u from %u: %s",
           mitogen_message_get_dst_id (msg), mitogen_message_get_handle (msg),
           mitogen_message_get_src_id (msg), reason);

  if (reply_to == 0 || mitogen_message_is_dead (msg))
    return;

  dead = mitogen_message_new_dead (mitogen_message_get_src_id (msg), reply_to,
                                   reason);
  mitogen_router_route (self, dead);
}

static void
local_deliver (MitogenRouter *self,
               MitogenMessage *msg,
               MitogenStream *in_stream)
{
  guint32 handle = mitogen_message_get_handle (msg);
  Handler *h;

  g_mutex_lock (&self->lock);
  h = g_hash_table_lookup (self->handlers, GUINT_TO_POINTER (handle));
  if (h)
    handler_ref (h);
  g_mutex_unlock (&self->lock);

  if (!h)
    {
      g_autofree gchar *reason =
        g_strdup_printf ("No handler %u in context %u", handle, self->context_id);
      mitogen_router_send_dead (self, msg, reason);
      return;
    }

  if (h->respondent_id != MITOGEN_CONTEXT_ID_NONE &&
      !mitogen_message_is_dead (msg) &&
      mitogen_message_get_src_id (msg) != h->respondent_id)
    {
      handler_unref (h);
      mitogen_router_send_dead (self, msg, "Reply from an unexpected context");
      return;
    }

  if (h->policy && !h->policy (self, msg, in_stream))
    {
      g_autofree gchar *reason =
        g_strdup_printf ("Context %u refused a message to handle %u from %u",
                         self->context_id, handle,
                         mitogen_message_get_src_id (msg));
      mitogen_log_limiter_log (&self->refusal_log, G_LOG_LEVEL_MESSAGE, "%s",
                               reason);
      handler_unref (h);
      mitogen_router_send_dead (self, msg, reason);
      return;
    }

  if (!h->persist)
    {
      g_mutex_lock (&self->lock);
      /* Remove only if it is still this handler: another thread may have
       * replaced it. */
      if (g_hash_table_lookup (self->handlers, GUINT_TO_POINTER (handle)) == h)
        g_hash_table_remove (self->handlers, GUINT_TO_POINTER (handle));
      else
        {
          /* It was removed meanwhile and already had its one message. */
          g_mutex_unlock (&self->lock);
          handler_unref (h);
          return;
        }
      g_mutex_unlock (&self->lock);
    }

  invoke_handler (h, msg);
}

/* Whether the message's sender was allowed to send on its auth_id's
 * authority (mitogen_router_grant_authority()). */
static gboolean
is_granted (MitogenRouter *self, MitogenMessage *msg)
{
  gint64 key = (gint64) mitogen_message_get_src_id (msg) << 32
               | mitogen_message_get_auth_id (msg);
  gboolean granted;

  g_mutex_lock (&self->lock);
  granted = g_hash_table_contains (self->grants, &key);
  g_mutex_unlock (&self->lock);
  return granted;
}

static void
forward (MitogenRouter *self,
         MitogenMessage *msg,
         MitogenStream *in_stream)
{
  guint32 dst_id = mitogen_message_get_dst_id (msg);
  g_autoptr(MitogenStream) out = NULL;

  g_mutex_lock (&self->lock);
  out = lookup_stream_locked (self, dst_id);
  g_mutex_unlock (&self->lock);

  if (!out)
    {
      g_autofree gchar *reason =
        g_strdup_printf ("No route from context %u to context %u",
                         self->context_id, dst_id);
      mitogen_router_send_dead (self, msg, reason);
      return;
    }
  if (out == in_stream)
    {
      mitogen_router_send_dead (self, msg, "Message would loop back");
      return;
    }
  if (in_stream && self->unidirectional
      && !mitogen_stream_get_is_privileged (in_stream)
      && !mitogen_stream_get_is_privileged (out) && !is_granted (self, msg))
    {
      g_autofree gchar *reason =
        g_strdup_printf ("Context %u may not send to context %u: routing "
                         "between children is not allowed by context %u",
                         mitogen_message_get_src_id (msg), dst_id,
                         self->context_id);
      mitogen_router_send_dead (self, msg, reason);
      return;
    }
  if (!mitogen_stream_send (out, msg))
    {
      g_autofree gchar *reason =
        g_strdup_printf ("Context %u is disconnected (stream %s: %s)", dst_id,
                         stream_name (out),
                         mitogen_stream_get_disconnect_reason (out) ?: "gone");
      mitogen_router_send_dead (self, msg, reason);
    }
}

/* A message of our own that expects no reply, such as a reply, cannot
 * travel: its recipient may be waiting for it, so it gets a dead message
 * in its place. Only for our own messages, so that no child can make this
 * context send dead messages to another. */
static void
send_dead_to_recipient (MitogenRouter *self,
                        MitogenMessage *msg,
                        const gchar *reason)
{
  g_autoptr(MitogenMessage) dead = NULL;

  if (mitogen_message_get_reply_to (msg) != 0 || mitogen_message_is_dead (msg))
    return;
  dead = mitogen_message_new_dead (mitogen_message_get_dst_id (msg),
                                   mitogen_message_get_handle (msg), reason);
  mitogen_router_route (self, dead);
}

static gboolean
dispatch (MitogenRouter *self,
          MitogenMessage *msg,
          MitogenStream *in_stream)
{
  if (mitogen_message_get_size (msg) > self->max_message_size)
    {
      g_autofree gchar *reason = g_strdup_printf (
        "A message of %" G_GSIZE_FORMAT " bytes from context %u to context %u "
        "exceeds max_message_size %" G_GSIZE_FORMAT " of context %u",
        mitogen_message_get_size (msg), mitogen_message_get_src_id (msg),
        mitogen_message_get_dst_id (msg), self->max_message_size,
        self->context_id);

      if (!in_stream)
        send_dead_to_recipient (self, msg, reason);
      mitogen_router_send_dead (self, msg, reason);
      return FALSE;
    }
  if (mitogen_message_get_dst_id (msg) == self->context_id)
    {
      if (in_stream)
        local_deliver (self, msg, in_stream);
      else
        route_local_on_broker (self, msg);
    }
  else
    forward (self, msg, in_stream);
  return TRUE;
}

/* Is @id's traffic expected on @in_stream? */
static gboolean
arrives_via (MitogenRouter *self,
             guint32 id,
             MitogenStream *in_stream)
{
  g_autoptr(MitogenStream) expected = NULL;

  g_mutex_lock (&self->lock);
  expected = lookup_stream_locked (self, id);
  g_mutex_unlock (&self->lock);
  return expected == in_stream;
}

void
mitogen_router_route_from_stream (MitogenRouter *self,
                                  MitogenMessage *msg,
                                  MitogenStream *in_stream)
{
  guint32 auth_id = mitogen_message_get_auth_id (msg);
  guint32 src_id = mitogen_message_get_src_id (msg);

  /* A forgery gets no dead message: it would go to the context the
   * forger claims to be. An authority this router granted the sender is
   * no forgery. */
  if (!arrives_via (self, auth_id, in_stream)
      && !(arrives_via (self, src_id, in_stream) && is_granted (self, msg)))
    {
      mitogen_log_limiter_log (&self->drop_log, G_LOG_LEVEL_MESSAGE,
                               "Stream %s: dropping message claiming auth_id "
                               "%u, which is not reachable through it",
                               stream_name (in_stream), auth_id);
      return;
    }
  if (src_id != auth_id && !arrives_via (self, src_id, in_stream))
    {
      mitogen_log_limiter_log (&self->drop_log, G_LOG_LEVEL_MESSAGE,
                               "Stream %s: dropping message claiming src_id "
                               "%u, which is not reachable through it",
                               stream_name (in_stream), src_id);
      return;
    }
  if (mitogen_message_get_dst_id (msg) != self->context_id)
    mitogen_id_allocator_note_passing (self->ids, msg, in_stream);
  dispatch (self, msg, in_stream);
}

/**
 * mitogen_router_route:
 * @self: a router
 * @msg: a message sent by this context
 *
 * Stamps @msg with this context's id as its source and authority, then
 * delivers it. Callable from any thread: a message for another context is
 * written on the calling thread when its stream is idle; one for this
 * context reaches its handler on the broker thread.
 */
void
mitogen_router_route (MitogenRouter *self,
                      MitogenMessage *msg)
{
  g_return_if_fail (MITOGEN_IS_ROUTER (self));

  mitogen_message_set_src_id (msg, self->context_id);
  mitogen_message_set_auth_id (msg, self->context_id);
  dispatch (self, msg, NULL);
}

/* @cause_id is the context @reason is about: a waiter on another context
 * behind it is told which context it lost, and why. */
static void
kill_handlers (MitogenRouter *self,
               GPtrArray *victims,
               guint32 cause_id,
               const gchar *reason)
{
  for (guint i = 0; i < victims->len; i++)
    {
      Handler *h = victims->pdata[i];
      g_autofree gchar *name = NULL, *behind = NULL;
      g_autoptr(MitogenMessage) dead = NULL;

      if (cause_id != MITOGEN_CONTEXT_ID_NONE && h->respondent_id != cause_id &&
          h->respondent_id != MITOGEN_CONTEXT_ID_NONE)
        {
          name = mitogen_router_dup_context_name (self, h->respondent_id);
          behind = g_strdup_printf ("Context %s (id %u) is unreachable: %s",
                                    name, h->respondent_id, reason);
        }
      dead = mitogen_message_new_dead (self->context_id, h->handle,
                                       behind ? behind : reason);

      mitogen_message_set_src_id (dead, h->respondent_id);
      invoke_handler (h, dead);
    }
}

/* Removes, under the lock, the handlers for which @pick says so. */
static GPtrArray *
steal_handlers_locked (MitogenRouter *self,
                       gboolean (*pick) (Handler *h, gpointer data),
                       gpointer data)
{
  GPtrArray *victims = g_ptr_array_new ();
  GHashTableIter iter;
  Handler *h;

  g_hash_table_iter_init (&iter, self->handlers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &h))
    if (pick (h, data))
      {
        g_ptr_array_add (victims, h);
        g_hash_table_iter_steal (&iter);
      }
  return victims;
}

static gboolean
respondent_in (Handler *h,
               gpointer data)
{
  GHashTable *gone = data;
  return h->respondent_id != MITOGEN_CONTEXT_ID_NONE &&
         g_hash_table_contains (gone, GUINT_TO_POINTER (h->respondent_id));
}

static gboolean
any_handler (Handler *h,
             gpointer data)
{
  return TRUE;
}

static guint32
parent_id (MitogenRouter *self)
{
  return self->parent_ids->len ? g_array_index (self->parent_ids, guint32, 0)
                               : MITOGEN_CONTEXT_ID_NONE;
}

static void
send_route_message (MitogenRouter *self,
                    guint32 handle,
                    GVariant *body)
{
  g_autoptr(MitogenMessage) msg = NULL;

  if (parent_id (self) == MITOGEN_CONTEXT_ID_NONE)
    {
      g_variant_unref (g_variant_ref_sink (body));
      return;
    }
  msg = mitogen_message_new (parent_id (self), handle, body);
  mitogen_router_route (self, msg);
}

/* The contexts in @gone are unreachable: tell listeners and, if
 * @propagate, our parent, then wake whoever waits on them, so that a
 * waiter woken by the error already sees its context disconnected.
 * Called without the lock. */
static void
forget_contexts (MitogenRouter *self,
                 GHashTable *gone,
                 guint32 cause_id,
                 const gchar *reason,
                 gboolean propagate)
{
  g_autoptr(GPtrArray) victims = NULL;
  GHashTableIter iter;
  gpointer id;

  g_hash_table_iter_init (&iter, gone);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    {
      if (propagate)
        send_route_message (self, MITOGEN_HANDLE_DEL_ROUTE,
                            g_variant_new ("(u)", GPOINTER_TO_UINT (id)));
      g_signal_emit (self, signals[SIGNAL_ROUTE_REMOVED], 0, GPOINTER_TO_UINT (id));
    }

  g_mutex_lock (&self->lock);
  victims = steal_handlers_locked (self, respondent_in, gone);
  g_mutex_unlock (&self->lock);
  kill_handlers (self, victims, cause_id, reason);

  /* Their names served the errors above; nothing needs them now. */
  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, gone);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    if (!g_hash_table_contains (self->stream_by_id, id))
      g_hash_table_remove (self->names, id);
  g_mutex_unlock (&self->lock);
}

static void
on_stream_disconnect (MitogenStream *stream,
                      MitogenRouter *self)
{
  g_autoptr(GHashTable) gone = g_hash_table_new (NULL, NULL);
  g_autofree gchar *reason = NULL;
  gboolean upstream = mitogen_stream_get_is_privileged (stream);
  GHashTableIter iter;
  gpointer id, s;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->stream_by_id);
  while (g_hash_table_iter_next (&iter, &id, &s))
    if (s == stream)
      {
        g_hash_table_add (gone, id);
        g_hash_table_iter_remove (&iter);
      }
  /* Waiters on the parent chain die with the parent. */
  if (upstream)
    for (guint i = 0; i < self->parent_ids->len; i++)
      g_hash_table_add (gone, GUINT_TO_POINTER (
                          g_array_index (self->parent_ids, guint32, i)));
  g_hash_table_remove (self->streams, stream);
  g_hash_table_remove (
      self->refusing, GUINT_TO_POINTER (mitogen_stream_get_remote_id (stream)));
  g_mutex_unlock (&self->lock);
  /* The branch is gone with every context in it. */
  if (!upstream)
    mitogen_id_allocator_forget_branch (self->ids,
                                        mitogen_stream_get_remote_id (stream));

  reason = g_strdup_printf ("Context %s (id %u) disconnected: %s",
                            stream_name (stream),
                            mitogen_stream_get_remote_id (stream),
                            mitogen_stream_get_disconnect_reason (stream) ?:
                            "the stream closed");
  g_debug ("%s", reason);
  forget_contexts (self, gone, mitogen_stream_get_remote_id (stream), reason,
                   !upstream);
  g_object_unref (stream);
}

/* Counts a route change a child may not make; logs the first of each
 * stream only, so that a child repeating it cannot flood the log. */
static void
refuse_route (MitogenRouter *self,
              MitogenStream *via,
              guint32 src_id,
              const gchar *what,
              guint32 target)
{
  gboolean first;

  g_mutex_lock (&self->lock);
  self->n_refused_routes++;
  first = g_hash_table_add (
      self->refusing,
      GUINT_TO_POINTER (via ? mitogen_stream_get_remote_id (via) : src_id));
  g_mutex_unlock (&self->lock);
  if (first)
    g_message ("Context %u may not %s context %u; further refusals of "
               "stream %s are counted, not logged",
               src_id, what, target, via ? stream_name (via) : "(none)");
}

/* A child may announce a context that is routed through it already, or a
 * new one with an id that was allocated to its branch: never one with
 * another's id, or one it could have guessed. */
static gboolean
may_add_route_locked (MitogenRouter *self, MitogenStream *via, guint32 target)
{
  MitogenStream *existing
      = g_hash_table_lookup (self->stream_by_id, GUINT_TO_POINTER (target));

  if (existing)
    return existing == via;
  return target != self->context_id
         && !mitogen_router_is_parent_id (self, target)
         && mitogen_id_allocator_branch_owns (
             self->ids, mitogen_stream_get_remote_id (via), target);
}

/* A context's name, as kept: short enough that announcing many costs
 * little. */
static gchar *
dup_bounded_name (const gchar *name)
{
  if (g_utf8_strlen (name, MAX_NAME_LENGTH * 4 + 1) <= MAX_NAME_LENGTH)
    return g_strdup (name);
  return g_utf8_substring (name, 0, MAX_NAME_LENGTH);
}

static void
on_add_route (MitogenMessage *msg,
              gpointer user_data)
{
  MitogenRouter *self = user_data;
  g_autoptr(GVariant) body = mitogen_message_get_data (msg, NULL);
  g_autoptr(MitogenStream) via = NULL;
  g_autofree gchar *name = NULL;
  guint32 src_id = mitogen_message_get_src_id (msg);
  const gchar *announced;
  gboolean allowed;
  guint32 target;

  if (!body || !g_variant_is_of_type (body, G_VARIANT_TYPE ("(us)")))
    return;
  g_variant_get (body, "(u&s)", &target, &announced);
  name = dup_bounded_name (announced);

  g_mutex_lock (&self->lock);
  via = lookup_stream_locked (self, src_id);
  allowed = via && may_add_route_locked (self, via, target);
  if (allowed)
    {
      g_hash_table_insert (self->stream_by_id, GUINT_TO_POINTER (target),
                           g_object_ref (via));
      g_hash_table_insert (self->names, GUINT_TO_POINTER (target),
                           g_strdup (name));
    }
  g_mutex_unlock (&self->lock);

  if (!allowed)
    {
      refuse_route (self, via, src_id, "add a route to", target);
      return;
    }
  send_route_message (self, MITOGEN_HANDLE_ADD_ROUTE,
                      g_variant_new ("(us)", target, name));
}

static void
on_del_route (MitogenMessage *msg,
              gpointer user_data)
{
  MitogenRouter *self = user_data;
  g_autoptr(GVariant) body = mitogen_message_get_data (msg, NULL);
  g_autoptr (MitogenStream) via = NULL;
  g_autoptr(GHashTable) gone = NULL;
  g_autofree gchar *name = NULL;
  g_autofree gchar *reason = NULL;
  guint32 src_id = mitogen_message_get_src_id (msg);
  gboolean removed = FALSE;
  guint32 target;

  if (!body || !g_variant_is_of_type (body, G_VARIANT_TYPE ("(u)")))
    return;
  g_variant_get (body, "(u)", &target);

  g_mutex_lock (&self->lock);
  via = lookup_stream_locked (self, src_id);
  /* Only the child a route was announced through may withdraw it; the
   * route to the child itself goes with its stream. */
  if (via && target != mitogen_stream_get_remote_id (via)
      && g_hash_table_lookup (self->stream_by_id, GUINT_TO_POINTER (target))
             == via)
    removed
        = g_hash_table_remove (self->stream_by_id, GUINT_TO_POINTER (target));
  g_mutex_unlock (&self->lock);

  if (!removed)
    {
      refuse_route (self, via, src_id, "remove the route to", target);
      return;
    }
  gone = g_hash_table_new (NULL, NULL);
  g_hash_table_add (gone, GUINT_TO_POINTER (target));
  name = mitogen_router_dup_context_name (self, target);
  reason = g_strdup_printf ("Context %s (id %u) is gone: a context on the "
                            "way to it disconnected it", name, target);
  forget_contexts (self, gone, target, reason, TRUE);
}

/**
 * mitogen_router_get_n_refused_routes:
 * @self: a router
 *
 * Counts the `ADD_ROUTE` and `DEL_ROUTE` messages refused so far: a child
 * announcing a context whose id was not allocated to its branch, or one
 * routed elsewhere, or withdrawing a route that did not arrive through it.
 *
 * Returns: how many were refused
 */
guint
mitogen_router_get_n_refused_routes (MitogenRouter *self)
{
  guint n;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (self), 0);

  g_mutex_lock (&self->lock);
  n = self->n_refused_routes;
  g_mutex_unlock (&self->lock);
  return n;
}

/**
 * mitogen_router_register:
 * @self: a router
 * @stream: a stream to a context; its remote id must be set
 *
 * Adds a route to the stream's context, has the broker receive from it,
 * and arranges for the routes through it, and the handlers waiting on
 * contexts behind it, to be cleaned up when it disconnects.
 */
void
mitogen_router_register (MitogenRouter *self,
                         MitogenStream *stream)
{
  g_return_if_fail (MITOGEN_IS_ROUTER (self));
  g_return_if_fail (MITOGEN_IS_STREAM (stream));

  mitogen_stream_set_router (stream, self);
  mitogen_stream_set_max_message_size (stream, self->max_message_size);
  mitogen_router_add_route (self, mitogen_stream_get_remote_id (stream), stream);

  g_mutex_lock (&self->lock);
  if (!g_hash_table_contains (self->streams, stream))
    {
      gulong id = g_signal_connect (stream, "disconnect",
                                    G_CALLBACK (on_stream_disconnect), self);
      /* Held until the stream disconnects. */
      g_object_ref (stream);
      g_hash_table_insert (self->streams, stream, GSIZE_TO_POINTER (id));
    }
  /* Named by its stream's name until told otherwise, before it reads:
   * the child's first log records may already be waiting. */
  {
    gpointer remote = GUINT_TO_POINTER (mitogen_stream_get_remote_id (stream));
    const gchar *name = mitogen_basic_stream_get_name (MITOGEN_BASIC_STREAM (stream));

    if (name && !g_hash_table_contains (self->names, remote))
      g_hash_table_insert (self->names, remote, dup_bounded_name (name));
  }
  g_mutex_unlock (&self->lock);

  mitogen_broker_start_receive (self->broker, MITOGEN_BASIC_STREAM (stream));

  /* Contexts above us learn to route to a new child through us. */
  if (!mitogen_stream_get_is_privileged (stream))
    send_route_message (self, MITOGEN_HANDLE_ADD_ROUTE,
                        g_variant_new ("(us)", mitogen_stream_get_remote_id (stream),
                                       stream_name (stream)));
}

/* The streams to this context's own children, however they were started
 * (agent.connect, or a function calling mitogen_router_connect_context()), for
 * a context that must see them gone before it exits. */
GPtrArray *
mitogen_router_dup_child_streams (MitogenRouter *self)
{
  GPtrArray *children = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer stream;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->streams);
  while (g_hash_table_iter_next (&iter, &stream, NULL))
    if (!mitogen_stream_get_is_privileged (stream))
      g_ptr_array_add (children, g_object_ref (stream));
  g_mutex_unlock (&self->lock);
  return children;
}

/**
 * mitogen_router_grant_authority:
 * @self: a router
 * @context_id: a context reached through this router
 * @auth_id: the context whose authority it may send on
 *
 * Lets @context_id send messages whose `auth_id` is @auth_id instead of
 * its own, as in Mitogen a context may call a sibling with another
 * context's authority: this router passes them on (across children too,
 * even when unidirectional) instead of dropping them as forged. Their
 * recipient's policies decide as for any message: a sibling call needs an
 * @auth_id that mitogen_router_policy_has_parent_authority() accepts
 * there, such as this router's own id. See
 * [method@Context.set_auth_id] for the sending side.
 */
void
mitogen_router_grant_authority (MitogenRouter *self,
                                guint32 context_id,
                                guint32 auth_id)
{
  gint64 key = (gint64) context_id << 32 | auth_id;

  g_return_if_fail (MITOGEN_IS_ROUTER (self));

  g_mutex_lock (&self->lock);
  g_hash_table_add (self->grants, g_memdup2 (&key, sizeof key));
  g_mutex_unlock (&self->lock);
}

/**
 * mitogen_router_route_with_authority:
 * @self: a router
 * @msg: a message sent by this context
 * @auth_id: the authority it is sent on
 *
 * mitogen_router_route(), with @auth_id in place of this context's own as
 * the message's authority: for sending on an authority this context's
 * parent granted it (mitogen_router_grant_authority()). Routers on the way
 * that granted nothing drop it as forged.
 */
void
mitogen_router_route_with_authority (MitogenRouter *self,
                                     MitogenMessage *msg,
                                     guint32 auth_id)
{
  g_return_if_fail (MITOGEN_IS_ROUTER (self));

  mitogen_message_set_src_id (msg, self->context_id);
  mitogen_message_set_auth_id (msg, auth_id);
  dispatch (self, msg, NULL);
}

/**
 * mitogen_router_disconnect_all:
 * @self: a router
 *
 * Disconnects every stream of this router, from any thread, as Mitogen's
 * `Router.disconnect_all()` does: each child is told its connection is
 * gone, waiters on contexts behind the streams are woken with dead
 * messages, and the broker goes on serving whatever connects next.
 */
void
mitogen_router_disconnect_all (MitogenRouter *self)
{
  g_autoptr (GPtrArray) streams
      = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer stream;

  g_return_if_fail (MITOGEN_IS_ROUTER (self));

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->streams);
  while (g_hash_table_iter_next (&iter, &stream, NULL))
    g_ptr_array_add (streams, g_object_ref (stream));
  g_mutex_unlock (&self->lock);
  /* Outside the lock: disconnecting on the broker thread re-enters the
   * router to drop the stream's routes. */
  for (guint i = 0; i < streams->len; i++)
    mitogen_stream_close (streams->pdata[i],
                               "mitogen_router_disconnect_all() was called");
}

/**
 * mitogen_router_add_route:
 * @self: a router
 * @target_id: a context id
 * @stream: the stream that leads to it
 *
 * Routes messages for @target_id through @stream, as an `ADD_ROUTE` from a
 * child does.
 */
void
mitogen_router_add_route (MitogenRouter *self,
                          guint32 target_id,
                          MitogenStream *stream)
{
  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->stream_by_id, GUINT_TO_POINTER (target_id),
                       g_object_ref (stream));
  g_mutex_unlock (&self->lock);
}

/**
 * mitogen_router_del_route:
 * @self: a router
 * @target_id: a context id
 *
 * Forgets the route to @target_id, wakes whoever waits on it with a dead
 * message, and tells the parent.
 */
void
mitogen_router_del_route (MitogenRouter *self,
                          guint32 target_id)
{
  g_autoptr(GHashTable) gone = g_hash_table_new (NULL, NULL);
  gboolean removed;

  g_mutex_lock (&self->lock);
  removed = g_hash_table_remove (self->stream_by_id, GUINT_TO_POINTER (target_id));
  g_mutex_unlock (&self->lock);

  if (removed)
    {
      g_hash_table_add (gone, GUINT_TO_POINTER (target_id));
      forget_contexts (self, gone, target_id, "The route to the context was removed",
                       TRUE);
    }
}

/**
 * mitogen_router_stream_by_id:
 * @self: a router
 * @context_id: a context id
 *
 * Returns the stream messages to @context_id leave by: its route, else the
 * parent's stream, else %NULL.
 *
 * Returns: (transfer full) (nullable): the stream messages to @context_id
 *   leave by: its route, else the parent's stream, else %NULL
 */
MitogenStream *
mitogen_router_stream_by_id (MitogenRouter *self,
                             guint32 context_id)
{
  MitogenStream *stream;

  g_mutex_lock (&self->lock);
  stream = lookup_stream_locked (self, context_id);
  g_mutex_unlock (&self->lock);
  return stream;
}

/**
 * mitogen_router_allocate_handle:
 * @self: a router
 *
 * Returns a handle no other handler of this router has had, for a receiver of
 * one's own.
 *
 * Returns: a handle no other handler of this router has had
 */
guint32
mitogen_router_allocate_handle (MitogenRouter *self)
{
  return (guint32) g_atomic_int_add (&self->next_handle, 1);
}

/**
 * mitogen_router_allocate_id_full:
 * @self: a router
 * @cancellable: (nullable): stops a wait for the master
 * @error: return location for an error
 *
 * Allocates an id for a new context, unique in the whole tree. The master
 * counts them out; any other context takes them from a range the master
 * gave it, and when that is used up asks the master for another with
 * `ALLOCATE_ID`, blocking the calling thread until it answers (at most
 * 30 seconds). On the broker thread, which must not wait, that fails with
 * %MITOGEN_TIMEOUT_ERROR_WOULD_BLOCK.
 *
 * Returns: a context id, or %MITOGEN_CONTEXT_ID_NONE with @error set: the
 *   master is gone, refused, or did not answer in time
 */
guint32
mitogen_router_allocate_id_full (MitogenRouter *self,
                                 GCancellable *cancellable,
                                 GError **error)
{
  g_return_val_if_fail (MITOGEN_IS_ROUTER (self), MITOGEN_CONTEXT_ID_NONE);

  return mitogen_id_allocator_allocate (self->ids, cancellable, error);
}

static void
allocate_id_thread (GTask *task,
                    gpointer source,
                    gpointer task_data,
                    GCancellable *cancellable)
{
  GError *error = NULL;
  guint32 id = mitogen_router_allocate_id_full (source, cancellable, &error);

  if (id == MITOGEN_CONTEXT_ID_NONE)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, id);
}

/**
 * mitogen_router_allocate_id_async:
 * @self: a router
 * @cancellable: (nullable): stops a wait for the master
 * @callback: (scope async): called with the id
 * @user_data: (closure): data for @callback
 *
 * Like mitogen_router_allocate_id_full(), without blocking.
 */
void
mitogen_router_allocate_id_async (MitogenRouter *self,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, mitogen_router_allocate_id_async);
  g_task_run_in_thread (task, allocate_id_thread);
}

/**
 * mitogen_router_allocate_id_finish:
 * @self: a router
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_router_allocate_id_async().
 *
 * Returns: a context id, or %MITOGEN_CONTEXT_ID_NONE with @error set
 */
guint32
mitogen_router_allocate_id_finish (MitogenRouter *self,
                                   GAsyncResult *result,
                                   GError **error)
{
  gssize id = g_task_propagate_int (G_TASK (result), error);

  return id < 0 ? MITOGEN_CONTEXT_ID_NONE : (guint32) id;
}

/**
 * mitogen_router_allocate_id:
 * @self: a router
 *
 * Like mitogen_router_allocate_id_full(), logging a warning on failure.
 *
 * Returns: a context id no other context of this master has had, or
 *   %MITOGEN_CONTEXT_ID_NONE
 */
guint32
mitogen_router_allocate_id (MitogenRouter *self)
{
  g_autoptr(GError) error = NULL;
  guint32 id = mitogen_router_allocate_id_full (self, NULL, &error);

  if (id == MITOGEN_CONTEXT_ID_NONE)
    g_warning ("%s", error->message);
  return id;
}

/**
 * mitogen_router_get_id_quota:
 * @self: a router
 *
 * Returns how many context ids the master grants, over time, to the contexts
 * behind each of its direct children.
 *
 * Returns: how many context ids the master grants, over time, to the
 *   contexts behind each of its direct children
 */
guint32
mitogen_router_get_id_quota (MitogenRouter *self)
{
  return mitogen_id_allocator_get_quota (self->ids);
}

/**
 * mitogen_router_set_id_quota:
 * @self: the master's router
 * @quota: how many context ids the contexts behind one direct child may
 *   take with `ALLOCATE_ID`, in all
 *
 * Bounds what one branch of the tree can take of the id space, so that a
 * misbehaving child cannot exhaust it for the others. The default is
 * 2^24. Ids the master allocates for its own children do not count;
 * those of children started with a @via context come from the via
 * context's ranges, and do.
 */
void
mitogen_router_set_id_quota (MitogenRouter *self,
                             guint32 quota)
{
  mitogen_id_allocator_set_quota (self->ids, quota);
}

/* Who may ask for ids: a context in our tree, asking for itself. What the
 * router already checked (src_id and auth_id reachable through the stream
 * it came by) makes that the context it says it is, or one a child
 * invented behind itself; the quota is per direct child for that reason. */
static gboolean
policy_may_allocate_ids (MitogenRouter *router,
                         MitogenMessage *msg,
                         MitogenStream *stream)
{
  return stream != NULL && !mitogen_stream_get_is_privileged (stream) &&
         mitogen_message_get_src_id (msg) == mitogen_message_get_auth_id (msg);
}

/* The branch the request came by counts it against its quota and owns
 * what it is granted. */
static void
on_allocate_id (MitogenMessage *msg,
                gpointer user_data)
{
  MitogenRouter *self = user_data;
  guint32 src_id = mitogen_message_get_src_id (msg);
  g_autoptr (MitogenStream) via = mitogen_router_stream_by_id (self, src_id);

  mitogen_id_allocator_answer_request (
      self->ids, msg, via ? mitogen_stream_get_remote_id (via) : src_id);
}

/**
 * mitogen_router_get_n_id_branches:
 * @self: a router
 *
 * Counts the direct children whose branch of the tree this router keeps
 * a record of context ids for (the ranges granted to it, its requests in
 * flight): the record goes with the child's stream.
 *
 * Returns: how many branches it has a record for
 */
guint
mitogen_router_get_n_id_branches (MitogenRouter *self)
{
  g_return_val_if_fail (MITOGEN_IS_ROUTER (self), 0);

  return mitogen_id_allocator_get_n_branches (self->ids);
}

/**
 * mitogen_router_set_context_name:
 * @self: a router
 * @context_id: a context id
 * @name: (nullable): its name, for logs and errors
 *
 * Names a context that has a route. The name is forgotten with the route,
 * so that contexts come and go without the table growing; for a context
 * with no route, nothing is kept.
 */
void
mitogen_router_set_context_name (MitogenRouter *self,
                                 guint32 context_id,
                                 const gchar *name)
{
  g_mutex_lock (&self->lock);
  if (name
      && g_hash_table_contains (self->stream_by_id,
                                GUINT_TO_POINTER (context_id)))
    g_hash_table_insert (self->names, GUINT_TO_POINTER (context_id),
                         dup_bounded_name (name));
  else
    g_hash_table_remove (self->names, GUINT_TO_POINTER (context_id));
  g_mutex_unlock (&self->lock);
}

/**
 * mitogen_router_dup_context_name:
 * @self: a router
 * @context_id: a context id
 *
 * Returns the context's name, or its id as text when unnamed.
 *
 * Returns: (transfer full): the context's name, or its id as text when
 *   unnamed
 */
gchar *
mitogen_router_dup_context_name (MitogenRouter *self,
                                 guint32 context_id)
{
  gchar *name;

  g_mutex_lock (&self->lock);
  name = g_strdup (g_hash_table_lookup (self->names, GUINT_TO_POINTER (context_id)));
  g_mutex_unlock (&self->lock);
  return name ? name : g_strdup_printf ("context%u", context_id);
}

/**
 * mitogen_router_add_handler:
 * @self: a router
 * @handle: the handle, or 0 to allocate one
 * @flags: how to install it
 * @respondent_id: the context replies are expected from, or
 *   %MITOGEN_CONTEXT_ID_NONE; if it disconnects, @func gets a dead message
 *   and the handler is removed
 * @policy: (nullable) (scope forever): who may send to the handler; %NULL
 *   allows anyone
 * @func: (scope notified): called with each message, on the broker thread
 * @user_data: (closure): data for @func
 * @destroy: (destroy user_data) (nullable): frees @user_data once the
 *   handler is removed and no longer running
 *
 * Installs a handler. Without %MITOGEN_HANDLER_PERSIST it receives one
 * message and is removed.
 *
 * Returns: the handle, or 0 if @handle was taken and
 *   %MITOGEN_HANDLER_OVERWRITE not given
 */
guint32
mitogen_router_add_handler (MitogenRouter *self,
                            guint32 handle,
                            MitogenHandlerFlags flags,
                            guint32 respondent_id,
                            MitogenPolicyFunc policy,
                            MitogenMessageFunc func,
                            gpointer user_data,
                            GDestroyNotify destroy)
{
  Handler *h;
  gboolean dead = FALSE;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (self), 0);
  g_return_val_if_fail (func != NULL, 0);

  if (handle == 0)
    handle = mitogen_router_allocate_handle (self);

  h = g_new0 (Handler, 1);
  h->ref_count = 1;
  h->handle = handle;
  h->persist = (flags & MITOGEN_HANDLER_PERSIST) != 0;
  h->respondent_id = respondent_id;
  h->policy = policy;
  h->func = func;
  h->user_data = user_data;
  h->destroy = destroy;

  g_mutex_lock (&self->lock);
  if (!(flags & MITOGEN_HANDLER_OVERWRITE) &&
      g_hash_table_contains (self->handlers, GUINT_TO_POINTER (handle)))
    {
      g_mutex_unlock (&self->lock);
      h->destroy = NULL;
      handler_unref (h);
      return 0;
    }
  if (self->shut_down)
    dead = TRUE;
  else
    g_hash_table_insert (self->handlers, GUINT_TO_POINTER (handle), h);
  g_mutex_unlock (&self->lock);

  if (dead)
    {
      g_autoptr(GPtrArray) victims = g_ptr_array_new ();
      g_ptr_array_add (victims, h);
      kill_handlers (self, victims, MITOGEN_CONTEXT_ID_NONE, "The broker has shut down");
    }
  return handle;
}

/**
 * mitogen_router_del_handler:
 * @self: a router
 * @handle: a handle
 *
 * Removes the handler. Its data is freed once it is not running.
 *
 * Returns: %TRUE if there was a handler
 */
gboolean
mitogen_router_del_handler (MitogenRouter *self,
                            guint32 handle)
{
  gboolean removed;

  g_mutex_lock (&self->lock);
  removed = g_hash_table_remove (self->handlers, GUINT_TO_POINTER (handle));
  g_mutex_unlock (&self->lock);
  return removed;
}

static void
on_broker_shutdown (MitogenBroker *broker,
                    MitogenRouter *self)
{
  g_autoptr(GPtrArray) victims = NULL;

  g_mutex_lock (&self->lock);
  self->shut_down = TRUE;
  victims = steal_handlers_locked (self, any_handler, NULL);
  g_mutex_unlock (&self->lock);

  kill_handlers (self, victims, MITOGEN_CONTEXT_ID_NONE, "The broker has shut down");
}

static void
mitogen_router_dispose (GObject *object)
{
  MitogenRouter *self = MITOGEN_ROUTER (object);
  GHashTableIter iter;
  gpointer stream, id;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->streams);
  while (g_hash_table_iter_next (&iter, &stream, &id))
    {
      g_signal_handler_disconnect (stream, GPOINTER_TO_SIZE (id));
      mitogen_stream_set_router (stream, NULL);
      g_object_unref (stream);
      g_hash_table_iter_remove (&iter);
    }
  g_hash_table_remove_all (self->stream_by_id);
  g_mutex_unlock (&self->lock);

  if (self->broker)
    {
      g_signal_handlers_disconnect_by_func (self->broker, on_broker_shutdown,
                                            self);
      g_clear_object (&self->broker);
    }

  G_OBJECT_CLASS (mitogen_router_parent_class)->dispose (object);
}

static void
mitogen_router_finalize (GObject *object)
{
  MitogenRouter *self = MITOGEN_ROUTER (object);

  g_hash_table_unref (self->handlers);
  g_hash_table_unref (self->stream_by_id);
  g_hash_table_unref (self->streams);
  g_hash_table_unref (self->names);
  g_hash_table_unref (self->refusing);
  g_hash_table_unref (self->grants);
  g_object_unref (self->ids);
  g_array_unref (self->parent_ids);
  g_mutex_clear (&self->lock);
  mitogen_log_limiter_clear (&self->drop_log);
  mitogen_log_limiter_clear (&self->refusal_log);

  G_OBJECT_CLASS (mitogen_router_parent_class)->finalize (object);
}

static void
mitogen_router_class_init (MitogenRouterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mitogen_router_dispose;
  object_class->finalize = mitogen_router_finalize;

  /**
   * MitogenRouter::route-removed:
   * @self: the router
   * @context_id: the context no longer reachable
   *
   * Emitted, usually on the broker thread, when a context becomes
   * unreachable: its stream or a stream on the way to it disconnected.
   */
  signals[SIGNAL_ROUTE_REMOVED] =
    g_signal_new ("route-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /**
   * MitogenRouter::upload-progress:
   * @self: the router
   * @context_name: the name of the child being started, such as `ssh.web1`
   * @received: bytes of the agent bundle the far side has received so far
   * @total: the bundle's size in bytes
   *
   * Emitted while a child started from this process receives the agent
   * it has no cached copy of (#MitogenParentStream:upload-agent), each
   * time the far side says it received more of it, and once with
   * @received equal to @total. It is emitted in the thread that runs the
   * connect: the caller's for mitogen_router_connect_context(), a worker
   * thread for mitogen_router_connect_context_async(); a handler that
   * updates a user interface should hand the figures to its main context.
   *
   * While the upload progresses, the connect timeout
   * (#MitogenParentStream:connect-timeout) counts only time without
   * progress, so a slow link that keeps moving does not time out.
   */
  signals[SIGNAL_UPLOAD_PROGRESS] = g_signal_new (
      "upload-progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_UINT64, G_TYPE_UINT64);
}

/* Emits MitogenRouter::upload-progress; the parent stream's connect calls
 * it, in its own thread. */
void
mitogen_router_emit_upload_progress (MitogenRouter *self,
                                     const gchar *context_name,
                                     guint64 received,
                                     guint64 total)
{
  g_signal_emit (self, signals[SIGNAL_UPLOAD_PROGRESS], 0, context_name,
                 received, total);
}

static void
mitogen_router_init (MitogenRouter *self)
{
  g_mutex_init (&self->lock);
  self->handlers = g_hash_table_new_full (NULL, NULL, NULL, handler_unref);
  self->stream_by_id = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  self->streams = g_hash_table_new (NULL, NULL);
  self->names = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->refusing = g_hash_table_new (NULL, NULL);
  self->grants
      = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->ids = mitogen_id_allocator_new (self);
  self->parent_ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  self->max_message_size = MITOGEN_MAX_MESSAGE_SIZE;
  self->next_handle = MITOGEN_HANDLE_FIRST_DYNAMIC;
  mitogen_log_limiter_init (&self->drop_log, MITOGEN_LOG_LIMITER_INTERVAL);
  mitogen_log_limiter_init (&self->refusal_log, MITOGEN_LOG_LIMITER_INTERVAL);
}

/**
 * mitogen_router_new:
 * @broker: the broker that runs the streams and handlers
 *
 * Creates the router of context 0, the master, which is unidirectional:
 * children reach their parents but not each other until
 * mitogen_router_set_unidirectional() allows it. A child context sets its
 * own id and parent ids.
 *
 * Returns: (transfer full): a new router
 */
MitogenRouter *
mitogen_router_new (MitogenBroker *broker)
{
  MitogenRouter *self = g_object_new (MITOGEN_TYPE_ROUTER, NULL);

  self->broker = g_object_ref (broker);
  self->unidirectional = TRUE;
  g_signal_connect (broker, "shutdown", G_CALLBACK (on_broker_shutdown), self);
  /* Routes to contexts behind a child are announced by that child only. */
  mitogen_router_add_handler (self, MITOGEN_HANDLE_ADD_ROUTE,
                              MITOGEN_HANDLER_PERSIST, MITOGEN_CONTEXT_ID_NONE,
                              mitogen_router_policy_is_immediate_child,
                              on_add_route, self, NULL);
  mitogen_router_add_handler (self, MITOGEN_HANDLE_DEL_ROUTE,
                              MITOGEN_HANDLER_PERSIST, MITOGEN_CONTEXT_ID_NONE,
                              mitogen_router_policy_is_immediate_child,
                              on_del_route, self, NULL);
  /* Answered by the master only; elsewhere the handler says so. */
  mitogen_router_add_handler (self, MITOGEN_HANDLE_ALLOCATE_ID,
                              MITOGEN_HANDLER_PERSIST, MITOGEN_CONTEXT_ID_NONE,
                              policy_may_allocate_ids, on_allocate_id, self,
                              NULL);
  mitogen_keepalive_install_responder (self);
  return self;
}

/**
 * mitogen_router_get_broker:
 * @self: a router
 *
 * Returns the broker.
 *
 * Returns: (transfer none): the broker
 */
MitogenBroker *
mitogen_router_get_broker (MitogenRouter *self)
{
  return self->broker;
}

/**
 * mitogen_router_get_context_id:
 * @self: a router
 *
 * Returns the id of the context this router serves.
 *
 * Returns: the id of the context this router serves
 */
guint32
mitogen_router_get_context_id (MitogenRouter *self)
{
  return self->context_id;
}

/**
 * mitogen_router_set_context_id:
 * @self: a router
 * @context_id: the id of this context
 *
 * Sets the id of the context this router serves, as a child learns it from
 * its configuration.
 */
void
mitogen_router_set_context_id (MitogenRouter *self,
                               guint32 context_id)
{
  self->context_id = context_id;
}

/**
 * mitogen_router_set_parent_ids:
 * @self: a router
 * @parent_ids: (array length=n_parent_ids): this context's parent first,
 *   then its parent, up to the master
 * @n_parent_ids: how many
 *
 * Sets the chain of contexts with authority over this one. Messages for
 * unknown contexts go to the first.
 */
void
mitogen_router_set_parent_ids (MitogenRouter *self,
                               const guint32 *parent_ids,
                               gsize n_parent_ids)
{
  g_mutex_lock (&self->lock);
  g_array_set_size (self->parent_ids, 0);
  g_array_append_vals (self->parent_ids, parent_ids, (guint) n_parent_ids);
  g_mutex_unlock (&self->lock);
}

/**
 * mitogen_router_get_parent_ids:
 * @self: a router
 * @n_parent_ids: (out): how many
 *
 * Returns the parent chain.
 *
 * Returns: (array length=n_parent_ids) (transfer none): the parent chain
 */
const guint32 *
mitogen_router_get_parent_ids (MitogenRouter *self,
                               gsize *n_parent_ids)
{
  *n_parent_ids = self->parent_ids->len;
  return (const guint32 *) self->parent_ids->data;
}

/**
 * mitogen_router_is_parent_id:
 * @self: a router
 * @context_id: a context id
 *
 * Returns: whether @context_id is on this context's parent chain
 */
gboolean
mitogen_router_is_parent_id (MitogenRouter *self,
                             guint32 context_id)
{
  for (guint i = 0; i < self->parent_ids->len; i++)
    if (g_array_index (self->parent_ids, guint32, i) == context_id)
      return TRUE;
  return FALSE;
}

/**
 * mitogen_router_get_unidirectional:
 * @self: a router
 *
 * Returns whether children are kept from reaching each other.
 *
 * Returns: whether children are kept from reaching each other
 */
gboolean
mitogen_router_get_unidirectional (MitogenRouter *self)
{
  return self->unidirectional;
}

/**
 * mitogen_router_set_unidirectional:
 * @self: a router
 * @unidirectional: %FALSE to let children reach each other through here
 *
 * Sets whether children are kept from reaching each other through this
 * router; %TRUE by default.
 */
void
mitogen_router_set_unidirectional (MitogenRouter *self,
                                   gboolean unidirectional)
{
  self->unidirectional = unidirectional;
}

/**
 * mitogen_router_get_max_message_size:
 * @self: a router
 *
 * Returns the largest message body routed.
 *
 * Returns: the largest message body routed
 */
gsize
mitogen_router_get_max_message_size (MitogenRouter *self)
{
  return self->max_message_size;
}

/**
 * mitogen_router_set_max_message_size:
 * @self: a router
 * @max_message_size: the largest message body routed, and accepted by
 *   streams registered from now on
 *
 * Sets the largest message body routed, and accepted by streams registered
 * from now on.
 */
void
mitogen_router_set_max_message_size (MitogenRouter *self,
                                     gsize max_message_size)
{
  self->max_message_size = max_message_size;
}

/**
 * mitogen_router_policy_has_parent_authority:
 * @router: the router
 * @msg: a message
 * @stream: (nullable): the stream it arrived on
 *
 * A [callback@PolicyFunc] admitting messages sent on the authority of this
 * context or one of its parents: the policy of `CALL_FUNCTION`.
 *
 * Returns: %TRUE to deliver
 */
gboolean
mitogen_router_policy_has_parent_authority (MitogenRouter *router,
                                            MitogenMessage *msg,
                                            MitogenStream *stream)
{
  guint32 auth_id = mitogen_message_get_auth_id (msg);

  return auth_id == router->context_id ||
         mitogen_router_is_parent_id (router, auth_id);
}

/**
 * mitogen_router_policy_is_immediate_child:
 * @router: the router
 * @msg: a message
 * @stream: (nullable): the stream it arrived on
 *
 * A [callback@PolicyFunc] admitting messages from a direct child only.
 *
 * Returns: %TRUE to deliver
 */
gboolean
mitogen_router_policy_is_immediate_child (MitogenRouter *router,
                                          MitogenMessage *msg,
                                          MitogenStream *stream)
{
  return stream != NULL && !mitogen_stream_get_is_privileged (stream) &&
         mitogen_message_get_src_id (msg) == mitogen_stream_get_remote_id (stream);
}
