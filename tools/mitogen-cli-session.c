/* mitogen-cli-session.c: the broker, router and contexts of one CONTEXT,
 * the last of which is the one a command talks to.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-cli.h"

#include <string.h>

static CliSession *
session_new (void)
{
  CliSession *session = g_new0 (CliSession, 1);

  session->broker = mitogen_broker_new ();
  session->router = mitogen_router_new (session->broker);
  session->contexts = g_ptr_array_new_with_free_func (g_object_unref);
  return session;
}

/* Children are asked to go, innermost first, and waited for, so that
 * their last output and logs arrive before the broker stops. */
void
cli_session_free (CliSession *session)
{
  for (guint i = session->contexts->len; i > 0; i--)
    {
      MitogenContext *context = g_ptr_array_index (session->contexts, i - 1);
      g_autoptr (GError) error = NULL;

      if (!mitogen_context_shutdown (context, TRUE, NULL, &error))
        cli_print_error ("shutting down %s: %s",
                         mitogen_context_get_name (context), error->message);
    }
  mitogen_broker_shutdown (session->broker);
  mitogen_broker_join (session->broker);

  g_ptr_array_unref (session->contexts);
  g_object_unref (session->router);
  g_object_unref (session->broker);
  g_free (session);
}

/* Checks every hop before any child starts. */
gboolean
cli_session_check_spec (const gchar *spec, GError **error)
{
  g_auto (GStrv) hops = g_strsplit (spec, "/", -1);

  for (guint i = 0; hops[i]; i++)
    {
      g_autofree gchar *transport = NULL;
      g_autoptr (GVariant) options = NULL;

      if (!cli_parse_hop (hops[i], &transport, &options, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
session_connect_hops (CliSession *session,
                      const gchar *spec,
                      GPtrArray *passwords,
                      GError **error)
{
  g_auto (GStrv) hops = g_strsplit (spec, "/", -1);

  for (guint i = 0; hops[i]; i++)
    {
      g_autofree gchar *transport = NULL;
      g_autoptr (GVariant) options = NULL;
      MitogenContext *via
          = i > 0 ? g_ptr_array_index (session->contexts, i - 1) : NULL;
      MitogenContext *context;

      if (!cli_parse_hop (hops[i], &transport, &options, error))
        return FALSE;
      context = mitogen_router_connect_context (
          session->router, transport,
          cli_add_common_options (options, transport,
                                  hops[i + 1]
                                      && g_str_equal (hops[i + 1], "fork"),
                                  passwords->pdata[i]),
          via, NULL, error);
      if (!context)
        return FALSE;
      g_ptr_array_add (session->contexts, context);
    }
  return TRUE;
}

/* Failures a flag of ours fixes: the library says what went wrong, in
 * words of its API; the hint names the flag. */
typedef struct
{
  const gchar *says;
  const gchar *hint;
  gboolean (*applies) (void);
} ConnectHint;

static gboolean
no_password_given (void)
{
  return !cli_options.ask_password && cli_options.password_fd == G_MININT;
}

static gboolean
host_keys_enforced (void)
{
  return !cli_options.host_key_policy
         || g_str_equal (cli_options.host_key_policy, "enforce");
}

static const ConnectHint connect_hints[] = {
  { "asked for a password but none was given",
    "give it with --ask-password (asked on the terminal) or --password-fd=N",
    no_password_given },
  { "is unknown or does not match",
    "to trust a host seen for the first time and record its key, add "
    "--host-key-policy=accept-new",
    host_keys_enforced },
  { "has changed",
    "if the host was reinstalled, remove its old key with ssh-keygen -R HOST "
    "(in --known-hosts' file, if given)",
    NULL },
};

/* Appends to @error's message the hint for it, if any; the error keeps its
 * domain, code and what a remote error carries. */
static void
add_connect_hint (GError *error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (connect_hints); i++)
    {
      const ConnectHint *h = &connect_hints[i];
      gchar *message;

      if (!strstr (error->message, h->says) || (h->applies && !h->applies ())
          || strstr (error->message, "--ask-password"))
        continue;
      message = g_strdup_printf ("%s; %s", error->message, h->hint);
      g_free (error->message);
      error->message = message;
      return;
    }
}

/**
 * cli_session_connect:
 * @spec: a CONTEXT, hops joined by '/'
 * @error: return location for an error
 *
 * Checks @spec, gathers the passwords its hops need, then starts each hop
 * from the one before.
 *
 * Returns: (transfer full) (nullable): the session
 */
CliSession *
cli_session_connect (const gchar *spec, GError **error)
{
  g_autoptr (GPtrArray) passwords = NULL;
  g_autoptr (CliSession) session = NULL;

  if (!cli_session_check_spec (spec, error))
    return NULL;
  passwords = cli_gather_passwords (spec, error);
  if (!passwords)
    return NULL;

  session = session_new ();
  if (!session_connect_hops (session, spec, passwords, error))
    {
      if (error && *error)
        add_connect_hint (*error);
      return NULL;
    }
  return g_steal_pointer (&session);
}

MitogenContext *
cli_session_get_target (CliSession *session)
{
  return g_ptr_array_index (session->contexts, session->contexts->len - 1);
}
