/* mitogen-broker.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib-object.h>
#include <mitogen/mitogen-basic-stream.h>
#include <mitogen/mitogen-types.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

/**
 * MITOGEN_BROKER_SHUTDOWN_TIMEOUT:
 *
 * The default grace period, in microseconds, that
 * mitogen_broker_shutdown() gives streams before it disconnects them.
 */
#define MITOGEN_BROKER_SHUTDOWN_TIMEOUT (3 * G_USEC_PER_SEC)

/**
 * MITOGEN_BROKER_EXIT_DELAY:
 *
 * Microseconds a child process that was asked to exit, and closed its
 * link, gets to finish exiting before it is sent `SIGTERM`.
 */
#define MITOGEN_BROKER_EXIT_DELAY (G_USEC_PER_SEC / 2)

/**
 * MITOGEN_BROKER_KILL_DELAY:
 *
 * Microseconds between the `SIGTERM` and the `SIGKILL` sent to a child
 * process whose link is gone.
 */
#define MITOGEN_BROKER_KILL_DELAY G_USEC_PER_SEC

/**
 * MITOGEN_BROKER_KILL_BOUND:
 *
 * The most time, in microseconds, from a child's link ending to its
 * `SIGKILL`.
 */
#define MITOGEN_BROKER_KILL_BOUND (MITOGEN_BROKER_EXIT_DELAY + MITOGEN_BROKER_KILL_DELAY)

/**
 * MitogenDeferFunc:
 * @user_data: the data given to mitogen_broker_defer()
 *
 * Work run on the broker thread.
 */
typedef void (*MitogenDeferFunc) (gpointer user_data);

#define MITOGEN_TYPE_BROKER (mitogen_broker_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenBroker, mitogen_broker, MITOGEN, BROKER, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenBroker *mitogen_broker_new                  (void);
MITOGEN_AVAILABLE_IN_ALL
GMainContext  *mitogen_broker_get_context          (MitogenBroker *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_broker_is_broker_thread     (MitogenBroker *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_broker_is_alive             (MitogenBroker *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_broker_defer                (MitogenBroker *self,
                                                    MitogenDeferFunc func,
                                                    gpointer user_data,
                                                    GDestroyNotify destroy);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_broker_start_receive        (MitogenBroker *self,
                                                    MitogenBasicStream *stream);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_broker_stop_receive         (MitogenBroker *self,
                                                    MitogenBasicStream *stream);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_broker_start_transmit       (MitogenBroker *self,
                                                    MitogenBasicStream *stream);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_broker_stop_transmit        (MitogenBroker *self,
                                                    MitogenBasicStream *stream);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_broker_keep_alive           (MitogenBroker *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_broker_set_shutdown_timeout (MitogenBroker *self,
                                                    gint64 timeout_usec);
MITOGEN_AVAILABLE_IN_ALL
gint64         mitogen_broker_get_shutdown_timeout (MitogenBroker *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_broker_shutdown             (MitogenBroker *self);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_broker_join                 (MitogenBroker *self);

G_END_DECLS
