/* bench-reach: the cost of reaching another user and another host, each
 * figure beside a baseline measured in the same run.
 *
 *  - starting a context through sudo (as mitogen-test) and making its
 *    first call, beside `sudo -u mitogen-test true`;
 *  - the same through ssh to an sshd on 127.0.0.1 that the benchmark
 *    starts (MitogenTestSshd), beside `ssh … 127.0.0.1 true` with the
 *    options the transport gives ssh;
 *  - a core.getpid round trip over local, sudo and ssh contexts and
 *    across two-hop chains (local→local, ssh→sudo), beside the local one.
 *
 * Needs root (sshd, and sudo without a password); says so and exits 0
 * otherwise. Every figure is a median over per-sample timings; shutting
 * a context down is not timed.
 */
#include <mitogen/mitogen.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "mitogen-test-sshd.h"

#define SUDO_USER "mitogen-test"
#define WARMUP 100

static gint runs = 15;
static gint rounds = 2000;

static GOptionEntry entries[] = {
  { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "Context starts to take the median of", "N" },
  { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Round trips to take the median of", "N" },
  { NULL }
};

static double
now_us (void)
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

static double
median (double *samples,
        gsize n)
{
  qsort (samples, n, sizeof *samples, compare_doubles);
  return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

/* Run from the build tree by hand, the benchmark finds what meson's
 * environment would give it. */
static void
default_to_build_tree (void)
{
  g_setenv ("MITOGEN_TRANSPORT_PATH", MITOGEN_BUILD_TRANSPORTS, FALSE);
  g_setenv ("MITOGEN_PLUGIN_PATH", MITOGEN_BUILD_PLUGINS, FALSE);
  g_setenv ("MITOGEN_AGENT", MITOGEN_BUILD_AGENT, FALSE);
  g_setenv ("MITOGEN_BOOTSTRAP", MITOGEN_BUILD_BOOTSTRAP, FALSE);
}

static void
wait_gone (GPid pid)
{
  /* The far agent is on this machine: the next sample starts once it has
   * gone, not while it is still exiting. */
  for (guint i = 0; i < 20000 && !(kill (pid, 0) < 0 && errno == ESRCH); i++)
    g_usleep (100);
}

static double
time_command (const gchar * const *argv)
{
  g_autoptr(GError) error = NULL;
  double start = now_us ();
  gint status = -1;

  if (!g_spawn_sync (NULL, (gchar **) argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                       G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    g_error ("%s: %s", argv[0], error->message);
  return now_us () - start;
}

static GVariant *
sudo_options (void)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "username", "s", SUDO_USER);
  return g_variant_dict_end (&dict);
}

static MitogenContext *
connect_or_die (MitogenRouter *router,
                const gchar *transport,
                GVariant *options,
                MitogenContext *via)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_context_connect (router, transport, options, via,
                                                 NULL, &error);

  if (!ctx)
    g_error ("%s: %s", transport, error->message);
  return ctx;
}

static gint
call_getpid (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pid = mitogen_context_call (ctx, "core.getpid", NULL,
                                                  NULL, &error);

  if (!pid)
    g_error ("core.getpid: %s", error->message);
  return g_variant_get_int32 (pid);
}

static void
shutdown_and_wait (MitogenContext *ctx,
                   gint pid)
{
  g_autoptr(GError) error = NULL;

  if (!mitogen_context_shutdown (ctx, TRUE, NULL, &error))
    g_error ("shutdown: %s", error->message);
  wait_gone (pid);
}

/* Connect and first call, in µs. */
static double
time_start (MitogenRouter *router,
            const gchar *transport,
            GVariant *options)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink (options);
  g_autoptr(MitogenContext) ctx = NULL;
  double start = now_us (), took;
  gint pid;

  ctx = connect_or_die (router, transport, g_variant_ref (owned), NULL);
  pid = call_getpid (ctx);
  took = now_us () - start;
  shutdown_and_wait (ctx, pid);
  return took;
}

static double
round_trip (MitogenContext *ctx,
            double *samples)
{
  for (gint i = -WARMUP; i < rounds; i++)
    {
      double start = now_us ();

      call_getpid (ctx);
      if (i >= 0)
        samples[i] = now_us () - start;
    }
  return median (samples, (gsize) rounds);
}

/* `ssh … HOST true` with the arguments the transport gives ssh for
 * @options, but without the pseudo-terminal it runs ssh on. */
static gchar **
ssh_true_argv (MitogenTestSshd *sshd)
{
  g_autofree gchar *port = g_strdup_printf ("%u", mitogen_test_sshd_get_port (sshd));
  g_autofree gchar *known = g_strconcat ("UserKnownHostsFile=",
                                         mitogen_test_sshd_get_known_hosts (sshd),
                                         NULL);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  g_strv_builder_addv (b, (const gchar *[]) {
    "ssh", "-T", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=20", "-o", "StrictHostKeyChecking=accept-new",
    "-o", known, "-p", port, "-l", "root",
    "-i", mitogen_test_sshd_get_client_key (sshd), "-o", "IdentitiesOnly=yes",
    "-F", "/dev/null", mitogen_test_sshd_get_address (sshd), "--", "true", NULL });
  return g_strv_builder_end (b);
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) context =
    g_option_context_new ("- sudo and ssh contexts beside sudo and ssh themselves");
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenTestSshd) sshd = NULL;
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  g_autoptr(MitogenContext) local = NULL, sudo = NULL, ssh = NULL;
  g_autoptr(MitogenContext) hop = NULL, local_leaf = NULL;
  g_autoptr(MitogenContext) ssh_hop = NULL, sudo_leaf = NULL;
  g_autofree double *sudo_ctx = NULL, *sudo_true = NULL;
  g_autofree double *ssh_ctx = NULL, *ssh_true = NULL, *samples = NULL;
  g_autofree gchar *skip = NULL;
  g_auto(GStrv) ssh_argv = NULL;
  double rt_local, rt_sudo, rt_ssh, rt_local_local, rt_ssh_sudo;
  double m_sudo_ctx, m_sudo_true, m_ssh_ctx, m_ssh_true;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  runs = MAX (runs, 1);
  rounds = MAX (rounds, 1);

  default_to_build_tree ();
  if (!mitogen_test_sshd_can_run (&skip))
    {
      printf ("bench-reach: skipped: %s\n", skip);
      return 0;
    }
  if (!getpwnam (SUDO_USER))
    {
      printf ("bench-reach: skipped: no user %s; run scripts/setup-test-env\n",
              SUDO_USER);
      return 0;
    }
  sshd = mitogen_test_sshd_start (NULL, "127.0.0.1", NULL, &error);
  if (!sshd)
    g_error ("%s", error->message);
  ssh_argv = ssh_true_argv (sshd);

  sudo_ctx = g_new (double, runs);
  sudo_true = g_new (double, runs);
  ssh_ctx = g_new (double, runs);
  ssh_true = g_new (double, runs);
  samples = g_new (double, rounds);

  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);

  /* Warm up: load the transports, record the host key, read the core
   * module's bytes. */
  time_start (router, "sudo", sudo_options ());
  time_start (router, "ssh", mitogen_test_sshd_options (sshd, "root", "accept-new"));

  /* Interleaved, so that drift in the machine's load hits all four. */
  for (gint i = 0; i < runs; i++)
    {
      sudo_true[i] = time_command ((const gchar *[]) { "sudo", "-u", SUDO_USER,
                                                       "true", NULL });
      sudo_ctx[i] = time_start (router, "sudo", sudo_options ());
      ssh_true[i] = time_command ((const gchar * const *) ssh_argv);
      ssh_ctx[i] = time_start (router, "ssh",
                               mitogen_test_sshd_options (sshd, "root", "accept-new"));
    }

  local = connect_or_die (router, "local", NULL, NULL);
  sudo = connect_or_die (router, "sudo", sudo_options (), NULL);
  ssh = connect_or_die (router, "ssh",
                        mitogen_test_sshd_options (sshd, "root", "accept-new"), NULL);
  hop = connect_or_die (router, "local", NULL, NULL);
  local_leaf = connect_or_die (router, "local", NULL, hop);
  ssh_hop = connect_or_die (router, "ssh",
                            mitogen_test_sshd_options (sshd, "root", "accept-new"),
                            NULL);
  sudo_leaf = connect_or_die (router, "sudo", sudo_options (), ssh_hop);

  rt_local = round_trip (local, samples);
  rt_sudo = round_trip (sudo, samples);
  rt_ssh = round_trip (ssh, samples);
  rt_local_local = round_trip (local_leaf, samples);
  rt_ssh_sudo = round_trip (sudo_leaf, samples);

  m_sudo_true = median (sudo_true, (gsize) runs) / 1000.0;
  m_sudo_ctx = median (sudo_ctx, (gsize) runs) / 1000.0;
  m_ssh_true = median (ssh_true, (gsize) runs) / 1000.0;
  m_ssh_ctx = median (ssh_ctx, (gsize) runs) / 1000.0;

  printf ("start a context and make its first call (core.getpid), median of %d runs:\n",
          runs);
  printf ("  sudo -u %s true                 %8.2f ms\n", SUDO_USER, m_sudo_true);
  printf ("  sudo context                            %8.2f ms   (%.2fx sudo true)\n",
          m_sudo_ctx, m_sudo_ctx / m_sudo_true);
  printf ("  ssh 127.0.0.1 true, same options        %8.2f ms\n", m_ssh_true);
  printf ("  ssh context                             %8.2f ms   (%.2fx ssh true)\n",
          m_ssh_ctx, m_ssh_ctx / m_ssh_true);
  printf ("round trip of core.getpid, median of %d after %d warm-up:\n", rounds, WARMUP);
  printf ("  local                                   %8.2f us\n", rt_local);
  printf ("  sudo                                    %8.2f us   (%.2fx local)\n",
          rt_sudo, rt_sudo / rt_local);
  printf ("  ssh to 127.0.0.1                        %8.2f us   (%.2fx local)\n",
          rt_ssh, rt_ssh / rt_local);
  printf ("  local -> local (2 hops)                 %8.2f us   (%.2fx local)\n",
          rt_local_local, rt_local_local / rt_local);
  printf ("  ssh -> sudo (2 hops)                    %8.2f us   (%.2fx local)\n",
          rt_ssh_sudo, rt_ssh_sudo / rt_local);

  /* Leaves first: their hops pass the request on. */
  mitogen_context_shutdown (sudo_leaf, TRUE, NULL, NULL);
  mitogen_context_shutdown (local_leaf, TRUE, NULL, NULL);
  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  return 0;
}
