/* mitogen-parent-stream-private.h: what only the library's own files call
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include "mitogen-parent-stream.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL
gboolean     mitogen_parent_stream_connect       (MitogenParentStream *self,
                                                  MitogenRouter *router,
                                                  guint32 context_id,
                                                  GVariant *config,
                                                  GCancellable *cancellable,
                                                  GError **error);
G_GNUC_INTERNAL
void         mitogen_parent_stream_shutdown      (MitogenParentStream *self);
G_GNUC_INTERNAL
void         mitogen_parent_stream_ensure_detach_handler (MitogenRouter *router);
G_GNUC_INTERNAL
void         mitogen_parent_stream_quote_output  (const gchar *who,
                                                  GString *output,
                                                  GError **error);
G_GNUC_INTERNAL
gboolean     mitogen_parent_stream_write_secret  (int fd,
                                                  const gchar *secret,
                                                  gint64 deadline,
                                                  GError **error);
G_GNUC_INTERNAL
gboolean     mitogen_parent_stream_send_config   (int fd,
                                                  GVariant *config,
                                                  gint64 deadline,
                                                  GError **error);

G_END_DECLS
