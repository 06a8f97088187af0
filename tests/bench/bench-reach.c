/* bench-reach: the cost of reaching another user and another host, each
 * figure beside a baseline measured in the same run.
 *
 *  - starting a context through sudo (as mitogen-test) and making its
 *    first call, beside `sudo -u mitogen-test true`;
 *  - the same through ssh to an sshd on 127.0.0.1 that the benchmark
 *    starts (MitogenTestSshd), beside `ssh … 127.0.0.1 true` with the
 *    options the transport gives ssh; and once more with the agent bundle
 *    not yet cached on the far side, so that it is uploaded (zero
 *    install), over fewer runs as each one writes the whole bundle;
 *  - a core.getpid round trip over local, sudo and ssh contexts and
 *    across two-hop chains (local→local, ssh→sudo), beside the local one.
 *
 * Needs root (sshd, and sudo without a password); says so and exits 0
 * otherwise. Every figure is a median over per-sample timings; shutting
 * a context down is not timed.
 */
#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include "bench-common.h"
#include "mitogen-test-sshd.h"

#define SUDO_USER "mitogen-test"
#define SSH_USER "root"
#define WARMUP 100

static gint runs = 15;
static gint uncached_runs = 5;
static gint rounds = 2000;

static GOptionEntry entries[] = {
  { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "Context starts to take the median of", "N" },
  { "uncached-runs", 'u', 0, G_OPTION_ARG_INT, &uncached_runs,
    "Uploading ssh context starts to take the median of", "N" },
  { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Round trips to take the median of", "N" },
  { NULL }
};

static double
time_command (const gchar * const *argv)
{
  g_autoptr(GError) error = NULL;
  double start = bench_now_us ();
  gint status = -1;

  if (!g_spawn_sync (NULL, (gchar **) argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                       G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    g_error ("%s: %s", argv[0], error->message);
  return bench_now_us () - start;
}

static GVariant *
sudo_options (void)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "username", "s", SUDO_USER);
  return g_variant_dict_end (&dict);
}

static GVariant *
ssh_options (MitogenTestSshd *sshd)
{
  return mitogen_test_sshd_options (sshd, SSH_USER, "accept-new");
}

/* Connect and first call, in µs. */
static double
time_start (MitogenRouter *router,
            const gchar *transport,
            GVariant *options)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink (options);
  g_autoptr(MitogenContext) ctx = NULL;
  double start = bench_now_us (), took;
  gint pid;

  ctx = bench_connect (router, transport, g_variant_ref (owned), NULL);
  pid = bench_call_getpid (ctx);
  took = bench_now_us () - start;
  bench_shutdown_and_wait (ctx, pid, 2000);
  return took;
}

/* Where the far side caches @bundle: the login's home as sshd sets it,
 * from the password database rather than this process's $HOME. */
static gchar *
far_cache_dir (MitogenAgentBundle *bundle)
{
  struct passwd *pw = getpwnam (SSH_USER);

  if (!pw)
    g_error ("no user %s", SSH_USER);
  return g_build_filename (pw->pw_dir, ".cache", "mitogen",
                           mitogen_agent_bundle_get_hash (bundle), NULL);
}

static int
remove_entry (const char *path,
              const struct stat *sb,
              int type,
              struct FTW *ftw)
{
  return remove (path);
}

/* Moved aside before it is emptied, so that a far side starting meanwhile
 * finds the whole bundle or none of it. */
static void
remove_cache_dir (const gchar *dir)
{
  g_autofree gchar *aside = g_strdup_printf ("%s.bench-%d.old", dir,
                                             (int) getpid ());

  if (rename (dir, aside) < 0)
    {
      if (errno == ENOENT)
        return;
      g_error ("cannot move %s aside: %s", dir, g_strerror (errno));
    }
  if (nftw (aside, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
    g_error ("cannot remove %s: %s", aside, g_strerror (errno));
}

/* An ssh context's connect and first call with nothing cached on the far
 * side, in µs: the bundle crosses the link and is stored before the agent
 * runs. */
static double
time_uncached_start (MitogenRouter *router,
                     MitogenTestSshd *sshd,
                     const gchar *cache_dir)
{
  double took;

  remove_cache_dir (cache_dir);
  took = time_start (router, "ssh", ssh_options (sshd));
  /* Else the far side found a copy elsewhere ($XDG_CACHE_HOME, say) and
   * the figure would be a cached start. */
  if (!g_file_test (cache_dir, G_FILE_TEST_IS_DIR))
    g_error ("the ssh context stored no agent in %s", cache_dir);
  return took;
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
    "-o", known, "-p", port, "-l", SSH_USER,
    "-i", mitogen_test_sshd_get_client_key (sshd), "-o", "IdentitiesOnly=yes",
    "-F", "/dev/null", mitogen_test_sshd_get_address (sshd), "--", "true", NULL });
  return g_strv_builder_end (b);
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenTestSshd) sshd = NULL;
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  g_autoptr(MitogenContext) local = NULL, sudo = NULL, ssh = NULL;
  g_autoptr(MitogenContext) hop = NULL, local_leaf = NULL;
  g_autoptr(MitogenContext) ssh_hop = NULL, sudo_leaf = NULL;
  g_autoptr(MitogenAgentBundle) bundle = NULL;
  g_autofree double *sudo_ctx = NULL, *sudo_true = NULL;
  g_autofree double *ssh_ctx = NULL, *ssh_true = NULL, *samples = NULL;
  g_autofree double *ssh_uncached = NULL;
  g_autofree gchar *skip = NULL, *cache_dir = NULL, *uncached_label = NULL;
  g_auto(GStrv) ssh_argv = NULL;
  double rt_local, rt_sudo, rt_ssh, rt_local_local, rt_ssh_sudo;
  double m_sudo_ctx, m_sudo_true, m_ssh_ctx, m_ssh_true, m_ssh_uncached;

  if (!bench_parse_options (&argc, &argv,
                            "- sudo and ssh contexts beside sudo and ssh themselves",
                            entries))
    return 2;
  runs = MAX (runs, 1);
  uncached_runs = MAX (uncached_runs, 1);
  rounds = MAX (rounds, 1);

  bench_default_to_build_tree ();
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
  /* The one the ssh transport uploads: a process builds it only once. */
  bundle = mitogen_agent_bundle_get_default (&error);
  if (!bundle)
    g_error ("%s", error->message);
  cache_dir = far_cache_dir (bundle);

  sudo_ctx = g_new (double, runs);
  sudo_true = g_new (double, runs);
  ssh_ctx = g_new (double, runs);
  ssh_true = g_new (double, runs);
  ssh_uncached = g_new (double, uncached_runs);
  samples = g_new (double, rounds);

  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);

  /* Warm up: load the transports, record the host key, read the core
   * module's bytes. */
  time_start (router, "sudo", sudo_options ());
  time_start (router, "ssh", ssh_options (sshd));

  /* Interleaved, so that drift in the machine's load hits all four. */
  for (gint i = 0; i < runs; i++)
    {
      sudo_true[i] = time_command ((const gchar *[]) { "sudo", "-u", SUDO_USER,
                                                       "true", NULL });
      sudo_ctx[i] = time_start (router, "sudo", sudo_options ());
      ssh_true[i] = time_command ((const gchar * const *) ssh_argv);
      ssh_ctx[i] = time_start (router, "ssh", ssh_options (sshd));
    }
  /* After the runs above, not among them, so that their figures are as
   * they were; the last run leaves the bundle cached for what follows. */
  for (gint i = 0; i < uncached_runs; i++)
    ssh_uncached[i] = time_uncached_start (router, sshd, cache_dir);

  local = bench_connect (router, "local", NULL, NULL);
  sudo = bench_connect (router, "sudo", sudo_options (), NULL);
  ssh = bench_connect (router, "ssh", ssh_options (sshd), NULL);
  hop = bench_connect (router, "local", NULL, NULL);
  local_leaf = bench_connect (router, "local", NULL, hop);
  ssh_hop = bench_connect (router, "ssh", ssh_options (sshd), NULL);
  sudo_leaf = bench_connect (router, "sudo", sudo_options (), ssh_hop);

  rt_local = bench_round_trip (local, samples, rounds, WARMUP);
  rt_sudo = bench_round_trip (sudo, samples, rounds, WARMUP);
  rt_ssh = bench_round_trip (ssh, samples, rounds, WARMUP);
  rt_local_local = bench_round_trip (local_leaf, samples, rounds, WARMUP);
  rt_ssh_sudo = bench_round_trip (sudo_leaf, samples, rounds, WARMUP);

  m_sudo_true = bench_median (sudo_true, (gsize) runs) / 1000.0;
  m_sudo_ctx = bench_median (sudo_ctx, (gsize) runs) / 1000.0;
  m_ssh_true = bench_median (ssh_true, (gsize) runs) / 1000.0;
  m_ssh_ctx = bench_median (ssh_ctx, (gsize) runs) / 1000.0;
  m_ssh_uncached = bench_median (ssh_uncached, (gsize) uncached_runs) / 1000.0;
  uncached_label = g_strdup_printf (
    "ssh context, agent uploaded (%.1f MB)",
    g_bytes_get_size (mitogen_agent_bundle_get_archive (bundle)) / 1e6);

  printf ("start a context and make its first call (core.getpid), median of %d runs:\n",
          runs);
  printf ("  sudo -u %s true                 %8.2f ms\n", SUDO_USER, m_sudo_true);
  printf ("  sudo context                            %8.2f ms   (%.2fx sudo true)\n",
          m_sudo_ctx, m_sudo_ctx / m_sudo_true);
  printf ("  ssh 127.0.0.1 true, same options        %8.2f ms\n", m_ssh_true);
  printf ("  ssh context                             %8.2f ms   (%.2fx ssh true)\n",
          m_ssh_ctx, m_ssh_ctx / m_ssh_true);
  printf ("  %-40s%8.2f ms   (%.2fx ssh true, %.2fx cached; median of %d runs)\n",
          uncached_label, m_ssh_uncached, m_ssh_uncached / m_ssh_true,
          m_ssh_uncached / m_ssh_ctx, uncached_runs);
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
