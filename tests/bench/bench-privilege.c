/* bench-privilege: starting a context through su, sudo and doas (as root,
 * to mitogen-test, with no password) and making its first call, beside
 * `su USER -c true`, `sudo -u USER true` and `doas -u USER true`, all in
 * the same run, interleaved so that load falls on both alike. Goal: each
 * context within 1.2x of its program running `true`.
 *
 * A local context beside spawning `true` comes first: what the agent
 * itself costs (exec, dynamic loading, the bootstrap, the first call
 * fetching the core module), which each privileged context pays on top
 * of its program's own work (su's and doas's PAM session, sudo's policy).
 *
 * Three figures a context: `start`, its connect and first call, the one
 * the goal is for; `life`, on to the shutdown and the exit of its program,
 * which closes its PAM session then, as `PROGRAM true` does within its
 * run; and `cpu life`, the CPU time of that life (this process's and its
 * children's, user and system) beside that of `PROGRAM true`, a figure
 * that other load on the machine hardly moves. Each sample waits for the
 * program's exit, so that a session's closing never lands on the next.
 *
 * Each figure is the median of per-sample timings, with the spread from
 * the 10th to the 90th percentile; the ratio is that of the medians and,
 * steadier on a loaded machine, the median of each run's own ratio (a
 * context and its baseline are timed back to back). Needs root and the users
 * and rules that scripts/setup-test-env makes; says so and exits 0 otherwise.
 */
#include <pwd.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench-common.h"

#define TARGET_USER "mitogen-test"

static gint runs = 20;

static GOptionEntry entries[] = { { "runs", 'n', 0, G_OPTION_ARG_INT, &runs,
                                    "Samples to take the median of", "N" },
                                  { NULL } };

/* Samples of one figure of one row. */
typedef struct
{
  double *ctx_us;
  double *ratio; /* each run's own, to its baseline */
} Figure;

/* One program, its `true` and its transport. */
typedef struct
{
  const gchar *transport;
  const gchar *const *true_argv;
  double *true_us;
  double *true_cpu_us;
  Figure start; /* connect and first call */
  Figure life;  /* and on to the shutdown and the program's exit */
  Figure cpu;   /* the CPU time of the life, beside that of `true` */
} Row;

/* CPU time, user and system, of this process and of the children it
 * reaped, with theirs: what a run costs, whatever else the machine runs. */
static double
cpu_now_us (void)
{
  struct rusage self, children;

  getrusage (RUSAGE_SELF, &self);
  getrusage (RUSAGE_CHILDREN, &children);
  return (double) (self.ru_utime.tv_sec + self.ru_stime.tv_sec
                   + children.ru_utime.tv_sec + children.ru_stime.tv_sec)
             * 1e6
         + (double) (self.ru_utime.tv_usec + self.ru_stime.tv_usec
                     + children.ru_utime.tv_usec + children.ru_stime.tv_usec);
}

/* The @q quantile of @samples, sorted. */
static double
quantile (const double *samples, gint n, double q)
{
  return samples[(gint) (q * (n - 1) + 0.5)];
}

static void
print_figure (
    Row *row, Figure *figure, const gchar *what, double true_ms, gboolean goal)
{
  double c = bench_median (figure->ctx_us, (gsize) runs) / 1000.0;
  double r = bench_median (figure->ratio, (gsize) runs);

  printf (
      "  %-5s %-8s %7.2f ms [%6.2f-%6.2f]   %.2fx (per run %.2fx "
      "[%.2f-%.2f])%s\n",
      row->transport, what, c, quantile (figure->ctx_us, runs, 0.1) / 1000.0,
      quantile (figure->ctx_us, runs, 0.9) / 1000.0, c / true_ms, r,
      quantile (figure->ratio, runs, 0.1), quantile (figure->ratio, runs, 0.9),
      goal && !g_str_equal (row->transport, "local") ? ", goal <= 1.20x" : "");
}

static void
print_row (Row *row)
{
  double t = bench_median (row->true_us, (gsize) runs) / 1000.0;

  printf ("  %-5s %-8s %7.2f ms [%6.2f-%6.2f]\n", row->transport, "true", t,
          quantile (row->true_us, runs, 0.1) / 1000.0,
          quantile (row->true_us, runs, 0.9) / 1000.0);
  print_figure (row, &row->start, "start", t, TRUE);
  print_figure (row, &row->life, "life", t, FALSE);
  t = bench_median (row->true_cpu_us, (gsize) runs) / 1000.0;
  printf ("  %-5s %-8s %7.2f ms [%6.2f-%6.2f]\n", row->transport, "cpu true", t,
          quantile (row->true_cpu_us, runs, 0.1) / 1000.0,
          quantile (row->true_cpu_us, runs, 0.9) / 1000.0);
  print_figure (row, &row->cpu, "cpu life", t, FALSE);
}

static void
figure_alloc (Figure *figure)
{
  figure->ctx_us = g_new (double, runs);
  figure->ratio = g_new (double, runs);
}

static void
figure_clear (Figure *figure)
{
  g_free (figure->ctx_us);
  g_free (figure->ratio);
}

/* Runs @argv to its end, in µs; its CPU time in *@cpu_us. */
static double
time_command (const gchar *const *argv, double *cpu_us)
{
  g_autoptr (GError) error = NULL;
  double cpu = cpu_now_us ();
  double start = bench_now_us ();
  gint status;

  if (!g_spawn_sync (NULL, (gchar **) argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                     NULL, NULL, NULL, &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    g_error ("%s: %s", argv[0], error->message);
  *cpu_us = cpu_now_us () - cpu;
  return bench_now_us () - start;
}

/* Connect and first call, in µs, in *@start_us; and on until the
 * context is shut down and its program (su, sudo, doas: the process this
 * one started) has exited, closing its PAM session, in *@life_us, the
 * counterpart of the whole run of `PROGRAM true`. */
static void
time_context (MitogenRouter *router,
              const gchar *transport,
              double *start_us,
              double *life_us,
              double *cpu_us)
{
  g_autoptr (MitogenContext) ctx = NULL;
  g_autoptr (MitogenStream) stream = NULL;
  g_autoptr (GError) error = NULL;
  GVariantDict dict;
  double cpu = cpu_now_us ();
  double start = bench_now_us ();
  gint pid;

  g_variant_dict_init (&dict, NULL);
  if (!g_str_equal (transport, "local"))
    g_variant_dict_insert (&dict, "username", "s", TARGET_USER);
  ctx = bench_connect (router, transport, g_variant_dict_end (&dict), NULL);
  pid = bench_call_getpid (ctx);
  *start_us = bench_now_us () - start;
  stream = g_object_ref (mitogen_context_get_stream (ctx));
  bench_shutdown_and_wait (ctx, pid, 2000);
  /* The program outlives the agent while it closes its session: that
   * work must not land on the next sample either. */
  if (!mitogen_parent_stream_wait_exited (MITOGEN_PARENT_STREAM (stream),
                                          5 * G_USEC_PER_SEC, NULL, &error))
    g_error ("%s did not exit: %s", transport, error->message);
  *life_us = bench_now_us () - start;
  *cpu_us = cpu_now_us () - cpu;
}

static gboolean
can_run (const gchar *program)
{
  g_autofree gchar *path = g_find_program_in_path (program);

  return path != NULL;
}

int
main (int argc, char **argv)
{
  g_autoptr (MitogenBroker) broker = NULL;
  g_autoptr (MitogenRouter) router = NULL;
  static const gchar *const su_true[]
      = { "su", TARGET_USER, "-c", "true", NULL };
  static const gchar *const sudo_true[]
      = { "sudo", "-u", TARGET_USER, "true", NULL };
  static const gchar *const doas_true[]
      = { "doas", "-u", TARGET_USER, "true", NULL };
  static const gchar *const local_true[] = { "true", NULL };
  Row rows[] = {
    { "local", local_true },
    { "su", su_true },
    { "sudo", sudo_true },
    { "doas", doas_true },
  };

  if (!bench_parse_options (&argc, &argv,
                            "- su, sudo and doas contexts beside the programs "
                            "themselves",
                            entries))
    return 2;
  runs = MAX (runs, 1);
  bench_default_to_build_tree ();
  if (getuid () != 0 || !getpwnam (TARGET_USER))
    {
      printf ("bench-privilege: skipped: needs root and the user %s "
              "(scripts/setup-test-env)\n",
              TARGET_USER);
      return 0;
    }

  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  for (gsize r = 0; r < G_N_ELEMENTS (rows); r++)
    {
      if (!can_run (rows[r].true_argv[0]))
        continue;
      rows[r].true_us = g_new (double, runs);
      figure_alloc (&rows[r].start);
      figure_alloc (&rows[r].life);
      rows[r].true_cpu_us = g_new (double, runs);
      figure_alloc (&rows[r].cpu);
      /* Warm up: load the transport, read the core module's bytes. */
      time_context (router, rows[r].transport, &rows[r].start.ctx_us[0],
                    &rows[r].life.ctx_us[0], &rows[r].cpu.ctx_us[0]);
      time_command (rows[r].true_argv, &rows[r].true_cpu_us[0]);
    }
  for (gint i = 0; i < runs; i++)
    for (gsize r = 0; r < G_N_ELEMENTS (rows); r++)
      if (rows[r].true_us)
        {
          Row *row = &rows[r];

          row->true_us[i] = time_command (row->true_argv, &row->true_cpu_us[i]);
          time_context (router, row->transport, &row->start.ctx_us[i],
                        &row->life.ctx_us[i], &row->cpu.ctx_us[i]);
          row->start.ratio[i] = row->start.ctx_us[i] / row->true_us[i];
          row->life.ratio[i] = row->life.ctx_us[i] / row->true_us[i];
          row->cpu.ratio[i] = row->cpu.ctx_us[i] / row->true_cpu_us[i];
        }

  printf (
      "bench-privilege: median of %d [10th-90th percentile] of the "
      "program running true, a context's start and first call (start), "
      "and on to its program's exit (life); the CPU time of that life, this "
      "process's and its children's, beside that of the program's run\n",
      runs);
  for (gsize r = 0; r < G_N_ELEMENTS (rows); r++)
    {
      if (!rows[r].true_us)
        {
          printf ("  %-5s not installed: skipped\n", rows[r].transport);
          continue;
        }
      print_row (&rows[r]);
      g_free (rows[r].true_us);
      figure_clear (&rows[r].start);
      figure_clear (&rows[r].life);
      g_free (rows[r].true_cpu_us);
      figure_clear (&rows[r].cpu);
    }
  /* Joined before the router is freed: the broker's shutdown still
   * reaches it (without, an exit that crashed now and then, losing the
   * figures still in stdout's buffer). */
  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  return 0;
}
