/* mitogen-service-pool.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-service-pool-private.h"

#include "mitogen-errors.h"
#include "mitogen-protocol.h"
#include "mitogen-receiver.h"
#include "mitogen-router-private.h"
#include "mitogen-sender-private.h"

/**
 * MitogenServicePool:
 *
 * The services of one context, reached through `CALL_SERVICE` (110).
 *
 * A service is a name with methods; each method has an argument type and a
 * [enum@ServicePolicy] saying who may call it, as Mitogen's
 * `@expose(policy=…)`. Requests are parsed, checked and run on a pool of
 * worker threads (#MitogenServicePool:size), never on the broker thread, so
 * a method may block on I/O or on other contexts. A service nobody
 * registered yet is offered to the activator (see
 * mitogen_service_pool_set_activator()), which may register it from a
 * function module on first use. The result, or the #GError, goes back to
 * the request's `reply_to` as a call's does.
 */

/* The body of a request: (service, method, args). */
#define SERVICE_CALL_TYPE "(ssv)"
#define DEFAULT_POOL_KEY "mitogen-service-pool"

typedef struct
{
  gchar *args_type;
  MitogenServicePolicy policy;
  guint32 context_id;
  MitogenServiceFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} Method;

struct _MitogenServicePool
{
  GObject parent_instance;

  /* Not owned: the router owns its default pool (see get_default()). */
  MitogenRouter *router;
  GMutex lock;
  GHashTable *methods;  /* "service.method" -> Method */
  GHashTable *services; /* service -> itself */
  GThreadPool *threads;
  /* Serializes activation, so that a service is activated once. */
  GMutex activate_lock;
  MitogenServiceActivator activator;
  gpointer activator_data;
  GDestroyNotify activator_destroy;
};

enum
{
  PROP_0,
  PROP_SIZE,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

G_DEFINE_FINAL_TYPE (MitogenServicePool, mitogen_service_pool, G_TYPE_OBJECT)
/**
 * mitogen_service_error_quark:
 *
 * The error domain of #MitogenServiceError, errors of calling a service.
 *
 * Returns: the domain's quark
 */
/* clang-format off: it would space the name's dashes into the string */
G_DEFINE_QUARK (mitogen-service-error-quark, mitogen_service_error)
/* clang-format on */

static void
method_free (gpointer data)
{
  Method *method = data;

  if (method->destroy)
    method->destroy (method->user_data);
  g_free (method->args_type);
  g_free (method);
}

static void
mitogen_service_pool_finalize (GObject *object)
{
  MitogenServicePool *self = MITOGEN_SERVICE_POOL (object);

  /* Normally done already, as the router went (router_disposed()). */
  if (self->threads)
    g_thread_pool_free (self->threads, TRUE, TRUE);
  if (self->activator_destroy)
    self->activator_destroy (self->activator_data);
  g_hash_table_unref (self->methods);
  g_hash_table_unref (self->services);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->activate_lock);
  G_OBJECT_CLASS (mitogen_service_pool_parent_class)->finalize (object);
}

static void
mitogen_service_pool_get_property (GObject *object,
                                   guint prop_id,
                                   GValue *value,
                                   GParamSpec *pspec)
{
  MitogenServicePool *self = MITOGEN_SERVICE_POOL (object);

  switch (prop_id)
    {
    case PROP_SIZE:
      g_value_set_uint (value, mitogen_service_pool_get_size (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_service_pool_set_property (GObject *object,
                                   guint prop_id,
                                   const GValue *value,
                                   GParamSpec *pspec)
{
  MitogenServicePool *self = MITOGEN_SERVICE_POOL (object);

  switch (prop_id)
    {
    case PROP_SIZE:
      mitogen_service_pool_set_size (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_service_pool_class_init (MitogenServicePoolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mitogen_service_pool_finalize;
  object_class->get_property = mitogen_service_pool_get_property;
  object_class->set_property = mitogen_service_pool_set_property;

  /**
   * MitogenServicePool:size:
   *
   * How many worker threads run methods at once.
   */
  props[PROP_SIZE] = g_param_spec_uint (
      "size", NULL, NULL, 1, 1024, MITOGEN_SERVICE_POOL_DEFAULT_SIZE,
      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void run_request (gpointer data, gpointer user_data);

static void
mitogen_service_pool_init (MitogenServicePool *self)
{
  g_mutex_init (&self->lock);
  g_mutex_init (&self->activate_lock);
  self->methods
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, method_free);
  self->services
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* Threads start on demand, so an idle pool costs none. */
  self->threads = g_thread_pool_new_full (
      run_request, self, (GDestroyNotify) mitogen_message_unref,
      MITOGEN_SERVICE_POOL_DEFAULT_SIZE, FALSE, NULL);
}

/* On the broker thread: everything else happens on a worker. */
static void
on_call_service (MitogenMessage *msg, gpointer user_data)
{
  MitogenServicePool *self = user_data;

  if (mitogen_message_is_dead (msg))
    return;
  if (self->threads)
    g_thread_pool_push (self->threads, mitogen_message_ref (msg), NULL);
}

/* While the router is still whole (its dispose), the requests still
 * queued are dropped and the running ones finish: a worker must never
 * touch a router being finalized. */
static void
router_disposed (gpointer data, GObject *where_the_router_was)
{
  MitogenServicePool *self = data;

  g_thread_pool_free (self->threads, TRUE, TRUE);
  self->threads = NULL;
}

/**
 * mitogen_service_pool_get_default:
 * @router: a router
 *
 * The pool serving `CALL_SERVICE` for @router, created on first use and
 * living as long as @router.
 *
 * Returns: (transfer none): the pool
 */
MitogenServicePool *
mitogen_service_pool_get_default (MitogenRouter *router)
{
  static GMutex create_lock;
  MitogenServicePool *self;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);

  g_mutex_lock (&create_lock);
  self = g_object_get_data (G_OBJECT (router), DEFAULT_POOL_KEY);
  if (!self)
    {
      self = g_object_new (MITOGEN_TYPE_SERVICE_POOL, NULL);
      self->router = router;
      g_object_set_data_full (G_OBJECT (router), DEFAULT_POOL_KEY, self,
                              g_object_unref);
      g_object_weak_ref (G_OBJECT (router), router_disposed, self);
      /* The policy is each method's: the handler admits all. */
      mitogen_router_add_handler (
          router, MITOGEN_HANDLE_CALL_SERVICE,
          MITOGEN_HANDLER_PERSIST | MITOGEN_HANDLER_OVERWRITE,
          MITOGEN_CONTEXT_ID_NONE, NULL, on_call_service, self, NULL);
    }
  g_mutex_unlock (&create_lock);
  return self;
}

/**
 * mitogen_service_pool_get_router:
 * @self: a pool
 *
 * Gets the router the pool serves calls from.
 *
 * Returns: (transfer none): the router whose services these are
 */
MitogenRouter *
mitogen_service_pool_get_router (MitogenServicePool *self)
{
  g_return_val_if_fail (MITOGEN_IS_SERVICE_POOL (self), NULL);
  return self->router;
}

/**
 * mitogen_service_pool_get_size:
 * @self: a pool
 *
 * Gets the #MitogenServicePool:size property.
 *
 * Returns: the #MitogenServicePool:size
 */
guint
mitogen_service_pool_get_size (MitogenServicePool *self)
{
  g_return_val_if_fail (MITOGEN_IS_SERVICE_POOL (self), 0);
  return self->threads ? (guint) g_thread_pool_get_max_threads (self->threads)
                       : 0;
}

/**
 * mitogen_service_pool_set_size:
 * @self: a pool
 * @size: worker threads, at least 1
 *
 * Sets the #MitogenServicePool:size.
 */
void
mitogen_service_pool_set_size (MitogenServicePool *self, guint size)
{
  g_return_if_fail (MITOGEN_IS_SERVICE_POOL (self));
  g_return_if_fail (size >= 1);

  if (!self->threads || size == mitogen_service_pool_get_size (self))
    return;
  g_thread_pool_set_max_threads (self->threads, (gint) size, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SIZE]);
}

/**
 * mitogen_service_pool_add_method:
 * @self: a pool
 * @service: the service's name, such as `mitogen.FileService`
 * @method: the method's name
 * @args_type: the GVariant type its arguments must have
 * @policy: who may call it
 * @context_id: the one context allowed with
 *   %MITOGEN_SERVICE_POLICY_CONTEXT; ignored otherwise
 * @func: (scope notified) (closure user_data) (destroy destroy): the method
 * @user_data: its data
 * @destroy: (nullable): frees @user_data with the pool, or when replaced
 *
 * Registers (or replaces) one method of @service.
 */
void
mitogen_service_pool_add_method (MitogenServicePool *self,
                                 const gchar *service,
                                 const gchar *method,
                                 const gchar *args_type,
                                 MitogenServicePolicy policy,
                                 guint32 context_id,
                                 MitogenServiceFunc func,
                                 gpointer user_data,
                                 GDestroyNotify destroy)
{
  Method *entry;

  g_return_if_fail (MITOGEN_IS_SERVICE_POOL (self));
  g_return_if_fail (service != NULL && method != NULL && func != NULL);
  g_return_if_fail (g_variant_type_string_is_valid (args_type));

  entry = g_new0 (Method, 1);
  entry->args_type = g_strdup (args_type);
  entry->policy = policy;
  entry->context_id = context_id;
  entry->func = func;
  entry->user_data = user_data;
  entry->destroy = destroy;

  g_mutex_lock (&self->lock);
  g_hash_table_replace (self->methods, g_strconcat (service, ".", method, NULL),
                        entry);
  g_hash_table_add (self->services, g_strdup (service));
  g_mutex_unlock (&self->lock);
}

/**
 * mitogen_service_pool_has_service:
 * @self: a pool
 * @service: a service name
 *
 * Checks whether any method of a service is registered.
 *
 * Returns: whether a method of @service is registered
 */
gboolean
mitogen_service_pool_has_service (MitogenServicePool *self,
                                  const gchar *service)
{
  gboolean found;

  g_return_val_if_fail (MITOGEN_IS_SERVICE_POOL (self), FALSE);

  g_mutex_lock (&self->lock);
  found = g_hash_table_contains (self->services, service);
  g_mutex_unlock (&self->lock);
  return found;
}

/**
 * mitogen_service_pool_set_activator:
 * @self: a pool
 * @activator: (scope notified) (closure user_data) (destroy destroy): what
 *   registers a service on its first call
 * @user_data: its data
 * @destroy: (nullable): frees @user_data
 *
 * Sets what is asked to register a service that is called but unknown.
 */
void
mitogen_service_pool_set_activator (MitogenServicePool *self,
                                    MitogenServiceActivator activator,
                                    gpointer user_data,
                                    GDestroyNotify destroy)
{
  g_return_if_fail (MITOGEN_IS_SERVICE_POOL (self));

  g_mutex_lock (&self->activate_lock);
  if (self->activator_destroy)
    self->activator_destroy (self->activator_data);
  self->activator = activator;
  self->activator_data = user_data;
  self->activator_destroy = destroy;
  g_mutex_unlock (&self->activate_lock);
}

/* A copy of the method, so it may run without the lock while another
 * thread replaces it: the data stays valid because replacing frees it
 * only through its own destroy, which registrants pair with the pool. */
static gboolean
lookup_method (MitogenServicePool *self,
               const gchar *service,
               const gchar *method,
               Method *out)
{
  g_autofree gchar *key = g_strconcat (service, ".", method, NULL);
  Method *entry;

  g_mutex_lock (&self->lock);
  entry = g_hash_table_lookup (self->methods, key);
  if (entry)
    *out = *entry;
  g_mutex_unlock (&self->lock);
  return entry != NULL;
}

static gboolean
activate (MitogenServicePool *self, const gchar *service)
{
  gboolean ok = FALSE;

  g_mutex_lock (&self->activate_lock);
  if (mitogen_service_pool_has_service (self, service))
    ok = TRUE;
  else if (self->activator)
    ok = self->activator (self, service, self->activator_data);
  g_mutex_unlock (&self->activate_lock);
  return ok;
}

/* Whether @auth_id is below this context: its route leaves by a stream
 * that is not the one to the parent. */
static gboolean
is_descendant (MitogenRouter *router, guint32 auth_id)
{
  gsize n_parents = 0;
  const guint32 *parents = mitogen_router_get_parent_ids (router, &n_parents);
  MitogenStream *stream;

  if (auth_id == mitogen_router_get_context_id (router)
      || mitogen_router_is_parent_id (router, auth_id))
    return FALSE;
  stream = mitogen_router_stream_by_id (router, auth_id);
  if (!stream)
    return FALSE;
  return n_parents == 0
         || stream != mitogen_router_stream_by_id (router, parents[0]);
}

static gboolean
policy_allows (MitogenServicePool *self, const Method *method, guint32 auth_id)
{
  MitogenRouter *router = self->router;
  gboolean parent = auth_id == mitogen_router_get_context_id (router)
                    || mitogen_router_is_parent_id (router, auth_id);

  switch (method->policy)
    {
    case MITOGEN_SERVICE_POLICY_PARENT:
      return parent;
    case MITOGEN_SERVICE_POLICY_CHILD:
      return parent || is_descendant (router, auth_id);
    case MITOGEN_SERVICE_POLICY_CONTEXT:
      return parent || auth_id == method->context_id;
    case MITOGEN_SERVICE_POLICY_ANY:
      return TRUE;
    default:
      return FALSE;
    }
}

static GVariant *
handle_request (MitogenServicePool *self, MitogenMessage *msg, GError **error)
{
  g_autoptr (GVariant) body = NULL;
  g_autoptr (GVariant) args = NULL;
  const gchar *service, *name;
  GVariant *result;
  Method method;

  body = mitogen_message_get_data (msg, error);
  if (!body)
    return NULL;
  if (!g_variant_is_of_type (body, G_VARIANT_TYPE (SERVICE_CALL_TYPE)))
    {
      g_set_error (error, MITOGEN_SERVICE_ERROR, MITOGEN_SERVICE_ERROR_INVALID,
                   "A CALL_SERVICE body must be %s, not %s", SERVICE_CALL_TYPE,
                   g_variant_get_type_string (body));
      return NULL;
    }
  g_variant_get (body, "(&s&sv)", &service, &name, &args);
  if (!lookup_method (self, service, name, &method)
      && !(activate (self, service)
           && lookup_method (self, service, name, &method)))
    {
      g_set_error (error, MITOGEN_SERVICE_ERROR,
                   MITOGEN_SERVICE_ERROR_NOT_FOUND,
                   "No service method %s.%s here", service, name);
      return NULL;
    }
  if (!policy_allows (self, &method, mitogen_message_get_auth_id (msg)))
    {
      g_set_error (error, MITOGEN_SERVICE_ERROR, MITOGEN_SERVICE_ERROR_REFUSED,
                   "Context %u may not call %s.%s",
                   mitogen_message_get_auth_id (msg), service, name);
      return NULL;
    }
  if (!g_variant_is_of_type (args, G_VARIANT_TYPE (method.args_type)))
    {
      g_set_error (error, MITOGEN_SERVICE_ERROR, MITOGEN_SERVICE_ERROR_INVALID,
                   "%s.%s takes %s, not %s", service, name, method.args_type,
                   g_variant_get_type_string (args));
      return NULL;
    }
  /* Floating or not, the result is ours now (transfer full). */
  result = method.func (msg, args, method.user_data, error);
  return result ? g_variant_take_ref (result) : NULL;
}

static void
run_request (gpointer data, gpointer user_data)
{
  g_autoptr (MitogenMessage) msg = data;
  MitogenServicePool *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) result = handle_request (self, msg, &error);
  g_autoptr (GVariant) body = NULL;
  g_autoptr (MitogenMessage) reply = NULL;
  g_autofree gchar *name = NULL;
  guint32 dst_id = mitogen_message_get_src_id (msg);
  guint32 reply_to = mitogen_message_get_reply_to (msg);

  if (reply_to == 0 || reply_to == MITOGEN_HANDLE_IS_DEAD)
    return;
  if (error)
    {
      name = mitogen_router_dup_context_name (
          self->router, mitogen_router_get_context_id (self->router));
      body = g_variant_ref_sink (
          mitogen_protocol_reply_error (name ? name : "service", error));
    }
  else
    body = g_variant_ref_sink (mitogen_protocol_reply_ok (result));
  reply = mitogen_message_new (dst_id, reply_to, body);
  /* A caller that stopped reading slows the worker, not the memory. */
  if (mitogen_sender_wait_room (self->router, dst_id, NULL, NULL))
    mitogen_router_route (self->router, reply);
}

gboolean
mitogen_service_send_request (MitogenRouter *router,
                              guint32 dst_id,
                              const gchar *service,
                              const gchar *method,
                              GVariant *args,
                              guint32 reply_to,
                              GCancellable *cancellable,
                              GError **error)
{
  g_autoptr (GVariant) sunk = g_variant_ref_sink (args);
  g_autoptr (MitogenMessage) msg = NULL;

  msg = mitogen_message_new (
      dst_id, MITOGEN_HANDLE_CALL_SERVICE,
      g_variant_new (SERVICE_CALL_TYPE, service, method, sunk));
  mitogen_message_set_reply_to (msg, reply_to);
  if (!mitogen_sender_wait_room (router, dst_id, cancellable, error))
    return FALSE;
  mitogen_router_route (router, msg);
  return TRUE;
}

/**
 * mitogen_service_call:
 * @router: the calling context's router
 * @dst_id: the context whose service to call
 * @service: the service's name
 * @method: the method's name
 * @args: the arguments (sunk if floating)
 * @cancellable: (nullable): stops the wait
 * @error: return location for an error
 *
 * Calls a service method in @dst_id and waits for its result.
 *
 * Returns: (transfer full): the result, or %NULL with @error set: the
 *   method's error (as %MITOGEN_CALL_ERROR with its remote domain), or
 *   %MITOGEN_CHANNEL_ERROR_DEAD if @dst_id died first
 */
GVariant *
mitogen_service_call (MitogenRouter *router,
                      guint32 dst_id,
                      const gchar *service,
                      const gchar *method,
                      GVariant *args,
                      GCancellable *cancellable,
                      GError **error)
{
  g_autoptr (MitogenReceiver) recv = NULL;
  g_autoptr (MitogenMessage) reply = NULL;
  g_autofree gchar *name = NULL;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);

  recv = mitogen_receiver_new (router, 0, FALSE, dst_id, NULL);
  if (!mitogen_service_send_request (router, dst_id, service, method, args,
                                     mitogen_receiver_get_handle (recv),
                                     cancellable, error))
    return NULL;
  reply = mitogen_receiver_get (recv, -1, cancellable, error);
  if (!reply)
    return NULL;
  name = mitogen_router_dup_context_name (router, dst_id);
  return mitogen_protocol_parse_reply (reply, name ? name : service, error);
}
