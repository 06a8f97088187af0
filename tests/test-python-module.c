/* The python function module: python.call runs a function of Python source
 * with the context's python3, arguments and result as JSON. */
#include <glib/gstdio.h>
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <string.h>

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *ctx;
} Fixture;

/* Comments and a docstring, which minimizing blanks, before the code. */
static const gchar source[] =
  "# A module for the tests.\n"            /* line 1 */
  "\"\"\"The module's docstring,\n"        /* 2 */
  "over two lines.\"\"\"\n"                /* 3 */
  "\n"                                     /* 4 */
  "def add(a, b):\n"                       /* 5 */
  "    \"\"\"Add two things.\"\"\"\n"      /* 6 */
  "    # The sum.\n"                       /* 7 */
  "    return a + b\n"                     /* 8 */
  "\n"                                     /* 9 */
  "def shape(d, l):\n"                     /* 10 */
  "    return {'keys': sorted(d), 'n': len(l), 'l': l[::-1]}\n"  /* 11 */
  "\n"                                     /* 12 */
  "def fail(message):\n"                   /* 13 */
  "    # Raised below.\n"                  /* 14 */
  "    raise ValueError(message)\n";       /* 15 */

#define FAIL_LINE 15

static gboolean
have_python (void)
{
  g_autofree gchar *python = g_find_program_in_path ("python3");

  if (python == NULL)
    {
      g_test_skip ("python3 is not installed");
      return FALSE;
    }
  return TRUE;
}

static void
setup (Fixture *f,
       gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->broker = mitogen_broker_new ();
  f->router = mitogen_router_new (f->broker);
  f->ctx = mitogen_router_connect_context (f->router, "local",
                                           mitogen_test_connect_options (NULL),
                                           NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f,
          gconstpointer data)
{
  mitogen_context_shutdown (f->ctx, TRUE, NULL, NULL);
  mitogen_broker_shutdown (f->broker);
  mitogen_broker_join (f->broker);
  g_clear_object (&f->ctx);
  g_clear_object (&f->router);
  g_clear_object (&f->broker);
}

/* Calls @function of the minimized source with @json_args; returns the
 * JSON result, or %NULL with @error set. */
static gchar *
python_call (Fixture *f,
             const gchar *function,
             const gchar *json_args,
             GError **error)
{
  g_autofree gchar *minimized = mitogen_minimize_source (source);
  g_autoptr(GVariant) r = NULL;
  gchar *result;

  r = mitogen_context_call (f->ctx, "python.call",
                            g_variant_new ("(sss)", minimized, function, json_args),
                            NULL, error);
  if (r == NULL)
    return NULL;
  g_variant_get (r, "s", &result);
  return result;
}

static void
test_round_trip (Fixture *f,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *minimized = mitogen_minimize_source (source);
  g_autofree gchar *r = NULL;
  g_autofree gchar *s = NULL;

  if (!have_python ())
    return;
  /* The module gets minimized source: no comment reaches it. */
  g_assert_null (strstr (minimized, "# The sum"));

  r = python_call (f, "add", "[2, 3]", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r, ==, "5");

  s = python_call (f, "add", "[\"a\", \"b\"]", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s, ==, "\"ab\"");
}

static void
test_structures (Fixture *f,
                 gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *r = NULL;

  if (!have_python ())
    return;
  r = python_call (f, "shape", "[{\"b\": 1, \"a\": [null]}, [1, \"x\", true]]",
                   &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r, ==, "{\"keys\": [\"a\", \"b\"], \"n\": 3, "
                   "\"l\": [true, \"x\", 1]}");
}

static void
test_exception_line (Fixture *f,
                     gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *r = NULL;
  g_autofree gchar *line = g_strdup_printf ("line %d", FAIL_LINE);

  if (!have_python ())
    return;
  r = python_call (f, "fail", "[\"boom\"]", &error);
  g_assert_null (r);
  g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE);
  g_assert_cmpstr (mitogen_call_error_get_remote_domain (error), ==,
                   "mitogen-python-error-quark");
  g_assert_cmpint (mitogen_call_error_get_remote_code (error), ==, 1);
  g_assert_nonnull (strstr (error->message, "ValueError: boom"));
  g_assert_nonnull (strstr (error->message, "Traceback"));
  /* The original file's line, though the module ran the minimized one. */
  g_assert_nonnull (strstr (error->message, "File \"<mitogen>\""));
  g_assert_nonnull (strstr (error->message, line));
}

static void
test_bad_function (Fixture *f,
                   gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *r = NULL;

  if (!have_python ())
    return;
  r = python_call (f, "no_such_function", "[]", &error);
  g_assert_null (r);
  g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE);
  g_assert_nonnull (strstr (error->message, "no_such_function"));
}

static void
test_no_python (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) dir_error = NULL;
      g_autofree gchar *dir = g_dir_make_tmp ("mitogen-nopython-XXXXXX",
                                              &dir_error);
      g_autofree gchar *r = NULL;
      Fixture f = { 0 };

      g_assert_no_error (dir_error);
      /* The agent inherits this environment when it is started. */
      g_setenv ("PATH", dir, TRUE);
      setup (&f, NULL);
      r = python_call (&f, "add", "[1, 2]", &error);
      g_assert_null (r);
      g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE);
      g_assert_cmpstr (mitogen_call_error_get_remote_domain (error), ==,
                       g_quark_to_string (G_IO_ERROR));
      g_assert_nonnull (strstr (error->message,
                                "python3 is not installed on this host"));
      teardown (&f, NULL);
      g_rmdir (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/python-module/round-trip", Fixture, NULL, setup,
              test_round_trip, teardown);
  g_test_add ("/python-module/structures", Fixture, NULL, setup,
              test_structures, teardown);
  g_test_add ("/python-module/exception-line", Fixture, NULL, setup,
              test_exception_line, teardown);
  g_test_add ("/python-module/bad-function", Fixture, NULL, setup,
              test_bad_function, teardown);
  g_test_add_func ("/python-module/no-python", test_no_python);
  return g_test_run ();
}
