/* mitogen-stderr-tail.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-stderr-tail-private.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-io.h"

/* MitogenStderrTail: the parent's end of a pipe on a child's stderr.
 *
 * What the child writes there is copied to this process's stderr, where
 * it went when the child shared it, and until the bootstrap is over its
 * last few KiB are kept as well: a child that dies while it starts has
 * usually said why there (an agent's or a linker's complaint), and the
 * connect error quotes it, as Mitogen's quotes the last lines it read.
 *
 * It reads on the broker's thread, so a child that writes a lot never
 * fills the pipe and stalls its own bootstrap; the connecting thread
 * takes what is left with mitogen_stderr_tail_drain(). The source holds a
 * reference, so the copying goes on after the stream is gone, until every
 * writer has closed the pipe. */
struct _MitogenStderrTail
{
  GMutex lock;
  int fd;        /* -1 once at its end */
  GString *tail; /* NULL once the bootstrap is over */
  GSource *source;
};

/* Kept: twice this at most; quoted: the last this much. */
#define TAIL_SIZE 4096

MitogenStderrTail *
mitogen_stderr_tail_new (int fd)
{
  MitogenStderrTail *self = g_atomic_rc_box_new0 (MitogenStderrTail);

  g_mutex_init (&self->lock);
  self->fd = fd;
  self->tail = g_string_new (NULL);
  /* The broker must never wait for a child's stderr. */
  mitogen_set_nonblocking (fd, TRUE, NULL);
  return self;
}

MitogenStderrTail *
mitogen_stderr_tail_ref (MitogenStderrTail *self)
{
  return g_atomic_rc_box_acquire (self);
}

static void
tail_clear (MitogenStderrTail *self)
{
  if (self->source)
    {
      g_source_destroy (self->source);
      g_source_unref (self->source);
    }
  if (self->fd >= 0)
    close (self->fd);
  if (self->tail)
    g_string_free (self->tail, TRUE);
  g_mutex_clear (&self->lock);
}

void
mitogen_stderr_tail_unref (MitogenStderrTail *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) tail_clear);
}

static void
keep (MitogenStderrTail *self, const gchar *data, gsize len)
{
  if (!self->tail)
    return;
  g_string_append_len (self->tail, data, (gssize) len);
  if (self->tail->len > 2 * TAIL_SIZE)
    g_string_erase (self->tail, 0, (gssize) (self->tail->len - TAIL_SIZE));
}

/* Best effort, as the child's own writes were: our stderr may be closed.
 * Not through mitogen_write_all(), which would make it non-blocking for
 * a moment, and with it every process that shares it. */
static void
copy_to_stderr (const gchar *data, gsize len)
{
  while (len > 0)
    {
      gssize n = write (STDERR_FILENO, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      data += n;
      len -= (gsize) n;
    }
}

/* Reads what is there now, with the lock held. Returns FALSE at the end
 * of the pipe, which it then closes. */
static gboolean
read_available_locked (MitogenStderrTail *self)
{
  gchar buf[4096];

  while (self->fd >= 0)
    {
      gssize n = read (self->fd, buf, sizeof buf);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n <= 0)
        {
          close (self->fd);
          self->fd = -1;
          return FALSE;
        }
      keep (self, buf, (gsize) n);
      copy_to_stderr (buf, (gsize) n);
    }
  return FALSE;
}

static gboolean
on_readable (gint fd, GIOCondition condition, gpointer user_data)
{
  MitogenStderrTail *self = user_data;
  gboolean more;

  g_mutex_lock (&self->lock);
  more = read_available_locked (self);
  if (!more)
    g_clear_pointer (&self->source, g_source_unref);
  g_mutex_unlock (&self->lock);
  return more ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Reads from now on in @context, the broker's. */
void
mitogen_stderr_tail_start (MitogenStderrTail *self, GMainContext *context)
{
  g_mutex_lock (&self->lock);
  if (self->fd >= 0 && !self->source)
    {
      self->source
          = g_unix_fd_source_new (self->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
      g_source_set_callback (self->source, G_SOURCE_FUNC (on_readable),
                             mitogen_stderr_tail_ref (self),
                             (GDestroyNotify) mitogen_stderr_tail_unref);
      g_source_set_static_name (self->source, "mitogen-stderr-tail");
      g_source_attach (self->source, context);
    }
  g_mutex_unlock (&self->lock);
}

/* After a failed bootstrap, once the child is gone or stopped: stops the
 * copying, reads what is left and returns the last few KiB the child
 * wrote, from a line's start where there is one, or %NULL if it wrote
 * nothing. */
gchar *
mitogen_stderr_tail_drain (MitogenStderrTail *self)
{
  const gchar *start;
  gchar *text = NULL;

  g_mutex_lock (&self->lock);
  if (self->source)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }
  read_available_locked (self);
  if (self->fd >= 0)
    {
      close (self->fd);
      self->fd = -1;
    }
  if (self->tail && self->tail->len > 0)
    {
      start = self->tail->str;
      if (self->tail->len > TAIL_SIZE)
        {
          const gchar *nl;

          start += self->tail->len - TAIL_SIZE;
          nl = strchr (start, '\n');
          if (nl && nl[1])
            start = nl + 1;
        }
      text = g_utf8_make_valid (start, -1);
      g_strstrip (text);
      if (!*text)
        g_clear_pointer (&text, g_free);
    }
  g_mutex_unlock (&self->lock);
  return text;
}

/* Once the bootstrap succeeded: nothing more is kept, only copied. */
void
mitogen_stderr_tail_forget (MitogenStderrTail *self)
{
  g_mutex_lock (&self->lock);
  if (self->tail)
    {
      g_string_free (self->tail, TRUE);
      self->tail = NULL;
    }
  g_mutex_unlock (&self->lock);
}
