/* mitogen-call-chain.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-context.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_CALL_CHAIN (mitogen_call_chain_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenCallChain, mitogen_call_chain, MITOGEN, CALL_CHAIN,
                      GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenCallChain *mitogen_call_chain_new           (MitogenContext *context);
MITOGEN_AVAILABLE_IN_ALL
const gchar      *mitogen_call_chain_get_chain_id  (MitogenCallChain *self);
MITOGEN_AVAILABLE_IN_ALL
GVariant         *mitogen_call_chain_call          (MitogenCallChain *self,
                                                    const gchar *function,
                                                    GVariant *args,
                                                    GCancellable *cancellable,
                                                    GError **error);
MITOGEN_AVAILABLE_IN_ALL
void              mitogen_call_chain_call_async    (MitogenCallChain *self,
                                                    const gchar *function,
                                                    GVariant *args,
                                                    GCancellable *cancellable,
                                                    GAsyncReadyCallback callback,
                                                    gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
GVariant         *mitogen_call_chain_call_finish   (MitogenCallChain *self,
                                                    GAsyncResult *result,
                                                    GError **error);
MITOGEN_AVAILABLE_IN_ALL
void              mitogen_call_chain_call_no_reply (MitogenCallChain *self,
                                                    const gchar *function,
                                                    GVariant *args);
MITOGEN_AVAILABLE_IN_ALL
void              mitogen_call_chain_reset         (MitogenCallChain *self);

G_END_DECLS
