/* fuzz-reply.c: replies to the calls a context makes, as its child sends
 * them: to the call's own receiver, and to a persistent receiver waiting
 * on the child, read as mitogen_context_call() reads a result
 *
 * Slot 0 is the call's reply handle, slot 1 the persistent receiver's.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <stdlib.h>

#include <mitogen/mitogen-context-private.h>
#include <mitogen/mitogen-protocol.h>

#include "fuzz-world.h"

/* More queued messages than this are left unread. */
#define MAX_READ 64

typedef struct
{
  MitogenContext *child;
  MitogenReceiver *call;
  MitogenReceiver *channel;
} Calls;

static void
setup (FuzzWorld *world)
{
  Calls *c = g_new0 (Calls, 1);
  g_autoptr (GError) error = NULL;

  c->child = mitogen_context_new (world->router, world->child_id, NULL);
  c->call = mitogen_context_start_call (c->child, NULL, "fuzz.call", NULL, 0,
                                        TRUE, &error);
  if (!c->call)
    abort ();
  c->channel
      = mitogen_receiver_new (world->router, 0, TRUE, world->child_id, NULL);
  world->slots[0] = mitogen_receiver_get_handle (c->call);
  world->slots[1] = mitogen_receiver_get_handle (c->channel);
  world->data = c;
}

/* Reads a reply as a caller does: an error, or a value, never both. */
static void
read_reply (MitogenContext *child, MitogenReceiver *recv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenMessage) reply
      = mitogen_receiver_get (recv, 0, NULL, &error);
  g_autoptr (GVariant) value = NULL;

  if (!reply)
    return;
  value = mitogen_context_finish_call (child, reply, &error);
  if ((value != NULL) == (error != NULL))
    abort ();
}

static void
check (FuzzWorld *world)
{
  Calls *c = world->data;

  read_reply (c->child, c->call);
  for (guint i = 0; i < MAX_READ && !mitogen_receiver_empty (c->channel); i++)
    read_reply (c->child, c->channel);
}

static void
teardown (FuzzWorld *world)
{
  Calls *c = world->data;

  g_object_unref (c->call);
  g_object_unref (c->channel);
  g_object_unref (c->child);
  g_free (c);
}

static const FuzzTarget target = {
  .master = TRUE,
  .intermediate = TRUE,
  .setup = setup,
  .check = check,
  .teardown = teardown,
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  return fuzz_world_run (&target, data, size);
}

static GVariant *
remote_error (const gchar *domain)
{
  return g_variant_new ("(bv)", FALSE,
                        g_variant_new ("(ssis)", "child", domain, 3, "failed"));
}

static void
add_replies (GPtrArray *seeds, guint8 options, guint8 self, guint8 c)
{
  GVariant *bodies[] = {
    g_variant_new ("(bv)", TRUE, g_variant_new ("(i)", 42)),
    remote_error ("g-io-error-quark"),
    remote_error ("mitogen-call-error-quark"),
    remote_error (""),
    g_variant_new ("(bv)", FALSE, g_variant_new_string ("malformed")),
    g_variant_new ("(sv)", "wrong", g_variant_new_string ("x")),
    g_variant_new_string ("dead"),
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    g_variant_ref_sink (bodies[i]);
  for (guint8 slot = 0; slot < 2; slot++)
    for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
      {
        GByteArray *in = fuzz_input_new (options);

        fuzz_input_add (in, 0, self, c, c, slot,
                        i == G_N_ELEMENTS (bodies) - 1 ? FUZZ_HANDLE_IS_DEAD
                                                       : 0,
                        bodies[i]);
        fuzz_seeds_take (seeds, in);
      }
  /* Replies from a context that was not called, and several at once. */
  {
    GByteArray *in = fuzz_input_new (options);

    fuzz_input_add (in, 0, self, c, c,
                    FUZZ_HANDLE_WELL_KNOWN (MITOGEN_HANDLE_ADD_ROUTE), 0,
                    g_variant_new ("(us)", 9, "grandchild"));
    fuzz_input_add (in, 0, self, 9, 9, 0, 0, bodies[0]);
    for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
      fuzz_input_add (in, 0, self, c, c, 1, 0, bodies[i]);
    fuzz_input_add_raw (in, 0, self, c, c, 1, 0, "", 0);
    fuzz_input_add_raw (in, 0, self, c, c, 1, FUZZ_HANDLE_IS_DEAD, "", 0);
    fuzz_seeds_take (seeds, in);
  }
  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    g_variant_unref (bodies[i]);
}

void
fuzz_target_seeds (GPtrArray *seeds)
{
  add_replies (seeds, 0, FUZZ_MASTER_ID, FUZZ_MASTER_CHILD_ID);
  add_replies (seeds, FUZZ_WORLD_INTERMEDIATE, FUZZ_INTERMEDIATE_ID,
               FUZZ_INTERMEDIATE_CHILD_ID);
}
