/* mitogen-cli-stdin.c: our stdin streamed to core.run_stream, under its
 * flow control, from a thread of its own.
 *
 * The protocol is core.run_stream's (plugins/core/core-process.c): the
 * context sends our receiver its data handle and window (ut), then counts
 * of bytes written to the command (t), or G_MAXUINT64 when it wants no
 * more; we send `ay` chunks, at most a window beyond the last count, and
 * an empty one at the end of our input. So stdin is read only as fast as
 * the command takes it, and never held whole.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-cli.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#define CHUNK_SIZE (64 * 1024)
#define STDIN_STOP G_MAXUINT64

struct _CliStdinPump
{
  MitogenRouter *router;
  MitogenReceiver *ctl;
  guint32 target_id;
  int fd;
  GCancellable *cancellable;
  GThread *thread;
  GError *error; /* the thread's; read once it is joined */
};

/* The next message from the target, its data of @type. */
static GVariant *
pump_receive (CliStdinPump *pump, const GVariantType *type, GError **error)
{
  for (;;)
    {
      g_autoptr (MitogenMessage) msg
          = mitogen_receiver_get (pump->ctl, -1, pump->cancellable, error);
      GVariant *data;

      if (!msg)
        return NULL;
      /* Only the target speaks here; anything else is dropped. */
      if (mitogen_message_get_src_id (msg) != pump->target_id)
        continue;
      data = mitogen_message_get_data (msg, error);
      if (!data)
        return NULL;
      if (g_variant_is_of_type (data, type))
        return data;
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "the context sent a %s for stdin, not a %s",
                   g_variant_get_type_string (data),
                   g_variant_type_peek_string (type));
      g_variant_unref (data);
      return NULL;
    }
}

/* Reads what is there, waiting for it; 0 at the end of input. A closed
 * descriptor is an empty input. */
static gssize
pump_read (CliStdinPump *pump, guint8 *buf, gsize size, GError **error)
{
  GPollFD cancel_fd;

  if (!g_cancellable_make_pollfd (pump->cancellable, &cancel_fd))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "waiting for stdin: no descriptor left to wait on");
      return -1;
    }
  for (;;)
    {
      struct pollfd fds[]
          = { { pump->fd, POLLIN, 0 }, { cancel_fd.fd, POLLIN, 0 } };
      gssize n;

      if (poll (fds, G_N_ELEMENTS (fds), -1) < 0 && errno != EINTR)
        break;
      if (g_cancellable_set_error_if_cancelled (pump->cancellable, error))
        {
          g_cancellable_release_fd (pump->cancellable);
          return -1;
        }
      if (!fds[0].revents)
        continue;
      n = read (pump->fd, buf, size);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      g_cancellable_release_fd (pump->cancellable);
      if (n < 0 && errno == EBADF)
        return 0;
      if (n < 0)
        {
          int errsv = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       "reading stdin: %s", g_strerror (errsv));
        }
      return n;
    }
  g_cancellable_release_fd (pump->cancellable);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
               "waiting for stdin: %s", g_strerror (errno));
  return -1;
}

/* %TRUE once the whole input went, or the context wanted no more. */
static gboolean
pump_transfer (CliStdinPump *pump, GError **error)
{
  g_autoptr (GVariant) hello = NULL;
  g_autoptr (MitogenSender) sink = NULL;
  g_autofree guint8 *buf = g_malloc (CHUNK_SIZE);
  guint64 window, sent = 0, acked = 0;
  guint32 handle;

  hello = pump_receive (pump, G_VARIANT_TYPE ("(ut)"), error);
  if (!hello)
    return FALSE;
  g_variant_get (hello, "(ut)", &handle, &window);
  sink = mitogen_sender_new (pump->router, pump->target_id, handle);

  for (;;)
    {
      g_autoptr (GError) read_error = NULL;
      gssize n;

      /* At the window, wait for room; otherwise look at what was said
       * without waiting (a stop). */
      while (sent - acked >= window || !mitogen_receiver_empty (pump->ctl))
        {
          g_autoptr (GVariant) count
              = pump_receive (pump, G_VARIANT_TYPE_UINT64, error);

          if (!count)
            return FALSE;
          if (g_variant_get_uint64 (count) == STDIN_STOP)
            return TRUE;
          acked = MIN (g_variant_get_uint64 (count), sent);
        }
      n = pump_read (pump, buf,
                     (gsize) MIN (CHUNK_SIZE, window - (sent - acked)),
                     &read_error);
      /* A failed read ends the input too: the command is told. */
      if (!mitogen_sender_send (
              sink,
              g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, buf,
                                         n > 0 ? (gsize) n : 0, 1),
              pump->cancellable, error))
        return FALSE;
      if (read_error)
        {
          g_propagate_error (error, g_steal_pointer (&read_error));
          return FALSE;
        }
      if (n == 0)
        return TRUE;
      sent += (guint64) n;
    }
}

static gpointer
pump_thread (gpointer user_data)
{
  CliStdinPump *pump = user_data;

  pump_transfer (pump, &pump->error);
  return NULL;
}

/**
 * cli_stdin_pump_start:
 * @router: the session's router
 * @target_id: the context that runs the command
 * @fd: the input, not made non-blocking (it may be shared with others)
 *
 * Starts a thread that waits for @target_id to ask for input on the
 * handle of cli_stdin_pump_get_handle(), and then streams @fd to it.
 *
 * Returns: (transfer full): the pump, for cli_stdin_pump_finish()
 */
CliStdinPump *
cli_stdin_pump_start (MitogenRouter *router, guint32 target_id, int fd)
{
  CliStdinPump *pump = g_new0 (CliStdinPump, 1);

  pump->router = g_object_ref (router);
  pump->ctl = mitogen_receiver_new (router, 0, TRUE, target_id, NULL);
  pump->target_id = target_id;
  pump->fd = fd;
  pump->cancellable = g_cancellable_new ();
  pump->thread = g_thread_new ("mitogen-stdin", pump_thread, pump);
  return pump;
}

guint32
cli_stdin_pump_get_handle (CliStdinPump *pump)
{
  return mitogen_receiver_get_handle (pump->ctl);
}

/**
 * cli_stdin_pump_finish:
 * @pump: (transfer full): a pump, once the command ended
 * @error: return location for an error
 *
 * Stops the pump, waits for its thread and frees it.
 *
 * Returns: %FALSE if reading or sending the input failed before the end
 */
gboolean
cli_stdin_pump_finish (CliStdinPump *pump, GError **error)
{
  gboolean ok;

  g_cancellable_cancel (pump->cancellable);
  g_thread_join (pump->thread);
  /* Stopped while it waited: no failure of its own. */
  ok = !pump->error
       || g_error_matches (pump->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&pump->error));
  g_clear_error (&pump->error);
  mitogen_receiver_close (pump->ctl);
  g_object_unref (pump->ctl);
  g_object_unref (pump->router);
  g_object_unref (pump->cancellable);
  g_free (pump);
  return ok;
}
