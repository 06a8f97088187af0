/* mitogen-log-limiter.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-log-limiter.h"

/*
 * MitogenLogLimiter:
 *
 * What a peer can make this process log once per message it sends (a
 * dropped forgery, a refused request) it could make it log thousands of
 * times a second. A limiter logs the first line of its kind, then keeps
 * quiet for its interval, counting; the next line after that is preceded
 * by the count ("…: 4095 more like this in the last 10 s"), and so is the
 * limiter's end, so that nothing is dropped unsaid.
 */

/*
 * mitogen_log_limiter_init:
 * @self: a limiter
 * @interval: how long, in microseconds, after a line the lines of its kind
 *   are only counted
 */
void
mitogen_log_limiter_init (MitogenLogLimiter *self, gint64 interval)
{
  g_mutex_init (&self->lock);
  self->interval = interval;
  self->window_start = 0;
  self->first = NULL;
  self->suppressed = 0;
}

static void
log_count (GLogLevelFlags level,
           const gchar *first,
           guint suppressed,
           gint64 span)
{
  gint64 seconds = (span + G_USEC_PER_SEC / 2) / G_USEC_PER_SEC;

  if (suppressed > 0)
    g_log (G_LOG_DOMAIN, level,
           "%s: %u more like this in the last %" G_GINT64_FORMAT " s", first,
           suppressed, MAX (seconds, 1));
}

/*
 * mitogen_log_limiter_clear:
 * @self: a limiter
 *
 * Logs the count of lines not logged yet, at %G_LOG_LEVEL_MESSAGE, and
 * frees what @self holds.
 */
void
mitogen_log_limiter_clear (MitogenLogLimiter *self)
{
  log_count (G_LOG_LEVEL_MESSAGE, self->first, self->suppressed,
             g_get_monotonic_time () - self->window_start);
  g_clear_pointer (&self->first, g_free);
  g_mutex_clear (&self->lock);
}

/*
 * mitogen_log_limiter_log:
 * @self: a limiter
 * @level: the level to log at
 * @format: printf() format of the line
 * @...: its arguments
 *
 * Logs the line in %G_LOG_DOMAIN unless a line of @self was logged less
 * than its interval ago, in which case it is only counted. Callable from
 * any thread.
 */
void
mitogen_log_limiter_log (MitogenLogLimiter *self,
                         GLogLevelFlags level,
                         const gchar *format,
                         ...)
{
  g_autofree gchar *previous = NULL;
  g_autofree gchar *line = NULL;
  gint64 now = g_get_monotonic_time ();
  gint64 span;
  guint suppressed;
  va_list args;

  g_mutex_lock (&self->lock);
  if (self->first && now - self->window_start < self->interval)
    {
      /* Counted, not formatted: a flood costs no more than that. */
      if (self->suppressed < G_MAXUINT)
        self->suppressed++;
      g_mutex_unlock (&self->lock);
      return;
    }
  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  previous = g_steal_pointer (&self->first);
  suppressed = self->suppressed;
  span = now - self->window_start;
  self->first = g_strdup (line);
  self->window_start = now;
  self->suppressed = 0;
  g_mutex_unlock (&self->lock);

  log_count (level, previous, suppressed, span);
  g_log (G_LOG_DOMAIN, level, "%s", line);
}
