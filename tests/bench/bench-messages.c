/* bench-messages: small one-way messages to a local context, consumed
 * there, beside a raw socketpair copy of as many frames of the same size
 * to a forked reader, measured in the same run.
 *
 *  - MitogenSender::send of a uint32 to a handle the child's testing.sink
 *    reads, until the sink has counted every one;
 *  - mitogen_context_call_no_reply of core.echo, until a final core.getpid
 *    queued behind them has answered (the agent runs calls in order);
 *  - the baselines: the same number of frames of the Sender's wire size,
 *    written one write() per frame, and in 32 KiB writes (what coalescing
 *    frames can at best reach), to a process that reads them all.
 *
 * Flow control stays on: senders wait for room as any producer would.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"

#define BATCH (32 * 1024)

static gint messages = 200000;

static GOptionEntry entries[] = { { "messages", 'm', 0, G_OPTION_ARG_INT,
                                    &messages, "Messages per figure", "N" },
                                  { NULL } };

/* --- Baseline: raw frames over a socketpair ----------------------------- */

/* Reads @total bytes in large reads, then answers one byte. */
static G_NORETURN void
drain (int fd, gint64 total)
{
  static guint8 buf[128 * 1024];

  while (total > 0)
    {
      gssize n = read (fd, buf, sizeof buf);
      if (n <= 0)
        _exit (1);
      total -= n;
    }
  _exit (bench_write_exactly (fd, (const guint8 *) "!", 1) ? 0 : 1);
}

/* Messages per second for @messages frames of @frame bytes, written
 * @per_write frames at a time. Must run before the broker starts: fork()
 * with other threads running could leave the child holding their locks. */
static double
raw_frames (gsize frame, gsize per_write)
{
  g_autofree guint8 *buf = g_malloc0 (frame * per_write);
  gint64 total = (gint64) frame * messages;
  int sv[2], status;
  double start;
  guint8 ack;
  pid_t pid;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    g_error ("socketpair: %s", g_strerror (errno));
  pid = fork ();
  if (pid < 0)
    g_error ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      close (sv[0]);
      drain (sv[1], total);
    }
  close (sv[1]);

  start = bench_now_us ();
  for (gint64 left = messages; left > 0; left -= (gint64) per_write)
    {
      gsize n = (gsize) MIN ((gint64) per_write, left);

      if (!bench_write_exactly (sv[0], buf, n * frame))
        g_error ("raw reader went away");
    }
  if (!bench_read_exactly (sv[0], &ack, 1))
    g_error ("raw reader did not answer");
  start = bench_now_us () - start;

  close (sv[0]);
  waitpid (pid, &status, 0);
  return messages / (start / G_USEC_PER_SEC);
}

/* --- libmitogen: a Sender to the child's testing.sink ------------------- */

typedef struct
{
  MitogenContext *ctx;
  GMutex lock;
  GCond cond;
  guint32 handle;   /* 0 until the sink has told it */
  GVariant *result; /* (ut) */
} Sink;

/* On the broker thread. */
static void
on_sink_handle (GVariant *progress, gpointer user_data)
{
  Sink *sink = user_data;

  g_mutex_lock (&sink->lock);
  sink->handle = g_variant_get_uint32 (progress);
  g_cond_signal (&sink->cond);
  g_mutex_unlock (&sink->lock);
}

static gpointer
run_sink (gpointer user_data)
{
  Sink *sink = user_data;
  g_autoptr (GError) error = NULL;

  sink->result = mitogen_context_call_with_progress (
      sink->ctx, "testing.sink", g_variant_new ("(u)", (guint32) messages),
      on_sink_handle, sink, NULL, &error);
  if (!sink->result)
    g_error ("testing.sink: %s", error->message);
  return NULL;
}

static guint32
wait_for_handle (Sink *sink)
{
  guint32 handle;

  g_mutex_lock (&sink->lock);
  while (sink->handle == 0)
    g_cond_wait (&sink->cond, &sink->lock);
  handle = sink->handle;
  g_mutex_unlock (&sink->lock);
  return handle;
}

/* One message's size on the wire: the header and its body, which is the
 * value serialised with its type. */
static gsize
frame_size (GVariant *value)
{
  g_autoptr (MitogenMessage) msg = mitogen_message_new (0, 0, value);

  return MITOGEN_MESSAGE_HEADER_SIZE + mitogen_message_get_size (msg);
}

/* Messages per second of @value, whose wire size is @frame. */
static double
sender_rate (MitogenRouter *router,
             MitogenContext *ctx,
             GVariant *value,
             gsize frame)
{
  Sink sink = { .ctx = ctx };
  g_autoptr (MitogenSender) sender = NULL;
  GThread *thread;
  guint32 got;
  guint64 bytes;
  double start;

  g_mutex_init (&sink.lock);
  g_cond_init (&sink.cond);
  thread = g_thread_new ("sink-call", run_sink, &sink);
  sender = mitogen_sender_new (router, mitogen_context_get_context_id (ctx),
                               wait_for_handle (&sink));

  start = bench_now_us ();
  for (gint i = 0; i < messages; i++)
    {
      g_autoptr (GError) error = NULL;

      if (!mitogen_sender_send (sender, value, NULL, &error))
        g_error ("send: %s", error->message);
    }
  g_thread_join (thread);
  start = bench_now_us () - start;

  g_variant_get (sink.result, "(ut)", &got, &bytes);
  if (got != (guint32) messages
      || bytes != (guint64) messages * (frame - MITOGEN_MESSAGE_HEADER_SIZE))
    g_error ("sink got %u messages, %" G_GUINT64_FORMAT " bytes", got, bytes);
  g_variant_unref (sink.result);
  g_mutex_clear (&sink.lock);
  g_cond_clear (&sink.cond);
  return messages / (start / G_USEC_PER_SEC);
}

/* --- libmitogen: call_no_reply ------------------------------------------ */

static double
no_reply_rate (MitogenContext *ctx)
{
  g_autoptr (GVariant) args
      = g_variant_ref_sink (g_variant_new ("(v)", g_variant_new_uint32 (42)));
  double start = bench_now_us ();

  for (gint i = 0; i < messages; i++)
    {
      g_autoptr (GError) error = NULL;

      if (!mitogen_context_call_no_reply (ctx, "core.echo", args, NULL, &error))
        g_error ("call_no_reply: %s", error->message);
    }
  /* Answered only once every call before it has run. */
  bench_call_getpid (ctx);
  return messages / ((bench_now_us () - start) / G_USEC_PER_SEC);
}

/* --- Main -------------------------------------------------------------- */

int
main (int argc, char **argv)
{
  g_autoptr (MitogenBroker) broker = NULL;
  g_autoptr (MitogenRouter) router = NULL;
  g_autoptr (MitogenContext) ctx = NULL;
  g_autoptr (GVariant) value = g_variant_ref_sink (g_variant_new_uint32 (42));
  double raw_one, raw_batched, sender, no_reply;
  gsize frame;

  if (!bench_parse_options (
          &argc, &argv, "- one-way message rate beside raw socketpair frames",
          entries))
    return 2;
  if (messages < 1)
    {
      g_printerr ("--messages must be at least 1\n");
      return 2;
    }
  bench_default_to_build_tree ();
  frame = frame_size (value);

  raw_one = raw_frames (frame, 1);
  raw_batched = raw_frames (frame, BATCH / frame);

  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  ctx = bench_connect (router, "local", NULL, NULL);
  bench_call_getpid (ctx);
  sender = sender_rate (router, ctx, value, frame);
  no_reply = no_reply_rate (ctx);
  bench_shutdown_and_wait (
      ctx,
      mitogen_parent_stream_get_pid (
          MITOGEN_PARENT_STREAM (mitogen_context_get_stream (ctx))),
      10000);

  printf ("one-way messages to a local context, %d of them, %zu bytes on the "
          "wire each:\n",
          messages, frame);
  printf ("  raw socketpair, one write() per frame     %9.0f msg/s\n", raw_one);
  printf ("  raw socketpair, %d KiB writes             %9.0f msg/s\n",
          BATCH / 1024, raw_batched);
  printf ("  MitogenSender to testing.sink             %9.0f msg/s   (%.2fx "
          "one-write raw;"
          " goal >= 1000000)\n",
          sender, sender / raw_one);
  printf ("  call_no_reply core.echo                   %9.0f msg/s   (%.2fx "
          "one-write raw)\n",
          no_reply, no_reply / raw_one);

  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  return 0;
}
