/* Transports on demand: a context whose own transport path holds nothing
 * starts children anyway, fetching the transport's module from its parent
 * (GET_MODULE `mitogen-transport-NAME`), as an intermediate passes it on
 * to contexts below it.
 *
 * The master scans the build tree's transports first; then, before any
 * thread starts, MITOGEN_TRANSPORT_PATH is pointed at an empty directory,
 * which every child inherits. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define TRANSPORT_MODULE "mitogen-transport-local"

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenModuleResponder *responder;
  MitogenContext *a;
  GMutex lock;
  GPtrArray *requests; /* "ID NAME" of each GET_MODULE the master answered */
} Fixture;

static void
on_request (MitogenModuleResponder *responder,
            guint context_id,
            const gchar *name,
            Fixture *f)
{
  g_mutex_lock (&f->lock);
  g_ptr_array_add (f->requests, g_strdup_printf ("%u %s", context_id, name));
  g_mutex_unlock (&f->lock);
}

/* How many times the master was asked for @name, by anyone. */
static guint
count_requests (Fixture *f,
                const gchar *name,
                guint32 *last_from)
{
  guint n = 0;

  g_mutex_lock (&f->lock);
  for (guint i = 0; i < f->requests->len; i++)
    {
      const gchar *request = f->requests->pdata[i];
      const gchar *space = strchr (request, ' ');

      if (g_str_equal (space + 1, name))
        {
          n++;
          if (last_from)
            *last_from = (guint32) g_ascii_strtoull (request, NULL, 10);
        }
    }
  g_mutex_unlock (&f->lock);
  return n;
}

static void
setup (Fixture *f,
       gconstpointer data)
{
  g_mutex_init (&f->lock);
  f->requests = g_ptr_array_new_with_free_func (g_free);
  mitogen_test_master_new (&f->broker, &f->router);
  f->responder = mitogen_module_responder_get_for_router (f->router);
  mitogen_module_responder_add_path (f->responder, MITOGEN_TEST_MODULES_DIR);
  g_signal_connect (f->responder, "request", G_CALLBACK (on_request), f);
  f->a = mitogen_test_connect (f->router, "local", NULL, NULL);
}

static void
teardown (Fixture *f,
          gconstpointer data)
{
  mitogen_test_master_stop (f->broker, f->a);
  g_signal_handlers_disconnect_by_func (f->responder, on_request, f);
  g_clear_object (&f->a);
  mitogen_test_master_clear (&f->broker, &f->router);
  g_ptr_array_unref (f->requests);
  g_mutex_clear (&f->lock);
}

/* Skips the test unless @ctx knows no `local` transport of its own, as
 * when one is installed where every registry looks. */
static gboolean
lacks_local (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) known = mitogen_context_call (ctx, "spawner.transports",
                                                    NULL, NULL, &error);
  g_autofree const gchar **names = NULL;

  g_assert_no_error (error);
  names = g_variant_get_strv (known, NULL);
  if (g_strv_contains (names, "local"))
    {
      g_test_skip ("a local transport is installed where the child finds it "
                   "without asking");
      return FALSE;
    }
  return TRUE;
}

static gchar *
transport_path (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) path = mitogen_context_call (ctx, "spawner.transport_path",
                                                   g_variant_new ("(s)", "local"),
                                                   NULL, &error);

  g_assert_no_error (error);
  return g_variant_dup_string (path, NULL);
}

/* master → A (no transports) → via A: local B. */
static void
test_fetched_from_parent (Fixture *f,
                          gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) b = NULL;
  g_autofree gchar *path = NULL;
  guint32 asked_by = 0;
  gint a_pid, b_pid;

  if (!lacks_local (f->a))
    return;
  g_assert_cmpuint (count_requests (f, TRANSPORT_MODULE, NULL), ==, 0);

  b = mitogen_router_connect_context (f->router, "local",
                                      mitogen_test_connect_options (NULL), f->a,
                                      NULL, &error);
  g_assert_no_error (error);
  a_pid = mitogen_test_getpid (f->a);
  b_pid = mitogen_test_getpid (b);
  g_assert_cmpint (b_pid, !=, a_pid);
  g_assert_cmpint (b_pid, !=, getpid ());

  /* A asked the master for the module, once, and loaded it from memory. */
  g_assert_cmpuint (count_requests (f, TRANSPORT_MODULE, &asked_by), ==, 1);
  g_assert_cmpuint (asked_by, ==, mitogen_context_get_context_id (f->a));
  path = transport_path (f->a);
  g_test_message ("A's local transport: %s", path);
  g_assert_true (g_str_has_prefix (path, "/proc/self/fd/"));

  /* Known from now on: a second child needs no second fetch. */
  {
    g_autoptr (MitogenContext) b2 = mitogen_router_connect_context (
        f->router, "local", mitogen_test_connect_options (NULL), f->a, NULL,
        &error);
    g_assert_no_error (error);
    g_assert_cmpint (mitogen_test_getpid (b2), !=, b_pid);
  }
  g_assert_cmpuint (count_requests (f, TRANSPORT_MODULE, NULL), ==, 1);
}

/* master → A → B → C, none with transports: B fetches from A, which has
 * the module already, so it crosses the master's link once. */
static void
test_forwarded_by_intermediate (Fixture *f,
                                gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) b = NULL;
  g_autoptr(MitogenContext) c = NULL;
  g_autofree gchar *path = NULL;

  if (!lacks_local (f->a))
    return;
  b = mitogen_router_connect_context (f->router, "local",
                                      mitogen_test_connect_options (NULL), f->a,
                                      NULL, &error);
  g_assert_no_error (error);
  c = mitogen_router_connect_context (
      f->router, "local", mitogen_test_connect_options (NULL), b, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (mitogen_test_getpid (c), !=, mitogen_test_getpid (b));

  path = transport_path (b);
  g_assert_true (g_str_has_prefix (path, "/proc/self/fd/"));
  g_assert_cmpuint (count_requests (f, TRANSPORT_MODULE, NULL), ==, 1);
}

/* A function in A starting a child of A's own fetches the same way. */
static void
test_fetched_for_own_child (Fixture *f,
                            gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(MitogenContext) b = NULL;
  const gchar *name;
  guint32 id;

  if (!lacks_local (f->a))
    return;
  result = mitogen_context_call (f->a, "spawner.connect",
                                 g_variant_new ("(s)", "local"), NULL, &error);
  g_assert_no_error (error);
  g_variant_get (result, "(u&s)", &id, &name);
  b = mitogen_context_new (f->router, id, name);
  g_assert_cmpint (mitogen_test_getpid (b), !=, mitogen_test_getpid (f->a));
  g_assert_cmpuint (count_requests (f, TRANSPORT_MODULE, NULL), ==, 1);
}

/* A transport nobody has fails with an error naming it, at once. */
static void
test_unknown_transport (Fixture *f,
                        gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) b = NULL;
  gint64 start = g_get_monotonic_time ();

  b = mitogen_router_connect_context (f->router, "nosuch", NULL, f->a, NULL,
                                      &error);
  g_assert_null (b);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "No transport “nosuch” here"));
  g_assert_nonnull (strstr (error->message, "none from the parent"));
  g_assert_cmpuint (count_requests (f, "mitogen-transport-nosuch", NULL), ==, 1);
  g_assert_cmpint (g_get_monotonic_time () - start, <, MITOGEN_TEST_WAIT);

  /* A name that could not be a module file is not even asked for. */
  g_clear_error (&error);
  b = mitogen_router_connect_context (f->router, "../local", NULL, f->a, NULL,
                                      &error);
  g_assert_null (b);
  g_assert_nonnull (strstr (error->message, "“../local” is not a transport name"));
  g_assert_cmpuint (count_requests (f, "mitogen-transport-../local", NULL), ==, 0);

  /* A is unharmed. */
  mitogen_test_getpid (f->a);
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *empty = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);

  /* The master's registry scans the real path now; children, started
   * later, inherit the empty one. Set before any thread exists. */
  mitogen_transport_registry_get_default ();
  empty = g_dir_make_tmp ("mitogen-no-transports-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("MITOGEN_TRANSPORT_PATH", empty, TRUE);

  g_test_add ("/transport-fetch/fetched-from-parent", Fixture, NULL, setup,
              test_fetched_from_parent, teardown);
  g_test_add ("/transport-fetch/forwarded-by-intermediate", Fixture, NULL, setup,
              test_forwarded_by_intermediate, teardown);
  g_test_add ("/transport-fetch/fetched-for-own-child", Fixture, NULL, setup,
              test_fetched_for_own_child, teardown);
  g_test_add ("/transport-fetch/unknown-transport", Fixture, NULL, setup,
              test_unknown_transport, teardown);
  status = g_test_run ();
  g_rmdir (empty);
  return status;
}
