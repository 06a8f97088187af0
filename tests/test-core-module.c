/* test-core-module.c: the core function module, loaded as a context loads
 * it and called through its function table
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Long enough never to be hit by a working implementation under valgrind,
 * short enough that a broken one fails instead of hanging the suite. */
#define DEADLINE_USEC (mitogen_test_scaled (10 * G_USEC_PER_SEC))
#define WAIT_USEC (mitogen_test_scaled (20 * G_USEC_PER_SEC))

/* How long a helper thread waits before it cancels a call: long enough
 * that the call is usually asleep by then. Either way the call must end
 * cancelled. */
#define CANCEL_DELAY_USEC (100 * 1000)

static GModule *core_module;
static const MitogenModuleInfo *core_info;

/* ---------------------------------------------------------------------- */
/* Helpers */

static gchar *
core_module_path (void)
{
  const gchar *env = g_getenv ("MITOGEN_CORE_MODULE");

  if (env != NULL && env[0] != '\0')
    return g_strdup (env);
#ifdef CORE_MODULE_PATH
  return g_strdup (CORE_MODULE_PATH);
#else
  /* Under meson test: tests/ and plugins/ are siblings in the build. */
  return g_test_build_filename (G_TEST_BUILT, "..", "plugins", "core.so",
                                NULL);
#endif
}

static void
load_core_module (void)
{
  g_autofree gchar *path = core_module_path ();
  gpointer symbol = NULL;

  core_module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (core_module == NULL)
    g_error ("Cannot load %s: %s", path, g_module_error ());
  g_assert_true (g_module_symbol (core_module, MITOGEN_MODULE_INFO_SYMBOL,
                                  &symbol));
  g_assert_nonnull (symbol);
  core_info = symbol;
}

static const MitogenFunctionInfo *
find_function (const gchar *name)
{
  for (const MitogenFunctionInfo *f = core_info->functions; f->name; f++)
    if (g_str_equal (f->name, name))
      return f;
  return NULL;
}

static MitogenCall *
new_call (const gchar *name)
{
  return mitogen_call_new (NULL, 0, 0, "core", name);
}

/* Calls @name through its table entry with @call; @args is sunk. Checks
 * the arguments against the declared args_type and the result against the
 * declared result_type. */
static GVariant *
call_with (MitogenCall *call,
           const gchar *name,
           GVariant *args,
           GError **error)
{
  const MitogenFunctionInfo *f = find_function (name);
  g_autoptr(GVariant) owned_args = g_variant_ref_sink (args);
  GVariant *result;

  g_assert_nonnull (f);
  g_assert_cmpstr (g_variant_get_type_string (owned_args), ==, f->args_type);
  result = f->func (call, owned_args, error);
  if (result == NULL)
    {
      g_assert_true (error == NULL || *error != NULL);
      return NULL;
    }
  g_assert_true (error == NULL || *error == NULL);
  /* Every result of the module is a new floating value, right for a caller
   * that sinks it as for one that takes it. */
  g_assert_true (g_variant_is_floating (result));
  result = g_variant_take_ref (result);
  g_assert_true (g_variant_is_of_type (result,
                                       G_VARIANT_TYPE (f->result_type)));
  return result;
}

static GVariant *
call (const gchar *name,
      GVariant *args,
      GError **error)
{
  g_autoptr(MitogenCall) c = new_call (name);
  return call_with (c, name, args, error);
}

/* Arguments of core.run. @stdin_data may be NULL; @env is a NULL-ended
 * list of name, value pairs, or NULL. */
static GVariant *
run_args (const gchar *const *argv,
          GBytes *stdin_data,
          const gchar *cwd,
          const gchar *const *env)
{
  GVariantBuilder env_builder;
  GVariant *stdin_v = NULL;

  if (stdin_data != NULL)
    stdin_v = g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                        stdin_data, TRUE);
  g_variant_builder_init (&env_builder, G_VARIANT_TYPE ("a{ss}"));
  for (guint i = 0; env != NULL && env[i] != NULL; i += 2)
    g_variant_builder_add (&env_builder, "{ss}", env[i], env[i + 1]);
  return g_variant_new ("(^asm@aymsa{ss})", argv, stdin_v, cwd, &env_builder);
}

typedef struct {
  gint status;
  GBytes *out;
  GBytes *err;
} RunResult;

static void
run_result_clear (RunResult *r)
{
  g_clear_pointer (&r->out, g_bytes_unref);
  g_clear_pointer (&r->err, g_bytes_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunResult, run_result_clear)

static void
run_result_from_variant (GVariant *v,
                         RunResult *r)
{
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GVariant) err = NULL;

  g_variant_get (v, "(i@ay@ay)", &r->status, &out, &err);
  r->out = g_variant_get_data_as_bytes (out);
  r->err = g_variant_get_data_as_bytes (err);
}

static void
run_ok (const gchar *const *argv,
        GBytes *stdin_data,
        const gchar *cwd,
        const gchar *const *env,
        RunResult *r)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v =
    call ("run", run_args (argv, stdin_data, cwd, env), &error);

  g_assert_no_error (error);
  run_result_from_variant (v, r);
}

static void
assert_bytes_str (GBytes *bytes,
                  const gchar *expected)
{
  gsize len;
  const gchar *data = g_bytes_get_data (bytes, &len);

  g_assert_cmpmem (data, len, expected, strlen (expected));
}

/* Cancels a cancellable after a short delay, from a thread of its own. */
static gpointer
cancel_later_thread (gpointer data)
{
  g_usleep (CANCEL_DELAY_USEC);
  g_cancellable_cancel (data);
  return NULL;
}

static GThread *
cancel_later (MitogenCall *c)
{
  return g_thread_new ("canceller", cancel_later_thread,
                       mitogen_call_get_cancellable (c));
}

/* g_variant_equal() compares printed text, which for megabytes is slow;
 * the serialised forms of two values in normal form are equal exactly
 * when the values are. */
static void
assert_variant_same (GVariant *a,
                     GVariant *b)
{
  g_assert_cmpstr (g_variant_get_type_string (a), ==,
                   g_variant_get_type_string (b));
  g_assert_true (g_variant_is_normal_form (a));
  g_assert_true (g_variant_is_normal_form (b));
  g_assert_cmpmem (g_variant_get_data (a), g_variant_get_size (a),
                   g_variant_get_data (b), g_variant_get_size (b));
}

static gchar *
make_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("test-core-module-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_tree (const gchar *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                        NULL, NULL);
  while (children != NULL &&
         (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree gchar *child =
        g_build_filename (path, g_file_info_get_name (info), NULL);
      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_assert_no_errno (g_unlink (child));
      g_object_unref (info);
    }
  g_assert_no_errno (g_rmdir (path));
}

/* ---------------------------------------------------------------------- */
/* The module table */

static void
test_info (void)
{
  static const struct {
    const gchar *name;
    const gchar *args_type;
    const gchar *result_type;
  } expected[] = {
    { "getpid", "()", "i" },
    { "hostname", "()", "s" },
    { "getenv", "(s)", "ms" },
    { "run", "(asmaymsa{ss})", "(iayay)" },
    { "run_stream", "(asmsa{ss}a{sv})", "(i)" },
    { "read_file", "(s)", "ay" },
    { "write_file", "(sayu)", "()" },
    { "stat", "(s)", "a{sv}" },
    { "sleep", "(d)", "()" },
    { "fail", "(s)", "()" },
    { "echo", "(v)", "v" },
    { "fetch_file", "(ssts)", "()" },
    { "send_file", "(su)", "()" },
    { "make_dir", "(su)", "()" },
    { "make_symlink", "(ss)", "()" },
    { "list_tree", "(s)", "a(ssuts)" },
  };
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  guint n = 0;

  g_assert_cmpuint (core_info->abi_version, ==, MITOGEN_MODULE_ABI_VERSION);
  g_assert_cmpstr (core_info->name, ==, "core");
  g_assert_true (core_info->requires == NULL || core_info->requires[0] == NULL);
  g_assert_nonnull (core_info->functions);

  for (const MitogenFunctionInfo *f = core_info->functions; f->name; f++, n++)
    {
      g_test_message ("core.%s %s -> %s", f->name, f->args_type,
                      f->result_type);
      g_assert_true (g_hash_table_add (seen, (gpointer) f->name));
      g_assert_true (g_variant_type_string_is_valid (f->args_type));
      g_assert_true (g_variant_type_string_is_valid (f->result_type));
      g_assert_true (g_variant_type_is_tuple (G_VARIANT_TYPE (f->args_type)));
      g_assert_nonnull (f->func);
      g_assert_nonnull (f->doc);
      g_assert_cmpuint (strlen (f->doc), >, 0);
      g_assert_null (strchr (f->doc, '\n'));
    }
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (expected));

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      const MitogenFunctionInfo *f = find_function (expected[i].name);

      g_assert_nonnull (f);
      g_assert_cmpstr (f->args_type, ==, expected[i].args_type);
      g_assert_cmpstr (f->result_type, ==, expected[i].result_type);
    }
  g_assert_null (find_function ("no-such-function"));
}

/* ---------------------------------------------------------------------- */
/* getpid, hostname, getenv */

static void
test_getpid (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = call ("getpid", g_variant_new ("()"), &error);

  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (v), ==, getpid ());
}

static void
test_hostname (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = call ("hostname", g_variant_new ("()"), &error);

  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, g_get_host_name ());
}

/* Returns the value core.getenv gives, or %NULL for nothing. */
static gchar *
getenv_ok (const gchar *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = call ("getenv", g_variant_new ("(s)", name), &error);
  gchar *value = NULL;

  g_assert_no_error (error);
  g_variant_get (v, "ms", &value);
  return value;
}

static void
test_getenv (void)
{
  /* Set, and unset, in main() before any thread. */
  g_autofree gchar *set = getenv_ok ("MITOGEN_TEST_CORE_VAR");
  g_autofree gchar *empty = getenv_ok ("MITOGEN_TEST_CORE_EMPTY");
  g_autofree gchar *unset = getenv_ok ("MITOGEN_TEST_CORE_UNSET");

  g_assert_cmpstr (set, ==, "some value ✓");
  g_assert_cmpstr (empty, ==, "");
  g_assert_null (unset);
}

/* ---------------------------------------------------------------------- */
/* run */

static void
test_run_status (void)
{
  const gchar *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
  g_auto(RunResult) r = { 0 };

  run_ok (argv, NULL, NULL, NULL, &r);
  g_assert_cmpint (r.status, ==, 3);
  assert_bytes_str (r.out, "out\n");
  assert_bytes_str (r.err, "err\n");
}

static void
test_run_stdin (void)
{
  const gchar *argv[] = { "cat", NULL };
  const guint8 small[] = { 'a', 0, 'b', 0xff, '\n' };
  g_autoptr(GBytes) small_bytes = g_bytes_new_static (small, sizeof small);
  g_autoptr(GBytes) empty_bytes = g_bytes_new_static ("", 0);
  /* Far beyond a pipe's buffer both ways: writing stdin while reading
   * stdout must not deadlock. */
  gsize big_len = 4 * 1024 * 1024;
  g_autofree guint8 *big = g_malloc (big_len);
  g_autoptr(GBytes) big_bytes = NULL;

  for (gsize i = 0; i < big_len; i++)
    big[i] = (guint8) (i * 31 + i / 65536);
  big_bytes = g_bytes_new_static (big, big_len);

  {
    g_auto(RunResult) r = { 0 };
    run_ok (argv, small_bytes, NULL, NULL, &r);
    g_assert_cmpint (r.status, ==, 0);
    g_assert_true (g_bytes_equal (r.out, small_bytes));
    g_assert_cmpuint (g_bytes_get_size (r.err), ==, 0);
  }
  {
    g_auto(RunResult) r = { 0 };
    run_ok (argv, empty_bytes, NULL, NULL, &r);
    g_assert_cmpint (r.status, ==, 0);
    g_assert_cmpuint (g_bytes_get_size (r.out), ==, 0);
  }
  {
    g_auto(RunResult) r = { 0 };
    run_ok (argv, big_bytes, NULL, NULL, &r);
    g_assert_cmpint (r.status, ==, 0);
    g_assert_true (g_bytes_equal (r.out, big_bytes));
  }
}

static void
test_run_stdin_unread (void)
{
  /* The child exits without reading: the broken pipe is no error. */
  const gchar *argv[] = { "sh", "-c", "exit 7", NULL };
  gsize len = 1024 * 1024;
  g_autofree guint8 *data = g_malloc0 (len);
  g_autoptr(GBytes) bytes = g_bytes_new_static (data, len);
  g_auto(RunResult) r = { 0 };

  run_ok (argv, bytes, NULL, NULL, &r);
  g_assert_cmpint (r.status, ==, 7);
}

static void
test_run_no_stdin (void)
{
  /* Without stdin bytes the child reads /dev/null, not the context's
   * stdin: cat ends at once. */
  const gchar *argv[] = { "cat", NULL };
  g_auto(RunResult) r = { 0 };

  run_ok (argv, NULL, NULL, NULL, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpuint (g_bytes_get_size (r.out), ==, 0);
}

static void
test_run_cwd_env (void)
{
  const gchar *argv[] = {
    "sh", "-c", "pwd -P; printf '%s|%s\\n' \"$MITOGEN_TEST_ADDED\" "
    "\"$MITOGEN_TEST_INHERITED\"", NULL
  };
  const gchar *env[] = { "MITOGEN_TEST_ADDED", "added value", NULL };
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *real = realpath (dir, NULL);
  g_autofree gchar *expected = g_strdup_printf ("%s\nadded value|inherited\n",
                                                real);
  g_auto(RunResult) r = { 0 };

  g_assert_nonnull (real);
  /* MITOGEN_TEST_INHERITED is set in main(). */
  run_ok (argv, NULL, dir, env, &r);

  g_assert_cmpint (r.status, ==, 0);
  assert_bytes_str (r.out, expected);
  assert_bytes_str (r.err, "");
  remove_tree (dir);
}

static void
test_run_env_override (void)
{
  const gchar *argv[] = { "sh", "-c", "printf %s \"$MITOGEN_TEST_OVERRIDE\"",
                          NULL };
  const gchar *env[] = { "MITOGEN_TEST_OVERRIDE", "new", NULL };
  g_auto(RunResult) r = { 0 };

  /* MITOGEN_TEST_OVERRIDE=old is set in main(). */
  run_ok (argv, NULL, NULL, env, &r);
  assert_bytes_str (r.out, "new");
}

static void
test_run_bad_env (void)
{
  const gchar *argv[] = { "true", NULL };
  const gchar *env[] = { "A=B", "x", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = call ("run", run_args (argv, NULL, NULL, env),
                                &error);

  g_assert_null (v);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
test_run_nonexistent (void)
{
  const gchar *program = "mitogen-test-no-such-program";
  const gchar *argv[] = { program, "arg", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = call ("run", run_args (argv, NULL, NULL, NULL),
                                &error);

  g_assert_null (v);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_true (error->domain == G_SPAWN_ERROR ||
                 error->domain == G_IO_ERROR);
  g_assert_nonnull (strstr (error->message, program));
}

static void
test_run_bad_cwd (void)
{
  const gchar *argv[] = { "true", NULL };
  const gchar *cwd = "/nonexistent/mitogen-test-dir";
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = call ("run", run_args (argv, NULL, cwd, NULL),
                                &error);

  g_assert_null (v);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, cwd));
}

static void
test_run_empty_argv (void)
{
  const gchar *argv[] = { NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = call ("run", run_args (argv, NULL, NULL, NULL),
                                &error);

  g_assert_null (v);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
test_run_signal (void)
{
  const gchar *argv[] = { "sh", "-c", "echo before; kill -9 $$", NULL };
  g_auto(RunResult) r = { 0 };

  run_ok (argv, NULL, NULL, NULL, &r);
  g_assert_cmpint (r.status, ==, 128 + SIGKILL);
  assert_bytes_str (r.out, "before\n");
}

static void
test_run_large_output (void)
{
  /* More than a pipe holds, on both pipes at once. */
  const gchar *argv[] = {
    "sh", "-c", "head -c 3000000 /dev/zero; head -c 2000000 /dev/zero >&2",
    NULL
  };
  g_auto(RunResult) r = { 0 };

  run_ok (argv, NULL, NULL, NULL, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpuint (g_bytes_get_size (r.out), ==, 3000000);
  g_assert_cmpuint (g_bytes_get_size (r.err), ==, 2000000);
}

static void
run_cancel (guint32 progress_handle)
{
  /* sleep itself, not a shell that would leave it running when killed. */
  const gchar *argv[] = { "sleep", "30", NULL };
  g_autoptr(GBytes) stdin_bytes = g_bytes_new_static ("unread", 6);

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(MitogenCall) c =
        mitogen_call_new (NULL, 0, progress_handle, "core", "run");
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = NULL;
      GThread *canceller = cancel_later (c);
      gint64 start = g_get_monotonic_time ();

      /* The second time with stdin, to cancel its splice too. */
      v = call_with (c, "run",
                     run_args (argv, i == 0 ? NULL : stdin_bytes, NULL, NULL),
                     &error);
      g_assert_null (v);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_cmpint (g_get_monotonic_time () - start, <, DEADLINE_USEC);
      g_thread_join (canceller);
    }
}

static void
test_run_cancel (void)
{
  run_cancel (0);
}

static void
test_run_cancel_streaming (void)
{
  /* The call wants progress; without a router the progress is dropped. */
  run_cancel (1);
}

static void
test_run_cancelled_before (void)
{
  const gchar *argv[] = { "sleep", "30", NULL };

  for (guint32 progress = 0; progress < 2; progress++)
    {
      g_autoptr(MitogenCall) c =
        mitogen_call_new (NULL, 0, progress, "core", "run");
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = NULL;

      g_cancellable_cancel (mitogen_call_get_cancellable (c));
      v = call_with (c, "run", run_args (argv, NULL, NULL, NULL), &error);
      g_assert_null (v);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    }
}

/* ---------------------------------------------------------------------- */
/* run, streaming: through a router of this process, the progress comes
 * back to a receiver here. */

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenReceiver *receiver;
} ProgressFixture;

static void
progress_setup (ProgressFixture *f,
                gconstpointer data G_GNUC_UNUSED)
{
  f->broker = mitogen_broker_new ();
  f->router = mitogen_router_new (f->broker);
  f->receiver = mitogen_receiver_new (f->router, 0, TRUE,
                                      MITOGEN_CONTEXT_ID_NONE, NULL);
}

static void
progress_teardown (ProgressFixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  mitogen_receiver_close (f->receiver);
  mitogen_broker_shutdown (f->broker);
  mitogen_broker_join (f->broker);
  g_clear_object (&f->receiver);
  g_clear_object (&f->router);
  g_clear_object (&f->broker);
}

/* Runs with progress on; returns the status and fills @out and @err with
 * the streamed output, checking that the result carries none. */
static gint
run_streamed (ProgressFixture *f,
              const gchar *const *argv,
              GBytes *stdin_data,
              GByteArray *out,
              GByteArray *err,
              guint *n_chunks)
{
  guint32 handle = mitogen_receiver_get_handle (f->receiver);
  g_autoptr(MitogenCall) c =
    mitogen_call_new (f->router, mitogen_router_get_context_id (f->router),
                      handle, "core", "run");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(MitogenMessage) end = NULL;
  g_auto(RunResult) r = { 0 };

  g_assert_true (mitogen_call_wants_progress (c));
  v = call_with (c, "run", run_args (argv, stdin_data, NULL, NULL), &error);
  g_assert_no_error (error);
  run_result_from_variant (v, &r);
  g_assert_cmpuint (g_bytes_get_size (r.out), ==, 0);
  g_assert_cmpuint (g_bytes_get_size (r.err), ==, 0);

  /* Progress was routed before the function returned; a marker routed
   * now arrives after all of it. */
  end = mitogen_message_new (mitogen_router_get_context_id (f->router), handle,
                             g_variant_new_string ("end"));
  mitogen_router_route (f->router, end);

  *n_chunks = 0;
  for (;;)
    {
      g_autoptr (GVariant) data
          = mitogen_receiver_get_value (f->receiver, WAIT_USEC, NULL, &error);
      g_autoptr(GVariant) chunk = NULL;
      gint fd;
      const guint8 *bytes;
      gsize len;

      g_assert_no_error (error);
      if (g_variant_is_of_type (data, G_VARIANT_TYPE_STRING))
        break;
      g_assert_cmpstr (g_variant_get_type_string (data), ==, "(iay)");
      g_variant_get (data, "(i@ay)", &fd, &chunk);
      bytes = g_variant_get_fixed_array (chunk, &len, 1);
      g_assert_cmpuint (len, >, 0);
      g_assert_true (fd == 1 || fd == 2);
      g_byte_array_append (fd == 1 ? out : err, bytes, len);
      (*n_chunks)++;
    }
  return r.status;
}

static void
test_run_progress (ProgressFixture *f,
                   gconstpointer data G_GNUC_UNUSED)
{
  const gchar *argv[] = {
    "sh", "-c", "echo out1; echo err1 >&2; echo out2; exit 4", NULL
  };
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GByteArray) err = g_byte_array_new ();
  guint n_chunks;

  g_assert_cmpint (run_streamed (f, argv, NULL, out, err, &n_chunks), ==, 4);
  g_assert_cmpmem (out->data, out->len, "out1\nout2\n", 10);
  g_assert_cmpmem (err->data, err->len, "err1\n", 5);
  g_assert_cmpuint (n_chunks, >=, 2);
}

static void
test_run_progress_stdin (ProgressFixture *f,
                         gconstpointer data G_GNUC_UNUSED)
{
  const gchar *argv[] = { "cat", NULL };
  gsize len = 1024 * 1024;
  g_autofree guint8 *blob = g_malloc (len);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GByteArray) err = g_byte_array_new ();
  guint n_chunks;

  for (gsize i = 0; i < len; i++)
    blob[i] = (guint8) (i * 13 + i / 1000);
  bytes = g_bytes_new_static (blob, len);

  g_assert_cmpint (run_streamed (f, argv, bytes, out, err, &n_chunks), ==, 0);
  g_assert_cmpmem (out->data, out->len, blob, len);
  g_assert_cmpuint (err->len, ==, 0);
  /* More than one read's worth arrives in more than one chunk. */
  g_assert_cmpuint (n_chunks, >, 1);
}

static void
test_run_progress_stdin_unread (ProgressFixture *f,
                                gconstpointer data G_GNUC_UNUSED)
{
  const gchar *argv[] = { "sh", "-c", "exit 6", NULL };
  gsize len = 1024 * 1024;
  g_autofree guint8 *blob = g_malloc0 (len);
  g_autoptr(GBytes) bytes = g_bytes_new_static (blob, len);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GByteArray) err = g_byte_array_new ();
  guint n_chunks;

  g_assert_cmpint (run_streamed (f, argv, bytes, out, err, &n_chunks), ==, 6);
  g_assert_cmpuint (n_chunks, ==, 0);
}

static void
test_run_progress_signal (ProgressFixture *f,
                          gconstpointer data G_GNUC_UNUSED)
{
  const gchar *argv[] = { "sh", "-c", "printf x >&2; kill -9 $$", NULL };
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GByteArray) err = g_byte_array_new ();
  guint n_chunks;

  g_assert_cmpint (run_streamed (f, argv, NULL, out, err, &n_chunks), ==,
                   128 + SIGKILL);
  g_assert_cmpuint (out->len, ==, 0);
  g_assert_cmpmem (err->data, err->len, "x", 1);
}

/* ---------------------------------------------------------------------- */
/* read_file, write_file, stat */

static GVariant *
stat_ok (const gchar *path)
{
  g_autoptr(GError) error = NULL;
  GVariant *v = call ("stat", g_variant_new ("(s)", path), &error);

  g_assert_no_error (error);
  return v;
}

static void
test_files_round_trip (void)
{
  static const guint8 data[] = { 0, 1, 2, 'x', 0xff, 0, '\n' };
  static const guint8 data2[] = { 'n', 'e', 'w' };
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *path = g_build_filename (dir, "file", NULL);
  g_autoptr(GError) error = NULL;

  for (guint round = 0; round < 2; round++)
    {
      const guint8 *contents = round == 0 ? data : data2;
      gsize len = round == 0 ? sizeof data : sizeof data2;
      guint32 mode = round == 0 ? 0600 : 0640;
      g_autoptr(GVariant) written = NULL;
      g_autoptr(GVariant) read = NULL;
      g_autoptr(GVariant) st = NULL;
      const gchar *type;
      const guint8 *got;
      gsize got_len;
      guint64 size;
      guint32 st_mode, uid;
      gint64 mtime;

      /* The second round replaces the file. */
      written = call ("write_file",
                      g_variant_new ("(s@ayu)", path,
                                     g_variant_new_fixed_array (
                                       G_VARIANT_TYPE_BYTE, contents, len, 1),
                                     mode),
                      &error);
      g_assert_no_error (error);

      read = call ("read_file", g_variant_new ("(s)", path), &error);
      g_assert_no_error (error);
      got = g_variant_get_fixed_array (read, &got_len, 1);
      g_assert_cmpmem (got, got_len, contents, len);

      st = stat_ok (path);
      g_assert_true (g_variant_lookup (st, "size", "t", &size));
      g_assert_cmpuint (size, ==, len);
      g_assert_true (g_variant_lookup (st, "mode", "u", &st_mode));
      /* Less the umask; this test's umask leaves owner and group alone. */
      g_assert_cmpuint (st_mode & 07777, ==, mode & ~(guint32) 0022);
      g_assert_true (S_ISREG (st_mode));
      g_assert_true (g_variant_lookup (st, "uid", "u", &uid));
      g_assert_cmpuint (uid, ==, getuid ());
      g_assert_true (g_variant_lookup (st, "gid", "u", &uid));
      g_assert_true (g_variant_lookup (st, "mtime", "x", &mtime));
      g_assert_cmpint (mtime, >, 0);
      g_assert_true (g_variant_lookup (st, "type", "&s", &type));
      g_assert_cmpstr (type, ==, "file");
    }

  /* Nothing but the file: no temporary left behind. */
  {
    g_autoptr(GDir) d = g_dir_open (dir, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (g_dir_read_name (d), ==, "file");
    g_assert_null (g_dir_read_name (d));
  }

  /* An empty file. */
  {
    g_autoptr(GVariant) written = NULL;
    g_autoptr(GVariant) read = NULL;

    written = call ("write_file",
                    g_variant_new ("(s@ayu)", path,
                                   g_variant_new_fixed_array (
                                     G_VARIANT_TYPE_BYTE, NULL, 0, 1),
                                   0600),
                    &error);
    g_assert_no_error (error);
    read = call ("read_file", g_variant_new ("(s)", path), &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_variant_n_children (read), ==, 0);
  }

  remove_tree (dir);
}

static void
test_files_errors (void)
{
  const gchar *missing = "/nonexistent/mitogen-test-file";
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  v = call ("read_file", g_variant_new ("(s)", missing), &error);
  g_assert_null (v);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  v = call ("stat", g_variant_new ("(s)", missing), &error);
  g_assert_null (v);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  v = call ("write_file",
            g_variant_new ("(s@ayu)", missing,
                           g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                      "x", 1, 1),
                           0644),
            &error);
  g_assert_null (v);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  v = call ("write_file",
            g_variant_new ("(s@ayu)", "/tmp/mitogen-test-never-written",
                           g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                      "x", 1, 1),
                           010000),
            &error);
  g_assert_null (v);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
}

static void
test_stat_kinds (void)
{
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *link = g_build_filename (dir, "link", NULL);
  const gchar *target = "no-such-target";
  g_autoptr(GVariant) dir_st = NULL;
  g_autoptr(GVariant) link_st = NULL;
  g_autoptr(GVariant) null_st = NULL;
  const gchar *type;
  guint32 mode;
  guint64 size;

  g_assert_no_errno (symlink (target, link));

  dir_st = stat_ok (dir);
  g_assert_true (g_variant_lookup (dir_st, "type", "&s", &type));
  g_assert_cmpstr (type, ==, "directory");
  g_assert_true (g_variant_lookup (dir_st, "mode", "u", &mode));
  g_assert_true (S_ISDIR (mode));
  /* g_dir_make_tmp() makes it 0700. */
  g_assert_cmpuint (mode & 07777, ==, 0700);

  /* The link itself, though it dangles. */
  link_st = stat_ok (link);
  g_assert_true (g_variant_lookup (link_st, "type", "&s", &type));
  g_assert_cmpstr (type, ==, "symlink");
  g_assert_true (g_variant_lookup (link_st, "size", "t", &size));
  g_assert_cmpuint (size, ==, strlen (target));

  null_st = stat_ok ("/dev/null");
  g_assert_true (g_variant_lookup (null_st, "type", "&s", &type));
  g_assert_cmpstr (type, ==, "other");

  remove_tree (dir);
}

/* ---------------------------------------------------------------------- */
/* sleep */

static void
test_sleep_short (void)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GVariant) v = call ("sleep", g_variant_new ("(d)", 0.05), &error);
  gint64 elapsed = g_get_monotonic_time () - start;

  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (v, G_VARIANT_TYPE_UNIT));
  g_assert_cmpint (elapsed, >=, 50 * 1000);
  g_assert_cmpint (elapsed, <, DEADLINE_USEC);
}

static void
test_sleep_zero (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = call ("sleep", g_variant_new ("(d)", 0.0), &error);

  g_assert_no_error (error);
  g_assert_nonnull (v);
}

static void
test_sleep_cancel (void)
{
  g_autoptr(MitogenCall) c = new_call ("sleep");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  GThread *canceller = cancel_later (c);
  gint64 start = g_get_monotonic_time ();

  v = call_with (c, "sleep", g_variant_new ("(d)", 30.0), &error);
  g_assert_null (v);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, DEADLINE_USEC);
  g_thread_join (canceller);
}

static void
test_sleep_cancelled_before (void)
{
  g_autoptr(MitogenCall) c = new_call ("sleep");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  g_cancellable_cancel (mitogen_call_get_cancellable (c));
  v = call_with (c, "sleep", g_variant_new ("(d)", 30.0), &error);
  g_assert_null (v);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_sleep_invalid (void)
{
  const gdouble bad[] = { -1.0, NAN, INFINITY };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = call ("sleep", g_variant_new ("(d)", bad[i]),
                                    &error);

      g_assert_null (v);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
}

/* ---------------------------------------------------------------------- */
/* fail, echo */

static void
test_fail (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = call ("fail", g_variant_new ("(s)", "boom ✗"),
                                &error);

  g_assert_null (v);
  g_assert_nonnull (error);
  g_assert_cmpstr (g_quark_to_string (error->domain), ==,
                   "mitogen-core-test-error-quark");
  g_assert_cmpint (error->code, ==, 42);
  g_assert_cmpstr (error->message, ==, "boom ✗");
}

static void
test_echo (void)
{
  const gchar *texts[] = {
    "()",
    "42",
    "'text'",
    "[byte 0x00, 0xff]",
    "@ay []",
    "@ms nothing",
    "just @ms 'x'",
    "{'a': <1>, 'b': <('x', [<@mi nothing>, <true>])>}",
    "([1, 2, 3], @a{sas} {'k': ['v', 'w']}, (int64 -1, uint64 18446744073709551615, 1.5))",
    "<<<'deep'>>>",
    "[@(ias) (1, ['a']), (2, [])]",
  };
  gsize big_len = 8 * 1024 * 1024;
  g_autofree guint8 *big = g_malloc (big_len);
  g_autoptr(GVariant) big_v = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = g_variant_parse (NULL, texts[i], NULL, NULL,
                                                   &error);
      g_autoptr(GVariant) result = NULL;
      g_autoptr(GVariant) inner = NULL;

      g_assert_no_error (error);
      result = call ("echo", g_variant_new ("(v)", value), &error);
      g_assert_no_error (error);
      inner = g_variant_get_variant (result);
      g_assert_true (g_variant_equal (inner, value));
      assert_variant_same (inner, value);
    }

  for (gsize i = 0; i < big_len; i++)
    big[i] = (guint8) (i ^ (i >> 11));
  big_v = g_variant_ref_sink (
    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, big, big_len, 1));
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) result =
      call ("echo", g_variant_new ("(v)", big_v), &error);
    g_autoptr(GVariant) inner = NULL;

    g_assert_no_error (error);
    inner = g_variant_get_variant (result);
    assert_variant_same (inner, big_v);
  }
}

/* ---------------------------------------------------------------------- */

int
main (int argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  /* As in a context, whose broker ignores it: writing to a child that
   * stopped reading must fail with EPIPE, not kill the process. */
  signal (SIGPIPE, SIG_IGN);
  /* Tests of file modes assume this. */
  umask (022);

  /* The environment the tests read, set while this is the only thread:
   * setenv() is not safe once GLib's worker threads run. */
  g_assert_true (g_setenv ("MITOGEN_TEST_CORE_VAR", "some value ✓", TRUE));
  g_assert_true (g_setenv ("MITOGEN_TEST_CORE_EMPTY", "", TRUE));
  g_unsetenv ("MITOGEN_TEST_CORE_UNSET");
  g_assert_true (g_setenv ("MITOGEN_TEST_INHERITED", "inherited", TRUE));
  g_assert_true (g_setenv ("MITOGEN_TEST_OVERRIDE", "old", TRUE));

  load_core_module ();

  g_test_add_func ("/core-module/info", test_info);
  g_test_add_func ("/core-module/getpid", test_getpid);
  g_test_add_func ("/core-module/hostname", test_hostname);
  g_test_add_func ("/core-module/getenv", test_getenv);
  g_test_add_func ("/core-module/run/status", test_run_status);
  g_test_add_func ("/core-module/run/stdin", test_run_stdin);
  g_test_add_func ("/core-module/run/stdin-unread", test_run_stdin_unread);
  g_test_add_func ("/core-module/run/no-stdin", test_run_no_stdin);
  g_test_add_func ("/core-module/run/cwd-env", test_run_cwd_env);
  g_test_add_func ("/core-module/run/env-override", test_run_env_override);
  g_test_add_func ("/core-module/run/bad-env", test_run_bad_env);
  g_test_add_func ("/core-module/run/nonexistent", test_run_nonexistent);
  g_test_add_func ("/core-module/run/bad-cwd", test_run_bad_cwd);
  g_test_add_func ("/core-module/run/empty-argv", test_run_empty_argv);
  g_test_add_func ("/core-module/run/signal", test_run_signal);
  g_test_add_func ("/core-module/run/large-output", test_run_large_output);
  g_test_add_func ("/core-module/run/cancel", test_run_cancel);
  g_test_add_func ("/core-module/run/cancel-streaming",
                   test_run_cancel_streaming);
  g_test_add_func ("/core-module/run/cancelled-before",
                   test_run_cancelled_before);
  g_test_add ("/core-module/run/progress", ProgressFixture, NULL,
              progress_setup, test_run_progress, progress_teardown);
  g_test_add ("/core-module/run/progress-stdin", ProgressFixture, NULL,
              progress_setup, test_run_progress_stdin, progress_teardown);
  g_test_add ("/core-module/run/progress-stdin-unread", ProgressFixture, NULL,
              progress_setup, test_run_progress_stdin_unread,
              progress_teardown);
  g_test_add ("/core-module/run/progress-signal", ProgressFixture, NULL,
              progress_setup, test_run_progress_signal, progress_teardown);
  g_test_add_func ("/core-module/files/round-trip", test_files_round_trip);
  g_test_add_func ("/core-module/files/errors", test_files_errors);
  g_test_add_func ("/core-module/files/stat-kinds", test_stat_kinds);
  g_test_add_func ("/core-module/sleep/short", test_sleep_short);
  g_test_add_func ("/core-module/sleep/zero", test_sleep_zero);
  g_test_add_func ("/core-module/sleep/cancel", test_sleep_cancel);
  g_test_add_func ("/core-module/sleep/cancelled-before",
                   test_sleep_cancelled_before);
  g_test_add_func ("/core-module/sleep/invalid", test_sleep_invalid);
  g_test_add_func ("/core-module/fail", test_fail);
  g_test_add_func ("/core-module/echo", test_echo);

  ret = g_test_run ();

  /* The module registers no types and copies its quark's name, so it may
   * go. */
  g_module_close (core_module);
  return ret;
}
