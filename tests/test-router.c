/* Router, receivers, senders, channels and select, across real processes:
 * each peer is a mitogen-test-peer child with a broker and router of its
 * own. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <signal.h>
#include <sys/wait.h>

#include "mitogen-log-limiter.h"
#include "mitogen-test-peer.h"

/* Long enough never to be hit by a working implementation, short enough
 * that a broken one fails instead of hanging the suite. */
#define WAIT MITOGEN_TEST_WAIT

typedef struct {
  GPid pid;
  MitogenStream *stream;
  gboolean reaped;
} Peer;

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
  Peer peers[2];
} Fixture;

static void
start_peer (Fixture *f, guint i, guint32 id)
{
  g_autofree gchar *id_arg = g_strdup_printf ("--id=%u", id);
  g_autofree gchar *name = g_strdup_printf ("peer%u", id);
  const gchar *argv[] = { MITOGEN_TEST_PEER, id_arg, NULL };
  g_autoptr(GError) error = NULL;
  int fd;

  g_assert_true (mitogen_create_child (argv, NULL, &f->peers[i].pid, &fd, NULL,
                                       &error));
  g_assert_no_error (error);
  f->peers[i].stream = mitogen_stream_new (f->router, id, fd, fd);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (f->peers[i].stream), name);
  mitogen_router_register (f->router, f->peers[i].stream);
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->broker = mitogen_broker_new ();
  f->router = mitogen_router_new (f->broker);
  start_peer (f, 0, 1);
  start_peer (f, 1, 2);
}

static void
reap (Peer *p)
{
  int status;

  if (!p->reaped)
    {
      g_assert_cmpint (waitpid (p->pid, &status, 0), ==, p->pid);
      p->reaped = TRUE;
    }
}

static void
teardown (Fixture *f, gconstpointer data)
{
  mitogen_broker_shutdown (f->broker);
  mitogen_broker_join (f->broker);
  /* The peers exit once their parent stream closes. */
  for (guint i = 0; i < G_N_ELEMENTS (f->peers); i++)
    {
      reap (&f->peers[i]);
      g_clear_object (&f->peers[i].stream);
    }
  g_clear_object (&f->router);
  g_clear_object (&f->broker);
}

/* Sends @data to @dst:@handle and waits for the reply. */
static MitogenMessage *
request (Fixture *f, guint32 dst, guint32 handle, GVariant *data, GError **error)
{
  g_autoptr(MitogenReceiver) recv =
    mitogen_receiver_new (f->router, 0, FALSE, dst, NULL);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (dst, handle, data);

  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (f->router, msg);
  return mitogen_receiver_get (recv, WAIT, NULL, error);
}

static gchar *
request_string (Fixture *f, guint32 dst, guint32 handle, GVariant *data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) reply = request (f, dst, handle, data, &error);
  g_autoptr(GVariant) v = NULL;

  g_assert_no_error (error);
  v = mitogen_message_get_data (reply, &error);
  g_assert_no_error (error);
  return g_variant_dup_string (v, NULL);
}

static void
test_echo (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("ping %u", i);
      g_autofree gchar *got =
        request_string (f, 1 + i % 2, PEER_ECHO, g_variant_new_string (text));
      g_assert_cmpstr (got, ==, text);
    }
}

static void
test_large_message (Fixture *f, gconstpointer data)
{
  gsize len = 16 * 1024 * 1024;
  g_autofree guint8 *blob = g_malloc (len);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) v = NULL;
  gsize got_len;
  const guint8 *got;

  for (gsize i = 0; i < len; i++)
    blob[i] = (guint8) (i * 7 + i / 4096);

  reply = request (f, 1, PEER_ECHO,
                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, len, 1),
                   &error);
  g_assert_no_error (error);
  v = mitogen_message_get_data (reply, &error);
  g_assert_no_error (error);
  got = g_variant_get_fixed_array (v, &got_len, 1);
  g_assert_cmpmem (got, got_len, blob, len);
}

typedef struct {
  Fixture *f;
  guint index;
} Worker;

static gpointer
echo_worker (gpointer data)
{
  Worker *w = data;

  for (guint i = 0; i < 300; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("thread %u ping %u", w->index, i);
      g_autofree gchar *got = request_string (w->f, 1 + (w->index + i) % 2,
                                              PEER_ECHO,
                                              g_variant_new_string (text));
      g_assert_cmpstr (got, ==, text);
    }
  return NULL;
}

static void
test_threads (Fixture *f, gconstpointer data)
{
  GThread *threads[8];
  Worker workers[8];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      workers[i] = (Worker) { f, i };
      threads[i] = g_thread_new ("echo", echo_worker, &workers[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
}

static void
assert_dead (MitogenMessage *reply, GError *error, const gchar *needle)
{
  g_assert_null (reply);
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  if (!strstr (error->message, needle))
    g_error ("'%s' does not mention '%s'", error->message, needle);
}

static void
test_killed_peer_wakes_waiter (Fixture *f, gconstpointer data)
{
  g_autoptr(MitogenReceiver) recv =
    mitogen_receiver_new (f->router, 0, FALSE, 1, NULL);
  g_autoptr(MitogenMessage) msg =
    mitogen_message_new (1, PEER_NEVER_REPLY, NULL);
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *still = NULL;

  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (f->router, msg);
  /* A round trip proves the peer holds the first message. */
  g_free (request_string (f, 1, PEER_ECHO, g_variant_new_string ("sync")));

  kill (f->peers[0].pid, SIGKILL);
  reply = mitogen_receiver_get (recv, WAIT, NULL, &error);
  assert_dead (reply, error, "peer1");

  /* The other peer is unaffected. */
  still = request_string (f, 2, PEER_ECHO, g_variant_new_string ("alive"));
  g_assert_cmpstr (still, ==, "alive");

  /* A new request to the dead context fails at once. */
  g_clear_error (&error);
  g_clear_pointer (&reply, mitogen_message_unref);
  reply = request (f, 1, PEER_ECHO, g_variant_new_string ("x"), &error);
  g_assert_null (reply);
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
}

/* A request still queued when its stream goes never reaches the peer; its
 * waiter, which names no respondent, is told so. */
static void
test_queued_request_answered (Fixture *f, gconstpointer data)
{
  gsize len = 16 * 1024 * 1024;
  g_autofree guint8 *blob = g_malloc0 (len);
  g_autoptr(MitogenReceiver) recv =
    mitogen_receiver_new (f->router, 0, FALSE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (
    1, PEER_ECHO, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, len, 1));
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GError) error = NULL;

  /* A round trip first, so that the peer is up and reading. */
  g_free (request_string (f, 1, PEER_ECHO, g_variant_new_string ("sync")));
  kill (f->peers[0].pid, SIGSTOP);
  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (f->router, msg);
  /* No socket buffer takes 16 MiB from a stopped reader. */
  g_assert_cmpuint (mitogen_stream_get_pending_bytes (f->peers[0].stream), >, 0);

  kill (f->peers[0].pid, SIGKILL);
  reply = mitogen_receiver_get (recv, WAIT, NULL, &error);
  assert_dead (reply, error, "peer1");
}

static void
test_peer_exit_wakes_waiter (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) reply =
    request (f, 2, PEER_EXIT, g_variant_new_uint32 (0), &error);

  assert_dead (reply, error, "peer2");
}

static void
test_no_route (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenReceiver) recv =
    mitogen_receiver_new (f->router, 0, FALSE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (77, PEER_ECHO, NULL);
  g_autoptr(MitogenMessage) reply = NULL;

  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (f->router, msg);
  reply = mitogen_receiver_get (recv, WAIT, NULL, &error);
  assert_dead (reply, error, "No route");
}

/* A child's request for a context nobody knows is answered too. */
static void
test_no_route_from_child (Fixture *f, gconstpointer data)
{
  g_autofree gchar *answer =
    request_string (f, 1, PEER_SEND_TO, g_variant_new ("(uu)", 77, PEER_ECHO));

  g_assert_true (g_str_has_prefix (answer, "error: "));
  g_assert_nonnull (strstr (answer, "No route"));
}

/* A message of our own that expects no reply and is too large to route
 * reaches its recipient as a dead message, so a waiter there wakes. */
static void
test_oversize_wakes_recipient (Fixture *f, gconstpointer data)
{
  const gsize max_size = 64 * 1024;
  g_autoptr(MitogenReceiver) recv =
    mitogen_receiver_new (f->router, 0, FALSE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autofree guint8 *blob = g_malloc0 (2 * max_size);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (
    0, mitogen_receiver_get_handle (recv),
    g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, 2 * max_size, 1));
  g_autoptr(MitogenMessage) got = NULL;
  g_autoptr(GError) error = NULL;

  mitogen_router_set_max_message_size (f->router, max_size);
  mitogen_router_route (f->router, msg);
  got = mitogen_receiver_get (recv, WAIT, NULL, &error);
  assert_dead (got, error, "exceeds max_message_size 65536");
}

static void
test_no_handler (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) reply =
    request (f, 1, 4242, g_variant_new_string ("x"), &error);

  assert_dead (reply, error, "No handler 4242");
}

static void
test_forged_src_dropped (Fixture *f, gconstpointer data)
{
  g_autoptr(MitogenReceiver) recv =
    mitogen_receiver_new (f->router, 0, TRUE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (
    1, PEER_SPOOF, g_variant_new_uint32 (mitogen_receiver_get_handle (recv)));
  g_autoptr(MitogenMessage) got = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GError) error = NULL;

  g_test_expect_message ("mitogen", G_LOG_LEVEL_MESSAGE, "*not reachable*");
  mitogen_router_route (f->router, msg);
  /* The forged message went first on the same stream; only the honest one
   * may arrive. */
  got = mitogen_receiver_get (recv, WAIT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mitogen_message_get_src_id (got), ==, 1);
  v = mitogen_message_get_data (got, NULL);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "honest");
  g_assert_true (mitogen_receiver_empty (recv));
  g_test_assert_expected_messages ();
}

static void
test_unidirectional (Fixture *f, gconstpointer data)
{
  g_autofree gchar *blocked = NULL;
  g_autofree gchar *allowed = NULL;

  /* peer1 -> peer2 crosses the master, which forbids it by default. */
  blocked = request_string (f, 1, PEER_SEND_TO, g_variant_new ("(uu)", 2, PEER_ECHO));
  g_assert_true (g_str_has_prefix (blocked, "error: "));
  g_assert_nonnull (strstr (blocked, "not allowed"));

  mitogen_router_set_unidirectional (f->router, FALSE);
  allowed = request_string (f, 1, PEER_SEND_TO, g_variant_new ("(uu)", 2, PEER_ECHO));
  g_assert_cmpstr (allowed, ==, "'hello'");
}

static gboolean
refuse_all (MitogenRouter *router, MitogenMessage *msg, MitogenStream *stream)
{
  return FALSE;
}

static void
count_message (MitogenMessage *msg, gpointer user_data)
{
  g_atomic_int_inc ((gint *) user_data);
}

static void
test_policy_refuses (Fixture *f, gconstpointer data)
{
  gint delivered = 0;
  guint32 handle = mitogen_router_add_handler (f->router, 0,
                                               MITOGEN_HANDLER_PERSIST,
                                               MITOGEN_CONTEXT_ID_NONE,
                                               refuse_all, count_message,
                                               &delivered, NULL);
  g_autofree gchar *answer = NULL;

  g_test_expect_message ("mitogen", G_LOG_LEVEL_MESSAGE, "*refused*");
  answer = request_string (f, 1, PEER_SEND_TO, g_variant_new ("(uu)", 0, handle));
  g_assert_true (g_str_has_prefix (answer, "error: "));
  g_assert_nonnull (strstr (answer, "refused"));
  g_assert_cmpint (g_atomic_int_get (&delivered), ==, 0);
  g_test_assert_expected_messages ();
  mitogen_router_del_handler (f->router, handle);
}

/* Lines the library logs in its own domain that hold needle. */
typedef struct {
  const gchar *needle;
  gint lines;
} LineCount;

static void
count_lines (const gchar *domain, GLogLevelFlags level, const gchar *message,
             gpointer user_data)
{
  LineCount *count = user_data;

  if (strstr (message, count->needle))
    g_atomic_int_inc (&count->lines);
}

/* peer1 sends @n messages to @handle, forged or not, then one to a
 * receiver here; returns how many lines holding @needle were logged, and
 * in @elapsed how long that took. */
static gint
flood_lines (Fixture *f, guint32 n, guint32 handle, gboolean forged,
             const gchar *needle, gint64 *elapsed)
{
  LineCount count = { needle, 0 };
  guint log_handler = g_log_set_handler ("mitogen", G_LOG_LEVEL_MESSAGE,
                                         count_lines, &count);
  g_autoptr(MitogenReceiver) done =
    mitogen_receiver_new (f->router, 0, FALSE, 1, NULL);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (
    1, PEER_FLOOD, g_variant_new ("(uubu)", n, handle, forged,
                                  mitogen_receiver_get_handle (done)));
  g_autoptr(MitogenMessage) got = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *still = NULL;
  gint64 start = g_get_monotonic_time ();

  mitogen_router_route (f->router, msg);
  /* It travels behind the flood on the same stream, which is waited for
   * as long as it moves, however slow the machine (valgrind). */
  for (;;)
    {
      MitogenStream *stream = f->peers[0].stream;
      guint64 before = mitogen_stream_get_messages_received (stream);

      got = mitogen_receiver_get (done, WAIT, NULL, &error);
      if (got || mitogen_stream_get_messages_received (stream) == before ||
          !g_error_matches (error, MITOGEN_TIMEOUT_ERROR,
                            MITOGEN_TIMEOUT_ERROR_TIMED_OUT))
        break;
      g_clear_error (&error);
    }
  g_assert_no_error (error);
  *elapsed = g_get_monotonic_time () - start;
  g_log_remove_handler ("mitogen", log_handler);

  /* Others are served all along. */
  still = request_string (f, 2, PEER_ECHO, g_variant_new_string ("served"));
  g_assert_cmpstr (still, ==, "served");
  return g_atomic_int_get (&count.lines);
}

/* A flood the router drops (forged) or refuses (by @policy) logs one line
 * of its kind, however long. */
typedef struct {
  MitogenPolicyFunc policy;
  gboolean forged;
  const gchar *needle;
} FloodCase;

static const FloodCase forged_flood = { NULL, TRUE, "not reachable" };
static const FloodCase refused_flood = { refuse_all, FALSE, "refused" };

static void
test_flood_logs_bounded (Fixture *f, gconstpointer data)
{
  const FloodCase *c = data;
  gint delivered = 0;
  guint32 handle = mitogen_router_add_handler (f->router, 0,
                                               MITOGEN_HANDLER_PERSIST,
                                               MITOGEN_CONTEXT_ID_NONE,
                                               c->policy, count_message,
                                               &delivered, NULL);
  gint64 elapsed;
  gint lines = flood_lines (f, 4096, handle, c->forged, c->needle, &elapsed);

  /* One line; on a machine so slow (valgrind) that the flood outlasts the
   * limiter's interval, a count and a line more per interval. */
  g_assert_cmpint (lines, >=, 1);
  g_assert_cmpint (lines, <=, 1 + 2 * (elapsed / MITOGEN_LOG_LIMITER_INTERVAL));
  g_assert_cmpint (g_atomic_int_get (&delivered), ==, 0);
  mitogen_router_del_handler (f->router, handle);
}

static void
test_parent_authority (Fixture *f, gconstpointer data)
{
  gint delivered = 0;
  guint32 handle = mitogen_router_add_handler (
    f->router, 0, MITOGEN_HANDLER_PERSIST, MITOGEN_CONTEXT_ID_NONE,
    mitogen_router_policy_has_parent_authority, count_message, &delivered, NULL);
  g_autoptr(MitogenMessage) own = mitogen_message_new (0, handle, NULL);
  g_autofree gchar *answer = NULL;
  g_autoptr(MitogenReceiver) sync =
    mitogen_receiver_new (f->router, 0, FALSE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autoptr(MitogenMessage) ping = mitogen_message_new (0, mitogen_receiver_get_handle (sync), NULL);
  g_autoptr(MitogenMessage) pong = NULL;

  /* The master has authority over itself... */
  mitogen_router_route (f->router, own);
  mitogen_router_route (f->router, ping);
  pong = mitogen_receiver_get (sync, WAIT, NULL, NULL);
  g_assert_nonnull (pong);
  g_assert_cmpint (g_atomic_int_get (&delivered), ==, 1);

  /* ...but a child has none over its parent. */
  g_test_expect_message ("mitogen", G_LOG_LEVEL_MESSAGE, "*refused*");
  answer = request_string (f, 1, PEER_SEND_TO, g_variant_new ("(uu)", 0, handle));
  g_assert_true (g_str_has_prefix (answer, "error: "));
  g_assert_cmpint (g_atomic_int_get (&delivered), ==, 1);
  g_test_assert_expected_messages ();
  mitogen_router_del_handler (f->router, handle);
}

static void
wait_disconnect_reason (Peer *p, const gchar *needle)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;

  while (!mitogen_basic_stream_is_disconnected (MITOGEN_BASIC_STREAM (p->stream)))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
  g_assert_nonnull (strstr (mitogen_stream_get_disconnect_reason (p->stream),
                            needle));
}

static void
test_bad_magic_disconnects (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autofree gchar *still = NULL;

  g_test_expect_message ("mitogen", G_LOG_LEVEL_MESSAGE, "*magic*");
  reply = request (f, 1, PEER_GARBAGE, NULL, &error);
  /* The waiter is woken because its respondent's stream died. */
  assert_dead (reply, error, "magic");
  wait_disconnect_reason (&f->peers[0], "magic");
  g_test_assert_expected_messages ();

  still = request_string (f, 2, PEER_ECHO, g_variant_new_string ("fine"));
  g_assert_cmpstr (still, ==, "fine");
}

static void
test_oversize_disconnects (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) reply = NULL;

  g_test_expect_message ("mitogen", G_LOG_LEVEL_MESSAGE, "*max_message_size*");
  reply = request (f, 2, PEER_OVERSIZE, NULL, &error);
  assert_dead (reply, error, "max_message_size");
  wait_disconnect_reason (&f->peers[1], "max_message_size");
  g_test_assert_expected_messages ();
}

static void
test_select (Fixture *f, gconstpointer data)
{
  g_autoptr(MitogenSelect) select = mitogen_select_new (TRUE);
  g_autoptr(MitogenReceiver) r1 = mitogen_receiver_new (f->router, 0, FALSE, 1, NULL);
  g_autoptr(MitogenReceiver) r2 = mitogen_receiver_new (f->router, 0, FALSE, 2, NULL);
  MitogenReceiver *recvs[] = { r1, r2 };
  gboolean seen[2] = { FALSE, FALSE };

  mitogen_select_add (select, G_OBJECT (r1));
  mitogen_select_add (select, G_OBJECT (r2));
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(MitogenMessage) msg = mitogen_message_new (
        i + 1, PEER_ECHO, g_variant_new_uint32 (i + 1));
      mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recvs[i]));
      mitogen_router_route (f->router, msg);
    }
  for (guint i = 0; i < 2; i++)
    {
      GObject *source = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(MitogenMessage) msg =
        mitogen_select_get (select, WAIT, NULL, &source, &error);
      g_autoptr(GVariant) v = NULL;
      guint which;

      g_assert_no_error (error);
      which = source == G_OBJECT (r1) ? 0 : 1;
      g_assert_true (source == G_OBJECT (recvs[which]));
      v = mitogen_message_get_data (msg, NULL);
      g_assert_cmpuint (g_variant_get_uint32 (v), ==, which + 1);
      g_assert_false (seen[which]);
      seen[which] = TRUE;
    }
  /* Oneshot: both sources are gone now. */
  g_assert_cmpuint (mitogen_select_size (select), ==, 0);
}

static void
test_channel_local (Fixture *f, gconstpointer data)
{
  g_autoptr(MitogenReceiver) inbox =
    mitogen_receiver_new (f->router, 0, TRUE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autoptr(MitogenChannel) chan =
    mitogen_channel_new (f->router, 0, mitogen_receiver_get_handle (inbox), 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) end = NULL;

  for (guint i = 0; i < 10; i++)
    {
      g_assert_true (
          mitogen_channel_send (chan, g_variant_new_uint32 (i), NULL, &error));
      g_assert_no_error (error);
    }
  mitogen_sender_close (mitogen_channel_get_sender (chan));
  for (guint i = 0; i < 10; i++)
    {
      g_autoptr (GVariant) v
          = mitogen_receiver_get_value (inbox, WAIT, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_variant_get_uint32 (v), ==, i);
    }
  end = mitogen_receiver_get (inbox, WAIT, NULL, &error);
  assert_dead (end, error, "closed");
  mitogen_channel_close (chan);
}

typedef struct {
  GMainLoop *loop;
  MitogenMessage *msg;
  GError *error;
} AsyncResult;

static void
on_async_reply (GObject *source, GAsyncResult *result, gpointer user_data)
{
  AsyncResult *r = user_data;

  r->msg = mitogen_receiver_get_finish (MITOGEN_RECEIVER (source), result,
                                        &r->error);
  g_main_loop_quit (r->loop);
}

static void
test_async_get (Fixture *f, gconstpointer data)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (f->router, 0, FALSE, 1, NULL);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (1, PEER_ECHO, g_variant_new_string ("async"));
  g_autoptr(GVariant) v = NULL;
  AsyncResult r = { 0 };

  g_main_context_push_thread_default (context);
  r.loop = g_main_loop_new (context, FALSE);
  mitogen_receiver_get_async (recv, NULL, on_async_reply, &r);
  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (f->router, msg);
  g_main_loop_run (r.loop);
  g_assert_no_error (r.error);
  v = mitogen_message_get_data (r.msg, NULL);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "async");
  mitogen_message_unref (r.msg);
  g_main_loop_unref (r.loop);
  g_main_context_pop_thread_default (context);
}

static void
test_async_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (f->router, 0, FALSE, 1, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AsyncResult r = { 0 };

  g_main_context_push_thread_default (context);
  r.loop = g_main_loop_new (context, FALSE);
  mitogen_receiver_get_async (recv, cancellable, on_async_reply, &r);
  g_cancellable_cancel (cancellable);
  g_main_loop_run (r.loop);
  g_assert_null (r.msg);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
  g_main_loop_unref (r.loop);
  g_main_context_pop_thread_default (context);
}

static void
test_shutdown_wakes_waiters (Fixture *f, gconstpointer data)
{
  g_autoptr(MitogenReceiver) recv =
    mitogen_receiver_new (f->router, 0, TRUE, MITOGEN_CONTEXT_ID_NONE, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = NULL;

  mitogen_broker_shutdown (f->broker);
  msg = mitogen_receiver_get (recv, WAIT, NULL, &error);
  assert_dead (msg, error, "shut down");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) \
  g_test_add ("/router/" path, Fixture, NULL, setup, fn, teardown)
  ADD ("echo", test_echo);
  ADD ("large-message", test_large_message);
  ADD ("threads", test_threads);
  ADD ("killed-peer-wakes-waiter", test_killed_peer_wakes_waiter);
  ADD ("peer-exit-wakes-waiter", test_peer_exit_wakes_waiter);
  ADD ("queued-request-answered", test_queued_request_answered);
  ADD ("no-route", test_no_route);
  ADD ("no-route-from-child", test_no_route_from_child);
  ADD ("oversize-wakes-recipient", test_oversize_wakes_recipient);
  ADD ("no-handler", test_no_handler);
  ADD ("forged-src-dropped", test_forged_src_dropped);
  ADD ("unidirectional", test_unidirectional);
  ADD ("policy-refuses", test_policy_refuses);
  ADD ("parent-authority", test_parent_authority);
  g_test_add ("/router/forged-flood-logs-bounded", Fixture, &forged_flood,
              setup, test_flood_logs_bounded, teardown);
  g_test_add ("/router/refused-flood-logs-bounded", Fixture, &refused_flood,
              setup, test_flood_logs_bounded, teardown);
  ADD ("bad-magic-disconnects", test_bad_magic_disconnects);
  ADD ("oversize-disconnects", test_oversize_disconnects);
  ADD ("select", test_select);
  ADD ("channel", test_channel_local);
  ADD ("async-get", test_async_get);
  ADD ("async-cancel", test_async_cancel);
  ADD ("shutdown-wakes-waiters", test_shutdown_wakes_waiters);
#undef ADD

  return g_test_run ();
}
