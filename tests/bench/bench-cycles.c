/* bench-cycles: what connecting, calling and shutting down contexts, one
 * after another, leaves behind in the master.
 *
 * The figure is the growth of the master's RSS over --cycles
 * connect/call/shutdown cycles, measured after a warm-up of --warmup
 * cycles so that the allocator's first growth is not counted. Beside it,
 * the baseline: the growth over as many calls to one context that stays,
 * which is what the calls themselves leave. Memory the allocator holds
 * but has freed is given back (malloc_trim()) before each reading, so
 * that what is left is what is still allocated, give or take the heap's
 * fragmentation. The target: no more than about 100 KB for
 * 10,000 cycles.
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "bench-common.h"

static gint cycles = 1000;
static gint warmup = 100;
static gint every = 0;
static gchar *transport = NULL;

static GOptionEntry entries[]
    = { { "cycles", 'n', 0, G_OPTION_ARG_INT, &cycles,
          "Connect/call/shutdown cycles to measure (the issue's figure is for "
          "10000)",
          "N" },
        { "warmup", 'w', 0, G_OPTION_ARG_INT, &warmup,
          "Cycles run first, not measured", "N" },
        { "every", 'e', 0, G_OPTION_ARG_INT, &every,
          "Also print the growth every N cycles", "N" },
        { "transport", 't', 0, G_OPTION_ARG_STRING, &transport,
          "The transport to start contexts with (default local)", "NAME" },
        { NULL } };

/* The master's resident set now, after giving back what malloc holds
 * free. */
static glong
rss_kib (void)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  malloc_trim (0);
  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    g_error ("cannot read /proc/self/status");
  line = strstr (status, "\nVmRSS:");
  if (!line)
    g_error ("no VmRSS in /proc/self/status");
  return (glong) g_ascii_strtoll (line + strlen ("\nVmRSS:"), NULL, 10);
}

static void
cycle (MitogenRouter *router)
{
  g_autoptr (MitogenContext) ctx
      = bench_connect (router, transport, NULL, NULL);
  gint32 pid = bench_call_getpid (ctx);

  bench_shutdown_and_wait (ctx, pid, 10000);
}

static void
run_cycles (MitogenRouter *router, gint n, glong start_kib, double start_us)
{
  for (gint i = 1; i <= n; i++)
    {
      cycle (router);
      if (every > 0 && i % every == 0)
        printf ("  after %6d cycles: %+7ld KiB  (%.1f ms a cycle)\n", i,
                rss_kib () - start_kib,
                (bench_now_us () - start_us) / i / 1000.0);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (MitogenBroker) broker = NULL;
  g_autoptr (MitogenRouter) router = NULL;
  g_autoptr (MitogenContext) stays = NULL;
  glong before, after, base_before, base_after;
  double start;

  /* Progress shows as it comes, piped or not. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (!bench_parse_options (&argc, &argv, "- RSS growth over context cycles",
                            entries))
    return 2;
  if (!transport)
    transport = g_strdup ("local");
  bench_default_to_build_tree ();
  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);

  for (gint i = 0; i < warmup; i++)
    cycle (router);

  /* Baseline: as many calls, to one context that stays. */
  stays = bench_connect (router, transport, NULL, NULL);
  bench_call_getpid (stays);
  base_before = rss_kib ();
  for (gint i = 0; i < cycles; i++)
    bench_call_getpid (stays);
  base_after = rss_kib ();
  bench_shutdown_and_wait (stays, bench_call_getpid (stays), 10000);
  g_clear_object (&stays);

  printf ("%d %s connect/call/shutdown cycles, after %d of warm-up:\n", cycles,
          transport, warmup);
  before = rss_kib ();
  start = bench_now_us ();
  run_cycles (router, cycles, before, start);
  after = rss_kib ();

  printf ("  master RSS growth over %6d cycles        %+7ld KiB  (%.1f ms a "
          "cycle; RSS %ld KiB)\n",
          cycles, after - before, (bench_now_us () - start) / cycles / 1000.0,
          after);
  printf ("  baseline: over %6d calls to one context  %+7ld KiB\n", cycles,
          base_after - base_before);
  printf ("  target: about 100 KB for 10000 cycles\n");

  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  g_free (transport);
  return 0;
}
