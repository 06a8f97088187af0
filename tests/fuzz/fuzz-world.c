/* fuzz-world.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "fuzz-world.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <mitogen/mitogen-router-private.h>

/* Bytes before each record's body. */
#define RECORD_HEADER 8
/* More records than this in one input are ignored: each input stays fast. */
#define MAX_RECORDS 64

typedef struct
{
  int silent_fd; /* a pipe's read end: never readable */
  int null_fd;   /* /dev/null: takes every write */
} Process;

static int
open_or_die (const gchar *what, int fd)
{
  if (fd < 0)
    {
      g_printerr ("fuzz: cannot open %s\n", what);
      abort ();
    }
  return fd;
}

static const Process *
get_process (void)
{
  static Process process;
  static gsize done;

  if (g_once_init_enter (&done))
    {
      int fds[2];

      open_or_die ("a pipe", pipe2 (fds, O_CLOEXEC));
      /* fds[1] stays open, so that fds[0] never reads end of file. */
      process.silent_fd = fds[0];
      process.null_fd
          = open_or_die ("/dev/null", open ("/dev/null", O_WRONLY | O_CLOEXEC));
      g_once_init_leave (&done, 1);
    }
  return &process;
}

guint32
fuzz_world_id (guint8 code)
{
  static const guint32 edges[] = {
    MITOGEN_CONTEXT_ID_NONE,
    MITOGEN_CONTEXT_ID_NONE - 1,
    G_MAXINT32,
    (guint32) G_MAXINT32 + 1,
    1u << 24,
    65536,
  };

  if (code >= 256 - G_N_ELEMENTS (edges))
    return edges[code - (256 - G_N_ELEMENTS (edges))];
  return code;
}

guint32
fuzz_world_handle (const FuzzWorld *world, guint8 code)
{
  if (code < FUZZ_WORLD_N_SLOTS)
    return world->slots[code];
  if (code < 16)
    return code;
  if (code < 128)
    return 100u + (code - 16u);
  if (code < FUZZ_HANDLE_IS_DEAD)
    return MITOGEN_HANDLE_FIRST_DYNAMIC + (code - 128u);
  return MITOGEN_HANDLE_IS_DEAD;
}

static MitogenStream *
new_stream (FuzzWorld *world,
            guint32 remote_id,
            gboolean privileged,
            const gchar *name)
{
  const Process *process = get_process ();
  MitogenStream *stream = mitogen_stream_new (
      world->router, remote_id, fcntl (process->silent_fd, F_DUPFD_CLOEXEC, 3),
      fcntl (process->null_fd, F_DUPFD_CLOEXEC, 3));

  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (stream), name);
  mitogen_stream_set_is_privileged (stream, privileged);
  mitogen_router_register (world->router, stream);
  return stream;
}

static void
world_init (FuzzWorld *world, gboolean intermediate)
{
  static const guint32 master_only[] = { FUZZ_MASTER_ID };

  world->broker = fuzz_get_broker ();
  world->router = mitogen_router_new (world->broker);
  world->intermediate = intermediate;
  if (intermediate)
    {
      world->self_id = FUZZ_INTERMEDIATE_ID;
      world->child_id = FUZZ_INTERMEDIATE_CHILD_ID;
      mitogen_router_set_context_id (world->router, world->self_id);
      mitogen_router_set_parent_ids (world->router, master_only, 1);
      world->parent = new_stream (world, FUZZ_MASTER_ID, TRUE, "parent");
    }
  else
    {
      world->self_id = FUZZ_MASTER_ID;
      world->child_id = FUZZ_MASTER_CHILD_ID;
    }
  world->child = new_stream (world, world->child_id, FALSE, "child");
}

static void
world_clear (FuzzWorld *world)
{
  mitogen_stream_close (world->child, "the input ended");
  g_clear_object (&world->child);
  if (world->parent)
    mitogen_stream_close (world->parent, "the input ended");
  g_clear_object (&world->parent);
  g_clear_object (&world->router);
}

static guint32
get_be16 (const guint8 *p)
{
  return (guint32) p[0] << 8 | p[1];
}

static gboolean
is_normal_form (GBytes *body)
{
  g_autoptr (GVariant) value = NULL;

  if (g_bytes_get_size (body) == 0)
    return TRUE;
  value = g_variant_ref_sink (
      g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT, body, FALSE));
  return g_variant_is_normal_form (value);
}

static void
route_records (FuzzWorld *world, const guint8 *data, gsize size)
{
  for (guint n = 0; n < MAX_RECORDS && size >= RECORD_HEADER; n++)
    {
      const guint8 *h = data;
      gsize len = MIN (get_be16 (h + 6), size - RECORD_HEADER);
      g_autoptr (GBytes) body = g_bytes_new (h + RECORD_HEADER, len);
      g_autoptr (MitogenMessage) msg = NULL;
      MitogenStream *in = (h[0] & FUZZ_RECORD_FROM_PARENT) && world->parent
                              ? world->parent
                              : world->child;

      data += RECORD_HEADER + len;
      size -= RECORD_HEADER + len;
      /* The parent is trusted to send bodies in normal form, and spared
       * the check (mitogen_message_get_data_from_parent()); it gets no
       * others here, so that only a child's input is fuzzed as such. */
      if (in == world->parent && !is_normal_form (body))
        continue;
      msg = mitogen_message_new_from_bytes (
          fuzz_world_id (h[1]), fuzz_world_handle (world, h[4]), body);
      mitogen_message_set_src_id (msg, fuzz_world_id (h[2]));
      mitogen_message_set_auth_id (msg, fuzz_world_id (h[3]));
      mitogen_message_set_reply_to (msg, fuzz_world_handle (world, h[5]));
      /* As a stream does with each frame it decodes. */
      mitogen_router_route_from_stream (world->router, msg, in);
    }
}

typedef struct
{
  const FuzzTarget *target;
  const guint8 *data;
  gsize size;
} Input;

static gboolean
wants_intermediate (const FuzzTarget *target, guint8 options)
{
  if (!target->master)
    return TRUE;
  return target->intermediate && (options & FUZZ_WORLD_INTERMEDIATE);
}

/* On the broker thread, where streams hand messages to the router. */
static void
run_input (gpointer user_data)
{
  Input *input = user_data;
  FuzzWorld world = { 0 };

  world_init (&world, wants_intermediate (input->target, input->data[0]));
  if (input->target->setup)
    input->target->setup (&world);
  route_records (&world, input->data + 1, input->size - 1);
  if (input->target->check)
    input->target->check (&world);
  if (input->target->teardown)
    input->target->teardown (&world);
  world_clear (&world);
}

int
fuzz_world_run (const FuzzTarget *target, const guint8 *data, gsize size)
{
  Input input = { target, data, size };

  if (size >= 1)
    fuzz_run_on_broker (run_input, &input);
  return 0;
}

GByteArray *
fuzz_input_new (guint8 options)
{
  GByteArray *input = g_byte_array_new ();

  g_byte_array_append (input, &options, 1);
  return input;
}

void
fuzz_input_add_raw (GByteArray *input,
                    guint8 flags,
                    guint8 dst,
                    guint8 src,
                    guint8 auth,
                    guint8 handle,
                    guint8 reply_to,
                    const void *body,
                    gsize len)
{
  guint8 header[RECORD_HEADER] = {
    flags, dst, src, auth, handle, reply_to, (guint8) (len >> 8), (guint8) len,
  };

  g_assert (len <= G_MAXUINT16);
  g_byte_array_append (input, header, sizeof header);
  g_byte_array_append (input, body, (guint) len);
}

void
fuzz_input_add (GByteArray *input,
                guint8 flags,
                guint8 dst,
                guint8 src,
                guint8 auth,
                guint8 handle,
                guint8 reply_to,
                GVariant *body)
{
  g_autoptr (MitogenMessage) msg = mitogen_message_new (0, 0, body);
  GBytes *bytes = mitogen_message_get_bytes (msg);

  fuzz_input_add_raw (input, flags, dst, src, auth, handle, reply_to,
                      g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

void
fuzz_seeds_take (GPtrArray *seeds, GByteArray *input)
{
  g_ptr_array_add (seeds, g_byte_array_free_to_bytes (input));
}
