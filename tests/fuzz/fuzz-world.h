/* fuzz-world.h: a router with a child that sends what the fuzzer says
 *
 * A handler target's input is an options byte, then records, each a
 * message as it arrives from the child (or, in an intermediate, from the
 * parent), handed to the router through mitogen_router_route_from_stream()
 * exactly as a stream hands over a decoded frame:
 *
 *   flags dst src auth handle reply_to len_hi len_lo body[len]
 *
 * Ids and handles are codes (see fuzz_world_id(), fuzz_world_handle()), so
 * that one byte reaches the values that matter. Every input gets a new
 * router, streams and handlers, on the broker thread, and nothing of it
 * outlives the input; the broker is made once per process. The streams
 * have no peer: they read a pipe nobody writes and write to /dev/null.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen.h>

#include "fuzz-common.h"

G_BEGIN_DECLS

/* In the options byte: the router is an intermediate context's, with a
 * parent stream, rather than the master's. */
#define FUZZ_WORLD_INTERMEDIATE 0x01

/* In a record's flags: the message arrives on the parent stream (an
 * intermediate only; ignored in the master). */
#define FUZZ_RECORD_FROM_PARENT 0x01

/* The ids of the contexts. */
#define FUZZ_MASTER_ID 0
#define FUZZ_MASTER_CHILD_ID 1
#define FUZZ_INTERMEDIATE_ID 1
#define FUZZ_INTERMEDIATE_CHILD_ID 2

/* Handle codes 0..FUZZ_WORLD_N_SLOTS-1 name the handles a target
 * registered at run time (a receiver's, say), in the order it put them in
 * FuzzWorld.slots. */
#define FUZZ_WORLD_N_SLOTS 8
#define FUZZ_HANDLE_SLOT(n) (n)
/* Codes 16..127 are 100 + (code - 16): the well-known handles. */
#define FUZZ_HANDLE_WELL_KNOWN(h) ((guint8) ((h) -100 + 16))
/* 255 is MITOGEN_HANDLE_IS_DEAD, in reply_to. */
#define FUZZ_HANDLE_IS_DEAD 255

typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenStream *child;
  MitogenStream *parent; /* NULL in the master */
  gboolean intermediate;
  guint32 self_id;
  guint32 child_id;
  guint32 slots[FUZZ_WORLD_N_SLOTS];
  gpointer data; /* the target's */
} FuzzWorld;

typedef struct
{
  /* Where the handlers under test live: the master, an intermediate, or
   * either, as the options byte says. */
  gboolean master;
  gboolean intermediate;
  /* After the router and streams exist: install the handlers. */
  void (*setup) (FuzzWorld *world);
  /* After the last record: read what the handlers received. */
  void (*check) (FuzzWorld *world);
  /* Before the streams go: free what setup made. */
  void (*teardown) (FuzzWorld *world);
} FuzzTarget;

int fuzz_world_run (const FuzzTarget *target, const guint8 *data, gsize size);

guint32 fuzz_world_id (guint8 code);
guint32 fuzz_world_handle (const FuzzWorld *world, guint8 code);

/* Seeds: an input of @options, to which records are appended. */
GByteArray *fuzz_input_new (guint8 options);
/* Appends a record; @body (nullable, floating sunk) becomes the body as a
 * message would carry it. */
void fuzz_input_add (GByteArray *input,
                     guint8 flags,
                     guint8 dst,
                     guint8 src,
                     guint8 auth,
                     guint8 handle,
                     guint8 reply_to,
                     GVariant *body);
/* Appends a record with a raw body. */
void fuzz_input_add_raw (GByteArray *input,
                         guint8 flags,
                         guint8 dst,
                         guint8 src,
                         guint8 auth,
                         guint8 handle,
                         guint8 reply_to,
                         const void *body,
                         gsize len);
/* Adds @input to @seeds as GBytes, freeing it. */
void fuzz_seeds_take (GPtrArray *seeds, GByteArray *input);

G_END_DECLS
