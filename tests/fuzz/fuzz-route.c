/* fuzz-route.c: ADD_ROUTE, DEL_ROUTE and the routing of whatever a child
 * sends, in the master or an intermediate
 *
 * After the records, the routes that no child may take are checked: the
 * master reaches nobody through itself, and an intermediate still reaches
 * its parent through its parent stream. (A child may withdraw its own
 * route: that harms nobody but itself.)
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <stdlib.h>

#include "fuzz-world.h"

static void
check_routes (FuzzWorld *world)
{
  g_autoptr (MitogenStream) to_self
      = mitogen_router_stream_by_id (world->router, world->self_id);
  g_autoptr (MitogenStream) to_master
      = mitogen_router_stream_by_id (world->router, FUZZ_MASTER_ID);
  if (world->intermediate ? to_master != world->parent : to_self != NULL)
    abort ();
}

static const FuzzTarget target = {
  .master = TRUE,
  .intermediate = TRUE,
  .check = check_routes,
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  return fuzz_world_run (&target, data, size);
}

#define ADD FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_ADD_ROUTE)
#define DEL FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_DEL_ROUTE)
#define CALL FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_CALL_FUNCTION)

static void
add_world (GPtrArray *seeds, guint8 options, guint8 self, guint8 child)
{
  GByteArray *in = fuzz_input_new (options);

  /* A grandchild and a great-grandchild behind the child, a message from
   * each, then the grandchild goes. */
  fuzz_input_add (in, 0, self, child, child, ADD, 0,
                  g_variant_new ("(us)", 10, "grandchild"));
  fuzz_input_add (in, 0, self, 10, 10, ADD, 0,
                  g_variant_new ("(us)", 11, "great-grandchild"));
  fuzz_input_add (in, 0, self, child, child, ADD, 0,
                  g_variant_new ("(us)", 11, "great-grandchild"));
  fuzz_input_add (in, 0, 0, 11, 11, CALL, 200, g_variant_new ("(s)", "x"));
  fuzz_input_add (in, 0, 10, 11, child, 130, 0, NULL);
  fuzz_input_add (in, 0, self, child, child, DEL, 0, g_variant_new ("(u)", 10));
  fuzz_input_add (in, 0, self, child, child, DEL, 0, g_variant_new ("(u)", 11));
  /* Squatting: the child claims the master, itself and its parent. */
  fuzz_input_add (in, 0, self, child, child, ADD, 0,
                  g_variant_new ("(us)", self, "me"));
  fuzz_input_add (in, 0, self, child, child, ADD, 0,
                  g_variant_new ("(us)", 0, "master"));
  fuzz_input_add (in, 0, self, child, child, DEL, 0,
                  g_variant_new ("(u)", child));
  fuzz_input_add (in, 0, self, child, child, ADD, 0,
                  g_variant_new ("(su)", "wrong", 1));
  fuzz_seeds_take (seeds, in);
}

void
fuzz_target_seeds (GPtrArray *seeds)
{
  GByteArray *in;

  add_world (seeds, 0, FUZZ_MASTER_ID, FUZZ_MASTER_CHILD_ID);
  add_world (seeds, FUZZ_WORLD_INTERMEDIATE, FUZZ_INTERMEDIATE_ID,
             FUZZ_INTERMEDIATE_CHILD_ID);

  /* The parent of an intermediate announces and removes routes too. */
  in = fuzz_input_new (FUZZ_WORLD_INTERMEDIATE);
  fuzz_input_add (in, FUZZ_RECORD_FROM_PARENT, FUZZ_INTERMEDIATE_ID, 0, 0, ADD,
                  0, g_variant_new ("(us)", 20, "sibling"));
  fuzz_input_add (in, FUZZ_RECORD_FROM_PARENT, FUZZ_INTERMEDIATE_CHILD_ID, 0, 0,
                  CALL, 140, g_variant_new ("(s)", "x"));
  fuzz_input_add (in, FUZZ_RECORD_FROM_PARENT, FUZZ_INTERMEDIATE_ID, 0, 0, DEL,
                  0, g_variant_new ("(u)", FUZZ_INTERMEDIATE_CHILD_ID));
  fuzz_seeds_take (seeds, in);
}
