/* services.c: a test-only function module that calls services and serves
 * some of its own, activated on first use
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>

static GVariant *
echo (MitogenMessage *request,
      GVariant *args,
      gpointer user_data,
      GError **error)
{
  return g_variant_ref (args);
}

static gboolean
activate (MitogenServicePool *pool, const gchar *service, gpointer user_data)
{
  if (!g_str_equal (service, "test.Lazy"))
    return FALSE;
  mitogen_service_pool_add_method (pool, "test.Lazy", "echo", "(s)",
                                   MITOGEN_SERVICE_POLICY_PARENT, 0, echo, NULL,
                                   NULL);
  return TRUE;
}

static GVariant *
services_call (MitogenCall *call, GVariant *args, GError **error)
{
  const gchar *service, *method;
  guint32 dst;
  g_autoptr (GVariant) inner = NULL;
  g_autoptr (GVariant) result = NULL;

  g_variant_get (args, "(u&s&sv)", &dst, &service, &method, &inner);
  result = mitogen_service_call (mitogen_call_get_router (call), dst, service,
                                 method, g_steal_pointer (&inner),
                                 mitogen_call_get_cancellable (call), error);
  return result ? g_variant_new_variant (result) : NULL;
}

static GVariant *
services_serve (MitogenCall *call, GVariant *args, GError **error)
{
  MitogenServicePool *pool
      = mitogen_service_pool_get_default (mitogen_call_get_router (call));

  mitogen_service_pool_add_method (pool, "test.Echo", "parent", "(s)",
                                   MITOGEN_SERVICE_POLICY_PARENT, 0, echo, NULL,
                                   NULL);
  mitogen_service_pool_set_activator (pool, activate, NULL, NULL);
  return g_variant_new ("()");
}

static const MitogenFunctionInfo services_functions[] = {
  { "call", "(ussv)", "v", services_call,
    "Call a service method in a context, return its result (for tests)" },
  { "serve", "()", "()", services_serve,
    "Serve test.Echo.parent and activate test.Lazy on demand (for tests)" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("services", NULL, services_functions);
