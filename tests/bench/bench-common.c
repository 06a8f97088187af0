/* bench-common.c: what every benchmark times with and takes medians of
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "bench-common.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Microseconds with sub-microsecond resolution: a socketpair round trip
 * is a few microseconds, too close to g_get_monotonic_time()'s grain. */
double
bench_now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Sorts @samples in place. */
double
bench_median (double *samples,
              gsize n)
{
  qsort (samples, n, sizeof *samples, compare_doubles);
  return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

/* FALSE, having said why, when the command line is wrong. */
gboolean
bench_parse_options (int *argc,
                     char ***argv,
                     const gchar *summary,
                     const GOptionEntry *entries)
{
  g_autoptr(GOptionContext) options = g_option_context_new (summary);
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, argc, argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return FALSE;
    }
  return TRUE;
}

/* Run directly from the build tree, a benchmark finds the agent, its
 * loader, the transports and the core module there; meson's env, when
 * given, wins. */
void
bench_default_to_build_tree (void)
{
  g_setenv ("MITOGEN_TRANSPORT_PATH", MITOGEN_BUILD_TRANSPORTS, FALSE);
  g_setenv ("MITOGEN_PLUGIN_PATH", MITOGEN_BUILD_PLUGINS, FALSE);
  g_setenv ("MITOGEN_AGENT", MITOGEN_BUILD_AGENT, FALSE);
  g_setenv ("MITOGEN_BOOTSTRAP", MITOGEN_BUILD_BOOTSTRAP, FALSE);
}

/* Raw I/O: also run in forked echo children, so it stays
 * async-signal-safe and leaves errors to the caller. One loop for both
 * directions, so that reading and writing cannot drift apart. */
static gboolean
transfer_exactly (int fd,
                  guint8 *buf,
                  gsize len,
                  gboolean writing)
{
  gsize done = 0;

  while (done < len)
    {
      gssize n = writing ? write (fd, buf + done, len - done)
                         : read (fd, buf + done, len - done);
      if (n <= 0)
        return FALSE;
      done += (gsize) n;
    }
  return TRUE;
}

gboolean
bench_read_exactly (int fd,
                    guint8 *buf,
                    gsize len)
{
  return transfer_exactly (fd, buf, len, FALSE);
}

gboolean
bench_write_exactly (int fd,
                     const guint8 *buf,
                     gsize len)
{
  /* Only written from: the cast is for the shared loop. */
  return transfer_exactly (fd, (guint8 *) buf, len, TRUE);
}

/* The raw copy baseline: @total bytes to a mitogen-test-peer in its
 * --raw-bulk phase, which reads them @chunk_size at a time, as the
 * library's stream reads a body, and answers one byte once it has them
 * all. The writer hands the kernel what the library's stream hands it at
 * most (a writev() of up to 62 queued frames) in one plain write(), so
 * that the copy is the upper bound of the same socketpair with the same
 * buffers, not a copy making more system calls than the library does.
 * Returns MiB/s. */
#define RAW_BATCH_FRAMES 62

double
bench_raw_bulk (int fd,
                gint64 total,
                gsize chunk_size)
{
  gsize batch = chunk_size * RAW_BATCH_FRAMES;
  g_autofree guint8 *buf = g_malloc0 (batch);
  gint64 start = g_get_monotonic_time ();
  guint8 ack;

  for (gint64 sent = 0; sent < total;)
    {
      gsize n = (gsize) MIN ((gint64) batch, total - sent);

      if (!bench_write_exactly (fd, buf, n))
        g_error ("raw write failed");
      sent += (gint64) n;
    }
  if (!bench_read_exactly (fd, &ack, 1))
    g_error ("raw read failed");
  return (double) total / (1024.0 * 1024.0) /
         ((double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
}

MitogenContext *
bench_connect (MitogenRouter *router,
               const gchar *transport,
               GVariant *options,
               MitogenContext *via)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_connect_context (
      router, transport, options, via, NULL, &error);

  if (!ctx)
    g_error ("%s: %s", transport, error->message);
  return ctx;
}

gint32
bench_call_getpid (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pid = mitogen_context_call (ctx, "core.getpid", NULL,
                                                  NULL, &error);

  if (!pid)
    g_error ("core.getpid: %s", error->message);
  return g_variant_get_int32 (pid);
}

/* Not timed. The agent is on this machine, whoever reaped it: the next
 * sample starts once it has gone, not while it is still exiting. */
void
bench_shutdown_and_wait (MitogenContext *ctx,
                         GPid pid,
                         guint timeout_ms)
{
  g_autoptr(GError) error = NULL;

  if (!mitogen_context_shutdown (ctx, TRUE, NULL, &error))
    g_error ("shutdown: %s", error->message);
  for (guint i = 0; i < timeout_ms * 10; i++)
    {
      if (kill (pid, 0) < 0 && errno == ESRCH)
        break;
      g_usleep (100);
    }
}

/* The median core.getpid round trip, after @warmup untimed ones; uses
 * @rounds entries of @samples. */
double
bench_round_trip (MitogenContext *ctx,
                  double *samples,
                  gint rounds,
                  gint warmup)
{
  for (gint i = -warmup; i < rounds; i++)
    {
      double start = bench_now_us ();

      bench_call_getpid (ctx);
      if (i >= 0)
        samples[i] = bench_now_us () - start;
    }
  return bench_median (samples, (gsize) rounds);
}
