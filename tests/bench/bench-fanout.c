/* bench-fanout: many local contexts started at once with one call each,
 * beside as many bare posix_spawn()s of trivial-answer at once, measured in
 * the same run; and the master's resident memory while they are up.
 *
 *  - 20 and --many (1000) local contexts, each connected and called
 *    (core.getpid) as soon as it is up;
 *  - --many contexts behind --hops (20) local intermediaries, each hop
 *    called and then made the parent of its share.
 *
 * Every start and call is asynchronous, so the library chooses how many
 * run at once; the wall time runs from the first connect to the last
 * answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"

extern char **environ;

static gint many = 1000;
static gint hops = 20;

static GOptionEntry entries[]
    = { { "many", 'n', 0, G_OPTION_ARG_INT, &many,
          "Contexts in the large fan-outs", "N" },
        { "hops", 'H', 0, G_OPTION_ARG_INT, &hops,
          "Intermediaries for the fan-out behind hops", "N" },
        { NULL } };

/* --- Baseline: n trivial-answers at once -------------------------------- */

static double
spawn_many (gint n)
{
  char *argv[] = { (char *) TRIVIAL_ANSWER, NULL };
  g_autofree pid_t *pids = g_new (pid_t, n);
  g_autofree int *fds = g_new (int, n);
  double start = bench_now_us ();

  for (gint i = 0; i < n; i++)
    {
      posix_spawn_file_actions_t actions;
      int pipe_fds[2];

      if (pipe2 (pipe_fds, O_CLOEXEC) < 0)
        g_error ("pipe2: %s", g_strerror (errno));
      posix_spawn_file_actions_init (&actions);
      posix_spawn_file_actions_adddup2 (&actions, pipe_fds[1], STDOUT_FILENO);
      if (posix_spawn (&pids[i], TRIVIAL_ANSWER, &actions, NULL, argv, environ)
          != 0)
        g_error ("cannot start %s", TRIVIAL_ANSWER);
      posix_spawn_file_actions_destroy (&actions);
      close (pipe_fds[1]);
      fds[i] = pipe_fds[0];
    }
  for (gint i = 0; i < n; i++)
    {
      guint8 byte;

      if (!bench_read_exactly (fds[i], &byte, 1))
        g_error ("trivial-answer did not answer");
    }
  start = bench_now_us () - start;

  for (gint i = 0; i < n; i++)
    {
      int status;

      close (fds[i]);
      waitpid (pids[i], &status, 0);
    }
  return start / 1000.0;
}

/* --- libmitogen -------------------------------------------------------- */

typedef struct
{
  MitogenRouter *router;
  GMainLoop *loop;
  GPtrArray *contexts; /* every context, hops included */
  gint leaves;         /* contexts to start behind each hop, or 0 */
  gint pending;        /* connects and calls not yet answered */
} Fanout;

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data);
static void
on_hop_connected (GObject *source, GAsyncResult *result, gpointer user_data);

static void
finish_one (Fanout *f)
{
  if (--f->pending == 0)
    g_main_loop_quit (f->loop);
}

/* Counts one more thing to wait for: a connect and its call. */
static void
start_connect (Fanout *f, MitogenContext *via, gboolean is_hop)
{
  f->pending++;
  mitogen_router_connect_context_async (
      f->router, "local", NULL, via, NULL,
      is_hop ? on_hop_connected : on_connected, f);
}

static void
check_call (GObject *source, GAsyncResult *result)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) pid
      = mitogen_context_call_finish (MITOGEN_CONTEXT (source), result, &error);

  if (!pid)
    g_error ("core.getpid: %s", error->message);
}

static void
on_called (GObject *source, GAsyncResult *result, gpointer user_data)
{
  check_call (source, result);
  finish_one (user_data);
}

/* A hop, once it has answered, becomes the parent of its share. */
static void
on_hop_called (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fanout *f = user_data;

  check_call (source, result);
  for (gint i = 0; i < f->leaves; i++)
    start_connect (f, MITOGEN_CONTEXT (source), FALSE);
  finish_one (f);
}

static MitogenContext *
connect_finish (GObject *source, GAsyncResult *result, Fanout *f)
{
  g_autoptr (GError) error = NULL;
  MitogenContext *ctx = mitogen_router_connect_context_finish (
      MITOGEN_ROUTER (source), result, &error);

  if (!ctx)
    g_error ("connect: %s", error->message);
  g_ptr_array_add (f->contexts, ctx);
  return ctx;
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  mitogen_context_call_async (connect_finish (source, result, user_data),
                              "core.getpid", NULL, NULL, on_called, user_data);
}

static void
on_hop_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  mitogen_context_call_async (connect_finish (source, result, user_data),
                              "core.getpid", NULL, NULL, on_hop_called,
                              user_data);
}

static void
on_shut_down (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!mitogen_context_shutdown_finish (MITOGEN_CONTEXT (source), result,
                                        &error))
    g_error ("shutdown: %s", error->message);
  finish_one (user_data);
}

/* A process's resident set (VmRSS) or peak (VmHWM), in KiB. */
static glong
vm_field (const gchar *field)
{
  g_autofree gchar *status = NULL;
  g_autofree gchar *key = g_strdup_printf ("\n%s:", field);
  g_autoptr (GError) error = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, &error))
    g_error ("%s", error->message);
  line = strstr (status, key);
  if (!line)
    g_error ("no %s in /proc/self/status", field);
  return (glong) g_ascii_strtoll (line + strlen (key), NULL, 10);
}

typedef struct
{
  double wall_ms;
  glong rss_kib; /* with every context up */
} FanoutResult;

/* Untimed: the contexts go, the hops last (theirs go with them), and
 * are released once the broker has stopped (see bench-context). */
static void
shut_down_all (Fanout *f, GPtrArray *retired)
{
  for (guint i = f->contexts->len; i-- > 0;)
    {
      MitogenContext *ctx = g_ptr_array_index (f->contexts, i);

      f->pending++;
      mitogen_context_shutdown_async (ctx, NULL, on_shut_down, f);
    }
  g_main_loop_run (f->loop);
  g_ptr_array_extend_and_steal (retired, g_steal_pointer (&f->contexts));
}

/* @n contexts, straight from the master when @n_hops is 0, else @n
 * shared between @n_hops intermediaries. */
static FanoutResult
fan_out (MitogenRouter *router, GPtrArray *retired, gint n, gint n_hops)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Fanout f = { router, loop, g_ptr_array_new (), n_hops ? n / n_hops : 0, 0 };
  FanoutResult r;
  double start = bench_now_us ();

  for (gint i = 0; i < (n_hops ? n_hops : n); i++)
    start_connect (&f, NULL, n_hops > 0);
  g_main_loop_run (loop);
  r.wall_ms = (bench_now_us () - start) / 1000.0;
  r.rss_kib = vm_field ("VmRSS");

  shut_down_all (&f, retired);
  return r;
}

static void
print_row (const gchar *what, FanoutResult r, double spawn_ms)
{
  printf ("  %-38s %9.1f ms   (%.2fx spawn)   master RSS %7ld KiB\n", what,
          r.wall_ms, r.wall_ms / spawn_ms, r.rss_kib);
}

int
main (int argc, char **argv)
{
  g_autoptr (MitogenBroker) broker = NULL;
  g_autoptr (MitogenRouter) router = NULL;
  g_autoptr (GPtrArray) retired
      = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree gchar *many_label = NULL, *hops_label = NULL;
  double spawn_20, spawn_many_ms;
  glong rss_idle;
  FanoutResult r20, rmany, rhops;

  if (!bench_parse_options (
          &argc, &argv, "- many contexts at once beside as many bare spawns",
          entries))
    return 2;
  if (many < 1 || hops < 1 || many % hops != 0)
    {
      g_printerr ("--many and --hops must be at least 1, and --many a multiple "
                  "of --hops\n");
      return 2;
    }
  bench_default_to_build_tree ();

  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  rss_idle = vm_field ("VmRSS");

  spawn_20 = spawn_many (20);
  r20 = fan_out (router, retired, 20, 0);
  spawn_many_ms = spawn_many (many);
  rmany = fan_out (router, retired, many, 0);
  rhops = fan_out (router, retired, many, hops);

  many_label = g_strdup_printf ("%d local contexts", many);
  hops_label = g_strdup_printf ("%d behind %d hops", many, hops);
  printf ("contexts started at once, one core.getpid each, until the last "
          "answer:\n");
  printf ("  posix_spawn of 20 trivial-answers       %9.1f ms\n", spawn_20);
  print_row ("20 local contexts", r20, spawn_20);
  printf ("  posix_spawn of %d trivial-answers     %9.1f ms\n", many,
          spawn_many_ms);
  print_row (many_label, rmany, spawn_many_ms);
  print_row (hops_label, rhops, spawn_many_ms);
  printf ("master RSS with no context: %ld KiB; peak (VmHWM) %ld KiB\n",
          rss_idle, vm_field ("VmHWM"));

  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  return 0;
}
