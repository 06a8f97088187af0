/* test-services.c: CALL_SERVICE between real contexts: per-method
 * policies, errors, the pool's size, and a service activated on demand
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"

typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *a;
  MitogenContext *b;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  mitogen_test_master_new (&f->broker, &f->router);
  mitogen_module_responder_add_path (
      mitogen_module_responder_get_for_router (f->router),
      MITOGEN_TEST_MODULES_DIR);
  f->a = mitogen_test_connect (f->router, "local", NULL, NULL);
  f->b = mitogen_test_connect (f->router, "local", NULL, NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  mitogen_test_master_stop (f->broker, NULL);
  g_clear_object (&f->a);
  g_clear_object (&f->b);
  mitogen_test_master_clear (&f->broker, &f->router);
}

static GVariant *
echo (MitogenMessage *request,
      GVariant *args,
      gpointer user_data,
      GError **error)
{
  return g_variant_ref (args);
}

/* @ctx calls @method of test.Echo in the master. */
static GVariant *
call_master (MitogenContext *ctx, const gchar *method, GError **error)
{
  g_autoptr (GVariant) boxed
      = mitogen_context_call (ctx, "services.call",
                              g_variant_new ("(ussv)", 0, "test.Echo", method,
                                             g_variant_new ("(s)", "hi")),
                              NULL, error);

  return boxed ? g_variant_get_variant (boxed) : NULL;
}

/* Not g_assert_cmpvariant() with a g_variant_new(): it never sinks it. */
static void
assert_echoed (GVariant *result, const gchar *expected)
{
  const gchar *got = NULL;

  g_assert_nonnull (result);
  g_variant_get (result, "(&s)", &got);
  g_assert_cmpstr (got, ==, expected);
}

static void
assert_service_error (GError *error, MitogenServiceError code)
{
  g_assert_nonnull (error);
  g_assert_cmpstr (mitogen_call_error_get_remote_domain (error), ==,
                   g_quark_to_string (MITOGEN_SERVICE_ERROR));
  g_assert_cmpint (mitogen_call_error_get_remote_code (error), ==, code);
}

static void
test_policies (Fixture *f, gconstpointer data)
{
  MitogenServicePool *pool = mitogen_service_pool_get_default (f->router);
  static const gchar *const methods[] = { "parent", "child", "context", "any" };

  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    mitogen_service_pool_add_method (
        pool, "test.Echo", methods[i], "(s)", (MitogenServicePolicy) i,
        mitogen_context_get_context_id (f->b), echo, NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      g_autoptr (GError) error_a = NULL, error_b = NULL;
      g_autoptr (GVariant) from_a = call_master (f->a, methods[i], &error_a);
      g_autoptr (GVariant) from_b = call_master (f->b, methods[i], &error_b);
      /* A child is no parent; only b is the named context. */
      gboolean a_allowed = i == MITOGEN_SERVICE_POLICY_CHILD
                           || i == MITOGEN_SERVICE_POLICY_ANY;
      gboolean b_allowed = i != MITOGEN_SERVICE_POLICY_PARENT;

      if (a_allowed)
        {
          g_assert_no_error (error_a);
          assert_echoed (from_a, "hi");
        }
      else
        assert_service_error (error_a, MITOGEN_SERVICE_ERROR_REFUSED);
      if (b_allowed)
        g_assert_no_error (error_b);
      else
        assert_service_error (error_b, MITOGEN_SERVICE_ERROR_REFUSED);
    }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) result = call_master (f->a, "missing", &error);
    assert_service_error (error, MITOGEN_SERVICE_ERROR_NOT_FOUND);
  }
}

/* A service of a child: its parent may call it; a service nobody
 * registered is activated on its first call. */
static void
test_child_service_and_activation (Fixture *f, gconstpointer data)
{
  guint32 a = mitogen_context_get_context_id (f->a);
  g_autoptr (GVariant) served = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) echoed = NULL;
  g_autoptr (GVariant) lazy = NULL;
  g_autoptr (GVariant) never = NULL;
  g_autoptr (GVariant) bad_args = NULL;

  served = mitogen_context_call (f->a, "services.serve", NULL, NULL, &error);
  g_assert_no_error (error);
  echoed = mitogen_service_call (f->router, a, "test.Echo", "parent",
                                 g_variant_new ("(s)", "x"), NULL, &error);
  g_assert_no_error (error);
  assert_echoed (echoed, "x");
  lazy = mitogen_service_call (f->router, a, "test.Lazy", "echo",
                               g_variant_new ("(s)", "y"), NULL, &error);
  g_assert_no_error (error);
  assert_echoed (lazy, "y");
  never = mitogen_service_call (f->router, a, "test.Never", "echo",
                                g_variant_new ("(s)", "z"), NULL, &error);
  g_assert_null (never);
  assert_service_error (error, MITOGEN_SERVICE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  bad_args = mitogen_service_call (f->router, a, "test.Echo", "parent",
                                   g_variant_new ("(i)", 1), NULL, &error);
  g_assert_null (bad_args);
  assert_service_error (error, MITOGEN_SERVICE_ERROR_INVALID);
}

static void
count_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  (*(guint *) user_data)++;
}

static void
test_size (Fixture *f, gconstpointer data)
{
  MitogenServicePool *pool = mitogen_service_pool_get_default (f->router);
  guint notified = 0;
  guint size = 0;

  g_assert_true (pool == mitogen_service_pool_get_default (f->router));
  g_assert_cmpuint (mitogen_service_pool_get_size (pool), ==,
                    MITOGEN_SERVICE_POOL_DEFAULT_SIZE);
  g_signal_connect (pool, "notify::size", G_CALLBACK (count_notify), &notified);
  g_object_set (pool, "size", 2, NULL);
  g_object_get (pool, "size", &size, NULL);
  g_assert_cmpuint (size, ==, 2);
  g_object_set (pool, "size", 2, NULL);
  g_assert_cmpuint (notified, ==, 1);
  g_signal_handlers_disconnect_by_data (pool, &notified);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/services/policies", Fixture, NULL, setup, test_policies,
              teardown);
  g_test_add ("/services/child-service-and-activation", Fixture, NULL, setup,
              test_child_service_and_activation, teardown);
  g_test_add ("/services/size", Fixture, NULL, setup, test_size, teardown);
  return g_test_run ();
}
