/* mitogen-fork-stream.c: the `fork` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <errno.h>
#include <glib-unix.h>
#include <gmodule.h>
#include <mitogen/mitogen.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/**
 * MitogenForkStream:
 *
 * Starts a child context as a copy of this process: it begins with the
 * code and data the master had loaded, and skips starting a program, so
 * it is up much sooner than a `local` context.
 *
 * The copy is made by the fork server, never by forking the master, which
 * is multi-threaded and could leave the child holding another thread's
 * lock; see mitogen_fork_server_start(), which the program must call early
 * in main(). A child is a copy of the master as it was then, and runs the
 * hook set with mitogen_fork_server_set_on_fork() before it serves calls.
 *
 * Options: those of [class@Mitogen.ParentStream] (`connect-timeout`,
 * `debug`, `name`), and `on-start` with `on-start-args`: a hook added
 * with mitogen_fork_server_add_on_start() that this child runs, with
 * these arguments, before it serves calls (Mitogen's `on_start`).
 *
 * The child's stderr is a pipe of its own: what it writes there reaches
 * this process's stderr, and is quoted if its bootstrap fails.
 */
#define MITOGEN_TYPE_FORK_STREAM (mitogen_fork_stream_get_type ())
G_DECLARE_FINAL_TYPE (MitogenForkStream, mitogen_fork_stream, MITOGEN,
                      FORK_STREAM, MitogenParentStream)

struct _MitogenForkStream {
  MitogenParentStream parent_instance;

  /* The child is the fork server's, which reaps it; a pidfd is the one way
   * to signal it that cannot hit a reused pid. -1 if unavailable. */
  int pidfd;
  gboolean shutdown_requested;
  gchar *on_start;
  GVariant *on_start_args;
};

enum
{
  PROP_0,
  PROP_ON_START,
  PROP_ON_START_ARGS,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

G_DEFINE_DYNAMIC_TYPE (MitogenForkStream, mitogen_fork_stream,
                       MITOGEN_TYPE_PARENT_STREAM)

/* The size mitogen_create_child() asks for: only a hint. */
#define SOCKET_BUFFER_SIZE (4 * MITOGEN_CHUNK_SIZE)

static void
signal_child (MitogenForkStream *self,
              int signum)
{
  if (self->pidfd >= 0)
    syscall (SYS_pidfd_send_signal, self->pidfd, signum, NULL, 0);
}

static gchar **
mitogen_fork_stream_get_boot_command (MitogenParentStream *stream,
                                      GError **error)
{
  /* Nothing is run: the fork server copies itself. */
  return g_strdupv ((gchar *[]) { "(fork server)", NULL });
}

static void
set_socket_buffers (int fd)
{
  int size = SOCKET_BUFFER_SIZE;

  setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

static gboolean
mitogen_fork_stream_create_child (MitogenParentStream *stream,
                                  const gchar * const *argv,
                                  GPid *out_pid,
                                  int *out_fd,
                                  GError **error)
{
  MitogenForkStream *self = MITOGEN_FORK_STREAM (stream);
  gint64 deadline = g_get_monotonic_time () +
    (gint64) (mitogen_parent_stream_get_connect_timeout (stream) * G_USEC_PER_SEC);
  int sv[2];
  int errpipe[2];
  gboolean ok;

  /* CLOEXEC: a local child spawned meanwhile by another thread must not
   * hold the link open. */
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "socketpair() failed: %s", g_strerror (errsv));
      return FALSE;
    }
  set_socket_buffers (sv[0]);
  set_socket_buffers (sv[1]);
  if (!g_unix_open_pipe (errpipe, FD_CLOEXEC, error))
    {
      close (sv[0]);
      close (sv[1]);
      return FALSE;
    }

  ok = mitogen_fork_server_fork_full (sv[1], errpipe[1], self->on_start,
                                      self->on_start_args, deadline, out_pid,
                                      error);
  close (sv[1]);
  close (errpipe[1]);
  if (!ok)
    {
      close (sv[0]);
      close (errpipe[0]);
      return FALSE;
    }
  mitogen_parent_stream_take_stderr (stream, errpipe[0]);
  /* Had the child exited already, its pid could be another process's by
   * now: the handshake tells whether this pidfd is the child's. */
  self->pidfd = (int) syscall (SYS_pidfd_open, *out_pid, 0);
  *out_fd = sv[0];
  return TRUE;
}

static gboolean
mitogen_fork_stream_handshake (MitogenParentStream *stream,
                               int fd,
                               GVariant *config,
                               gint64 deadline,
                               GError **error)
{
  MitogenForkStream *self = MITOGEN_FORK_STREAM (stream);
  GError *local_error = NULL;

  /* Success means the child answered the configuration sent after the
   * pidfd was opened, so the pidfd is the child's. */
  if (MITOGEN_PARENT_STREAM_CLASS (mitogen_fork_stream_parent_class)
        ->handshake (stream, fd, config, deadline, &local_error))
    return TRUE;
  /* The parent stream leaves a child that is not its own to us. One that
   * is stuck (in the on-fork hook, say) holds the link open until the
   * deadline and would not notice it closing: kill it. One that closed
   * the link has exited, and the pidfd may not be its. */
  if (g_error_matches (local_error, MITOGEN_TIMEOUT_ERROR,
                       MITOGEN_TIMEOUT_ERROR_TIMED_OUT))
    signal_child (self, SIGKILL);
  g_propagate_error (error, local_error);
  return FALSE;
}

static void
mitogen_fork_stream_on_shutdown (MitogenBasicStream *stream,
                                 MitogenBroker *broker)
{
  MITOGEN_FORK_STREAM (stream)->shutdown_requested = TRUE;
  MITOGEN_BASIC_STREAM_CLASS (mitogen_fork_stream_parent_class)
    ->on_shutdown (stream, broker);
}

static void
mitogen_fork_stream_on_disconnect (MitogenBasicStream *stream,
                                   MitogenBroker *broker)
{
  MitogenForkStream *self = MITOGEN_FORK_STREAM (stream);

  MITOGEN_BASIC_STREAM_CLASS (mitogen_fork_stream_parent_class)
    ->on_disconnect (stream, broker);
  /* As the parent stream does for its own children: a child that lost its
   * link exits by itself; SIGTERM covers one that is stuck. */
  if (!self->shutdown_requested
      && !mitogen_parent_stream_get_detached (MITOGEN_PARENT_STREAM (stream)))
    signal_child (self, SIGTERM);
}

static void
mitogen_fork_stream_finalize (GObject *object)
{
  MitogenForkStream *self = MITOGEN_FORK_STREAM (object);

  if (self->pidfd >= 0)
    close (self->pidfd);
  g_free (self->on_start);
  g_clear_pointer (&self->on_start_args, g_variant_unref);
  G_OBJECT_CLASS (mitogen_fork_stream_parent_class)->finalize (object);
}

static void
mitogen_fork_stream_get_property (GObject *object,
                                  guint prop_id,
                                  GValue *value,
                                  GParamSpec *pspec)
{
  MitogenForkStream *self = MITOGEN_FORK_STREAM (object);

  switch (prop_id)
    {
    case PROP_ON_START:
      g_value_set_string (value, self->on_start);
      break;
    case PROP_ON_START_ARGS:
      g_value_set_variant (value, self->on_start_args);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_fork_stream_set_property (GObject *object,
                                  guint prop_id,
                                  const GValue *value,
                                  GParamSpec *pspec)
{
  MitogenForkStream *self = MITOGEN_FORK_STREAM (object);

  switch (prop_id)
    {
    case PROP_ON_START:
      g_free (self->on_start);
      self->on_start = g_value_dup_string (value);
      break;
    case PROP_ON_START_ARGS:
      g_clear_pointer (&self->on_start_args, g_variant_unref);
      self->on_start_args = g_value_dup_variant (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_fork_stream_class_init (MitogenForkStreamClass *klass)
{
  MitogenParentStreamClass *parent_class = MITOGEN_PARENT_STREAM_CLASS (klass);
  MitogenBasicStreamClass *stream_class = MITOGEN_BASIC_STREAM_CLASS (klass);
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = mitogen_fork_stream_get_property;
  object_class->set_property = mitogen_fork_stream_set_property;
  object_class->finalize = mitogen_fork_stream_finalize;
  stream_class->on_shutdown = mitogen_fork_stream_on_shutdown;
  stream_class->on_disconnect = mitogen_fork_stream_on_disconnect;
  parent_class->transport_name = "fork";
  parent_class->reaps_child = FALSE;
  parent_class->get_boot_command = mitogen_fork_stream_get_boot_command;
  parent_class->create_child = mitogen_fork_stream_create_child;
  parent_class->handshake = mitogen_fork_stream_handshake;

  /* MitogenForkStream:on-start: the name of the hook, added with
   * mitogen_fork_server_add_on_start(), that the child runs before it
   * serves. */
  props[PROP_ON_START] = g_param_spec_string (
      "on-start", NULL, NULL, NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /* MitogenForkStream:on-start-args: what the hook is given; `()` if
   * unset. */
  props[PROP_ON_START_ARGS]
      = g_param_spec_variant ("on-start-args", NULL, NULL, G_VARIANT_TYPE_ANY,
                              NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
mitogen_fork_stream_class_finalize (MitogenForkStreamClass *klass)
{
}

static void
mitogen_fork_stream_init (MitogenForkStream *self)
{
  self->pidfd = -1;
}

G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);

G_MODULE_EXPORT GType
mitogen_transport_register (GTypeModule *module)
{
  mitogen_fork_stream_register_type (module);
  return MITOGEN_TYPE_FORK_STREAM;
}
