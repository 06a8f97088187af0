/* mitogen-log-limiter.h: one kind of log line that a peer could repeat
 * without bound, logged once, then as a count
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The default of mitogen_log_limiter_init(): at most two lines of a kind
 * in this time, however many messages a peer sends. */
#define MITOGEN_LOG_LIMITER_INTERVAL (10 * G_USEC_PER_SEC)

typedef struct
{
  GMutex lock;
  gint64 interval;
  gint64 window_start; /* when `first` was logged */
  gchar *first;        /* the line logged when this window opened, or NULL */
  guint suppressed;    /* lines not logged since */
} MitogenLogLimiter;

G_GNUC_INTERNAL
void mitogen_log_limiter_init (MitogenLogLimiter *self, gint64 interval);
G_GNUC_INTERNAL
void mitogen_log_limiter_clear (MitogenLogLimiter *self);
G_GNUC_INTERNAL
void mitogen_log_limiter_log (MitogenLogLimiter *self,
                              GLogLevelFlags level,
                              const gchar *format,
                              ...) G_GNUC_PRINTF (3, 4);

G_END_DECLS
