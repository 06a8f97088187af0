/* bench-flow: what flow control holds a master to, and what it costs.
 *
 *  - A hostile child (mitogen-test-peer --flood) sends GET_MODULE for a
 *    real module and CALL_FUNCTION requests as fast as it can and never
 *    reads: the master's RSS growth and queue for it, beside the window
 *    and beside the bytes the child got in.
 *  - 256 x 1 MiB sent to a child that does not read (SIGSTOPped): what
 *    is queued while the sender waits, beside the 256 MiB it would be
 *    without flow control.
 *  - Bulk throughput through blocking sends that wait for room, beside a
 *    raw socketpair copy between the same two processes in the same run:
 *    one message sent whenever the stream is writable, and a Sender,
 *    which also copies each value into a new message.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../mitogen-test-peer.h"
#include "bench-common.h"

#define BULK_CHUNK (128 * 1024)
#define STALLED_MESSAGES 256
#define STALLED_SIZE (1024 * 1024)

static gint bulk_mib = 1024;

static GOptionEntry entries[] = { { "bulk-mib", 'b', 0, G_OPTION_ARG_INT,
                                    &bulk_mib, "MiB per bulk figure", "MIB" },
                                  { NULL } };

/* This process's resident set, in KiB. */
static glong
vm_rss (void)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL)
      || !(line = strstr (status, "\nVmRSS:")))
    g_error ("no VmRSS in /proc/self/status");
  return (glong) g_ascii_strtoll (line + strlen ("\nVmRSS:"), NULL, 10);
}

static MitogenStream *
start_peer (MitogenRouter *router, const gchar *const *args, GPid *pid)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  MitogenStream *stream;
  int fd;

  g_ptr_array_add (argv, (gpointer) MITOGEN_TEST_PEER);
  for (; args && *args; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  if (!mitogen_create_child ((const gchar **) argv->pdata, NULL, pid, &fd, NULL,
                             &error))
    g_error ("%s", error->message);
  if (!router)
    return GINT_TO_POINTER (fd);
  stream = mitogen_stream_new (router, 1, fd, fd);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (stream), "peer");
  mitogen_router_register (router, stream);
  return stream;
}

static void
stop_master (MitogenBroker *broker, GPid pid)
{
  int status;

  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  waitpid (pid, &status, 0);
}

/* Until the child has been paused for a while: nothing more comes in. */
static void
wait_flood_stopped (MitogenStream *stream)
{
  guint64 last = 0;
  gint still = 0;

  while (still < 20)
    {
      guint64 now = mitogen_stream_get_bytes_received (stream);

      still = (now == last && !mitogen_stream_is_writable (stream)) ? still + 1
                                                                    : 0;
      last = now;
      g_usleep (25000);
    }
}

static void
bench_flood (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(MitogenRouter) router = mitogen_router_new (broker);
  const gchar *args[] = { "--flood=core", NULL };
  g_autoptr(MitogenStream) stream = NULL;
  glong before;
  GPid pid;

  mitogen_module_responder_get_for_router (router);
  before = vm_rss ();
  stream = start_peer (router, args, &pid);
  wait_flood_stopped (stream);

  printf ("a child flooding GET_MODULE core + CALL_FUNCTION, never reading:\n");
  printf ("  window                     %8zu KiB\n",
          mitogen_stream_get_transmit_window (stream) / 1024);
  printf ("  bytes the child got in     %8.1f KiB\n",
          (double) mitogen_stream_get_bytes_received (stream) / 1024.0);
  printf ("  queued for it              %8.1f KiB\n",
          (double) mitogen_stream_get_pending_bytes (stream) / 1024.0);
  printf ("  master RSS growth          %8ld KiB   (goal <= 2x window; "
          "before flow control: 206 KB in, 222 MB queued)\n",
          vm_rss () - before);

  /* The child never reads: it goes when its socket does. */
  kill (pid, SIGKILL);
  stop_master (broker, pid);
}

typedef struct {
  MitogenSender *sender;
  gint done; /* atomic */
} Stalled;

static gpointer
send_stalled (gpointer data)
{
  Stalled *s = data;
  g_autofree guint8 *zeros = g_malloc0 (STALLED_SIZE);
  g_autoptr(GError) error = NULL;

  for (gint i = 0; i < STALLED_MESSAGES; i++)
    if (!mitogen_sender_send (s->sender,
                              g_variant_new_fixed_array (
                                  G_VARIANT_TYPE_BYTE, zeros, STALLED_SIZE, 1),
                              NULL, &error))
      g_error ("send failed: %s", error->message);
  g_atomic_int_set (&s->done, TRUE);
  return NULL;
}

static void
bench_stalled (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(MitogenRouter) router = mitogen_router_new (broker);
  g_autoptr(MitogenStream) stream = NULL;
  g_autoptr(MitogenSender) sender = mitogen_sender_new (router, 1, PEER_SINK);
  Stalled s = { sender, FALSE };
  gsize most = 0;
  glong before, grown;
  GThread *thread;
  GPid pid;
  int status;

  stream = start_peer (router, NULL, &pid);
  kill (pid, SIGSTOP);
  waitpid (pid, &status, WUNTRACED);
  before = vm_rss ();
  thread = g_thread_new ("stalled-sender", send_stalled, &s);
  /* The sender waits once the window is full; the queue holds still. */
  while (mitogen_stream_is_writable (stream)
         || mitogen_stream_get_pending_bytes (stream) != most)
    {
      most = mitogen_stream_get_pending_bytes (stream);
      g_usleep (50000);
    }
  grown = vm_rss () - before;
  g_assert (!g_atomic_int_get (&s.done));
  kill (pid, SIGCONT);
  g_thread_join (thread);

  printf ("%d x %d KiB sent to a child that does not read (SIGSTOP):\n",
          STALLED_MESSAGES, STALLED_SIZE / 1024);
  printf ("  queued while the sender waits %5.1f MiB   (window %zu KiB; "
          "before flow control: %d MiB)\n",
          (double) most / (1024 * 1024),
          mitogen_stream_get_transmit_window (stream) / 1024,
          STALLED_MESSAGES * STALLED_SIZE / (1024 * 1024));
  printf ("  master RSS growth             %5ld KiB\n", grown);
  stop_master (broker, pid);
}

static guint64
sink_total (MitogenRouter *router)
{
  g_autoptr(MitogenReceiver) recv
      = mitogen_receiver_new (router, 0, FALSE, 1, NULL);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (1, PEER_SINK, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) total = NULL;

  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (router, msg);
  total = mitogen_receiver_get_value (recv, -1, NULL, &error);
  if (!total)
    g_error ("sink total: %s", error->message);
  return g_variant_get_uint64 (total);
}

/* Blocking sends through a Sender, which wait for room: flow control on. */
static double
sender_bulk (MitogenRouter *router)
{
  g_autofree guint8 *chunk = g_malloc0 (BULK_CHUNK);
  g_autoptr(GVariant) data = g_variant_ref_sink (
      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, chunk, BULK_CHUNK, 1));
  g_autoptr(MitogenSender) sender = mitogen_sender_new (router, 1, PEER_SINK);
  g_autoptr(MitogenMessage) one = mitogen_message_new (1, PEER_SINK, data);
  g_autoptr(GError) error = NULL;
  gint64 n = (gint64) bulk_mib * 1024 * 1024 / BULK_CHUNK;
  gint64 start = g_get_monotonic_time ();

  for (gint64 i = 0; i < n; i++)
    if (!mitogen_sender_send (sender, data, NULL, &error))
      g_error ("send failed: %s", error->message);
  if (sink_total (router) != (guint64) n * mitogen_message_get_size (one))
    g_error ("the sink lost bytes");
  return (double) n * BULK_CHUNK / (1024.0 * 1024.0)
         / ((double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
}

/* One message sent again and again, each time the stream has room: flow
 * control on, without the copy of a value into a new message. */
static double
stream_bulk (MitogenRouter *router, MitogenStream *stream)
{
  g_autofree guint8 *chunk = g_malloc0 (BULK_CHUNK);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (
      1, PEER_SINK,
      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, chunk, BULK_CHUNK, 1));
  g_autoptr(GError) error = NULL;
  gint64 n = (gint64) bulk_mib * 1024 * 1024 / BULK_CHUNK;
  gint64 start = g_get_monotonic_time ();

  for (gint64 i = 0; i < n; i++)
    {
      if (!mitogen_stream_wait_writable (stream, NULL, &error))
        g_error ("wait failed: %s", error->message);
      mitogen_router_route (router, msg);
    }
  if (sink_total (router) != (guint64) n * mitogen_message_get_size (msg))
    g_error ("the sink lost bytes");
  return (double) n * BULK_CHUNK / (1024.0 * 1024.0)
         / ((double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
}

static void
bench_bulk (void)
{
  g_autofree gchar *bulk_arg = g_strdup_printf (
      "--raw-bulk=%" G_GINT64_FORMAT, (gint64) bulk_mib * 1024 * 1024);
  const gchar *args[] = { bulk_arg, NULL };
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  g_autoptr(MitogenStream) stream = NULL;
  double raw_rate, flow_rate, sender_rate;
  GPid pid;
  int fd = GPOINTER_TO_INT (start_peer (NULL, args, &pid));

  raw_rate = bench_raw_bulk (fd, (gint64) bulk_mib * 1024 * 1024, BULK_CHUNK);
  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  stream = mitogen_stream_new (router, 1, fd, fd);
  mitogen_router_register (router, stream);
  flow_rate = stream_bulk (router, stream);
  sender_rate = sender_bulk (router);

  printf ("bulk, %d KiB messages, %d MiB:\n", BULK_CHUNK / 1024, bulk_mib);
  printf ("  raw socketpair copy        %8.0f MiB/s\n", raw_rate);
  printf ("  wait_writable + route      %8.0f MiB/s   (%.0f%% of raw; goal >= "
          "70%%)\n",
          flow_rate, 100.0 * flow_rate / raw_rate);
  printf ("  Sender (copies each value) %8.0f MiB/s   (%.0f%% of raw)\n",
          sender_rate, 100.0 * sender_rate / raw_rate);
  stop_master (broker, pid);
}

int
main (int argc, char **argv)
{
  if (!bench_parse_options (&argc, &argv,
                            "- flood memory and bulk rate with flow control, "
                            "beside the window and a raw socketpair",
                            entries))
    return 2;
  bench_default_to_build_tree ();

  bench_flood ();
  bench_stalled ();
  bench_bulk ();
  return 0;
}
