/* fuzz-module-responder.c: GET_MODULE from a child of the master
 *
 * The responder serves the modules in FUZZ_MODULE_DIR (fuzza, which
 * requires fuzzb) and the transport file there (mitogen-transport-fuzz).
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "fuzz-world.h"

static void
setup (FuzzWorld *world)
{
  const gchar *path[] = { FUZZ_MODULE_DIR, NULL };

  world->data = mitogen_module_responder_new (world->router, path);
}

static void
teardown (FuzzWorld *world)
{
  mitogen_router_del_handler (world->router, MITOGEN_HANDLE_GET_MODULE);
  g_clear_object (&world->data);
}

static const FuzzTarget target = {
  .master = TRUE,
  .setup = setup,
  .teardown = teardown,
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* Before the transport registry is first made. */
  g_setenv ("MITOGEN_TRANSPORT_PATH", FUZZ_MODULE_DIR, TRUE);
  return fuzz_world_run (&target, data, size);
}

#define GET FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_GET_MODULE)

void
fuzz_target_seeds (GPtrArray *seeds)
{
  const gchar *names[] = {
    "fuzza",
    "fuzzb",
    "fuzza",
    "nosuch",
    "../fuzza",
    "fuzz/a",
    "",
    "mitogen-transport-fuzz",
    "mitogen-transport-nosuch",
  };
  guint8 c = FUZZ_MASTER_CHILD_ID;
  GByteArray *in = fuzz_input_new (0);

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    fuzz_input_add (in, 0, 0, c, c, GET, 0, g_variant_new ("(s)", names[i]));
  fuzz_input_add (in, 0, 0, c, c, GET, 0, g_variant_new ("(u)", 1));
  fuzz_input_add (in, 0, 0, c, c, GET, FUZZ_HANDLE_IS_DEAD,
                  g_variant_new ("(s)", "fuzza"));
  fuzz_seeds_take (seeds, in);

  /* A grandchild asks too. */
  in = fuzz_input_new (0);
  fuzz_input_add (in, 0, 0, c, c,
                  FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_ADD_ROUTE), 0,
                  g_variant_new ("(us)", 5, "grandchild"));
  fuzz_input_add (in, 0, 0, 5, 5, GET, 0, g_variant_new ("(s)", "fuzzb"));
  fuzz_input_add (in, 0, 0, 5, 5, GET, 0, g_variant_new ("(s)", "fuzza"));
  fuzz_seeds_take (seeds, in);
}
