/* The broker, the streams it runs, and MitogenStream framing between two
 * brokers in one process.
 *
 * Nothing here sleeps and hopes: every wait is on a condition, bounded by a
 * safety deadline that fails the test instead of hanging it. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"

#include <errno.h>
#include <glib-unix.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Long enough never to be hit by a working implementation, even under
 * valgrind; short enough that a broken one fails instead of hanging the
 * suite. */
#define WAIT (mitogen_test_scaled (60 * G_USEC_PER_SEC))

/* A grace period no test may sit through: reaching the safety deadline
 * instead proves the broker waited for it. */
#define ENDLESS_GRACE (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)

/* Counter: a count other threads raise and the test thread waits on.
 * Reference counted, so that a deferred function may hold it past the
 * waiter's return. */

typedef struct {
  GMutex lock;
  GCond cond;
  gint64 value;
} Counter;

static void
counter_clear (gpointer data)
{
  Counter *c = data;

  g_mutex_clear (&c->lock);
  g_cond_clear (&c->cond);
}

static Counter *
counter_new (void)
{
  Counter *c = g_atomic_rc_box_new0 (Counter);

  g_mutex_init (&c->lock);
  g_cond_init (&c->cond);
  return c;
}

static gpointer
counter_ref (Counter *c)
{
  return g_atomic_rc_box_acquire (c);
}

static void
counter_unref (gpointer c)
{
  g_atomic_rc_box_release_full (c, counter_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Counter, counter_unref)

static void
counter_add (Counter *c,
             gint64 n)
{
  g_mutex_lock (&c->lock);
  c->value += n;
  g_cond_broadcast (&c->cond);
  g_mutex_unlock (&c->lock);
}

static gint64
counter_get (Counter *c)
{
  gint64 value;

  g_mutex_lock (&c->lock);
  value = c->value;
  g_mutex_unlock (&c->lock);
  return value;
}

/* Waits until the count reaches @target. Returns FALSE if the safety
 * deadline passed first. */
static gboolean
counter_wait (Counter *c,
              gint64 target)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;
  gboolean reached;

  g_mutex_lock (&c->lock);
  while (c->value < target && g_get_monotonic_time () < deadline)
    g_cond_wait_until (&c->cond, &c->lock, deadline);
  reached = c->value >= target;
  g_mutex_unlock (&c->lock);
  return reached;
}

static void
counter_inc_cb (gpointer data)
{
  counter_add (data, 1);
}

/* Waits for @done (a predicate on @data) to hold, polling: for state the
 * library offers no notification of. */
static gboolean
poll_until (gboolean (*done) (gpointer data),
            gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;

  while (!done (data))
    {
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      g_usleep (1000);
    }
  return TRUE;
}

/* Broker helpers */

static void
round_trip (MitogenBroker *broker)
{
  g_autoptr(Counter) done = counter_new ();

  g_assert_true (mitogen_broker_defer (broker, counter_inc_cb,
                                       counter_ref (done), counter_unref));
  g_assert_true (counter_wait (done, 1));
}

/* Returns once the broker has handled everything deferred before the call,
 * and dispatched every source that was ready then. One round trip is not
 * enough for the latter: sources ready in the iteration that ran the first
 * function may be dispatched after it, but are dispatched before the
 * second round trip's iteration starts. */
static void
sync_broker (MitogenBroker *broker)
{
  round_trip (broker);
  round_trip (broker);
}

typedef struct {
  MitogenBroker *broker;
  Counter *joined;
} Joiner;

static gpointer
join_thread (gpointer data)
{
  Joiner *j = data;

  mitogen_broker_join (j->broker);
  counter_add (j->joined, 1);
  return NULL;
}

/* Joins from another thread so that a broker that never exits fails the
 * test at the safety deadline rather than hanging it. */
static void
join_within_deadline (MitogenBroker *broker)
{
  g_autoptr(Counter) joined = counter_new ();
  Joiner j = { broker, joined };
  GThread *thread = g_thread_new ("joiner", join_thread, &j);

  if (!counter_wait (joined, 1))
    g_error ("The broker did not exit within the safety deadline");
  g_thread_join (thread);
  g_assert_false (mitogen_broker_is_alive (broker));
}

static void
shutdown_and_join (MitogenBroker *broker)
{
  mitogen_broker_shutdown (broker);
  join_within_deadline (broker);
}

static void
make_pipe (int fds[2])
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_unix_open_pipe (fds, FD_CLOEXEC, &error));
  g_assert_no_error (error);
}

static void
write_all (int fd,
           const gchar *text)
{
  gsize len = strlen (text);

  g_assert_cmpint (write (fd, text, len), ==, (gssize) len);
}

static int
bytes_unread (int fd)
{
  int n = -1;

  g_assert_cmpint (ioctl (fd, FIONREAD, &n), ==, 0);
  return n;
}

/* TestStream: a MitogenBasicStream over plain descriptors that records
 * every call the broker makes, and where it made it from. */

typedef enum {
  EV_RECEIVE,
  EV_BYTES,
  EV_TRANSMIT,
  EV_SHUTDOWN,
  EV_DISCONNECT,
  EV_DISCONNECT_SIGNAL,
  N_EVENTS
} Event;

#define TEST_TYPE_STREAM (test_stream_get_type ())
G_DECLARE_FINAL_TYPE (TestStream, test_stream, TEST, STREAM,
                      MitogenBasicStream)

struct _TestStream {
  MitogenBasicStream parent_instance;

  MitogenBroker *broker; /* unowned: the broker it expects calls from */
  gboolean disconnect_on_shutdown;
  Counter *events[N_EVENTS];
  gint off_thread; /* atomic: calls made elsewhere than the broker thread */
  GMutex lock;
  GByteArray *data; /* under lock */
};

G_DEFINE_FINAL_TYPE (TestStream, test_stream, MITOGEN_TYPE_BASIC_STREAM)

static void
note_call (TestStream *self,
           MitogenBroker *broker,
           Event event)
{
  if (broker != self->broker || !mitogen_broker_is_broker_thread (self->broker))
    g_atomic_int_inc (&self->off_thread);
  counter_add (self->events[event], 1);
}

static void
test_stream_on_receive (MitogenBasicStream *stream,
                        MitogenBroker *broker)
{
  TestStream *self = TEST_STREAM (stream);
  g_autoptr(GError) error = NULL;
  guint8 buf[4096];
  gssize n;

  note_call (self, broker, EV_RECEIVE);
  n = mitogen_side_read (mitogen_basic_stream_get_receive_side (stream), buf,
                         sizeof buf, &error);
  if (n > 0)
    {
      g_mutex_lock (&self->lock);
      g_byte_array_append (self->data, buf, (guint) n);
      g_mutex_unlock (&self->lock);
      counter_add (self->events[EV_BYTES], n);
    }
  else if (n == 0 || !g_error_matches (error, G_IO_ERROR,
                                       G_IO_ERROR_WOULD_BLOCK))
    /* The contract of on_receive: end of file disconnects. */
    mitogen_basic_stream_on_disconnect (stream, broker);
}

static void
test_stream_on_transmit (MitogenBasicStream *stream,
                         MitogenBroker *broker)
{
  note_call (TEST_STREAM (stream), broker, EV_TRANSMIT);
}

static void
test_stream_on_shutdown (MitogenBasicStream *stream,
                         MitogenBroker *broker)
{
  TestStream *self = TEST_STREAM (stream);

  note_call (self, broker, EV_SHUTDOWN);
  /* The default disconnects; not chaining up models a stream that needs
   * time to finish. */
  if (self->disconnect_on_shutdown)
    MITOGEN_BASIC_STREAM_CLASS (test_stream_parent_class)->on_shutdown (stream,
                                                                     broker);
}

static void
test_stream_on_disconnect (MitogenBasicStream *stream,
                           MitogenBroker *broker)
{
  note_call (TEST_STREAM (stream), broker, EV_DISCONNECT);
  MITOGEN_BASIC_STREAM_CLASS (test_stream_parent_class)->on_disconnect (stream,
                                                                     broker);
}

static void
on_test_stream_disconnect_signal (TestStream *self,
                                  gpointer user_data)
{
  note_call (self, self->broker, EV_DISCONNECT_SIGNAL);
}

static void
test_stream_finalize (GObject *object)
{
  TestStream *self = TEST_STREAM (object);

  for (guint i = 0; i < N_EVENTS; i++)
    counter_unref (self->events[i]);
  g_byte_array_unref (self->data);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (test_stream_parent_class)->finalize (object);
}

static void
test_stream_class_init (TestStreamClass *klass)
{
  MitogenBasicStreamClass *stream_class = MITOGEN_BASIC_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = test_stream_finalize;
  stream_class->on_receive = test_stream_on_receive;
  stream_class->on_transmit = test_stream_on_transmit;
  stream_class->on_shutdown = test_stream_on_shutdown;
  stream_class->on_disconnect = test_stream_on_disconnect;
}

static void
test_stream_init (TestStream *self)
{
  for (guint i = 0; i < N_EVENTS; i++)
    self->events[i] = counter_new ();
  g_mutex_init (&self->lock);
  self->data = g_byte_array_new ();
  self->disconnect_on_shutdown = TRUE;
}

/* @receive_fd and @transmit_fd, either of which may be -1, become the
 * stream's. */
static TestStream *
test_stream_new (MitogenBroker *broker,
                 int receive_fd,
                 int transmit_fd,
                 gboolean keep_alive)
{
  TestStream *self = g_object_new (TEST_TYPE_STREAM, "name", "test", NULL);
  MitogenBasicStream *stream = MITOGEN_BASIC_STREAM (self);

  self->broker = broker;
  if (receive_fd >= 0)
    {
      g_autoptr(MitogenSide) side = mitogen_side_new (stream, receive_fd,
                                                      keep_alive);
      mitogen_basic_stream_set_receive_side (stream, side);
    }
  if (transmit_fd >= 0)
    {
      g_autoptr(MitogenSide) side = mitogen_side_new (stream, transmit_fd,
                                                      FALSE);
      mitogen_basic_stream_set_transmit_side (stream, side);
    }
  g_signal_connect (self, "disconnect",
                    G_CALLBACK (on_test_stream_disconnect_signal), NULL);
  return self;
}

static gint64
events (TestStream *self,
        Event event)
{
  return counter_get (self->events[event]);
}

static void
assert_on_broker_thread (TestStream *self)
{
  g_assert_cmpint (g_atomic_int_get (&self->off_thread), ==, 0);
}

/* /broker/defer */

#define DEFER_THREADS 8
#define DEFERS_PER_THREAD 10000

typedef struct {
  MitogenBroker *broker;
  Counter *go;
  Counter *destroyed;
  gint refused;               /* atomic */
  gint off_thread;            /* atomic */
  /* Touched on the broker thread only; read after joining it. */
  guint next_seq[DEFER_THREADS];
  guint out_of_order;
  guint8 *runs;               /* [thread * DEFERS_PER_THREAD + seq] */
} DeferState;

typedef struct {
  DeferState *state;
  guint thread;
  guint seq;
} DeferItem;

typedef struct {
  DeferState *state;
  guint thread;
} DeferWorker;

static void
defer_item_run (gpointer data)
{
  DeferItem *item = data;
  DeferState *s = item->state;

  if (!mitogen_broker_is_broker_thread (s->broker))
    g_atomic_int_inc (&s->off_thread);
  if (item->seq != s->next_seq[item->thread])
    s->out_of_order++;
  s->next_seq[item->thread] = item->seq + 1;
  s->runs[item->thread * DEFERS_PER_THREAD + item->seq]++;
}

static void
defer_item_free (gpointer data)
{
  DeferItem *item = data;

  counter_add (item->state->destroyed, 1);
  g_free (item);
}

static gpointer
defer_worker (gpointer data)
{
  DeferWorker *w = data;

  /* All start together, so that their defers interleave. */
  counter_wait (w->state->go, 1);
  for (guint seq = 0; seq < DEFERS_PER_THREAD; seq++)
    {
      DeferItem *item = g_new (DeferItem, 1);

      item->state = w->state;
      item->thread = w->thread;
      item->seq = seq;
      if (!mitogen_broker_defer (w->state->broker, defer_item_run, item,
                                 defer_item_free))
        g_atomic_int_inc (&w->state->refused);
    }
  return NULL;
}

static void
test_defer_threads (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(Counter) go = counter_new ();
  g_autoptr(Counter) destroyed = counter_new ();
  g_autofree guint8 *runs = g_new0 (guint8, DEFER_THREADS * DEFERS_PER_THREAD);
  DeferState state = { broker, go, destroyed, 0, 0, { 0 }, 0, runs };
  DeferWorker workers[DEFER_THREADS];
  GThread *threads[DEFER_THREADS];

  for (guint i = 0; i < DEFER_THREADS; i++)
    {
      workers[i] = (DeferWorker) { &state, i };
      threads[i] = g_thread_new ("deferrer", defer_worker, &workers[i]);
    }
  counter_add (go, 1);
  for (guint i = 0; i < DEFER_THREADS; i++)
    g_thread_join (threads[i]);

  /* Destroy notifies run after their functions. */
  g_assert_true (counter_wait (destroyed, DEFER_THREADS * DEFERS_PER_THREAD));
  shutdown_and_join (broker);

  g_assert_cmpint (state.refused, ==, 0);
  g_assert_cmpint (state.off_thread, ==, 0);
  g_assert_cmpuint (state.out_of_order, ==, 0);
  for (guint i = 0; i < DEFER_THREADS * DEFERS_PER_THREAD; i++)
    if (runs[i] != 1)
      g_error ("Defer %u of thread %u ran %u times", i % DEFERS_PER_THREAD,
               i / DEFERS_PER_THREAD, runs[i]);
  g_assert_cmpint (counter_get (destroyed), ==,
                   DEFER_THREADS * DEFERS_PER_THREAD);
}

typedef struct {
  MitogenBroker *broker;
  Counter *done;
  gboolean inner_ran;
  gboolean inner_destroyed;
  gboolean accepted;
  gboolean ran_before_return;
} InlineState;

static void
inline_inner_run (gpointer data)
{
  ((InlineState *) data)->inner_ran = TRUE;
}

static void
inline_inner_destroy (gpointer data)
{
  ((InlineState *) data)->inner_destroyed = TRUE;
}

static void
inline_outer_run (gpointer data)
{
  InlineState *s = data;

  s->accepted = mitogen_broker_defer (s->broker, inline_inner_run, s,
                                      inline_inner_destroy);
  s->ran_before_return = s->inner_ran && s->inner_destroyed;
  counter_add (s->done, 1);
}

static void
test_defer_on_broker_thread_runs_at_once (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(Counter) done = counter_new ();
  InlineState s = { broker, done };

  g_assert_true (mitogen_broker_defer (broker, inline_outer_run, &s, NULL));
  g_assert_true (counter_wait (done, 1));
  g_assert_true (s.accepted);
  g_assert_true (s.ran_before_return);
  shutdown_and_join (broker);
}

typedef struct {
  gboolean ran;
  gint destroyed;
} Outcome;

static void
outcome_run (gpointer data)
{
  ((Outcome *) data)->ran = TRUE;
}

static void
outcome_destroy (gpointer data)
{
  ((Outcome *) data)->destroyed++;
}

static void
assert_refused (MitogenBroker *broker)
{
  Outcome outcome = { FALSE, 0 };

  g_assert_false (mitogen_broker_defer (broker, outcome_run, &outcome,
                                        outcome_destroy));
  g_assert_false (outcome.ran);
  g_assert_cmpint (outcome.destroyed, ==, 1);
}

static gpointer
assert_refused_thread (gpointer data)
{
  assert_refused (data);
  return NULL;
}

static void
test_defer_after_join (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();

  shutdown_and_join (broker);
  assert_refused (broker);
  /* From a thread born after the broker's died too: it must not pass for
   * the broker thread. */
  g_thread_join (g_thread_new ("late", assert_refused_thread, broker));
}

/* /broker/receive, /broker/transmit */

static void
test_receive_start_stop (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(TestStream) stream = NULL;
  MitogenBasicStream *bs;
  gint64 calls;
  int p[2];

  make_pipe (p);
  stream = test_stream_new (broker, p[0], -1, TRUE);
  bs = MITOGEN_BASIC_STREAM (stream);

  /* Called on this thread, not the broker's: the call is deferred. */
  mitogen_broker_start_receive (broker, bs);
  write_all (p[1], "hello");
  g_assert_true (counter_wait (stream->events[EV_BYTES], 5));
  g_assert_cmpmem (stream->data->data, stream->data->len, "hello", 5);

  mitogen_broker_stop_receive (broker, bs);
  sync_broker (broker);
  calls = events (stream, EV_RECEIVE);
  write_all (p[1], "world");
  sync_broker (broker);
  /* Readable all along, yet neither called nor read. */
  g_assert_cmpint (events (stream, EV_RECEIVE), ==, calls);
  g_assert_cmpint (bytes_unread (p[0]), ==, 5);

  /* Receiving resumes where it stopped. */
  mitogen_broker_start_receive (broker, bs);
  g_assert_true (counter_wait (stream->events[EV_BYTES], 10));
  g_assert_cmpmem (stream->data->data, stream->data->len, "helloworld", 10);

  /* The writer going away reads as end of file, and the stream leaves. */
  close (p[1]);
  g_assert_true (counter_wait (stream->events[EV_DISCONNECT_SIGNAL], 1));
  g_assert_true (mitogen_basic_stream_is_disconnected (bs));

  shutdown_and_join (broker);
  assert_on_broker_thread (stream);
  g_assert_cmpint (events (stream, EV_DISCONNECT_SIGNAL), ==, 1);
}

typedef struct {
  MitogenBroker *broker;
  MitogenBasicStream *stream;
  Counter *done;
  gboolean before, after_start, after_stop;
} KeepAliveProbe;

static void
probe_registration (gpointer data)
{
  KeepAliveProbe *k = data;

  k->before = mitogen_broker_keep_alive (k->broker);
  mitogen_broker_start_receive (k->broker, k->stream);
  k->after_start = mitogen_broker_keep_alive (k->broker);
  mitogen_broker_stop_receive (k->broker, k->stream);
  k->after_stop = mitogen_broker_keep_alive (k->broker);
  counter_add (k->done, 1);
}

/* On the broker thread, registration takes effect before the call
 * returns; the keep-alive state shows it. */
static void
test_receive_on_broker_thread (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(Counter) done = counter_new ();
  g_autoptr(TestStream) stream = NULL;
  KeepAliveProbe k = { broker, NULL, done };
  int p[2];

  make_pipe (p);
  stream = test_stream_new (broker, p[0], -1, TRUE);
  k.stream = MITOGEN_BASIC_STREAM (stream);

  g_assert_true (mitogen_broker_defer (broker, probe_registration, &k, NULL));
  g_assert_true (counter_wait (done, 1));
  g_assert_false (k.before);
  g_assert_true (k.after_start);
  g_assert_false (k.after_stop);

  shutdown_and_join (broker);
  close (p[1]);
}

/* Writes until the pipe takes no more. */
static void
fill_pipe (int fd)
{
  static const guint8 page[4096];
  struct pollfd pfd = { .fd = fd, .events = POLLOUT };

  g_assert_true (g_unix_set_fd_nonblocking (fd, TRUE, NULL));
  while (write (fd, page, sizeof page) > 0)
    ;
  while (write (fd, page, 1) > 0)
    ;
  g_assert_cmpint (errno, ==, EAGAIN);
  g_assert_cmpint (poll (&pfd, 1, 0), ==, 0);
}

static void
drain_pipe (int fd)
{
  guint8 buf[4096];

  g_assert_true (g_unix_set_fd_nonblocking (fd, TRUE, NULL));
  while (read (fd, buf, sizeof buf) > 0)
    ;
  g_assert_cmpint (errno, ==, EAGAIN);
}

static void
test_transmit_start_stop (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(TestStream) stream = NULL;
  MitogenBasicStream *bs;
  gint64 calls;
  int p[2];

  make_pipe (p);
  stream = test_stream_new (broker, -1, p[1], FALSE);
  bs = MITOGEN_BASIC_STREAM (stream);

  /* Full: not writable, so not called. */
  fill_pipe (p[1]);
  mitogen_broker_start_transmit (broker, bs);
  sync_broker (broker);
  g_assert_cmpint (events (stream, EV_TRANSMIT), ==, 0);

  /* Writable: called, and again while it stays so. */
  drain_pipe (p[0]);
  g_assert_true (counter_wait (stream->events[EV_TRANSMIT], 3));

  mitogen_broker_stop_transmit (broker, bs);
  round_trip (broker);
  /* The stop ran in that round trip's iteration, so no call can follow. */
  calls = events (stream, EV_TRANSMIT);
  sync_broker (broker);
  g_assert_cmpint (events (stream, EV_TRANSMIT), ==, calls);

  shutdown_and_join (broker);
  assert_on_broker_thread (stream);
  close (p[0]);
}

/* /broker/shutdown */

static void
test_shutdown_calls_every_stream (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(TestStream) keeper = NULL;
  g_autoptr(TestStream) plain = NULL;
  g_autoptr(TestStream) writer = NULL;
  TestStream *streams[3];
  int p1[2], p2[2], p3[2];

  make_pipe (p1);
  make_pipe (p2);
  make_pipe (p3);
  streams[0] = keeper = test_stream_new (broker, p1[0], -1, TRUE);
  streams[1] = plain = test_stream_new (broker, p2[0], -1, FALSE);
  /* Registered for transmitting only; the full pipe keeps it quiet. */
  streams[2] = writer = test_stream_new (broker, -1, p3[1], FALSE);
  fill_pipe (p3[1]);

  mitogen_broker_start_receive (broker, MITOGEN_BASIC_STREAM (keeper));
  mitogen_broker_start_receive (broker, MITOGEN_BASIC_STREAM (plain));
  mitogen_broker_start_transmit (broker, MITOGEN_BASIC_STREAM (writer));
  sync_broker (broker);
  mitogen_broker_set_shutdown_timeout (broker, ENDLESS_GRACE);
  shutdown_and_join (broker);

  for (guint i = 0; i < G_N_ELEMENTS (streams); i++)
    {
      g_assert_cmpint (events (streams[i], EV_SHUTDOWN), ==, 1);
      g_assert_cmpint (events (streams[i], EV_DISCONNECT_SIGNAL), ==, 1);
      g_assert_true (mitogen_basic_stream_is_disconnected (
                       MITOGEN_BASIC_STREAM (streams[i])));
      assert_on_broker_thread (streams[i]);
    }
  close (p1[1]);
  close (p2[1]);
  close (p3[0]);
}

/* A keep-alive stream that ignores on_shutdown holds the broker for the
 * whole grace period, then is disconnected by force. */
static void
test_shutdown_grace_period (void)
{
  const gint64 grace = 300 * 1000;
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(TestStream) stream = NULL;
  gint64 start;
  int p[2];

  make_pipe (p);
  stream = test_stream_new (broker, p[0], -1, TRUE);
  stream->disconnect_on_shutdown = FALSE;
  mitogen_broker_start_receive (broker, MITOGEN_BASIC_STREAM (stream));
  mitogen_broker_set_shutdown_timeout (broker, grace);
  g_assert_cmpint (mitogen_broker_get_shutdown_timeout (broker), ==, grace);
  sync_broker (broker);

  g_test_expect_message ("mitogen", G_LOG_LEVEL_MESSAGE, "*grace period*");
  start = g_get_monotonic_time ();
  shutdown_and_join (broker);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, grace);
  g_test_assert_expected_messages ();

  g_assert_cmpint (events (stream, EV_SHUTDOWN), ==, 1);
  g_assert_cmpint (events (stream, EV_DISCONNECT), ==, 1);
  g_assert_cmpint (events (stream, EV_DISCONNECT_SIGNAL), ==, 1);
  assert_on_broker_thread (stream);
  close (p[1]);
}

/* A keep-alive stream that disconnects when asked releases the broker at
 * once: with an endless grace period, only that lets join return. */
static void
test_shutdown_disconnecting_stream (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(TestStream) stream = NULL;
  int p[2];

  make_pipe (p);
  stream = test_stream_new (broker, p[0], -1, TRUE);
  mitogen_broker_start_receive (broker, MITOGEN_BASIC_STREAM (stream));
  mitogen_broker_set_shutdown_timeout (broker, ENDLESS_GRACE);
  sync_broker (broker);

  shutdown_and_join (broker);
  g_assert_cmpint (events (stream, EV_SHUTDOWN), ==, 1);
  g_assert_cmpint (events (stream, EV_DISCONNECT), ==, 1);
  g_assert_cmpint (events (stream, EV_DISCONNECT_SIGNAL), ==, 1);
  assert_on_broker_thread (stream);
  close (p[1]);
}

/* A side without keep-alive holds nothing up, even when its stream ignores
 * on_shutdown; the broker then disconnects it on the way out. */
static void
test_shutdown_ignores_non_keep_alive (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(TestStream) stream = NULL;
  int p[2];

  make_pipe (p);
  stream = test_stream_new (broker, p[0], -1, FALSE);
  stream->disconnect_on_shutdown = FALSE;
  mitogen_broker_start_receive (broker, MITOGEN_BASIC_STREAM (stream));
  mitogen_broker_set_shutdown_timeout (broker, ENDLESS_GRACE);
  sync_broker (broker);

  shutdown_and_join (broker);
  g_assert_cmpint (events (stream, EV_SHUTDOWN), ==, 1);
  g_assert_cmpint (events (stream, EV_DISCONNECT), ==, 1);
  g_assert_cmpint (events (stream, EV_DISCONNECT_SIGNAL), ==, 1);
  assert_on_broker_thread (stream);
  close (p[1]);
}

/* A stream's disconnect, made @times times over where the job runs. */
typedef struct {
  MitogenBroker *broker;
  MitogenBasicStream *stream;
  guint times;
} DisconnectJob;

static void
disconnect_job_run (gpointer data)
{
  DisconnectJob *job = data;

  for (guint i = 0; i < job->times; i++)
    mitogen_basic_stream_on_disconnect (job->stream, job->broker);
}

/* A stream that finishes its shutdown from another thread hands the broker
 * its disconnect with a defer: deferred work must still run during the
 * grace period, or only the end of the grace period lets join return. */
static void
test_shutdown_defer_during_grace (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(TestStream) stream = NULL;
  DisconnectJob job;
  int p[2];

  make_pipe (p);
  stream = test_stream_new (broker, p[0], -1, TRUE);
  stream->disconnect_on_shutdown = FALSE;
  job = (DisconnectJob) { broker, MITOGEN_BASIC_STREAM (stream), 1 };
  mitogen_broker_start_receive (broker, job.stream);
  mitogen_broker_set_shutdown_timeout (broker, ENDLESS_GRACE);
  sync_broker (broker);

  mitogen_broker_shutdown (broker);
  g_assert_true (counter_wait (stream->events[EV_SHUTDOWN], 1));
  g_assert_true (mitogen_broker_defer (broker, disconnect_job_run, &job, NULL));
  join_within_deadline (broker);

  g_assert_cmpint (events (stream, EV_DISCONNECT), ==, 1);
  g_assert_cmpint (events (stream, EV_DISCONNECT_SIGNAL), ==, 1);
  assert_on_broker_thread (stream);
  close (p[1]);
}

typedef struct {
  MitogenBroker *broker;
  gboolean finalized_by_unref;
  Counter *done;
} Unref;

static gpointer
unref_thread (gpointer data)
{
  Unref *u = data;
  MitogenBroker *weak = u->broker;

  g_object_add_weak_pointer (G_OBJECT (weak), (gpointer *) &weak);
  g_object_unref (u->broker);
  u->finalized_by_unref = weak == NULL;
  counter_add (u->done, 1);
  return NULL;
}

/* Unreffing a running broker shuts it down and joins it, right there, even
 * while a stream operation deferred from this thread is still queued. */
static void
test_unref_with_queued_operation (void)
{
  g_autoptr(Counter) done = counter_new ();
  g_autoptr(TestStream) stream = NULL;
  Unref u = { mitogen_broker_new (), FALSE, done };
  GThread *thread;
  int p[2];

  make_pipe (p);
  stream = test_stream_new (u.broker, p[0], -1, TRUE);
  mitogen_broker_start_receive (u.broker, MITOGEN_BASIC_STREAM (stream));
  /* From another thread, so that a finalize that never returns fails the
   * test at the safety deadline. */
  thread = g_thread_new ("unref", unref_thread, &u);
  g_assert_true (counter_wait (done, 1));
  g_thread_join (thread);

  g_assert_true (u.finalized_by_unref);
  /* The queued operation ran before the shutdown it preceded. */
  g_assert_cmpint (events (stream, EV_SHUTDOWN), ==, 1);
  g_assert_cmpint (events (stream, EV_DISCONNECT_SIGNAL), ==, 1);
  close (p[1]);
}

typedef struct {
  MitogenBroker *broker;
  gint emitted;    /* atomic */
  gint off_thread; /* atomic */
} ShutdownProbe;

static void
on_broker_shutdown (MitogenBroker *broker,
                    ShutdownProbe *probe)
{
  if (broker != probe->broker || !mitogen_broker_is_broker_thread (broker))
    g_atomic_int_inc (&probe->off_thread);
  g_atomic_int_inc (&probe->emitted);
}

static void
test_shutdown_signal (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  ShutdownProbe probe = { broker, 0, 0 };

  g_signal_connect (broker, "shutdown", G_CALLBACK (on_broker_shutdown),
                    &probe);
  round_trip (broker);
  g_assert_cmpint (g_atomic_int_get (&probe.emitted), ==, 0);

  shutdown_and_join (broker);
  g_assert_cmpint (g_atomic_int_get (&probe.emitted), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&probe.off_thread), ==, 0);
}

static void
test_disconnect_signal_once (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(TestStream) stream = NULL;
  DisconnectJob d;
  int p[2];

  make_pipe (p);
  stream = test_stream_new (broker, p[0], -1, TRUE);
  d = (DisconnectJob) { broker, MITOGEN_BASIC_STREAM (stream), 2 };
  mitogen_broker_start_receive (broker, d.stream);
  g_assert_true (mitogen_broker_defer (broker, disconnect_job_run, &d, NULL));
  sync_broker (broker);

  g_assert_cmpint (events (stream, EV_DISCONNECT), ==, 2);
  g_assert_cmpint (events (stream, EV_DISCONNECT_SIGNAL), ==, 1);
  g_assert_true (mitogen_basic_stream_is_disconnected (d.stream));
  g_assert_true (mitogen_side_is_closed (
                   mitogen_basic_stream_get_receive_side (d.stream)));

  /* Unregistered by the first call: shutdown does not come back to it. */
  shutdown_and_join (broker);
  g_assert_cmpint (events (stream, EV_SHUTDOWN), ==, 0);
  g_assert_cmpint (events (stream, EV_DISCONNECT_SIGNAL), ==, 1);
  assert_on_broker_thread (stream);
  close (p[1]);
}

/* /stream: two contexts in one process. A is the master (context 0), B its
 * child (context 1), each with a broker and router of its own, joined by a
 * socketpair. */

typedef struct {
  MitogenBroker *broker_a, *broker_b;
  MitogenRouter *router_a, *router_b;
  MitogenStream *stream_a; /* A's stream to B */
  MitogenStream *stream_b; /* B's stream to A */
  Counter *disconnected_a, *disconnected_b;
} Pair;

static void
on_stream_disconnect (MitogenStream *stream,
                      Counter *counter)
{
  counter_add (counter, 1);
}

/* @data: the max_message_size of B's router, or NULL for the default. */
static void
pair_setup (Pair *p,
            gconstpointer data)
{
  static const guint32 b_parents[] = { 0 };
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                   ==, 0);

  p->broker_a = mitogen_broker_new ();
  p->router_a = mitogen_router_new (p->broker_a);
  p->stream_a = mitogen_stream_new (p->router_a, 1, fds[0], fds[0]);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (p->stream_a), "a-to-b");

  p->broker_b = mitogen_broker_new ();
  p->router_b = mitogen_router_new (p->broker_b);
  mitogen_router_set_context_id (p->router_b, 1);
  mitogen_router_set_parent_ids (p->router_b, b_parents,
                                 G_N_ELEMENTS (b_parents));
  if (data)
    mitogen_router_set_max_message_size (p->router_b, GPOINTER_TO_SIZE (data));
  p->stream_b = mitogen_stream_new (p->router_b, 0, fds[1], fds[1]);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (p->stream_b), "b-to-a");
  mitogen_stream_set_is_privileged (p->stream_b, TRUE);

  p->disconnected_a = counter_new ();
  p->disconnected_b = counter_new ();
  g_signal_connect (p->stream_a, "disconnect",
                    G_CALLBACK (on_stream_disconnect), p->disconnected_a);
  g_signal_connect (p->stream_b, "disconnect",
                    G_CALLBACK (on_stream_disconnect), p->disconnected_b);

  mitogen_router_register (p->router_a, p->stream_a);
  mitogen_router_register (p->router_b, p->stream_b);
}

static void
pair_teardown (Pair *p,
               gconstpointer data)
{
  shutdown_and_join (p->broker_a);
  shutdown_and_join (p->broker_b);
  g_clear_object (&p->stream_a);
  g_clear_object (&p->stream_b);
  g_clear_object (&p->router_a);
  g_clear_object (&p->router_b);
  g_clear_object (&p->broker_a);
  g_clear_object (&p->broker_b);
  g_clear_pointer (&p->disconnected_a, counter_unref);
  g_clear_pointer (&p->disconnected_b, counter_unref);
}

/* A body whose every byte depends on its message and position, so that a
 * lost, repeated or misplaced byte shows. */
static GBytes *
make_body (guint tag,
           gsize len)
{
  guint8 *data = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) (tag * 31 + i * 7 + i / 4096);
  return g_bytes_new_take (data, len);
}

static MitogenReceiver *
pair_inbox (Pair *p)
{
  return mitogen_receiver_new (p->router_b, 0, TRUE, MITOGEN_CONTEXT_ID_NONE,
                               NULL);
}

static void
send_to_b (Pair *p,
           MitogenReceiver *inbox,
           guint tag,
           gsize len)
{
  g_autoptr(GBytes) body = make_body (tag, len);
  g_autoptr(MitogenMessage) msg =
    mitogen_message_new_from_bytes (1, mitogen_receiver_get_handle (inbox),
                                    body);

  mitogen_router_route (p->router_a, msg);
}

static void
assert_received (MitogenReceiver *inbox,
                 guint tag,
                 gsize len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = mitogen_receiver_get (inbox, WAIT, NULL,
                                                        &error);
  g_autoptr(GBytes) expected = make_body (tag, len);
  gsize got_len;
  const guint8 *got;

  g_assert_no_error (error);
  g_assert_cmpuint (mitogen_message_get_src_id (msg), ==, 0);
  g_assert_cmpuint (mitogen_message_get_auth_id (msg), ==, 0);
  g_assert_cmpuint (mitogen_message_get_dst_id (msg), ==, 1);
  g_assert_cmpuint (mitogen_message_get_handle (msg), ==,
                    mitogen_receiver_get_handle (inbox));
  got = g_bytes_get_data (mitogen_message_get_bytes (msg), &got_len);
  g_assert_cmpmem (got, got_len, g_bytes_get_data (expected, NULL), len);
}

static void
test_stream_many_in_order (Pair *p,
                           gconstpointer data)
{
  g_autoptr(MitogenReceiver) inbox = pair_inbox (p);
  const guint count = 10000;

  for (guint i = 0; i < count; i++)
    send_to_b (p, inbox, i, 1 + i % 97);
  for (guint i = 0; i < count; i++)
    assert_received (inbox, i, 1 + i % 97);
  g_assert_true (mitogen_receiver_empty (inbox));
}

/* Gate: blocks a broker in a deferred function until released, so that
 * its descriptors go unread. */

typedef struct {
  Counter *entered;
  Counter *released;
  Counter *left;
  gboolean timed_out;
  MitogenDeferFunc then;
  gpointer then_data;
} Gate;

static void
gate_block (gpointer data)
{
  Gate *g = data;

  counter_add (g->entered, 1);
  /* Bounded, so that a failing test cannot hold the broker for ever. */
  g->timed_out = !counter_wait (g->released, 1);
  if (g->then)
    g->then (g->then_data);
  counter_add (g->left, 1);
}

static void
gate_init (Gate *g,
           MitogenBroker *broker,
           MitogenDeferFunc then,
           gpointer then_data)
{
  *g = (Gate) { counter_new (), counter_new (), counter_new (), FALSE,
                then, then_data };
  g_assert_true (mitogen_broker_defer (broker, gate_block, g, NULL));
  g_assert_true (counter_wait (g->entered, 1));
}

/* Releases the broker and waits for it to be done with @g. */
static void
gate_release (Gate *g)
{
  counter_add (g->released, 1);
  g_assert_true (counter_wait (g->left, 1));
  g_assert_false (g->timed_out);
  counter_unref (g->entered);
  counter_unref (g->released);
  counter_unref (g->left);
}

typedef struct {
  MitogenStream *stream;
  MitogenMessage *msg;
  gboolean sent;
  Counter *done;
} SendJob;

static gpointer
send_thread (gpointer data)
{
  SendJob *job = data;

  job->sent = mitogen_stream_send (job->stream, job->msg);
  counter_add (job->done, 1);
  return NULL;
}

/* Sends from another thread, so that a send that blocks fails the test at
 * the safety deadline instead of deadlocking it. */
static gboolean
send_without_blocking (MitogenStream *stream,
                       MitogenMessage *msg)
{
  g_autoptr(Counter) done = counter_new ();
  SendJob job = { stream, msg, FALSE, done };
  GThread *thread = g_thread_new ("sender", send_thread, &job);

  if (!counter_wait (done, 1))
    g_error ("mitogen_stream_send() blocked on a busy peer");
  g_thread_join (thread);
  return job.sent;
}

static MitogenMessage *
message_to_b (MitogenReceiver *inbox,
              guint tag,
              gsize len)
{
  g_autoptr(GBytes) body = make_body (tag, len);
  MitogenMessage *msg =
    mitogen_message_new_from_bytes (1, mitogen_receiver_get_handle (inbox),
                                    body);

  /* Sent on the stream directly, so stamped here as the router would. */
  mitogen_message_set_src_id (msg, 0);
  mitogen_message_set_auth_id (msg, 0);
  return msg;
}

static gboolean
nothing_pending (gpointer data)
{
  return mitogen_stream_get_pending_bytes (data) == 0;
}

#define BIG (8 * 1024 * 1024)

static void
test_stream_busy_peer (Pair *p,
                       gconstpointer data)
{
  g_autoptr(MitogenReceiver) inbox = pair_inbox (p);
  g_autoptr(MitogenMessage) big = message_to_b (inbox, 1, BIG);
  g_autoptr(MitogenMessage) small = message_to_b (inbox, 2, 100);
  Gate gate;

  gate_init (&gate, p->broker_b, NULL, NULL);
  g_assert_true (send_without_blocking (p->stream_a, big));
  /* No socket buffer holds 8 MiB: the rest waits for the broker. */
  g_assert_cmpuint (mitogen_stream_get_pending_bytes (p->stream_a), >, 0);
  /* Queued behind the remainder of the big one. */
  g_assert_true (send_without_blocking (p->stream_a, small));
  gate_release (&gate);

  assert_received (inbox, 1, BIG);
  assert_received (inbox, 2, 100);
  g_assert_true (poll_until (nothing_pending, p->stream_a));
  g_assert_cmpuint (mitogen_stream_get_bytes_sent (p->stream_a), ==,
                    2 * MITOGEN_MESSAGE_HEADER_SIZE + BIG + 100);
  g_assert_cmpint (counter_get (p->disconnected_a), ==, 0);
  g_assert_cmpint (counter_get (p->disconnected_b), ==, 0);
}

/* On B's broker thread: takes in part of the request, then closes B's
 * end. */
static void
receive_some_then_close_b (gpointer data)
{
  Pair *p = data;

  mitogen_basic_stream_on_receive (MITOGEN_BASIC_STREAM (p->stream_b),
                                   p->broker_b);
  mitogen_stream_close (p->stream_b, "closed by the test");
}

static void
test_stream_peer_closes_mid_transfer (Pair *p,
                                      gconstpointer data)
{
  g_autoptr(MitogenReceiver) inbox = pair_inbox (p);
  g_autoptr(MitogenReceiver) reply =
    mitogen_receiver_new (p->router_a, 0, FALSE, 1, NULL);
  g_autoptr(MitogenMessage) request = message_to_b (inbox, 1, BIG);
  g_autoptr(MitogenMessage) got = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *reason;
  guint64 received;
  Gate gate;

  mitogen_message_set_reply_to (request, mitogen_receiver_get_handle (reply));
  gate_init (&gate, p->broker_b, receive_some_then_close_b, p);
  mitogen_router_route (p->router_a, request);
  g_assert_cmpuint (mitogen_stream_get_pending_bytes (p->stream_a), >, 0);
  gate_release (&gate);

  g_assert_true (counter_wait (p->disconnected_b, 1));
  received = mitogen_stream_get_bytes_received (p->stream_b);
  g_assert_cmpuint (received, >, 0);
  g_assert_cmpuint (received, <, MITOGEN_MESSAGE_HEADER_SIZE + BIG);
  g_assert_cmpstr (mitogen_stream_get_disconnect_reason (p->stream_b), ==,
                   "closed by the test");

  g_assert_true (counter_wait (p->disconnected_a, 1));
  reason = mitogen_stream_get_disconnect_reason (p->stream_a);
  g_assert_nonnull (reason);
  g_assert_cmpstr (reason, !=, "");

  got = mitogen_receiver_get (reply, WAIT, NULL, &error);
  g_assert_null (got);
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_assert_true (mitogen_receiver_empty (inbox));
  g_assert_cmpint (counter_get (p->disconnected_a), ==, 1);
  g_assert_cmpint (counter_get (p->disconnected_b), ==, 1);
}

static void
test_stream_first_reason_kept (Pair *p,
                               gconstpointer data)
{
  mitogen_stream_close (p->stream_a, "first");
  mitogen_stream_close (p->stream_a, "second");
  g_assert_true (counter_wait (p->disconnected_a, 1));
  sync_broker (p->broker_a);
  g_assert_cmpint (counter_get (p->disconnected_a), ==, 1);
  g_assert_cmpstr (mitogen_stream_get_disconnect_reason (p->stream_a), ==,
                   "first");
  /* And the peer sees its end close. */
  g_assert_true (counter_wait (p->disconnected_b, 1));
}

#define SMALL_MAX 1024

static void
test_stream_max_message_size (Pair *p,
                              gconstpointer data)
{
  g_autoptr(MitogenReceiver) inbox = pair_inbox (p);
  const gchar *reason;

  g_assert_cmpuint (mitogen_stream_get_max_message_size (p->stream_b), ==,
                    SMALL_MAX);
  g_test_expect_message ("mitogen", G_LOG_LEVEL_MESSAGE, "*max_message_size*");
  /* The limit itself passes; one byte more does not. */
  send_to_b (p, inbox, 1, SMALL_MAX);
  send_to_b (p, inbox, 2, SMALL_MAX + 1);

  g_assert_true (counter_wait (p->disconnected_b, 1));
  g_test_assert_expected_messages ();
  reason = mitogen_stream_get_disconnect_reason (p->stream_b);
  g_assert_nonnull (reason);
  g_assert_nonnull (strstr (reason, "max_message_size"));

  assert_received (inbox, 1, SMALL_MAX);
  g_assert_true (mitogen_receiver_empty (inbox));
  g_assert_true (counter_wait (p->disconnected_a, 1));
}

static guint
count_open_fds (void)
{
  g_autoptr(GError) error = NULL;
  GDir *dir = g_dir_open ("/proc/self/fd", 0, &error);
  guint n = 0;

  g_assert_no_error (error);
  while (g_dir_read_name (dir))
    n++;
  g_dir_close (dir);
  return n;
}

static void
pair_round (void)
{
  Pair p = { 0 };
  g_autoptr(MitogenReceiver) inbox = NULL;

  pair_setup (&p, NULL);
  inbox = pair_inbox (&p);
  send_to_b (&p, inbox, 1, 10);
  assert_received (inbox, 1, 10);
  g_clear_object (&inbox);
  pair_teardown (&p, NULL);
}

static void
test_stream_no_fd_leak (void)
{
  guint before = count_open_fds ();

  pair_round ();
  g_assert_cmpuint (count_open_fds (), ==, before);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/broker/defer/threads", test_defer_threads);
  g_test_add_func ("/broker/defer/on-broker-thread-runs-at-once",
                   test_defer_on_broker_thread_runs_at_once);
  g_test_add_func ("/broker/defer/after-join", test_defer_after_join);
  g_test_add_func ("/broker/receive/start-stop", test_receive_start_stop);
  g_test_add_func ("/broker/receive/on-broker-thread",
                   test_receive_on_broker_thread);
  g_test_add_func ("/broker/transmit/start-stop", test_transmit_start_stop);
  g_test_add_func ("/broker/shutdown/calls-every-stream",
                   test_shutdown_calls_every_stream);
  g_test_add_func ("/broker/shutdown/grace-period", test_shutdown_grace_period);
  g_test_add_func ("/broker/shutdown/disconnecting-stream",
                   test_shutdown_disconnecting_stream);
  g_test_add_func ("/broker/shutdown/ignores-non-keep-alive",
                   test_shutdown_ignores_non_keep_alive);
  g_test_add_func ("/broker/shutdown/signal", test_shutdown_signal);
  g_test_add_func ("/broker/shutdown/defer-during-grace",
                   test_shutdown_defer_during_grace);
  g_test_add_func ("/broker/unref-with-queued-operation",
                   test_unref_with_queued_operation);
  g_test_add_func ("/stream/basic/disconnect-signal-once",
                   test_disconnect_signal_once);

#define ADD(path, fn, data) \
  g_test_add ("/stream/" path, Pair, data, pair_setup, fn, pair_teardown)
  ADD ("many-in-order", test_stream_many_in_order, NULL);
  ADD ("busy-peer", test_stream_busy_peer, NULL);
  ADD ("peer-closes-mid-transfer", test_stream_peer_closes_mid_transfer, NULL);
  ADD ("first-reason-kept", test_stream_first_reason_kept, NULL);
  ADD ("max-message-size", test_stream_max_message_size,
       GSIZE_TO_POINTER (SMALL_MAX));
#undef ADD
  g_test_add_func ("/stream/no-fd-leak", test_stream_no_fd_leak);

  return g_test_run ();
}
