/* bench-modules: the cost of a first call that must fetch a 1 MiB module
 * from the master, beside the same call once the module is cached, in the
 * same run; and the module bytes a tree master → A → {B…} puts on the
 * master's link for 1 and for 10 leaves. */
#include <stdio.h>

#include "bench-common.h"

#define RUNS 15

static gint64
timed_call (MitogenContext *ctx,
            const gchar *function)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GVariant) r = mitogen_context_call (ctx, function, NULL, NULL, &error);

  if (!r)
    g_error ("%s: %s", function, error->message);
  return g_get_monotonic_time () - start;
}

static guint64
tree_bytes (MitogenRouter *router,
            MitogenModuleResponder *responder,
            guint leaves)
{
  g_autoptr(MitogenContext) hop = bench_connect (router, "local", NULL, NULL);
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func (g_object_unref);
  guint64 before = mitogen_module_responder_get_bytes_sent (responder);

  for (guint i = 0; i < leaves; i++)
    {
      MitogenContext *leaf = bench_connect (router, "local", NULL, hop);
      timed_call (leaf, "big.size");
      g_ptr_array_add (kept, leaf);
    }
  mitogen_context_shutdown (hop, TRUE, NULL, NULL);
  return mitogen_module_responder_get_bytes_sent (responder) - before;
}

int
main (int argc,
      char **argv)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(MitogenRouter) router = mitogen_router_new (broker);
  MitogenModuleResponder *responder = mitogen_module_responder_get_for_router (router);
  g_autoptr(GPtrArray) retired = g_ptr_array_new_with_free_func (g_object_unref);
  /* Whole microseconds, as g_get_monotonic_time() gives them: RUNS is
   * odd, so each median is one of them and prints as a whole number. */
  double first[RUNS], cached[RUNS];
  gint64 m_first, m_cached;
  guint64 one, ten;

  mitogen_module_responder_add_path (responder, MITOGEN_TEST_MODULES_DIR);
  for (guint i = 0; i < RUNS; i++)
    {
      MitogenContext *ctx = bench_connect (router, "local", NULL, NULL);

      /* core first, so that only big's fetch is in the figure. */
      timed_call (ctx, "core.getpid");
      first[i] = (double) timed_call (ctx, "big.size");
      cached[i] = (double) timed_call (ctx, "big.size");
      mitogen_context_shutdown (ctx, TRUE, NULL, NULL);
      /* Released after the broker stops: nothing races its last unref. */
      g_ptr_array_add (retired, ctx);
    }
  one = tree_bytes (router, responder, 1);
  ten = tree_bytes (router, responder, 10);

  m_first = (gint64) bench_median (first, RUNS);
  m_cached = (gint64) bench_median (cached, RUNS);
  printf ("a call to a 1 MiB module, median of %d fresh contexts:\n", RUNS);
  printf ("  module already loaded       %8" G_GINT64_FORMAT " us\n", m_cached);
  printf ("  first call, fetches it      %8" G_GINT64_FORMAT " us   (%.1fx the cached call)\n",
          m_first, (double) m_first / m_cached);
  printf ("module bytes on the master's link, master -> A -> leaves:\n");
  printf ("  1 leaf                      %8" G_GUINT64_FORMAT " bytes\n", one);
  printf ("  10 leaves                   %8" G_GUINT64_FORMAT " bytes   (%.2fx the 1-leaf figure)\n",
          ten, (double) ten / one);

  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  return 0;
}
