/* core.c: the core function module: its table, and the small functions
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "core-private.h"

#include <math.h>
#include <unistd.h>

GQuark
core_test_error_quark (void)
{
  /* A copy, not G_DEFINE_QUARK's static string: the quark outlives the
   * module if it is unloaded. */
  return g_quark_from_string ("mitogen-core-test-error-quark");
}

/* Longest sleep honoured, so that the deadline cannot overflow: about 31
 * years, which no caller tells apart from forever. */
#define SLEEP_MAX_SECONDS 1e9

GVariant *
core_getpid (MitogenCall *call,
             GVariant *args,
             GError **error)
{
  return g_variant_new_int32 ((gint32) getpid ());
}

GVariant *
core_hostname (MitogenCall *call,
               GVariant *args,
               GError **error)
{
  const gchar *name = g_get_host_name ();

  /* gethostname() promises bytes, not UTF-8. */
  if (!g_utf8_validate (name, -1, NULL))
    {
      g_autofree gchar *valid = g_utf8_make_valid (name, -1);
      return g_variant_new_string (valid);
    }
  return g_variant_new_string (name);
}

GVariant *
core_getenv (MitogenCall *call,
             GVariant *args,
             GError **error)
{
  const gchar *name;
  const gchar *value;

  g_variant_get (args, "(&s)", &name);
  value = g_getenv (name);
  if (value == NULL)
    return g_variant_new_maybe (G_VARIANT_TYPE_STRING, NULL);
  if (!g_utf8_validate (value, -1, NULL))
    {
      g_set_error (error, G_CONVERT_ERROR, G_CONVERT_ERROR_ILLEGAL_SEQUENCE,
                   "The value of environment variable “%s” is not UTF-8",
                   name);
      return NULL;
    }
  return g_variant_new_maybe (G_VARIANT_TYPE_STRING,
                              g_variant_new_string (value));
}

typedef struct {
  GMutex mutex;
  GCond cond;
  gboolean cancelled;
} SleepState;

/* Runs on the thread that cancels, or at once in g_cancellable_connect()
 * if the cancellable already was cancelled. */
static void
sleep_cancelled_cb (GCancellable *cancellable,
                    gpointer user_data)
{
  SleepState *state = user_data;

  g_mutex_lock (&state->mutex);
  state->cancelled = TRUE;
  g_cond_signal (&state->cond);
  g_mutex_unlock (&state->mutex);
}

GVariant *
core_sleep (MitogenCall *call,
            GVariant *args,
            GError **error)
{
  GCancellable *cancellable = mitogen_call_get_cancellable (call);
  SleepState state = { 0 };
  gdouble seconds;
  gint64 deadline;
  gulong handler_id;

  g_variant_get (args, "(d)", &seconds);
  if (!isfinite (seconds) || seconds < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Cannot sleep for %g seconds", seconds);
      return NULL;
    }
  seconds = MIN (seconds, SLEEP_MAX_SECONDS);
  deadline = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);

  g_mutex_init (&state.mutex);
  g_cond_init (&state.cond);
  handler_id = g_cancellable_connect (cancellable,
                                      G_CALLBACK (sleep_cancelled_cb),
                                      &state, NULL);

  g_mutex_lock (&state.mutex);
  /* g_cond_wait_until() returns FALSE once the deadline has passed; on a
   * signal or a spurious wakeup, the loop looks at the flag again. */
  while (!state.cancelled &&
         g_cond_wait_until (&state.cond, &state.mutex, deadline))
    ;
  g_mutex_unlock (&state.mutex);

  /* Waits for a handler running on another thread to return, so that
   * @state may go. */
  g_cancellable_disconnect (cancellable, handler_id);
  g_cond_clear (&state.cond);
  g_mutex_clear (&state.mutex);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  return g_variant_new ("()");
}

GVariant *
core_fail (MitogenCall *call,
           GVariant *args,
           GError **error)
{
  const gchar *message;

  g_variant_get (args, "(&s)", &message);
  g_set_error_literal (error, CORE_TEST_ERROR, CORE_TEST_ERROR_CODE, message);
  return NULL;
}

GVariant *
core_echo (MitogenCall *call,
           GVariant *args,
           GError **error)
{
  g_autoptr(GVariant) boxed = g_variant_get_child_value (args, 0);
  g_autoptr(GVariant) value = g_variant_get_variant (boxed);

  /* A new box, floating like every result of this module, so a caller may
   * either sink it or take it. It shares @value's data: nothing is
   * copied. */
  return g_variant_new_variant (value);
}

static const MitogenFunctionInfo core_functions[] = {
  { "getpid", "()", "i", core_getpid, "Return the process id of the context" },
  { "hostname", "()", "s", core_hostname,
    "Return the host name of the machine the context runs on" },
  { "getenv", "(s)", "ms", core_getenv,
    "Return the value of an environment variable, or nothing if it is unset" },
  { "run", "(asmaymsa{ss})", "(iayay)", core_run,
    "Run argv with optional stdin, cwd and extra environment; return "
    "(exit status or 128+signal, stdout, stderr), or stream output as "
    "(fd, chunk) progress" },
  { "run_stream", "(asmsa{ss}a{sv})", "(i)", core_run_stream,
    "Run argv with optional cwd and extra environment, its output streamed "
    "as (fd, chunk) progress and, with option stdin (u: the caller's handle), "
    "its stdin streamed from the caller under flow control; on a pty with "
    "option tty (b), of rows (u) and cols (u); return (exit status or "
    "128+signal)" },
  { "read_file", "(s)", "ay", core_read_file, "Return the contents of a file" },
  { "write_file", "(sayu)", "()", core_write_file,
    "Replace a file atomically with the given bytes, created with the given "
    "mode (less the umask)" },
  { "fetch_file", "(ssts)", "()", core_fetch_file,
    "Fetch (path, version, token) from the parent's file service into a "
    "local path, atomically (mitogen_context_put_file())" },
  { "send_file", "(su)", "()", core_send_file,
    "Stream a file to the caller's handle (mitogen_context_get_file())" },
  { "make_dir", "(su)", "()", core_make_dir,
    "Create a directory if missing and set its mode" },
  { "make_symlink", "(ss)", "()", core_make_symlink,
    "Point a symlink at a target, replacing what was there atomically" },
  { "list_tree", "(s)", "a(ssuts)", core_list_tree,
    "List a directory and everything below it, parents first, without "
    "following symlinks: (relative path, type, mode, size, symlink target)" },
  { "stat", "(s)", "a{sv}", core_stat,
    "Describe a file without following a final symlink: size, mode, uid, "
    "gid, mtime, type" },
  { "sleep", "(d)", "()", core_sleep,
    "Sleep for the given number of seconds, or until the call is cancelled" },
  { "fail", "(s)", "()", core_fail,
    "Fail with the given message, in domain mitogen-core-test-error-quark, "
    "code 42 (for tests)" },
  { "echo", "(v)", "v", core_echo,
    "Return the argument unchanged (for tests)" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("core", NULL, core_functions);
