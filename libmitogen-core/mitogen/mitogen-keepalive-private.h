/* mitogen-keepalive-private.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-router.h"
#include "mitogen-stream.h"

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
G_GNUC_INTERNAL
G_DECLARE_FINAL_TYPE (MitogenKeepalive, mitogen_keepalive, MITOGEN, KEEPALIVE,
                      GObject)

G_GNUC_INTERNAL
MitogenKeepalive *mitogen_keepalive_new              (MitogenStream *stream,
                                                      GMainContext *context,
                                                      gdouble interval,
                                                      guint count);
G_GNUC_INTERNAL
void              mitogen_keepalive_stop             (MitogenKeepalive *self);
G_GNUC_INTERNAL
guint             mitogen_keepalive_get_pings_sent   (MitogenKeepalive *self);
G_GNUC_INTERNAL
void              mitogen_keepalive_install_responder (MitogenRouter *router);

G_END_DECLS
