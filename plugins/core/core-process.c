/* core-process.c: core.run
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "core-private.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The most a single read takes from a pipe, and so the largest progress
 * chunk. */
#define READ_CHUNK_SIZE (64 * 1024)

/* A status for a child that neither exited nor was killed; wait() does not
 * report such a child, so this is never seen. */
#define STATUS_UNKNOWN (-1)

static gint
decode_status (GSubprocess *proc)
{
  if (g_subprocess_get_if_exited (proc))
    return g_subprocess_get_exit_status (proc);
  if (g_subprocess_get_if_signaled (proc))
    return 128 + g_subprocess_get_term_sig (proc);
  return STATUS_UNKNOWN;
}

/* After a failure: the child must not outlive the call, nor stay a
 * zombie. */
static void
kill_and_reap (GSubprocess *proc)
{
  g_subprocess_force_exit (proc);
  g_subprocess_wait (proc, NULL, NULL);
}

/* In the child, before exec: it dies with the thread that started it,
 * which waits for it for as long as the call runs, so with the agent even
 * when the agent is killed outright. A parent already gone by now is
 * caught by the check that follows. */
static void
die_with_parent (gpointer user_data)
{
  pid_t parent = (pid_t) GPOINTER_TO_INT (user_data);

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != parent)
    _exit (127);
}

static GVariant *
empty_bytes_variant (void)
{
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, NULL, 0, 1);
}

static GVariant *
bytes_variant (GBytes *bytes)
{
  return g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);
}

/* ---------------------------------------------------------------------- */
/* The child's I/O.
 *
 * Everything happens on the calling thread, in a private main context: one
 * read at a time on each of stdout and stderr, a splice of the stdin bytes
 * into the child's stdin, and a wait for the child. Each operation, when it
 * is over for good, takes one from @pending; the loop runs until none is
 * left, so no callback can run after run_child() returns. The first error
 * is kept and cancels @cancellable, which ends every other operation.
 *
 * Output is collected, or sent to the caller as progress as it arrives.
 *
 * This is g_subprocess_communicate() and a streaming twin of it, rather
 * than communicate() itself: in GLib 2.74 communicate() fails with
 * G_IO_ERROR_BROKEN_PIPE when the child exits without reading all of its
 * stdin, which happens or not depending on the pipe's buffer; here, as in
 * Python's communicate(), that is no error. */

typedef struct {
  MitogenCall *call;
  GMainContext *context;
  GCancellable *cancellable;
  /* Where output goes when collected; both NULL when it is streamed. */
  GByteArray *collected_out;
  GByteArray *collected_err;
  guint pending;
  GError *error;
} RunState;

typedef struct {
  RunState *state;
  GInputStream *pipe;
  gint fd;
} RunReader;

static void
run_state_fail (RunState *state,
                GError *error)
{
  if (state->error == NULL)
    state->error = error;
  else
    g_error_free (error);
  g_cancellable_cancel (state->cancellable);
}

static void run_reader_read_cb (GObject *source,
                                GAsyncResult *result,
                                gpointer user_data);

static void
run_reader_start (RunReader *reader)
{
  g_input_stream_read_bytes_async (reader->pipe, READ_CHUNK_SIZE,
                                   G_PRIORITY_DEFAULT,
                                   reader->state->cancellable,
                                   run_reader_read_cb, reader);
}

static void
run_reader_read_cb (GObject *source,
                    GAsyncResult *result,
                    gpointer user_data)
{
  RunReader *reader = user_data;
  RunState *state = reader->state;
  g_autoptr(GBytes) bytes = NULL;
  GError *error = NULL;
  gconstpointer data;
  gsize size;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result,
                                            &error);
  if (bytes == NULL)
    {
      run_state_fail (state, error);
      state->pending--;
      return;
    }
  data = g_bytes_get_data (bytes, &size);
  if (size == 0)
    {
      /* End of file: the child, and any process it passed the pipe to, has
       * closed its end. */
      state->pending--;
      return;
    }

  if (state->collected_out != NULL)
    g_byte_array_append (reader->fd == 1 ? state->collected_out
                                         : state->collected_err,
                         data, size);
  else
    mitogen_call_emit_progress (state->call,
                                g_variant_new ("(i@ay)", reader->fd,
                                               bytes_variant (bytes)));
  run_reader_start (reader);
}

static void
run_state_splice_cb (GObject *source,
                     GAsyncResult *result,
                     gpointer user_data)
{
  RunState *state = user_data;
  GError *error = NULL;

  if (g_output_stream_splice_finish (G_OUTPUT_STREAM (source), result,
                                     &error) < 0)
    {
      /* The child exited, or closed its stdin, without reading it all. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
        g_error_free (error);
      else
        run_state_fail (state, error);
    }
  state->pending--;
}

static void
run_state_wait_cb (GObject *source,
                   GAsyncResult *result,
                   gpointer user_data)
{
  RunState *state = user_data;
  GError *error = NULL;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error))
    run_state_fail (state, error);
  state->pending--;
}

static gboolean
cancel_operations_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

/* Runs on the thread that cancels the call, or at once in
 * g_cancellable_connect() if the call already is cancelled. It only asks
 * the calling thread to cancel the operations: cancelling them here, while
 * that thread disposes of their finished sources, races in GLib 2.74's
 * GCancellableSource and leaks them. */
static void
call_cancelled_cb (GCancellable *call_cancellable,
                   gpointer user_data)
{
  RunState *state = user_data;
  g_autoptr(GSource) idle = g_idle_source_new ();

  g_source_set_callback (idle, cancel_operations_cb,
                         g_object_ref (state->cancellable), g_object_unref);
  g_source_attach (idle, state->context);
}

/* Feeds @stdin_bytes (if not %NULL) to @proc, reads its output into
 * @collected_out and @collected_err, or streams it as progress if they are
 * %NULL, and waits for it to end. On failure, @proc is killed and
 * reaped. */
static gboolean
run_child (MitogenCall *call,
           GSubprocess *proc,
           GBytes *stdin_bytes,
           GByteArray *collected_out,
           GByteArray *collected_err,
           GError **error)
{
  GCancellable *call_cancellable = mitogen_call_get_cancellable (call);
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  RunState state = { call, context, cancellable, collected_out, collected_err,
                     0, NULL };
  RunReader out = { &state, g_subprocess_get_stdout_pipe (proc), 1 };
  RunReader err = { &state, g_subprocess_get_stderr_pipe (proc), 2 };
  gulong handler_id;

  /* Cancelling the call cancels the operations, on this thread. */
  handler_id = g_cancellable_connect (call_cancellable,
                                      G_CALLBACK (call_cancelled_cb),
                                      &state, NULL);

  /* Every operation completes in @context, dispatched below. */
  g_main_context_push_thread_default (context);

  run_reader_start (&out);
  run_reader_start (&err);
  state.pending += 2;
  if (stdin_bytes != NULL)
    {
      g_autoptr(GInputStream) source =
        g_memory_input_stream_new_from_bytes (stdin_bytes);

      g_output_stream_splice_async (g_subprocess_get_stdin_pipe (proc), source,
                                    G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE |
                                    G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                    G_PRIORITY_DEFAULT, cancellable,
                                    run_state_splice_cb, &state);
      state.pending++;
    }
  g_subprocess_wait_async (proc, cancellable, run_state_wait_cb, &state);
  state.pending++;

  while (state.pending > 0)
    g_main_context_iteration (context, TRUE);

  g_main_context_pop_thread_default (context);
  /* Waits for a handler running on another thread to return, so that
   * @state may go. An idle it left behind goes with @context. */
  g_cancellable_disconnect (call_cancellable, handler_id);

  if (state.error != NULL)
    {
      kill_and_reap (proc);
      g_propagate_error (error, state.error);
      return FALSE;
    }
  return TRUE;
}

GVariant *
core_run (MitogenCall *call,
          GVariant *args,
          GError **error)
{
  g_autofree const gchar **argv = NULL;
  g_autoptr(GVariant) stdin_data = NULL;
  g_autoptr(GVariant) env = NULL;
  g_autoptr(GBytes) stdin_bytes = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GByteArray) collected_out = NULL;
  g_autoptr(GByteArray) collected_err = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  GSubprocessFlags flags;
  const gchar *cwd = NULL;
  const gchar *name;
  const gchar *value;
  GVariantIter iter;

  g_variant_get (args, "(^a&sm@aym&s@a{ss})",
                 &argv, &stdin_data, &cwd, &env);

  if (argv[0] == NULL || argv[0][0] == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "Cannot run an empty command line");
      return NULL;
    }

  /* Without stdin bytes the child reads /dev/null: the context's own stdin
   * may be its connection to its parent. */
  flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;
  if (stdin_data != NULL)
    {
      flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
      stdin_bytes = g_variant_get_data_as_bytes (stdin_data);
    }
  launcher = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent,
                                         GINT_TO_POINTER (getpid ()), NULL);
  if (cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, cwd);

  g_variant_iter_init (&iter, env);
  while (g_variant_iter_next (&iter, "{&s&s}", &name, &value))
    {
      if (name[0] == '\0' || strchr (name, '=') != NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "Invalid environment variable name “%s”", name);
          return NULL;
        }
      g_subprocess_launcher_setenv (launcher, name, value, TRUE);
    }

  if (g_cancellable_set_error_if_cancelled (mitogen_call_get_cancellable (call),
                                            error))
    return NULL;

  /* On failure the error names the program (or the directory). */
  proc = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (proc == NULL)
    return NULL;

  if (mitogen_call_wants_progress (call))
    {
      if (!run_child (call, proc, stdin_bytes, NULL, NULL, error))
        return NULL;
      return g_variant_new ("(i@ay@ay)", decode_status (proc),
                            empty_bytes_variant (), empty_bytes_variant ());
    }

  collected_out = g_byte_array_new ();
  collected_err = g_byte_array_new ();
  if (!run_child (call, proc, stdin_bytes, collected_out, collected_err, error))
    return NULL;
  out = g_byte_array_free_to_bytes (g_steal_pointer (&collected_out));
  err = g_byte_array_free_to_bytes (g_steal_pointer (&collected_err));
  return g_variant_new ("(i@ay@ay)", decode_status (proc),
                        bytes_variant (out), bytes_variant (err));
}
