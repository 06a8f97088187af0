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
 *   or for transports with an @is_prompt, mitogen_tty_create_child() when
 *   there is a password and mitogen_create_child_merged() otherwise
 * @handshake: runs the bootstrap over @fd: answer password prompts,
 *   upload the agent if the far side asks for it, send the agent @config,
 *   wait for it to be ready
 * @is_prompt: whether @output, all the child said so far, ends with a
 *   password prompt, which the handshake answers with
 *   #MitogenParentStream:password; %NULL for transports that never prompt
 * @check_output: looks at @text, the lines the child printed since the
 *   last check, for a reason to fail at once ("Permission denied") rather
 *   than at the connect timeout; sets @error and returns %TRUE if so
 * @uploads_agent: whether the agent is sent to the far side by default
 *   (#MitogenParentStream:upload-agent), as for transports that reach
 *   other hosts
 * @reaps_child: whether the child is this process's own, which the stream
 *   watches, reaps and, if its stream disconnects unasked, sends `SIGTERM`;
 *   %TRUE by default. Transports whose child another process starts and
 *   reaps (`fork`) set it to %FALSE: waiting for a pid that is not our
 *   child fails, and signalling it could hit a reused pid, so the stream
 *   leaves both to the transport
 * @dup_default_name: the context's name when none was given, saying where
 *   it is (`ssh.web1`, `sudo.root`); %NULL, the default, names it after
 *   its transport and pid (`local.4242`)
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
  gboolean (*is_prompt)        (MitogenParentStream *self,
                                GString *output);
  gboolean (*check_output)     (MitogenParentStream *self,
                                const gchar *text,
                                GError **error);

  gboolean reaps_child;
  gboolean uploads_agent;

  gchar *(*dup_default_name) (MitogenParentStream *self);

  /*< private >*/
  gpointer padding[3];
};

MITOGEN_AVAILABLE_IN_ALL
GPid         mitogen_parent_stream_get_pid       (MitogenParentStream *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean     mitogen_parent_stream_wait_exited   (MitogenParentStream *self,
                                                  gint64 timeout_usec,
                                                  GCancellable *cancellable,
                                                  GError **error);
MITOGEN_AVAILABLE_IN_ALL
gdouble      mitogen_parent_stream_get_connect_timeout (MitogenParentStream *self);
MITOGEN_AVAILABLE_IN_ALL
const gchar *mitogen_parent_stream_get_context_name (MitogenParentStream *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean     mitogen_parent_stream_get_debug     (MitogenParentStream *self);

MITOGEN_AVAILABLE_IN_ALL
const gchar *mitogen_parent_stream_get_password  (MitogenParentStream *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean     mitogen_parent_stream_get_upload_agent (MitogenParentStream *self);

MITOGEN_AVAILABLE_IN_ALL
gchar       *mitogen_parent_stream_get_agent_path (void);
MITOGEN_AVAILABLE_IN_ALL
gchar      **mitogen_parent_stream_get_agent_command (MitogenParentStream *self,
                                                      GError **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean     mitogen_parent_stream_get_detached  (MitogenParentStream *self);
MITOGEN_AVAILABLE_IN_ALL
void         mitogen_parent_stream_take_stderr   (MitogenParentStream *self,
                                                  int fd);
MITOGEN_AVAILABLE_IN_ALL
gboolean     mitogen_parent_stream_expect_marker (int fd,
                                                  const gchar *marker,
                                                  gint64 deadline,
                                                  GString *output,
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
