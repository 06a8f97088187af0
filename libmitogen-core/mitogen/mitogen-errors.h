/* mitogen-errors.h: the error domains of libmitogen
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

/**
 * MitogenStreamError:
 * @MITOGEN_STREAM_ERROR_CLOSED: the side or stream was already closed
 * @MITOGEN_STREAM_ERROR_DISCONNECTED: the peer went away before the operation
 *   completed
 * @MITOGEN_STREAM_ERROR_PROTOCOL: the peer sent something that is not a valid
 *   frame (bad magic, oversized, unparsable data)
 * @MITOGEN_STREAM_ERROR_FAILED: an operating system call failed
 * @MITOGEN_STREAM_ERROR_CONNECT: a child could not be started or did not
 *   complete its bootstrap
 * @MITOGEN_STREAM_ERROR_SHUTDOWN: the broker shut down while a child was
 *   being connected
 *
 * Errors on streams and file descriptors.
 */
typedef enum {
  MITOGEN_STREAM_ERROR_CLOSED,
  MITOGEN_STREAM_ERROR_DISCONNECTED,
  MITOGEN_STREAM_ERROR_PROTOCOL,
  MITOGEN_STREAM_ERROR_FAILED,
  MITOGEN_STREAM_ERROR_CONNECT,
  MITOGEN_STREAM_ERROR_SHUTDOWN,
} MitogenStreamError;

/**
 * MitogenTimeoutError:
 * @MITOGEN_TIMEOUT_ERROR_TIMED_OUT: the deadline passed
 * @MITOGEN_TIMEOUT_ERROR_WOULD_BLOCK: a non-blocking operation had nothing
 *   to return
 *
 * A wait ended before it got what it waited for.
 */
typedef enum {
  MITOGEN_TIMEOUT_ERROR_TIMED_OUT,
  MITOGEN_TIMEOUT_ERROR_WOULD_BLOCK,
} MitogenTimeoutError;

/**
 * MitogenCallError:
 * @MITOGEN_CALL_ERROR_REMOTE: the called function failed in the remote
 *   context; the message carries its domain, code and text
 * @MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION: the module or function does not exist
 * @MITOGEN_CALL_ERROR_BAD_ARGUMENTS: the arguments do not match the
 *   function's signature
 * @MITOGEN_CALL_ERROR_REFUSED: the caller is not allowed to call here
 * @MITOGEN_CALL_ERROR_CHAIN_FAILED: an earlier call of the same chain failed
 * @MITOGEN_CALL_ERROR_TOO_LARGE: the result is larger than the router's
 *   max_message_size, so it cannot travel back to the caller
 *
 * Errors of remote function calls.
 */
typedef enum {
  MITOGEN_CALL_ERROR_REMOTE,
  MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
  MITOGEN_CALL_ERROR_BAD_ARGUMENTS,
  MITOGEN_CALL_ERROR_REFUSED,
  MITOGEN_CALL_ERROR_CHAIN_FAILED,
  MITOGEN_CALL_ERROR_TOO_LARGE,
} MitogenCallError;

/**
 * MitogenChannelError:
 * @MITOGEN_CHANNEL_ERROR_DEAD: the remote end is gone: the context died,
 *   its stream disconnected, or the message could not be routed
 * @MITOGEN_CHANNEL_ERROR_CLOSED: the channel was closed by its owner
 *
 * Errors of receivers, senders and channels.
 */
typedef enum {
  MITOGEN_CHANNEL_ERROR_DEAD,
  MITOGEN_CHANNEL_ERROR_CLOSED,
} MitogenChannelError;

/**
 * MitogenLatchError:
 * @MITOGEN_LATCH_ERROR_CLOSED: the latch was closed
 *
 * Errors of [class@Latch].
 */
typedef enum {
  MITOGEN_LATCH_ERROR_CLOSED,
} MitogenLatchError;

#define MITOGEN_STREAM_ERROR (mitogen_stream_error_quark ())
#define MITOGEN_TIMEOUT_ERROR (mitogen_timeout_error_quark ())
#define MITOGEN_CALL_ERROR (mitogen_call_error_quark ())
#define MITOGEN_CHANNEL_ERROR (mitogen_channel_error_quark ())
#define MITOGEN_LATCH_ERROR (mitogen_latch_error_quark ())

MITOGEN_AVAILABLE_IN_ALL
GQuark mitogen_stream_error_quark (void);
MITOGEN_AVAILABLE_IN_ALL
GQuark mitogen_timeout_error_quark (void);
MITOGEN_AVAILABLE_IN_ALL
GQuark mitogen_call_error_quark (void);
MITOGEN_AVAILABLE_IN_ALL
GQuark mitogen_channel_error_quark (void);
MITOGEN_AVAILABLE_IN_ALL
GQuark mitogen_latch_error_quark (void);

MITOGEN_AVAILABLE_IN_ALL
GError      *mitogen_call_error_new_remote          (const gchar *context_name,
                                                     const gchar *remote_domain,
                                                     gint remote_code,
                                                     const gchar *message);
MITOGEN_AVAILABLE_IN_ALL
const gchar *mitogen_call_error_get_remote_domain   (const GError *error);
MITOGEN_AVAILABLE_IN_ALL
gint         mitogen_call_error_get_remote_code     (const GError *error);
MITOGEN_AVAILABLE_IN_ALL
const gchar *mitogen_call_error_get_context_name    (const GError *error);

G_END_DECLS
