/* mitogen-test-peer: the far end of the tests and benchmarks that cross a
 * process boundary.
 *
 * Started by mitogen_create_child() with its parent's socket on stdin and
 * stdout. It first runs the raw phases asked for on the command line
 * (plain ping-pong and bulk copy, the benchmarks' baselines), then becomes
 * a context: a broker and router of its own, with the handles of
 * mitogen-test-peer.h, until its parent goes away.
 *
 * With --flood=MODULE it is instead a hostile child: it writes requests to
 * its parent (GET_MODULE for MODULE, and CALL_FUNCTION, each with a
 * reply_to) as fast as it can, never reads, and exits when its parent
 * goes away.
 */
#include <mitogen/mitogen.h>
#include <stdlib.h>
#include <unistd.h>

#include "mitogen-test-peer.h"

static MitogenRouter *router;
static MitogenStream *parent;
static guint64 sink_bytes;

static gint64 raw_rounds;
static gint64 raw_size;
static gint64 raw_bulk;
static gint context_id = 1;
static gchar *flood_module;

static GOptionEntry entries[] = {
  { "id", 0, 0, G_OPTION_ARG_INT, &context_id, "This context's id", "ID" },
  { "raw-rounds", 0, 0, G_OPTION_ARG_INT64, &raw_rounds,
    "Echo this many raw messages first", "N" },
  { "raw-size", 0, 0, G_OPTION_ARG_INT64, &raw_size, "Size of each raw message",
    "BYTES" },
  { "raw-bulk", 0, 0, G_OPTION_ARG_INT64, &raw_bulk,
    "Then read this many raw bytes and answer one byte", "BYTES" },
  { "flood", 0, 0, G_OPTION_ARG_STRING, &flood_module,
    "Send GET_MODULE for MODULE and CALL_FUNCTION for ever, never reading",
    "MODULE" },
  { NULL }
};

static void
read_exactly (int fd, guint8 *buf, gsize len)
{
  gsize done = 0;

  while (done < len)
    {
      gssize n = read (fd, buf + done, len - done);
      if (n <= 0)
        exit (1);
      done += (gsize) n;
    }
}

/* A plain blocking write, as the baselines must be: mitogen_write_all()
 * polls before each write, a cost no raw copy pays. */
static void
write_exactly (int fd, const guint8 *buf, gsize len)
{
  gsize done = 0;

  while (done < len)
    {
      gssize n = write (fd, buf + done, len - done);
      if (n <= 0)
        exit (1);
      done += (gsize) n;
    }
}

static void
run_raw_phases (void)
{
  g_autofree guint8 *buf = g_malloc (MAX (raw_size, 1));
  gint64 left = raw_bulk;

  for (gint64 i = 0; i < raw_rounds; i++)
    {
      read_exactly (0, buf, (gsize) raw_size);
      write_exactly (1, buf, (gsize) raw_size);
    }

  if (raw_bulk > 0)
    {
      /* Read as the library's stream reads a bulk body: a chunk at a
       * time into one buffer, so that the raw copy is the upper bound the
       * benchmarks compare the library against. */
      g_autofree guint8 *chunk = g_malloc (MITOGEN_CHUNK_SIZE);
      while (left > 0)
        {
          gssize n = read (0, chunk, MIN ((gint64) MITOGEN_CHUNK_SIZE, left));
          if (n <= 0)
            exit (1);
          left -= n;
        }
      write_exactly (1, (const guint8 *) "!", 1);
    }
}

static void
write_frame (MitogenMessage *msg)
{
  guint8 header[MITOGEN_MESSAGE_HEADER_SIZE];
  gsize len;
  const guint8 *body = g_bytes_get_data (mitogen_message_get_bytes (msg), &len);

  mitogen_message_set_src_id (msg, (guint32) context_id);
  mitogen_message_set_auth_id (msg, (guint32) context_id);
  mitogen_message_set_reply_to (msg, 1000);
  mitogen_message_encode_header (msg, header);
  if (!mitogen_write_all (1, header, sizeof header, -1, NULL)
      || !mitogen_write_all (1, body, len, -1, NULL))
    exit (0);
}

/* Never returns: a write fails once the parent is gone. */
static void
flood (void)
{
  g_autoptr(MitogenMessage) get_module = mitogen_message_new (
      0, MITOGEN_HANDLE_GET_MODULE, g_variant_new ("(s)", flood_module));
  g_autoptr(MitogenMessage) call = mitogen_message_new (
      0, MITOGEN_HANDLE_CALL_FUNCTION,
      g_variant_new ("(sssvu)", "", "core", "getpid", g_variant_new ("()"), 0));

  for (;;)
    {
      write_frame (get_module);
      write_frame (call);
    }
}

static void
reply (MitogenMessage *msg, GVariant *data)
{
  g_autoptr(MitogenMessage) r =
    mitogen_message_new (mitogen_message_get_src_id (msg),
                         mitogen_message_get_reply_to (msg), data);
  mitogen_router_route (router, r);
}

static void
on_echo (MitogenMessage *msg, gpointer user_data)
{
  g_autoptr(MitogenMessage) r =
    mitogen_message_new_from_bytes (mitogen_message_get_src_id (msg),
                                    mitogen_message_get_reply_to (msg),
                                    mitogen_message_get_bytes (msg));
  mitogen_router_route (router, r);
}

static void
on_sink (MitogenMessage *msg, gpointer user_data)
{
  if (mitogen_message_get_size (msg) > 0)
    {
      sink_bytes += mitogen_message_get_size (msg);
      return;
    }
  reply (msg, g_variant_new_uint64 (sink_bytes));
  sink_bytes = 0;
}

static GVariant *
data_of_type (MitogenMessage *msg, const gchar *type)
{
  GVariant *v = mitogen_message_get_data (msg, NULL);

  if (!v || !g_variant_is_of_type (v, G_VARIANT_TYPE (type)))
    {
      g_printerr ("peer: bad arguments for handle %u\n",
                  mitogen_message_get_handle (msg));
      exit (2);
    }
  return v;
}

static void
on_exit_now (MitogenMessage *msg, gpointer user_data)
{
  g_autoptr(GVariant) v = data_of_type (msg, "u");
  _exit ((int) g_variant_get_uint32 (v));
}

static void
on_spoof (MitogenMessage *msg, gpointer user_data)
{
  g_autoptr(GVariant) v = data_of_type (msg, "u");
  guint32 handle = g_variant_get_uint32 (v);
  g_autoptr(MitogenMessage) forged =
    mitogen_message_new (0, handle, g_variant_new_string ("forged"));
  g_autoptr(MitogenMessage) honest =
    mitogen_message_new (0, handle, g_variant_new_string ("honest"));

  /* Written straight to the stream, so no router stamps it. */
  mitogen_message_set_src_id (forged, 77);
  mitogen_message_set_auth_id (forged, 0);
  mitogen_stream_send (parent, forged);
  mitogen_router_route (router, honest);
}

static void
on_flood (MitogenMessage *msg, gpointer user_data)
{
  g_autoptr(GVariant) v = data_of_type (msg, "(uubu)");
  g_autoptr(MitogenMessage) done = NULL;
  guint32 count, handle, then;
  gboolean forged;

  g_variant_get (v, "(uubu)", &count, &handle, &forged, &then);
  for (guint32 i = 0; i < count; i++)
    {
      g_autoptr(MitogenMessage) m =
        mitogen_message_new (0, handle, g_variant_new_uint32 (i));

      if (forged)
        {
          /* Written straight to the stream, so no router stamps it. */
          mitogen_message_set_src_id (m, 77);
          mitogen_message_set_auth_id (m, 77);
          mitogen_stream_send (parent, m);
        }
      else
        mitogen_router_route (router, m);
    }
  done = mitogen_message_new (0, then, g_variant_new_string ("done"));
  mitogen_router_route (router, done);
}

static void
on_never_reply (MitogenMessage *msg, gpointer user_data)
{
}

typedef struct {
  guint32 dst_id;
  guint32 reply_to;
} Forward;

static void
on_send_to_reply (MitogenMessage *msg, gpointer user_data)
{
  Forward *fwd = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mitogen_message_get_data (msg, &error);
  g_autofree gchar *text = v ? g_variant_print (v, FALSE)
                             : g_strdup_printf ("error: %s", error->message);
  g_autoptr(MitogenMessage) r =
    mitogen_message_new (fwd->dst_id, fwd->reply_to, g_variant_new_string (text));

  mitogen_router_route (router, r);
}

static void
on_send_to (MitogenMessage *msg, gpointer user_data)
{
  g_autoptr(GVariant) v = data_of_type (msg, "(uu)");
  g_autoptr(MitogenMessage) out = NULL;
  Forward *fwd = g_new (Forward, 1);
  guint32 dst_id, handle, reply_handle;

  g_variant_get (v, "(uu)", &dst_id, &handle);
  fwd->dst_id = mitogen_message_get_src_id (msg);
  fwd->reply_to = mitogen_message_get_reply_to (msg);
  reply_handle = mitogen_router_add_handler (router, 0, MITOGEN_HANDLER_NONE,
                                             MITOGEN_CONTEXT_ID_NONE, NULL,
                                             on_send_to_reply, fwd, g_free);
  out = mitogen_message_new (dst_id, handle, g_variant_new_string ("hello"));
  mitogen_message_set_reply_to (out, reply_handle);
  mitogen_router_route (router, out);
}

static void
write_raw (const guint8 *bytes, gsize len)
{
  MitogenSide *side =
    mitogen_basic_stream_get_transmit_side (MITOGEN_BASIC_STREAM (parent));
  mitogen_write_all (mitogen_side_get_fd (side), bytes, len, -1, NULL);
}

static void
on_garbage (MitogenMessage *msg, gpointer user_data)
{
  static const guint8 junk[64] = "this is not a mitogen frame at all......";
  write_raw (junk, sizeof junk);
}

static void
on_oversize (MitogenMessage *msg, gpointer user_data)
{
  g_autoptr(MitogenMessage) big = mitogen_message_new (0, 1000, NULL);
  guint8 header[MITOGEN_MESSAGE_HEADER_SIZE];

  mitogen_message_set_src_id (big, (guint32) context_id);
  mitogen_message_set_auth_id (big, (guint32) context_id);
  mitogen_message_encode_header (big, header);
  header[22] = 0x40; /* length 0x40000000: 1 GiB */
  write_raw (header, sizeof header);
}

static void
on_print (MitogenMessage *msg, gpointer user_data)
{
  g_autoptr(GVariant) v = data_of_type (msg, "s");
  g_printerr ("%s\n", g_variant_get_string (v, NULL));
}

static void
on_parent_disconnect (MitogenStream *stream, MitogenBroker *broker)
{
  mitogen_broker_shutdown (broker);
}

static void
unless_dead (MitogenMessage *msg, gpointer user_data)
{
  MitogenMessageFunc func = (MitogenMessageFunc) user_data;

  /* Every handler gets a dead message when the broker shuts down. */
  if (!mitogen_message_is_dead (msg))
    func (msg, NULL);
}

static void
add (guint32 handle, MitogenMessageFunc func)
{
  mitogen_router_add_handler (router, handle, MITOGEN_HANDLER_PERSIST,
                              MITOGEN_CONTEXT_ID_NONE, NULL, unless_dead,
                              (gpointer) func, NULL);
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) options = g_option_context_new ("- test peer");
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenBroker) broker = NULL;
  guint32 parent_ids[] = { 0 };

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("peer: %s\n", error->message);
      return 2;
    }

  if (flood_module)
    flood ();
  run_raw_phases ();

  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  mitogen_router_set_context_id (router, (guint32) context_id);
  mitogen_router_set_parent_ids (router, parent_ids, 1);

  add (PEER_ECHO, on_echo);
  add (PEER_SINK, on_sink);
  add (PEER_EXIT, on_exit_now);
  add (PEER_SPOOF, on_spoof);
  add (PEER_NEVER_REPLY, on_never_reply);
  add (PEER_SEND_TO, on_send_to);
  add (PEER_GARBAGE, on_garbage);
  add (PEER_OVERSIZE, on_oversize);
  add (PEER_PRINT, on_print);
  add (PEER_FLOOD, on_flood);

  parent = mitogen_stream_new (router, 0, 0, 1);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (parent), "parent");
  mitogen_stream_set_is_privileged (parent, TRUE);
  g_signal_connect (parent, "disconnect", G_CALLBACK (on_parent_disconnect),
                    broker);
  mitogen_router_register (router, parent);

  mitogen_broker_join (broker);
  g_clear_object (&parent);
  g_clear_object (&router);
  return 0;
}
