/* Context ids across a tree: a context other than the master starts
 * children of its own with ids from ranges the master hands out
 * (ALLOCATE_ID), the master routes to them once ADD_ROUTE reaches it, and
 * ALLOCATE_ID from a misbehaving context, or without a master to answer,
 * fails cleanly. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Long enough never to be hit by a working implementation, short enough
 * that a broken one fails instead of hanging the suite. */
#define WAIT MITOGEN_TEST_WAIT

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *a;
} Fixture;

static void
setup (Fixture *f,
       gconstpointer data)
{
  mitogen_test_master_new (&f->broker, &f->router);
  mitogen_module_responder_add_path (mitogen_module_responder_get_for_router (f->router),
                                     MITOGEN_TEST_MODULES_DIR);
  if (data)
    mitogen_router_set_id_quota (f->router, GPOINTER_TO_UINT (data));
  f->a = mitogen_test_connect (f->router, "local", NULL, NULL);
}

static void
teardown (Fixture *f,
          gconstpointer data)
{
  mitogen_test_master_stop (f->broker, f->a);
  g_clear_object (&f->a);
  mitogen_test_master_clear (&f->broker, &f->router);
}

/* Has @parent start a local child of its own, and returns a handle on it
 * made from what the function returned: the master chose nothing. */
static MitogenContext *
spawn_from (Fixture *f,
            MitogenContext *parent)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  const gchar *name;
  guint32 id;

  result = mitogen_context_call (parent, "spawner.connect",
                                 g_variant_new ("(s)", "local"), NULL, &error);
  g_assert_no_error (error);
  g_variant_get (result, "(u&s)", &id, &name);
  g_assert_cmpuint (id, !=, 0);
  g_assert_cmpuint (id, !=, MITOGEN_CONTEXT_ID_NONE);
  return mitogen_context_new (f->router, id, name);
}

static guint32
master_allocate (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  guint32 id = mitogen_router_allocate_id_full (f->router, NULL, &error);

  g_assert_no_error (error);
  return id;
}

static void
test_child_starts_its_own (Fixture *f,
                           gconstpointer data)
{
  g_autoptr(MitogenContext) b = NULL;
  g_autoptr(MitogenContext) b2 = NULL;
  g_autoptr(MitogenStream) route = NULL;
  guint32 a_id = mitogen_context_get_context_id (f->a);
  guint32 before = master_allocate (f);
  guint32 b_id, b2_id, after;
  gint a_pid, b_pid;

  b = spawn_from (f, f->a);
  b_id = mitogen_context_get_context_id (b);
  after = master_allocate (f);
  g_test_message ("A is %u; A started B as %u; the master's ids: %u before, "
                  "%u after", a_id, b_id, before, after);

  /* B's id came from a range the master handed out between the two it
   * allocated for itself. */
  g_assert_cmpuint (b_id, !=, a_id);
  g_assert_cmpuint (b_id, >, before);
  g_assert_cmpuint (b_id, <, after);

  /* ADD_ROUTE reached the master ahead of the reply: it routes to B
   * through A, under the name A gave it. */
  route = mitogen_router_stream_by_id (f->router, b_id);
  g_assert_true (route == mitogen_context_get_stream (f->a));
  g_assert_cmpstr (mitogen_context_get_name (b), !=, "");
  {
    g_autofree gchar *known = mitogen_router_dup_context_name (f->router, b_id);
    g_assert_cmpstr (known, ==, mitogen_context_get_name (b));
  }

  a_pid = mitogen_test_getpid (f->a);
  b_pid = mitogen_test_getpid (b);
  g_assert_cmpint (b_pid, !=, a_pid);
  g_assert_cmpint (b_pid, !=, getpid ());

  /* A second child takes the next id of A's range, and a child of the
   * master's own a fresh one. */
  b2 = spawn_from (f, f->a);
  b2_id = mitogen_context_get_context_id (b2);
  g_assert_cmpuint (b2_id, !=, b_id);
  g_assert_cmpuint (b2_id, >, before);
  g_assert_cmpuint (b2_id, <, after);
  g_assert_cmpint (mitogen_test_getpid (b2), !=, b_pid);
}

/* Three levels, each started by the one above it on its own: B asks the
 * master for ids through A, and C's route climbs two routers. */
static void
test_grandchild_starts_its_own (Fixture *f,
                                gconstpointer data)
{
  g_autoptr(MitogenContext) b = spawn_from (f, f->a);
  g_autoptr(MitogenContext) c = spawn_from (f, b);
  guint32 ids[] = { mitogen_context_get_context_id (f->a),
                    mitogen_context_get_context_id (b),
                    mitogen_context_get_context_id (c) };
  gint pids[] = { mitogen_test_getpid (f->a), mitogen_test_getpid (b), mitogen_test_getpid (c) };

  for (guint i = 0; i < 3; i++)
    for (guint j = i + 1; j < 3; j++)
      {
        g_assert_cmpuint (ids[i], !=, ids[j]);
        g_assert_cmpint (pids[i], !=, pids[j]);
      }
}

/* The master still allocates the ids of children started through A with
 * @via, and they never meet those of A's own range. */
static void
test_via_and_own_ids_differ (Fixture *f,
                             gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  MitogenContext *made[6] = { NULL };

  for (guint i = 0; i < G_N_ELEMENTS (made); i++)
    {
      guint32 id;

      if (i % 2 == 0)
        {
          made[i] = mitogen_router_connect_context (
              f->router, "local", mitogen_test_connect_options (NULL), f->a,
              NULL, &error);
          g_assert_no_error (error);
        }
      else
        made[i] = spawn_from (f, f->a);
      id = mitogen_context_get_context_id (made[i]);
      g_assert_false (g_hash_table_contains (seen, GUINT_TO_POINTER (id)));
      g_hash_table_add (seen, GUINT_TO_POINTER (id));
      mitogen_test_getpid (made[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (made); i++)
    g_object_unref (made[i]);
}

static gboolean
ask_ids (Fixture *f,
         GVariant *body,
         gboolean want_reply,
         guint32 *start,
         guint32 *count,
         GError **error)
{
  g_autoptr(GVariant) result = NULL;

  result = mitogen_context_call (f->a, "spawner.ask_ids",
                                 g_variant_new ("(@mvb)",
                                                g_variant_new_maybe (
                                                  G_VARIANT_TYPE_VARIANT,
                                                  body ? g_variant_new_variant (body)
                                                       : NULL),
                                                want_reply),
                                 NULL, error);
  if (!result)
    return FALSE;
  g_variant_get (result, "(uu)", start, count);
  return TRUE;
}

static void
assert_refused (Fixture *f,
                GVariant *body,
                const gchar *why)
{
  g_autoptr(GError) error = NULL;
  guint32 start, count;

  g_assert_false (ask_ids (f, body, TRUE, &start, &count, &error));
  g_test_message ("refused: %s", error->message);
  g_assert_nonnull (strstr (error->message, why));
}

static void
test_hostile_requests (Fixture *f,
                       gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint32 start, count, next;

  assert_refused (f, g_variant_new ("(s)", "gimme"), "ALLOCATE_ID takes (u)");
  assert_refused (f, g_variant_new_uint32 (5), "ALLOCATE_ID takes (u)");
  assert_refused (f, g_variant_new ("(u)", 0), "asked for no ids");

  /* Asking for all of them gets a block, no more. */
  g_assert_true (ask_ids (f, g_variant_new ("(u)", G_MAXUINT32), TRUE, &start,
                          &count, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count, >, 0);
  g_assert_cmpuint (count, <=, 4096);
  next = master_allocate (f);
  g_assert_cmpuint (next, >=, start + count);

  /* No body is a request for the usual block. */
  g_assert_true (ask_ids (f, NULL, TRUE, &start, &count, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (start, >, next);
  g_assert_cmpuint (count, >, 0);

  /* Nowhere to answer: nothing is sent, nothing breaks. */
  g_assert_true (ask_ids (f, g_variant_new ("(u)", 10), FALSE, &start, &count,
                          &error));
  g_assert_no_error (error);

  /* The master is still answering, and still handing out fresh ids. */
  g_assert_true (ask_ids (f, g_variant_new ("(u)", 1), TRUE, &start, &count,
                          &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count, ==, 1);
  g_assert_cmpuint (start, >, next);
  mitogen_test_getpid (f->a);
}

#define SMALL_QUOTA 200

/* One branch of the tree cannot take more than its quota of ids. */
static void
test_quota (Fixture *f,
            gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) id = NULL;
  guint32 start, count, total = 0;

  g_assert_cmpuint (mitogen_router_get_id_quota (f->router), ==, SMALL_QUOTA);
  while (total < SMALL_QUOTA)
    {
      g_assert_true (ask_ids (f, g_variant_new ("(u)", 128), TRUE, &start,
                              &count, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (count, >, 0);
      total += count;
    }
  g_assert_cmpuint (total, ==, SMALL_QUOTA);
  assert_refused (f, g_variant_new ("(u)", 1), "quota of 200 context ids");

  /* The context's own allocator reports the refusal as an error. */
  id = mitogen_context_call (f->a, "spawner.allocate_id", NULL, NULL, &error);
  g_assert_null (id);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "cannot get context ids from the master"));
  g_assert_nonnull (strstr (error->message, "quota"));

  /* The master itself is not bound by it. */
  master_allocate (f);
}

/* Without a route to the master, a context's allocator fails at once. */
static void
test_no_master (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(MitogenRouter) router = mitogen_router_new (broker);
  g_autoptr(GError) error = NULL;
  const guint32 parents[] = { 0 };
  gint64 start = g_get_monotonic_time ();

  mitogen_router_set_context_id (router, 5);
  mitogen_router_set_parent_ids (router, parents, G_N_ELEMENTS (parents));
  g_assert_cmpuint (mitogen_router_allocate_id_full (router, NULL, &error), ==,
                    MITOGEN_CONTEXT_ID_NONE);
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "cannot get context ids from the master"));
  g_assert_cmpint (g_get_monotonic_time () - start, <, WAIT);

  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
}

typedef struct {
  MitogenRouter *router;
  MitogenLatch *done;
} OnBroker;

static void
allocate_on_broker (gpointer data)
{
  OnBroker *o = data;
  GError *error = NULL;

  g_assert_cmpuint (mitogen_router_allocate_id_full (o->router, NULL, &error), ==,
                    MITOGEN_CONTEXT_ID_NONE);
  mitogen_latch_put (o->done, error, NULL);
}

/* A master and a child in this process, linked by a socketpair. */
typedef struct {
  MitogenBroker *broker;
  MitogenRouter *master;
  MitogenRouter *child;
  MitogenStream *down; /* the master's stream to the child */
  MitogenStream *up;   /* the child's stream to the master */
  int fds[2];
  MitogenLatch *requests;
} Pair;

#define CHILD_ID 7

static void
pair_setup (Pair *p,
            gconstpointer data)
{
  const guint32 parents[] = { 0 };

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fds), ==, 0);
  p->broker = mitogen_broker_new ();
  p->master = mitogen_router_new (p->broker);
  p->child = mitogen_router_new (p->broker);
  mitogen_router_set_context_id (p->child, CHILD_ID);
  mitogen_router_set_parent_ids (p->child, parents, 1);
  p->requests = mitogen_latch_new ();

  p->down = mitogen_stream_new (p->master, CHILD_ID, p->fds[0], p->fds[0]);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (p->down), "child");
  mitogen_router_register (p->master, p->down);
  p->up = mitogen_stream_new (p->child, 0, p->fds[1], p->fds[1]);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (p->up), "parent");
  mitogen_stream_set_is_privileged (p->up, TRUE);
  mitogen_router_register (p->child, p->up);
}

static void
pair_teardown (Pair *p,
               gconstpointer data)
{
  mitogen_broker_shutdown (p->broker);
  mitogen_broker_join (p->broker);
  g_clear_object (&p->down);
  g_clear_object (&p->up);
  g_clear_object (&p->child);
  g_clear_object (&p->master);
  g_clear_object (&p->broker);
  g_clear_object (&p->requests);
}

static void
test_pair_ranges (Pair *p,
                  gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  g_autoptr(MitogenLatch) done = mitogen_latch_new ();
  OnBroker o = { p->child, done };
  GError *broker_error;

  /* With no range yet, the broker thread must not wait for a reply only
   * it could read. */
  g_assert_true (mitogen_broker_defer (p->broker, allocate_on_broker, &o, NULL));
  broker_error = mitogen_latch_get (done, WAIT, TRUE, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("%s", broker_error->message);
  g_assert_true (g_error_matches (broker_error, MITOGEN_TIMEOUT_ERROR,
                                  MITOGEN_TIMEOUT_ERROR_WOULD_BLOCK));
  g_error_free (broker_error);

  /* Several ranges' worth, each id once, never one of the master's own. */
  for (guint i = 0; i < 1000; i++)
    {
      guint32 id = mitogen_router_allocate_id_full (p->child, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (id, >, 0);
      g_assert_cmpuint (id, !=, MITOGEN_CONTEXT_ID_NONE);
      g_assert_false (g_hash_table_contains (seen, GUINT_TO_POINTER (id)));
      g_hash_table_add (seen, GUINT_TO_POINTER (id));
      if (i % 100 == 0)
        {
          guint32 own = mitogen_router_allocate_id_full (p->master, NULL, &error);

          g_assert_no_error (error);
          g_assert_false (g_hash_table_contains (seen, GUINT_TO_POINTER (own)));
          g_hash_table_add (seen, GUINT_TO_POINTER (own));
        }
    }
}

typedef struct {
  gboolean done;
  guint32 id;
  GError *error;
} AsyncResult;

static void
on_allocated (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  AsyncResult *r = user_data;

  r->id = mitogen_router_allocate_id_finish (MITOGEN_ROUTER (source), result,
                                             &r->error);
  r->done = TRUE;
}

static gboolean
on_timeout (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the default main context until @r is done, for at most WAIT. */
static void
wait_async (AsyncResult *r)
{
  gboolean timed_out = FALSE;
  guint timeout = g_timeout_add (WAIT / 1000, on_timeout, &timed_out);

  while (!r->done && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (timeout);
}

static void
test_pair_async (Pair *p,
                 gconstpointer data)
{
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  AsyncResult r = { 0 };

  g_cancellable_cancel (cancelled);
  mitogen_router_allocate_id_async (p->child, cancelled, on_allocated, &r);
  wait_async (&r);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (r.id, ==, MITOGEN_CONTEXT_ID_NONE);
  g_clear_error (&r.error);

  r = (AsyncResult) { 0 };
  mitogen_router_allocate_id_async (p->child, NULL, on_allocated, &r);
  wait_async (&r);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.id, >, 0);
  g_assert_cmpuint (r.id, !=, MITOGEN_CONTEXT_ID_NONE);
}

static void
swallow_request (MitogenMessage *msg,
                 gpointer user_data)
{
  Pair *p = user_data;

  mitogen_latch_put (p->requests, GUINT_TO_POINTER (1), NULL);
}

typedef struct {
  MitogenRouter *router;
  GError *error;
  guint32 id;
  gint64 done_at;
} Allocation;

static gpointer
allocate_thread (gpointer data)
{
  Allocation *a = data;

  a->id = mitogen_router_allocate_id_full (a->router, NULL, &a->error);
  a->done_at = g_get_monotonic_time ();
  return NULL;
}

/* The master goes while a context waits for ids: the wait ends at once,
 * with an error that says what happened. */
static void
test_pair_master_gone (Pair *p,
                       gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  Allocation a = { p->child, NULL, 0, 0 };
  GThread *thread;
  gint64 gone_at;

  /* A master that takes the request and never answers. */
  mitogen_router_add_handler (p->master, MITOGEN_HANDLE_ALLOCATE_ID,
                              MITOGEN_HANDLER_PERSIST | MITOGEN_HANDLER_OVERWRITE,
                              MITOGEN_CONTEXT_ID_NONE, NULL, swallow_request, p,
                              NULL);
  thread = g_thread_new ("allocate", allocate_thread, &a);
  g_assert_nonnull (mitogen_latch_get (p->requests, WAIT, TRUE, NULL, &error));
  g_assert_no_error (error);

  gone_at = g_get_monotonic_time ();
  shutdown (p->fds[0], SHUT_RDWR);
  g_thread_join (thread);

  g_assert_cmpuint (a.id, ==, MITOGEN_CONTEXT_ID_NONE);
  g_assert_error (a.error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_test_message ("%s (after %" G_GINT64_FORMAT " µs)", a.error->message,
                  a.done_at - gone_at);
  g_assert_nonnull (strstr (a.error->message, "cannot get context ids from the master"));
  g_assert_cmpint (a.done_at - gone_at, <, WAIT);
  g_clear_error (&a.error);
}

/* ---------------------------------------------------------------------- */
/* Route authority: a child announces only ids allocated to its branch */

static gint n_refusal_logs; /* atomic */

/* Counts the master's refusal lines, to show one per stream. */
static void
count_refusal_logs (const gchar *domain,
                    GLogLevelFlags level,
                    const gchar *message,
                    gpointer user_data)
{
  if (strstr (message, "may not add a route")
      || strstr (message, "may not remove the route"))
    g_atomic_int_inc (&n_refusal_logs);
  g_test_message ("%s-%s", domain, message);
}

static guint32
announce (MitogenContext *ctx, guint32 first, guint32 count, const gchar *name)
{
  g_autoptr (GVariant) v = mitogen_test_call_ok (
      ctx, "hostile.announce", g_variant_new ("(uus)", first, count, name));

  return g_variant_get_uint32 (v);
}

static void
withdraw (MitogenContext *ctx, guint32 id)
{
  g_autoptr (GVariant) v = mitogen_test_call_ok (ctx, "hostile.withdraw",
                                                 g_variant_new ("(u)", id));
}

#define SQUAT 2000

/* A announces the ids the master hands out next. A context then started
 * via B takes one of them, and still gets its route and its calls: A's
 * announcements were refused, counted, and logged once. */
static void
test_route_squatting (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenContext) b
      = mitogen_test_connect (f->router, "local", NULL, NULL);
  g_autoptr (MitogenContext) c = NULL;
  g_autoptr (MitogenStream) route = NULL;
  guint refused = mitogen_router_get_n_refused_routes (f->router);
  gint logged = g_atomic_int_get (&n_refusal_logs);
  guint32 next = master_allocate (f) + 1;
  guint32 c_id;

  g_assert_cmpuint (announce (f->a, next, SQUAT, "squatter"), ==, SQUAT);
  g_assert_cmpuint (mitogen_router_get_n_refused_routes (f->router) - refused,
                    ==, SQUAT);
  g_assert_cmpint (g_atomic_int_get (&n_refusal_logs) - logged, ==, 1);
  route = mitogen_router_stream_by_id (f->router, next);
  g_assert_null (route);

  c = mitogen_router_connect_context (f->router, "local", NULL, b, NULL,
                                      &error);
  g_assert_no_error (error);
  c_id = mitogen_context_get_context_id (c);
  g_test_message ("A claimed [%u, %u); C, via B, is %u", next, next + SQUAT,
                  c_id);
  g_assert_cmpuint (c_id, >=, next);
  g_assert_cmpuint (c_id, <, next + SQUAT);
  route = mitogen_router_stream_by_id (f->router, c_id);
  g_assert_true (route == mitogen_context_get_stream (b));
  g_assert_cmpint (mitogen_test_getpid (c), !=, mitogen_test_getpid (f->a));
  g_assert_cmpint (mitogen_test_getpid (c), !=, mitogen_test_getpid (b));

  /* A cannot take C's route now either, nor withdraw it, nor its own. */
  g_assert_cmpuint (announce (f->a, c_id, 1, "squatter"), ==, 1);
  withdraw (f->a, c_id);
  withdraw (f->a, mitogen_context_get_context_id (f->a));
  g_assert_cmpuint (mitogen_router_get_n_refused_routes (f->router) - refused,
                    ==, SQUAT + 3);
  g_assert_cmpint (g_atomic_int_get (&n_refusal_logs) - logged, ==, 1);
  g_clear_object (&route);
  route = mitogen_router_stream_by_id (f->router, c_id);
  g_assert_true (route == mitogen_context_get_stream (b));
  g_clear_object (&route);
  route = mitogen_router_stream_by_id (f->router,
                                       mitogen_context_get_context_id (f->a));
  g_assert_true (route == mitogen_context_get_stream (f->a));
  g_assert_cmpint (mitogen_test_getpid (c), !=, mitogen_test_getpid (f->a));

  /* B, to which C's id went, may withdraw it. */
  withdraw (b, c_id);
  g_assert_cmpuint (mitogen_router_get_n_refused_routes (f->router) - refused,
                    ==, SQUAT + 3);
  g_clear_object (&route);
  route = mitogen_router_stream_by_id (f->router, c_id);
  g_assert_null (route);
  mitogen_test_shutdown_ok (b);
}

/* An intermediate context holds the line too: B, A's child, cannot
 * announce ids outside its own ranges, and A does not pass them on, while
 * a context started via B still gets its route through both. */
static void
test_route_authority_in_chain (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenContext) b = spawn_from (f, f->a);
  g_autoptr (MitogenContext) c = NULL;
  g_autoptr (MitogenStream) route = NULL;
  guint refused = mitogen_router_get_n_refused_routes (f->router);
  guint32 next = master_allocate (f) + 1;

  g_assert_cmpuint (announce (b, next, 10, "squatter"), ==, 10);
  /* A answered B's call after handling B's announcements. */
  g_assert_cmpuint (mitogen_router_get_n_refused_routes (f->router), ==,
                    refused);
  route = mitogen_router_stream_by_id (f->router, next);
  g_assert_null (route);

  c = mitogen_router_connect_context (f->router, "local", NULL, b, NULL,
                                      &error);
  g_assert_no_error (error);
  route = mitogen_router_stream_by_id (f->router,
                                       mitogen_context_get_context_id (c));
  g_assert_true (route == mitogen_context_get_stream (f->a));
  g_assert_cmpint (mitogen_test_getpid (c), !=, mitogen_test_getpid (b));
}

#define N_NAMES 100000
#define LONG_NAME_LENGTH 1000

/* 100,000 contexts announced with long names cost the master little,
 * and nothing once the child they are behind is gone: names, routes, the
 * record of ids granted and of modules sent go with the routes. */
static void
test_route_state_freed (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ranges = g_array_new (FALSE, FALSE, sizeof (guint32) * 2);
  g_autofree gchar *long_name = g_strnfill (LONG_NAME_LENGTH, 'x');
  MitogenModuleResponder *responder
      = mitogen_module_responder_get_for_router (f->router);
  guint refused = mitogen_router_get_n_refused_routes (f->router);
  guint32 total = 0;

  while (total < N_NAMES)
    {
      guint32 range[2];

      g_assert_true (ask_ids (f, g_variant_new ("(u)", 4096), TRUE, &range[0],
                              &range[1], &error));
      g_assert_no_error (error);
      g_array_append_val (ranges, range);
      total += announce (f->a, range[0], range[1], long_name);
    }
  g_assert_cmpuint (mitogen_router_get_n_refused_routes (f->router), ==,
                    refused);
  {
    guint32 first = ((guint32 *) ranges->data)[0];
    g_autofree gchar *name = mitogen_router_dup_context_name (f->router, first);
    g_autoptr (MitogenStream) route
        = mitogen_router_stream_by_id (f->router, first);

    g_assert_cmpuint (strlen (name), ==, 255);
    g_assert_true (route == mitogen_context_get_stream (f->a));
  }
  g_assert_cmpuint (mitogen_module_responder_get_n_contexts (responder), ==, 1);
  g_assert_cmpuint (mitogen_router_get_n_id_branches (f->router), ==, 1);

  mitogen_test_shutdown_ok (f->a);
  mitogen_test_broker_idle (f->broker);
  for (guint i = 0; i < ranges->len; i++)
    {
      guint32 *range = &((guint32 *) ranges->data)[2 * i];

      for (guint32 id = range[0]; id < range[0] + range[1]; id++)
        {
          g_autofree gchar *name
              = mitogen_router_dup_context_name (f->router, id);
          g_autofree gchar *unnamed = g_strdup_printf ("context%u", id);

          g_assert_cmpstr (name, ==, unnamed);
        }
    }
  g_assert_cmpuint (mitogen_module_responder_get_n_contexts (responder), ==, 0);
  g_assert_cmpuint (mitogen_router_get_n_id_branches (f->router), ==, 0);
}

int
main (int argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_handler ("mitogen", G_LOG_LEVEL_MESSAGE, count_refusal_logs, NULL);

  g_test_add ("/allocate-id/child-starts-its-own", Fixture, NULL, setup,
              test_child_starts_its_own, teardown);
  g_test_add ("/allocate-id/grandchild-starts-its-own", Fixture, NULL, setup,
              test_grandchild_starts_its_own, teardown);
  g_test_add ("/allocate-id/via-and-own-ids-differ", Fixture, NULL, setup,
              test_via_and_own_ids_differ, teardown);
  g_test_add ("/allocate-id/hostile-requests", Fixture, NULL, setup,
              test_hostile_requests, teardown);
  g_test_add ("/allocate-id/quota", Fixture, GUINT_TO_POINTER (SMALL_QUOTA),
              setup, test_quota, teardown);
  g_test_add_func ("/allocate-id/no-master", test_no_master);
  g_test_add ("/allocate-id/ranges", Pair, NULL, pair_setup, test_pair_ranges,
              pair_teardown);
  g_test_add ("/allocate-id/async", Pair, NULL, pair_setup, test_pair_async,
              pair_teardown);
  g_test_add ("/allocate-id/master-gone", Pair, NULL, pair_setup,
              test_pair_master_gone, pair_teardown);
  g_test_add ("/allocate-id/route-squatting", Fixture, NULL, setup,
              test_route_squatting, teardown);
  g_test_add ("/allocate-id/route-authority-in-chain", Fixture, NULL, setup,
              test_route_authority_in_chain, teardown);
  g_test_add ("/allocate-id/route-state-freed", Fixture, NULL, setup,
              test_route_state_freed, teardown);
  return g_test_run ();
}
