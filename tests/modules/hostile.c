/* hostile.c: a test-only function module that has the context it runs in
 * send its parent what a compromised child could: route announcements
 * (ADD_ROUTE, DEL_ROUTE) for any ids, repeated GET_MODULE requests, and
 * lying answers to calls (a made-up core.list_tree listing).
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

/* The listing every later core.list_tree call is answered with. */
static GVariant *told_listing;
G_LOCK_DEFINE_STATIC (told_listing);

static GVariant *
reply_ok (GVariant *result)
{
  return g_variant_new ("(bv)", TRUE, result);
}

/* Takes over CALL_FUNCTION, as a compromised child's own code could:
 * core.list_tree is answered with the listing last told, a repeated
 * hostile.lie_about_trees tells a new one, and every other call fails. */
static void
on_lying_call (MitogenMessage *msg, gpointer user_data)
{
  MitogenRouter *router = user_data; /* unowned: it outlives its handlers */
  g_autoptr (GVariant) data = mitogen_message_get_data (msg, NULL);
  g_autoptr (GVariant) args = NULL;
  const gchar *module, *function;

  if (!data || !g_variant_is_of_type (data, G_VARIANT_TYPE ("(sssvu)")))
    return;
  g_variant_get (data, "(&s&s&svu)", NULL, &module, &function, &args, NULL);
  if (g_str_equal (module, "hostile")
      && g_str_equal (function, "lie_about_trees")
      && g_variant_is_of_type (args, G_VARIANT_TYPE ("(v)")))
    {
      G_LOCK (told_listing);
      g_clear_pointer (&told_listing, g_variant_unref);
      g_variant_get (args, "(v)", &told_listing);
      G_UNLOCK (told_listing);
      mitogen_message_reply (msg, router,
                             reply_ok (g_variant_new_boolean (TRUE)));
    }
  else if (g_str_equal (module, "core") && g_str_equal (function, "list_tree"))
    {
      G_LOCK (told_listing);
      mitogen_message_reply (msg, router, reply_ok (told_listing));
      G_UNLOCK (told_listing);
    }
  else
    {
      g_autofree gchar *why = g_strdup_printf (
          "This context only lies: not answering %s.%s", module, function);

      mitogen_message_reply (
          msg, router,
          g_variant_new ("(bv)", FALSE,
                         g_variant_new ("(ssis)", "hostile", "g-io-error-quark",
                                        G_IO_ERROR_NOT_SUPPORTED, why)));
    }
}

/* From now on this context answers core.list_tree with @listing (any
 * type: a `v`), whatever it is asked to list. */
static GVariant *
hostile_lie_about_trees (MitogenCall *call, GVariant *args, GError **error)
{
  MitogenRouter *router = mitogen_call_get_router (call);

  G_LOCK (told_listing);
  g_clear_pointer (&told_listing, g_variant_unref);
  g_variant_get (args, "(v)", &told_listing);
  G_UNLOCK (told_listing);
  mitogen_router_add_handler (
      router, MITOGEN_HANDLE_CALL_FUNCTION,
      MITOGEN_HANDLER_PERSIST | MITOGEN_HANDLER_OVERWRITE,
      MITOGEN_CONTEXT_ID_NONE, mitogen_router_policy_has_parent_authority,
      on_lying_call, router, NULL);
  return g_variant_new_boolean (TRUE);
}

static const MitogenFunctionInfo hostile_functions[] = {
  { "announce", "(uus)", "u", hostile_announce,
    "Send ADD_ROUTE for COUNT ids from FIRST, named NAME, to the parent" },
  { "withdraw", "(u)", "b", hostile_withdraw,
    "Send DEL_ROUTE for ID to the parent" },
  { "ask_module", "(su)", "u", hostile_ask_module,
    "Send GET_MODULE for NAME to the parent COUNT times" },
  { "lie_about_trees", "(v)", "b", hostile_lie_about_trees,
    "Answer every later core.list_tree with LISTING" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("hostile", NULL, hostile_functions);
