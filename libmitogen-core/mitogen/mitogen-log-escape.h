/* mitogen-log-escape.h: text from another context made safe to log
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

G_GNUC_INTERNAL
gchar *mitogen_log_escape (const gchar *text);

G_END_DECLS
