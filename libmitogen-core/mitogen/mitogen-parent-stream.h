/* mitogen-parent-stream.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-stream.h>

G_BEGIN_DECLS

/**
 * MITOGEN_CONNECT_TIMEOUT:
 *
 * The default time a child gets to complete its bootstrap, in seconds.
 */
#define MITOGEN_CONNECT_TIMEOUT 30.0

#define MITOGEN_TYPE_PARENT_STREAM (mitogen_parent_stream_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (MitogenParentStream, mitogen_parent_stream,
                          MITOGEN, PARENT_STREAM, MitogenStream)

/**
 * MitogenParentStreamClass:
 * @transport_name: the transport's name, the first part of default
 *   context names (`local.4242`)
 * @get_boot_command: the command line that starts the child; the default
 *   runs the agent directly
 * @create_child: starts the child; the default uses mitogen_create_child(),
 *   transports that answer prompts use mitogen_tty_create_child()
 * @handshake: runs the bootstrap over @fd: wait for the agent, send it
 *   @config, wait for it to be ready; transports that answer password
 *   prompts or upload the agent extend it
 * @reaps_child: whether the child is this process's own, which the stream
 *   watches, reaps and, if its stream disconnects unasked, sends `SIGTERM`;
 *   %TRUE by default. Transports whose child another process starts and
 *   reaps (`fork`) set it to %FALSE: waiting for a pid that is not our
 *   child fails, and signalling it could hit a reused pid, so the stream
 *   leaves both to the transport
 *
 * The class of streams to child contexts, one subclass per transport.
 */
struct _MitogenParentStreamClass {
  MitogenStreamClass parent_class;

  const gchar *transport_name;

  gchar  **(*get_boot_command) (MitogenParentStream *self,
                                GError **error);
  gboolean (*create_child)     (MitogenParentStream *self,
                                const gchar * const *argv,
                                GPid *out_pid,
                                int *out_fd,
                                GError **error);
  gboolean (*handshake)        (MitogenParentStream *self,
                                int fd,
                                GVariant *config,
                                gint64 deadline,
                                GError **error);

  gboolean reaps_child;

  /*< private >*/
  gpointer padding[7];
};

MITOGEN_AVAILABLE_IN_ALL
gboolean     mitogen_parent_stream_connect       (MitogenParentStream *self,
                                                  MitogenRouter *router,
                                                  guint32 context_id,
                                                  GVariant *config,
                                                  GCancellable *cancellable,
                                                  GError **error);
MITOGEN_AVAILABLE_IN_ALL
GPid         mitogen_parent_stream_get_pid       (MitogenParentStream *self);
MITOGEN_AVAILABLE_IN_ALL
gdouble      mitogen_parent_stream_get_connect_timeout (MitogenParentStream *self);
MITOGEN_AVAILABLE_IN_ALL
const gchar *mitogen_parent_stream_get_context_name (MitogenParentStream *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean     mitogen_parent_stream_get_debug     (MitogenParentStream *self);

MITOGEN_AVAILABLE_IN_ALL
gchar       *mitogen_parent_stream_get_agent_path (void);
MITOGEN_AVAILABLE_IN_ALL
gboolean     mitogen_parent_stream_expect_marker (int fd,
                                                  const gchar *marker,
                                                  gint64 deadline,
                                                  GString *output,
                                                  GError **error);
MITOGEN_AVAILABLE_IN_ALL
void         mitogen_parent_stream_quote_output  (const gchar *who,
                                                  GString *output,
                                                  GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean     mitogen_parent_stream_write_secret  (int fd,
                                                  const gchar *secret,
                                                  gint64 deadline,
                                                  GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean     mitogen_parent_stream_send_config   (int fd,
                                                  GVariant *config,
                                                  gint64 deadline,
                                                  GError **error);

/**
 * MITOGEN_BOOT_MARKER_STARTED:
 *
 * Written by the agent when it starts, before it reads its configuration.
 */
#define MITOGEN_BOOT_MARKER_STARTED "MITO001\n"

/**
 * MITOGEN_BOOT_MARKER_READY:
 *
 * Written by the agent once configured; frames follow.
 */
#define MITOGEN_BOOT_MARKER_READY "MITO002\n"

G_END_DECLS
