/* mitogen-protocol.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-protocol.h"

#include "mitogen-errors.h"

GVariant *
mitogen_protocol_reply_ok (GVariant *result)
{
  if (!result)
    result = g_variant_new_tuple (NULL, 0);
  return g_variant_new ("(bv)", TRUE, result);
}

GVariant *
mitogen_protocol_reply_error (const gchar *context_name,
                              const GError *error)
{
  const gchar *domain = g_quark_to_string (error->domain);
  const gchar *origin = context_name;
  const gchar *message = error->message;
  gint code = error->code;

  /* An error that already crossed a context keeps its first origin, and
   * its code with its domain. */
  if (error->domain == MITOGEN_CALL_ERROR &&
      mitogen_call_error_get_remote_domain (error))
    {
      domain = mitogen_call_error_get_remote_domain (error);
      origin = mitogen_call_error_get_context_name (error);
      code = mitogen_call_error_get_remote_code (error);
    }
  return g_variant_new ("(bv)", FALSE,
                        g_variant_new (MITOGEN_REMOTE_ERROR_TYPE, origin,
                                       domain ? domain : "unknown",
                                       code, message));
}

GVariant *
mitogen_protocol_parse_reply (MitogenMessage *reply,
                              const gchar *context_name,
                              GError **error)
{
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GVariant) inner = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean ok;

  body = mitogen_message_get_data (reply, &local_error);
  if (local_error)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "%s: ", context_name);
      return NULL;
    }
  /* An empty body is no reply: the caller must still get an error. */
  if (!body)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "%s sent an empty reply", context_name);
      return NULL;
    }
  if (!g_variant_is_of_type (body, G_VARIANT_TYPE (MITOGEN_REPLY_TYPE)))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "%s sent a reply of type %s", context_name,
                   g_variant_get_type_string (body));
      return NULL;
    }
  g_variant_get (body, "(bv)", &ok, &inner);
  if (ok)
    return g_steal_pointer (&inner);

  if (g_variant_is_of_type (inner, G_VARIANT_TYPE (MITOGEN_REMOTE_ERROR_TYPE)))
    {
      const gchar *origin, *domain, *message;
      gint code;

      g_variant_get (inner, "(&s&si&s)", &origin, &domain, &code, &message);
      g_propagate_error (error,
                         mitogen_call_error_new_remote (origin, domain, code,
                                                        message));
    }
  else
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                 "%s sent a malformed error", context_name);
  return NULL;
}
