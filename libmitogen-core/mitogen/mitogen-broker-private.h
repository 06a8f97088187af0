/* mitogen-broker-private.h: what only the library's own files call
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>

#include "mitogen-broker.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL
void           mitogen_broker_pause_receive        (MitogenBroker *self,
                                                    MitogenBasicStream *stream);
G_GNUC_INTERNAL
void           mitogen_broker_resume_receive       (MitogenBroker *self,
                                                    MitogenBasicStream *stream);
G_GNUC_INTERNAL
void           mitogen_broker_hold                 (MitogenBroker *self);
G_GNUC_INTERNAL
void           mitogen_broker_release              (MitogenBroker *self);

G_GNUC_INTERNAL
GCancellable *mitogen_broker_get_shutdown_cancellable (MitogenBroker *self);

G_END_DECLS
