/* mitogen-router.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-broker.h>
#include <mitogen/mitogen-message.h>
#include <mitogen/mitogen-stream.h>

G_BEGIN_DECLS

/**
 * MitogenHandlerFlags:
 * @MITOGEN_HANDLER_NONE: the handler takes one message, then is removed
 * @MITOGEN_HANDLER_PERSIST: the handler stays until removed
 * @MITOGEN_HANDLER_OVERWRITE: replace a handler already on the handle
 *   rather than fail
 *
 * How mitogen_router_add_handler() installs a handler.
 */
typedef enum /*< flags >*/ {
  MITOGEN_HANDLER_NONE = 0,
  MITOGEN_HANDLER_PERSIST = 1 << 0,
  MITOGEN_HANDLER_OVERWRITE = 1 << 1,
} MitogenHandlerFlags;

#define MITOGEN_TYPE_ROUTER (mitogen_router_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenRouter, mitogen_router, MITOGEN, ROUTER, GObject)

/**
 * MitogenMessageFunc:
 * @msg: the message; dead if its sender went away (see
 *   mitogen_message_is_dead())
 * @user_data: the handler's data
 *
 * A handler, called on the broker thread.
 */
typedef void (*MitogenMessageFunc) (MitogenMessage *msg, gpointer user_data);

/**
 * MitogenPolicyFunc:
 * @router: the router delivering the message
 * @msg: the message
 * @stream: (nullable): the stream it arrived on, %NULL if it was sent in
 *   this context
 *
 * Decides whether a message may reach a handler. A refused message is
 * dropped, and its sender, if it waits for a reply, gets a dead one.
 *
 * Returns: %TRUE to deliver
 */
typedef gboolean (*MitogenPolicyFunc) (MitogenRouter *router,
                                       MitogenMessage *msg,
                                       MitogenStream *stream);


MITOGEN_AVAILABLE_IN_ALL
MitogenRouter *mitogen_router_new             (MitogenBroker *broker);
MITOGEN_AVAILABLE_IN_ALL
MitogenBroker *mitogen_router_get_broker      (MitogenRouter *self);
MITOGEN_AVAILABLE_IN_ALL
guint32        mitogen_router_get_context_id  (MitogenRouter *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_router_set_context_id  (MitogenRouter *self,
                                               guint32 context_id);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_router_set_parent_ids  (MitogenRouter *self,
                                               const guint32 *parent_ids,
                                               gsize n_parent_ids);
MITOGEN_AVAILABLE_IN_ALL
const guint32 *mitogen_router_get_parent_ids  (MitogenRouter *self,
                                               gsize *n_parent_ids);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_router_get_unidirectional (MitogenRouter *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_router_set_unidirectional (MitogenRouter *self,
                                                  gboolean unidirectional);
MITOGEN_AVAILABLE_IN_ALL
gsize          mitogen_router_get_max_message_size (MitogenRouter *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_router_set_max_message_size (MitogenRouter *self,
                                                    gsize max_message_size);

MITOGEN_AVAILABLE_IN_ALL
void           mitogen_router_register        (MitogenRouter *self,
                                               MitogenStream *stream);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_router_add_route       (MitogenRouter *self,
                                               guint32 target_id,
                                               MitogenStream *stream);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_router_del_route       (MitogenRouter *self,
                                               guint32 target_id);
MITOGEN_AVAILABLE_IN_ALL
MitogenStream *mitogen_router_stream_by_id    (MitogenRouter *self,
                                               guint32 context_id);

MITOGEN_AVAILABLE_IN_ALL
guint32        mitogen_router_allocate_handle (MitogenRouter *self);
MITOGEN_AVAILABLE_IN_ALL
guint32        mitogen_router_allocate_id     (MitogenRouter *self);
MITOGEN_AVAILABLE_IN_ALL
guint32        mitogen_router_allocate_id_full (MitogenRouter *self,
                                                GCancellable *cancellable,
                                                GError **error);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_router_allocate_id_async  (MitogenRouter *self,
                                                  GCancellable *cancellable,
                                                  GAsyncReadyCallback callback,
                                                  gpointer user_data);
MITOGEN_AVAILABLE_IN_ALL
guint32        mitogen_router_allocate_id_finish (MitogenRouter *self,
                                                  GAsyncResult *result,
                                                  GError **error);
MITOGEN_AVAILABLE_IN_ALL
guint32        mitogen_router_get_id_quota    (MitogenRouter *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_router_set_id_quota    (MitogenRouter *self,
                                               guint32 quota);
MITOGEN_AVAILABLE_IN_ALL
guint mitogen_router_get_n_refused_routes (MitogenRouter *self);
MITOGEN_AVAILABLE_IN_ALL
guint mitogen_router_get_n_id_branches (MitogenRouter *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_router_set_context_name (MitogenRouter *self,
                                                guint32 context_id,
                                                const gchar *name);
MITOGEN_AVAILABLE_IN_ALL
gchar         *mitogen_router_dup_context_name (MitogenRouter *self,
                                                guint32 context_id);
MITOGEN_AVAILABLE_IN_ALL
guint32        mitogen_router_add_handler     (MitogenRouter *self,
                                               guint32 handle,
                                               MitogenHandlerFlags flags,
                                               guint32 respondent_id,
                                               MitogenPolicyFunc policy,
                                               MitogenMessageFunc func,
                                               gpointer user_data,
                                               GDestroyNotify destroy);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_router_del_handler     (MitogenRouter *self,
                                               guint32 handle);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_router_route           (MitogenRouter *self,
                                               MitogenMessage *msg);

MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_router_policy_has_parent_authority (MitogenRouter *router,
                                                     MitogenMessage *msg,
                                                     MitogenStream *stream);

G_END_DECLS
