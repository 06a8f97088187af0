/* Reach: chains of ssh and sudo across hosts. Two network namespaces made
 * by the test stand for two hosts, each with its own sshd (MitogenTestSshd):
 *
 *   this namespace --veth-- host A --veth-- host B
 *
 * with no forwarding and no route, so B can be reached only from A. The
 * hosts share this machine's filesystem and processes, so a process on A
 * can be killed from here. Needs root and `ip`; skips otherwise.
 *
 * Nothing is set up on the hosts: sshd gives what it runs none of our
 * environment, so each agent is uploaded (zero install) and fetches the
 * transports it needs for the next hop from its parent. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-test-sshd.h"

/* How long anything expected to happen is given before the test fails. */
#define WAIT_USEC (mitogen_test_scaled (60 * G_USEC_PER_SEC))
/* The unprivileged user root may sudo to without a password
 * (scripts/setup-test-env). */
#define SUDO_USER "mitogen-test"

typedef struct {
  gboolean ok;
  gchar *ns_a, *ns_b;
  gchar *root_link;
  gchar *addr_root, *addr_a, *addr_a_to_b, *addr_b;
  gchar *net_b;
  /* Deletes the namespaces and whatever runs in them once its stdin
   * closes: at teardown, or when the test dies halfway. */
  GSubprocess *guard;
  MitogenTestSshd *sshd_a, *sshd_b;
  MitogenBroker *broker;
  MitogenRouter *router;
  GPtrArray *contexts; /* in the order connected */
} Fixture;

static GMutex records_lock;
static GPtrArray *records; /* "domain\tmessage" of forwarded records */
static gchar *skip_all;

static GLogWriterOutput
capture_writer (GLogLevelFlags level,
                const GLogField *fields,
                gsize n_fields,
                gpointer user_data)
{
  const gchar *domain = NULL, *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
      domain = fields[i].value;
    else if (g_str_equal (fields[i].key, "MESSAGE"))
      message = fields[i].value;
  if (domain && g_str_has_prefix (domain, "mitogen.ctx."))
    {
      g_mutex_lock (&records_lock);
      g_ptr_array_add (records, g_strdup_printf ("%s\t%s", domain, message));
      g_mutex_unlock (&records_lock);
      /* Not to the default writer: a test's warnings are fatal. */
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* Runs `ip ARGS…`, failing the test if it fails. */
static void
ip (const gchar *first,
    ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *err = NULL;
  gint status = -1;
  va_list args;

  g_ptr_array_add (argv, "ip");
  va_start (args, first);
  for (const gchar *arg = first; arg; arg = va_arg (args, const gchar *))
    g_ptr_array_add (argv, (gchar *) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  g_spawn_sync (NULL, (gchar **) argv->pdata, NULL,
                G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                NULL, NULL, NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("ip %s… failed: %s", first, err);
}

/* Some containers refuse namespaces even to root: then the suite skips
 * rather than fails. */
static gboolean
can_make_network_namespaces (void)
{
  g_autofree gchar *name = g_strdup_printf ("mitogen-reach-probe-%d", getpid ());
  const gchar *add[] = { "ip", "netns", "add", name, NULL };
  const gchar *del[] = { "ip", "netns", "del", name, NULL };
  gint status = -1;

  if (!g_spawn_sync (NULL, (gchar **) add, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                       G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, NULL) ||
      !g_spawn_check_wait_status (status, NULL))
    return FALSE;
  g_spawn_sync (NULL, (gchar **) del, NULL,
                G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                  G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, NULL, NULL, NULL, NULL);
  return TRUE;
}

/* A /30 pair of subnets no other run of this test uses just now. */
static guint
pick_subnet (void)
{
  g_autofree gchar *addrs = NULL;

  g_spawn_command_line_sync ("ip -4 -o addr show", &addrs, NULL, NULL, NULL);
  for (guint i = 0; i < 256; i++)
    {
      guint n = ((guint) getpid () + i) % 256;
      g_autofree gchar *taken = g_strdup_printf (" 10.200.%u.", n);

      if (!addrs || !strstr (addrs, taken))
        return n;
    }
  g_error ("no free subnet in 10.200.0.0/16");
}

static GSubprocess *
start_guard (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *script = NULL;
  GSubprocess *guard;

  /* sshd's processes first; what ran under them gets a moment to end
   * on its own, as a login shell killed halfway through its start-up
   * files can leave their locks behind. */
  script = g_strdup_printf ("read -r _ || :\n"
                            "set -- %s %s\n"
                            "for p in $(ip netns pids \"$1\"; ip netns pids \"$2\"); do\n"
                            "  [ \"$(cat /proc/$p/comm)\" = sshd ] && kill -KILL $p\n"
                            "done\n"
                            "i=0\n"
                            "while [ $i -lt 50 ] &&\n"
                            "      [ -n \"$(ip netns pids \"$1\"; ip netns pids \"$2\")\" ]; do\n"
                            "  sleep 0.1; i=$((i + 1))\n"
                            "done\n"
                            "for ns in \"$1\" \"$2\"; do\n"
                            "  ip netns pids \"$ns\" | xargs -r kill -KILL\n"
                            "  ip netns del \"$ns\"\n"
                            "done\n"
                            "ip link del %s\n"
                            "ip route del unreachable %s\n",
                            f->ns_a, f->ns_b, f->root_link, f->net_b);
  guard = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                              G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                              G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                            &error, "sh", "-c", script, NULL);
  g_assert_no_error (error);
  return guard;
}

static void
make_hosts (Fixture *f)
{
  static guint counter;
  guint n = pick_subnet ();
  guint k = counter++;
  g_autofree gchar *cidr_root = NULL, *cidr_a = NULL, *cidr_a_to_b = NULL;
  g_autofree gchar *cidr_b = NULL;

  f->ns_a = g_strdup_printf ("mitogen-reach-%d-%u-a", getpid (), k);
  f->ns_b = g_strdup_printf ("mitogen-reach-%d-%u-b", getpid (), k);
  /* Interface names have 15 bytes at most. */
  f->root_link = g_strdup_printf ("mr%d.%u", getpid (), k);
  f->addr_root = g_strdup_printf ("10.200.%u.1", n);
  f->addr_a = g_strdup_printf ("10.200.%u.2", n);
  f->addr_a_to_b = g_strdup_printf ("10.201.%u.1", n);
  f->addr_b = g_strdup_printf ("10.201.%u.2", n);
  f->net_b = g_strdup_printf ("10.201.%u.0/30", n);
  cidr_root = g_strconcat (f->addr_root, "/30", NULL);
  cidr_a = g_strconcat (f->addr_a, "/30", NULL);
  cidr_a_to_b = g_strconcat (f->addr_a_to_b, "/30", NULL);
  cidr_b = g_strconcat (f->addr_b, "/30", NULL);

  ip ("netns", "add", f->ns_a, NULL);
  ip ("netns", "add", f->ns_b, NULL);
  /* From here on, whatever happens, the guard cleans up. */
  f->guard = start_guard (f);

  ip ("link", "add", f->root_link, "type", "veth",
      "peer", "name", "to-root", "netns", f->ns_a, NULL);
  ip ("addr", "add", cidr_root, "dev", f->root_link, NULL);
  ip ("link", "set", f->root_link, "up", NULL);
  ip ("-n", f->ns_a, "addr", "add", cidr_a, "dev", "to-root", NULL);
  ip ("-n", f->ns_a, "link", "set", "to-root", "up", NULL);
  ip ("-n", f->ns_a, "link", "set", "lo", "up", NULL);

  ip ("-n", f->ns_a, "link", "add", "to-b", "type", "veth",
      "peer", "name", "to-a", "netns", f->ns_b, NULL);
  ip ("-n", f->ns_a, "addr", "add", cidr_a_to_b, "dev", "to-b", NULL);
  ip ("-n", f->ns_a, "link", "set", "to-b", "up", NULL);
  ip ("-n", f->ns_b, "addr", "add", cidr_b, "dev", "to-a", NULL);
  ip ("-n", f->ns_b, "link", "set", "to-a", "up", NULL);
  ip ("-n", f->ns_b, "link", "set", "lo", "up", NULL);
  /* A new namespace does not forward (net.ipv4.ip_forward is 0), and
   * here B's subnet is said to have no route, rather than left to a
   * default route that may lead anywhere: B is A's alone. */
  ip ("route", "add", "unreachable", f->net_b, NULL);
}

static void
setup (Fixture *f,
       gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->contexts = g_ptr_array_new ();
  f->broker = mitogen_broker_new ();
  f->router = mitogen_router_new (f->broker);
  if (skip_all)
    {
      g_test_skip (skip_all);
      return;
    }
  mitogen_module_responder_add_path (
    mitogen_module_responder_get_for_router (f->router), MITOGEN_TEST_MODULES_DIR);

  make_hosts (f);
  f->sshd_a = mitogen_test_sshd_start (f->ns_a, f->addr_a, NULL, &error);
  g_assert_no_error (error);
  f->sshd_b = mitogen_test_sshd_start (f->ns_b, f->addr_b, NULL, &error);
  g_assert_no_error (error);
  f->ok = TRUE;
}

static void
teardown (Fixture *f,
          gconstpointer data)
{
  /* Leaves first: each hop is still there to pass the request on. */
  for (guint i = f->contexts->len; i > 0; i--)
    {
      MitogenContext *ctx = f->contexts->pdata[i - 1];

      if (mitogen_context_is_connected (ctx))
        mitogen_context_shutdown (ctx, TRUE, NULL, NULL);
    }
  mitogen_broker_shutdown (f->broker);
  mitogen_broker_join (f->broker);
  g_ptr_array_set_free_func (f->contexts, g_object_unref);
  g_ptr_array_unref (f->contexts);
  g_clear_object (&f->router);
  g_clear_object (&f->broker);

  g_clear_pointer (&f->sshd_a, mitogen_test_sshd_stop);
  g_clear_pointer (&f->sshd_b, mitogen_test_sshd_stop);
  if (f->guard)
    {
      g_output_stream_close (g_subprocess_get_stdin_pipe (f->guard), NULL, NULL);
      g_subprocess_wait (f->guard, NULL, NULL);
      g_clear_object (&f->guard);
    }
  g_free (f->ns_a);
  g_free (f->ns_b);
  g_free (f->root_link);
  g_free (f->addr_root);
  g_free (f->addr_a);
  g_free (f->addr_a_to_b);
  g_free (f->addr_b);
  g_free (f->net_b);
}

static MitogenContext *
try_connect (Fixture *f,
             const gchar *transport,
             GVariant *options,
             MitogenContext *via,
             GError **error)
{
  MitogenContext *ctx = mitogen_router_connect_context (
      f->router, transport, options, via, NULL, error);

  if (ctx)
    g_ptr_array_add (f->contexts, ctx);
  return ctx;
}

static MitogenContext *
connect_ok (Fixture *f,
            const gchar *transport,
            GVariant *options,
            MitogenContext *via)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = try_connect (f, transport, options, via, &error);

  g_assert_no_error (error);
  return ctx;
}

static MitogenContext *
ssh_to_a (Fixture *f)
{
  return connect_ok (f, "ssh",
                     mitogen_test_sshd_options (f->sshd_a, "root", "accept-new"),
                     NULL);
}

static MitogenContext *
ssh_to_b (Fixture *f,
          MitogenContext *via)
{
  return connect_ok (f, "ssh",
                     mitogen_test_sshd_options (f->sshd_b, "root", "accept-new"),
                     via);
}

static MitogenContext *
sudo_to_user (Fixture *f,
              MitogenContext *via)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "username", "s", SUDO_USER);
  return connect_ok (f, "sudo", g_variant_dict_end (&dict), via);
}

static GVariant *
call (MitogenContext *ctx,
      const gchar *function,
      GVariant *args)
{
  g_autoptr(GError) error = NULL;
  GVariant *result = mitogen_context_call (ctx, function, args, NULL, &error);

  g_assert_no_error (error);
  return result;
}

static gint
call_getpid (MitogenContext *ctx)
{
  g_autoptr(GVariant) pid = call (ctx, "core.getpid", NULL);

  return g_variant_get_int32 (pid);
}

static gchar *
call_getenv (MitogenContext *ctx,
             const gchar *name)
{
  g_autoptr(GVariant) value = call (ctx, "core.getenv", g_variant_new ("(s)", name));
  g_autoptr(GVariant) maybe = g_variant_get_maybe (value);

  return maybe ? g_variant_dup_string (maybe, NULL) : NULL;
}

/* What `argv` prints at @ctx, failing the test if it fails. */
static gchar *
run (MitogenContext *ctx,
     const gchar * const *argv)
{
  g_autoptr(GVariant) result = call (ctx, "core.run",
                                     g_variant_new ("(^asmaymsa{ss})", argv,
                                                    NULL, NULL, NULL));
  g_autoptr(GVariant) out = NULL;
  gint status;

  g_variant_get (result, "(i@ayay)", &status, &out, NULL);
  g_assert_cmpint (status, ==, 0);
  return g_strndup (g_variant_get_data (out), g_variant_get_size (out));
}

static void
assert_log_arrives (MitogenContext *ctx,
                    const gchar *text)
{
  g_autofree gchar *expected = NULL;
  g_autoptr(GVariant) unit = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_USEC;
  gboolean seen = FALSE;

  unit = call (ctx, "testing.log", g_variant_new ("(is)", G_LOG_LEVEL_WARNING, text));
  expected = g_strdup_printf ("mitogen.ctx.%s\t%s", mitogen_context_get_name (ctx),
                              text);
  /* The record travels ahead of the reply, but may be re-logged on the
   * broker thread just after the reply woke us. */
  while (!seen && g_get_monotonic_time () < deadline)
    {
      g_mutex_lock (&records_lock);
      for (guint i = 0; i < records->len && !seen; i++)
        seen = g_str_equal (records->pdata[i], expected);
      g_mutex_unlock (&records_lock);
      if (!seen)
        g_usleep (1000);
    }
  g_assert_true (seen);
}

static void
test_ssh_ssh (Fixture *f,
              gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) base = NULL, hostname = NULL, value = NULL;
  g_autofree gchar *addrs = NULL;
  MitogenContext *a, *b;
  gint a_pid, b_pid;
  GVariantDict direct;

  if (!f->ok)
    return;
  /* Not from here: no route. */
  base = g_variant_ref_sink (mitogen_test_sshd_options (f->sshd_b, "root",
                                                        "accept-new"));
  g_variant_dict_init (&direct, base);
  g_variant_dict_insert (&direct, "connect-timeout", "d",
                         mitogen_test_scaled_seconds (5.0));
  g_assert_null (try_connect (f, "ssh", g_variant_dict_end (&direct), NULL,
                              &error));
  g_test_message ("direct: %s", error->message);
  g_assert_true (g_error_matches (error, MITOGEN_STREAM_ERROR,
                                  MITOGEN_STREAM_ERROR_CONNECT) ||
                 g_error_matches (error, MITOGEN_TIMEOUT_ERROR,
                                  MITOGEN_TIMEOUT_ERROR_TIMED_OUT));
  g_assert_true (strstr (error->message, "unreachable") ||
                 strstr (error->message, "timed out"));

  a = ssh_to_a (f);
  b = ssh_to_b (f, a);
  a_pid = call_getpid (a);
  b_pid = call_getpid (b);
  g_assert_cmpint (b_pid, >, 0);
  g_assert_cmpint (b_pid, !=, a_pid);
  g_assert_cmpint (b_pid, !=, getpid ());
  hostname = call (b, "core.hostname", NULL);
  g_assert_cmpstr (g_variant_get_string (hostname, NULL), !=, "");

  /* It runs on B: the addresses it sees are B's. */
  addrs = run (b, (const gchar *[]) { "ip", "-4", "-o", "addr", "show", NULL });
  g_assert_nonnull (strstr (addrs, f->addr_b));
  g_assert_null (strstr (addrs, f->addr_a));

  /* Loaded nowhere yet: B asks A, which asks here. */
  value = call (b, "user.value", NULL);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 42);

  assert_log_arrives (b, "hello from B");
}

static void
test_ssh_sudo (Fixture *f,
               gconstpointer data)
{
  g_autofree gchar *user = NULL, *id = NULL;
  MitogenContext *a, *s;

  if (!f->ok)
    return;
  a = ssh_to_a (f);
  s = sudo_to_user (f, a);
  g_assert_cmpint (call_getpid (s), !=, call_getpid (a));
  user = call_getenv (s, "USER");
  g_assert_cmpstr (user, ==, SUDO_USER);
  id = g_strstrip (run (s, (const gchar *[]) { "id", "-un", NULL }));
  g_assert_cmpstr (id, ==, SUDO_USER);
}

static void
test_three_hops (Fixture *f,
                 gconstpointer data)
{
  g_autofree gchar *user = NULL, *addrs = NULL;
  MitogenContext *a, *b, *s;

  if (!f->ok)
    return;
  a = ssh_to_a (f);
  b = ssh_to_b (f, a);
  s = sudo_to_user (f, b);
  user = call_getenv (s, "USER");
  g_assert_cmpstr (user, ==, SUDO_USER);
  addrs = run (s, (const gchar *[]) { "ip", "-4", "-o", "addr", "show", NULL });
  g_assert_nonnull (strstr (addrs, f->addr_b));
  assert_log_arrives (s, "hello from B as " SUDO_USER);
}

typedef struct {
  gboolean done;
  gboolean timed_out;
  GError *error;
} Sleeper;

static void
on_sleep_done (GObject *source,
               GAsyncResult *result,
               gpointer data)
{
  Sleeper *s = data;
  GVariant *r = mitogen_context_call_finish (MITOGEN_CONTEXT (source), result,
                                             &s->error);

  g_clear_pointer (&r, g_variant_unref);
  s->done = TRUE;
}

static gboolean
on_timeout (gpointer data)
{
  Sleeper *s = data;

  s->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_dead_middle_hop (Fixture *f,
                      gconstpointer data)
{
  Sleeper s = { 0 };
  MitogenContext *a, *b, *local;
  guint timeout_id;
  gint64 deadline;
  gint a_pid, b_pid;

  if (!f->ok)
    return;
  local = connect_ok (f, "local", NULL, NULL);
  a = ssh_to_a (f);
  b = ssh_to_b (f, a);
  b_pid = call_getpid (b);
  a_pid = call_getpid (a);

  /* Sent before it returns; A answers the call after it only once it
   * has passed the sleep on to B, the link from here being one stream,
   * read in order. */
  mitogen_context_call_async (b, "core.sleep", g_variant_new ("(d)", 600.0),
                              NULL, on_sleep_done, &s);
  call_getpid (a);

  /* A's agent: same pid namespace, another network namespace. */
  g_assert_cmpint (kill (a_pid, SIGKILL), ==, 0);

  timeout_id = g_timeout_add_seconds (WAIT_USEC / G_USEC_PER_SEC, on_timeout, &s);
  while (!s.done && !s.timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!s.timed_out)
    g_source_remove (timeout_id);
  g_assert_true (s.done);

  g_test_message ("waiter at B: %s", s.error ? s.error->message : "(none)");
  g_assert_error (s.error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_assert_false (mitogen_context_is_connected (b));
  g_assert_false (mitogen_context_is_connected (a));
  /* The other branch did not notice. */
  g_assert_cmpint (call_getpid (local), >, 0);
  g_assert_true (mitogen_context_is_connected (local));

  /* Cut off, B's agent exits on its own. */
  deadline = g_get_monotonic_time () + WAIT_USEC;
  while (mitogen_test_process_running (b_pid) &&
         g_get_monotonic_time () < deadline)
    g_usleep (G_USEC_PER_SEC / 100);
  g_assert_false (mitogen_test_process_running (b_pid));
  g_clear_error (&s.error);
}

int
main (int argc,
      char **argv)
{
  g_autofree gchar *ip_path = g_find_program_in_path ("ip");

  g_test_init (&argc, &argv, NULL);
  records = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (capture_writer, NULL, NULL);

  if (mitogen_test_sshd_can_run (&skip_all) && !ip_path)
    skip_all = g_strdup ("ip (iproute2) is not installed");
  else if (!skip_all && !can_make_network_namespaces ())
    skip_all = g_strdup ("this machine does not let root create network "
                         "namespaces (ip netns add failed)");

  g_test_add ("/reach/ssh-ssh", Fixture, NULL, setup, test_ssh_ssh, teardown);
  g_test_add ("/reach/ssh-sudo", Fixture, NULL, setup, test_ssh_sudo, teardown);
  g_test_add ("/reach/three-hops", Fixture, NULL, setup, test_three_hops, teardown);
  g_test_add ("/reach/dead-middle-hop", Fixture, NULL, setup,
              test_dead_middle_hop, teardown);
  return g_test_run ();
}
