/* mitogen-protocol.h: bodies of the call messages, shared by the caller
 * (MitogenContext) and the callee (MitogenExternalContext). Private.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-message.h"

G_BEGIN_DECLS

/* CALL_FUNCTION: (chain_id, module, function, args, progress_handle);
 * chain_id "" for none, progress_handle 0 for none. */
#define MITOGEN_CALL_TYPE "(sssvu)"

/* The reply: (TRUE, result) or (FALSE, (context, domain, code, message)). */
#define MITOGEN_REPLY_TYPE "(bv)"
#define MITOGEN_REMOTE_ERROR_TYPE "(ssis)"

/* FORWARD_LOG: (domain, level, message, stream) — stream "" unless the
 * record is a line of the context's stdout or stderr. */
#define MITOGEN_LOG_TYPE "(siss)"

/* GET_MODULE: (name). LOAD_MODULE: (name, found, bytes, sha256, requires,
 * error) — error says why when not found. */
#define MITOGEN_GET_MODULE_TYPE "(s)"
#define MITOGEN_LOAD_MODULE_TYPE "(sbaysass)"

/* FORWARD_MODULE: (target context, name) — to an intermediate context,
 * which passes the module, that it has just been sent, on towards the
 * target (mitogen_context_forward_modules()). */
#define MITOGEN_FORWARD_MODULE_TYPE "(us)"

/* mitogen_message_get_data() for a message the router has checked comes
 * from this context's parent (a handler with the parent-authority
 * policy), which is spared the normal-form check. */
G_GNUC_INTERNAL
GVariant *mitogen_message_get_data_from_parent (const MitogenMessage *self,
                                                GError **error);

G_GNUC_INTERNAL
GVariant *mitogen_protocol_reply_ok    (GVariant *result);
G_GNUC_INTERNAL
GVariant *mitogen_protocol_reply_error (const gchar *context_name,
                                        const GError *error);
G_GNUC_INTERNAL
GVariant *mitogen_protocol_parse_reply (MitogenMessage *reply,
                                        const gchar *context_name,
                                        GError **error);

G_END_DECLS
