/* mitogen-test-util.h: what the GTest suites share: a master (a broker and
 * its router), connecting and calling with the error asserted away, and
 * deadlines for blocking calls.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen.h>

G_BEGIN_DECLS

/* Long enough never to be hit by a working implementation, short enough
 * that a broken one fails instead of hanging the suite. */
#define MITOGEN_TEST_WAIT (20 * G_USEC_PER_SEC)

/* A master: a new broker and a router on it. */
void            mitogen_test_master_new     (MitogenBroker **broker,
                                             MitogenRouter **router);
/* Shuts @ctx down (not waiting on errors) when not %NULL, then stops
 * @broker and joins its thread. */
void            mitogen_test_master_stop    (MitogenBroker *broker,
                                             MitogenContext *ctx);
/* Drops the master's references, the router's first. */
void            mitogen_test_master_clear   (MitogenBroker **broker,
                                             MitogenRouter **router);

/* Connects through @transport (via @via when not %NULL), asserting that
 * it succeeded and the context is connected. */
MitogenContext *mitogen_test_connect        (MitogenRouter *router,
                                             const gchar *transport,
                                             GVariant *options,
                                             MitogenContext *via);
/* Calls @function, asserting that it succeeded and returned an int32. */
gint32          mitogen_test_call_int       (MitogenContext *ctx,
                                             const gchar *function,
                                             GVariant *args);
/* core.getpid in @ctx. */
gint32          mitogen_test_getpid         (MitogenContext *ctx);

/* A cancellable that a timer thread cancels once its time has passed, so
 * that a call that never returns fails the test instead of hanging it. */
typedef struct {
  GCancellable *cancellable;
  GSource *source;
} MitogenTestDeadline;

MitogenTestDeadline *mitogen_test_deadline_new  (gint64 usec);
void                 mitogen_test_deadline_free (MitogenTestDeadline *deadline);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenTestDeadline, mitogen_test_deadline_free)

/* Calls @function, which must succeed within MITOGEN_TEST_WAIT. */
GVariant       *mitogen_test_call_ok        (MitogenContext *ctx,
                                             const gchar *function,
                                             GVariant *args);
/* core.getpid in @ctx, within MITOGEN_TEST_WAIT. */
gint32          mitogen_test_remote_pid     (MitogenContext *ctx);
/* Shuts @ctx down, waiting for it, within MITOGEN_TEST_WAIT. */
void            mitogen_test_shutdown_ok    (MitogenContext *ctx);

/* Running, as opposed to gone or a zombie nobody reaped yet. */
gboolean        mitogen_test_process_running (GPid pid);

G_END_DECLS
