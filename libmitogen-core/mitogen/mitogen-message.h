/* mitogen-message.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib-object.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

/**
 * MITOGEN_MESSAGE_MAGIC:
 *
 * The first two bytes of every frame.
 */
#define MITOGEN_MESSAGE_MAGIC 0x4d49

/**
 * MITOGEN_MESSAGE_HEADER_SIZE:
 *
 * Bytes in a frame header: magic, then `dst_id`, `src_id`, `auth_id`,
 * `handle`, `reply_to` and `length`, big-endian.
 */
#define MITOGEN_MESSAGE_HEADER_SIZE 26

/**
 * MITOGEN_MAX_MESSAGE_SIZE:
 *
 * The default largest frame body a stream accepts: 128 MiB.
 */
#define MITOGEN_MAX_MESSAGE_SIZE (128 * 1024 * 1024)

/**
 * MitogenHandle:
 * @MITOGEN_HANDLE_NONE: no handle: a message that needs no reply
 * @MITOGEN_HANDLE_GET_MODULE: a child asks for a module
 * @MITOGEN_HANDLE_CALL_FUNCTION: a call to run in the context
 * @MITOGEN_HANDLE_FORWARD_LOG: a log record travelling to the master
 * @MITOGEN_HANDLE_ADD_ROUTE: a new context is reachable through the sender
 * @MITOGEN_HANDLE_DEL_ROUTE: a context is gone
 * @MITOGEN_HANDLE_ALLOCATE_ID: a context asks the master for context ids
 * @MITOGEN_HANDLE_SHUTDOWN: the context should exit
 * @MITOGEN_HANDLE_LOAD_MODULE: a module's bytes, in reply to GET_MODULE
 * @MITOGEN_HANDLE_FORWARD_MODULE: a module an intermediate should pass on
 * @MITOGEN_HANDLE_DETACHING: a child leaves its parent's supervision
 * @MITOGEN_HANDLE_CALL_SERVICE: a call to a long-lived service
 * @MITOGEN_HANDLE_PING: a keepalive probe; a message with a `reply_to` is
 *   answered with an empty reply by every router
 * @MITOGEN_HANDLE_IS_DEAD: in `reply_to`, marks a message reporting that the
 *   destination is dead or unreachable
 * @MITOGEN_HANDLE_FIRST_DYNAMIC: the first handle mitogen_router_add_handler()
 *   allocates
 *
 * The well-known handles, with Mitogen's numbers.
 */
typedef enum {
  MITOGEN_HANDLE_NONE = 0,
  MITOGEN_HANDLE_GET_MODULE = 100,
  MITOGEN_HANDLE_CALL_FUNCTION = 101,
  MITOGEN_HANDLE_FORWARD_LOG = 102,
  MITOGEN_HANDLE_ADD_ROUTE = 103,
  MITOGEN_HANDLE_DEL_ROUTE = 104,
  MITOGEN_HANDLE_ALLOCATE_ID = 105,
  MITOGEN_HANDLE_SHUTDOWN = 106,
  MITOGEN_HANDLE_LOAD_MODULE = 107,
  MITOGEN_HANDLE_FORWARD_MODULE = 108,
  MITOGEN_HANDLE_DETACHING = 109,
  MITOGEN_HANDLE_CALL_SERVICE = 110,
  MITOGEN_HANDLE_PING = 111,
  MITOGEN_HANDLE_IS_DEAD = 999,
  MITOGEN_HANDLE_FIRST_DYNAMIC = 1000,
} MitogenHandle;

typedef struct _MitogenMessage MitogenMessage;

#define MITOGEN_TYPE_MESSAGE (mitogen_message_get_type ())
MITOGEN_AVAILABLE_IN_ALL
GType mitogen_message_get_type (void) G_GNUC_CONST;

MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_message_new            (guint32 dst_id,
                                                guint32 handle,
                                                GVariant *data);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_message_new_from_bytes (guint32 dst_id,
                                                guint32 handle,
                                                GBytes *data);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_message_new_dead       (guint32 dst_id,
                                                guint32 handle,
                                                const gchar *reason);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_message_ref            (MitogenMessage *self);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_message_unref          (MitogenMessage *self);

MITOGEN_AVAILABLE_IN_ALL
guint32  mitogen_message_get_dst_id    (const MitogenMessage *self);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_message_set_dst_id    (MitogenMessage *self, guint32 id);
MITOGEN_AVAILABLE_IN_ALL
guint32  mitogen_message_get_src_id    (const MitogenMessage *self);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_message_set_src_id    (MitogenMessage *self, guint32 id);
MITOGEN_AVAILABLE_IN_ALL
guint32  mitogen_message_get_auth_id   (const MitogenMessage *self);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_message_set_auth_id   (MitogenMessage *self, guint32 id);
MITOGEN_AVAILABLE_IN_ALL
guint32  mitogen_message_get_handle    (const MitogenMessage *self);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_message_set_handle    (MitogenMessage *self, guint32 handle);
MITOGEN_AVAILABLE_IN_ALL
guint32  mitogen_message_get_reply_to  (const MitogenMessage *self);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_message_set_reply_to  (MitogenMessage *self, guint32 handle);
MITOGEN_AVAILABLE_IN_ALL
GBytes  *mitogen_message_get_bytes     (const MitogenMessage *self);
MITOGEN_AVAILABLE_IN_ALL
gsize    mitogen_message_get_size      (const MitogenMessage *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_message_is_dead       (const MitogenMessage *self);
MITOGEN_AVAILABLE_IN_ALL
GVariant *mitogen_message_get_data     (const MitogenMessage *self,
                                        GError **error);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_message_encode_header (const MitogenMessage *self,
                                        guint8 *header);
MITOGEN_AVAILABLE_IN_ALL
GBytes  *mitogen_message_encode        (const MitogenMessage *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenMessage, mitogen_message_unref)

G_END_DECLS
