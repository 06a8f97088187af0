/* mitogen-cli-run.c: `mitogen run CONTEXT -- COMMAND [ARG…]`, the command's
 * output copied to ours as it arrives.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-cli.h"

#include <signal.h>
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

/* words: run CONTEXT COMMAND [ARG…] */
gboolean
cli_command_run (CliSession *session, GStrv words, int *status, GError **error)
{
  MitogenContext *context = cli_session_get_target (session);
  gchar **argv = words + 2;
  RunOutput output = { context, NULL };
  g_autoptr (GError) call_error = NULL;
  g_autoptr (GVariant) result = NULL;
  GVariant *args;

  args = g_variant_new ("(^asm@aym@s@a{ss})", argv, NULL, NULL,
                        g_variant_new_array (G_VARIANT_TYPE ("{ss}"), NULL, 0));
  result = mitogen_context_call_with_progress (
      context, "core.run", args, on_run_output, &output, NULL, &call_error);
  /* All progress came before the reply: @output is ours again. */
  if (output.error)
    return finish_run_output (g_steal_pointer (&output.error), status, error);
  if (!result)
    {
      g_propagate_error (error, g_steal_pointer (&call_error));
      return FALSE;
    }
  g_variant_get (result, "(i@ay@ay)", status, NULL, NULL);
  *status = CLAMP (*status, 0, 255);
  return TRUE;
}
