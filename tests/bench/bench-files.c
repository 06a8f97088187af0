/* bench-files.c: file transfer, each figure beside a baseline measured in
 * the same run:
 *  - a local put of SIZE MiB beside a raw pipe copy of the same file (a
 *    reader process writing into a pipe, this one writing the pipe's bytes
 *    to the destination and syncing it, as the transfer does);
 *  - the same over ssh to an sshd on 127.0.0.1 beside `scp -O` with the
 *    same ssh options (needs root for the sshd; skipped otherwise);
 *  - the master's RSS growth during the local put;
 *  - the bytes on the master's link when one file is pushed to 1 and to
 *    10 leaves under one hop.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "bench-common.h"
#include "mitogen-test-sshd.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_LEAVES 10

static gint size_mib = 1024;

static const GOptionEntry entries[]
    = { { "size", 0, 0, G_OPTION_ARG_INT, &size_mib,
          "MiB to copy (default 1024)", "MIB" },
        { NULL } };

/* Bytes that are not zeros, so that no side may skip them as holes. */
static void
make_source (const gchar *path, gsize size)
{
  g_autofree guint8 *block = g_malloc (1 << 20);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  for (gsize i = 0; i < (1 << 20); i++)
    block[i] = (guint8) (g_random_int () | 1);
  g_assert (fd >= 0);
  for (gsize done = 0; done < size; done += 1 << 20)
    g_assert (bench_write_exactly (fd, block, 1 << 20));
  close (fd);
}

/* The baseline: a reader process into a pipe, this one writing out. */
static double
raw_pipe_copy_s (const gchar *src, const gchar *dst)
{
  g_autofree guint8 *buf = g_malloc (1 << 20);
  double start = bench_now_us ();
  int fds[2];
  pid_t pid;
  int out;
  ssize_t n;

  g_assert (pipe (fds) == 0);
  pid = fork ();
  if (pid == 0)
    {
      int in = open (src, O_RDONLY);

      close (fds[0]);
      while ((n = read (in, buf, 1 << 20)) > 0)
        if (!bench_write_exactly (fds[1], buf, (gsize) n))
          _exit (1);
      _exit (0);
    }
  close (fds[1]);
  out = open (dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  while ((n = read (fds[0], buf, 1 << 20)) > 0)
    g_assert (bench_write_exactly (out, buf, (gsize) n));
  fsync (out);
  close (out);
  close (fds[0]);
  waitpid (pid, NULL, 0);
  return (bench_now_us () - start) / 1e6;
}

static gsize
rss_kib (void)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL)
      || !(line = strstr (status, "VmRSS:")))
    return 0;
  return (gsize) g_ascii_strtoull (line + 6, NULL, 10);
}

typedef struct
{
  gboolean done;
  gsize peak;
} RssWatch;

static gpointer
watch_rss (gpointer data)
{
  RssWatch *watch = data;

  while (!g_atomic_int_get (&watch->done))
    {
      watch->peak = MAX (watch->peak, rss_kib ());
      g_usleep (5000);
    }
  return NULL;
}

static double
put_s (MitogenContext *ctx, const gchar *src, const gchar *dst, gsize *peak_kib)
{
  g_autoptr (GError) error = NULL;
  RssWatch watch = { FALSE, 0 };
  GThread *thread = g_thread_new ("rss", watch_rss, &watch);
  double start = bench_now_us ();

  if (!mitogen_context_put_file (ctx, src, dst, NULL, NULL, &error))
    g_error ("put: %s", error->message);
  start = (bench_now_us () - start) / 1e6;
  g_atomic_int_set (&watch.done, TRUE);
  g_thread_join (thread);
  if (peak_kib)
    *peak_kib = watch.peak;
  g_unlink (dst);
  return start;
}

static double
scp_s (MitogenTestSshd *sshd, const gchar *src, const gchar *dst)
{
  g_autofree gchar *known = g_strdup_printf (
      "UserKnownHostsFile=%s", mitogen_test_sshd_get_known_hosts (sshd));
  g_autofree gchar *port
      = g_strdup_printf ("%u", mitogen_test_sshd_get_port (sshd));
  g_autofree gchar *target = g_strdup_printf (
      "root@%s:%s", mitogen_test_sshd_get_address (sshd), dst);
  const gchar *argv[] = { "scp",
                          "-O",
                          "-q",
                          "-o",
                          "LogLevel=ERROR",
                          "-o",
                          "BatchMode=yes",
                          "-o",
                          "StrictHostKeyChecking=accept-new",
                          "-o",
                          known,
                          "-P",
                          port,
                          "-i",
                          mitogen_test_sshd_get_client_key (sshd),
                          "-o",
                          "IdentitiesOnly=yes",
                          "-F",
                          "/dev/null",
                          src,
                          target,
                          NULL };
  double start = bench_now_us ();
  gint status = -1;

  if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                     NULL, NULL, NULL, &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    g_error ("scp failed");
  start = (bench_now_us () - start) / 1e6;
  g_unlink (dst);
  return start;
}

static void
bench_ssh (MitogenRouter *router,
           const gchar *src,
           const gchar *dir,
           double mib)
{
  g_autofree gchar *skip = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenTestSshd) sshd = NULL;
  g_autoptr (MitogenContext) ctx = NULL;
  g_autofree gchar *dst = g_build_filename (dir, "ssh-dst", NULL);
  double ours, theirs;

  if (!mitogen_test_sshd_can_run (&skip))
    {
      printf ("ssh: skipped (%s)\n", skip);
      return;
    }
  sshd = mitogen_test_sshd_start (NULL, "127.0.0.1", NULL, &error);
  g_assert_no_error (error);
  ctx = bench_connect (router, "ssh",
                       mitogen_test_sshd_options (sshd, "root", "accept-new"),
                       NULL);
  theirs = scp_s (sshd, src, dst);
  ours = put_s (ctx, src, dst, NULL);
  printf ("ssh put:   %7.1f MiB/s   scp -O: %7.1f MiB/s   ratio %.2fx scp\n",
          mib / ours, mib / theirs, theirs / ours);
  mitogen_context_shutdown (ctx, TRUE, NULL, NULL);
}

static void
bench_push (MitogenRouter *router, const gchar *dir)
{
  g_autofree gchar *src = g_build_filename (dir, "push-src", NULL);
  MitogenContext *hop = bench_connect (router, "local", NULL, NULL);
  MitogenStream *link = mitogen_context_get_stream (hop);
  MitogenContext *leaves[N_LEAVES];
  guint64 one = 0, ten = 0;
  g_autofree gchar *src2 = g_build_filename (dir, "push-src2", NULL);

  make_source (src, 16 << 20);
  make_source (src2, 16 << 20);
  for (guint i = 0; i < N_LEAVES; i++)
    leaves[i] = bench_connect (router, "local", NULL, hop);
  for (guint round = 0; round < 2; round++)
    {
      guint n = round == 0 ? 1 : N_LEAVES;
      guint64 before = mitogen_stream_get_bytes_sent (link);

      for (guint i = 0; i < n; i++)
        {
          g_autofree gchar *dst = g_strdup_printf ("%s/leaf%u", dir, i);
          put_s (leaves[i], round == 0 ? src : src2, dst, NULL);
        }
      *(round == 0 ? &one : &ten)
          = mitogen_stream_get_bytes_sent (link) - before;
    }
  printf (
      "push 16 MiB: master link %.2f MiB for 1 leaf, %.2f MiB for %u leaves: "
      "%.2fx\n",
      one / 1048576.0, ten / 1048576.0, N_LEAVES, (double) ten / (double) one);
  for (guint i = 0; i < N_LEAVES; i++)
    {
      mitogen_context_shutdown (leaves[i], TRUE, NULL, NULL);
      g_object_unref (leaves[i]);
    }
  mitogen_context_shutdown (hop, TRUE, NULL, NULL);
  g_object_unref (hop);
  g_unlink (src);
  g_unlink (src2);
}

int
main (int argc, char **argv)
{
  g_autoptr (MitogenBroker) broker = NULL;
  g_autoptr (MitogenRouter) router = NULL;
  g_autoptr (MitogenContext) ctx = NULL;
  g_autofree gchar *dir = NULL, *src = NULL, *dst = NULL;
  double mib, raw, ours;
  gsize before, peak = 0;

  if (!bench_parse_options (&argc, &argv,
                            "- file transfer beside a raw pipe copy and scp",
                            entries))
    return 2;
  bench_default_to_build_tree ();
  dir = g_dir_make_tmp ("bench-files-XXXXXX", NULL);
  src = g_build_filename (dir, "src", NULL);
  dst = g_build_filename (dir, "dst", NULL);
  mib = size_mib;
  make_source (src, (gsize) size_mib << 20);

  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  ctx = bench_connect (router, "local", NULL, NULL);

  raw = raw_pipe_copy_s (src, dst);
  g_unlink (dst);
  before = rss_kib ();
  ours = put_s (ctx, src, dst, &peak);
  printf ("local put: %7.1f MiB/s   raw pipe: %7.1f MiB/s   %.0f%% of raw\n",
          mib / ours, mib / raw, 100.0 * raw / ours);
  printf ("master RSS during the %d MiB put: +%.1f MiB (window %d MiB)\n",
          size_mib, (double) (peak > before ? peak - before : 0) / 1024.0,
          MITOGEN_TRANSMIT_WINDOW >> 20);
  bench_ssh (router, src, dir, mib);
  bench_push (router, dir);

  mitogen_context_shutdown (ctx, TRUE, NULL, NULL);
  mitogen_broker_shutdown (broker);
  g_unlink (src);
  g_rmdir (dir);
  return 0;
}
