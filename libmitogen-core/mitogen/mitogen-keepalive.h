/* mitogen-keepalive.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen-router.h>
#include <mitogen/mitogen-stream.h>

G_BEGIN_DECLS

/**
 * MITOGEN_KEEPALIVE_INTERVAL:
 *
 * The default seconds of silence after which a child is probed.
 */
#define MITOGEN_KEEPALIVE_INTERVAL 15.0

/**
 * MITOGEN_KEEPALIVE_COUNT:
 *
 * The default number of unanswered probes after which a child is dead.
 */
#define MITOGEN_KEEPALIVE_COUNT 3

#define MITOGEN_TYPE_KEEPALIVE (mitogen_keepalive_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenKeepalive, mitogen_keepalive, MITOGEN, KEEPALIVE,
                      GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenKeepalive *mitogen_keepalive_new              (MitogenStream *stream,
                                                      GMainContext *context,
                                                      gdouble interval,
                                                      guint count);
MITOGEN_AVAILABLE_IN_ALL
void              mitogen_keepalive_stop             (MitogenKeepalive *self);
MITOGEN_AVAILABLE_IN_ALL
guint             mitogen_keepalive_get_pings_sent   (MitogenKeepalive *self);
MITOGEN_AVAILABLE_IN_ALL
void              mitogen_keepalive_install_responder (MitogenRouter *router);

G_END_DECLS
