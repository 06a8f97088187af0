/* bench-files.c: file transfer, each figure beside a baseline measured in
 * the same run:
 *  - a local put of SIZE MiB beside a raw copy of the same file over a
 *    socketpair like the stream's (raw_socket_copy_s says how it matches
 *    the transfer, so that it is the transfer's upper bound);
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_LEAVES 10

static gint size_mib = 1024;
static gint rounds = 3;
static gchar *parts_arg = NULL;

static const GOptionEntry entries[]
    = { { "size", 0, 0, G_OPTION_ARG_INT, &size_mib,
          "MiB to copy (default 1024)", "MIB" },
        { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds,
          "Times each copy and its baseline run, in turn (default 3)", "N" },
        { "parts", 0, 0, G_OPTION_ARG_STRING, &parts_arg,
          "What to measure, of disk,memory,rss,ssh,push (default all)",
          "LIST" },
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
  /* Its writeback must not land in the first copy's fsync. */
  g_assert (fsync (fd) == 0);
  close (fd);
}

/* The baseline, and the upper bound of what the transfer can do: the
 * same shape with none of the protocol. This process reads the source in
 * the file service's chunks and writes them to a socketpair with the
 * library's stream buffers (mitogen-io.c's set_socket_buffers); a reader
 * process writes what arrives to the destination and fsyncs it, as the
 * receiver's atomic file does, then says it is done. Buffers are made
 * once, and the fork happens before the clock starts. */
#define RAW_CHUNK (256 * 1024)             /* MITOGEN_FILE_STREAM_CHUNK */
#define RAW_SOCKET_BUFFER (4 * 128 * 1024) /* SOCKET_BUFFER_SIZE */

static void
set_raw_buffers (int fd)
{
  int size = RAW_SOCKET_BUFFER;

  setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

static G_GNUC_NORETURN void
raw_reader (int sock, const gchar *dst, guint8 *buf)
{
  int out = open (dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ssize_t n;
  char done = 'd';

  if (out < 0 || write (sock, &done, 1) != 1)
    _exit (1);
  while ((n = read (sock, buf, RAW_CHUNK)) > 0)
    if (!bench_write_exactly (out, buf, (gsize) n))
      _exit (1);
  if (n < 0 || fsync (out) < 0 || close (out) < 0
      || write (sock, &done, 1) != 1)
    _exit (1);
  _exit (0);
}

static double
raw_socket_copy_s (const gchar *src, const gchar *dst)
{
  g_autofree guint8 *buf = g_malloc (RAW_CHUNK);
  int sv[2], in;
  double start;
  ssize_t n;
  char done;
  pid_t pid;
  int status;

  g_assert (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  set_raw_buffers (sv[0]);
  set_raw_buffers (sv[1]);
  pid = fork ();
  g_assert (pid >= 0);
  if (pid == 0)
    {
      close (sv[0]);
      raw_reader (sv[1], dst, buf);
    }
  close (sv[1]);
  in = open (src, O_RDONLY | O_CLOEXEC);
  g_assert (in >= 0);
  /* The reader has opened the destination: the clock starts now. */
  g_assert (read (sv[0], &done, 1) == 1);
  start = bench_now_us ();
  while ((n = read (in, buf, RAW_CHUNK)) > 0)
    g_assert (bench_write_exactly (sv[0], buf, (gsize) n));
  g_assert (n == 0);
  shutdown (sv[0], SHUT_WR);
  g_assert (read (sv[0], &done, 1) == 1);
  start = (bench_now_us () - start) / 1e6;
  close (in);
  close (sv[0]);
  g_assert (waitpid (pid, &status, 0) == pid && WIFEXITED (status)
            && WEXITSTATUS (status) == 0);
  return start;
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
  const gchar *argv[]
      = { "scp", "-O", "-q", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
          "-o", "StrictHostKeyChecking=accept-new", "-o", known, "-P", port,
          "-i", mitogen_test_sshd_get_client_key (sshd), "-o",
          "IdentitiesOnly=yes",
          /* As the ssh transport passes it. */
          "-o", "Compression=no", "-F", "/dev/null", src, target, NULL };
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

/* One copy of each kind per round, the first of a round alternating, and
 * sync() before each (outside the clock) so that neither pays for the
 * other's writeback. Prints each round's ratio, their median and spread,
 * and the ratio of the best times: on a shared machine the least
 * disturbed run of each is the closest to what each costs. Returns the
 * best times' ratio. */
typedef double (*CopyFunc) (gpointer data);

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static gboolean
want_part (const gchar *part)
{
  g_auto (GStrv) parts = NULL;

  if (!parts_arg)
    return TRUE;
  parts = g_strsplit (parts_arg, ",", -1);
  return g_strv_contains ((const gchar *const *) parts, part);
}

static double
compare_rounds (const gchar *what,
                const gchar *baseline,
                double mib,
                CopyFunc ours,
                CopyFunc theirs,
                gpointer data)
{
  g_autofree double *ratios = g_new (double, rounds);
  double best_ours = G_MAXDOUBLE, best_theirs = G_MAXDOUBLE;

  for (gint i = 0; i < rounds; i++)
    {
      double ours_s, theirs_s;

      sync ();
      if (i % 2 == 0)
        {
          theirs_s = theirs (data);
          sync ();
          ours_s = ours (data);
        }
      else
        {
          ours_s = ours (data);
          sync ();
          theirs_s = theirs (data);
        }
      ratios[i] = theirs_s / ours_s;
      best_ours = MIN (best_ours, ours_s);
      best_theirs = MIN (best_theirs, theirs_s);
      printf ("  %s round %d: %7.1f MiB/s   %s: %7.1f MiB/s   %.2fx\n", what,
              i + 1, mib / ours_s, baseline, mib / theirs_s, ratios[i]);
    }
  qsort (ratios, (gsize) rounds, sizeof *ratios, compare_doubles);
  printf ("%s: best %.1f MiB/s beside %s's best %.1f MiB/s: %.2fx; "
          "per round median %.2fx, spread %.2fx..%.2fx over %d rounds\n",
          what, mib / best_ours, baseline, mib / best_theirs,
          best_theirs / best_ours, ratios[rounds / 2], ratios[0],
          ratios[rounds - 1], rounds);
  return best_theirs / best_ours;
}

typedef struct
{
  MitogenContext *ctx;
  MitogenTestSshd *sshd;
  const gchar *src;
  const gchar *dst;
} Copy;

static double
copy_put (gpointer data)
{
  Copy *copy = data;

  return put_s (copy->ctx, copy->src, copy->dst, NULL);
}

static double
copy_raw (gpointer data)
{
  Copy *copy = data;
  double s = raw_socket_copy_s (copy->src, copy->dst);

  g_unlink (copy->dst);
  return s;
}

static double
copy_scp (gpointer data)
{
  Copy *copy = data;

  return scp_s (copy->sshd, copy->src, copy->dst);
}

/* A directory in a tmpfs, or %NULL: there fsync costs nothing and no
 * other process's writeback lands in a copy, so that what is measured is
 * the transfer's own cost, which the disk hides on a busy machine; and
 * scp, which does not fsync, is compared on equal terms. */
static gchar *
make_memory_dir (void)
{
  g_autofree gchar *tmpl = g_strdup ("/dev/shm/bench-files-XXXXXX");

  if (!g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR))
    return NULL;
  return g_mkdtemp (g_steal_pointer (&tmpl));
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
  Copy copy;

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
  copy = (Copy){ ctx, sshd, src, dst };
  compare_rounds ("ssh put", "scp -O", mib, copy_put, copy_scp, &copy);
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
  g_autofree gchar *mem_dir = NULL, *mem_src = NULL, *mem_dst = NULL;
  double mib;
  Copy copy;
  gsize before, peak = 0;

  if (!bench_parse_options (&argc, &argv,
                            "- file transfer beside a raw socket copy and scp",
                            entries))
    return 2;
  rounds = MAX (rounds, 1);
  bench_default_to_build_tree ();
  dir = g_dir_make_tmp ("bench-files-XXXXXX", NULL);
  src = g_build_filename (dir, "src", NULL);
  dst = g_build_filename (dir, "dst", NULL);
  mib = size_mib;
  make_source (src, (gsize) size_mib << 20);
  if ((mem_dir = make_memory_dir ()))
    {
      mem_src = g_build_filename (mem_dir, "src", NULL);
      mem_dst = g_build_filename (mem_dir, "dst", NULL);
      make_source (mem_src, (gsize) size_mib << 20);
    }

  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  ctx = bench_connect (router, "local", NULL, NULL);

  copy = (Copy){ ctx, NULL, src, dst };
  if (want_part ("disk"))
    compare_rounds ("local put", "raw socket copy", mib, copy_put, copy_raw,
                    &copy);
  if (!want_part ("memory"))
    ;
  else if (mem_dir)
    {
      copy = (Copy){ ctx, NULL, mem_src, mem_dst };
      compare_rounds ("local put in /dev/shm", "raw socket copy", mib, copy_put,
                      copy_raw, &copy);
    }
  else
    printf ("local put in /dev/shm: skipped (none)\n");
  sync ();
  before = rss_kib ();
  if (want_part ("rss"))
    {
      put_s (ctx, src, dst, &peak);
      printf ("master RSS during the %d MiB put: %.1f MiB before, %.1f MiB "
              "at most: +%.1f MiB (file window %d MiB, stream window %d "
              "MiB)\n",
              size_mib, before / 1024.0, peak / 1024.0,
              (double) (peak > before ? peak - before : 0) / 1024.0, 4,
              MITOGEN_TRANSMIT_WINDOW >> 20);
    }
  /* In memory if it can be: scp does not fsync. */
  if (!want_part ("ssh"))
    ;
  else if (mem_dir)
    bench_ssh (router, mem_src, mem_dir, mib);
  else
    bench_ssh (router, src, dir, mib);
  if (want_part ("push"))
    bench_push (router, dir);

  mitogen_context_shutdown (ctx, TRUE, NULL, NULL);
  mitogen_broker_shutdown (broker);
  g_unlink (src);
  g_rmdir (dir);
  if (mem_dir)
    {
      g_unlink (mem_src);
      g_rmdir (mem_dir);
    }
  g_free (parts_arg);
  return 0;
}
