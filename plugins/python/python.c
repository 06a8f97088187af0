/* python.c: the python function module: python.call
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include <gio/gio.h>
#include <string.h>

#define PYTHON_ERROR (python_error_quark ())
#define PYTHON_ERROR_EXCEPTION 1

static GQuark
python_error_quark (void)
{
  /* A copy, not G_DEFINE_QUARK's static string: the quark outlives the
   * module if it is unloaded. */
  return g_quark_from_string ("mitogen-python-error-quark");
}

/* Given to python3 with -c. Reads stdin: the JSON argument list, a NUL,
 * then the source (neither can hold a NUL). While the source runs,
 * sys.stdout is stderr, so that its prints cannot corrupt the result. */
static const gchar runner[] =
  "import sys, json, traceback\n"
  "out = sys.stdout\n"
  "out.reconfigure(encoding='utf-8')\n"
  "sys.stderr.reconfigure(encoding='utf-8', errors='backslashreplace')\n"
  "sys.stdout = sys.stderr\n"
  "try:\n"
  "    args, src = sys.stdin.buffer.read().split(b'\\0', 1)\n"
  "    ns = {'__name__': '__mitogen__'}\n"
  "    exec(compile(src.decode('utf-8'), '<mitogen>', 'exec'), ns)\n"
  "    result = json.dumps(ns[sys.argv[1]](*json.loads(args)))\n"
  "except BaseException:\n"
  "    sys.stderr.write(traceback.format_exc())\n"
  "    sys.stderr.flush()\n"
  "    sys.exit(1)\n"
  "out.write(result)\n"
  "out.flush()\n";

/* The last non-empty line of @text: for a traceback, the exception. */
static gchar *
last_line (const gchar *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  guint i;

  for (i = g_strv_length (lines); i > 0; i--)
    {
      g_strstrip (lines[i - 1]);
      if (lines[i - 1][0] != '\0')
        return g_strdup (lines[i - 1]);
    }
  return g_strdup ("");
}

static gchar *
bytes_to_utf8 (GBytes *bytes)
{
  gsize size = 0;
  const gchar *data = bytes != NULL ? g_bytes_get_data (bytes, &size) : NULL;

  if (data == NULL)
    return g_strdup ("");
  return g_utf8_make_valid (data, (gssize) size);
}

static GVariant *
python_call (MitogenCall *call,
             GVariant *args,
             GError **error)
{
  GCancellable *cancellable = mitogen_call_get_cancellable (call);
  const gchar *source;
  const gchar *function;
  const gchar *json_args;
  g_autofree gchar *python = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GByteArray) input = NULL;
  g_autoptr(GBytes) stdin_bytes = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autofree gchar *out_text = NULL;
  g_autofree gchar *err_text = NULL;
  GError *local_error = NULL;

  g_variant_get (args, "(&s&s&s)", &source, &function, &json_args);

  python = g_find_program_in_path ("python3");
  if (python == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "python3 is not installed on this host");
      return NULL;
    }

  input = g_byte_array_new ();
  g_byte_array_append (input, (const guint8 *) json_args, strlen (json_args));
  g_byte_array_append (input, (const guint8 *) "", 1);
  g_byte_array_append (input, (const guint8 *) source, strlen (source));
  stdin_bytes = g_byte_array_free_to_bytes (g_steal_pointer (&input));

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "PYTHONDONTWRITEBYTECODE", "1", TRUE);
  proc = g_subprocess_launcher_spawn (launcher, error, python, "-c", runner,
                                      function, NULL);
  if (proc == NULL)
    return NULL;

  /* The runner reads all of stdin before anything else, so no broken pipe
   * is expected here but on a crash, which the status reports anyway. */
  if (!g_subprocess_communicate (proc, stdin_bytes, cancellable, &out, &err,
                                 &local_error))
    {
      g_subprocess_force_exit (proc);
      g_subprocess_wait (proc, NULL, NULL);
      g_propagate_error (error, local_error);
      return NULL;
    }

  err_text = bytes_to_utf8 (err);
  if (!g_subprocess_get_if_exited (proc) ||
      g_subprocess_get_exit_status (proc) != 0)
    {
      if (g_subprocess_get_if_exited (proc) &&
          g_subprocess_get_exit_status (proc) == 1)
        {
          g_autofree gchar *exception = last_line (err_text);
          g_set_error (error, PYTHON_ERROR, PYTHON_ERROR_EXCEPTION,
                       "%s\n%s", exception, err_text);
        }
      else
        g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                     "python3 failed (wait status %d): %s",
                     g_subprocess_get_status (proc), err_text);
      return NULL;
    }

  out_text = bytes_to_utf8 (out);
  return g_variant_new_string (out_text);
}

static const MitogenFunctionInfo python_functions[] = {
  { "call", "(sss)", "s", python_call,
    "Run a Python function with the host's python3: (source, function name, "
    "JSON-encoded argument list) -> JSON-encoded result. The source is "
    "compiled as \"<mitogen>\"; callers should pass it through "
    "mitogen_minimize_source() on the master first, which keeps line "
    "numbers, so tracebacks name the lines of the original file. An "
    "exception fails the call in domain mitogen-python-error-quark, code 1, "
    "with the exception and its traceback" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("python", NULL, python_functions);
