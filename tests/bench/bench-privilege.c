/* bench-privilege: starting a context through su, sudo and doas (as root,
 * to mitogen-test, with no password) and making its first call, beside
 * `su USER -c true`, `sudo -u USER true` and `doas -u USER true`, all in
 * the same run, interleaved so that load falls on both alike. Goal: each
 * context within 1.2x of its program running `true`.
 *
 * Each figure is the median of per-sample timings; shutting a context
 * down is not timed. Needs root and the users and rules that
 * scripts/setup-test-env makes; says so and exits 0 otherwise.
 */
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include "bench-common.h"

#define TARGET_USER "mitogen-test"

static gint runs = 20;

static GOptionEntry entries[] = { { "runs", 'n', 0, G_OPTION_ARG_INT, &runs,
                                    "Samples to take the median of", "N" },
                                  { NULL } };

/* One program, its `true` and its transport. */
typedef struct
{
  const gchar *transport;
  const gchar *const *true_argv;
  double *ctx_us;
  double *true_us;
} Row;

/* Runs @argv to its end, in µs. */
static double
time_command (const gchar *const *argv)
{
  g_autoptr (GError) error = NULL;
  double start = bench_now_us ();
  gint status;

  if (!g_spawn_sync (NULL, (gchar **) argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                     NULL, NULL, NULL, &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    g_error ("%s: %s", argv[0], error->message);
  return bench_now_us () - start;
}

/* Connect and first call, in µs. */
static double
time_start (MitogenRouter *router, const gchar *transport)
{
  g_autoptr (MitogenContext) ctx = NULL;
  GVariantDict dict;
  double start = bench_now_us (), took;
  gint pid;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "username", "s", TARGET_USER);
  ctx = bench_connect (router, transport, g_variant_dict_end (&dict), NULL);
  pid = bench_call_getpid (ctx);
  took = bench_now_us () - start;
  bench_shutdown_and_wait (ctx, pid, 2000);
  return took;
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
  Row rows[] = {
    { "su", su_true, NULL, NULL },
    { "sudo", sudo_true, NULL, NULL },
    { "doas", doas_true, NULL, NULL },
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
      if (!can_run (rows[r].transport))
        continue;
      rows[r].ctx_us = g_new (double, runs);
      rows[r].true_us = g_new (double, runs);
      /* Warm up: load the transport, read the core module's bytes. */
      time_start (router, rows[r].transport);
      time_command (rows[r].true_argv);
    }
  for (gint i = 0; i < runs; i++)
    for (gsize r = 0; r < G_N_ELEMENTS (rows); r++)
      if (rows[r].ctx_us)
        {
          rows[r].true_us[i] = time_command (rows[r].true_argv);
          rows[r].ctx_us[i] = time_start (router, rows[r].transport);
        }

  printf ("bench-privilege: context start and first call, median of %d\n",
          runs);
  for (gsize r = 0; r < G_N_ELEMENTS (rows); r++)
    {
      double t, c;

      if (!rows[r].ctx_us)
        {
          printf ("  %-5s not installed: skipped\n", rows[r].transport);
          continue;
        }
      t = bench_median (rows[r].true_us, (gsize) runs) / 1000.0;
      c = bench_median (rows[r].ctx_us, (gsize) runs) / 1000.0;
      printf (
          "  %-5s true %8.2f ms   context %8.2f ms   (%.2fx, goal <= 1.20x)\n",
          rows[r].transport, t, c, c / t);
      g_free (rows[r].ctx_us);
      g_free (rows[r].true_us);
    }
  mitogen_broker_shutdown (broker);
  return 0;
}
