/* test-io.c: blocking I/O helpers, sides, child creation, process monitor
 *
 * Whatever crosses a process boundary is tested against real processes
 * (sh, wc, pseudo-terminals), and every wait is bounded by a deadline that
 * fails the test rather than by a sleep that hopes.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long any wait for a child may take before the test fails. */
#define SAFETY_TIMEOUT_S ((guint) mitogen_test_scaled_seconds (10))

/* Calls that could block for ever if the code under test is wrong (a
 * deadline ignored, a child that never exits) run under alarm(): SIGALRM's
 * default action kills the test, which then fails in bounded time instead
 * of hanging until the harness's timeout. Generous, as it is only there to
 * catch hangs, and valgrind is slow. */
#define WATCHDOG_S ((guint) mitogen_test_scaled_seconds (60))

static void
watchdog_arm (void)
{
  alarm (WATCHDOG_S);
}

static void
watchdog_disarm (void)
{
  alarm (0);
}

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static gint64
safety_deadline (void)
{
  return g_get_monotonic_time () + SAFETY_TIMEOUT_S * G_USEC_PER_SEC;
}

static gboolean
fd_is_open (int fd)
{
  return fcntl (fd, F_GETFD) >= 0 || errno != EBADF;
}

static void
assert_fd_closed (int fd)
{
  errno = 0;
  g_assert_cmpint (fcntl (fd, F_GETFD), ==, -1);
  g_assert_cmpint (errno, ==, EBADF);
}

static gboolean
fd_is_nonblocking (int fd)
{
  int flags = fcntl (fd, F_GETFL);

  g_assert_cmpint (flags, >=, 0);
  return (flags & O_NONBLOCK) != 0;
}

static gboolean
fd_is_cloexec (int fd)
{
  int flags = fcntl (fd, F_GETFD);

  g_assert_cmpint (flags, >=, 0);
  return (flags & FD_CLOEXEC) != 0;
}

/* Blocking pipe, close-on-exec so that children never inherit it by
 * accident: a leaked write end would hold off EOF for ever. */
static void
make_pipe (int fds[2])
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);
}

static void
close_fd (int *fd)
{
  if (*fd >= 0)
    {
      g_assert_cmpint (close (*fd), ==, 0);
      *fd = -1;
    }
}

/* Reads @fd until end of file, whether it is blocking or not. A pty master
 * reports its slave's last close as EIO, which counts as end of file here.
 * Fails the test if EOF does not come within the safety timeout. */
static GString *
read_to_eof (int fd)
{
  GString *out = g_string_new (NULL);
  gint64 deadline = safety_deadline ();

  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      char buf[4096];
      gint64 left = deadline - g_get_monotonic_time ();
      gssize n;
      int r;

      g_assert_cmpint (left, >, 0);
      r = poll (&pfd, 1, (int) (left / 1000) + 1);
      if (r < 0 && errno == EINTR)
        continue;
      g_assert_cmpint (r, >=, 0);
      if (r == 0)
        continue;

      n = read (fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n < 0 && errno == EIO)
        break;
      g_assert_cmpint (n, >=, 0);
      if (n == 0)
        break;
      g_string_append_len (out, buf, n);
    }

  return out;
}

static gchar *
read_to_eof_str (int fd)
{
  return g_string_free (read_to_eof (fd), FALSE);
}

/* Reaps @pid and returns its raw wait status. */
static int
reap (GPid pid)
{
  int status = 0;
  pid_t r;

  watchdog_arm ();
  do
    r = waitpid (pid, &status, 0);
  while (r < 0 && errno == EINTR);
  watchdog_disarm ();
  g_assert_cmpint (r, ==, pid);
  return status;
}

static void
assert_exited_with (int status,
                    int code)
{
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, code);
}

static guint
count_open_fds (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, &error);
  guint n = 0;

  g_assert_no_error (error);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* Starts `sh -c SCRIPT [sh ARG]` on a socket through mitogen_create_child. */
static void
start_sh (const gchar *script,
          const gchar *arg,
          GPid *out_pid,
          int *out_fd,
          int *out_stderr_fd)
{
  const gchar *argv[] = { "sh", "-c", script, "sh", arg, NULL };
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_create_child (argv, NULL, out_pid, out_fd,
                                       out_stderr_fd, &error));
  g_assert_no_error (error);
  g_assert_cmpint (*out_pid, >, 0);
  g_assert_cmpint (*out_fd, >=, 0);
}

static void
start_tty_sh (const gchar *script,
              GPid *out_pid,
              int *out_fd)
{
  const gchar *argv[] = { "sh", "-c", script, NULL };
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_tty_create_child (argv, NULL, out_pid, out_fd,
                                           &error));
  g_assert_no_error (error);
  g_assert_cmpint (*out_pid, >, 0);
  g_assert_cmpint (*out_fd, >=, 0);
}

/* Runs the whole exchange with a child that reads one line: sends @input,
 * returns everything it printed, and reaps it, expecting exit status 0. */
static gchar *
converse_and_reap (GPid pid,
                   int fd,
                   const gchar *input)
{
  g_autoptr(GError) error = NULL;
  gchar *output;

  if (input != NULL)
    {
      g_assert_true (mitogen_write_all (fd, (const guint8 *) input,
                                        strlen (input), safety_deadline (),
                                        &error));
      g_assert_no_error (error);
    }
  output = read_to_eof_str (fd);
  assert_exited_with (reap (pid), 0);
  return output;
}

/* A script printing the fields of /proc/$$/stat that tell a process's
 * session and controlling tty: "pid sid tty_nr". `read` and `set` are
 * builtins, so $$ is the shell itself and nothing else gets in the way. */
#define SESSION_SCRIPT \
  "read s < /proc/$$/stat; set -- $s; echo \"$1 $6 $7\""

static void
parse_session_line (gchar *line,
                    gint64 *pid,
                    gint64 *sid,
                    gint64 *tty_nr)
{
  g_auto(GStrv) fields = g_strsplit (g_strstrip (line), " ", -1);

  g_assert_cmpuint (g_strv_length (fields), ==, 3);
  *pid = g_ascii_strtoll (fields[0], NULL, 10);
  *sid = g_ascii_strtoll (fields[1], NULL, 10);
  *tty_nr = g_ascii_strtoll (fields[2], NULL, 10);
}

/* ------------------------------------------------------------------------
 * mitogen_io_op()
 * ------------------------------------------------------------------------ */

typedef struct {
  guint n_calls;
  guint n_failures;    /* fail this many times first... */
  int failure_errno;   /* ...with this errno... */
  int final_errno;     /* ...then fail with this, or succeed if 0 */
  gssize result;       /* the success value */
} FakeOp;

static gssize
fake_op (gpointer user_data)
{
  FakeOp *op = user_data;

  op->n_calls++;
  if (op->n_calls <= op->n_failures)
    {
      errno = op->failure_errno;
      return -1;
    }
  if (op->final_errno != 0)
    {
      errno = op->final_errno;
      return -1;
    }
  return op->result;
}

static void
test_errno_is_disconnect (void)
{
  g_assert_true (mitogen_io_errno_is_disconnect (EIO));
  g_assert_true (mitogen_io_errno_is_disconnect (ECONNRESET));
  g_assert_true (mitogen_io_errno_is_disconnect (EPIPE));
  g_assert_false (mitogen_io_errno_is_disconnect (EAGAIN));
  g_assert_false (mitogen_io_errno_is_disconnect (EINTR));
  g_assert_false (mitogen_io_errno_is_disconnect (EBADF));
  g_assert_false (mitogen_io_errno_is_disconnect (0));
}

static void
test_io_op_success (void)
{
  FakeOp op = { .result = 17 };
  g_autoptr(GError) error = NULL;
  gboolean disconnected = TRUE;  /* must be reset, not left as found */

  g_assert_cmpint (mitogen_io_op (fake_op, &op, &disconnected, &error), ==, 17);
  g_assert_no_error (error);
  g_assert_false (disconnected);
  g_assert_cmpuint (op.n_calls, ==, 1);

  /* A 0-byte result is end of file, not disconnection. */
  op = (FakeOp) { .result = 0 };
  disconnected = TRUE;
  g_assert_cmpint (mitogen_io_op (fake_op, &op, &disconnected, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_false (disconnected);
}

static void
test_io_op_disconnect (void)
{
  const int errnos[] = { EPIPE, ECONNRESET, EIO };

  for (gsize i = 0; i < G_N_ELEMENTS (errnos); i++)
    {
      FakeOp op = { .final_errno = errnos[i] };
      g_autoptr(GError) error = NULL;
      gboolean disconnected = FALSE;

      g_test_message ("errno %d (%s)", errnos[i], g_strerror (errnos[i]));
      g_assert_cmpint (mitogen_io_op (fake_op, &op, &disconnected, &error),
                       ==, 0);
      g_assert_no_error (error);
      g_assert_true (disconnected);
      g_assert_cmpuint (op.n_calls, ==, 1);

      /* @disconnected is optional. */
      op = (FakeOp) { .final_errno = errnos[i] };
      g_assert_cmpint (mitogen_io_op (fake_op, &op, NULL, &error), ==, 0);
      g_assert_no_error (error);
    }
}

static void
test_io_op_would_block (void)
{
  FakeOp op = { .final_errno = EAGAIN };
  g_autoptr(GError) error = NULL;
  gboolean disconnected = TRUE;

  g_assert_cmpint (mitogen_io_op (fake_op, &op, &disconnected, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_false (disconnected);
  /* EAGAIN is the caller's to handle: retrying here would spin. */
  g_assert_cmpuint (op.n_calls, ==, 1);
}

static void
test_io_op_eintr_retried (void)
{
  FakeOp op = { .n_failures = 2, .failure_errno = EINTR, .result = 42 };
  g_autoptr(GError) error = NULL;
  gboolean disconnected = TRUE;

  g_assert_cmpint (mitogen_io_op (fake_op, &op, &disconnected, &error), ==, 42);
  g_assert_no_error (error);
  g_assert_false (disconnected);
  g_assert_cmpuint (op.n_calls, ==, 3);

  /* A disconnection after an interruption is still a disconnection. */
  op = (FakeOp) { .n_failures = 1, .failure_errno = EINTR,
                  .final_errno = EPIPE };
  g_assert_cmpint (mitogen_io_op (fake_op, &op, &disconnected, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_true (disconnected);
  g_assert_cmpuint (op.n_calls, ==, 2);
}

static void
test_io_op_other_errno (void)
{
  const struct {
    int errsv;
    GIOErrorEnum code;
  } cases[] = {
    { ENOENT, G_IO_ERROR_NOT_FOUND },
    { EACCES, G_IO_ERROR_PERMISSION_DENIED },
    { ENOSPC, G_IO_ERROR_NO_SPACE },
    { EINVAL, G_IO_ERROR_INVALID_ARGUMENT },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      FakeOp op = { .final_errno = cases[i].errsv };
      g_autoptr(GError) error = NULL;
      gboolean disconnected = TRUE;

      g_assert_cmpint (mitogen_io_op (fake_op, &op, &disconnected, &error),
                       ==, -1);
      g_assert_error (error, G_IO_ERROR, (gint) cases[i].code);
      g_assert_cmpstr (error->message, ==, g_strerror (cases[i].errsv));
      g_assert_false (disconnected);
      g_assert_cmpuint (op.n_calls, ==, 1);
    }
}

/* ------------------------------------------------------------------------
 * mitogen_iter_read()
 * ------------------------------------------------------------------------ */

#define PAYLOAD_LEN 10000

/* Varied bytes, so that a lost, duplicated or reordered chunk shows. No
 * '%' or '\\': the payload goes through printf's argument, not its format,
 * but there is no need to tempt anything. */
static gchar *
make_payload (gsize len)
{
  static const char alphabet[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  gchar *p = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    p[i] = alphabet[(i * 7 + i / 61) % (sizeof alphabet - 1)];
  p[len] = '\0';
  return p;
}

typedef struct {
  GString *data;
  gsize want;          /* stop once this much arrived */
  guint n_calls;
  gsize max_chunk;
} Collector;

static gboolean
collect_until_enough (const guint8 *data,
                      gsize len,
                      gpointer user_data)
{
  Collector *c = user_data;

  g_assert_cmpuint (len, >, 0);
  c->n_calls++;
  c->max_chunk = MAX (c->max_chunk, len);
  g_string_append_len (c->data, (const gchar *) data, (gssize) len);
  return c->data->len < c->want;
}

static gboolean
collect_once (const guint8 *data,
              gsize len,
              gpointer user_data)
{
  Collector *c = user_data;

  c->n_calls++;
  g_string_append_len (c->data, (const gchar *) data, (gssize) len);
  return FALSE;
}

static void
test_iter_read_child_payload (void)
{
  g_autofree gchar *payload = make_payload (PAYLOAD_LEN);
  g_autoptr(GString) data = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  Collector c = { .data = data, .want = PAYLOAD_LEN };
  GPid pid;
  int fd;

  start_sh ("printf %s \"$1\"", payload, &pid, &fd, NULL);

  g_assert_true (mitogen_iter_read (fd, safety_deadline (),
                                    collect_until_enough, &c, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (data->len, ==, PAYLOAD_LEN);
  g_assert_cmpmem (data->str, data->len, payload, PAYLOAD_LEN);
  /* 10,000 bytes cannot come in one chunk of the documented 4096 most. */
  g_assert_cmpuint (c.n_calls, >=, 3);
  g_assert_cmpuint (c.max_chunk, <=, 4096);

  /* Nothing beyond the payload: the next read is the child's EOF. */
  g_assert_false (mitogen_iter_read (fd, safety_deadline (),
                                     collect_until_enough, &c, &error));
  g_assert_error (error, MITOGEN_STREAM_ERROR,
                  MITOGEN_STREAM_ERROR_DISCONNECTED);
  g_assert_cmpuint (data->len, ==, PAYLOAD_LEN);

  close_fd (&fd);
  assert_exited_with (reap (pid), 0);
}

static void
test_iter_read_stop_early (void)
{
  g_autofree gchar *payload = make_payload (PAYLOAD_LEN);
  g_autoptr(GString) data = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  Collector c = { .data = data };
  GPid pid;
  int fd;

  start_sh ("printf %s \"$1\"", payload, &pid, &fd, NULL);

  g_assert_true (mitogen_iter_read (fd, safety_deadline (),
                                    collect_once, &c, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (c.n_calls, ==, 1);
  g_assert_cmpuint (data->len, >, 0);
  g_assert_cmpmem (data->str, data->len, payload, data->len);

  /* The child may die writing the rest to a closed socket; only that it
   * ends matters. */
  close_fd (&fd);
  reap (pid);
}

static void
test_iter_read_timeout (void)
{
  g_autoptr(GString) data = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  Collector c = { .data = data, .want = 1 };
  gint64 start, deadline, end;
  int fds[2];

  /* The write end stays open and silent: no data, no EOF. */
  make_pipe (fds);
  start = g_get_monotonic_time ();
  deadline = start + 100 * 1000;

  watchdog_arm ();
  g_assert_false (mitogen_iter_read (fds[0], deadline, collect_until_enough,
                                     &c, &error));
  end = g_get_monotonic_time ();
  watchdog_disarm ();

  g_assert_error (error, MITOGEN_TIMEOUT_ERROR,
                  MITOGEN_TIMEOUT_ERROR_TIMED_OUT);
  g_assert_cmpuint (c.n_calls, ==, 0);
  g_assert_cmpint (end, >=, deadline);
  /* Generous, but catches a deadline taken in the wrong unit. */
  g_assert_cmpint (end - start, <, mitogen_test_scaled (5 * G_USEC_PER_SEC));

  close_fd (&fds[0]);
  close_fd (&fds[1]);
}

static void
test_iter_read_eof (void)
{
  g_autoptr(GString) data = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  Collector c = { .data = data, .want = G_MAXSIZE };
  int fds[2];

  make_pipe (fds);
  g_assert_cmpint (write (fds[1], "abc", 3), ==, 3);
  close_fd (&fds[1]);

  /* What was written is delivered before the end is reported. */
  g_assert_false (mitogen_iter_read (fds[0], safety_deadline (),
                                     collect_until_enough, &c, &error));
  g_assert_error (error, MITOGEN_STREAM_ERROR,
                  MITOGEN_STREAM_ERROR_DISCONNECTED);
  g_assert_cmpstr (data->str, ==, "abc");

  close_fd (&fds[0]);
}

/* ------------------------------------------------------------------------
 * mitogen_write_all()
 * ------------------------------------------------------------------------ */

#define BIG_LEN (4 * 1024 * 1024)

static void
test_write_all_child_counts (void)
{
  g_autofree guint8 *data = (guint8 *) make_payload (BIG_LEN);
  g_autofree gchar *reply = NULL;
  g_autoptr(GError) error = NULL;
  GPid pid;
  int fd;

  start_sh ("wc -c", NULL, &pid, &fd, NULL);

  /* The socket blocks, so the deadline alone cannot stop a stuck write. */
  watchdog_arm ();
  g_assert_true (mitogen_write_all (fd, data, BIG_LEN, safety_deadline (),
                                    &error));
  watchdog_disarm ();
  g_assert_no_error (error);
  /* wc counts until EOF; the socket is its stdout too, so only shut our
   * sending half to hear the reply. */
  g_assert_cmpint (shutdown (fd, SHUT_WR), ==, 0);

  reply = read_to_eof_str (fd);
  g_assert_cmpstr (g_strstrip (reply), ==, "4194304");

  close_fd (&fd);
  assert_exited_with (reap (pid), 0);
}

static void
test_write_all_timeout (void)
{
  g_autofree guint8 *data = g_malloc0 (BIG_LEN);
  g_autoptr(GError) error = NULL;
  gint64 start, deadline, end;
  int fds[2];
  int queued = -1;
  int capacity;

  /* The write end must be non-blocking: a blocking write() into a full
   * pipe would sleep past any deadline. */
  make_pipe (fds);
  g_assert_true (mitogen_set_nonblocking (fds[1], TRUE, &error));
  g_assert_no_error (error);
  capacity = fcntl (fds[1], F_GETPIPE_SZ);
  g_assert_cmpint (capacity, >, 0);
  g_assert_cmpint (capacity, <, BIG_LEN);

  start = g_get_monotonic_time ();
  deadline = start + 100 * 1000;
  watchdog_arm ();
  g_assert_false (mitogen_write_all (fds[1], data, BIG_LEN, deadline, &error));
  end = g_get_monotonic_time ();
  watchdog_disarm ();

  g_assert_error (error, MITOGEN_TIMEOUT_ERROR,
                  MITOGEN_TIMEOUT_ERROR_TIMED_OUT);
  g_assert_cmpint (end, >=, deadline);
  g_assert_cmpint (end - start, <, mitogen_test_scaled (5 * G_USEC_PER_SEC));

  /* It wrote what fitted before giving up. */
  g_assert_cmpint (ioctl (fds[0], FIONREAD, &queued), ==, 0);
  g_assert_cmpint (queued, ==, capacity);

  close_fd (&fds[0]);
  close_fd (&fds[1]);
}

static void
test_write_all_closed_reader (void)
{
  static const guint8 data[] = "nobody hears this";
  g_autoptr(GError) error = NULL;
  int fds[2];

  make_pipe (fds);
  close_fd (&fds[0]);

  g_assert_false (mitogen_write_all (fds[1], data, sizeof data,
                                     safety_deadline (), &error));
  g_assert_error (error, MITOGEN_STREAM_ERROR,
                  MITOGEN_STREAM_ERROR_DISCONNECTED);

  close_fd (&fds[1]);
}

static void
test_write_all_reader_dies_midway (void)
{
  g_autofree guint8 *data = g_malloc0 (BIG_LEN);
  g_autoptr(GError) error = NULL;
  GPid pid;
  int fd;

  /* head stops reading after 1000 bytes and exits, long before 4 MiB have
   * gone through the socket. */
  start_sh ("head -c 1000 >/dev/null", NULL, &pid, &fd, NULL);

  watchdog_arm ();
  g_assert_false (mitogen_write_all (fd, data, BIG_LEN, safety_deadline (),
                                     &error));
  watchdog_disarm ();
  g_assert_error (error, MITOGEN_STREAM_ERROR,
                  MITOGEN_STREAM_ERROR_DISCONNECTED);

  close_fd (&fd);
  assert_exited_with (reap (pid), 0);
}

/* ------------------------------------------------------------------------
 * MitogenSide
 * ------------------------------------------------------------------------ */

static void
test_side_construction (void)
{
  g_autoptr(MitogenSide) side = NULL;
  int fds[2];

  make_pipe (fds);
  g_assert_false (fd_is_nonblocking (fds[0]));

  side = mitogen_side_new (NULL, fds[0], TRUE);

  /* The broker polls the side; a blocking fd would stall it. */
  g_assert_true (fd_is_nonblocking (fds[0]));
  g_assert_cmpint (mitogen_side_get_fd (side), ==, fds[0]);
  g_assert_null (mitogen_side_get_stream (side));
  g_assert_true (mitogen_side_get_keep_alive (side));
  g_assert_false (mitogen_side_is_closed (side));

  g_clear_object (&side);
  side = mitogen_side_new (NULL, fds[1], FALSE);
  g_assert_false (mitogen_side_get_keep_alive (side));
}

static void
test_side_fileno_and_close (void)
{
  g_autoptr(MitogenSide) side = NULL;
  g_autoptr(GError) error = NULL;
  guint8 buf[4];
  int fds[2];

  make_pipe (fds);
  side = mitogen_side_new (NULL, fds[1], FALSE);

  g_assert_cmpint (mitogen_side_fileno (side, &error), ==, fds[1]);
  g_assert_no_error (error);

  mitogen_side_close (side);
  assert_fd_closed (fds[1]);
  g_assert_true (mitogen_side_is_closed (side));
  g_assert_cmpint (mitogen_side_get_fd (side), ==, -1);

  g_assert_cmpint (mitogen_side_fileno (side, &error), ==, -1);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_cmpint (mitogen_side_read (side, buf, sizeof buf, &error), ==, -1);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_cmpint (mitogen_side_write (side, (const guint8 *) "x", 1, &error),
                   ==, -1);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CLOSED);

  close_fd (&fds[0]);
}

static void
test_side_owns_fd (void)
{
  MitogenSide *side;
  int fds[2];

  make_pipe (fds);
  side = mitogen_side_new (NULL, fds[0], FALSE);
  g_assert_true (fd_is_open (fds[0]));

  g_object_unref (side);
  assert_fd_closed (fds[0]);

  close_fd (&fds[1]);
}

static void
test_side_close_idempotent (void)
{
  MitogenSide *side;
  int fds[2];
  int other[2];
  int old_fd;

  make_pipe (fds);
  make_pipe (other);
  old_fd = fds[0];
  side = mitogen_side_new (NULL, fds[0], FALSE);
  mitogen_side_close (side);
  assert_fd_closed (old_fd);

  /* Someone else now owns that number; a second close, explicit or at
   * finalization, must not take it away from them. */
  g_assert_cmpint (dup2 (other[0], old_fd), ==, old_fd);

  mitogen_side_close (side);
  g_assert_true (fd_is_open (old_fd));
  g_object_unref (side);
  g_assert_true (fd_is_open (old_fd));

  close_fd (&old_fd);
  close_fd (&other[0]);
  close_fd (&other[1]);
  close_fd (&fds[1]);
}

static void
test_side_read_would_block (void)
{
  g_autoptr(MitogenSide) side = NULL;
  g_autoptr(GError) error = NULL;
  guint8 buf[16];
  int fds[2];

  make_pipe (fds);
  side = mitogen_side_new (NULL, fds[0], FALSE);

  g_assert_cmpint (mitogen_side_read (side, buf, sizeof buf, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);

  /* And once there is something, it comes. */
  g_assert_cmpint (write (fds[1], "hi", 2), ==, 2);
  g_assert_cmpint (mitogen_side_read (side, buf, sizeof buf, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, 2, "hi", 2);

  close_fd (&fds[1]);
}

static void
test_side_read_eof (void)
{
  g_autoptr(MitogenSide) side = NULL;
  g_autoptr(GError) error = NULL;
  guint8 buf[16];
  int fds[2];

  make_pipe (fds);
  side = mitogen_side_new (NULL, fds[0], FALSE);
  g_assert_cmpint (write (fds[1], "last", 4), ==, 4);
  close_fd (&fds[1]);

  g_assert_cmpint (mitogen_side_read (side, buf, sizeof buf, &error), ==, 4);
  g_assert_no_error (error);
  g_assert_cmpint (mitogen_side_read (side, buf, sizeof buf, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_false (mitogen_side_is_closed (side));
}

/* A pty master whose slave's last holder exited reads EIO on Linux; the
 * side must report that as the end of the stream, like a pipe's EOF. */
static void
test_side_read_pty_eio (void)
{
  g_autoptr(MitogenSide) side = NULL;
  g_autoptr(GError) error = NULL;
  guint8 buf[256];
  gint64 deadline;
  GPid pid;
  int master;
  gssize n;

  start_tty_sh ("exit 0", &pid, &master);
  assert_exited_with (reap (pid), 0);

  side = mitogen_side_new (NULL, master, FALSE);
  deadline = safety_deadline ();
  do
    {
      n = mitogen_side_read (side, buf, sizeof buf, &error);
      if (n < 0 && g_error_matches (error, G_IO_ERROR,
                                    G_IO_ERROR_WOULD_BLOCK))
        {
          g_clear_error (&error);
          g_assert_true (mitogen_wait_fd (master, G_IO_IN, deadline, &error));
          g_assert_no_error (error);
          n = 1;
        }
      g_assert_no_error (error);
    }
  while (n > 0);

  g_assert_cmpint (n, ==, 0);
  g_assert_no_error (error);

  /* Prove it was EIO that the side masked, not some real EOF. */
  errno = 0;
  g_assert_cmpint (read (master, buf, sizeof buf), ==, -1);
  g_assert_cmpint (errno, ==, EIO);
}

static void
assert_side_write_disconnected (MitogenSide *side)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (mitogen_side_write (side, (const guint8 *) "more", 4,
                                       &error), ==, -1);
  g_assert_error (error, MITOGEN_STREAM_ERROR,
                  MITOGEN_STREAM_ERROR_DISCONNECTED);
}

static void
test_side_write_reader_closed (void)
{
  g_autoptr(MitogenSide) side = NULL;
  int fds[2];

  make_pipe (fds);
  side = mitogen_side_new (NULL, fds[1], FALSE);
  close_fd (&fds[0]);

  assert_side_write_disconnected (side);
  g_assert_false (mitogen_side_is_closed (side));
}

/* The pipe's only reader is another process, which is killed. */
static void
test_side_write_reader_killed (void)
{
  const gchar *argv[] = { "sh", "-c", "read x", NULL };
  g_autoptr(MitogenSide) side = NULL;
  g_autoptr(GError) error = NULL;
  int fds[2];
  int status;
  GPid pid;

  make_pipe (fds);
  g_assert_true (g_spawn_async_with_pipes_and_fds (NULL, argv, NULL,
                                                   G_SPAWN_SEARCH_PATH |
                                                   G_SPAWN_DO_NOT_REAP_CHILD,
                                                   NULL, NULL,
                                                   fds[0], -1, -1,
                                                   NULL, NULL, 0,
                                                   &pid, NULL, NULL, NULL,
                                                   &error));
  g_assert_no_error (error);
  close_fd (&fds[0]);

  side = mitogen_side_new (NULL, fds[1], FALSE);
  /* No newline: the child keeps waiting for one. */
  g_assert_cmpint (mitogen_side_write (side, (const guint8 *) "abc", 3,
                                       &error), ==, 3);
  g_assert_no_error (error);

  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  status = reap (pid);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);

  assert_side_write_disconnected (side);
}

/* The same over a socket, as mitogen_create_child() makes. */
static void
test_side_write_socket_peer_killed (void)
{
  g_autoptr(MitogenSide) side = NULL;
  g_autoptr(GError) error = NULL;
  int status;
  GPid pid;
  int fd;

  start_sh ("read x", NULL, &pid, &fd, NULL);
  side = mitogen_side_new (NULL, fd, FALSE);
  g_assert_cmpint (mitogen_side_write (side, (const guint8 *) "abc", 3,
                                       &error), ==, 3);
  g_assert_no_error (error);

  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  status = reap (pid);
  g_assert_true (WIFSIGNALED (status));

  assert_side_write_disconnected (side);
}

static void
test_side_write_full (void)
{
  g_autoptr(MitogenSide) side = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *chunk = g_malloc0 (MITOGEN_CHUNK_SIZE);
  gsize total = 0;
  int capacity;
  int fds[2];
  gssize n = -1;

  make_pipe (fds);
  capacity = fcntl (fds[1], F_GETPIPE_SZ);
  g_assert_cmpint (capacity, >, 0);
  side = mitogen_side_new (NULL, fds[1], FALSE);

  /* Bounded: a side that blocked or never said "full" would spin here. */
  for (guint i = 0; i < 64; i++)
    {
      n = mitogen_side_write (side, chunk, MITOGEN_CHUNK_SIZE, &error);
      g_assert_no_error (error);
      g_assert_cmpint (n, >=, 0);
      if (n == 0)
        break;
      total += (gsize) n;
    }

  g_assert_cmpint (n, ==, 0);
  g_assert_cmpuint (total, ==, (gsize) capacity);

  /* Room again once the reader takes some. */
  g_assert_cmpint (read (fds[0], chunk, 4096), ==, 4096);
  g_assert_cmpint (mitogen_side_write (side, chunk, 1, &error), ==, 1);
  g_assert_no_error (error);

  close_fd (&fds[0]);
}

static void
test_side_writev (void)
{
  g_autoptr(MitogenSide) side = NULL;
  g_autoptr(GError) error = NULL;
  struct iovec iov[] = {
    { (void *) "hello, ", 7 },
    { (void *) "world", 5 },
  };
  char buf[32] = { 0 };
  int fds[2];

  make_pipe (fds);
  side = mitogen_side_new (NULL, fds[1], FALSE);

  g_assert_cmpint (mitogen_side_writev (side, iov, G_N_ELEMENTS (iov), &error),
                   ==, 12);
  g_assert_no_error (error);
  g_assert_cmpint (read (fds[0], buf, sizeof buf), ==, 12);
  g_assert_cmpstr (buf, ==, "hello, world");

  close_fd (&fds[0]);
}

/* ------------------------------------------------------------------------
 * mitogen_create_child()
 * ------------------------------------------------------------------------ */

static void
test_child_stdio_socket (void)
{
  g_autofree gchar *output = NULL;
  GPid pid;
  int fd;

  start_sh ("read x; echo got:$x", NULL, &pid, &fd, NULL);

  /* One descriptor carries both ways. */
  output = converse_and_reap (pid, fd, "hello\n");
  g_assert_cmpstr (output, ==, "got:hello\n");

  close_fd (&fd);
}

static void
test_child_stderr (void)
{
  g_autofree gchar *output = NULL;
  g_autofree gchar *errors = NULL;
  GPid pid;
  int fd;
  int err_fd = -1;

  start_sh ("echo out; echo oops >&2", NULL, &pid, &fd, &err_fd);
  g_assert_cmpint (err_fd, >=, 0);
  g_assert_cmpint (err_fd, !=, fd);
  g_assert_true (fd_is_cloexec (err_fd));

  /* stderr is apart from the socket: each says only its own line. */
  output = read_to_eof_str (fd);
  errors = read_to_eof_str (err_fd);
  g_assert_cmpstr (output, ==, "out\n");
  g_assert_cmpstr (errors, ==, "oops\n");
  assert_exited_with (reap (pid), 0);

  close_fd (&fd);
  close_fd (&err_fd);
}

static void
test_child_no_such_program (void)
{
  const gchar *argv[] = { "mitogen-test-no-such-program", "arg", NULL };
  g_autoptr(GError) error = NULL;
  guint n_fds_before = count_open_fds ();
  GPid pid = 0;
  int fd = -1;
  int err_fd = -1;

  g_assert_false (mitogen_create_child (argv, NULL, &pid, &fd, &err_fd,
                                        &error));
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "mitogen-test-no-such-program"));
  g_assert_cmpint (fd, ==, -1);
  g_assert_cmpint (err_fd, ==, -1);
  /* The socket and pipe made for the child are gone with it. */
  g_assert_cmpuint (count_open_fds (), ==, n_fds_before);
  g_clear_error (&error);

  g_assert_false (mitogen_tty_create_child (argv, NULL, &pid, &fd, &error));
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "mitogen-test-no-such-program"));
  g_assert_cmpint (fd, ==, -1);
  g_assert_cmpuint (count_open_fds (), ==, n_fds_before);
}

static void
test_child_fd_cloexec (void)
{
  g_autofree gchar *output = NULL;
  GPid pid;
  int fd;

  /* Otherwise every later child would inherit this one's socket and keep
   * it from seeing EOF. */
  start_sh ("read x", NULL, &pid, &fd, NULL);
  g_assert_true (fd_is_cloexec (fd));

  output = converse_and_reap (pid, fd, "\n");
  g_assert_cmpstr (output, ==, "");
  close_fd (&fd);
}

static void
test_child_new_session (void)
{
  g_autofree gchar *output = NULL;
  gint64 child_pid, sid, tty_nr;
  GPid pid;
  int fd;

  start_sh (SESSION_SCRIPT, NULL, &pid, &fd, NULL);
  output = converse_and_reap (pid, fd, NULL);
  close_fd (&fd);

  parse_session_line (output, &child_pid, &sid, &tty_nr);
  g_assert_cmpint (child_pid, ==, pid);
  /* A session of its own and no controlling tty: ^C typed at the master's
   * terminal does not reach it. */
  g_assert_cmpint (sid, ==, pid);
  g_assert_cmpint (tty_nr, ==, 0);
}

static void
test_child_envp (void)
{
  const gchar *argv[] = { "sh", "-c", "echo \"$MITOGEN_TEST_VAR\"", NULL };
  const gchar *envp[] = { "MITOGEN_TEST_VAR=from-envp", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree gchar *output = NULL;
  GPid pid;
  int fd;

  g_assert_true (mitogen_create_child (argv, envp, &pid, &fd, NULL, &error));
  g_assert_no_error (error);
  output = converse_and_reap (pid, fd, NULL);
  g_assert_cmpstr (output, ==, "from-envp\n");
  close_fd (&fd);
}

static void
run_one_short_child (gboolean with_stderr)
{
  g_autofree gchar *output = NULL;
  g_autofree gchar *errors = NULL;
  GPid pid;
  int fd;
  int err_fd = -1;

  /* Without a stderr pipe the child shares ours: keep it quiet then. */
  start_sh (with_stderr ? "read x; echo got:$x; echo e >&2"
                        : "read x; echo got:$x",
            NULL, &pid, &fd, with_stderr ? &err_fd : NULL);
  if (with_stderr)
    {
      g_autoptr(GError) error = NULL;

      /* Write before draining stderr, or the child never gets past read. */
      g_assert_true (mitogen_write_all (fd, (const guint8 *) "x\n", 2,
                                        safety_deadline (), &error));
      g_assert_no_error (error);
      errors = read_to_eof_str (err_fd);
      g_assert_cmpstr (errors, ==, "e\n");
      close_fd (&err_fd);
      output = converse_and_reap (pid, fd, NULL);
    }
  else
    {
      output = converse_and_reap (pid, fd, "x\n");
    }
  g_assert_cmpstr (output, ==, "got:x\n");
  close_fd (&fd);
}

static void
test_child_no_fd_leak (void)
{
  guint n_before;

  /* One first, so that whatever GLib sets up once for spawning is not
   * counted as a leak. */
  run_one_short_child (TRUE);
  n_before = count_open_fds ();

  for (guint i = 0; i < 50; i++)
    run_one_short_child (i % 2 == 0);

  g_assert_cmpuint (count_open_fds (), ==, n_before);
}

/* ------------------------------------------------------------------------
 * mitogen_tty_create_child()
 * ------------------------------------------------------------------------ */

static void
test_tty_controlling_tty (void)
{
  g_autofree gchar *output = NULL;
  GPid pid;
  int master;

  /* sudo and ssh open /dev/tty to ask for passwords; that only works when
   * the pty is the controlling tty. Were it not, the shell's complaint
   * would arrive on the pty instead (its stderr). */
  start_tty_sh ("echo ok > /dev/tty", &pid, &master);
  g_assert_true (fd_is_cloexec (master));

  output = read_to_eof_str (master);
  /* Raw mode: no "\r\n" translation. */
  g_assert_cmpstr (output, ==, "ok\n");
  assert_exited_with (reap (pid), 0);
  close_fd (&master);
}

static void
test_tty_stdio_is_tty (void)
{
  g_autofree gchar *output = NULL;
  GPid pid;
  int master;

  start_tty_sh ("test -t 0 && test -t 1 && test -t 2 && echo tty",
                &pid, &master);
  output = read_to_eof_str (master);
  g_assert_cmpstr (output, ==, "tty\n");
  assert_exited_with (reap (pid), 0);
  close_fd (&master);
}

static void
test_tty_session_leader (void)
{
  g_autofree gchar *output = NULL;
  gint64 child_pid, sid, tty_nr;
  GPid pid;
  int master;

  start_tty_sh (SESSION_SCRIPT, &pid, &master);
  output = read_to_eof_str (master);
  assert_exited_with (reap (pid), 0);
  close_fd (&master);

  parse_session_line (output, &child_pid, &sid, &tty_nr);
  g_assert_cmpint (child_pid, ==, pid);
  g_assert_cmpint (sid, ==, pid);
  g_assert_cmpint (tty_nr, !=, 0);
}

static void
test_tty_no_echo (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *output = NULL;
  GPid pid;
  int master;

  /* The pty later carries the binary protocol: the terminal must neither
   * echo what we send nor translate it. */
  start_tty_sh ("read x; echo got:$x", &pid, &master);
  g_assert_true (mitogen_write_all (master, (const guint8 *) "hi\n", 3,
                                    safety_deadline (), &error));
  g_assert_no_error (error);

  output = read_to_eof_str (master);
  g_assert_cmpstr (output, ==, "got:hi\n");
  assert_exited_with (reap (pid), 0);
  close_fd (&master);
}

/* ------------------------------------------------------------------------
 * MitogenProcessMonitor
 * ------------------------------------------------------------------------ */

typedef struct {
  MitogenProcessMonitor *monitor;
  GPid pid;
  gint status;
  guint n_calls;
  guint n_destroyed;
  guint n_watched_in_callback;
  GMainContext *ran_in;
} ExitRecord;

static void
on_process_exit (GPid pid,
                 gint wait_status,
                 gpointer user_data)
{
  ExitRecord *rec = user_data;

  rec->n_calls++;
  rec->pid = pid;
  rec->status = wait_status;
  rec->ran_in = g_source_get_context (g_main_current_source ());
  if (rec->monitor != NULL)
    rec->n_watched_in_callback =
      mitogen_process_monitor_get_n_watched (rec->monitor);
  /* Called exactly once, and before its data is destroyed. */
  g_assert_cmpuint (rec->n_calls, ==, 1);
  g_assert_cmpuint (rec->n_destroyed, ==, 0);
}

static void
on_exit_record_destroyed (gpointer user_data)
{
  ExitRecord *rec = user_data;

  rec->n_destroyed++;
}

static gboolean
on_safety_timeout (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates @context until @rec's callback ran, failing the test if that
 * takes longer than the safety timeout. */
static void
run_until_called (GMainContext *context,
                  ExitRecord *rec)
{
  g_autoptr(GSource) timeout = g_timeout_source_new_seconds (SAFETY_TIMEOUT_S);
  gboolean timed_out = FALSE;

  g_source_set_callback (timeout, on_safety_timeout, &timed_out, NULL);
  g_source_attach (timeout, context);

  while (rec->n_calls == 0 && !timed_out)
    g_main_context_iteration (context, TRUE);

  g_source_destroy (timeout);
  if (timed_out)
    g_error ("No exit callback for pid %d within %d s", (int) rec->pid,
             SAFETY_TIMEOUT_S);
}

/* Lives until its socket closes, then exits 0 (`read` alone would fail at
 * EOF), so the test decides when it ends. */
#define UNTIL_EOF_SCRIPT "read x; exit 0"

/* Starts a shell running @script and watches it with @monitor. */
static GPid
start_monitored_sh (MitogenProcessMonitor *monitor,
                    const gchar *script,
                    ExitRecord *rec,
                    int *out_fd)
{
  GPid pid;

  start_sh (script, NULL, &pid, out_fd, NULL);
  rec->monitor = monitor;
  mitogen_process_monitor_add (monitor, pid, on_process_exit, rec,
                               on_exit_record_destroyed);
  return pid;
}

static void
test_monitor_exit_status (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(MitogenProcessMonitor) monitor =
    mitogen_process_monitor_new (context);
  ExitRecord rec = { 0 };
  GPid pid;
  int fd;

  pid = start_monitored_sh (monitor, "exit 3", &rec, &fd);
  g_assert_cmpuint (mitogen_process_monitor_get_n_watched (monitor), ==, 1);

  run_until_called (context, &rec);

  g_assert_cmpuint (rec.n_calls, ==, 1);
  g_assert_cmpint (rec.pid, ==, pid);
  assert_exited_with (rec.status, 3);
  g_assert_cmpuint (rec.n_destroyed, ==, 1);
  g_assert_cmpuint (mitogen_process_monitor_get_n_watched (monitor), ==, 0);
  g_assert_cmpuint (rec.n_watched_in_callback, ==, 0);

  /* Reaped by the monitor: nothing left for us. */
  errno = 0;
  g_assert_cmpint (waitpid (pid, NULL, WNOHANG), ==, -1);
  g_assert_cmpint (errno, ==, ECHILD);

  close_fd (&fd);
}

static void
test_monitor_killed (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(MitogenProcessMonitor) monitor =
    mitogen_process_monitor_new (context);
  ExitRecord rec = { 0 };
  GPid pid;
  int fd;

  /* It would wait for a line for ever. */
  pid = start_monitored_sh (monitor, UNTIL_EOF_SCRIPT, &rec, &fd);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);

  run_until_called (context, &rec);

  g_assert_cmpint (rec.pid, ==, pid);
  g_assert_true (WIFSIGNALED (rec.status));
  g_assert_cmpint (WTERMSIG (rec.status), ==, SIGKILL);
  g_assert_cmpuint (rec.n_destroyed, ==, 1);

  close_fd (&fd);
}

static void
test_monitor_runs_in_context (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(MitogenProcessMonitor) monitor =
    mitogen_process_monitor_new (context);
  ExitRecord rec = { 0 };
  int fd;

  start_monitored_sh (monitor, UNTIL_EOF_SCRIPT, &rec, &fd);
  close_fd (&fd);  /* ends the child's read, and so the child */

  /* The default context has nothing to do with this monitor. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (rec.n_calls, ==, 0);

  run_until_called (context, &rec);
  g_assert_true (rec.ran_in == context);
  assert_exited_with (rec.status, 0);
}

static void
test_monitor_default_context (void)
{
  g_autoptr(MitogenProcessMonitor) monitor = mitogen_process_monitor_new (NULL);
  ExitRecord rec = { 0 };
  int fd;

  start_monitored_sh (monitor, "exit 0", &rec, &fd);
  run_until_called (NULL, &rec);

  g_assert_true (rec.ran_in == g_main_context_default ());
  assert_exited_with (rec.status, 0);
  close_fd (&fd);
}

static void
test_monitor_n_watched (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(MitogenProcessMonitor) monitor =
    mitogen_process_monitor_new (context);
  ExitRecord recs[3] = { { 0 } };
  int fds[3];

  g_assert_cmpuint (mitogen_process_monitor_get_n_watched (monitor), ==, 0);

  /* Each child lives until its socket closes, so we choose when. */
  for (guint i = 0; i < G_N_ELEMENTS (recs); i++)
    {
      start_monitored_sh (monitor, UNTIL_EOF_SCRIPT, &recs[i], &fds[i]);
      g_assert_cmpuint (mitogen_process_monitor_get_n_watched (monitor),
                        ==, i + 1);
    }

  close_fd (&fds[1]);
  run_until_called (context, &recs[1]);
  g_assert_cmpuint (mitogen_process_monitor_get_n_watched (monitor), ==, 2);
  g_assert_cmpuint (recs[1].n_watched_in_callback, ==, 2);
  g_assert_cmpuint (recs[0].n_calls, ==, 0);
  g_assert_cmpuint (recs[2].n_calls, ==, 0);

  close_fd (&fds[0]);
  close_fd (&fds[2]);
  run_until_called (context, &recs[0]);
  run_until_called (context, &recs[2]);
  g_assert_cmpuint (mitogen_process_monitor_get_n_watched (monitor), ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (recs); i++)
    {
      g_assert_cmpuint (recs[i].n_calls, ==, 1);
      g_assert_cmpuint (recs[i].n_destroyed, ==, 1);
      assert_exited_with (recs[i].status, 0);
    }
}

static void
test_monitor_finalize_cancels (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  MitogenProcessMonitor *monitor = mitogen_process_monitor_new (context);
  ExitRecord rec = { 0 };
  GPid pid;
  int fd;

  pid = start_monitored_sh (monitor, UNTIL_EOF_SCRIPT, &rec, &fd);
  g_object_unref (monitor);
  rec.monitor = NULL;

  /* The watch's data is freed, and its callback never comes. */
  g_assert_cmpuint (rec.n_destroyed, ==, 1);

  close_fd (&fd);
  /* Nobody reaps it but us now. */
  assert_exited_with (reap (pid), 0);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_assert_cmpuint (rec.n_calls, ==, 0);
}

int
main (int argc, char **argv)
{
  /* As the broker does: a write to a dead reader must come back as EPIPE,
   * not kill the test. */
  signal (SIGPIPE, SIG_IGN);

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/io/errno-is-disconnect", test_errno_is_disconnect);
  g_test_add_func ("/io/op/success", test_io_op_success);
  g_test_add_func ("/io/op/disconnect", test_io_op_disconnect);
  g_test_add_func ("/io/op/would-block", test_io_op_would_block);
  g_test_add_func ("/io/op/eintr-retried", test_io_op_eintr_retried);
  g_test_add_func ("/io/op/other-errno", test_io_op_other_errno);
  g_test_add_func ("/io/iter-read/child-payload", test_iter_read_child_payload);
  g_test_add_func ("/io/iter-read/stop-early", test_iter_read_stop_early);
  g_test_add_func ("/io/iter-read/timeout", test_iter_read_timeout);
  g_test_add_func ("/io/iter-read/eof", test_iter_read_eof);
  g_test_add_func ("/io/write-all/child-counts", test_write_all_child_counts);
  g_test_add_func ("/io/write-all/timeout", test_write_all_timeout);
  g_test_add_func ("/io/write-all/closed-reader", test_write_all_closed_reader);
  g_test_add_func ("/io/write-all/reader-dies-midway",
                   test_write_all_reader_dies_midway);

  g_test_add_func ("/side/construction", test_side_construction);
  g_test_add_func ("/side/fileno-and-close", test_side_fileno_and_close);
  g_test_add_func ("/side/owns-fd", test_side_owns_fd);
  g_test_add_func ("/side/close-idempotent", test_side_close_idempotent);
  g_test_add_func ("/side/read/would-block", test_side_read_would_block);
  g_test_add_func ("/side/read/eof", test_side_read_eof);
  g_test_add_func ("/side/read/pty-eio", test_side_read_pty_eio);
  g_test_add_func ("/side/write/reader-closed", test_side_write_reader_closed);
  g_test_add_func ("/side/write/reader-killed", test_side_write_reader_killed);
  g_test_add_func ("/side/write/socket-peer-killed",
                   test_side_write_socket_peer_killed);
  g_test_add_func ("/side/write/full", test_side_write_full);
  g_test_add_func ("/side/writev", test_side_writev);

  g_test_add_func ("/child/stdio-socket", test_child_stdio_socket);
  g_test_add_func ("/child/stderr", test_child_stderr);
  g_test_add_func ("/child/no-such-program", test_child_no_such_program);
  g_test_add_func ("/child/fd-cloexec", test_child_fd_cloexec);
  g_test_add_func ("/child/new-session", test_child_new_session);
  g_test_add_func ("/child/envp", test_child_envp);
  g_test_add_func ("/child/no-fd-leak", test_child_no_fd_leak);
  g_test_add_func ("/child/tty/controlling-tty", test_tty_controlling_tty);
  g_test_add_func ("/child/tty/stdio-is-tty", test_tty_stdio_is_tty);
  g_test_add_func ("/child/tty/session-leader", test_tty_session_leader);
  g_test_add_func ("/child/tty/no-echo", test_tty_no_echo);

  g_test_add_func ("/process-monitor/exit-status", test_monitor_exit_status);
  g_test_add_func ("/process-monitor/killed", test_monitor_killed);
  g_test_add_func ("/process-monitor/runs-in-context",
                   test_monitor_runs_in_context);
  g_test_add_func ("/process-monitor/default-context",
                   test_monitor_default_context);
  g_test_add_func ("/process-monitor/n-watched", test_monitor_n_watched);
  g_test_add_func ("/process-monitor/finalize-cancels",
                   test_monitor_finalize_cancels);

  return g_test_run ();
}
