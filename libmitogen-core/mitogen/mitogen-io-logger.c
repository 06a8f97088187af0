/* mitogen-io-logger.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-io-logger-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-broker.h"
#include "mitogen-io.h"
#include <gio/gio.h>

/**
 * MitogenIoLogger:
 *
 * Replaces a descriptor, such as a child context's stdout or stderr, with a
 * pipe, and turns each line written to it into a log record in the log
 * domain given by its name (`stdout`, `stderr`) with the field
 * `MITOGEN_STREAM` set to that name. A context forwards those records to
 * the master, so nothing a function or its subprocesses print can corrupt
 * the context's stream.
 *
 * At shutdown the logger closes its hold on the descriptor and reads on
 * until every writer has closed the pipe, so the last lines are not lost;
 * a writer that never closes (a stray background process) is cut off by
 * the broker's grace period.
 */
struct _MitogenIoLogger {
  MitogenBasicStream parent_instance;

  gchar *name;
  int dest_fd;
  GString *partial;
  guint64 lines;
};

G_DEFINE_FINAL_TYPE (MitogenIoLogger, mitogen_io_logger,
                     MITOGEN_TYPE_BASIC_STREAM)

/* Lines longer than this are logged in pieces rather than held. */
#define MAX_LINE (64 * 1024)

static void
log_line (MitogenIoLogger *self,
          const gchar *line,
          gsize len)
{
  const GLogField fields[] = {
    { "GLIB_DOMAIN", self->name, -1 },
    { "PRIORITY", "5", -1 },
    { "MESSAGE", line, (gssize) len },
    { "MITOGEN_STREAM", self->name, -1 },
  };

  /* Trailing carriage returns are terminal noise, not content. */
  while (len > 0 && line[len - 1] == '\r')
    len--;
  ((GLogField *) fields)[2].length = (gssize) len;
  self->lines++;
  g_log_structured_array (G_LOG_LEVEL_MESSAGE, fields, G_N_ELEMENTS (fields));
}

static void
flush_lines (MitogenIoLogger *self,
             gboolean at_eof)
{
  gchar *start = self->partial->str;
  gchar *end = start + self->partial->len;
  gchar *nl;

  while ((nl = memchr (start, '\n', (gsize) (end - start))))
    {
      log_line (self, start, (gsize) (nl - start));
      start = nl + 1;
    }
  while ((gsize) (end - start) >= MAX_LINE)
    {
      log_line (self, start, MAX_LINE);
      start += MAX_LINE;
    }
  if (at_eof && start < end)
    {
      log_line (self, start, (gsize) (end - start));
      start = end;
    }
  g_string_erase (self->partial, 0, start - self->partial->str);
}

static void
mitogen_io_logger_on_receive (MitogenBasicStream *stream,
                              MitogenBroker *broker)
{
  MitogenIoLogger *self = MITOGEN_IO_LOGGER (stream);
  MitogenSide *side = mitogen_basic_stream_get_receive_side (stream);
  guint8 buf[16384];
  gssize n = mitogen_side_read (side, buf, sizeof buf, NULL);

  if (n < 0)
    return; /* nothing ready: a spurious wake-up */
  if (n == 0)
    {
      flush_lines (self, TRUE);
      mitogen_basic_stream_on_disconnect (stream, broker);
      return;
    }
  g_string_append_len (self->partial, (const gchar *) buf, n);
  flush_lines (self, FALSE);
}

static void
mitogen_io_logger_on_shutdown (MitogenBasicStream *stream,
                               MitogenBroker *broker)
{
  MitogenIoLogger *self = MITOGEN_IO_LOGGER (stream);
  int null_fd = open ("/dev/null", O_WRONLY | O_CLOEXEC);

  /* Drop our own hold on the pipe's write end, so it reads as ended once
   * the last other writer is gone. */
  if (null_fd >= 0)
    {
      dup2 (null_fd, self->dest_fd);
      close (null_fd);
    }
}

static void
mitogen_io_logger_finalize (GObject *object)
{
  MitogenIoLogger *self = MITOGEN_IO_LOGGER (object);

  g_free (self->name);
  g_string_free (self->partial, TRUE);
  G_OBJECT_CLASS (mitogen_io_logger_parent_class)->finalize (object);
}

static void
mitogen_io_logger_class_init (MitogenIoLoggerClass *klass)
{
  MitogenBasicStreamClass *stream_class = MITOGEN_BASIC_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = mitogen_io_logger_finalize;
  stream_class->on_receive = mitogen_io_logger_on_receive;
  stream_class->on_shutdown = mitogen_io_logger_on_shutdown;
}

static void
mitogen_io_logger_init (MitogenIoLogger *self)
{
  self->partial = g_string_new (NULL);
}

/**
 * mitogen_io_logger_new:
 * @name: the log domain and `MITOGEN_STREAM` field of the records
 * @dest_fd: the descriptor to replace, such as 1 for stdout
 * @error: return location for an error
 *
 * Makes @dest_fd the write end of a new pipe whose lines the logger logs
 * once the broker receives from it (mitogen_broker_start_receive()).
 *
 * Returns: (transfer full) (nullable): a new logger
 */
MitogenIoLogger *
mitogen_io_logger_new (const gchar *name,
                       int dest_fd,
                       GError **error)
{
  g_autoptr(MitogenSide) side = NULL;
  MitogenIoLogger *self;
  int fds[2];

  if (!g_unix_open_pipe (fds, FD_CLOEXEC, error))
    return NULL;
  if (dup2 (fds[1], dest_fd) < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "Could not redirect descriptor %d: %s", dest_fd,
                   g_strerror (errno));
      close (fds[0]);
      close (fds[1]);
      return NULL;
    }
  close (fds[1]);

  self = g_object_new (MITOGEN_TYPE_IO_LOGGER, "name", name, NULL);
  self->name = g_strdup (name);
  self->dest_fd = dest_fd;
  side = mitogen_side_new (MITOGEN_BASIC_STREAM (self), fds[0], TRUE);
  mitogen_basic_stream_set_receive_side (MITOGEN_BASIC_STREAM (self), side);
  return self;
}

/**
 * mitogen_io_logger_get_lines:
 * @self: a logger
 *
 * Returns: lines logged so far
 */
guint64
mitogen_io_logger_get_lines (MitogenIoLogger *self)
{
  return self->lines;
}
