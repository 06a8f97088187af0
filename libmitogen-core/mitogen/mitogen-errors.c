/* mitogen-errors.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-errors.h"

#include <string.h>

/**
 * mitogen_stream_error_quark:
 *
 * The error domain of #MitogenStreamError, errors of streams and file descriptors.
 *
 * Returns: the domain's quark
 */
G_DEFINE_QUARK (mitogen-stream-error-quark, mitogen_stream_error)
/**
 * mitogen_timeout_error_quark:
 *
 * The error domain of #MitogenTimeoutError, waits that ended before they got what they waited for.
 *
 * Returns: the domain's quark
 */
G_DEFINE_QUARK (mitogen-timeout-error-quark, mitogen_timeout_error)
/**
 * mitogen_channel_error_quark:
 *
 * The error domain of #MitogenChannelError, errors of receivers, senders and channels.
 *
 * Returns: the domain's quark
 */
G_DEFINE_QUARK (mitogen-channel-error-quark, mitogen_channel_error)
/**
 * mitogen_latch_error_quark:
 *
 * The error domain of #MitogenLatchError.
 *
 * Returns: the domain's quark
 */
G_DEFINE_QUARK (mitogen-latch-error-quark, mitogen_latch_error)

/* A call error remembers where it came from: the remote error's own
 * domain and code, and the context that raised it. */
typedef struct {
  gchar *remote_domain;
  gint remote_code;
  gchar *context_name;
} MitogenCallErrorPrivate;

static void
mitogen_call_error_private_init (MitogenCallErrorPrivate *priv)
{
}

static void
mitogen_call_error_private_copy (const MitogenCallErrorPrivate *src,
                                 MitogenCallErrorPrivate *dest)
{
  dest->remote_domain = g_strdup (src->remote_domain);
  dest->remote_code = src->remote_code;
  dest->context_name = g_strdup (src->context_name);
}

static void
mitogen_call_error_private_clear (MitogenCallErrorPrivate *priv)
{
  g_free (priv->remote_domain);
  g_free (priv->context_name);
}

/* The private data sits just before the GError, aligned as GLib does it
 * for G_DEFINE_EXTENDED_ERROR. */
static MitogenCallErrorPrivate *
mitogen_call_error_get_private (const GError *error)
{
  const gsize sa = 2 * sizeof (gsize);
  const gsize as = (sizeof (MitogenCallErrorPrivate) + (sa - 1)) & -sa;

  if (!error || error->domain != MITOGEN_CALL_ERROR)
    return NULL;
  return (MitogenCallErrorPrivate *) (((guint8 *) error) - as);
}

static void
call_error_init (GError *error)
{
  mitogen_call_error_private_init (mitogen_call_error_get_private (error));
}

static void
call_error_copy (const GError *src,
                 GError *dest)
{
  mitogen_call_error_private_copy (mitogen_call_error_get_private (src),
                                   mitogen_call_error_get_private (dest));
}

static void
call_error_clear (GError *error)
{
  mitogen_call_error_private_clear (mitogen_call_error_get_private (error));
}

/**
 * mitogen_call_error_quark:
 *
 * The error domain of #MitogenCallError, errors of remote function calls.
 * Its errors keep the remote domain, code and context: see
 * mitogen_call_error_get_remote_domain().
 *
 * Returns: the domain's quark
 */
/* Written out rather than G_DEFINE_EXTENDED_ERROR, which would name the
 * domain "MitogenCallError" unlike the other four. */
GQuark
mitogen_call_error_quark (void)
{
  static gsize quark;

  if (g_once_init_enter (&quark))
    g_once_init_leave (&quark, g_error_domain_register_static (
                                 "mitogen-call-error-quark",
                                 sizeof (MitogenCallErrorPrivate),
                                 call_error_init, call_error_copy,
                                 call_error_clear));
  return (GQuark) quark;
}

/* The code a remote error keeps in the call domain: a call error raised
 * remotely stays what it was, anything else is REMOTE. */
static gint
local_code (const gchar *remote_domain,
            gint remote_code)
{
  if (g_strcmp0 (remote_domain, g_quark_to_string (MITOGEN_CALL_ERROR)) == 0)
    return remote_code;
  return MITOGEN_CALL_ERROR_REMOTE;
}

/**
 * mitogen_call_error_new_remote:
 * @context_name: the context the error was raised in
 * @remote_domain: the name of the remote error's domain
 * @remote_code: the remote error's code
 * @message: the remote error's message
 *
 * Builds the error a caller receives for a failed remote call: in the
 * %MITOGEN_CALL_ERROR domain, with a message naming the context and the
 * remote domain, and the remote details kept for
 * mitogen_call_error_get_remote_domain() and friends.
 *
 * Returns: (transfer full): a new error
 */
GError *
mitogen_call_error_new_remote (const gchar *context_name,
                               const gchar *remote_domain,
                               gint remote_code,
                               const gchar *message)
{
  GError *error = g_error_new (MITOGEN_CALL_ERROR,
                               local_code (remote_domain, remote_code),
                               "%s: %s (%s, %d)", context_name, message,
                               remote_domain, remote_code);
  MitogenCallErrorPrivate *priv = mitogen_call_error_get_private (error);

  priv->remote_domain = g_strdup (remote_domain);
  priv->remote_code = remote_code;
  priv->context_name = g_strdup (context_name);
  return error;
}

/* A binding (PyGObject, GJS, …) hands a GError back as a new one built
 * from its domain, code and message alone, so the private data is empty.
 * The message ends as mitogen_call_error_new_remote() wrote it,
 * "CONTEXT: MESSAGE (DOMAIN, CODE)": the details are read back from it,
 * once, under a lock, as the error is const and may be shared. */
static GMutex parse_lock;

static void
parse_message (const GError *error, MitogenCallErrorPrivate *priv)
{
  const gchar *msg = error->message;
  const gchar *open, *comma, *colon;
  gchar *end = NULL;
  gint64 code;

  if (!msg || !g_str_has_suffix (msg, ")"))
    return;
  open = g_strrstr (msg, " (");
  comma = open ? g_strrstr (open, ", ") : NULL;
  colon = strstr (msg, ": ");
  if (!open || !comma || !colon || colon > open || comma == open + 2)
    return;
  code = g_ascii_strtoll (comma + 2, &end, 10);
  if (end == comma + 2 || *end != ')' || end[1] != '\0' || code < G_MININT
      || code > G_MAXINT)
    return;
  priv->remote_domain = g_strndup (open + 2, comma - open - 2);
  priv->remote_code = (gint) code;
  priv->context_name = g_strndup (msg, colon - msg);
}

static MitogenCallErrorPrivate *
call_error_details (const GError *error)
{
  MitogenCallErrorPrivate *priv = mitogen_call_error_get_private (error);

  if (!priv)
    return NULL;
  g_mutex_lock (&parse_lock);
  if (!priv->remote_domain && !priv->context_name)
    parse_message (error, priv);
  g_mutex_unlock (&parse_lock);
  return priv;
}

/**
 * mitogen_call_error_get_remote_domain:
 * @error: a %MITOGEN_CALL_ERROR
 *
 * The domain of the error the called function raised. This works from
 * any language binding too: bindings rebuild a #GError from its domain,
 * code and message, and the details are read back from the message.
 *
 * Returns: (nullable): the domain of the error raised remotely, such as
 *   `g-io-error-quark`, or %NULL for an error not from a remote call
 */
const gchar *
mitogen_call_error_get_remote_domain (const GError *error)
{
  MitogenCallErrorPrivate *priv = call_error_details (error);
  return priv ? priv->remote_domain : NULL;
}

/**
 * mitogen_call_error_get_remote_code:
 * @error: a %MITOGEN_CALL_ERROR
 *
 * The code of the error the called function raised, in the domain
 * mitogen_call_error_get_remote_domain() returns.
 *
 * Returns: the code of the error raised remotely, 0 for an error not from
 *   a remote call
 */
gint
mitogen_call_error_get_remote_code (const GError *error)
{
  MitogenCallErrorPrivate *priv = call_error_details (error);
  return priv ? priv->remote_code : 0;
}

/**
 * mitogen_call_error_get_context_name:
 * @error: a %MITOGEN_CALL_ERROR
 *
 * The name of the context the called function failed in.
 *
 * Returns: (nullable): the name of the context that raised the error
 */
const gchar *
mitogen_call_error_get_context_name (const GError *error)
{
  MitogenCallErrorPrivate *priv = call_error_details (error);
  return priv ? priv->context_name : NULL;
}
