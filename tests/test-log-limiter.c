/* The log limiter on its own, compiled in from the library's sources: a
 * first line, then silence and a count once its interval has passed. */
#include "config.h"

#include "mitogen-log-limiter.h"

#include <string.h>

static GPtrArray *lines;

static void
keep_line (const gchar *domain,
           GLogLevelFlags level,
           const gchar *message,
           gpointer user_data)
{
  g_ptr_array_add (lines, g_strdup (message));
}

static void
wait_past (gint64 when)
{
  /* The interval is the condition: this waits for it, not for a guess. */
  while (g_get_monotonic_time () <= when)
    g_usleep (1000);
}

static void
test_first_then_count (void)
{
  const gint64 interval = G_USEC_PER_SEC / 2;
  MitogenLogLimiter limiter;
  gint64 start;
  guint handler
      = g_log_set_handler (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, keep_line, NULL);

  lines = g_ptr_array_new_with_free_func (g_free);
  mitogen_log_limiter_init (&limiter, interval);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < 4096; i++)
    mitogen_log_limiter_log (&limiter, G_LOG_LEVEL_MESSAGE, "dropped %u", i);
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_cmpstr (lines->pdata[0], ==, "dropped 0");

  /* Unless the loop took the whole interval, the rest were counted. */
  if (g_get_monotonic_time () - start < interval)
    {
      wait_past (start + interval);
      mitogen_log_limiter_log (&limiter, G_LOG_LEVEL_MESSAGE, "dropped again");
      g_assert_cmpuint (lines->len, ==, 3);
      g_assert_true (g_str_has_prefix (lines->pdata[1],
                                       "dropped 0: 4095 more "
                                       "like this in the last "));
      g_assert_cmpstr (lines->pdata[2], ==, "dropped again");

      /* The end of the limiter says what it still held back. */
      mitogen_log_limiter_log (&limiter, G_LOG_LEVEL_MESSAGE, "held back");
      mitogen_log_limiter_clear (&limiter);
      g_assert_cmpuint (lines->len, ==, 4);
      g_assert_true (
          g_str_has_prefix (lines->pdata[3], "dropped again: 1 more"));
    }
  else
    mitogen_log_limiter_clear (&limiter);

  g_log_remove_handler (G_LOG_DOMAIN, handler);
  g_ptr_array_unref (lines);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log-limiter/first-then-count", test_first_then_count);
  return g_test_run ();
}
