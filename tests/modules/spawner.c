/* spawner.c: a test-only function module that starts contexts from the
 * context it runs in, on that context's own router, and pokes at what that
 * needs: ids from the master (ALLOCATE_ID) and transports.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include "../mitogen-test-util.h"

/* Long enough never to be hit by a working master. */
#define WAIT MITOGEN_TEST_WAIT

/* The children started here live as long as the context: it shuts them
 * down as it exits. */
static GMutex children_lock;
static GPtrArray *children;

static GVariant *
spawner_connect (MitogenCall *call,
                 GVariant *args,
                 GError **error)
{
  const gchar *transport;
  MitogenContext *child;

  g_variant_get (args, "(&s)", &transport);
  child = mitogen_router_connect_context (
      mitogen_call_get_router (call), transport,
      mitogen_test_connect_options (NULL), NULL,
      mitogen_call_get_cancellable (call), error);
  if (!child)
    return NULL;

  g_mutex_lock (&children_lock);
  if (!children)
    children = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (children, child);
  g_mutex_unlock (&children_lock);
  return g_variant_new ("(us)", mitogen_context_get_context_id (child),
                        mitogen_context_get_name (child));
}

static GVariant *
spawner_allocate_id (MitogenCall *call,
                     GVariant *args,
                     GError **error)
{
  guint32 id = mitogen_router_allocate_id_full (mitogen_call_get_router (call),
                                                mitogen_call_get_cancellable (call),
                                                error);

  return id == MITOGEN_CONTEXT_ID_NONE ? NULL : g_variant_new_uint32 (id);
}

/* Sends ALLOCATE_ID to the master with any body, as a misbehaving context
 * could, and returns the range granted: (0, 0) when no reply was asked
 * for, an error when the master refused. */
static GVariant *
spawner_ask_ids (MitogenCall *call,
                 GVariant *args,
                 GError **error)
{
  MitogenRouter *router = mitogen_call_get_router (call);
  g_autoptr(GVariant) maybe = NULL;
  g_autoptr(GVariant) boxed = NULL;
  g_autoptr(GVariant) inner = NULL;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  gboolean want_reply;

  g_variant_get (args, "(@mvb)", &maybe, &want_reply);
  boxed = g_variant_get_maybe (maybe);
  inner = boxed ? g_variant_get_variant (boxed) : NULL;
  msg = mitogen_message_new (0, MITOGEN_HANDLE_ALLOCATE_ID, inner);
  if (!want_reply)
    {
      mitogen_router_route (router, msg);
      return g_variant_new ("(uu)", 0, 0);
    }
  recv = mitogen_receiver_new (router, 0, FALSE, 0, NULL);
  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (router, msg);
  reply = mitogen_receiver_get (recv, WAIT, mitogen_call_get_cancellable (call),
                                error);
  body = reply ? mitogen_message_get_data (reply, error) : NULL;
  if (!body)
    return NULL;
  if (!g_variant_is_of_type (body, G_VARIANT_TYPE ("(uu)")))
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE,
                   "ALLOCATE_ID answered with %s", g_variant_get_type_string (body));
      return NULL;
    }
  return g_steal_pointer (&body);
}

/* The transports this context knows without asking anyone. */
static GVariant *
spawner_transports (MitogenCall *call,
                    GVariant *args,
                    GError **error)
{
  g_auto(GStrv) names =
    mitogen_transport_registry_list (mitogen_transport_registry_get_default ());

  return g_variant_new_strv ((const gchar * const *) names, -1);
}

/* Where the transport's module was loaded from, fetching it if need be. */
static GVariant *
spawner_transport_path (MitogenCall *call,
                        GVariant *args,
                        GError **error)
{
  const gchar *name;
  MitogenTransportModule *module;

  g_variant_get (args, "(&s)", &name);
  module = mitogen_transport_registry_lookup (mitogen_transport_registry_get_default (),
                                              name, error);
  return module ? g_variant_new_string (mitogen_transport_module_get_path (module))
                : NULL;
}

static const MitogenFunctionInfo spawner_functions[] = {
  { "connect", "(s)", "(us)", spawner_connect,
    "Start a child of this context with TRANSPORT; return its id and name" },
  { "allocate_id", "()", "u", spawner_allocate_id,
    "Allocate a context id on this context's router" },
  { "ask_ids", "(mvb)", "(uu)", spawner_ask_ids,
    "Send ALLOCATE_ID with any body to the master; return its answer" },
  { "transports", "()", "as", spawner_transports,
    "The transports this context knows without fetching" },
  { "transport_path", "(s)", "s", spawner_transport_path,
    "The file the transport was loaded from, fetching it if need be" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("spawner", NULL, spawner_functions);
