/* mitogen-io.c: blocking I/O helpers and child process creation
 *
 * These support the blocking phase of setting up a context, before its
 * stream is handed to a broker.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-io.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "mitogen-errors.h"

/* Socket buffers large enough for several CHUNK_SIZE frames in flight:
 * at the default size a bulk transfer stalls on wake-ups. */
#define SOCKET_BUFFER_SIZE (4 * MITOGEN_CHUNK_SIZE)

/**
 * mitogen_io_errno_is_disconnect:
 * @errsv: an `errno` value
 *
 * Tells whether @errsv is how a TTY (`EIO`), a socket (`ECONNRESET`) or a
 * pipe (`EPIPE`) reports that its other end went away.
 *
 * Returns: %TRUE for a disconnection
 */
gboolean
mitogen_io_errno_is_disconnect (int errsv)
{
  return errsv == EIO || errsv == ECONNRESET || errsv == EPIPE;
}

/**
 * mitogen_io_op:
 * @func: (scope call): the operation
 * @user_data: (closure): data for @func
 * @disconnected: (out) (optional): set to %TRUE when the operation failed
 *   because the other end went away
 * @error: return location for an error
 *
 * Runs @func, retrying on `EINTR`, and traps the error codes that mean
 * disconnection in the various kinds of file descriptor, so that every
 * caller treats them alike.
 *
 * Returns: the result of @func; 0 when disconnected (with @disconnected set
 *   and no error); -1 with @error set on any other failure, including
 *   `G_IO_ERROR_WOULD_BLOCK`
 */
gssize
mitogen_io_op (MitogenIoFunc func,
               gpointer user_data,
               gboolean *disconnected,
               GError **error)
{
  gssize ret;
  int errsv;

  if (disconnected)
    *disconnected = FALSE;

  do
    ret = func (user_data);
  while (ret < 0 && errno == EINTR);

  if (ret >= 0)
    return ret;

  errsv = errno;
  if (mitogen_io_errno_is_disconnect (errsv))
    {
      if (disconnected)
        *disconnected = TRUE;
      return 0;
    }

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               "%s", g_strerror (errsv));
  return -1;
}

/**
 * mitogen_set_nonblocking:
 * @fd: a file descriptor
 * @nonblocking: the state of `O_NONBLOCK` wanted
 * @error: return location for an error
 *
 * Sets or clears `O_NONBLOCK` on @fd.
 *
 * Returns: %TRUE on success
 */
gboolean
mitogen_set_nonblocking (int fd,
                         gboolean nonblocking,
                         GError **error)
{
  return g_unix_set_fd_nonblocking (fd, nonblocking, error);
}

/**
 * mitogen_wait_fd:
 * @fd: a file descriptor
 * @condition: %G_IO_IN or %G_IO_OUT
 * @deadline: a monotonic time (see g_get_monotonic_time()) after which to
 *   give up, or -1 to wait for ever
 * @error: return location for an error
 *
 * Sleeps until @fd is ready for @condition or hung up.
 *
 * A #GCancellable made current in this thread with
 * g_cancellable_push_current() ends the wait as soon as it is cancelled,
 * so that every blocking helper built on this one (mitogen_write_all(),
 * mitogen_iter_read(), a parent stream's bootstrap) stops at once when the
 * operation it serves is cancelled.
 *
 * Returns: %TRUE when ready; %FALSE with %MITOGEN_TIMEOUT_ERROR_TIMED_OUT
 *   once @deadline passes, or %G_IO_ERROR_CANCELLED
 */
gboolean
mitogen_wait_fd (int fd,
                 GIOCondition condition,
                 gint64 deadline,
                 GError **error)
{
  GCancellable *cancellable = g_cancellable_get_current ();
  struct pollfd pfds[2] = { { .fd = fd, .events = condition } };
  GPollFD cancel_fd = { .fd = -1 };
  nfds_t n_fds = 1;
  gboolean ready = FALSE;

  if (cancellable && g_cancellable_make_pollfd (cancellable, &cancel_fd))
    {
      pfds[1].fd = cancel_fd.fd;
      pfds[1].events = POLLIN;
      n_fds = 2;
    }

  for (;;)
    {
      int timeout_ms = -1;
      int r;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      if (deadline >= 0)
        {
          gint64 left = deadline - g_get_monotonic_time ();
          if (left <= 0)
            {
              g_set_error (error, MITOGEN_TIMEOUT_ERROR,
                           MITOGEN_TIMEOUT_ERROR_TIMED_OUT,
                           "Timed out waiting for file descriptor %d", fd);
              break;
            }
          timeout_ms = (int) MIN ((left + 999) / 1000, G_MAXINT);
        }

      r = poll (pfds, n_fds, timeout_ms);
      if (r > 0 && pfds[0].revents)
        {
          ready = TRUE;
          break;
        }
      if (r < 0 && errno != EINTR)
        {
          int errsv = errno;
          g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                       "poll() failed: %s", g_strerror (errsv));
          break;
        }
    }
  if (cancel_fd.fd >= 0)
    g_cancellable_release_fd (cancellable);
  return ready;
}

typedef struct {
  int fd;
  guint8 *buf;
  gsize len;
} IoArgs;

static gboolean write_all_nonblocking (int fd, const guint8 *data, gsize len,
                                       gint64 deadline, GError **error);

static gssize
read_once (gpointer user_data)
{
  IoArgs *a = user_data;
  return read (a->fd, a->buf, a->len);
}

static gssize
write_once (gpointer user_data)
{
  IoArgs *a = user_data;
  return write (a->fd, a->buf, a->len);
}

/**
 * mitogen_iter_read:
 * @fd: file descriptor to read from
 * @deadline: monotonic time after which to give up, or -1
 * @func: (scope call): receives each chunk of up to 4096 bytes
 * @user_data: (closure): data for @func
 * @error: return location for an error
 *
 * Reads @fd chunk by chunk, handing each to @func, until @func returns
 * %FALSE.
 *
 * Returns: %TRUE when @func asked to stop; %FALSE with
 *   %MITOGEN_TIMEOUT_ERROR_TIMED_OUT when @deadline passed, or
 *   %MITOGEN_STREAM_ERROR_DISCONNECTED on an attempt to read past the end
 */
gboolean
mitogen_iter_read (int fd,
                   gint64 deadline,
                   MitogenIterReadFunc func,
                   gpointer user_data,
                   GError **error)
{
  guint8 buf[4096];

  for (;;)
    {
      IoArgs args = { fd, buf, sizeof buf };
      gboolean disconnected;
      GError *local_error = NULL;
      gssize n;

      if (!mitogen_wait_fd (fd, G_IO_IN, deadline, error))
        return FALSE;

      n = mitogen_io_op (read_once, &args, &disconnected, &local_error);
      if (n < 0 && g_error_matches (local_error, G_IO_ERROR,
                                    G_IO_ERROR_WOULD_BLOCK))
        {
          g_clear_error (&local_error);
          continue;
        }
      if (n < 0)
        {
          g_propagate_error (error, local_error);
          return FALSE;
        }
      if (n == 0)
        {
          g_set_error (error, MITOGEN_STREAM_ERROR,
                       MITOGEN_STREAM_ERROR_DISCONNECTED,
                       "End of file reading file descriptor %d", fd);
          return FALSE;
        }
      if (!func (buf, (gsize) n, user_data))
        return TRUE;
    }
}

/**
 * mitogen_write_all:
 * @fd: file descriptor to write to
 * @data: (array length=len): bytes to write
 * @len: how many
 * @deadline: monotonic time after which to give up, or -1
 * @error: return location for an error
 *
 * Writes all of @data to @fd, blocking or not.
 *
 * Returns: %TRUE once everything is written; %FALSE with
 *   %MITOGEN_TIMEOUT_ERROR_TIMED_OUT when @deadline passed first, or
 *   %MITOGEN_STREAM_ERROR_DISCONNECTED when the reader went away
 */
gboolean
mitogen_write_all (int fd,
                   const guint8 *data,
                   gsize len,
                   gint64 deadline,
                   GError **error)
{
  int flags = fcntl (fd, F_GETFL);
  gboolean ok;

  /* On a blocking descriptor write() waits until everything fits, past
   * any deadline; so write without blocking and let poll() do the
   * waiting. */
  if (deadline < 0 || flags < 0 || (flags & O_NONBLOCK))
    return write_all_nonblocking (fd, data, len, deadline, error);

  fcntl (fd, F_SETFL, flags | O_NONBLOCK);
  ok = write_all_nonblocking (fd, data, len, deadline, error);
  fcntl (fd, F_SETFL, flags);
  return ok;
}

static gboolean
write_all_nonblocking (int fd,
                       const guint8 *data,
                       gsize len,
                       gint64 deadline,
                       GError **error)
{
  gsize written = 0;

  while (written < len)
    {
      IoArgs args = { fd, (guint8 *) data + written, len - written };
      gboolean disconnected;
      GError *local_error = NULL;
      gssize n;

      if (!mitogen_wait_fd (fd, G_IO_OUT, deadline, error))
        return FALSE;

      n = mitogen_io_op (write_once, &args, &disconnected, &local_error);
      if (n < 0 && g_error_matches (local_error, G_IO_ERROR,
                                    G_IO_ERROR_WOULD_BLOCK))
        {
          g_clear_error (&local_error);
          continue;
        }
      if (n < 0)
        {
          g_propagate_error (error, local_error);
          return FALSE;
        }
      if (disconnected)
        {
          g_set_error (error, MITOGEN_STREAM_ERROR,
                       MITOGEN_STREAM_ERROR_DISCONNECTED,
                       "File descriptor %d disconnected after %" G_GSIZE_FORMAT
                       " of %" G_GSIZE_FORMAT " bytes", fd, written, len);
          return FALSE;
        }
      written += (gsize) n;
    }

  return TRUE;
}

static void
child_setup_new_session (gpointer user_data)
{
  /* A session of its own keeps terminal signals meant for the master (^C)
   * away from the child; the master decides when children end. */
  setsid ();
}

static void
child_setup_controlling_tty (gpointer user_data)
{
  setsid ();
  /* stdin is the pty's slave end by now: make it the controlling tty so
   * that programs which open /dev/tty (sudo, ssh) find it. */
  ioctl (STDIN_FILENO, TIOCSCTTY, 0);
}

static gboolean
spawn_with_fds (const gchar * const *argv,
                const gchar * const *envp,
                GSpawnChildSetupFunc child_setup,
                int stdin_fd,
                int stdout_fd,
                int stderr_fd,
                GPid *out_pid,
                GError **error)
{
  GError *local_error = NULL;

  if (!g_spawn_async_with_pipes_and_fds (NULL, argv, envp,
                                         G_SPAWN_DO_NOT_REAP_CHILD |
                                         G_SPAWN_SEARCH_PATH,
                                         child_setup, NULL,
                                         stdin_fd, stdout_fd, stderr_fd,
                                         NULL, NULL, 0,
                                         out_pid, NULL, NULL, NULL,
                                         &local_error))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "Could not start %s: %s", argv[0], local_error->message);
      g_error_free (local_error);
      return FALSE;
    }
  return TRUE;
}

static void
set_socket_buffers (int fd)
{
  /* Only a hint; failure is harmless. */
  int size = SOCKET_BUFFER_SIZE;

  setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

static gboolean
create_child_on_socket (const gchar * const *argv,
                        const gchar * const *envp,
                        gboolean merge_stderr,
                        GPid *out_pid,
                        int *out_fd,
                        int *out_stderr_fd,
                        GError **error)
{
  int sv[2];
  int errpipe[2] = { -1, -1 };
  gboolean ok;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, FALSE);

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                   "socketpair() failed: %s", g_strerror (errsv));
      return FALSE;
    }
  set_socket_buffers (sv[0]);
  set_socket_buffers (sv[1]);
  if (out_stderr_fd && !g_unix_open_pipe (errpipe, FD_CLOEXEC, error))
    {
      close (sv[0]);
      close (sv[1]);
      return FALSE;
    }

  ok = spawn_with_fds (argv, envp, child_setup_new_session, sv[1], sv[1],
                       merge_stderr ? sv[1] : errpipe[1], out_pid, error);
  close (sv[1]);
  if (errpipe[1] >= 0)
    close (errpipe[1]);

  if (!ok)
    {
      close (sv[0]);
      if (errpipe[0] >= 0)
        close (errpipe[0]);
      return FALSE;
    }

  *out_fd = sv[0];
  if (out_stderr_fd)
    *out_stderr_fd = errpipe[0];
  return TRUE;
}

/**
 * mitogen_create_child:
 * @argv: (array zero-terminated=1): the command line; searched in `PATH`
 * @envp: (array zero-terminated=1) (nullable): the environment, or %NULL to
 *   inherit this one
 * @out_pid: (out): the child's pid; reap it, with [class@ProcessMonitor] say
 * @out_fd: (out): this end of a socket whose other end is the child's stdin
 *   and stdout
 * @out_stderr_fd: (out) (optional): if not %NULL, the read end of a pipe on
 *   the child's stderr; otherwise the child shares this process's stderr
 * @error: return location for an error
 *
 * Starts a child process whose stdin and stdout are connected to a socket.
 *
 * Returns: %TRUE on success
 */
gboolean
mitogen_create_child (const gchar * const *argv,
                      const gchar * const *envp,
                      GPid *out_pid,
                      int *out_fd,
                      int *out_stderr_fd,
                      GError **error)
{
  return create_child_on_socket (argv, envp, FALSE, out_pid, out_fd,
                                 out_stderr_fd, error);
}

/**
 * mitogen_create_child_merged:
 * @argv: (array zero-terminated=1): the command line; searched in `PATH`
 * @envp: (array zero-terminated=1) (nullable): the environment, or %NULL to
 *   inherit this one
 * @out_pid: (out): the child's pid
 * @out_fd: (out): this end of a socket whose other end is the child's
 *   stdin, stdout and stderr
 * @error: return location for an error
 *
 * Like mitogen_create_child(), with the child's complaints in the same
 * stream as its output, as they are on a terminal, but without a
 * terminal's small buffer between the two: for programs (ssh in batch
 * mode, sudo -n) whose errors must be read before a bootstrap starts.
 *
 * Returns: %TRUE on success
 */
gboolean
mitogen_create_child_merged (const gchar * const *argv,
                             const gchar * const *envp,
                             GPid *out_pid,
                             int *out_fd,
                             GError **error)
{
  return create_child_on_socket (argv, envp, TRUE, out_pid, out_fd, NULL, error);
}

/**
 * mitogen_tty_create_child:
 * @argv: (array zero-terminated=1): the command line; searched in `PATH`
 * @envp: (array zero-terminated=1) (nullable): the environment, or %NULL
 * @out_pid: (out): the child's pid
 * @out_fd: (out): the master end of a pseudo-terminal
 * @error: return location for an error
 *
 * Starts a child whose stdin, stdout and stderr are the slave end of a new
 * pseudo-terminal, which also becomes its controlling TTY, so opening
 * `/dev/tty` in the child succeeds. Programs that insist on asking for a
 * password on a terminal (sudo, ssh) are driven this way.
 *
 * Returns: %TRUE on success
 */
gboolean
mitogen_tty_create_child (const gchar * const *argv,
                          const gchar * const *envp,
                          GPid *out_pid,
                          int *out_fd,
                          GError **error)
{
  int master_fd, slave_fd;
  struct termios tio;
  gboolean ok;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, FALSE);

  if (openpty (&master_fd, &slave_fd, NULL, NULL, NULL) < 0)
    {
      int errsv = errno;
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                   "openpty() failed: %s", g_strerror (errsv));
      return FALSE;
    }
  fcntl (master_fd, F_SETFD, FD_CLOEXEC);

  /* Raw mode: the pty carries the framed protocol once the child's
   * bootstrap is done, and echo would reflect every byte back to us. */
  if (tcgetattr (slave_fd, &tio) == 0)
    {
      cfmakeraw (&tio);
      tcsetattr (slave_fd, TCSANOW, &tio);
    }

  ok = spawn_with_fds (argv, envp, child_setup_controlling_tty, slave_fd,
                       slave_fd, slave_fd, out_pid, error);
  close (slave_fd);
  if (!ok)
    {
      close (master_fd);
      return FALSE;
    }

  *out_fd = master_fd;
  return TRUE;
}
