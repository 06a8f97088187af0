/* fuzz-module-forwarder.c: GET_MODULE from a child of an intermediate,
 * which asks its parent once per module and answers from what the parent
 * sent (LOAD_MODULE, which the input may send from the parent too)
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen-module-forwarder.h>

#include "fuzz-world.h"

typedef struct
{
  MitogenImporter *importer;
  MitogenModuleForwarder *forwarder;
} Forwarding;

static void
setup (FuzzWorld *world)
{
  Forwarding *f = g_new0 (Forwarding, 1);

  f->importer = mitogen_importer_new (NULL);
  mitogen_importer_set_parent (f->importer, world->router, FUZZ_MASTER_ID);
  f->forwarder = mitogen_module_forwarder_new (world->router, f->importer);
  world->data = f;
}

static void
teardown (FuzzWorld *world)
{
  Forwarding *f = world->data;

  /* The handlers hold the importer, which holds the router. */
  mitogen_router_del_handler (world->router, MITOGEN_HANDLE_GET_MODULE);
  mitogen_router_del_handler (world->router, MITOGEN_HANDLE_LOAD_MODULE);
  g_object_unref (f->forwarder);
  g_object_unref (f->importer);
  g_free (f);
}

static const FuzzTarget target = {
  .intermediate = TRUE,
  .setup = setup,
  .teardown = teardown,
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  return fuzz_world_run (&target, data, size);
}

#define GET FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_GET_MODULE)
#define LOAD FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_LOAD_MODULE)

static GVariant *
load_module (const gchar *name, gboolean found, const gchar *const *requires)
{
  static const gchar bytes[] = "\177ELF module bytes";
  const gchar *const none[] = { NULL };
  g_autofree gchar *sha
      = g_compute_checksum_for_string (G_CHECKSUM_SHA256, bytes, -1);

  return g_variant_new ("(sb@ays^ass)", name, found,
                        g_variant_new_bytestring (bytes), sha,
                        requires ? requires : none, found ? "" : "no such");
}

void
fuzz_target_seeds (GPtrArray *seeds)
{
  const gchar *const needs_b[] = { "fuzzb", NULL };
  const gchar *const needs_a[] = { "fuzza", NULL };
  guint8 c = FUZZ_INTERMEDIATE_CHILD_ID, self = FUZZ_INTERMEDIATE_ID;
  GByteArray *in = fuzz_input_new (0);

  /* Asked, fetched, asked again; a module requiring one not yet here. */
  fuzz_input_add (in, 0, self, c, c, GET, 0, g_variant_new ("(s)", "fuzzb"));
  fuzz_input_add (in, 0, self, c, c, GET, 0, g_variant_new ("(s)", "fuzzb"));
  fuzz_input_add (in, FUZZ_RECORD_FROM_PARENT, self, 0, 0, LOAD, 0,
                  load_module ("fuzzb", TRUE, NULL));
  fuzz_input_add (in, 0, self, c, c, GET, 0, g_variant_new ("(s)", "fuzza"));
  fuzz_input_add (in, FUZZ_RECORD_FROM_PARENT, self, 0, 0, LOAD, 0,
                  load_module ("fuzza", TRUE, needs_b));
  fuzz_input_add (in, 0, self, c, c, GET, 0, g_variant_new ("(s)", "fuzza"));
  fuzz_input_add (in, 0, self, c, c, GET, 0, g_variant_new ("(s)", "nosuch"));
  fuzz_input_add (in, FUZZ_RECORD_FROM_PARENT, self, 0, 0, LOAD, 0,
                  load_module ("nosuch", FALSE, NULL));
  fuzz_input_add (in, 0, self, c, c, GET, 0, g_variant_new ("(s)", "nosuch"));
  fuzz_input_add (in, 0, self, c, c, GET, 0, g_variant_new ("(u)", 1));
  fuzz_seeds_take (seeds, in);

  /* Modules that require each other. */
  in = fuzz_input_new (0);
  fuzz_input_add (in, FUZZ_RECORD_FROM_PARENT, self, 0, 0, LOAD, 0,
                  load_module ("fuzza", TRUE, needs_b));
  fuzz_input_add (in, FUZZ_RECORD_FROM_PARENT, self, 0, 0, LOAD, 0,
                  load_module ("fuzzb", TRUE, needs_a));
  fuzz_input_add (in, 0, self, c, c, GET, 0, g_variant_new ("(s)", "fuzza"));
  fuzz_input_add (in, 0, self, c, c, GET, FUZZ_HANDLE_IS_DEAD,
                  g_variant_new ("(s)", "fuzzb"));
  fuzz_input_add (in, FUZZ_RECORD_FROM_PARENT, self, 0, 0, LOAD,
                  FUZZ_HANDLE_IS_DEAD, g_variant_new_string ("gone"));
  fuzz_seeds_take (seeds, in);
}
