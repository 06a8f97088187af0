/* mitogen-cli-run.c: `mitogen run CONTEXT -- COMMAND [ARG…]`, the command's
 * output copied to ours as it arrives.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-cli.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

typedef struct
{
  MitogenContext *context;
  GError *error; /* the first write error; set on the broker thread */
} RunOutput;

/* On the broker thread, in the order the output was read. A blocking
 * write holds up the broker, which is the back pressure wanted when our
 * reader is slower than the command. */
static void
on_run_output (GVariant *progress, gpointer user_data)
{
  RunOutput *output = user_data;
  g_autoptr (GVariant) chunk = NULL;
  const guint8 *data;
  gsize len;
  gint fd;

  if (output->error
      || !g_variant_is_of_type (progress, G_VARIANT_TYPE ("(iay)")))
    return;
  g_variant_get (progress, "(i@ay)", &fd, &chunk);
  data = g_variant_get_fixed_array (chunk, &len, 1);
  if (mitogen_write_all (fd == 2 ? STDERR_FILENO : STDOUT_FILENO, data, len, -1,
                         &output->error))
    return;

  /* Nobody wants the rest (`mitogen run ... | head`): the context cancels
   * the call as it shuts down, which kills the command, and the reply
   * still comes. Cancelling our wait instead would return while progress
   * may still be delivered to @output, on our stack. */
  mitogen_context_shutdown (output->context, FALSE, NULL, NULL);
}

/* Like a program killed by SIGPIPE (which the broker ignores), a reader
 * that went away is no error worth a message. */
static gboolean
finish_run_output (GError *write_error, /* (transfer full) */
                   int *status,
                   GError **error)
{
  if (g_error_matches (write_error, MITOGEN_STREAM_ERROR,
                       MITOGEN_STREAM_ERROR_DISCONNECTED))
    {
      g_error_free (write_error);
      *status = 128 + SIGPIPE;
      return TRUE;
    }
  g_propagate_prefixed_error (error, write_error,
                              "writing the command's output: ");
  return FALSE;
}

/* How shells and ssh report a command that could not start: 127 when it
 * is not there, 126 when it is there but cannot run. 0 for any other
 * error. */
static int
spawn_failure_status (const GError *error)
{
  const gchar *domain = mitogen_call_error_get_remote_domain (error);

  if (!domain || !g_str_equal (domain, g_quark_to_string (G_SPAWN_ERROR)))
    return 0;
  switch (mitogen_call_error_get_remote_code (error))
    {
    case G_SPAWN_ERROR_NOENT:
      return 127;
    case G_SPAWN_ERROR_ACCES:
    case G_SPAWN_ERROR_PERM:
    case G_SPAWN_ERROR_NOEXEC:
    case G_SPAWN_ERROR_ISDIR:
    case G_SPAWN_ERROR_NOTDIR:
    case G_SPAWN_ERROR_LIBBAD:
    case G_SPAWN_ERROR_TOO_BIG:
    case G_SPAWN_ERROR_LOOP:
    case G_SPAWN_ERROR_NAMETOOLONG:
      return 126;
    default:
      return 0;
    }
}

/* The terminal to give back, if stdin is one put in raw mode for -t. */
static struct termios saved_tty;
static gboolean tty_is_raw;

static void
restore_tty (void)
{
  if (tty_is_raw)
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved_tty);
  tty_is_raw = FALSE;
}

static void
restore_tty_and_die (int signum)
{
  restore_tty ();
  signal (signum, SIG_DFL);
  raise (signum);
}

/* With -t at a terminal, like ssh -t: every key goes to the command's pty
 * as typed, ^C included, and the far side's terminal echoes and edits. */
static void
make_tty_raw (void)
{
  static const int fatal[] = { SIGTERM, SIGHUP, SIGQUIT, SIGINT };
  struct sigaction restore = { 0 };
  struct termios raw;

  if (!isatty (STDIN_FILENO) || tcgetattr (STDIN_FILENO, &saved_tty) < 0)
    return;
  restore.sa_handler = restore_tty_and_die;
  for (guint i = 0; i < G_N_ELEMENTS (fatal); i++)
    sigaction (fatal[i], &restore, NULL);
  raw = saved_tty;
  cfmakeraw (&raw);
  tty_is_raw = tcsetattr (STDIN_FILENO, TCSAFLUSH, &raw) == 0;
}

/* core.run_stream's options: where our stdin goes, and the pty's size
 * and terminal type as ours are. */
static GVariant *
run_options (CliStdinPump *pump, GVariant **env)
{
  GVariantBuilder options;
  GVariantBuilder vars;
  struct winsize size;
  const gchar *term = g_getenv ("TERM");

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_init (&vars, G_VARIANT_TYPE ("a{ss}"));
  if (pump)
    g_variant_builder_add (
        &options, "{sv}", "stdin",
        g_variant_new_uint32 (cli_stdin_pump_get_handle (pump)));
  if (cli_options.tty)
    {
      g_variant_builder_add (&options, "{sv}", "tty",
                             g_variant_new_boolean (TRUE));
      if ((ioctl (STDIN_FILENO, TIOCGWINSZ, &size) == 0
           || ioctl (STDOUT_FILENO, TIOCGWINSZ, &size) == 0)
          && size.ws_row > 0 && size.ws_col > 0)
        {
          g_variant_builder_add (&options, "{sv}", "rows",
                                 g_variant_new_uint32 (size.ws_row));
          g_variant_builder_add (&options, "{sv}", "cols",
                                 g_variant_new_uint32 (size.ws_col));
        }
      if (term && *term)
        g_variant_builder_add (&vars, "{ss}", "TERM", term);
    }
  *env = g_variant_builder_end (&vars);
  return g_variant_builder_end (&options);
}

/* words: run CONTEXT COMMAND [ARG…] */
gboolean
cli_command_run (CliSession *session, GStrv words, int *status, GError **error)
{
  MitogenContext *context = cli_session_get_target (session);
  gchar **argv = words + 2;
  RunOutput output = { context, NULL };
  g_autoptr (GError) call_error = NULL;
  g_autoptr (GError) stdin_error = NULL;
  g_autoptr (GVariant) result = NULL;
  CliStdinPump *pump = NULL;
  GVariant *options;
  GVariant *env;
  gboolean stdin_ok = TRUE;

  if (!cli_options.no_stdin)
    pump = cli_stdin_pump_start (session->router,
                                 mitogen_context_get_context_id (context),
                                 STDIN_FILENO);
  options = run_options (pump, &env);
  if (cli_options.tty)
    make_tty_raw ();
  result = mitogen_context_call_with_progress (
      context, "core.run_stream",
      g_variant_new ("(^asms@a{ss}@a{sv})", argv, NULL, env, options),
      on_run_output, &output, NULL, &call_error);
  restore_tty ();
  if (pump)
    stdin_ok = cli_stdin_pump_finish (pump, &stdin_error);

  /* All progress came before the reply: @output is ours again. */
  if (output.error)
    return finish_run_output (g_steal_pointer (&output.error), status, error);
  if (!result)
    {
      *status = spawn_failure_status (call_error);
      if (*status == 0)
        {
          g_propagate_error (error, g_steal_pointer (&call_error));
          return FALSE;
        }
      cli_report_error (call_error);
      return TRUE;
    }
  /* The command ran on what it got: its status says how that went. */
  if (!stdin_ok)
    cli_report_error (stdin_error);
  g_variant_get (result, "(i)", status);
  *status = CLAMP (*status, 0, 255);
  return TRUE;
}
