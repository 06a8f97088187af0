/* fuzz-allocate-id.c: ALLOCATE_ID from a child, in the master (which
 * grants ids, here under a small quota when the options say so) and in an
 * intermediate (which refuses, or passes the request up)
 *
 * After the records the master must still allocate an id of its own.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <stdlib.h>

#include "fuzz-world.h"

/* In the options byte: a quota of a few blocks, soon used up. */
#define SMALL_QUOTA 0x02

static guint8 options;

static void
setup (FuzzWorld *world)
{
  if (options & SMALL_QUOTA)
    mitogen_router_set_id_quota (world->router, 300);
}

static void
check (FuzzWorld *world)
{
  g_autoptr (GError) error = NULL;

  if (!world->intermediate
      && mitogen_router_allocate_id_full (world->router, NULL, &error)
             == MITOGEN_CONTEXT_ID_NONE)
    abort ();
}

static const FuzzTarget target = {
  .master = TRUE,
  .intermediate = TRUE,
  .setup = setup,
  .check = check,
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  options = size ? data[0] : 0;
  return fuzz_world_run (&target, data, size);
}

#define ALLOC FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_ALLOCATE_ID)
#define ADD FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_ADD_ROUTE)

void
fuzz_target_seeds (GPtrArray *seeds)
{
  GByteArray *in = fuzz_input_new (SMALL_QUOTA);
  guint8 c = FUZZ_MASTER_CHILD_ID;

  fuzz_input_add (in, 0, 0, c, c, ALLOC, 128, g_variant_new ("(u)", 128));
  fuzz_input_add (in, 0, 0, c, c, ALLOC, 130, g_variant_new ("(u)", 4096));
  fuzz_input_add (in, 0, 0, c, c, ALLOC, 131, g_variant_new ("(u)", 0));
  fuzz_input_add (in, 0, 0, c, c, ALLOC, 132, NULL);
  fuzz_input_add (in, 0, 0, c, c, ALLOC, 0, g_variant_new ("(u)", 1));
  fuzz_input_add (in, 0, 0, c, c, ALLOC, 133, g_variant_new ("(s)", "x"));
  fuzz_input_add (in, 0, 0, c, c, ALLOC, FUZZ_HANDLE_IS_DEAD,
                  g_variant_new ("(u)", 1));
  /* From a grandchild, on the child's quota. */
  fuzz_input_add (in, 0, 0, c, c, ADD, 0, g_variant_new ("(us)", 9, "g"));
  fuzz_input_add (in, 0, 0, 9, 9, ALLOC, 134, g_variant_new ("(u)", 100));
  fuzz_input_add (in, 0, 0, 9, c, ALLOC, 135, g_variant_new ("(u)", 100));
  fuzz_seeds_take (seeds, in);

  in = fuzz_input_new (0);
  fuzz_input_add (in, 0, 0, c, c, ALLOC, 130, g_variant_new ("(u)", 4096));
  fuzz_seeds_take (seeds, in);

  /* An intermediate: asked itself, it refuses; asked for the master, it
   * passes the request up. */
  c = FUZZ_INTERMEDIATE_CHILD_ID;
  in = fuzz_input_new (FUZZ_WORLD_INTERMEDIATE);
  fuzz_input_add (in, 0, FUZZ_INTERMEDIATE_ID, c, c, ALLOC, 130,
                  g_variant_new ("(u)", 128));
  fuzz_input_add (in, 0, 0, c, c, ALLOC, 130, g_variant_new ("(u)", 128));
  fuzz_seeds_take (seeds, in);
}
