/* hostile.c: a test-only function module that has the context it runs in
 * send its parent what a compromised child could: route announcements
 * (ADD_ROUTE, DEL_ROUTE) for any ids, and repeated GET_MODULE requests.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>

static guint32
parent_of (MitogenCall *call)
{
  gsize n;
  const guint32 *parents
      = mitogen_router_get_parent_ids (mitogen_call_get_router (call), &n);

  return n ? parents[0] : 0;
}

static void
send_up (MitogenCall *call, guint32 handle, GVariant *body)
{
  g_autoptr (MitogenMessage) msg
      = mitogen_message_new (parent_of (call), handle, body);

  mitogen_router_route (mitogen_call_get_router (call), msg);
}

/* ADD_ROUTE for [first, first + count), each under @name. The parent
 * handles them before this call's reply, which follows on the same
 * stream. */
static GVariant *
hostile_announce (MitogenCall *call, GVariant *args, GError **error)
{
  const gchar *name;
  guint32 first, count;

  g_variant_get (args, "(uu&s)", &first, &count, &name);
  for (guint32 i = 0; i < count; i++)
    send_up (call, MITOGEN_HANDLE_ADD_ROUTE,
             g_variant_new ("(us)", first + i, name));
  return g_variant_new_uint32 (count);
}

static GVariant *
hostile_withdraw (MitogenCall *call, GVariant *args, GError **error)
{
  guint32 id;

  g_variant_get (args, "(u)", &id);
  send_up (call, MITOGEN_HANDLE_DEL_ROUTE, g_variant_new ("(u)", id));
  return g_variant_new_boolean (TRUE);
}

/* GET_MODULE for @name, @count times, without waiting for answers. */
static GVariant *
hostile_ask_module (MitogenCall *call, GVariant *args, GError **error)
{
  const gchar *name;
  guint32 count;

  g_variant_get (args, "(&su)", &name, &count);
  for (guint32 i = 0; i < count; i++)
    send_up (call, MITOGEN_HANDLE_GET_MODULE, g_variant_new ("(s)", name));
  return g_variant_new_uint32 (count);
}

static const MitogenFunctionInfo hostile_functions[] = {
  { "announce", "(uus)", "u", hostile_announce,
    "Send ADD_ROUTE for COUNT ids from FIRST, named NAME, to the parent" },
  { "withdraw", "(u)", "b", hostile_withdraw,
    "Send DEL_ROUTE for ID to the parent" },
  { "ask_module", "(su)", "u", hostile_ask_module,
    "Send GET_MODULE for NAME to the parent COUNT times" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("hostile", NULL, hostile_functions);
