/* mitogen-test-util.h: what the GTest suites share: a master (a broker and
 * its router), connecting and calling with the error asserted away, and
 * deadlines for blocking calls.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen.h>

G_BEGIN_DECLS

/* The suite's one multiplier for every deadline and timeout a test sets:
 * the number in the environment variable MITOGEN_TEST_TIMEOUT_MULTIPLIER
 * (scripts/test sets it for the sanitizer and valgrind runs and under its
 * CPU hog), 1 when unset or not a number >= 1. Figures written in a test
 * are for an idle machine; the multiplier stretches them for a busy or an
 * instrumented one, so that no test depends on the machine being idle. */
gdouble mitogen_test_timeout_multiplier (void);
/* @usec times the multiplier. */
gint64 mitogen_test_scaled (gint64 usec);
/* @seconds times the multiplier: for options such as `connect-timeout`. */
gdouble mitogen_test_scaled_seconds (gdouble seconds);
/* The monotonic time mitogen_test_scaled (@usec) from now. */
gint64 mitogen_test_deadline_at (gint64 usec);

/* Long enough never to be hit by a working implementation, short enough
 * that a broken one fails instead of hanging the suite: 20 s on an idle
 * machine, scaled by the multiplier. */
#define MITOGEN_TEST_WAIT (mitogen_test_scaled (20 * G_USEC_PER_SEC))

/* The connect timeout the tests give every connection that does not set
 * its own: the library's default (MITOGEN_CONNECT_TIMEOUT), scaled. */
#define MITOGEN_TEST_CONNECT_TIMEOUT                                           \
  (mitogen_test_scaled_seconds (MITOGEN_CONNECT_TIMEOUT))

/* @options (an `a{sv}`, or %NULL for none) with `connect-timeout` set to
 * MITOGEN_TEST_CONNECT_TIMEOUT when it has none. Consumes a floating
 * @options; returns a floating `a{sv}`, for mitogen_router_connect_context().
 */
GVariant *mitogen_test_connect_options (GVariant *options);

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
 * it succeeded and the context is connected. @options go through
 * mitogen_test_connect_options(), so the connect timeout is scaled. */
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

/* @usec is how long, already scaled: MITOGEN_TEST_WAIT, or
 * mitogen_test_scaled (figure). */
MitogenTestDeadline *mitogen_test_deadline_new  (gint64 usec);
void                 mitogen_test_deadline_free (MitogenTestDeadline *deadline);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenTestDeadline, mitogen_test_deadline_free)

/* Calls @function, which must succeed within MITOGEN_TEST_WAIT. */
GVariant       *mitogen_test_call_ok        (MitogenContext *ctx,
                                             const gchar *function,
                                             GVariant *args);
/* core.getpid in @ctx, within MITOGEN_TEST_WAIT. */
gint32          mitogen_test_remote_pid     (MitogenContext *ctx);
/* core.read_file of @path in @ctx, as a string, within MITOGEN_TEST_WAIT. */
gchar          *mitogen_test_read_remote    (MitogenContext *ctx,
                                             const gchar *path);
/* Shuts @ctx down, waiting for it, within MITOGEN_TEST_WAIT. */
void            mitogen_test_shutdown_ok    (MitogenContext *ctx);
/* Returns once what the broker thread was running when called has run, and
 * anything it deferred before: a route-removed signal's whole handling. */
void mitogen_test_broker_idle (MitogenBroker *broker);

/* Running, as opposed to gone or a zombie nobody reaped yet. */
gboolean        mitogen_test_process_running (GPid pid);

G_END_DECLS
