/* bench-fork: starting a fork context and making its first call, beside a
 * local context's start and first call and a bare fork()+_exit()+waitpid(),
 * all measured in the same run. Goal: a fork context in under a third of
 * a local context's time.
 *
 * Each figure is the median of per-sample timings; shutting a context
 * down is not timed.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"

static gint runs = 30;

static GOptionEntry entries[] = {
  { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "Samples to take the median of", "N" },
  { NULL }
};

static double
bare_fork (void)
{
  gint64 start = g_get_monotonic_time ();
  pid_t pid = fork ();
  int status;

  if (pid == 0)
    _exit (0);
  if (pid < 0)
    g_error ("fork: %s", g_strerror (errno));
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return (double) (g_get_monotonic_time () - start);
}

static double
start_and_call (MitogenRouter *router,
                const gchar *transport)
{
  g_autoptr(MitogenContext) ctx = NULL;
  gint64 start = g_get_monotonic_time ();
  double took;
  gint32 pid;

  ctx = bench_connect (router, transport, NULL, NULL);
  pid = bench_call_getpid (ctx);
  took = (double) (g_get_monotonic_time () - start);

  /* A local child is reaped by the library, a fork child by the fork
   * server; either way the next sample starts on a quiet machine. */
  bench_shutdown_and_wait (ctx, pid, 1000);
  return took;
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  g_autofree double *forked = NULL, *local = NULL, *bare = NULL;
  double fork_ms, local_ms, bare_ms;

  /* First, while this process has a single thread. */
  if (!mitogen_fork_server_start (&error))
    g_error ("%s", error->message);

  if (!bench_parse_options (&argc, &argv,
                            "- fork context start beside local context start",
                            entries))
    return 2;
  runs = MAX (runs, 1);
  forked = g_new (double, runs);
  local = g_new (double, runs);
  bare = g_new (double, runs);

  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);

  /* Warm up: load both transports and the core module's bytes. */
  start_and_call (router, "fork");
  start_and_call (router, "local");

  /* Interleaved, so that drift in the machine's load hits all three. */
  for (gint i = 0; i < runs; i++)
    {
      forked[i] = start_and_call (router, "fork");
      local[i] = start_and_call (router, "local");
      bare[i] = bare_fork ();
    }

  fork_ms = bench_median (forked, (gsize) runs) / 1000.0;
  local_ms = bench_median (local, (gsize) runs) / 1000.0;
  bare_ms = bench_median (bare, (gsize) runs) / 1000.0;
  printf ("start a context and make its first call, median of %d runs:\n", runs);
  printf ("  bare fork()+_exit()+waitpid()   %8.3f ms\n", bare_ms);
  printf ("  local context                   %8.3f ms\n", local_ms);
  printf ("  fork context                    %8.3f ms   (%.2fx local, goal < 0.33x; "
          "%.1fx a bare fork)\n", fork_ms, fork_ms / local_ms, fork_ms / bare_ms);

  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  mitogen_fork_server_stop ();
  return 0;
}
