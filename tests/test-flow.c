/* Flow control across real processes: a hostile mitogen-test-peer that
 * floods its master with requests and never reads, and ordinary peers
 * (or local contexts) stopped with SIGSTOP, so that they read nothing
 * until SIGCONT.
 */
#include <mitogen/mitogen.h>
#include <signal.h>
#include <sys/wait.h>

#include "mitogen-test-peer.h"
#include "mitogen-test-util.h"

/* Small, so that tests fill it fast; the bound is the same at any size. */
#define WINDOW (256 * 1024)
#define CHUNK (64 * 1024)

typedef struct {
  GPid pid;
  MitogenStream *stream;
} Peer;

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
  Peer flooder; /* id 1 */
  Peer echo;    /* id 2 */
} Fixture;

static void
start_peer (Fixture *f, Peer *peer, guint32 id, const gchar *flood_module)
{
  g_autofree gchar *id_arg = g_strdup_printf ("--id=%u", id);
  g_autofree gchar *flood_arg
      = flood_module ? g_strdup_printf ("--flood=%s", flood_module) : NULL;
  g_autofree gchar *name = g_strdup_printf ("peer%u", id);
  const gchar *argv[] = { MITOGEN_TEST_PEER, id_arg, flood_arg, NULL };
  g_autoptr(GError) error = NULL;
  int fd;

  g_assert_true (
      mitogen_create_child (argv, NULL, &peer->pid, &fd, NULL, &error));
  g_assert_no_error (error);
  peer->stream = mitogen_stream_new (f->router, id, fd, fd);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (peer->stream), name);
  mitogen_stream_set_transmit_window (peer->stream, WINDOW);
  mitogen_router_register (f->router, peer->stream);
}

static void
setup (Fixture *f, gconstpointer data)
{
  mitogen_test_master_new (&f->broker, &f->router);
}

static void
stop_peer (Peer *peer)
{
  int status;

  if (!peer->stream)
    return;
  kill (peer->pid, SIGCONT);
  g_assert_cmpint (waitpid (peer->pid, &status, 0), ==, peer->pid);
  g_clear_object (&peer->stream);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  mitogen_broker_shutdown (f->broker);
  mitogen_broker_join (f->broker);
  /* Peers exit once their parent stream closes. */
  stop_peer (&f->flooder);
  stop_peer (&f->echo);
  mitogen_test_master_clear (&f->broker, &f->router);
}

static void
wait_not_writable (MitogenStream *stream)
{
  gint64 deadline = g_get_monotonic_time () + MITOGEN_TEST_WAIT;

  while (mitogen_stream_is_writable (stream))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

static void
wait_disconnected (MitogenStream *stream)
{
  gint64 deadline = g_get_monotonic_time () + MITOGEN_TEST_WAIT;

  while (!mitogen_basic_stream_is_disconnected (MITOGEN_BASIC_STREAM (stream)))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

static void
echo_once (MitogenRouter *router)
{
  g_autoptr(MitogenReceiver) recv
      = mitogen_receiver_new (router, 0, FALSE, 2, NULL);
  g_autoptr(MitogenMessage) msg
      = mitogen_message_new (2, PEER_ECHO, g_variant_new_string ("ping"));
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (router, msg);
  reply = mitogen_receiver_get_value (recv, MITOGEN_TEST_WAIT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, "ping");
}

/* A child that asks for a module (73 KB answered per 30-byte request) and
 * calls functions for ever, and never reads: the master stops reading it
 * once its answers fill the window, so its queue stays within about twice
 * the window, and it goes on serving another context meanwhile. */
static void
test_flood_bounded (Fixture *f, gconstpointer data)
{
  gsize bound = 2 * WINDOW;
  gsize most = 0;
  guint64 received;

  mitogen_module_responder_get_for_router (f->router);
  start_peer (f, &f->echo, 2, NULL);
  start_peer (f, &f->flooder, 1, "core");
  wait_not_writable (f->flooder.stream);

  for (guint i = 0; i < 200; i++)
    {
      echo_once (f->router);
      most = MAX (most, mitogen_stream_get_pending_bytes (f->flooder.stream));
      g_assert_cmpuint (most, <=, bound);
    }
  /* Nothing more was read from the flooder than what the window let in. */
  received = mitogen_stream_get_bytes_received (f->flooder.stream);
  echo_once (f->router);
  g_assert_cmpuint (mitogen_stream_get_bytes_received (f->flooder.stream), ==,
                    received);
  g_test_message ("flooder sent %" G_GUINT64_FORMAT
                  " bytes; at most %" G_GSIZE_FORMAT
                  " queued for it (window %d)",
                  received, most, WINDOW);

  /* A paused stream still notices its peer die. */
  kill (f->flooder.pid, SIGKILL);
  wait_disconnected (f->flooder.stream);
}

static GVariant *
chunk_value (void)
{
  g_autofree guint8 *zeros = g_malloc0 (CHUNK);
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, zeros, CHUNK, 1);
}

/* What the sink counts for each chunk sent. */
static guint64
chunk_size (void)
{
  g_autoptr(MitogenMessage) msg
      = mitogen_message_new (0, PEER_SINK, chunk_value ());
  return mitogen_message_get_size (msg);
}

/* Fills @stream, whose reader is stopped, with sends that never wait. */
static guint64
fill (MitogenSender *sender, MitogenStream *stream)
{
  g_autoptr(GError) error = NULL;
  guint64 sent = 0;

  for (guint i = 0; mitogen_stream_is_writable (stream); i++)
    {
      g_assert_cmpuint (i, <, 10000);
      g_assert_true (
          mitogen_sender_send (sender, chunk_value (), NULL, &error));
      g_assert_no_error (error);
      sent += chunk_size ();
    }
  g_assert_cmpuint (mitogen_stream_get_pending_bytes (stream), >=, WINDOW);
  return sent;
}

static guint64
sink_total (MitogenRouter *router)
{
  g_autoptr(MitogenReceiver) recv
      = mitogen_receiver_new (router, 0, FALSE, 2, NULL);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (2, PEER_SINK, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) total = NULL;

  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (router, msg);
  total = mitogen_receiver_get_value (recv, MITOGEN_TEST_WAIT, NULL, &error);
  g_assert_no_error (error);
  return g_variant_get_uint64 (total);
}

/* A stopped peer: the master's stream to it is full. */
static MitogenSender *
stopped_sink (Fixture *f, guint64 *sent)
{
  MitogenSender *sender = mitogen_sender_new (f->router, 2, PEER_SINK);
  int status;

  start_peer (f, &f->echo, 2, NULL);
  /* Its router is up once it answers. */
  echo_once (f->router);
  g_assert_cmpint (kill (f->echo.pid, SIGSTOP), ==, 0);
  /* Stopped for sure: until then it may still read. */
  g_assert_cmpint (waitpid (f->echo.pid, &status, WUNTRACED), ==, f->echo.pid);
  g_assert_true (WIFSTOPPED (status));
  *sent = fill (sender, f->echo.stream);
  return sender;
}

/* A blocking send waits for room, and its cancellable ends the wait
 * without queueing anything. */
static void
test_send_waits_and_cancels (Fixture *f, gconstpointer data)
{
  guint64 sent;
  g_autoptr(MitogenSender) sender = stopped_sink (f, &sent);
  g_autoptr(MitogenTestDeadline) soon
      = mitogen_test_deadline_new (G_USEC_PER_SEC / 10);
  g_autoptr(GError) error = NULL;
  gsize pending = mitogen_stream_get_pending_bytes (f->echo.stream);

  g_assert_false (
      mitogen_sender_send (sender, chunk_value (), soon->cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (mitogen_stream_get_pending_bytes (f->echo.stream), ==,
                    pending);
  g_assert_cmpuint (pending, <=, WINDOW + CHUNK + 64);

  /* Everything sent before arrives once the peer reads again. */
  kill (f->echo.pid, SIGCONT);
  g_assert_cmpuint (sink_total (f->router), ==, sent);
}

typedef struct {
  GMainContext *context;
  gboolean notified; /* atomic */
  GAsyncResult *result;
} AsyncWait;

static void
on_writable (GObject *stream, GParamSpec *pspec, gpointer data)
{
  AsyncWait *w = data;

  if (mitogen_stream_is_writable (MITOGEN_STREAM (stream)))
    g_atomic_int_set (&w->notified, TRUE);
  g_main_context_wakeup (w->context);
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncWait *w = data;
  w->result = g_object_ref (result);
}

static gboolean
on_timeout (gpointer data)
{
  g_error ("timed out waiting for an async send");
  return G_SOURCE_REMOVE;
}

/* An async send completes once the peer reads, and the stream tells its
 * watchers it is writable again. */
static void
test_send_async_completes (Fixture *f, gconstpointer data)
{
  guint64 sent;
  g_autoptr(MitogenSender) sender = stopped_sink (f, &sent);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSource) timeout = NULL;
  AsyncWait w = { g_main_context_new (), FALSE, NULL };
  gulong id;

  g_main_context_push_thread_default (w.context);
  id = g_signal_connect (f->echo.stream, "notify::writable",
                         G_CALLBACK (on_writable), &w);
  mitogen_sender_send_async (sender, chunk_value (), NULL, on_sent, &w);
  /* The peer is stopped: nothing can complete it. */
  while (g_main_context_iteration (w.context, FALSE))
    ;
  g_assert_null (w.result);
  g_assert_false (g_atomic_int_get (&w.notified));

  timeout = g_timeout_source_new ((guint) (MITOGEN_TEST_WAIT / 1000));
  g_source_set_callback (timeout, on_timeout, NULL, NULL);
  g_source_attach (timeout, w.context);
  kill (f->echo.pid, SIGCONT);
  while (!w.result || !g_atomic_int_get (&w.notified))
    g_main_context_iteration (w.context, TRUE);
  g_source_destroy (timeout);

  g_assert_true (mitogen_sender_send_finish (sender, w.result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sink_total (f->router), ==, sent + chunk_size ());

  g_signal_handler_disconnect (f->echo.stream, id);
  g_clear_object (&w.result);
  g_main_context_pop_thread_default (w.context);
  g_main_context_unref (w.context);
}

typedef struct {
  MitogenSender *sender;
  GMutex lock;
  GCond cond;
  gboolean done;
  GError *error;
} BlockedSend;

static gpointer
blocked_send_thread (gpointer data)
{
  BlockedSend *b = data;
  GError *error = NULL;

  g_assert_false (
      mitogen_sender_send (b->sender, chunk_value (), NULL, &error));
  g_mutex_lock (&b->lock);
  b->error = error;
  b->done = TRUE;
  g_cond_signal (&b->cond);
  g_mutex_unlock (&b->lock);
  return NULL;
}

static void
on_async_failed (GObject *source, GAsyncResult *result, gpointer data)
{
  GError **error = data;
  g_assert_false (
      mitogen_sender_send_finish (MITOGEN_SENDER (source), result, error));
}

/* A peer that dies wakes a sender waiting for room on its stream, with an
 * error that says the stream disconnected; an async send likewise. */
static void
test_disconnect_wakes_sender (Fixture *f, gconstpointer data)
{
  guint64 sent;
  g_autoptr(MitogenSender) sender = stopped_sink (f, &sent);
  BlockedSend b = { sender };
  g_autoptr(GError) async_error = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  gint64 deadline = g_get_monotonic_time () + MITOGEN_TEST_WAIT;
  GThread *thread;
  int status;

  g_main_context_push_thread_default (context);
  mitogen_sender_send_async (sender, chunk_value (), NULL, on_async_failed,
                             &async_error);
  g_mutex_init (&b.lock);
  g_cond_init (&b.cond);
  thread = g_thread_new ("blocked-send", blocked_send_thread, &b);

  kill (f->echo.pid, SIGKILL);
  g_assert_cmpint (waitpid (f->echo.pid, &status, 0), ==, f->echo.pid);
  g_mutex_lock (&b.lock);
  while (!b.done)
    g_assert_true (g_cond_wait_until (&b.cond, &b.lock, deadline));
  g_mutex_unlock (&b.lock);
  g_thread_join (thread);
  g_assert_error (b.error, MITOGEN_STREAM_ERROR,
                  MITOGEN_STREAM_ERROR_DISCONNECTED);
  g_clear_error (&b.error);

  while (!async_error)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (context, FALSE);
      g_usleep (1000);
    }
  g_assert_error (async_error, MITOGEN_STREAM_ERROR,
                  MITOGEN_STREAM_ERROR_DISCONNECTED);
  g_main_context_pop_thread_default (context);
  g_mutex_clear (&b.lock);
  g_cond_clear (&b.cond);
  g_clear_object (&f->echo.stream);
}

/* call_no_reply to a local context that does not read waits once the
 * window is full (it queued 256 MiB for 256 x 1 MiB before), and its
 * cancellable ends the wait. */
static void
test_call_no_reply_waits (Fixture *f, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx
      = mitogen_test_connect (f->router, "local", NULL, NULL);
  MitogenStream *stream = mitogen_context_get_stream (ctx);
  gint32 pid = mitogen_test_remote_pid (ctx);
  gsize big = 1024 * 1024;
  g_autofree guint8 *zeros = g_malloc0 (big);
  g_autoptr(GError) error = NULL;
  guint i;

  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  for (i = 0; i < 64; i++)
    {
      g_autoptr(MitogenTestDeadline) soon
          = mitogen_test_deadline_new (G_USEC_PER_SEC / 2);

      if (!mitogen_context_call_no_reply (
              ctx, "core.getpid",
              g_variant_new ("(@ay)", g_variant_new_fixed_array (
                                          G_VARIANT_TYPE_BYTE, zeros, big, 1)),
              soon->cancellable, &error))
        break;
      g_assert_cmpuint (mitogen_stream_get_pending_bytes (stream), <=,
                        mitogen_stream_get_transmit_window (stream) + big
                            + 4096);
    }
  g_assert_cmpuint (i, <, 64);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  kill (pid, SIGCONT);
  mitogen_test_shutdown_ok (ctx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/flow/flood/bounded", Fixture, NULL, setup, test_flood_bounded,
              teardown);
  g_test_add ("/flow/send/waits-and-cancels", Fixture, NULL, setup,
              test_send_waits_and_cancels, teardown);
  g_test_add ("/flow/send/async-completes", Fixture, NULL, setup,
              test_send_async_completes, teardown);
  g_test_add ("/flow/send/disconnect-wakes", Fixture, NULL, setup,
              test_disconnect_wakes_sender, teardown);
  g_test_add ("/flow/call-no-reply/waits", Fixture, NULL, setup,
              test_call_no_reply_waits, teardown);
  return g_test_run ();
}
