/* mitogen-errors.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-errors.h"

G_DEFINE_QUARK (mitogen-stream-error-quark, mitogen_stream_error)
G_DEFINE_QUARK (mitogen-timeout-error-quark, mitogen_timeout_error)
G_DEFINE_QUARK (mitogen-call-error-quark, mitogen_call_error)
G_DEFINE_QUARK (mitogen-channel-error-quark, mitogen_channel_error)
G_DEFINE_QUARK (mitogen-latch-error-quark, mitogen_latch_error)
