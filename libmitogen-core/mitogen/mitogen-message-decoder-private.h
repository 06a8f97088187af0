/* mitogen-message-decoder-private.h: what only the library's own files call
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-message-decoder.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL
gsize           mitogen_message_decoder_get_header_needed (MitogenMessageDecoder *self);

G_END_DECLS
