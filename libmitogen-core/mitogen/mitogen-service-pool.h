/* mitogen-service-pool.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-message.h>
#include <mitogen/mitogen-router.h>

G_BEGIN_DECLS

/**
 * MITOGEN_SERVICE_POOL_DEFAULT_SIZE:
 *
 * The default #MitogenServicePool:size: worker threads.
 */
#define MITOGEN_SERVICE_POOL_DEFAULT_SIZE 4

/**
 * MITOGEN_SERVICE_ERROR:
 *
 * The domain of a service call refused before its method ran.
 */
#define MITOGEN_SERVICE_ERROR (mitogen_service_error_quark ())

/**
 * MitogenServiceError:
 * @MITOGEN_SERVICE_ERROR_NOT_FOUND: no such service or method
 * @MITOGEN_SERVICE_ERROR_REFUSED: the method's policy refused the caller
 * @MITOGEN_SERVICE_ERROR_INVALID: the request or its arguments were malformed
 *
 * Why a service call was refused.
 */
typedef enum
{
  MITOGEN_SERVICE_ERROR_NOT_FOUND,
  MITOGEN_SERVICE_ERROR_REFUSED,
  MITOGEN_SERVICE_ERROR_INVALID,
} MitogenServiceError;

MITOGEN_AVAILABLE_IN_ALL
GQuark mitogen_service_error_quark (void);

/**
 * MitogenServicePolicy:
 * @MITOGEN_SERVICE_POLICY_PARENT: only a context of this one's parent chain
 * @MITOGEN_SERVICE_POLICY_CHILD: any context below this one
 * @MITOGEN_SERVICE_POLICY_CONTEXT: one named context (and the parents)
 * @MITOGEN_SERVICE_POLICY_ANY: any context that can reach this one
 *
 * Who may call a service method: Mitogen's `@expose(policy=…)`.
 */
typedef enum
{
  MITOGEN_SERVICE_POLICY_PARENT,
  MITOGEN_SERVICE_POLICY_CHILD,
  MITOGEN_SERVICE_POLICY_CONTEXT,
  MITOGEN_SERVICE_POLICY_ANY,
} MitogenServicePolicy;

/**
 * MitogenServiceFunc:
 * @request: the `CALL_SERVICE` message (its `src_id` is the caller)
 * @args: the arguments, of the method's type
 * @user_data: the method's data
 * @error: return location for an error
 *
 * A service method, run on one of the pool's worker threads.
 *
 * Returns: (transfer full) (nullable): the result, %NULL with @error set
 *   on failure (a %NULL result with no error is `()`)
 */
typedef GVariant *(*MitogenServiceFunc) (MitogenMessage *request,
                                         GVariant *args,
                                         gpointer user_data,
                                         GError **error);

#define MITOGEN_TYPE_SERVICE_POOL (mitogen_service_pool_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (
    MitogenServicePool, mitogen_service_pool, MITOGEN, SERVICE_POOL, GObject)

/**
 * MitogenServiceActivator:
 * @pool: the pool
 * @service: the service name nobody registered yet
 * @user_data: the activator's data
 *
 * Called on a worker thread the first time a service is called that is
 * not registered: it may register it (from a function module it loads).
 *
 * Returns: %TRUE if @service is now registered
 */
typedef gboolean (*MitogenServiceActivator) (MitogenServicePool *pool,
                                             const gchar *service,
                                             gpointer user_data);

MITOGEN_AVAILABLE_IN_ALL
MitogenServicePool *mitogen_service_pool_get_default (MitogenRouter *router);
MITOGEN_AVAILABLE_IN_ALL
MitogenRouter *mitogen_service_pool_get_router (MitogenServicePool *self);
MITOGEN_AVAILABLE_IN_ALL
guint mitogen_service_pool_get_size (MitogenServicePool *self);
MITOGEN_AVAILABLE_IN_ALL
void mitogen_service_pool_set_size (MitogenServicePool *self, guint size);
MITOGEN_AVAILABLE_IN_ALL
void mitogen_service_pool_add_method (MitogenServicePool *self,
                                      const gchar *service,
                                      const gchar *method,
                                      const gchar *args_type,
                                      MitogenServicePolicy policy,
                                      guint32 context_id,
                                      MitogenServiceFunc func,
                                      gpointer user_data,
                                      GDestroyNotify destroy);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_service_pool_has_service (MitogenServicePool *self,
                                           const gchar *service);
MITOGEN_AVAILABLE_IN_ALL
void mitogen_service_pool_set_activator (MitogenServicePool *self,
                                         MitogenServiceActivator activator,
                                         gpointer user_data,
                                         GDestroyNotify destroy);

MITOGEN_AVAILABLE_IN_ALL
GVariant *mitogen_service_call (MitogenRouter *router,
                                guint32 dst_id,
                                const gchar *service,
                                const gchar *method,
                                GVariant *args,
                                GCancellable *cancellable,
                                GError **error);

G_END_DECLS
