/* core-process.c: core.run
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "core-private.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <gio/gunixoutputstream.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

/* The most a single read takes from a pipe, and so the largest progress
 * chunk. */
#define READ_CHUNK_SIZE (64 * 1024)

/* How many bytes of stdin the caller may have sent that run_stream has not
 * yet written to the child: what it holds at most, whatever the input's
 * size. */
#define STDIN_WINDOW (1024 * 1024)

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

/* In the child on a pty: its own session, the pty (already its stdin) as
 * its controlling terminal, so that it gets the terminal's signals. */
static void
setup_tty_child (gpointer user_data)
{
  die_with_parent (user_data);
  if (setsid () < 0 || ioctl (STDIN_FILENO, TIOCSCTTY, 0) < 0)
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

typedef struct _StdinFeed StdinFeed;

typedef struct
{
  MitogenCall *call;
  GMainContext *context;
  GCancellable *cancellable;
  /* Where output goes when collected; both NULL when it is streamed. */
  GByteArray *collected_out;
  GByteArray *collected_err;
  StdinFeed *feed; /* nullable: stdin streamed from the caller */
  guint pending;
  GError *error;
} RunState;

typedef struct
{
  RunState *state;
  GInputStream *pipe;
  gint fd;
  /* A pty's master reads EIO, not end of file, once the child's side is
   * closed. */
  gboolean is_pty;
} RunReader;

static void stdin_feed_stop (StdinFeed *feed);

static void
run_state_fail (RunState *state, GError *error)
{
  if (state->error == NULL)
    state->error = error;
  else
    g_error_free (error);
  g_cancellable_cancel (state->cancellable);
  if (state->feed != NULL)
    stdin_feed_stop (state->feed);
}

static void
run_reader_read_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void
run_reader_start (RunReader *reader)
{
  g_input_stream_read_bytes_async (
      reader->pipe, READ_CHUNK_SIZE, G_PRIORITY_DEFAULT,
      reader->state->cancellable, run_reader_read_cb, reader);
}

static void
run_reader_room_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RunReader *reader = user_data;
  GError *error = NULL;

  if (!mitogen_stream_wait_writable_finish (MITOGEN_STREAM (source), result,
                                            &error))
    {
      run_state_fail (reader->state, error);
      reader->state->pending--;
      return;
    }
  run_reader_start (reader);
}

/* Output goes to the caller as progress, which the router queues without
 * waiting: a command writing faster than the link carries it would grow
 * this process's memory without bound. So the next read waits until the
 * stream towards the caller has room again. Returns whether it waits. */
static gboolean
run_reader_wait_room (RunReader *reader)
{
  MitogenCall *call = reader->state->call;
  MitogenRouter *router = mitogen_call_get_router (call);
  g_autoptr (MitogenStream) stream = NULL;

  if (router == NULL)
    return FALSE;
  stream
      = mitogen_router_stream_by_id (router, mitogen_call_get_caller_id (call));
  if (stream == NULL || mitogen_stream_is_writable (stream))
    return FALSE;
  mitogen_stream_wait_writable_async (stream, reader->state->cancellable,
                                      run_reader_room_cb, reader);
  return TRUE;
}

static void
run_reader_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RunReader *reader = user_data;
  RunState *state = reader->state;
  g_autoptr (GBytes) bytes = NULL;
  GError *error = NULL;
  gconstpointer data;
  gsize size;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result,
                                            &error);
  if (bytes == NULL && reader->is_pty
      && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_FAILED)
      && !g_cancellable_is_cancelled (state->cancellable))
    {
      g_clear_error (&error);
      bytes = g_bytes_new (NULL, 0);
    }
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
    {
      mitogen_call_emit_progress (
          state->call,
          g_variant_new ("(i@ay)", reader->fd, bytes_variant (bytes)));
      if (run_reader_wait_room (reader))
        return;
    }
  run_reader_start (reader);
}

/* ---------------------------------------------------------------------- */
/* Stdin streamed from the caller, for core.run_stream.
 *
 * The caller names a receiver of its own ("stdin" in the options). This
 * side sends it (u data handle, t window) first, then, after each chunk
 * written to the child, the count of bytes written so far (t), and
 * STDIN_STOP when it wants no more (the child closed its stdin, or ended).
 * The caller sends `ay` chunks to the data handle, never more than the
 * window beyond the last count, and an empty `ay` at the end of its input.
 * So this side holds at most a window of input, whatever its size, and the
 * caller reads its input only as fast as the child takes it. */

#define STDIN_STOP G_MAXUINT64

struct _StdinFeed
{
  RunState *state;
  MitogenRouter *router;
  guint32 caller_id;
  guint32 ctl_handle;
  MitogenReceiver *data;
  GOutputStream *pipe; /* the child's stdin */
  /* Ends the wait for chunks, and writes, once the child is gone. */
  GCancellable *cancellable;
  GQueue chunks; /* GBytes not yet written */
  gsize queued;
  GBytes *writing; /* nullable: the chunk being written */
  guint64 written;
  gboolean receiving;
  gboolean eof;      /* the empty chunk arrived */
  gboolean finished; /* end of input passed on to the child */
  gboolean stopped;
  /* On a pty, end of input is the terminal's EOF character rather than a
   * closed pipe, which would hang the terminal up; -1 off a pty. */
  gint eof_char;
};

static void
stdin_feed_tell (StdinFeed *feed, GVariant *value)
{
  /* Tiny and awaited by the caller: it must not wait for room itself,
   * or two full windows could wait on each other. */
  g_autoptr (MitogenMessage) msg
      = mitogen_message_new (feed->caller_id, feed->ctl_handle, value);

  mitogen_router_route (feed->router, msg);
}

/* No more input is wanted: the caller is told, pending operations end. */
static void
stdin_feed_stop (StdinFeed *feed)
{
  if (feed->stopped)
    return;
  feed->stopped = TRUE;
  stdin_feed_tell (feed, g_variant_new_uint64 (STDIN_STOP));
  g_cancellable_cancel (feed->cancellable);
  g_queue_clear_full (&feed->chunks, (GDestroyNotify) g_bytes_unref);
  feed->queued = 0;
}

static void stdin_feed_write_next (StdinFeed *feed);

static void
stdin_feed_written_cb (GObject *source,
                       GAsyncResult *result,
                       gpointer user_data)
{
  StdinFeed *feed = user_data;
  g_autoptr (GBytes) chunk = g_steal_pointer (&feed->writing);
  GError *error = NULL;
  gboolean ok;

  if (chunk != NULL)
    ok = g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result,
                                           NULL, &error);
  else
    ok = g_output_stream_close_finish (G_OUTPUT_STREAM (source), result,
                                       &error);
  feed->state->pending--;
  if (!ok)
    {
      /* The child closed its stdin or is gone: no error, as for a shell's
       * pipe, but no more is wanted. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)
          && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        run_state_fail (feed->state, g_steal_pointer (&error));
      g_clear_error (&error);
      stdin_feed_stop (feed);
      return;
    }
  if (chunk != NULL && !feed->finished)
    {
      feed->written += g_bytes_get_size (chunk);
      feed->queued -= g_bytes_get_size (chunk);
      stdin_feed_tell (feed, g_variant_new_uint64 (feed->written));
    }
  stdin_feed_write_next (feed);
}

static void
stdin_feed_write_next (StdinFeed *feed)
{
  if (feed->writing != NULL || feed->stopped || feed->finished)
    return;
  if (!g_queue_is_empty (&feed->chunks))
    feed->writing = g_queue_pop_head (&feed->chunks);
  else if (!feed->eof)
    return;
  else
    {
      feed->finished = TRUE;
      if (feed->eof_char < 0)
        {
          g_output_stream_close_async (feed->pipe, G_PRIORITY_DEFAULT,
                                       feed->cancellable, stdin_feed_written_cb,
                                       feed);
          feed->state->pending++;
          return;
        }
      feed->writing = g_bytes_new (&(guint8){ (guint8) feed->eof_char }, 1);
    }
  g_output_stream_write_all_async (
      feed->pipe, g_bytes_get_data (feed->writing, NULL),
      g_bytes_get_size (feed->writing), G_PRIORITY_DEFAULT, feed->cancellable,
      stdin_feed_written_cb, feed);
  feed->state->pending++;
}

/* The bytes of a chunk, or %NULL with @error set for anything else. */
static GBytes *
stdin_chunk_bytes (MitogenMessage *msg, GError **error)
{
  g_autoptr (GVariant) data = mitogen_message_get_data (msg, error);

  if (data == NULL)
    return NULL;
  if (!g_variant_is_of_type (data, G_VARIANT_TYPE_BYTESTRING))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "The caller sent stdin as a %s, not an ay",
                   g_variant_get_type_string (data));
      return NULL;
    }
  return g_variant_get_data_as_bytes (data);
}

static void stdin_feed_receive (StdinFeed *feed);

static void
stdin_feed_received_cb (GObject *source,
                        GAsyncResult *result,
                        gpointer user_data)
{
  StdinFeed *feed = user_data;
  g_autoptr (MitogenMessage) msg = NULL;
  g_autoptr (GBytes) chunk = NULL;
  GError *error = NULL;

  msg = mitogen_receiver_get_finish (MITOGEN_RECEIVER (source), result, &error);
  feed->receiving = FALSE;
  feed->state->pending--;
  if (msg == NULL)
    {
      /* Stopped, or the caller is gone: its input has ended. */
      g_error_free (error);
      feed->eof = TRUE;
      stdin_feed_write_next (feed);
      return;
    }
  /* From the caller only; anything else is dropped. */
  if (mitogen_message_get_src_id (msg) != feed->caller_id)
    {
      stdin_feed_receive (feed);
      return;
    }
  chunk = stdin_chunk_bytes (msg, &error);
  if (chunk == NULL || feed->queued + g_bytes_get_size (chunk) > STDIN_WINDOW)
    {
      if (error == NULL)
        error
            = g_error_new (MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                           "The caller sent more stdin than the %u bytes "
                           "allowed",
                           STDIN_WINDOW);
      run_state_fail (feed->state, error);
      return;
    }
  if (g_bytes_get_size (chunk) == 0)
    feed->eof = TRUE;
  else
    {
      feed->queued += g_bytes_get_size (chunk);
      g_queue_push_tail (&feed->chunks, g_steal_pointer (&chunk));
    }
  stdin_feed_write_next (feed);
  if (!feed->eof)
    stdin_feed_receive (feed);
}

static void
stdin_feed_receive (StdinFeed *feed)
{
  if (feed->stopped)
    return;
  feed->receiving = TRUE;
  feed->state->pending++;
  mitogen_receiver_get_async (feed->data, feed->cancellable,
                              stdin_feed_received_cb, feed);
}

/* Tells the caller where to send, and starts waiting for chunks. */
static void
stdin_feed_start (StdinFeed *feed)
{
  stdin_feed_tell (
      feed, g_variant_new ("(ut)", mitogen_receiver_get_handle (feed->data),
                           (guint64) STDIN_WINDOW));
  stdin_feed_receive (feed);
}

/* The child's stdin, made non-blocking. GIO's asynchronous write on a
 * pipe first polls it, then write()s the whole buffer: on a blocking pipe
 * with less room than that, the write blocks this thread, which is the
 * one that reads the child's output, and a child blocked writing output
 * then never reads its input again. Non-blocking, a write takes what
 * fits and GIO waits for room for the rest. */
static GOutputStream *
child_stdin_pipe (GOutputStream *pipe)
{
  if (G_IS_UNIX_OUTPUT_STREAM (pipe))
    g_unix_set_fd_nonblocking (
        g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (pipe)), TRUE, NULL);
  return pipe;
}

static StdinFeed *
stdin_feed_new (MitogenCall *call,
                guint32 ctl_handle,
                GOutputStream *pipe,
                gint eof_char)
{
  StdinFeed *feed = g_new0 (StdinFeed, 1);

  feed->router = mitogen_call_get_router (call);
  feed->caller_id = mitogen_call_get_caller_id (call);
  feed->ctl_handle = ctl_handle;
  feed->data
      = mitogen_receiver_new (feed->router, 0, TRUE, feed->caller_id,
                              mitogen_router_policy_has_parent_authority);
  feed->pipe = g_object_ref (child_stdin_pipe (pipe));
  feed->cancellable = g_cancellable_new ();
  g_queue_init (&feed->chunks);
  feed->eof_char = eof_char;
  return feed;
}

static void
stdin_feed_free (StdinFeed *feed)
{
  mitogen_receiver_close (feed->data);
  g_object_unref (feed->data);
  g_object_unref (feed->pipe);
  g_object_unref (feed->cancellable);
  g_queue_clear_full (&feed->chunks, (GDestroyNotify) g_bytes_unref);
  g_free (feed);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StdinFeed, stdin_feed_free)

static void
run_state_splice_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RunState *state = user_data;
  GError *error = NULL;

  if (g_output_stream_splice_finish (G_OUTPUT_STREAM (source), result, &error)
      < 0)
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
run_state_wait_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RunState *state = user_data;
  GError *error = NULL;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error))
    run_state_fail (state, error);
  /* Input for a child that is gone is no longer wanted. */
  else if (state->feed != NULL)
    stdin_feed_stop (state->feed);
  state->pending--;
}

static gboolean
cancel_operations_cb (gpointer user_data)
{
  RunState *state = user_data;

  g_cancellable_cancel (state->cancellable);
  if (state->feed != NULL)
    stdin_feed_stop (state->feed);
  return G_SOURCE_REMOVE;
}

/* Runs on the thread that cancels the call, or at once in
 * g_cancellable_connect() if the call already is cancelled. It only asks
 * the calling thread to cancel the operations: cancelling them here, while
 * that thread disposes of their finished sources, races in GLib 2.74's
 * GCancellableSource and leaks them. */
static void
call_cancelled_cb (GCancellable *call_cancellable, gpointer user_data)
{
  RunState *state = user_data;
  g_autoptr (GSource) idle = g_idle_source_new ();

  g_source_set_callback (idle, cancel_operations_cb, state, NULL);
  g_source_attach (idle, state->context);
}

/* What run_child() connects to the child. */
typedef struct
{
  GInputStream *out;
  GInputStream *err; /* nullable: on a pty, everything comes from @out */
  gboolean is_pty;
  GBytes *stdin_bytes; /* nullable: all of stdin, fed to @proc's pipe */
  StdinFeed *feed;     /* nullable: stdin streamed from the caller */
  /* Where output goes when collected; both NULL when it is streamed. */
  GByteArray *collected_out;
  GByteArray *collected_err;
} RunIo;

/* Feeds stdin to @proc as @io says, reads its output into the collected
 * arrays, or streams it as progress, and waits for it to end. On failure,
 * @proc is killed and reaped. */
static gboolean
run_child (MitogenCall *call,
           GSubprocess *proc,
           const RunIo *io,
           GError **error)
{
  GCancellable *call_cancellable = mitogen_call_get_cancellable (call);
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  RunState state
      = { call,     context, cancellable, io->collected_out, io->collected_err,
          io->feed, 0,       NULL };
  RunReader out = { &state, io->out, 1, io->is_pty };
  RunReader err = { &state, io->err, 2, FALSE };
  gulong handler_id;

  /* Cancelling the call cancels the operations, on this thread. */
  handler_id = g_cancellable_connect (
      call_cancellable, G_CALLBACK (call_cancelled_cb), &state, NULL);

  /* Every operation completes in @context, dispatched below. */
  g_main_context_push_thread_default (context);

  run_reader_start (&out);
  state.pending++;
  if (io->err != NULL)
    {
      run_reader_start (&err);
      state.pending++;
    }
  if (io->stdin_bytes != NULL)
    {
      g_autoptr (GInputStream) source
          = g_memory_input_stream_new_from_bytes (io->stdin_bytes);

      g_output_stream_splice_async (
          child_stdin_pipe (g_subprocess_get_stdin_pipe (proc)), source,
          G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE
              | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
          G_PRIORITY_DEFAULT, cancellable, run_state_splice_cb, &state);
      state.pending++;
    }
  if (io->feed != NULL)
    {
      io->feed->state = &state;
      stdin_feed_start (io->feed);
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

/* A launcher for @argv in @cwd (nullable) with @env added, after checking
 * them; its child dies with this thread. */
static GSubprocessLauncher *
new_launcher (const gchar *const *argv,
              const gchar *cwd,
              GVariant *env,
              GSubprocessFlags flags,
              GSpawnChildSetupFunc child_setup,
              GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  const gchar *name;
  const gchar *value;
  GVariantIter iter;

  if (argv[0] == NULL || argv[0][0] == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "Cannot run an empty command line");
      return NULL;
    }
  launcher = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (launcher, child_setup,
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
  return g_steal_pointer (&launcher);
}

GVariant *
core_run (MitogenCall *call, GVariant *args, GError **error)
{
  g_autofree const gchar **argv = NULL;
  g_autoptr (GVariant) stdin_data = NULL;
  g_autoptr (GVariant) env = NULL;
  g_autoptr (GBytes) stdin_bytes = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GByteArray) collected_out = NULL;
  g_autoptr (GByteArray) collected_err = NULL;
  g_autoptr (GBytes) out = NULL;
  g_autoptr (GBytes) err = NULL;
  GSubprocessFlags flags;
  const gchar *cwd = NULL;

  g_variant_get (args, "(^a&sm@aym&s@a{ss})", &argv, &stdin_data, &cwd, &env);

  /* Without stdin bytes the child reads /dev/null: the context's own stdin
   * may be its connection to its parent. */
  flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;
  if (stdin_data != NULL)
    {
      flags |= G_SUBPROCESS_FLAGS_STDIN_PIPE;
      stdin_bytes = g_variant_get_data_as_bytes (stdin_data);
    }
  launcher = new_launcher (argv, cwd, env, flags, die_with_parent, error);
  if (launcher == NULL)
    return NULL;

  if (g_cancellable_set_error_if_cancelled (mitogen_call_get_cancellable (call),
                                            error))
    return NULL;

  /* On failure the error names the program (or the directory). */
  proc = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (proc == NULL)
    return NULL;

  if (mitogen_call_wants_progress (call))
    {
      RunIo io = { g_subprocess_get_stdout_pipe (proc),
                   g_subprocess_get_stderr_pipe (proc),
                   FALSE,
                   stdin_bytes,
                   NULL,
                   NULL,
                   NULL };

      if (!run_child (call, proc, &io, error))
        return NULL;
      return g_variant_new ("(i@ay@ay)", decode_status (proc),
                            empty_bytes_variant (), empty_bytes_variant ());
    }

  collected_out = g_byte_array_new ();
  collected_err = g_byte_array_new ();
  if (!run_child (call, proc,
                  &(RunIo){ g_subprocess_get_stdout_pipe (proc),
                            g_subprocess_get_stderr_pipe (proc), FALSE,
                            stdin_bytes, NULL, collected_out, collected_err },
                  error))
    return NULL;
  out = g_byte_array_free_to_bytes (g_steal_pointer (&collected_out));
  err = g_byte_array_free_to_bytes (g_steal_pointer (&collected_err));
  return g_variant_new ("(i@ay@ay)", decode_status (proc), bytes_variant (out),
                        bytes_variant (err));
}

/* ---------------------------------------------------------------------- */
/* core.run_stream */

/* A new pty, its size set from @options (rows, cols) where given. */
static gboolean
open_pty (GVariantDict *options,
          int *out_master,
          int *out_slave,
          GError **error)
{
  struct winsize size = { 0 };
  guint32 rows = 0, cols = 0;
  char name[64];
  int master, slave;

  master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt (master) < 0 || unlockpt (master) < 0
      || ptsname_r (master, name, sizeof name) != 0
      || (slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    {
      int errsv = errno;

      if (master >= 0)
        close (master);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Cannot open a pty: %s", g_strerror (errsv));
      return FALSE;
    }
  g_variant_dict_lookup (options, "rows", "u", &rows);
  g_variant_dict_lookup (options, "cols", "u", &cols);
  size.ws_row = (unsigned short) MIN (rows, G_MAXUINT16);
  size.ws_col = (unsigned short) MIN (cols, G_MAXUINT16);
  if (rows > 0 && cols > 0)
    ioctl (master, TIOCSWINSZ, &size);
  *out_master = master;
  *out_slave = slave;
  return TRUE;
}

/* The character that ends a line discipline's input, as ^D does. */
static gint
pty_eof_char (int master)
{
  struct termios attrs;

  if (tcgetattr (master, &attrs) < 0 || attrs.c_cc[VEOF] == _POSIX_VDISABLE)
    return 4;
  return attrs.c_cc[VEOF];
}

/* Spawns @argv on a pty; *@out_master, then, is the pty's master, the
 * child's only connection. */
static GSubprocess *
spawn_on_pty (GSubprocessLauncher *launcher,
              const gchar *const *argv,
              GVariantDict *options,
              int *out_master,
              GError **error)
{
  int master, slave;
  GSubprocess *proc;

  if (!open_pty (options, &master, &slave, error))
    return NULL;
  /* The launcher owns what it takes, and closes it after the spawn: the
   * master must then be the only end left here, or reading it would never
   * end. */
  g_subprocess_launcher_take_stdout_fd (launcher, dup (slave));
  g_subprocess_launcher_take_stderr_fd (launcher, dup (slave));
  g_subprocess_launcher_take_stdin_fd (launcher, slave);
  proc = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (proc == NULL)
    {
      close (master);
      return NULL;
    }
  *out_master = master;
  return proc;
}

GVariant *
core_run_stream (MitogenCall *call, GVariant *args, GError **error)
{
  g_autofree const gchar **argv = NULL;
  g_autoptr (GVariant) env = NULL;
  g_autoptr (GVariant) options_value = NULL;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GInputStream) pty_in = NULL;
  g_autoptr (GOutputStream) pty_out = NULL;
  g_autoptr (StdinFeed) feed = NULL;
  const gchar *cwd = NULL;
  gboolean tty = FALSE;
  guint32 ctl_handle = 0;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_NONE;
  RunIo io = { NULL };
  int master = -1;

  g_variant_get (args, "(^a&sm&s@a{ss}@a{sv})", &argv, &cwd, &env,
                 &options_value);
  g_auto (GVariantDict) options = G_VARIANT_DICT_INIT (options_value);
  g_variant_dict_lookup (&options, "tty", "b", &tty);
  g_variant_dict_lookup (&options, "stdin", "u", &ctl_handle);

  /* Without a stdin handle the child reads /dev/null (or, on a pty,
   * nothing). */
  if (!tty)
    flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE
            | (ctl_handle != 0 ? G_SUBPROCESS_FLAGS_STDIN_PIPE
                               : G_SUBPROCESS_FLAGS_NONE);
  launcher = new_launcher (argv, cwd, env, flags,
                           tty ? setup_tty_child : die_with_parent, error);
  if (launcher == NULL)
    return NULL;
  if (g_cancellable_set_error_if_cancelled (mitogen_call_get_cancellable (call),
                                            error))
    return NULL;

  if (tty)
    {
      proc = spawn_on_pty (launcher, argv, &options, &master, error);
      g_clear_object (&launcher);
      if (proc == NULL)
        return NULL;
      pty_in = g_unix_input_stream_new (master, TRUE);
      pty_out = g_unix_output_stream_new (dup (master), TRUE);
      io.out = pty_in;
      io.is_pty = TRUE;
    }
  else
    {
      /* On failure the error names the program (or the directory). */
      proc = g_subprocess_launcher_spawnv (launcher, argv, error);
      if (proc == NULL)
        return NULL;
      io.out = g_subprocess_get_stdout_pipe (proc);
      io.err = g_subprocess_get_stderr_pipe (proc);
    }
  if (ctl_handle != 0)
    {
      feed = stdin_feed_new (call, ctl_handle,
                             tty ? pty_out : g_subprocess_get_stdin_pipe (proc),
                             tty ? pty_eof_char (master) : -1);
      io.feed = feed;
    }
  if (!run_child (call, proc, &io, error))
    return NULL;
  return g_variant_new ("(i)", decode_status (proc));
}
