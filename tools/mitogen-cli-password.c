/* mitogen-cli-password.c: the passwords of a CONTEXT's hops, asked on the
 * terminal (--ask-password) or read from a descriptor (--password-fd),
 * never taken from the command line.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Longest password accepted, from a terminal or a descriptor. */
#define MAX_PASSWORD 4096

static void
password_free (gpointer data)
{
  gchar *password = data;

  if (password)
    {
      explicit_bzero (password, strlen (password));
      g_free (password);
    }
}

/* Reads a line from @fd without its newline, a byte at a time so that
 * nothing after it is consumed. Returns %NULL with no error at the end of
 * the input. */
static gchar *
read_secret_line (int fd, GError **error)
{
  gchar buf[MAX_PASSWORD + 1];
  gchar *line = NULL;
  gsize len = 0;

  for (;;)
    {
      gchar c;
      gssize n = read (fd, &c, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "reading a password from descriptor %d: %s", fd,
                       g_strerror (saved));
          goto out;
        }
      if (n == 0 && len == 0)
        goto out;
      if (n == 0 || c == '\n')
        break;
      if (len == MAX_PASSWORD)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "a password from descriptor %d is longer than %d bytes",
                       fd, MAX_PASSWORD);
          goto out;
        }
      buf[len++] = c;
    }
  line = g_strndup (buf, len);
out:
  explicit_bzero (buf, sizeof buf);
  return line;
}

/* The terminal to restore if a signal ends us while echo is off. */
static int tty_fd = -1;
static struct termios tty_saved;

static void
restore_tty_and_die (int signum)
{
  tcsetattr (tty_fd, TCSANOW, &tty_saved);
  signal (signum, SIG_DFL);
  raise (signum);
}

/* Asks on the controlling terminal, not stdin or stdout, which may be
 * pipes carrying data, and with echo off, so the password is neither
 * shown nor left in a scrollback. */
static gchar *
ask_password (const gchar *prompt, GError **error)
{
  static const int fatal[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
  struct sigaction restore = { 0 }, previous[G_N_ELEMENTS (fatal)];
  struct termios quiet;
  g_autoptr (GError) read_error = NULL;
  gchar *password;
  int fd = open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "--ask-password needs a terminal to ask on: /dev/tty: %s",
                   g_strerror (saved));
      return NULL;
    }
  if (tcgetattr (fd, &tty_saved) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "--ask-password cannot turn off echo on /dev/tty: %s",
                   g_strerror (saved));
      close (fd);
      return NULL;
    }
  tty_fd = fd;
  restore.sa_handler = restore_tty_and_die;
  for (guint i = 0; i < G_N_ELEMENTS (fatal); i++)
    sigaction (fatal[i], &restore, &previous[i]);

  quiet = tty_saved;
  quiet.c_lflag &= ~(tcflag_t) (ECHO | ECHOE | ECHOK | ECHONL);
  quiet.c_lflag |= ICANON;
  /* Echo goes off before the prompt shows: whatever is typed once it is
   * there is not echoed. */
  tcsetattr (fd, TCSAFLUSH, &quiet);
  mitogen_write_all (fd, (const guint8 *) prompt, strlen (prompt), -1, NULL);
  password = read_secret_line (fd, &read_error);
  tcsetattr (fd, TCSAFLUSH, &tty_saved);

  for (guint i = 0; i < G_N_ELEMENTS (fatal); i++)
    sigaction (fatal[i], &previous[i], NULL);
  tty_fd = -1;
  /* The newline typed was not echoed either. */
  mitogen_write_all (fd, (const guint8 *) "\n", 1, -1, NULL);
  close (fd);

  if (!password && !read_error)
    g_set_error_literal (&read_error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                         "no password given: the terminal closed");
  if (!password)
    g_propagate_error (error, g_steal_pointer (&read_error));
  return password;
}

/* Reads up to @wanted lines from --password-fd. */
static GPtrArray *
read_password_lines (guint wanted, GError **error)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (password_free);

  while (lines->len < wanted)
    {
      g_autoptr (GError) read_error = NULL;
      gchar *line = read_secret_line (cli_options.password_fd, &read_error);

      if (read_error)
        {
          g_propagate_error (error, g_steal_pointer (&read_error));
          return NULL;
        }
      if (!line)
        break;
      g_ptr_array_add (lines, line);
    }
  if (lines->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "descriptor %d gave no password", cli_options.password_fd);
      return NULL;
    }
  if (lines->len != 1 && lines->len < wanted)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "descriptor %d gave %u passwords for %u sudo and ssh hops: "
                   "give one line for each, or one for all",
                   cli_options.password_fd, lines->len, wanted);
      return NULL;
    }
  return g_steal_pointer (&lines);
}

/* The password of each hop of @spec, in order: %NULL for a hop that takes
 * none or when none was asked for. Gathered before anything starts, so
 * that prompts do not come between a hop's output and the next. */
GPtrArray *
cli_gather_passwords (const gchar *spec, GError **error)
{
  g_auto (GStrv) hops = g_strsplit (spec, "/", -1);
  g_autoptr (GPtrArray) passwords
      = g_ptr_array_new_with_free_func (password_free);
  g_autoptr (GPtrArray) lines = NULL;
  g_auto (GStrv) transports = g_new0 (gchar *, g_strv_length (hops) + 1);
  guint wanted = 0, next_line = 0;

  for (guint i = 0; hops[i]; i++)
    {
      g_autoptr (GVariant) options = NULL;

      if (!cli_parse_hop (hops[i], &transports[i], &options, error))
        return NULL;
      if (cli_hop_takes_password (transports[i]))
        wanted++;
    }
  if (cli_options.password_fd >= 0 && wanted > 0)
    {
      lines = read_password_lines (wanted, error);
      if (!lines)
        return NULL;
    }

  for (guint i = 0; hops[i]; i++)
    {
      gchar *password = NULL;

      if (cli_hop_takes_password (transports[i]) && cli_options.ask_password)
        {
          g_autofree gchar *prompt
              = g_strdup_printf ("Password for %s: ", hops[i]);

          password = ask_password (prompt, error);
          if (!password)
            return NULL;
        }
      else if (cli_hop_takes_password (transports[i]) && lines)
        {
          password = g_strdup (lines->pdata[lines->len == 1 ? 0 : next_line]);
          next_line++;
        }
      g_ptr_array_add (passwords, password);
    }
  return g_steal_pointer (&passwords);
}
