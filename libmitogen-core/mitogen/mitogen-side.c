/* mitogen-side.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-side.h"

#include <errno.h>
#include <gio/gio.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mitogen-errors.h"
#include "mitogen-io.h"

/**
 * MitogenSide:
 *
 * One file descriptor of a [class@BasicStream]: its receive or its transmit
 * side. Streams over a socket and streams over a pair of pipes work the
 * same way because each direction has a side of its own.
 *
 * The side owns its descriptor, which is made non-blocking at
 * construction. Reads and writes report the ways a TTY, socket or pipe
 * says "the other end went away" as one thing: a 0-byte read, or a write
 * failing with %MITOGEN_STREAM_ERROR_DISCONNECTED.
 */
struct _MitogenSide {
  GObject parent_instance;

  MitogenBasicStream *stream; /* unowned: the stream owns its sides */
  int fd;
  gboolean keep_alive;
};

G_DEFINE_FINAL_TYPE (MitogenSide, mitogen_side, G_TYPE_OBJECT)

static void
mitogen_side_finalize (GObject *object)
{
  mitogen_side_close (MITOGEN_SIDE (object));
  G_OBJECT_CLASS (mitogen_side_parent_class)->finalize (object);
}

static void
mitogen_side_class_init (MitogenSideClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_side_finalize;
}

static void
mitogen_side_init (MitogenSide *self)
{
  self->fd = -1;
}

/**
 * mitogen_side_new:
 * @stream: (nullable): the stream this side belongs to
 * @fd: the file descriptor; the side takes ownership of it
 * @keep_alive: whether the broker's shutdown waits for this side to
 *   disconnect, when it is registered for receiving
 *
 * Creates one side of @stream around @fd, which it owns and closes.
 *
 * Returns: (transfer full): a new side
 */
MitogenSide *
mitogen_side_new (MitogenBasicStream *stream,
                  int fd,
                  gboolean keep_alive)
{
  MitogenSide *self = g_object_new (MITOGEN_TYPE_SIDE, NULL);

  g_return_val_if_fail (fd >= 0, self);

  self->stream = stream;
  self->fd = fd;
  self->keep_alive = keep_alive;
  /* Failure is harmless here: the descriptor was invalid, and the first
   * read or write reports it. */
  mitogen_set_nonblocking (fd, TRUE, NULL);
  return self;
}

/**
 * mitogen_side_get_stream:
 * @self: a side
 *
 * Returns the stream the side belongs to.
 *
 * Returns: (transfer none) (nullable): the stream the side belongs to
 */
MitogenBasicStream *
mitogen_side_get_stream (MitogenSide *self)
{
  return self->stream;
}

/**
 * mitogen_side_get_fd:
 * @self: a side
 *
 * Returns the file descriptor, or -1 once closed.
 *
 * Returns: the file descriptor, or -1 once closed
 */
int
mitogen_side_get_fd (MitogenSide *self)
{
  return self->fd;
}

/**
 * mitogen_side_get_keep_alive:
 * @self: a side
 *
 * Returns whether the broker's shutdown waits for this side.
 *
 * Returns: whether the broker's shutdown waits for this side
 */
gboolean
mitogen_side_get_keep_alive (MitogenSide *self)
{
  return self->keep_alive;
}

/**
 * mitogen_side_is_closed:
 * @self: a side
 *
 * Returns %TRUE once mitogen_side_close() was called.
 *
 * Returns: %TRUE once mitogen_side_close() was called
 */
gboolean
mitogen_side_is_closed (MitogenSide *self)
{
  return self->fd < 0;
}

/**
 * mitogen_side_fileno:
 * @self: a side
 * @error: return location for an error
 *
 * Returns the side's file descriptor, failing once the side is closed.
 *
 * Returns: the file descriptor; -1 with %MITOGEN_STREAM_ERROR_CLOSED once
 *   the side is closed
 */
int
mitogen_side_fileno (MitogenSide *self,
                     GError **error)
{
  if (self->fd < 0)
    g_set_error_literal (error, MITOGEN_STREAM_ERROR,
                         MITOGEN_STREAM_ERROR_CLOSED,
                         "The side's file descriptor is closed");
  return self->fd;
}

/**
 * mitogen_side_close:
 * @self: a side
 *
 * Closes the file descriptor, if it is open.
 */
void
mitogen_side_close (MitogenSide *self)
{
  if (self->fd >= 0)
    {
      close (self->fd);
      self->fd = -1;
    }
}

typedef struct {
  int fd;
  const struct iovec *iov;
  int iovcnt;
} VecArgs;

static gssize
readv_once (gpointer user_data)
{
  VecArgs *a = user_data;
  return readv (a->fd, a->iov, a->iovcnt);
}

static gssize
writev_once (gpointer user_data)
{
  VecArgs *a = user_data;
  return writev (a->fd, a->iov, a->iovcnt);
}

/**
 * mitogen_side_read:
 * @self: a side
 * @buffer: (array length=count) (element-type guint8) (out caller-allocates):
 *   where to read to
 * @count: the most bytes to read
 * @error: return location for an error
 *
 * Reads as much as is available, up to @count bytes. Disconnection of the
 * other end, however the descriptor reports it, reads as end of file.
 *
 * Returns: bytes read, 0 at end of file or disconnection; -1 with @error
 *   set on failure, %G_IO_ERROR_WOULD_BLOCK when nothing is ready, and
 *   %MITOGEN_STREAM_ERROR_CLOSED once the side is closed
 */
gssize
mitogen_side_read (MitogenSide *self,
                   guint8 *buffer,
                   gsize count,
                   GError **error)
{
  struct iovec iov = { buffer, count };
  VecArgs args = { self->fd, &iov, 1 };

  if (mitogen_side_fileno (self, error) < 0)
    return -1;
  return mitogen_io_op (readv_once, &args, NULL, error);
}

/**
 * mitogen_side_writev: (skip)
 * @self: a side
 * @iov: (array length=iovcnt): the buffers
 * @iovcnt: how many
 * @error: return location for an error
 *
 * Like mitogen_side_write() for several buffers at once.
 *
 * Returns: bytes written, 0 when the descriptor is full; -1 with @error set
 *   on failure, %MITOGEN_STREAM_ERROR_DISCONNECTED when the other end went
 *   away
 */
gssize
mitogen_side_writev (MitogenSide *self,
                     const struct iovec *iov,
                     int iovcnt,
                     GError **error)
{
  VecArgs args = { self->fd, iov, iovcnt };
  GError *local_error = NULL;
  gboolean disconnected;
  gssize n;

  if (mitogen_side_fileno (self, error) < 0)
    return -1;

  n = mitogen_io_op (writev_once, &args, &disconnected, &local_error);
  if (disconnected)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR,
                   MITOGEN_STREAM_ERROR_DISCONNECTED,
                   "The reader of file descriptor %d went away", self->fd);
      return -1;
    }
  if (n < 0 && g_error_matches (local_error, G_IO_ERROR,
                                G_IO_ERROR_WOULD_BLOCK))
    {
      g_error_free (local_error);
      return 0;
    }
  if (n < 0)
    g_propagate_error (error, local_error);
  return n;
}

/**
 * mitogen_side_write:
 * @self: a side
 * @buffer: (array length=count): the bytes
 * @count: how many
 * @error: return location for an error
 *
 * Writes as much of @buffer as the descriptor takes without blocking.
 *
 * Returns: bytes written, 0 when the descriptor is full; -1 with @error set
 *   on failure, %MITOGEN_STREAM_ERROR_DISCONNECTED when the other end went
 *   away
 */
gssize
mitogen_side_write (MitogenSide *self,
                    const guint8 *buffer,
                    gsize count,
                    GError **error)
{
  struct iovec iov = { (void *) buffer, count };
  return mitogen_side_writev (self, &iov, 1, error);
}
