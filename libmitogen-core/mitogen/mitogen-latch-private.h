/* mitogen-latch-private.h: what MitogenSelect needs of a latch
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-latch.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL
gpointer mitogen_latch_claim_notify (MitogenLatch *self,
                                     MitogenLatchNotify notify,
                                     gpointer user_data);

G_END_DECLS
