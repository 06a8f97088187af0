/* Call chains: after an error, later calls of the chain fail with the
 * same error without running; a reset chain runs again. */
#include <glib/gstdio.h>
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <string.h>

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *ctx;
  gchar *dir;
} Fixture;

static void
setup (Fixture *f,
       gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  mitogen_test_master_new (&f->broker, &f->router);
  f->ctx = mitogen_test_connect (f->router, "local", NULL, NULL);
  f->dir = g_dir_make_tmp ("mitogen-chain-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f,
          gconstpointer data)
{
  mitogen_test_master_stop (f->broker, f->ctx);
  g_rmdir (f->dir);
  g_free (f->dir);
  g_clear_object (&f->ctx);
  mitogen_test_master_clear (&f->broker, &f->router);
}

static GVariant *
write_args (const gchar *path)
{
  return g_variant_new ("(s@ayu)", path,
                        g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "x", 1, 1),
                        0644);
}

static void
test_stops_at_first_error (Fixture *f,
                           gconstpointer data)
{
  g_autoptr(MitogenCallChain) chain = mitogen_call_chain_new (f->ctx);
  g_autofree gchar *path = g_build_filename (f->dir, "never", NULL);
  g_autoptr(GError) first = NULL;
  g_autoptr(GError) second = NULL;
  g_autoptr(GVariant) pid = NULL;
  GVariant *r;

  /* Pipelined: the failure is reported by the next call that waits. */
  mitogen_call_chain_call_no_reply (chain, "core.fail", g_variant_new ("(s)", "first"));
  r = mitogen_call_chain_call (chain, "core.write_file", write_args (path), NULL, &first);
  g_assert_null (r);
  g_assert_error (first, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE);
  g_assert_nonnull (strstr (first->message, "first"));
  /* It did not run. */
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  r = mitogen_call_chain_call (chain, "core.getpid", NULL, NULL, &second);
  g_assert_null (r);
  g_assert_cmpstr (second->message, ==, first->message);

  /* Calls outside the chain are unaffected. */
  pid = mitogen_context_call (f->ctx, "core.getpid", NULL, NULL, NULL);
  g_assert_nonnull (pid);
}

static void
test_reset_runs_again (Fixture *f,
                       gconstpointer data)
{
  g_autoptr(MitogenCallChain) chain = mitogen_call_chain_new (f->ctx);
  g_autofree gchar *path = g_build_filename (f->dir, "after-reset", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) r = NULL;
  gchar *old_id = g_strdup (mitogen_call_chain_get_chain_id (chain));

  g_assert_null (mitogen_call_chain_call (chain, "core.fail",
                                          g_variant_new ("(s)", "x"), NULL, &error));
  g_clear_error (&error);
  mitogen_call_chain_reset (chain);
  g_assert_cmpstr (old_id, !=, mitogen_call_chain_get_chain_id (chain));
  g_free (old_id);
  r = mitogen_call_chain_call (chain, "core.write_file", write_args (path), NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_unlink (path);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/chain/stops-at-first-error", Fixture, NULL, setup,
              test_stops_at_first_error, teardown);
  g_test_add ("/chain/reset-runs-again", Fixture, NULL, setup,
              test_reset_runs_again, teardown);
  return g_test_run ();
}
