/* bench-context: the cost of a local context, each figure beside a
 * baseline measured in the same run.
 *
 *  - starting a context and making its first call, beside a bare
 *    posix_spawn() of trivial-answer timed until its one byte arrives;
 *  - a core.getpid round trip on a connected context, beside a raw
 *    socketpair ping-pong with a forked echo process;
 *  - the peak RSS of the master and of one agent.
 *
 * Every figure is a median over per-sample timings: the spread of process
 * start-up and scheduling would make a mean mostly noise.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"

extern char **environ;

#define SMALL 64
#define WARMUP 200

static gint runs = 30;
static gint rounds = 5000;
static gboolean verbose;

static GOptionEntry entries[] = {
  { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "Context starts to take the median of", "N" },
  { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Round trips to take the median of", "N" },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print every start-up run", NULL },
  { NULL }
};

/* --- Baseline 1: a bare fork+exec -------------------------------------- */

static double
time_trivial_answer (void)
{
  char *argv[] = { (char *) TRIVIAL_ANSWER, NULL };
  posix_spawn_file_actions_t actions;
  int fds[2], status;
  pid_t pid;
  guint8 byte;
  double start, elapsed;

  /* Close-on-exec, so that an agent started meanwhile cannot hold the
   * pipe; dup2() onto stdout clears the flag for trivial-answer. */
  if (pipe2 (fds, O_CLOEXEC) < 0)
    g_error ("pipe2: %s", g_strerror (errno));
  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_adddup2 (&actions, fds[1], STDOUT_FILENO);

  start = bench_now_us ();
  if (posix_spawn (&pid, TRIVIAL_ANSWER, &actions, NULL, argv, environ) != 0)
    g_error ("cannot start %s", TRIVIAL_ANSWER);
  close (fds[1]);
  if (!bench_read_exactly (fds[0], &byte, 1))
    g_error ("trivial-answer did not answer");
  elapsed = bench_now_us () - start;

  close (fds[0]);
  posix_spawn_file_actions_destroy (&actions);
  waitpid (pid, &status, 0);
  return elapsed;
}

/* --- Baseline 2: a raw socketpair ping-pong ---------------------------- */

static G_NORETURN void
echo_until_eof (int fd)
{
  guint8 buf[SMALL];

  while (bench_read_exactly (fd, buf, SMALL))
    if (!bench_write_exactly (fd, buf, SMALL))
      _exit (1);
  _exit (0);
}

/* Must run before the broker starts: fork() with other threads running
 * would leave the child holding locks nobody releases. */
static double
raw_round_trip (double *samples)
{
  guint8 buf[SMALL] = { 0 };
  int sv[2], status;
  pid_t pid;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    g_error ("socketpair: %s", g_strerror (errno));
  pid = fork ();
  if (pid < 0)
    g_error ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      close (sv[0]);
      echo_until_eof (sv[1]);
    }
  close (sv[1]);

  for (gint i = -WARMUP; i < rounds; i++)
    {
      double start = bench_now_us ();

      if (!bench_write_exactly (sv[0], buf, SMALL) ||
          !bench_read_exactly (sv[0], buf, SMALL))
        g_error ("echo child went away");
      if (i >= 0)
        samples[i] = bench_now_us () - start;
    }

  close (sv[0]);
  waitpid (pid, &status, 0);
  return bench_median (samples, (gsize) rounds);
}

/* --- libmitogen -------------------------------------------------------- */

static GPid
agent_pid (MitogenContext *ctx)
{
  return mitogen_parent_stream_get_pid (
    MITOGEN_PARENT_STREAM (mitogen_context_get_stream (ctx)));
}

/* Contexts already shut down, released only once the broker has stopped:
 * the broker thread emits MitogenContext::disconnect just after waking
 * mitogen_context_shutdown()'s waiter, so dropping the last reference
 * straight away races that emission. */
static GPtrArray *retired;

/* Outside every timed part: how fast a context goes away is not measured. */
static void
shutdown_context (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;

  if (!mitogen_context_shutdown (ctx, TRUE, NULL, &error))
    g_error ("shutdown failed: %s", error->message);
  g_ptr_array_add (retired, ctx);
}

typedef struct {
  double *spawn;
  double *start;       /* connect + first call */
  double *connect;
  double *first_call;
  double *second_call;
} StartSamples;

static void
time_context_start (MitogenRouter *router,
                    StartSamples *s,
                    gint i)
{
  MitogenContext *ctx;
  double t0, t1, t2, t3;
  gint32 pid;

  t0 = bench_now_us ();
  ctx = bench_connect (router, "local", NULL, NULL);
  t1 = bench_now_us ();
  pid = bench_call_getpid (ctx);
  t2 = bench_now_us ();
  bench_call_getpid (ctx);
  t3 = bench_now_us ();

  /* Proves the call ran in the agent, not somewhere cheaper. */
  if (pid != agent_pid (ctx))
    g_error ("core.getpid answered %d, the agent is %d", pid, agent_pid (ctx));
  shutdown_context (ctx);

  s->start[i] = t2 - t0;
  s->connect[i] = t1 - t0;
  s->first_call[i] = t2 - t1;
  s->second_call[i] = t3 - t2;
  /* Medians hide a bimodal spread; this shows it. */
  if (verbose)
    printf ("run %2d: spawn %6.0f  start %6.0f = connect %6.0f + first %6.0f;"
            " second %5.0f us\n", i, s->spawn[i], s->start[i], s->connect[i],
            s->first_call[i], s->second_call[i]);
}

/* --- Memory ------------------------------------------------------------ */

/* A process's peak resident set, in KiB. Read for the master too rather
 * than taking getrusage()'s ru_maxrss: Linux carries ru_maxrss across
 * execve(), so under `meson test` it reports the Python runner's peak
 * (about 30 MiB) instead of this program's; VmHWM starts afresh at exec. */
static glong
vm_hwm (const gchar *pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%s/status", pid);
  g_autofree gchar *status = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *line;

  if (!g_file_get_contents (path, &status, NULL, &error))
    g_error ("%s", error->message);
  line = strstr (status, "\nVmHWM:");
  if (!line)
    g_error ("no VmHWM in %s", path);
  return (glong) g_ascii_strtoll (line + strlen ("\nVmHWM:"), NULL, 10);
}

/* Read while the agent is alive: its /proc entry goes with it. */
static glong
agent_vm_hwm (MitogenContext *ctx)
{
  g_autofree gchar *pid = g_strdup_printf ("%d", agent_pid (ctx));

  return vm_hwm (pid);
}

/* A field of /proc/PID/smaps_rollup, in KiB. */
static glong
rollup_field (const gchar *rollup,
              const gchar *path,
              const gchar *field)
{
  g_autofree gchar *key = g_strdup_printf ("\n%s:", field);
  const gchar *line = strstr (rollup, key);

  if (!line)
    g_error ("no %s in %s", field, path);
  return (glong) g_ascii_strtoll (line + strlen (key), NULL, 10);
}

typedef struct {
  glong pss;           /* shared pages counted by share, KiB */
  glong private_dirty; /* what this agent alone costs, KiB */
} AgentMemory;

/* What one more agent costs the machine: its proportional set and the
 * pages it has written that no other process shares. */
static AgentMemory
agent_memory (MitogenContext *ctx)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/smaps_rollup", agent_pid (ctx));
  g_autofree gchar *rollup = NULL;
  g_autoptr(GError) error = NULL;
  AgentMemory m;

  if (!g_file_get_contents (path, &rollup, NULL, &error))
    g_error ("%s", error->message);
  m.pss = rollup_field (rollup, path, "Pss");
  m.private_dirty = rollup_field (rollup, path, "Private_Dirty");
  return m;
}

/* --- Main -------------------------------------------------------------- */

static gboolean
parse_options (int *argc,
               char ***argv)
{
  if (!bench_parse_options (argc, argv,
                            "- local context start, round trip and memory beside raw baselines",
                            entries))
    return FALSE;
  if (runs < 1 || rounds < 1)
    {
      g_printerr ("--runs and --rounds must be at least 1\n");
      return FALSE;
    }
  return TRUE;
}

static void
start_samples_init (StartSamples *s)
{
  s->spawn = g_new (double, runs);
  s->start = g_new (double, runs);
  s->connect = g_new (double, runs);
  s->first_call = g_new (double, runs);
  s->second_call = g_new (double, runs);
}

static void
start_samples_clear (StartSamples *s)
{
  g_free (s->spawn);
  g_free (s->start);
  g_free (s->connect);
  g_free (s->first_call);
  g_free (s->second_call);
}

static void
print_start (StartSamples *s)
{
  double spawn = bench_median (s->spawn, (gsize) runs);
  double start = bench_median (s->start, (gsize) runs);

  printf ("start a local context and make its first call, median of %d runs:\n", runs);
  printf ("  posix_spawn of trivial-answer, until its byte  %9.0f us\n", spawn);
  printf ("  connect + first core.getpid                    %9.0f us   (%.2fx spawn; goal <= 3x)\n",
          start, start / spawn);
  printf ("    connect                                      %9.0f us\n",
          bench_median (s->connect, (gsize) runs));
  printf ("    first call (agent fetches the core module)   %9.0f us\n",
          bench_median (s->first_call, (gsize) runs));
  printf ("    second call                                  %9.0f us\n",
          bench_median (s->second_call, (gsize) runs));
}

static void
print_round_trip (double raw_rt,
                  double call_rt)
{
  printf ("round trip on a connected context, median of %d after %d warm-up:\n",
          rounds, WARMUP);
  printf ("  raw socketpair ping-pong, %d bytes             %9.2f us\n", SMALL, raw_rt);
  printf ("  core.getpid                                    %9.2f us   (%.2fx raw; goal <= 2x)\n",
          call_rt, call_rt / raw_rt);
}

static void
print_memory (glong agent_first,
              glong agent_after,
              AgentMemory first)
{
  printf ("peak RSS:\n");
  printf ("  master (VmHWM, after the runs)                 %9ld KiB\n", vm_hwm ("self"));
  printf ("  agent (VmHWM, after its first call)            %9ld KiB\n", agent_first);
  printf ("  agent (VmHWM, after all its calls)             %9ld KiB\n", agent_after);
  printf ("one agent after its first call (smaps_rollup):\n");
  printf ("  PSS                                            %9ld KiB   (goal <= 1024)\n",
          first.pss);
  printf ("  private dirty                                  %9ld KiB   (goal <= 512)\n",
          first.private_dirty);
}

int
main (int argc, char **argv)
{
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autofree double *raw_samples = NULL, *call_samples = NULL;
  StartSamples s;
  double raw_rt, call_rt;
  glong agent_first, agent_after;
  AgentMemory memory_first;

  if (!parse_options (&argc, &argv))
    return 2;
  bench_default_to_build_tree ();
  raw_samples = g_new (double, rounds);
  call_samples = g_new (double, rounds);
  start_samples_init (&s);

  raw_rt = raw_round_trip (raw_samples);

  retired = g_ptr_array_new_with_free_func (g_object_unref);
  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);

  /* Interleaved, so that both figures see the same state of the machine. */
  for (gint i = 0; i < runs; i++)
    {
      s.spawn[i] = time_trivial_answer ();
      time_context_start (router, &s, i);
    }

  ctx = bench_connect (router, "local", NULL, NULL);
  bench_call_getpid (ctx);
  agent_first = agent_vm_hwm (ctx);
  memory_first = agent_memory (ctx);
  call_rt = bench_round_trip (ctx, call_samples, rounds, WARMUP);
  agent_after = agent_vm_hwm (ctx);
  shutdown_context (g_steal_pointer (&ctx));

  print_start (&s);
  print_round_trip (raw_rt, call_rt);
  print_memory (agent_first, agent_after, memory_first);

  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  g_ptr_array_unref (retired);
  start_samples_clear (&s);
  return 0;
}
