/* test-modules.c: code on demand. Real agents fetch the modules they lack
 * from the master's MitogenModuleResponder (GET_MODULE / LOAD_MODULE),
 * verify and load them; the test-only modules are in tests/modules/.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Long enough never to be hit by a working implementation, short enough
 * that a broken one fails instead of hanging the suite. */
#define WAIT MITOGEN_TEST_WAIT

/* Private to the library (mitogen-protocol.h); the wire format is fixed. */
#define LOAD_MODULE_TYPE "(sbaysass)"

#define N_THREADS 16

/* ---------------------------------------------------------------------- */
/* Helpers */

static gchar *
modules_dir (void)
{
#ifdef MITOGEN_TEST_MODULES_DIR
  return g_strdup (MITOGEN_TEST_MODULES_DIR);
#else
  return g_test_build_filename (G_TEST_BUILT, "modules", NULL);
#endif
}

static gchar *
module_file (const gchar *file)
{
  g_autofree gchar *dir = modules_dir ();

  return g_build_filename (dir, file, NULL);
}

static GBytes *
module_bytes (const gchar *file)
{
  g_autofree gchar *path = module_file (file);
  g_autoptr(GError) error = NULL;
  gchar *contents = NULL;
  gsize len = 0;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (contents, len);
}

static guint64
module_size (const gchar *file)
{
  g_autoptr(GBytes) bytes = module_bytes (file);

  return g_bytes_get_size (bytes);
}

static void
assert_mentions (const GError *error, const gchar *needle)
{
  g_assert_nonnull (error);
  if (!strstr (error->message, needle))
    g_error ("“%s” does not mention “%s”", error->message, needle);
}

/* Cancels a call that outlives WAIT, so that a hang fails the test. */
typedef struct {
  GMutex lock;
  GCond cond;
  gboolean done;
  GCancellable *cancellable;
} Watchdog;

static gpointer
watchdog_thread (gpointer data)
{
  Watchdog *w = data;
  gint64 deadline = g_get_monotonic_time () + WAIT;

  g_mutex_lock (&w->lock);
  while (!w->done)
    if (!g_cond_wait_until (&w->cond, &w->lock, deadline))
      break;
  if (!w->done)
    g_cancellable_cancel (w->cancellable);
  g_mutex_unlock (&w->lock);
  return NULL;
}

static GVariant *
call (MitogenContext *ctx,
      const gchar *function,
      GError **error)
{
  Watchdog w = { .cancellable = g_cancellable_new () };
  GThread *thread;
  GVariant *result;

  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  thread = g_thread_new ("watchdog", watchdog_thread, &w);
  result = mitogen_context_call (ctx, function, NULL, w.cancellable, error);
  g_mutex_lock (&w.lock);
  w.done = TRUE;
  g_cond_signal (&w.cond);
  g_mutex_unlock (&w.lock);
  g_thread_join (thread);
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  g_object_unref (w.cancellable);
  return result;
}

static gint32
call_int (MitogenContext *ctx,
          const gchar *function)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = call (ctx, function, &error);

  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32));
  return g_variant_get_int32 (v);
}

static void
call_fails (MitogenContext *ctx,
            const gchar *function,
            const gchar *needle)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = call (ctx, function, &error);

  g_assert_null (v);
  g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION);
  g_test_message ("%s: %s", function, error->message);
  if (needle)
    assert_mentions (error, needle);
}

/* The agent is alive and answers. */
static void
assert_answers (MitogenContext *ctx)
{
  gint32 pid = call_int (ctx, "core.getpid");

  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (pid, !=, getpid ());
}

static gchar *
make_tmp_dir (void)
{
  g_autoptr(GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("mitogen-test-modules-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
rm_rf (const gchar *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree gchar *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
          !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        rm_rf (child);
      else
        g_assert_cmpint (g_unlink (child), ==, 0);
    }
  g_assert_cmpint (g_rmdir (path), ==, 0);
}

static void
write_file (const gchar *dir,
            const gchar *name,
            const gchar *contents,
            gsize len)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, (gssize) len, &error);
  g_assert_no_error (error);
}

/* ---------------------------------------------------------------------- */
/* A master with one local agent */

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenModuleResponder *responder;
  MitogenContext *ctx;
  GPtrArray *contexts; /* every context started, released after the broker */
} Fixture;

/* Test data: whether the master also serves tests/modules/. */
#define WITH_TEST_MODULES GINT_TO_POINTER (1)
#define WITHOUT_TEST_MODULES GINT_TO_POINTER (0)

static MitogenContext *
connect_agent (Fixture *f)
{
  MitogenContext *ctx = mitogen_test_connect (f->router, "local", NULL, NULL);

  g_ptr_array_add (f->contexts, ctx);
  return ctx;
}

/* Waits until the agent has gone. The context itself is released only
 * once the broker has stopped: MitogenContext's route-removed handler may
 * still be running on the broker thread when the wait returns (see the
 * report: on_route_removed() emits "disconnect" after waking the waiter). */
static void
shutdown_agent (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;

  mitogen_context_shutdown (ctx, TRUE, NULL, &error);
  g_assert_no_error (error);
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->contexts = g_ptr_array_new_with_free_func (g_object_unref);
  mitogen_test_master_new (&f->broker, &f->router);
  f->responder = mitogen_module_responder_get_for_router (f->router);
  if (data == WITH_TEST_MODULES)
    {
      g_autofree gchar *dir = modules_dir ();
      mitogen_module_responder_add_path (f->responder, dir);
    }
  f->ctx = connect_agent (f);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  if (f->ctx)
    shutdown_agent (f->ctx);
  mitogen_test_master_stop (f->broker, NULL);
  g_ptr_array_unref (f->contexts);
  mitogen_test_master_clear (&f->broker, &f->router);
}

/* ---------------------------------------------------------------------- */
/* Fetching */

static void
test_fetch_once (Fixture *f, gconstpointer data)
{
  guint n0 = mitogen_module_responder_get_n_requests (f->responder);
  guint n1;

  assert_answers (f->ctx);
  n1 = mitogen_module_responder_get_n_requests (f->responder);
  g_assert_cmpuint (n1, >=, n0 + 1);

  assert_answers (f->ctx);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), ==, n1);
}

typedef struct {
  MitogenContext *ctx;
  GMutex lock;
  GCond cond;
  guint ready;
  gboolean go;
} Gate;

static gpointer
user_value_thread (gpointer data)
{
  Gate *g = data;

  g_mutex_lock (&g->lock);
  g->ready++;
  g_cond_broadcast (&g->cond);
  while (!g->go)
    g_cond_wait (&g->cond, &g->lock);
  g_mutex_unlock (&g->lock);
  return GINT_TO_POINTER (call_int (g->ctx, "user.value"));
}

static void
test_concurrent_fetch (Fixture *f, gconstpointer data)
{
  Gate g = { .ctx = f->ctx };
  GThread *threads[N_THREADS];
  guint n0 = mitogen_module_responder_get_n_requests (f->responder);
  guint64 sent0 = mitogen_module_responder_get_bytes_sent (f->responder);

  g_mutex_init (&g.lock);
  g_cond_init (&g.cond);
  for (guint i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("user.value", user_value_thread, &g);

  g_mutex_lock (&g.lock);
  while (g.ready < N_THREADS)
    g_cond_wait (&g.cond, &g.lock);
  g.go = TRUE;
  g_cond_broadcast (&g.cond);
  g_mutex_unlock (&g.lock);

  for (guint i = 0; i < N_THREADS; i++)
    g_assert_cmpint (GPOINTER_TO_INT (g_thread_join (threads[i])), ==, 42);
  g_mutex_clear (&g.lock);
  g_cond_clear (&g.cond);

  /* One GET_MODULE, for user: dep came with it, unasked. */
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), ==, n0 + 1);
  g_assert_cmpuint (mitogen_module_responder_get_bytes_sent (f->responder) - sent0, ==,
                    module_size ("user.so") + module_size ("dep.so"));
}

static void
test_requires (Fixture *f, gconstpointer data)
{
  guint n0 = mitogen_module_responder_get_n_requests (f->responder);
  guint64 sent0 = mitogen_module_responder_get_bytes_sent (f->responder);
  guint64 sent1;

  g_assert_cmpint (call_int (f->ctx, "user.value"), ==, 42);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), ==, n0 + 1);
  sent1 = mitogen_module_responder_get_bytes_sent (f->responder);
  g_assert_cmpuint (sent1 - sent0, ==,
                    module_size ("user.so") + module_size ("dep.so"));

  /* dep is already there. */
  g_assert_cmpint (call_int (f->ctx, "dep.value"), ==, 41);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), ==, n0 + 1);
  g_assert_cmpuint (mitogen_module_responder_get_bytes_sent (f->responder), ==, sent1);
  g_assert_cmpint (call_int (f->ctx, "user.value"), ==, 42);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), ==, n0 + 1);
}

/* The reverse order: dep first, then user, which must not bring dep
 * again. */
static void
test_requires_already_sent (Fixture *f, gconstpointer data)
{
  guint n0 = mitogen_module_responder_get_n_requests (f->responder);
  guint64 sent0 = mitogen_module_responder_get_bytes_sent (f->responder);

  g_assert_cmpint (call_int (f->ctx, "dep.value"), ==, 41);
  g_assert_cmpint (call_int (f->ctx, "user.value"), ==, 42);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), ==, n0 + 2);
  g_assert_cmpuint (mitogen_module_responder_get_bytes_sent (f->responder) - sent0, ==,
                    module_size ("user.so") + module_size ("dep.so"));
}

static void
test_bytes_sent (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  MitogenContext *second;
  guint64 size = module_size ("big.so");
  guint64 sent0 = mitogen_module_responder_get_bytes_sent (f->responder);
  guint n0 = mitogen_module_responder_get_n_requests (f->responder);

  g_assert_cmpuint (size, >=, 1 << 20);

  v = call (f->ctx, "big.size", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_uint64 (v), ==, 1 << 20);
  g_clear_pointer (&v, g_variant_unref);
  g_assert_cmpuint (mitogen_module_responder_get_bytes_sent (f->responder) - sent0, ==, size);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), ==, n0 + 1);

  /* Not again. */
  v = call (f->ctx, "big.size", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_uint64 (v), ==, 1 << 20);
  g_clear_pointer (&v, g_variant_unref);
  g_assert_cmpuint (mitogen_module_responder_get_bytes_sent (f->responder) - sent0, ==, size);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), ==, n0 + 1);

  /* Another context has its own copy to fetch. */
  second = connect_agent (f);
  v = call (second, "big.size", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_uint64 (v), ==, 1 << 20);
  g_assert_cmpuint (mitogen_module_responder_get_bytes_sent (f->responder) - sent0, ==, 2 * size);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), ==, n0 + 2);
  shutdown_agent (second);
}

/* ---------------------------------------------------------------------- */
/* Names */

static void
test_traversal_responder (Fixture *f, gconstpointer data)
{
  const gchar *bad[] = { "../core", "core/../core", "/etc/passwd", "a/b",
                         "..", "", ".", "core.so", "core/", "./core",
                         "core\n", "../plugins/core" };
  g_autoptr(GError) error = NULL;
  g_autofree gchar *sha256 = NULL;
  g_auto(GStrv) requires = NULL;
  g_autoptr(GBytes) bytes = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GBytes) b =
        mitogen_module_responder_lookup (f->responder, bad[i], NULL, NULL, &error);

      g_test_message ("lookup “%s”", bad[i]);
      g_assert_null (b);
      g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION);
      g_clear_error (&error);
    }

  /* The real one is there. */
  bytes = mitogen_module_responder_lookup (f->responder, "core", &sha256,
                                           &requires, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  g_assert_cmpuint (strlen (sha256), ==, 64);
  g_assert_nonnull (requires);
  g_assert_cmpuint (g_strv_length (requires), ==, 0);
}

static void
test_traversal_context (Fixture *f, gconstpointer data)
{
  const gchar *bad[] = { "../x.y", "a/b.value", "core/../core.getpid",
                         "/etc/passwd.x", "..%2fcore.getpid", ".core.getpid",
                         "core/.getpid", "../../plugins/core.getpid" };
  guint n0;

  /* core is fetched first, so that only the bad names could add requests. */
  assert_answers (f->ctx);
  n0 = mitogen_module_responder_get_n_requests (f->responder);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("call “%s”", bad[i]);
      call_fails (f->ctx, bad[i], NULL);
    }
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), ==, n0);
  assert_answers (f->ctx);
}

/* ---------------------------------------------------------------------- */
/* Missing, late, corrupted and broken modules */

static void
test_missing_then_present (Fixture *f, gconstpointer data)
{
  g_autofree gchar *tmp = make_tmp_dir ();
  g_autofree gchar *dest = g_build_filename (tmp, "late.so", NULL);
  g_autoptr(GBytes) bytes = module_bytes ("late.so.in");
  g_autoptr(GError) error = NULL;

  call_fails (f->ctx, "nosuchmodule.value", "nosuchmodule");

  mitogen_module_responder_add_path (f->responder, tmp);
  call_fails (f->ctx, "late.value", "late");

  g_file_set_contents (dest, g_bytes_get_data (bytes, NULL),
                       (gssize) g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);
  g_assert_cmpint (call_int (f->ctx, "late.value"), ==, 43);
  /* Only the names were wrong: the module itself is still unknown. */
  call_fails (f->ctx, "late.nosuchfunction", "nosuchfunction");

  rm_rf (tmp);
}

typedef struct {
  MitogenRouter *router;
  MitogenModuleResponder *responder;
  gint corrupt;      /* atomic: lie about dep's SHA-256 */
  gint dep_requests; /* atomic */
} Liar;

/* A GET_MODULE handler serving the responder's modules one by one, with a
 * wrong SHA-256 for dep while corrupt is set. */
static void
liar_on_get_module (MitogenMessage *msg,
                    gpointer user_data)
{
  Liar *liar = user_data;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) none = g_bytes_new_static ("", 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autofree gchar *sha256 = NULL;
  g_auto(GStrv) requires = NULL;
  const gchar *const empty[] = { NULL };
  const gchar *name;

  if (mitogen_message_is_dead (msg))
    return;
  body = mitogen_message_get_data (msg, NULL);
  g_assert_nonnull (body);
  g_assert_cmpstr (g_variant_get_type_string (body), ==, "(s)");
  g_variant_get (body, "(&s)", &name);

  bytes = mitogen_module_responder_lookup (liar->responder, name, &sha256,
                                           &requires, &error);
  if (g_str_equal (name, "dep"))
    {
      g_atomic_int_inc (&liar->dep_requests);
      if (bytes && g_atomic_int_get (&liar->corrupt))
        {
          g_free (sha256);
          sha256 = g_strnfill (64, '0');
        }
    }
  reply = mitogen_message_new (mitogen_message_get_src_id (msg),
                               MITOGEN_HANDLE_LOAD_MODULE,
                               g_variant_new ("(sb@ays^ass)", name, bytes != NULL,
                                              g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                                                        bytes ? bytes : none,
                                                                        TRUE),
                                              sha256 ? sha256 : "",
                                              requires ? (const gchar *const *) requires : empty,
                                              error ? error->message : ""));
  mitogen_router_route (liar->router, reply);
}

static void
test_corrupt (Fixture *f, gconstpointer data)
{
  Liar liar = { f->router, f->responder, TRUE, 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  mitogen_router_add_handler (f->router, MITOGEN_HANDLE_GET_MODULE,
                              MITOGEN_HANDLER_PERSIST | MITOGEN_HANDLER_OVERWRITE,
                              MITOGEN_CONTEXT_ID_NONE, NULL,
                              liar_on_get_module, &liar, NULL);

  v = call (f->ctx, "dep.value", &error);
  g_assert_null (v);
  g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION);
  assert_mentions (error, "SHA-256");
  assert_mentions (error, "dep");
  g_clear_error (&error);
  g_assert_cmpint (g_atomic_int_get (&liar.dep_requests), ==, 1);

  /* The agent survives, and fetches other modules as before. */
  assert_answers (f->ctx);

  /* A module that failed verification is asked for again. */
  call_fails (f->ctx, "dep.value", "SHA-256");
  g_assert_cmpint (g_atomic_int_get (&liar.dep_requests), ==, 2);
  g_atomic_int_set (&liar.corrupt, FALSE);
  g_assert_cmpint (call_int (f->ctx, "dep.value"), ==, 41);
  g_assert_cmpint (g_atomic_int_get (&liar.dep_requests), ==, 3);

  /* The agent goes before the handler's data does. */
  shutdown_agent (f->ctx);
  f->ctx = NULL;
  mitogen_router_del_handler (f->router, MITOGEN_HANDLE_GET_MODULE);
}

static void
test_broken (Fixture *f, gconstpointer data)
{
  guint n0 = mitogen_module_responder_get_n_requests (f->responder);

  call_fails (f->ctx, "broken.value", "broken");
  /* No crash: the agent still answers. */
  assert_answers (f->ctx);
  /* And fails the same way again. */
  call_fails (f->ctx, "broken.value", "broken");
  assert_answers (f->ctx);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), >=, n0 + 1);
}

/* ---------------------------------------------------------------------- */
/* Registrations */

static void
test_register (Fixture *f, gconstpointer data)
{
  g_autofree gchar *user = module_file ("user.so");
  g_autofree gchar *name = NULL;
  g_autoptr(GBytes) dep = module_bytes ("dep.so");
  g_autoptr(GBytes) big = module_bytes ("big.so");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  /* Not in the path. */
  call_fails (f->ctx, "dep.value", "dep");
  call_fails (f->ctx, "user.value", "user");

  g_assert_true (mitogen_module_responder_register_bytes (f->responder, "dep", dep, &error));
  g_assert_no_error (error);
  g_assert_true (mitogen_module_responder_register_file (f->responder, user, &name, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (name, ==, "user");
  /* A second module from memory. */
  g_assert_true (mitogen_module_responder_register_bytes (f->responder, "big", big, &error));
  g_assert_no_error (error);

  g_assert_cmpint (call_int (f->ctx, "user.value"), ==, 42);
  g_assert_cmpint (call_int (f->ctx, "dep.value"), ==, 41);
  v = call (f->ctx, "big.size", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_uint64 (v), ==, 1 << 20);
}

static void
test_register_refused (Fixture *f, gconstpointer data)
{
  g_autofree gchar *tmp = make_tmp_dir ();
  g_autofree gchar *text = g_build_filename (tmp, "notes.so", NULL);
  g_autoptr(GBytes) dep = module_bytes ("dep.so");
  g_autoptr(GBytes) junk = g_bytes_new_static ("not an ELF file", 15);
  g_autoptr(GError) error = NULL;

  /* Under a name it does not declare. */
  g_assert_false (mitogen_module_responder_register_bytes (f->responder, "other", dep, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (mitogen_module_responder_register_bytes (f->responder, "../dep", dep, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (mitogen_module_responder_register_bytes (f->responder, "junk", junk, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  write_file (tmp, "notes.so", "text", 4);
  g_assert_false (mitogen_module_responder_register_file (f->responder, text, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  call_fails (f->ctx, "other.value", "other");
  call_fails (f->ctx, "junk.value", "junk");
  rm_rf (tmp);
}

/* ---------------------------------------------------------------------- */
/* mitogen_get_child_modules() */

static void
test_child_modules (void)
{
  g_autofree gchar *tmp = make_tmp_dir ();
  g_autofree gchar *sub = g_build_filename (tmp, "sub", NULL);
  g_auto(GStrv) names = NULL;
  g_auto(GStrv) none = NULL;
  g_autofree gchar *missing = g_build_filename (tmp, "missing", NULL);

  write_file (tmp, "b.so", "", 0);
  write_file (tmp, "a.so", "", 0);
  write_file (tmp, "notes.txt", "", 0);
  write_file (tmp, "bad..so", "", 0);
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);

  names = mitogen_get_child_modules (tmp);
  g_assert_nonnull (names);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[0], ==, "a");
  g_assert_cmpstr (names[1], ==, "b");

  none = mitogen_get_child_modules (missing);
  g_assert_nonnull (none);
  g_assert_cmpuint (g_strv_length (none), ==, 0);
  rm_rf (tmp);
}

/* A directory named like a module is not a module file. */
static void
test_child_modules_dir (void)
{
  g_autofree gchar *tmp = make_tmp_dir ();
  g_autofree gchar *sub = g_build_filename (tmp, "c.so", NULL);
  g_auto(GStrv) names = NULL;

  write_file (tmp, "a.so", "", 0);
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  names = mitogen_get_child_modules (tmp);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_assert_cmpstr (names[0], ==, "a");
  rm_rf (tmp);
}

/* ---------------------------------------------------------------------- */
/* In one process: a master router and a child router, linked by a socket
 * pair, to watch the LOAD_MODULE messages and drive an importer from many
 * threads. */

typedef struct {
  MitogenBroker *master_broker;
  MitogenRouter *master;
  MitogenModuleResponder *responder;
  MitogenBroker *child_broker;
  MitogenRouter *child;
  MitogenStream *down; /* master -> child */
  MitogenStream *up;   /* child -> master */
  MitogenImporter *importer;

  GMutex lock;
  GCond cond;
  GPtrArray *loads; /* names of the LOAD_MODULE messages seen, in order */
  GPtrArray *found; /* "1" or "0" for each */
} Pair;

#define CHILD_ID 1

static void
pair_setup (Pair *p, gconstpointer data)
{
  g_autofree gchar *dir = modules_dir ();
  const gchar *path[] = { dir, NULL };
  const guint32 parents[] = { 0 };
  int fds[2];

  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  p->loads = g_ptr_array_new_with_free_func (g_free);
  p->found = g_ptr_array_new ();

  mitogen_test_master_new (&p->master_broker, &p->master);
  p->responder = mitogen_module_responder_new (p->master, path);

  mitogen_test_master_new (&p->child_broker, &p->child);
  mitogen_router_set_context_id (p->child, CHILD_ID);
  mitogen_router_set_parent_ids (p->child, parents, G_N_ELEMENTS (parents));

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  p->down = mitogen_stream_new (p->master, CHILD_ID, fds[0], fds[0]);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (p->down), "child");
  mitogen_router_register (p->master, p->down);
  p->up = mitogen_stream_new (p->child, 0, fds[1], fds[1]);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (p->up), "parent");
  mitogen_stream_set_is_privileged (p->up, TRUE);
  mitogen_router_register (p->child, p->up);
}

static void
pair_teardown (Pair *p, gconstpointer data)
{
  g_clear_object (&p->importer);
  mitogen_test_master_stop (p->child_broker, NULL);
  mitogen_test_master_stop (p->master_broker, NULL);
  g_clear_object (&p->up);
  g_clear_object (&p->down);
  g_clear_object (&p->responder);
  g_clear_object (&p->child);
  g_clear_object (&p->master);
  g_clear_object (&p->child_broker);
  g_clear_object (&p->master_broker);
  g_ptr_array_unref (p->loads);
  g_ptr_array_unref (p->found);
  g_mutex_clear (&p->lock);
  g_cond_clear (&p->cond);
}

static void
record_load_module (MitogenMessage *msg,
                    gpointer user_data)
{
  Pair *p = user_data;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GVariant) bytes = NULL;
  const gchar *name, *sha256, *error;
  g_autofree const gchar **requires = NULL;
  gboolean found;

  if (mitogen_message_is_dead (msg))
    return;
  body = mitogen_message_get_data (msg, NULL);
  g_assert_nonnull (body);
  g_assert_cmpstr (g_variant_get_type_string (body), ==, LOAD_MODULE_TYPE);
  g_variant_get (body, "(&sb@ay&s^a&s&s)", &name, &found, &bytes, &sha256,
                 &requires, &error);
  if (found)
    {
      g_autoptr(GBytes) b = g_variant_get_data_as_bytes (bytes);
      g_autofree gchar *sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, b);
      g_assert_cmpstr (sum, ==, sha256);
    }
  else
    g_assert_cmpstr (error, !=, "");

  g_mutex_lock (&p->lock);
  g_ptr_array_add (p->loads, g_strdup (name));
  g_ptr_array_add (p->found, found ? "1" : "0");
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}

static void
get_module (Pair *p, const gchar *name)
{
  g_autoptr(MitogenMessage) msg =
    mitogen_message_new (0, MITOGEN_HANDLE_GET_MODULE, g_variant_new ("(s)", name));

  mitogen_router_route (p->child, msg);
}

static void
wait_loads (Pair *p, guint n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;

  g_mutex_lock (&p->lock);
  while (p->loads->len < n)
    if (!g_cond_wait_until (&p->cond, &p->lock, deadline))
      g_error ("Waited too long for LOAD_MODULE %u", n);
  g_mutex_unlock (&p->lock);
}

static void
test_requires_order (Pair *p, gconstpointer data)
{
  mitogen_router_add_handler (p->child, MITOGEN_HANDLE_LOAD_MODULE,
                              MITOGEN_HANDLER_PERSIST, MITOGEN_CONTEXT_ID_NONE,
                              mitogen_router_policy_has_parent_authority,
                              record_load_module, p, NULL);

  /* dep is sent first, unasked. */
  get_module (p, "user");
  wait_loads (p, 2);
  g_assert_cmpstr (p->loads->pdata[0], ==, "dep");
  g_assert_cmpstr (p->loads->pdata[1], ==, "user");

  /* Not twice to the same context: asked again, the responder answers
   * without the module, so that the asker does not wait. */
  get_module (p, "user");
  wait_loads (p, 3);
  g_assert_cmpstr (p->loads->pdata[2], ==, "user");
  g_assert_cmpstr (p->found->pdata[2], ==, "0");

  /* A bad name is answered, not found, and nothing else is sent. */
  get_module (p, "../user");
  get_module (p, "nosuchmodule");
  get_module (p, "dep");
  wait_loads (p, 6);
  g_assert_cmpstr (p->loads->pdata[3], ==, "../user");
  g_assert_cmpstr (p->found->pdata[3], ==, "0");
  g_assert_cmpstr (p->loads->pdata[4], ==, "nosuchmodule");
  g_assert_cmpstr (p->found->pdata[4], ==, "0");
  /* dep went unasked with user: it is not sent again either. */
  g_assert_cmpstr (p->loads->pdata[5], ==, "dep");
  g_assert_cmpstr (p->found->pdata[5], ==, "0");
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (p->responder), ==, 5);

  mitogen_router_del_handler (p->child, MITOGEN_HANDLE_LOAD_MODULE);
}

typedef struct {
  Pair *p;
  const gchar *name;
  GMutex *lock;
  GCond *cond;
  guint *ready;
  gboolean *go;
} LoadWorker;

static gpointer
load_thread (gpointer data)
{
  LoadWorker *w = data;
  g_autoptr(GError) error = NULL;
  const MitogenModuleInfo *info;

  g_mutex_lock (w->lock);
  (*w->ready)++;
  g_cond_broadcast (w->cond);
  while (!*w->go)
    g_cond_wait (w->cond, w->lock);
  g_mutex_unlock (w->lock);

  info = mitogen_importer_load (w->p->importer, w->name, &error);
  if (g_str_equal (w->name, "nosuchmodule"))
    {
      g_assert_null (info);
      g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION);
      assert_mentions (error, w->name);
      return NULL;
    }
  g_assert_no_error (error);
  g_assert_nonnull (info);
  g_assert_cmpstr (info->name, ==, w->name);
  return (gpointer) info;
}

/* Starts N_THREADS threads loading @name at once; returns what each got. */
static void
load_at_once (Pair *p,
              const gchar *name,
              const MitogenModuleInfo **infos)
{
  GThread *threads[N_THREADS];
  LoadWorker workers[N_THREADS];
  GMutex lock;
  GCond cond;
  guint ready = 0;
  gboolean go = FALSE;

  g_mutex_init (&lock);
  g_cond_init (&cond);
  for (guint i = 0; i < N_THREADS; i++)
    {
      workers[i] = (LoadWorker) { p, name, &lock, &cond, &ready, &go };
      threads[i] = g_thread_new ("load", load_thread, &workers[i]);
    }
  g_mutex_lock (&lock);
  while (ready < N_THREADS)
    g_cond_wait (&cond, &lock);
  go = TRUE;
  g_cond_broadcast (&cond);
  g_mutex_unlock (&lock);
  for (guint i = 0; i < N_THREADS; i++)
    infos[i] = g_thread_join (threads[i]);
  g_mutex_clear (&lock);
  g_cond_clear (&cond);
}

/* Threads of one context wanting the same module share one GET_MODULE, and
 * all get the same, single, loaded copy. */
static void
test_importer_threads (Pair *p, gconstpointer data)
{
  const MitogenModuleInfo *infos[N_THREADS];
  const MitogenModuleInfo *again;
  const MitogenFunctionInfo *fn;
  g_autoptr(GError) error = NULL;

  p->importer = mitogen_importer_new (NULL);
  mitogen_importer_set_parent (p->importer, p->child, 0);
  load_at_once (p, "user", infos);

  for (guint i = 1; i < N_THREADS; i++)
    g_assert_true (infos[i] == infos[0]);
  g_assert_cmpuint (mitogen_importer_get_n_requests (p->importer), ==, 1);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (p->responder), ==, 1);

  /* dep came along and is loaded from what was pushed. */
  fn = mitogen_importer_find_function (p->importer, "dep", "value", &error);
  g_assert_no_error (error);
  g_assert_nonnull (fn);
  g_assert_cmpuint (mitogen_importer_get_n_requests (p->importer), ==, 1);

  again = mitogen_importer_load (p->importer, "user", &error);
  g_assert_no_error (error);
  g_assert_true (again == infos[0]);
  g_assert_cmpuint (mitogen_importer_get_n_requests (p->importer), ==, 1);
}

/* Threads wanting a module the parent lacks share one GET_MODULE too, and
 * all fail cleanly. */
static void
test_importer_threads_missing (Pair *p, gconstpointer data)
{
  const MitogenModuleInfo *infos[N_THREADS];

  p->importer = mitogen_importer_new (NULL);
  mitogen_importer_set_parent (p->importer, p->child, 0);
  load_at_once (p, "nosuchmodule", infos);
  g_assert_cmpuint (mitogen_importer_get_n_requests (p->importer), <=, N_THREADS);
  g_test_message ("%u requests", mitogen_importer_get_n_requests (p->importer));

  /* The answer is not kept: the module may exist by the next call. */
  load_at_once (p, "nosuchmodule", infos);
}

/* Modules loaded one after the other from memory stay distinct. */
static void
test_importer_sequence (Pair *p, gconstpointer data)
{
  const gchar *names[] = { "dep", "big", "user", "core" };
  const gchar *env = g_getenv ("MITOGEN_PLUGIN_PATH");
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) plugin_path = NULL;

  p->importer = mitogen_importer_new (NULL);
  mitogen_importer_set_parent (p->importer, p->child, 0);

  /* core is not in this responder's path: only tests/modules/ is. */
  plugin_path = g_strsplit (env ? env : "",
                            G_SEARCHPATH_SEPARATOR_S, -1);
  for (guint i = 0; plugin_path[i]; i++)
    if (*plugin_path[i])
      mitogen_module_responder_add_path (p->responder, plugin_path[i]);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      const MitogenModuleInfo *info = mitogen_importer_load (p->importer, names[i], &error);

      g_assert_no_error (error);
      g_assert_nonnull (info);
      g_assert_cmpstr (info->name, ==, names[i]);
    }
  g_assert_null (mitogen_importer_load (p->importer, "../dep", &error));
  g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION);
  g_assert_cmpuint (mitogen_importer_get_n_requests (p->importer), ==, 4);
}

/* ---------------------------------------------------------------------- */
/* Each module goes down a stream once */

static guint32
ask_module (MitogenContext *ctx, const gchar *name, guint32 times)
{
  g_autoptr (GVariant) v = mitogen_test_call_ok (
      ctx, "hostile.ask_module", g_variant_new ("(su)", name, times));

  return g_variant_get_uint32 (v);
}

/* A child that asks again and again for a module it has gets no second
 * copy, and one that asked for a module unasked-for keeps it: its own
 * importer finds it there and does not wait. The GET_MODULE requests
 * reach the master ahead of the call's reply, on the same stream. */
static void
test_once_per_stream (Fixture *f, gconstpointer data)
{
  MitogenContext *second;
  guint64 sent0;
  guint n0;

  /* hostile.so and user.so (with dep.so) are fetched once each. */
  ask_module (f->ctx, "user", 0);
  g_assert_cmpint (mitogen_test_call_int (f->ctx, "user.value", NULL), ==, 42);
  sent0 = mitogen_module_responder_get_bytes_sent (f->responder);
  n0 = mitogen_module_responder_get_n_requests (f->responder);

  g_assert_cmpuint (ask_module (f->ctx, "user", 50), ==, 50);
  g_assert_cmpuint (mitogen_module_responder_get_n_requests (f->responder), ==,
                    n0 + 50);
  g_assert_cmpuint (mitogen_module_responder_get_bytes_sent (f->responder), ==,
                    sent0);
  g_assert_cmpint (mitogen_test_call_int (f->ctx, "user.value", NULL), ==, 42);

  /* dep.so arrives before anything there needs it; user.so, which needs
   * it, then loads without asking for it again. */
  second = connect_agent (f);
  ask_module (second, "dep", 1);
  sent0 = mitogen_module_responder_get_bytes_sent (f->responder);
  g_assert_cmpint (mitogen_test_call_int (second, "user.value", NULL), ==, 42);
  g_assert_cmpuint (mitogen_module_responder_get_bytes_sent (f->responder)
                        - sent0,
                    ==, module_size ("user.so"));
}

/* The record of what went to a child goes when the child does. */
static void
test_sent_record_freed (Fixture *f, gconstpointer data)
{
  MitogenContext *second;

  g_assert_cmpint (mitogen_test_call_int (f->ctx, "user.value", NULL), ==, 42);
  second = connect_agent (f);
  g_assert_cmpint (mitogen_test_call_int (second, "user.value", NULL), ==, 42);
  g_assert_cmpuint (mitogen_module_responder_get_n_contexts (f->responder), ==,
                    2);

  mitogen_test_shutdown_ok (second);
  mitogen_test_broker_idle (f->broker);
  g_assert_cmpuint (mitogen_module_responder_get_n_contexts (f->responder), ==,
                    1);
  mitogen_test_shutdown_ok (f->ctx);
  mitogen_test_broker_idle (f->broker);
  g_assert_cmpuint (mitogen_module_responder_get_n_contexts (f->responder), ==,
                    0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, data, func) \
  g_test_add ("/modules/" path, Fixture, data, setup, func, teardown)

  ADD ("fetch-once", WITHOUT_TEST_MODULES, test_fetch_once);
  ADD ("concurrent-fetch", WITH_TEST_MODULES, test_concurrent_fetch);
  ADD ("requires", WITH_TEST_MODULES, test_requires);
  ADD ("requires-already-sent", WITH_TEST_MODULES, test_requires_already_sent);
  ADD ("bytes-sent", WITH_TEST_MODULES, test_bytes_sent);
  ADD ("traversal/responder", WITH_TEST_MODULES, test_traversal_responder);
  ADD ("traversal/context", WITH_TEST_MODULES, test_traversal_context);
  ADD ("missing-then-present", WITH_TEST_MODULES, test_missing_then_present);
  ADD ("corrupt", WITH_TEST_MODULES, test_corrupt);
  ADD ("broken", WITH_TEST_MODULES, test_broken);
  ADD ("register", WITHOUT_TEST_MODULES, test_register);
  ADD ("register-refused", WITHOUT_TEST_MODULES, test_register_refused);
  ADD ("once-per-stream", WITH_TEST_MODULES, test_once_per_stream);
  ADD ("sent-record-freed", WITH_TEST_MODULES, test_sent_record_freed);
#undef ADD
  g_test_add_func ("/modules/child-modules", test_child_modules);
  g_test_add_func ("/modules/child-modules/directory", test_child_modules_dir);
  g_test_add ("/modules/importer/requires-order", Pair, NULL, pair_setup,
              test_requires_order, pair_teardown);
  g_test_add ("/modules/importer/threads", Pair, NULL, pair_setup,
              test_importer_threads, pair_teardown);
  g_test_add ("/modules/importer/threads-missing", Pair, NULL, pair_setup,
              test_importer_threads_missing, pair_teardown);
  g_test_add ("/modules/importer/sequence", Pair, NULL, pair_setup,
              test_importer_sequence, pair_teardown);

  return g_test_run ();
}
