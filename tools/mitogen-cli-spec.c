/* mitogen-cli-spec.c: the hops of a CONTEXT (`local`, `sudo:USER`,
 * `ssh:[USER@]HOST[:PORT]`, …) and the stream options each becomes.
 *
 * A transport the command line can name is one row of hop_forms[]: its
 * syntax, its help line, how its argument becomes options and whether it
 * answers a password prompt.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-cli.h"

#include <string.h>

typedef struct _HopForm HopForm;

/* Sets @options from @rest, the part of @hop after "NAME:", %NULL when
 * there is none. */
typedef gboolean (*HopParser) (const HopForm *form,
                               const gchar *hop,
                               const gchar *rest,
                               GVariantDict *options,
                               GError **error);

struct _HopForm
{
  const gchar *name;
  const gchar *syntax; /* as shown in --help and errors */
  const gchar *help;
  HopParser parse;
  const gchar
      *argument; /* for parse_argument: the option ARG of NAME:ARG sets */
  gboolean takes_password;
};

static gboolean parse_nothing (
    const HopForm *, const gchar *, const gchar *, GVariantDict *, GError **);
static gboolean parse_argument (
    const HopForm *, const gchar *, const gchar *, GVariantDict *, GError **);
static gboolean parse_ssh (
    const HopForm *, const gchar *, const gchar *, GVariantDict *, GError **);
static gboolean parse_setns (
    const HopForm *, const gchar *, const gchar *, GVariantDict *, GError **);

static const HopForm hop_forms[] = {
  { "local", "local", "a child process on this machine", parse_nothing, NULL,
    FALSE },
  { "fork", "fork", "a copy of the context it is started from", parse_nothing,
    NULL, FALSE },
  { "sudo", "sudo:USER", "a process as USER, through sudo", parse_argument,
    "username", TRUE },
  { "ssh", "ssh:[USER@]HOST[:PORT]", "a process on HOST, through ssh",
    parse_ssh, NULL, TRUE },
  { "setns", "setns:PID|KIND:CONTAINER",
    "a process in the namespaces of process PID, or of CONTAINER of KIND "
    "(docker, podman, lxc, lxd, machinectl)",
    parse_setns, "pid", FALSE },
  { "docker", "docker:CONTAINER", "a process in a Docker container",
    parse_argument, "container", FALSE },
  { "podman", "podman:CONTAINER", "a process in a Podman container",
    parse_argument, "container", FALSE },
  { "buildah", "buildah:CONTAINER", "a process in a Buildah container",
    parse_argument, "container", FALSE },
  { "lxc", "lxc:NAME", "a process in an LXC container (lxc-attach)",
    parse_argument, "container", FALSE },
  { "lxd", "lxd:NAME", "a process in an LXD instance", parse_argument,
    "container", FALSE },
  { "incus", "incus:NAME", "a process in an Incus instance", parse_argument,
    "container", FALSE },
  { "kubectl", "kubectl:POD", "a process in a Kubernetes pod", parse_argument,
    "container", FALSE },
  { "jail", "jail:NAME", "a process in a FreeBSD jail (jexec)", parse_argument,
    "container", FALSE },
  { "su", "su:USER", "a process as USER, through su", parse_argument,
    "username", TRUE },
  { "doas", "doas:USER", "a process as USER, through doas", parse_argument,
    "username", TRUE },
};

static const HopForm *
find_form (const gchar *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (hop_forms); i++)
    if (g_str_equal (hop_forms[i].name, name))
      return &hop_forms[i];
  return NULL;
}

static void
set_syntax_error (GError **error, const HopForm *form, const gchar *hop)
{
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "“%s” is not of the form %s", hop, form->syntax);
}

/* local, fork */
static gboolean
parse_nothing (const HopForm *form,
               const gchar *hop,
               const gchar *rest,
               GVariantDict *options,
               GError **error)
{
  if (rest)
    set_syntax_error (error, form, hop);
  return !rest;
}

/* NAME:ARG, ARG not empty */
static gboolean
parse_argument (const HopForm *form,
                const gchar *hop,
                const gchar *rest,
                GVariantDict *options,
                GError **error)
{
  if (!rest || !*rest)
    {
      set_syntax_error (error, form, hop);
      return FALSE;
    }
  g_variant_dict_insert (options, form->argument, "s", rest);
  return TRUE;
}

static gboolean
parse_port (const gchar *text, guint *port, GError **error)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT16, &value, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "“%s” is not a port number", text);
      return FALSE;
    }
  *port = (guint) value;
  return TRUE;
}

/* setns:PID or setns:KIND:CONTAINER; the transport checks KIND. */
static gboolean
parse_setns (const HopForm *form,
             const gchar *hop,
             const gchar *rest,
             GVariantDict *options,
             GError **error)
{
  const gchar *colon = rest ? strchr (rest, ':') : NULL;
  guint64 pid;

  if (colon && colon > rest && colon[1])
    {
      g_autofree gchar *kind = g_strndup (rest, (gsize) (colon - rest));

      g_variant_dict_insert (options, "kind", "s", kind);
      g_variant_dict_insert (options, "container", "s", colon + 1);
      return TRUE;
    }
  if (!rest || !g_ascii_string_to_unsigned (rest, 10, 1, G_MAXINT, &pid, NULL))
    {
      set_syntax_error (error, form, hop);
      return FALSE;
    }
  g_variant_dict_insert (options, form->argument, "i", (gint32) pid);
  return TRUE;
}

/* ssh:[USER@]HOST[:PORT] */
static gboolean
parse_ssh (const HopForm *form,
           const gchar *hop,
           const gchar *rest,
           GVariantDict *options,
           GError **error)
{
  const gchar *at = rest ? strchr (rest, '@') : NULL;
  const gchar *host = at ? at + 1 : rest;
  const gchar *colon = host ? strchr (host, ':') : NULL;
  g_autofree gchar *hostname = NULL;
  guint port;

  if (host)
    hostname
        = colon ? g_strndup (host, (gsize) (colon - host)) : g_strdup (host);
  if (!hostname || !*hostname || (at && at == rest))
    {
      set_syntax_error (error, form, hop);
      return FALSE;
    }
  g_variant_dict_insert (options, "hostname", "s", hostname);
  if (at)
    {
      g_autofree gchar *username = g_strndup (rest, (gsize) (at - rest));
      g_variant_dict_insert (options, "username", "s", username);
    }
  if (colon)
    {
      if (!parse_port (colon + 1, &port, error))
        return FALSE;
      g_variant_dict_insert (options, "port", "u", port);
    }
  return TRUE;
}

/**
 * cli_parse_hop:
 * @hop: one hop of a CONTEXT, e.g. `sudo:root`
 * @transport: (out): the transport's name
 * @options: (out): the transport's options, an `a{sv}` of its stream's
 *   properties (`username`, `hostname`, `port`)
 * @error: return location for a %G_OPTION_ERROR
 *
 * Only the syntax is checked here: whether the transport is installed is
 * the registry's to say when it is used, naming the transports it knows.
 */
gboolean
cli_parse_hop (const gchar *hop,
               gchar **transport,
               GVariant **options,
               GError **error)
{
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  const gchar *colon = strchr (hop, ':');
  g_autofree gchar *name
      = colon ? g_strndup (hop, (gsize) (colon - hop)) : g_strdup (hop);
  const HopForm *form = find_form (name);

  if (!form)
    {
      g_autofree gchar *specs = cli_list_specs ();
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "Unknown context “%s”; contexts are %s", hop, specs);
      return FALSE;
    }
  if (!form->parse (form, hop, colon ? colon + 1 : NULL, &dict, error))
    return FALSE;

  *transport = g_steal_pointer (&name);
  *options = g_variant_ref_sink (g_variant_dict_end (&dict));
  return TRUE;
}

gboolean
cli_hop_takes_password (const gchar *transport)
{
  const HopForm *form = find_form (transport);

  return form && form->takes_password;
}

/* The options every hop gets from the command line, over its own. */
GVariant *
cli_add_common_options (GVariant *options,
                        const gchar *transport,
                        gboolean next_is_fork,
                        const gchar *password)
{
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (options);

  /* A fork hop is forked by the hop before it, which needs a fork server
   * started before its threads. */
  if (next_is_fork)
    g_variant_dict_insert (&dict, "fork-server", "b", TRUE);
  if (cli_options.connect_timeout > 0)
    g_variant_dict_insert (&dict, "connect-timeout", "d",
                           cli_options.connect_timeout);
  if (cli_options.debug)
    g_variant_dict_insert (&dict, "debug", "b", TRUE);
  if (password)
    g_variant_dict_insert (&dict, "password", "s", password);
  if (g_str_equal (transport, "ssh"))
    {
      if (cli_options.host_key_policy)
        g_variant_dict_insert (&dict, "check-host-keys", "s",
                               cli_options.host_key_policy);
      if (cli_options.identity_file)
        g_variant_dict_insert (&dict, "identity-file", "s",
                               cli_options.identity_file);
      if (cli_options.known_hosts)
        g_variant_dict_insert (&dict, "known-hosts-file", "s",
                               cli_options.known_hosts);
      if (cli_options.ssh_compression)
        g_variant_dict_insert (&dict, "compression", "b", TRUE);
    }
  return g_variant_dict_end (&dict);
}

/* For --help: a line for each form. */
gchar *
cli_describe_specs (void)
{
  GString *text = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (hop_forms); i++)
    g_string_append_printf (text, "  %-26s %s\n", hop_forms[i].syntax,
                            hop_forms[i].help);
  g_string_append_printf (text, "  %-26s %s\n", "A/B",
                          "B started from A, e.g. ssh:web1/sudo:root");
  return g_string_free (text, FALSE);
}

/* For errors: the forms in a sentence. */
gchar *
cli_list_specs (void)
{
  GString *text = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (hop_forms); i++)
    g_string_append_printf (text, "%s, ", hop_forms[i].syntax);
  g_string_append (text, "or hops of those joined by '/'");
  return g_string_free (text, FALSE);
}
