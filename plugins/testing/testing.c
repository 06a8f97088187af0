/* testing.c: the testing function module, for the test suites only
 *
 * Functions a real agent runs so that tests can provoke what core offers
 * no way to: a call that ignores cancellation, output racing with calls,
 * log records at a chosen level (or any level bits, as a hostile child
 * would send them), and an abrupt exit. Never installed.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>

#include <stdio.h>
#include <unistd.h>

static GVariant *
testing_hang (MitogenCall *call,
              GVariant *args,
              GError **error)
{
  /* A caller listening for progress learns that the call is running. */
  mitogen_call_emit_progress (call, g_variant_new ("()"));
  /* Deliberately deaf to the call's cancellable: only the broker's grace
   * period, a signal or the end of the process stops it. */
  for (;;)
    g_usleep (G_USEC_PER_SEC);
  return NULL;
}

static GVariant *
testing_print_lines (MitogenCall *call,
                     GVariant *args,
                     GError **error)
{
  guint32 n;

  g_variant_get (args, "(u)", &n);
  for (guint32 i = 0; i < n; i++)
    printf ("line %06u\n", i);
  fflush (stdout);
  return g_variant_new ("()");
}

static GVariant *
testing_print_bytes (MitogenCall *call,
                     GVariant *args,
                     GError **error)
{
  g_autoptr(GVariant) bytes = g_variant_get_child_value (args, 0);
  gsize len;
  const guint8 *data = g_variant_get_fixed_array (bytes, &len, 1);

  fwrite (data, 1, len, stdout);
  fflush (stdout);
  return g_variant_new ("()");
}

static GVariant *
testing_log (MitogenCall *call,
             GVariant *args,
             GError **error)
{
  const gchar *message;
  gint level;

  g_variant_get (args, "(i&s)", &level, &message);
  /* One level, and not ERROR: that would abort the agent (testing.exit
   * ends it on purpose). */
  level &= G_LOG_LEVEL_MASK;
  if (level == 0 || (level & (level - 1)) != 0 || level == G_LOG_LEVEL_ERROR)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Cannot log at level 0x%x", (guint) level);
      return NULL;
    }
  g_log ("testing", (GLogLevelFlags) level, "%s", message);
  return g_variant_new ("()");
}

/* What a hostile child can send that g_log() would not: any level bits,
 * ERROR included, without the agent aborting. */
static GVariant *
testing_send_log (MitogenCall *call,
                  GVariant *args,
                  GError **error)
{
  g_autoptr(MitogenMessage) msg = NULL;
  const gchar *message;
  gint level;

  g_variant_get (args, "(i&s)", &level, &message);
  msg = mitogen_message_new (0, MITOGEN_HANDLE_FORWARD_LOG,
                             g_variant_new ("(siss)", "testing", level, message, ""));
  mitogen_router_route (mitogen_call_get_router (call), msg);
  return g_variant_new ("()");
}

static GVariant *
testing_exit (MitogenCall *call,
              GVariant *args,
              GError **error)
{
  gint status;

  g_variant_get (args, "(i)", &status);
  _exit (status);
}

/* The far end of a one-way message benchmark: receives @n messages from
 * the caller on a handle of its own, told to the caller as progress, and
 * answers how many it got and their bodies' bytes. Only the caller may
 * send there, and a caller that goes away ends the wait. */
static GVariant *
testing_sink (MitogenCall *call, GVariant *args, GError **error)
{
  g_autoptr (MitogenReceiver) recv
      = mitogen_receiver_new (mitogen_call_get_router (call), 0, TRUE,
                              mitogen_call_get_caller_id (call), NULL);
  guint64 bytes = 0;
  guint32 n, got;

  g_variant_get (args, "(u)", &n);
  mitogen_call_emit_progress (
      call, g_variant_new_uint32 (mitogen_receiver_get_handle (recv)));
  for (got = 0; got < n; got++)
    {
      g_autoptr (MitogenMessage) msg = mitogen_receiver_get (
          recv, -1, mitogen_call_get_cancellable (call), error);

      if (!msg)
        return NULL;
      bytes += mitogen_message_get_size (msg);
    }
  return g_variant_new ("(ut)", got, bytes);
}

/* How many modules this context asked its parent for. */
static GVariant *
testing_importer_requests (MitogenCall *call, GVariant *args, GError **error)
{
  MitogenExternalContext *self = mitogen_external_context_get_default ();

  return g_variant_new_uint32 (mitogen_importer_get_n_requests (
      mitogen_external_context_get_importer (self)));
}

static gboolean
wait_for_file (const gchar *path, gint64 deadline)
{
  while (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      g_usleep (10 * 1000);
    }
  return TRUE;
}

/* Detaches, then proves it lives on: writes "PID" to PREFIX.detached once
 * the link is gone, waits for PREFIX.go (made by the test once the parent
 * is gone too), writes PREFIX.after, and waits to be killed, or for at most
 * a few minutes. Nobody gets its reply. */
static GVariant *
testing_detach_and_linger (MitogenCall *call, GVariant *args, GError **error)
{
  MitogenExternalContext *self = mitogen_external_context_get_default ();
  gint64 deadline = g_get_monotonic_time () + 300 * G_USEC_PER_SEC;
  g_autofree gchar *pid = g_strdup_printf ("%d", (int) getpid ());
  g_autofree gchar *detached = NULL, *go = NULL, *after = NULL;
  const gchar *prefix;

  g_variant_get (args, "(&s)", &prefix);
  detached = g_strconcat (prefix, ".detached", NULL);
  go = g_strconcat (prefix, ".go", NULL);
  after = g_strconcat (prefix, ".after", NULL);
  if (!mitogen_external_context_detach (self, NULL, error)
      || !g_file_set_contents (detached, pid, -1, error))
    return NULL;
  if (wait_for_file (go, deadline))
    g_file_set_contents (after, pid, -1, NULL);
  while (g_get_monotonic_time () < deadline)
    g_usleep (100 * 1000);
  return g_variant_new ("()");
}

static const MitogenFunctionInfo testing_functions[] = {
  { "hang", "()", "()", testing_hang,
    "Emit one progress value (), then never return, ignoring cancellation "
    "(for tests)" },
  { "print_lines", "(u)", "()", testing_print_lines,
    "Print N lines “line %06u” to stdout with printf (for tests)" },
  { "print_bytes", "(ay)", "()", testing_print_bytes,
    "Write the bytes given, whatever they are, to stdout (for tests)" },
  { "log", "(is)", "()", testing_log,
    "Log a message at the given GLogLevelFlags level in domain “testing” "
    "(for tests)" },
  { "send_log", "(is)", "()", testing_send_log,
    "Send the master a FORWARD_LOG record in domain “testing” with the "
    "given level bits, whatever they are, bypassing g_log() (for tests)" },
  { "sink", "(u)", "(ut)", testing_sink,
    "Emit a handle (u) as progress, receive N messages there from the "
    "caller, and return how many and their bodies' bytes (for benchmarks)" },
  { "importer_requests", "()", "u", testing_importer_requests,
    "Return how many modules this context asked its parent for (for "
    "tests)" },
  { "detach_and_linger", "(s)", "()", testing_detach_and_linger,
    "Detach from the parent, write the pid to PREFIX.detached, wait for "
    "PREFIX.go, write PREFIX.after, then wait to be killed (for tests)" },
  { "exit", "(i)", "()", testing_exit,
    "Exit the context's process at once with the given status (for tests)" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("testing", NULL, testing_functions);
