/* mitogen-call-chain.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-call-chain.h"

#include <unistd.h>

#include "mitogen-context-private.h"

/**
 * MitogenCallChain:
 *
 * A sequence of calls to one context that stops at its first error: once
 * a call of the chain fails, every later call of the chain fails with the
 * same error without running. Calls without replies
 * (mitogen_call_chain_call_no_reply()) can thus be pipelined, and the next
 * call that waits for a reply reports whatever went wrong before it.
 *
 * mitogen_call_chain_reset() starts a new chain, forgetting the failure.
 */
struct _MitogenCallChain {
  GObject parent_instance;

  MitogenContext *context;
  gchar *chain_id;
};

G_DEFINE_FINAL_TYPE (MitogenCallChain, mitogen_call_chain, G_TYPE_OBJECT)

static void
mitogen_call_chain_finalize (GObject *object)
{
  MitogenCallChain *self = MITOGEN_CALL_CHAIN (object);

  g_object_unref (self->context);
  g_free (self->chain_id);
  G_OBJECT_CLASS (mitogen_call_chain_parent_class)->finalize (object);
}

static void
mitogen_call_chain_class_init (MitogenCallChainClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_call_chain_finalize;
}

static void
mitogen_call_chain_init (MitogenCallChain *self)
{
}

/**
 * mitogen_call_chain_new:
 * @context: the context the calls go to
 *
 * Creates a chain of calls to @context: calls that run in order, where one
 * failing makes the later ones fail with %MITOGEN_CALL_ERROR_CHAIN_FAILED.
 *
 * Returns: (transfer full): a new chain
 */
MitogenCallChain *
mitogen_call_chain_new (MitogenContext *context)
{
  MitogenCallChain *self = g_object_new (MITOGEN_TYPE_CALL_CHAIN, NULL);

  self->context = g_object_ref (context);
  mitogen_call_chain_reset (self);
  return self;
}

/**
 * mitogen_call_chain_get_chain_id:
 * @self: a chain
 *
 * Returns the id the chain's calls carry.
 *
 * Returns: the id the chain's calls carry
 */
const gchar *
mitogen_call_chain_get_chain_id (MitogenCallChain *self)
{
  return self->chain_id;
}

/**
 * mitogen_call_chain_reset:
 * @self: a chain
 *
 * Starts a new chain: later calls run even if earlier ones failed.
 */
void
mitogen_call_chain_reset (MitogenCallChain *self)
{
  static gint counter;

  g_free (self->chain_id);
  /* Unique across the masters a context may serve. */
  self->chain_id = g_strdup_printf ("%s-%d-%d-%08x", g_get_host_name (),
                                    (int) getpid (),
                                    g_atomic_int_add (&counter, 1),
                                    g_random_int ());
}

/**
 * mitogen_call_chain_call:
 * @self: a chain
 * @function: `MODULE.FUNCTION`
 * @args: (nullable): the arguments; a floating reference is sunk
 * @cancellable: (nullable): stops the wait
 * @error: return location for an error
 *
 * Like mitogen_context_call(), as part of the chain.
 *
 * Returns: (transfer full) (nullable): the result
 */
GVariant *
mitogen_call_chain_call (MitogenCallChain *self,
                         const gchar *function,
                         GVariant *args,
                         GCancellable *cancellable,
                         GError **error)
{
  return mitogen_context_call_chained (self->context, self->chain_id, function,
                                       args, cancellable, error);
}

/**
 * mitogen_call_chain_call_async:
 * @self: a chain
 * @function: `MODULE.FUNCTION`
 * @args: (nullable): the arguments; a floating reference is sunk
 * @cancellable: (nullable): stops the wait
 * @callback: (scope async): called with the result
 * @user_data: (closure): data for @callback
 *
 * Like mitogen_context_call_async(), as part of the chain.
 */
void
mitogen_call_chain_call_async (MitogenCallChain *self,
                               const gchar *function,
                               GVariant *args,
                               GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data)
{
  mitogen_context_call_chained_async (self->context, self, self->chain_id,
                                      function, args, cancellable, callback,
                                      user_data);
}

/**
 * mitogen_call_chain_call_finish:
 * @self: a chain
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_call_chain_call_async().
 *
 * Returns: (transfer full) (nullable): the result
 */
GVariant *
mitogen_call_chain_call_finish (MitogenCallChain *self,
                                GAsyncResult *result,
                                GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mitogen_call_chain_call_no_reply:
 * @self: a chain
 * @function: `MODULE.FUNCTION`
 * @args: (nullable): the arguments; a floating reference is sunk
 *
 * Calls without waiting; a failure is reported by the chain's next call
 * that waits for a reply.
 */
void
mitogen_call_chain_call_no_reply (MitogenCallChain *self,
                                  const gchar *function,
                                  GVariant *args)
{
  mitogen_context_call_chained_no_reply (self->context, self->chain_id,
                                         function, args);
}
