/* bench-core: message round trip and bulk rate through two brokers and
 * routers, beside a raw socketpair ping-pong and copy between the same two
 * processes, measured in the same run.
 *
 * The far process is mitogen-test-peer: it runs the raw phases first, then
 * becomes a context, so both figures come from the same pair of processes.
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../mitogen-test-peer.h"
#include "bench-common.h"

#define SMALL 64
#define BULK_CHUNK (128 * 1024)

static gint rounds = 20000;
static gint bulk_mib = 1024;

static GOptionEntry entries[] = {
  { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Round trips per figure", "N" },
  { "bulk-mib", 'b', 0, G_OPTION_ARG_INT, &bulk_mib, "MiB per bulk figure", "MIB" },
  { NULL }
};

static double
raw_ping_pong (int fd)
{
  guint8 buf[SMALL] = { 0 };
  gint64 start = g_get_monotonic_time ();

  for (gint i = 0; i < rounds; i++)
    {
      mitogen_write_all (fd, buf, SMALL, -1, NULL);
      if (!bench_read_exactly (fd, buf, SMALL))
        g_error ("raw read failed");
    }
  return (double) (g_get_monotonic_time () - start) / rounds;
}

static GVariant *
request (MitogenRouter *router, guint32 handle, GVariant *data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (router, 0, FALSE, 1, NULL);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (1, handle, data);
  g_autoptr(GError) error = NULL;
  GVariant *reply;

  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (router, msg);
  reply = mitogen_receiver_get_value (recv, -1, NULL, &error);
  if (error)
    g_error ("request failed: %s", error->message);
  return reply;
}

static double
mitogen_ping_pong (MitogenRouter *router)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (router, 0, TRUE, 1, NULL);
  guint8 payload[SMALL] = { 0 };
  g_autoptr(GVariant) data = g_variant_ref_sink (
    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, payload, SMALL, 1));
  g_autoptr(MitogenMessage) msg = mitogen_message_new (1, PEER_ECHO, data);
  gint64 start;

  /* One persistent receiver, as a long-lived channel would use. */
  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  start = g_get_monotonic_time ();
  for (gint i = 0; i < rounds; i++)
    {
      g_autoptr(MitogenMessage) reply = NULL;

      mitogen_router_route (router, msg);
      reply = mitogen_receiver_get (recv, -1, NULL, NULL);
      g_assert (reply != NULL);
    }
  return (double) (g_get_monotonic_time () - start) / rounds;
}

static double
mitogen_bulk (MitogenRouter *router)
{
  g_autofree guint8 *chunk = g_malloc0 (BULK_CHUNK);
  g_autoptr(GVariant) data = g_variant_ref_sink (
    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, chunk, BULK_CHUNK, 1));
  g_autoptr(MitogenMessage) msg = mitogen_message_new (1, PEER_SINK, data);
  g_autoptr(MitogenStream) stream = mitogen_router_stream_by_id (router, 1);
  g_autoptr(GVariant) total = NULL;
  gint64 n = (gint64) bulk_mib * 1024 * 1024 / BULK_CHUNK;
  gint64 start = g_get_monotonic_time ();

  for (gint64 i = 0; i < n; i++)
    {
      mitogen_router_route (router, msg);
      /* Keep the queue bounded, as a real producer with flow control
       * would: the figure is the link's rate, not memory's. */
      while (mitogen_stream_get_pending_bytes (stream) > 64 * BULK_CHUNK)
        g_usleep (50);
    }
  total = request (router, PEER_SINK, NULL);
  if (g_variant_get_uint64 (total) != (guint64) n * mitogen_message_get_size (msg))
    g_error ("sink counted %" G_GUINT64_FORMAT " bytes", g_variant_get_uint64 (total));
  return (double) n * BULK_CHUNK / (1024.0 * 1024.0) /
         ((double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *rounds_arg = NULL, *bulk_arg = NULL, *size_arg = NULL;
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  g_autoptr(MitogenStream) stream = NULL;
  double raw_rt, raw_rate, mg_rt, mg_rate;
  GPid pid;
  int fd, status;

  if (!bench_parse_options (&argc, &argv,
                            "- round trip and bulk rate beside raw socketpair baselines",
                            entries))
    return 2;

  rounds_arg = g_strdup_printf ("--raw-rounds=%d", rounds);
  size_arg = g_strdup_printf ("--raw-size=%d", SMALL);
  bulk_arg = g_strdup_printf ("--raw-bulk=%" G_GINT64_FORMAT,
                              (gint64) bulk_mib * 1024 * 1024);
  {
    const gchar *peer_argv[] = { MITOGEN_TEST_PEER, rounds_arg, size_arg,
                                 bulk_arg, NULL };
    if (!mitogen_create_child (peer_argv, NULL, &pid, &fd, NULL, &error))
      g_error ("%s", error->message);
  }

  raw_rt = raw_ping_pong (fd);
  raw_rate = bench_raw_bulk (fd, (gint64) bulk_mib * 1024 * 1024, BULK_CHUNK);

  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  stream = mitogen_stream_new (router, 1, fd, fd);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (stream), "peer");
  mitogen_router_register (router, stream);

  mg_rt = mitogen_ping_pong (router);
  mg_rate = mitogen_bulk (router);

  printf ("round trip, %d-byte message, %d rounds:\n", SMALL, rounds);
  printf ("  raw socketpair ping-pong   %8.2f us\n", raw_rt);
  printf ("  libmitogen broker+router   %8.2f us   (%.2fx raw; goal <= 2x)\n",
          mg_rt, mg_rt / raw_rt);
  printf ("bulk, %d KiB messages, %d MiB:\n", BULK_CHUNK / 1024, bulk_mib);
  printf ("  raw socketpair copy        %8.0f MiB/s\n", raw_rate);
  printf ("  libmitogen broker+router   %8.0f MiB/s   (%.0f%% of raw; goal >= 70%%)\n",
          mg_rate, 100.0 * mg_rate / raw_rate);

  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  waitpid (pid, &status, 0);
  return 0;
}
