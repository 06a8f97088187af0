/* fuzz-forward-log.c: FORWARD_LOG records from a child, logged by the
 * handler every context that starts children installs
 *
 * The fuzzer's log writer aborts on a record at a level that is fatal in
 * a GTest program or under G_DEBUG=fatal-criticals.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen-context-private.h>

#include "fuzz-world.h"

static void
setup (FuzzWorld *world)
{
  mitogen_router_set_context_name (world->router, world->child_id, "child");
  mitogen_context_ensure_log_forwarding (world->router);
}

static const FuzzTarget target = {
  .master = TRUE,
  .intermediate = TRUE,
  .setup = setup,
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  return fuzz_world_run (&target, data, size);
}

#define LOG FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_FORWARD_LOG)

static void
add_records (GPtrArray *seeds, guint8 options, guint8 self, guint8 c)
{
  static const gint levels[] = {
    G_LOG_LEVEL_ERROR,
    G_LOG_LEVEL_CRITICAL,
    G_LOG_LEVEL_WARNING,
    G_LOG_LEVEL_MESSAGE,
    G_LOG_LEVEL_INFO,
    G_LOG_LEVEL_DEBUG,
    G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL,
    0,
    -1,
  };
  GByteArray *in = fuzz_input_new (options);

  for (gsize i = 0; i < G_N_ELEMENTS (levels); i++)
    fuzz_input_add (in, 0, self, c, c, LOG, 0,
                    g_variant_new ("(siss)", "child-domain", levels[i],
                                   "a record\nforged: line\r\033[31m", ""));
  fuzz_input_add (
      in, 0, self, c, c, LOG, 0,
      g_variant_new ("(siss)", "", G_LOG_LEVEL_MESSAGE, "output", "stdout"));
  fuzz_input_add (in, 0, self, c, c, LOG, 0, g_variant_new ("(s)", "x"));
  /* A record from a grandchild, which is named by its route. */
  fuzz_input_add (in, 0, self, c, c,
                  FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_ADD_ROUTE), 0,
                  g_variant_new ("(us)", 9, "grand\nchild"));
  fuzz_input_add (in, 0, self, 9, 9, LOG, 0,
                  g_variant_new ("(siss)", "d", G_LOG_LEVEL_WARNING, "w", ""));
  fuzz_seeds_take (seeds, in);
}

void
fuzz_target_seeds (GPtrArray *seeds)
{
  add_records (seeds, 0, FUZZ_MASTER_ID, FUZZ_MASTER_CHILD_ID);
  add_records (seeds, FUZZ_WORLD_INTERMEDIATE, FUZZ_INTERMEDIATE_ID,
               FUZZ_INTERMEDIATE_CHILD_ID);
}
