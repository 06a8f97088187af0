/* mitogen-external-context-private.h: what the fork server tells a child
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-external-context.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL
void
mitogen_external_context_set_log_writer_taken (MitogenExternalContext *self);

G_END_DECLS
