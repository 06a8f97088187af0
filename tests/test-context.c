/* Contexts end to end: a master in this process, real mitogen-agent
 * children started through the local transport, running the core and
 * testing function modules from the build tree. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT MITOGEN_TEST_WAIT

/* A condition one thread signals and another waits for, with a deadline. */
typedef struct {
  GMutex lock;
  GCond cond;
  gint value;
} Flag;

static void
flag_init (Flag *flag)
{
  g_mutex_init (&flag->lock);
  g_cond_init (&flag->cond);
  flag->value = 0;
}

static void
flag_clear (Flag *flag)
{
  g_mutex_clear (&flag->lock);
  g_cond_clear (&flag->cond);
}

static void
flag_set (Flag *flag)
{
  g_mutex_lock (&flag->lock);
  flag->value++;
  g_cond_broadcast (&flag->cond);
  g_mutex_unlock (&flag->lock);
}

static gboolean
flag_wait (Flag *flag,
           gint64 timeout)
{
  gint64 deadline = g_get_monotonic_time () + timeout;
  gboolean set;

  g_mutex_lock (&flag->lock);
  while (!flag->value && g_cond_wait_until (&flag->cond, &flag->lock, deadline))
    ;
  set = flag->value > 0;
  g_mutex_unlock (&flag->lock);
  return set;
}

/* ---------------------------------------------------------------------- */
/* Log records forwarded from contexts, captured by the writer main()
 * installs. */

typedef struct {
  GLogLevelFlags level;       /* the child's, from MITOGEN_REMOTE_LEVEL */
  GLogLevelFlags local_level; /* the one logged at here */
  gchar *domain;
  gchar *message;
  gchar *stream;   /* MITOGEN_STREAM, or NULL */
  gchar *context;  /* MITOGEN_CONTEXT */
  gchar *source_domain;
} Record;

static GMutex records_lock;
static GCond records_cond;
static GPtrArray *records;
/* Whether records also go to the default writer, as they would in a
 * program that installs no writer of its own. */
static gboolean records_pass_through;

static void
record_free (gpointer data)
{
  Record *r = data;

  g_free (r->domain);
  g_free (r->message);
  g_free (r->stream);
  g_free (r->context);
  g_free (r->source_domain);
  g_free (r);
}

static gchar *
field_dup (const GLogField *field)
{
  return field->length < 0 ? g_strdup (field->value)
                           : g_strndup (field->value, (gsize) field->length);
}

static GLogLevelFlags
level_named (const gchar *name)
{
  static const gchar *const names[] = { "ERROR", "CRITICAL", "WARNING",
                                        "MESSAGE", "INFO", "DEBUG" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (name, names[i]) == 0)
      return G_LOG_LEVEL_ERROR << i;
  return 0;
}

static GLogWriterOutput
capture_writer (GLogLevelFlags level,
                const GLogField *fields,
                gsize n_fields,
                gpointer user_data)
{
  Record *r;

  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
      {
        g_autofree gchar *domain = field_dup (&fields[i]);

        if (!g_str_has_prefix (domain, "mitogen.ctx."))
          break;
        r = g_new0 (Record, 1);
        r->local_level = level & G_LOG_LEVEL_MASK;
        r->domain = g_steal_pointer (&domain);
        for (gsize j = 0; j < n_fields; j++)
          {
            if (g_str_equal (fields[j].key, "MESSAGE"))
              r->message = field_dup (&fields[j]);
            else if (g_str_equal (fields[j].key, "MITOGEN_STREAM"))
              r->stream = field_dup (&fields[j]);
            else if (g_str_equal (fields[j].key, "MITOGEN_CONTEXT"))
              r->context = field_dup (&fields[j]);
            else if (g_str_equal (fields[j].key, "MITOGEN_SOURCE_DOMAIN"))
              r->source_domain = field_dup (&fields[j]);
            else if (g_str_equal (fields[j].key, "MITOGEN_REMOTE_LEVEL"))
              {
                g_autofree gchar *name = field_dup (&fields[j]);
                r->level = level_named (name);
              }
          }
        g_mutex_lock (&records_lock);
        g_ptr_array_add (records, r);
        g_cond_broadcast (&records_cond);
        g_mutex_unlock (&records_lock);
        if (records_pass_through)
          return g_log_writer_default (level, fields, n_fields, user_data);
        return G_LOG_WRITER_HANDLED;
      }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
records_clear (void)
{
  g_mutex_lock (&records_lock);
  g_ptr_array_set_size (records, 0);
  g_mutex_unlock (&records_lock);
}

/* What a record must have; NULL means anything. */
typedef struct {
  const gchar *context;
  const gchar *stream;
  const gchar *message;
  GLogLevelFlags level; /* 0 for any */
} Match;

static gboolean
record_matches (const Record *r,
                const Match *m)
{
  return (!m->context || g_strcmp0 (r->context, m->context) == 0) &&
         (!m->stream || g_strcmp0 (r->stream, m->stream) == 0) &&
         (!m->message || g_strcmp0 (r->message, m->message) == 0) &&
         (!m->level || r->level == m->level);
}

/* Waits until @n records match, or WAIT passes; returns how many did. */
static guint
records_wait (const Match *m,
              guint n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;
  guint scanned = 0, found = 0;
  gboolean timed_out = FALSE;

  g_mutex_lock (&records_lock);
  for (;;)
    {
      for (; scanned < records->len; scanned++)
        if (record_matches (records->pdata[scanned], m))
          found++;
      if (found >= n || timed_out)
        break;
      if (!g_cond_wait_until (&records_cond, &records_lock, deadline))
        timed_out = TRUE; /* one last look */
    }
  g_mutex_unlock (&records_lock);
  return found;
}

/* The matching records so far, in arrival order; they stay valid until
 * the next records_clear(). */
static GPtrArray *
records_find (const Match *m)
{
  GPtrArray *found = g_ptr_array_new ();

  g_mutex_lock (&records_lock);
  for (guint i = 0; i < records->len; i++)
    if (record_matches (records->pdata[i], m))
      g_ptr_array_add (found, records->pdata[i]);
  g_mutex_unlock (&records_lock);
  return found;
}

/* ---------------------------------------------------------------------- */
/* Processes. */

static gboolean
process_exists (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d", pid);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Our descriptors, as "number:target" ("7:socket:[4242]"): a descriptor
 * opened since and left open shows as an entry that was not there. */
static GHashTable *
open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  GHashTable *fds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const gchar *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree gchar *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree gchar *target = g_file_read_link (path, NULL);

      /* Not the directory being read. */
      if (target && g_str_has_prefix (target, "/proc/") &&
          g_str_has_suffix (target, "/fd"))
        continue;
      g_hash_table_add (fds, g_strdup_printf ("%s:%s", name, target ? target : "?"));
    }
  return fds;
}

/* Whether we hold a descriptor on @pid: GLib's child watch does, as a
 * pidfd, until it has reaped the child. */
static gboolean
holds_pidfd (GPid pid)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fdinfo", 0, NULL);
  g_autofree gchar *line = g_strdup_printf ("\nPid:\t%d\n", pid);
  const gchar *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree gchar *path = g_build_filename ("/proc/self/fdinfo", name, NULL);
      g_autofree gchar *info = NULL;

      if (g_file_get_contents (path, &info, NULL, NULL) && strstr (info, line))
        return TRUE;
    }
  return FALSE;
}

/* Waits, within WAIT, until @pid was reaped and nothing of it is left
 * here. */
static gboolean
wait_released (GPid pid)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;

  while (process_exists (pid) || holds_pidfd (pid))
    {
      if (g_get_monotonic_time () > deadline)
        {
          g_autofree gchar *path = g_strdup_printf ("/proc/%d/stat", pid);
          g_autofree gchar *stat = NULL;

          g_file_get_contents (path, &stat, NULL, NULL);
          g_test_message ("agent %d not released: %s; %s", pid,
                          stat ? stat : "gone",
                          holds_pidfd (pid) ? "pidfd still open" : "no pidfd");
          return FALSE;
        }
      g_usleep (1000);
    }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* The master. */

typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
} Fixture;

static void
setup (Fixture *f,
       gconstpointer data)
{
  records_clear ();
  mitogen_test_master_new (&f->broker, &f->router);
}

static void
teardown (Fixture *f,
          gconstpointer data)
{
  mitogen_test_master_stop (f->broker, NULL);
  mitogen_test_master_clear (&f->broker, &f->router);
}

static MitogenContext *
connect_local (MitogenRouter *router,
               GVariant *options)
{
  return mitogen_test_connect (router, "local", options, NULL);
}

static GPid
agent_pid (MitogenContext *ctx)
{
  MitogenStream *stream = mitogen_context_get_stream (ctx);

  g_assert_true (MITOGEN_IS_PARENT_STREAM (stream));
  return mitogen_parent_stream_get_pid (MITOGEN_PARENT_STREAM (stream));
}

/* Calls @function, which must fail within WAIT. */
static GError *
call_fails (MitogenContext *ctx,
            const gchar *function,
            GVariant *args)
{
  g_autoptr(MitogenTestDeadline) deadline = mitogen_test_deadline_new (WAIT);
  GError *error = NULL;
  g_autoptr(GVariant) result =
    mitogen_context_call (ctx, function, args, deadline->cancellable, &error);

  g_assert_null (result);
  g_assert_nonnull (error);
  g_assert_false (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  return error;
}

static GVariant *
echo (MitogenContext *ctx,
      GVariant *value)
{
  g_autoptr(GVariant) boxed =
    mitogen_test_call_ok (ctx, "core.echo", g_variant_new ("(v)", value));

  g_assert_true (g_variant_is_of_type (boxed, G_VARIANT_TYPE_VARIANT));
  return g_variant_get_variant (boxed);
}

/* Shuts @ctx down and waits for its agent to have exited and been reaped
 * by the library, while the broker still runs. */
static void
shutdown_ok (MitogenContext *ctx)
{
  mitogen_test_shutdown_ok (ctx);
  g_assert_true (wait_released (agent_pid (ctx)));
}

/* ---------------------------------------------------------------------- */
/* Calls. */

static void
test_calls_shapes (Fixture *f,
                   gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  const gchar *shapes[] = {
    "true",
    "byte 0xff",
    "int16 -32768",
    "uint16 65535",
    "-2147483648",
    "uint32 4294967295",
    "int64 -9223372036854775808",
    "uint64 18446744073709551615",
    "3.5",
    "'plain'",
    "'ünïcödé ✓ with\\nnewline'",
    "''",
    "objectpath '/org/example/Thing'",
    "signature 'a{sv}'",
    "<<42>>",
    "@ms nothing",
    "@ms 'just'",
    "@mmi just nothing",
    "@mai [1, 2]",
    "@as []",
    "['a', 'b', 'c']",
    "@a{ss} {}",
    "{'k1': 'v1', 'k2': 'v2'}",
    "{1: [true, false], 2: []}",
    "{'int': <1>, 'str': <'s'>, 'nested': <{'x': <[1.5, 2.5]>}>}",
    "@ay []",
    "b'bytes\\0with\\0nuls'",
    "[b'one', b'two']",
    "()",
    "(1, 'two', [3], {'four': <4>}, (5, (6, @ms nothing)))",
    "[({'a': [<(1, 'x')>]}, @maay just [b'q'])]",
    "@(asmaymsa{ss}) (['sh', '-c', 'true'], nothing, just '/', {'A': 'B'})",
  };
  g_autofree gchar *dir = NULL;
  g_autofree gchar *path = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_autoptr(GVariant) value = g_variant_parse (NULL, shapes[i], NULL, NULL,
                                                   &error);
      g_autoptr(GVariant) got = NULL;

      g_assert_no_error (error);
      got = echo (ctx, value);
      if (!g_variant_equal (got, value))
        {
          g_autofree gchar *a = g_variant_print (value, TRUE);
          g_autofree gchar *b = g_variant_print (got, TRUE);
          g_error ("echo of %s came back as %s", a, b);
        }
    }

  /* getpid: the agent, not us. */
  {
    gint32 pid = mitogen_test_remote_pid (ctx);

    g_assert_cmpint (pid, !=, getpid ());
    g_assert_cmpint (pid, ==, agent_pid (ctx));
    g_assert_true (mitogen_test_process_running (pid));
  }

  /* hostname */
  {
    g_autoptr(GVariant) v = mitogen_test_call_ok (ctx, "core.hostname", NULL);
    g_assert_cmpstr (g_variant_get_string (v, NULL), ==, g_get_host_name ());
  }

  /* getenv: the agent inherits our environment. */
  {
    g_autoptr(GVariant) set =
      mitogen_test_call_ok (ctx, "core.getenv",
                            g_variant_new ("(s)", "MITOGEN_AGENT"));
    g_autoptr(GVariant) unset =
      mitogen_test_call_ok (ctx, "core.getenv",
                            g_variant_new ("(s)", "MITOGEN_TEST_SURELY_NOT_SET_5a7c"));
    g_autoptr(GVariant) inner = g_variant_get_maybe (set);

    g_assert_nonnull (g_getenv ("MITOGEN_AGENT"));
    g_assert_nonnull (inner);
    g_assert_cmpstr (g_variant_get_string (inner, NULL), ==,
                     g_getenv ("MITOGEN_AGENT"));
    g_assert_true (g_variant_is_of_type (unset, G_VARIANT_TYPE ("ms")));
    g_assert_null (g_variant_get_maybe (unset));
  }

  /* write_file, read_file, stat, against what we see ourselves. */
  dir = g_dir_make_tmp ("test-context-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (dir, "file", NULL);
  {
    static const guint8 content[] = "hello\0world\n";
    g_autoptr(GVariant) w = mitogen_test_call_ok (
      ctx, "core.write_file",
      g_variant_new ("(s@ayu)", path,
                     g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, content,
                                                sizeof content, 1),
                     0640));
    g_autoptr(GVariant) r =
      mitogen_test_call_ok (ctx, "core.read_file", g_variant_new ("(s)", path));
    g_autoptr(GVariant) s =
      mitogen_test_call_ok (ctx, "core.stat", g_variant_new ("(s)", path));
    g_autoptr(GVariant) sd =
      mitogen_test_call_ok (ctx, "core.stat", g_variant_new ("(s)", dir));
    g_autofree gchar *local = NULL;
    gsize local_len, len;
    const guint8 *got = g_variant_get_fixed_array (r, &len, 1);
    GVariantDict dict;
    guint64 size;
    guint32 mode, uid, gid;
    gint64 mtime;
    const gchar *type;

    g_assert_cmpmem (got, len, content, sizeof content);
    g_assert_true (g_file_get_contents (path, &local, &local_len, &error));
    g_assert_no_error (error);
    g_assert_cmpmem (local, local_len, content, sizeof content);

    g_assert_cmpint (g_stat (path, &st), ==, 0);
    g_variant_dict_init (&dict, s);
    g_assert_true (g_variant_dict_lookup (&dict, "size", "t", &size));
    g_assert_true (g_variant_dict_lookup (&dict, "mode", "u", &mode));
    g_assert_true (g_variant_dict_lookup (&dict, "uid", "u", &uid));
    g_assert_true (g_variant_dict_lookup (&dict, "gid", "u", &gid));
    g_assert_true (g_variant_dict_lookup (&dict, "mtime", "x", &mtime));
    g_assert_true (g_variant_dict_lookup (&dict, "type", "&s", &type));
    g_assert_cmpuint (size, ==, sizeof content);
    g_assert_cmpuint (mode, ==, (guint32) st.st_mode);
    /* The mode asked for, less the umask (which spares the owner). */
    g_assert_cmpuint (mode & 07777 & ~0640u, ==, 0);
    g_assert_cmpuint (mode & 0600, ==, 0600);
    g_assert_cmpuint (uid, ==, (guint32) st.st_uid);
    g_assert_cmpuint (gid, ==, (guint32) st.st_gid);
    g_assert_cmpint (mtime, ==, (gint64) st.st_mtime);
    g_assert_cmpstr (type, ==, "file");
    g_variant_dict_clear (&dict);

    g_variant_dict_init (&dict, sd);
    g_assert_true (g_variant_dict_lookup (&dict, "type", "&s", &type));
    g_assert_cmpstr (type, ==, "directory");
    g_variant_dict_clear (&dict);
  }

  /* A missing file: the remote GFileError travels. */
  {
    g_autofree gchar *missing = g_build_filename (dir, "missing", NULL);
    g_autoptr(GError) e =
      call_fails (ctx, "core.read_file", g_variant_new ("(s)", missing));

    g_assert_error (e, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE);
    g_assert_cmpstr (mitogen_call_error_get_remote_domain (e), ==,
                     g_quark_to_string (G_FILE_ERROR));
    g_assert_cmpint (mitogen_call_error_get_remote_code (e), ==,
                     G_FILE_ERROR_NOENT);
  }

  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  shutdown_ok (ctx);
}

static void
test_calls_large (Fixture *f,
                  gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  gsize len = 64 * 1024 * 1024;
  guint8 *blob = g_malloc (len);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) got = NULL;
  const guint8 *data_out;
  gsize got_len;

  for (gsize i = 0; i < len; i++)
    blob[i] = (guint8) (i * 131 + (i >> 12) + (i >> 20));
  bytes = g_bytes_new_take (blob, len);

  got = echo (ctx, g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes,
                                             TRUE));
  g_assert_true (g_variant_is_of_type (got, G_VARIANT_TYPE_BYTESTRING));
  data_out = g_variant_get_fixed_array (got, &got_len, 1);
  g_assert_cmpuint (got_len, ==, len);
  g_assert_true (memcmp (data_out, g_bytes_get_data (bytes, NULL), len) == 0);

  /* And the context is still fine for small calls. */
  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, agent_pid (ctx));
  shutdown_ok (ctx);
}

static void
test_calls_many (Fixture *f,
                 gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  GPid pid = agent_pid (ctx);
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < 10000; i++)
    g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, pid);
  g_test_message ("10000 calls in %.3f s",
                  (g_get_monotonic_time () - start) / 1e6);
  shutdown_ok (ctx);
}

typedef struct {
  MitogenContext *ctx;
  guint index;
  guint done;
} ThreadCalls;

static gpointer
echo_thread (gpointer data)
{
  ThreadCalls *t = data;

  for (guint i = 0; i < 200; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("thread %u call %u", t->index, i);
      g_autoptr(GVariant) got =
        echo (t->ctx, g_variant_new ("(su)", text, t->index * 1000 + i));
      const gchar *s;
      guint32 n;

      g_variant_get (got, "(&su)", &s, &n);
      g_assert_cmpstr (s, ==, text);
      g_assert_cmpuint (n, ==, t->index * 1000 + i);
      t->done++;
    }
  return NULL;
}

static void
test_calls_threads (Fixture *f,
                    gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  ThreadCalls t[16];
  GThread *threads[16];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      t[i] = (ThreadCalls) { ctx, i, 0 };
      threads[i] = g_thread_new ("caller", echo_thread, &t[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpuint (t[i].done, ==, 200);
    }
  shutdown_ok (ctx);
}

/* ---------------------------------------------------------------------- */
/* Asynchronous calls. */

typedef struct {
  MitogenContext *ctx;
  GMainLoop *loop;
  guint pending;
  guint ok;
  GError *error;
  gint64 finished;
  gboolean timed_out;
  GCancellable *cancellable;
  gint64 cancelled;
} AsyncState;

static gboolean
on_async_timeout (gpointer data)
{
  AsyncState *s = data;

  s->timed_out = TRUE;
  g_main_loop_quit (s->loop);
  return G_SOURCE_REMOVE;
}

static void
on_echo_done (GObject *source,
              GAsyncResult *result,
              gpointer user_data)
{
  AsyncState *s = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) boxed =
    mitogen_context_call_finish (MITOGEN_CONTEXT (source), result, &error);

  g_assert_no_error (error);
  {
    g_autoptr(GVariant) v = g_variant_get_variant (boxed);
    /* Replies arrive in order: calls run one at a time, in order sent. */
    g_assert_cmpuint (g_variant_get_uint32 (v), ==, s->ok);
  }
  s->ok++;
  if (--s->pending == 0)
    g_main_loop_quit (s->loop);
}

static void
test_calls_async (Fixture *f,
                  gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) timeout = g_timeout_source_new (WAIT / 1000);
  AsyncState s = { ctx, g_main_loop_new (context, FALSE), 0, 0, NULL, 0, FALSE,
                   NULL, 0 };

  g_main_context_push_thread_default (context);
  g_source_set_callback (timeout, on_async_timeout, &s, NULL);
  g_source_attach (timeout, context);
  for (guint32 i = 0; i < 100; i++)
    {
      s.pending++;
      mitogen_context_call_async (ctx, "core.echo",
                                  g_variant_new ("(v)", g_variant_new_uint32 (i)),
                                  NULL, on_echo_done, &s);
    }
  g_main_loop_run (s.loop);
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);
  g_main_loop_unref (s.loop);

  g_assert_false (s.timed_out);
  g_assert_cmpuint (s.ok, ==, 100);
  shutdown_ok (ctx);
}

static void
on_sleep_done (GObject *source,
               GAsyncResult *result,
               gpointer user_data)
{
  AsyncState *s = user_data;
  g_autoptr(GVariant) v =
    mitogen_context_call_finish (MITOGEN_CONTEXT (source), result, &s->error);

  g_assert_null (v);
  s->finished = g_get_monotonic_time ();
  g_main_loop_quit (s->loop);
}

static gboolean
on_cancel_now (gpointer data)
{
  AsyncState *s = data;

  s->cancelled = g_get_monotonic_time ();
  g_cancellable_cancel (s->cancellable);
  return G_SOURCE_REMOVE;
}

static void
test_calls_async_cancel (Fixture *f,
                         gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) timeout = g_timeout_source_new (WAIT / 1000);
  g_autoptr(GSource) cancel_source = g_timeout_source_new (100);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AsyncState s = { ctx, g_main_loop_new (context, FALSE), 0, 0, NULL, 0, FALSE,
                   cancellable, 0 };
  gint64 latency;
  /* The remote sleep runs on after the wait is cancelled; the next call
   * queues behind it, so it is short. */
  const gdouble sleep_seconds = mitogen_test_scaled_seconds (1.5);

  g_main_context_push_thread_default (context);
  g_source_set_callback (timeout, on_async_timeout, &s, NULL);
  g_source_attach (timeout, context);

  mitogen_context_call_async (ctx, "core.sleep",
                              g_variant_new ("(d)", sleep_seconds),
                              cancellable, on_sleep_done, &s);
  /* Cancelled from the loop, once the call is on its way. */
  g_source_set_callback (cancel_source, on_cancel_now, &s, NULL);
  g_source_attach (cancel_source, context);
  g_main_loop_run (s.loop);
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);
  g_main_loop_unref (s.loop);

  g_assert_false (s.timed_out);
  g_assert_error (s.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&s.error);
  g_assert_true (g_cancellable_is_cancelled (cancellable));
  g_assert_cmpint (s.cancelled, >, 0);
  latency = s.finished - s.cancelled;
  g_test_message ("the callback came %.1f ms after the cancel", latency / 1000.0);
  /* At the cancel, not at the end of the remote sleep. */
  g_assert_cmpint (latency, <, mitogen_test_scaled (500000));

  /* The context answers the next call, which queued behind the sleep;
   * the sleep's late reply finds no receiver and is dropped, not mistaken
   * for this one's. */
  {
    gint64 start = g_get_monotonic_time ();
    g_autoptr(GVariant) boxed =
      mitogen_test_call_ok (ctx, "core.echo",
                            g_variant_new ("(v)", g_variant_new_string ("after")));
    g_autoptr(GVariant) v = g_variant_get_variant (boxed);

    g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "after");
    g_test_message ("the next call took %.3f s",
                    (g_get_monotonic_time () - start) / 1e6);
  }
  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, agent_pid (ctx));
  shutdown_ok (ctx);
}

/* ---------------------------------------------------------------------- */
/* Errors. */

static void
test_errors_remote (Fixture *f,
                    gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  g_autoptr(GError) error =
    call_fails (ctx, "core.fail", g_variant_new ("(s)", "it went wrong"));

  g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE);
  g_assert_cmpstr (mitogen_call_error_get_remote_domain (error), ==,
                   "mitogen-core-test-error-quark");
  g_assert_cmpint (mitogen_call_error_get_remote_code (error), ==, 42);
  g_assert_cmpstr (mitogen_call_error_get_context_name (error), ==,
                   mitogen_context_get_name (ctx));
  g_assert_nonnull (strstr (error->message, "it went wrong"));
  g_assert_nonnull (strstr (error->message, mitogen_context_get_name (ctx)));

  /* A failed call leaves the context working. */
  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, agent_pid (ctx));
  shutdown_ok (ctx);
}

/* A result over max_message_size cannot travel back: the caller gets an
 * error that says so, not a wait for ever. */
static void
test_errors_result_too_large (Fixture *f,
                              gconstpointer data)
{
  const gsize max_size = 1024 * 1024;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("mitogen-large-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "big", NULL);
  g_autofree gchar *blob = g_malloc0 (2 * max_size);
  g_autofree gchar *limit = g_strdup_printf ("max_message_size %" G_GSIZE_FORMAT,
                                             max_size);
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, blob, 2 * max_size, NULL));
  mitogen_router_set_max_message_size (f->router, max_size);
  ctx = connect_local (f->router, NULL);

  error = call_fails (ctx, "core.read_file", g_variant_new ("(s)", path));
  g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "core.read_file"));
  g_assert_nonnull (strstr (error->message, limit));
  g_clear_error (&error);

  /* Arguments too large to leave fail here at once. */
  error = call_fails (ctx, "core.echo",
                      g_variant_new ("(v)", g_variant_new_fixed_array (
                                              G_VARIANT_TYPE_BYTE, blob,
                                              2 * max_size, 1)));
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_assert_nonnull (strstr (error->message, limit));

  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, agent_pid (ctx));
  shutdown_ok (ctx);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* A call that must fail with @code: @args, when not %NULL, is parsed as
 * its arguments, and the error must name @named. */
typedef struct {
  const gchar *function;
  const gchar *args;
  const gchar *named;
} CallErrorCase;

/* Makes each call of @cases in one context, which each must fail with
 * @code; the context still works after them. @names_context: whether the
 * errors must also carry the context's name. */
static void
check_call_errors (Fixture *f,
                   gint code,
                   gboolean names_context,
                   const CallErrorCase *cases,
                   gsize n_cases)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);

  for (gsize i = 0; i < n_cases; i++)
    {
      g_autoptr(GVariant) args = NULL;
      g_autoptr(GError) error = NULL;

      if (cases[i].args)
        {
          args = g_variant_parse (NULL, cases[i].args, NULL, NULL, NULL);
          g_assert_nonnull (args);
        }
      /* Not floating: the call takes a reference of its own. */
      error = call_fails (ctx, cases[i].function, args);
      g_assert_error (error, MITOGEN_CALL_ERROR, code);
      if (!strstr (error->message, cases[i].named))
        g_error ("“%s” does not name %s", error->message, cases[i].named);
      if (names_context)
        g_assert_cmpstr (mitogen_call_error_get_context_name (error), ==,
                         mitogen_context_get_name (ctx));
    }
  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, agent_pid (ctx));
  shutdown_ok (ctx);
}

static void
test_errors_no_such_function (Fixture *f,
                              gconstpointer data)
{
  static const CallErrorCase cases[] = {
    { "nosuchmodule.getpid", NULL, "nosuchmodule" },
    { "core.nosuchfunction", NULL, "nosuchfunction" },
    { "testing.nosuchfunction", NULL, "nosuchfunction" },
    { "nodot", NULL, "nodot" },
    { "core.", NULL, "core." },
  };

  check_call_errors (f, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION, FALSE,
                     cases, G_N_ELEMENTS (cases));
}

static void
test_errors_bad_arguments (Fixture *f,
                           gconstpointer data)
{
  static const CallErrorCase cases[] = {
    { "core.getenv", "(1,)", "core.getenv" },
    { "core.getenv", "()", "core.getenv" },
    { "core.getpid", "('x',)", "core.getpid" },
    { "core.sleep", "('1',)", "core.sleep" },
    { "core.echo", "(1,)", "core.echo" },
    { "testing.print_lines", "(-1,)", "testing.print_lines" },
  };

  check_call_errors (f, MITOGEN_CALL_ERROR_BAD_ARGUMENTS, TRUE,
                     cases, G_N_ELEMENTS (cases));
}

static gboolean
file_exists (const gchar *path)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static GVariant *
write_file_args (const gchar *path)
{
  return g_variant_new ("(s@ayu)", path,
                        g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "x", 1, 1),
                        0600);
}

static void
assert_chain_error (const GError *error,
                    MitogenContext *ctx)
{
  g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE);
  g_assert_cmpstr (mitogen_call_error_get_remote_domain (error), ==,
                   "mitogen-core-test-error-quark");
  g_assert_cmpint (mitogen_call_error_get_remote_code (error), ==, 42);
  g_assert_cmpstr (mitogen_call_error_get_context_name (error), ==,
                   mitogen_context_get_name (ctx));
  g_assert_nonnull (strstr (error->message, "the chain broke"));
}

static void
test_call_chains (Fixture *f,
                  gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  g_autoptr(MitogenCallChain) chain = mitogen_call_chain_new (ctx);
  g_autoptr(MitogenCallChain) other = mitogen_call_chain_new (ctx);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("test-context-XXXXXX", &error);
  g_autofree gchar *before = NULL;
  g_autofree gchar *skipped = NULL;
  g_autofree gchar *after = NULL;
  g_autoptr(GVariant) v = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (mitogen_call_chain_get_chain_id (chain), !=,
                   mitogen_call_chain_get_chain_id (other));
  before = g_build_filename (dir, "before", NULL);
  skipped = g_build_filename (dir, "skipped", NULL);
  after = g_build_filename (dir, "after", NULL);

  /* Pipelined: a call that works, one that fails, one that must not run;
   * the next call waiting for a reply reports the failure. */
  mitogen_call_chain_call_no_reply (chain, "core.write_file",
                                    write_file_args (before));
  mitogen_call_chain_call_no_reply (chain, "core.fail",
                                    g_variant_new ("(s)", "the chain broke"));
  mitogen_call_chain_call_no_reply (chain, "core.write_file",
                                    write_file_args (skipped));
  {
    g_autoptr(MitogenTestDeadline) deadline = mitogen_test_deadline_new (WAIT);
    v = mitogen_call_chain_call (chain, "core.getpid", NULL,
                                 deadline->cancellable, &error);
  }
  g_assert_null (v);
  assert_chain_error (error, ctx);
  g_clear_error (&error);
  g_assert_true (file_exists (before));
  g_assert_false (file_exists (skipped));

  /* Still failed: nothing of the chain runs. */
  {
    g_autoptr(MitogenTestDeadline) deadline = mitogen_test_deadline_new (WAIT);
    v = mitogen_call_chain_call (chain, "core.write_file",
                                 write_file_args (skipped),
                                 deadline->cancellable, &error);
  }
  g_assert_null (v);
  assert_chain_error (error, ctx);
  g_clear_error (&error);
  g_assert_false (file_exists (skipped));

  /* Plain calls and other chains to the same context are not affected. */
  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, agent_pid (ctx));
  {
    g_autoptr(MitogenTestDeadline) deadline = mitogen_test_deadline_new (WAIT);
    v = mitogen_call_chain_call (other, "core.getpid", NULL,
                                 deadline->cancellable, &error);
  }
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (v), ==, agent_pid (ctx));
  g_clear_pointer (&v, g_variant_unref);

  /* A reset chain runs again. */
  mitogen_call_chain_reset (chain);
  {
    g_autoptr(MitogenTestDeadline) deadline = mitogen_test_deadline_new (WAIT);
    v = mitogen_call_chain_call (chain, "core.write_file", write_file_args (after),
                                 deadline->cancellable, &error);
  }
  g_assert_no_error (error);
  g_clear_pointer (&v, g_variant_unref);
  g_assert_true (file_exists (after));

  g_assert_cmpint (g_unlink (before), ==, 0);
  g_assert_cmpint (g_unlink (after), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  shutdown_ok (ctx);
}

/* ---------------------------------------------------------------------- */
/* Logs. */

static void
call_log (MitogenContext *ctx,
          GLogLevelFlags level,
          const gchar *message)
{
  g_autoptr(GVariant) v =
    mitogen_test_call_ok (ctx, "testing.log",
                          g_variant_new ("(is)", (gint) level, message));
}

static void
test_logs_forwarded (Fixture *f,
                     gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  const gchar *name = mitogen_context_get_name (ctx);
  g_autofree gchar *domain = g_strconcat ("mitogen.ctx.", name, NULL);
  Match m = { name, NULL, "a warning from the agent", G_LOG_LEVEL_WARNING };
  g_autoptr(GPtrArray) found = NULL;
  Record *r;

  call_log (ctx, G_LOG_LEVEL_WARNING, "a warning from the agent");
  g_assert_cmpuint (records_wait (&m, 1), ==, 1);
  found = records_find (&m);
  g_assert_cmpuint (found->len, ==, 1);
  r = found->pdata[0];
  g_assert_cmpstr (r->domain, ==, domain);
  g_assert_cmpstr (r->context, ==, name);
  g_assert_cmpstr (r->source_domain, ==, "testing");
  g_assert_null (r->stream);
  shutdown_ok (ctx);
}

/* A child's records at the levels that would abort a GTest program (or
 * one run with G_DEBUG=fatal-criticals) if logged as they were sent, with
 * text that would forge lines or drive a terminal if printed raw. */
static void
test_logs_not_fatal (Fixture *f,
                     gconstpointer data)
{
  static const gint levels[] = { G_LOG_LEVEL_ERROR, G_LOG_LEVEL_CRITICAL,
                                 G_LOG_LEVEL_WARNING,
                                 G_LOG_LEVEL_ERROR | G_LOG_LEVEL_DEBUG };
  const gchar *forged = "one\r\n** mitogen-CRITICAL **: forged\x1b[2J\x7f\\";
  const gchar *escaped =
    "one\\r\\n** mitogen-CRITICAL **: forged\\x1b[2J\\x7f\\\\";
  g_autoptr(MitogenContext) ctx = NULL;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 2 * WAIT, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      return;
    }

  /* Every record reaches GLib's own writer, which aborts on fatal levels. */
  records_pass_through = TRUE;
  ctx = connect_local (f->router, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (levels); i++)
    {
      GLogLevelFlags most_severe = levels[i] & -levels[i];
      Match m = { mitogen_context_get_name (ctx), NULL, escaped, most_severe };
      g_autoptr(GPtrArray) found = NULL;
      Record *r;

      records_clear ();
      g_variant_unref (mitogen_test_call_ok (ctx, "testing.send_log",
                                             g_variant_new ("(is)", levels[i],
                                                            forged)));
      g_assert_cmpuint (records_wait (&m, 1), ==, 1);
      found = records_find (&m);
      r = found->pdata[0];
      g_assert_cmpint (r->local_level, ==, G_LOG_LEVEL_MESSAGE);
      g_assert_true (g_str_has_prefix (r->domain, "mitogen.ctx."));
    }
  shutdown_ok (ctx);
}

/* Logs a debug record, then a warning: records travel in order, so once
 * the warning is here the debug record is too, if it travels at all. */
static guint
debug_records (MitogenContext *ctx)
{
  const gchar *name = mitogen_context_get_name (ctx);
  Match marker = { name, NULL, "marker after debug", G_LOG_LEVEL_WARNING };
  Match debug = { name, NULL, "a debug record", G_LOG_LEVEL_DEBUG };
  g_autoptr(GPtrArray) found = NULL;

  call_log (ctx, G_LOG_LEVEL_DEBUG, "a debug record");
  call_log (ctx, G_LOG_LEVEL_WARNING, "marker after debug");
  g_assert_cmpuint (records_wait (&marker, 1), ==, 1);
  found = records_find (&debug);
  for (guint i = 0; i < found->len; i++)
    g_assert_cmpstr (((Record *) found->pdata[i])->source_domain, ==, "testing");
  return found->len;
}

static void
test_logs_debug (Fixture *f,
                 gconstpointer data)
{
  g_autoptr(MitogenContext) quiet =
    connect_local (f->router, g_variant_new_parsed ("{'debug': <false>}"));
  g_autoptr(MitogenContext) chatty =
    connect_local (f->router, g_variant_new_parsed ("{'debug': <true>}"));
  g_autoptr(MitogenContext) plain = connect_local (f->router, NULL);

  g_assert_cmpuint (debug_records (quiet), ==, 0);
  g_assert_cmpuint (debug_records (plain), ==, 0);
  g_assert_cmpuint (debug_records (chatty), ==, 1);
  shutdown_ok (quiet);
  shutdown_ok (chatty);
  shutdown_ok (plain);
}

/* ---------------------------------------------------------------------- */
/* Output. */

typedef struct {
  MitogenContext *ctx;
  gint stop;
  guint calls;
  guint lines; /* per call, for a printing chatter; 0 for echo calls */
} Chatter;

static gpointer
chatter_thread (gpointer data)
{
  Chatter *c = data;

  while (!g_atomic_int_get (&c->stop))
    {
      if (c->lines)
        {
          g_autoptr(GVariant) v =
            mitogen_test_call_ok (c->ctx, "testing.print_lines",
                                  g_variant_new ("(u)", c->lines));
        }
      else
        {
          g_autoptr(GVariant) v =
            echo (c->ctx, g_variant_new_uint32 (c->calls));
          g_assert_cmpuint (g_variant_get_uint32 (v), ==, c->calls);
        }
      c->calls++;
    }
  return NULL;
}

/* Every stdout record of @name, in order, is line i % @period of a
 * testing.print_lines call. */
static void
assert_lines (const gchar *name,
              guint expected,
              guint period)
{
  Match m = { name, "stdout", NULL, 0 };
  g_autoptr(GPtrArray) lines = NULL;

  g_assert_cmpuint (records_wait (&m, expected), ==, expected);
  lines = records_find (&m);
  g_assert_cmpuint (lines->len, ==, expected);
  for (guint i = 0; i < lines->len; i++)
    {
      Record *r = lines->pdata[i];
      gchar want[32];

      g_snprintf (want, sizeof want, "line %06u", i % period);
      if (g_strcmp0 (r->message, want) != 0)
        g_error ("stdout record %u of %s is “%s”, not “%s”", i, name,
                 r->message, want);
      g_assert_cmpint (r->level, ==, G_LOG_LEVEL_MESSAGE);
      g_assert_cmpstr (r->source_domain, ==, "stdout");
    }
}

#define N_LINES 100000

static void
test_output_stdout (Fixture *f,
                    gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  g_autoptr(MitogenContext) noisy = connect_local (f->router, NULL);
  /* Calls to the same context queue behind the printing, in flight on
   * the same stream; another context prints at the same time, its lines
   * interleaving with these in the master. */
  Chatter same = { ctx, 0, 0, 0 };
  Chatter other = { noisy, 0, 0, 37 };
  GThread *same_thread = g_thread_new ("chatter", chatter_thread, &same);
  GThread *other_thread = g_thread_new ("chatter", chatter_thread, &other);
  g_autoptr(GVariant) v = NULL;

  v = mitogen_test_call_ok (ctx, "testing.print_lines",
                            g_variant_new ("(u)", N_LINES));
  {
    /* Until the last line arrived, not just until it was printed. */
    Match m = { mitogen_context_get_name (ctx), "stdout", NULL, 0 };
    g_assert_cmpuint (records_wait (&m, N_LINES), ==, N_LINES);
  }
  g_atomic_int_set (&same.stop, 1);
  g_atomic_int_set (&other.stop, 1);
  g_thread_join (same_thread);
  g_thread_join (other_thread);
  g_test_message ("meanwhile %u echo calls, %u print calls to another context",
                  same.calls, other.calls);
  g_assert_cmpuint (other.calls, >, 0);

  assert_lines (mitogen_context_get_name (ctx), N_LINES, N_LINES);
  assert_lines (mitogen_context_get_name (noisy), other.calls * other.lines,
                other.lines);
  shutdown_ok (ctx);
  shutdown_ok (noisy);
}

/* A subprocess's output need be neither text nor harmless: a line with
 * control characters and a byte that is not UTF-8 arrives as one escaped
 * line of valid UTF-8. */
static void
test_output_escaped (Fixture *f,
                     gconstpointer data)
{
  static const guint8 raw[] = "a\rb\x1b[31mc\xff\x07" "d\n";
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  Match m = { mitogen_context_get_name (ctx), "stdout",
              "a\\rb\\x1b[31mc\xef\xbf\xbd\\x07d", 0 };

  g_variant_unref (mitogen_test_call_ok (
    ctx, "testing.print_bytes",
    g_variant_new ("(@ay)", g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, raw,
                                                       sizeof raw - 1, 1))));
  g_assert_cmpuint (records_wait (&m, 1), ==, 1);
  shutdown_ok (ctx);
}

static void
test_output_captured (Fixture *f,
                      gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  g_autofree gchar *name = g_strdup (mitogen_context_get_name (ctx));
  Match any = { name, NULL, NULL, 0 };
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GVariant) r = mitogen_test_call_ok (
    ctx, "core.run",
    g_variant_new_parsed ("(['sh', '-c', 'echo x >&2; echo y'], @may nothing, "
                          "@ms nothing, @a{ss} {})"));
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GVariant) err = NULL;
  gint status;
  gsize len;
  const gchar *bytes;

  g_variant_get (r, "(i@ay@ay)", &status, &out, &err);
  g_assert_cmpint (status, ==, 0);
  bytes = g_variant_get_fixed_array (out, &len, 1);
  g_assert_cmpmem (bytes, len, "y\n", 2);
  bytes = g_variant_get_fixed_array (err, &len, 1);
  g_assert_cmpmem (bytes, len, "x\n", 2);

  /* Once the context is gone, everything it had to say has arrived. */
  shutdown_ok (ctx);
  found = records_find (&any);
  for (guint i = 0; i < found->len; i++)
    {
      Record *rec = found->pdata[i];
      g_assert_null (rec->stream);
    }
}

/* ---------------------------------------------------------------------- */
/* Death and shutdown. */

typedef struct {
  MitogenContext *ctx;
  Flag started;
  Flag finished;
  GError *error;
  gint64 returned;
} Hang;

static void
on_hang_progress (GVariant *progress,
                  gpointer user_data)
{
  Hang *h = user_data;
  flag_set (&h->started);
}

static gpointer
hang_thread (gpointer data)
{
  Hang *h = data;
  GVariant *v = mitogen_context_call_with_progress (h->ctx, "testing.hang", NULL,
                                                    on_hang_progress, h, NULL,
                                                    &h->error);

  g_assert_null (v);
  h->returned = g_get_monotonic_time ();
  flag_set (&h->finished);
  return NULL;
}

static GThread *
hang_start (Hang *h,
            MitogenContext *ctx)
{
  GThread *thread;

  h->ctx = ctx;
  h->error = NULL;
  flag_init (&h->started);
  flag_init (&h->finished);
  thread = g_thread_new ("hang", hang_thread, h);
  g_assert_true (flag_wait (&h->started, WAIT));
  return thread;
}

static void
hang_finish (Hang *h,
             GThread *thread)
{
  g_assert_true (flag_wait (&h->finished, WAIT));
  g_thread_join (thread);
  flag_clear (&h->started);
  flag_clear (&h->finished);
}

static void
test_death_kill9 (Fixture *f,
                  gconstpointer data)
{
  g_autoptr(MitogenContext) victim = connect_local (f->router, NULL);
  g_autoptr(MitogenContext) other = connect_local (f->router, NULL);
  GPid pid = agent_pid (victim);
  Hang h;
  GThread *thread;
  gint64 killed, latency;

  g_assert_cmpint (mitogen_test_remote_pid (victim), ==, pid);
  thread = hang_start (&h, victim);

  killed = g_get_monotonic_time ();
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  hang_finish (&h, thread);
  latency = h.returned - killed;
  g_test_message ("caller woke %.1f ms after SIGKILL", latency / 1000.0);

  g_assert_error (h.error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  if (!strstr (h.error->message, mitogen_context_get_name (victim)))
    g_error ("“%s” does not name %s", h.error->message,
             mitogen_context_get_name (victim));
  g_clear_error (&h.error);
  g_assert_cmpint (latency, <, mitogen_test_scaled (G_USEC_PER_SEC));

  /* The dead context fails later calls at once; the other one works. */
  {
    g_autoptr(GError) error = call_fails (victim, "core.getpid", NULL);
    g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  }
  g_assert_false (mitogen_context_is_connected (victim));
  g_assert_true (mitogen_context_is_connected (other));
  g_assert_cmpint (mitogen_test_remote_pid (other), ==, agent_pid (other));
  {
    g_autoptr(GVariant) v = echo (other, g_variant_new_string ("still here"));
    g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "still here");
  }
  g_assert_true (wait_released (pid));
  shutdown_ok (other);
}

static void
test_shutdown_plain (Fixture *f,
                     gconstpointer data)
{
  MitogenContext *ctx = connect_local (f->router, NULL);
  MitogenContext *kept = connect_local (f->router, NULL);
  GPid pid = agent_pid (ctx);
  GPid kept_pid = agent_pid (kept);
  gint64 start;

  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, pid);
  start = g_get_monotonic_time ();
  {
    g_autoptr(MitogenTestDeadline) deadline = mitogen_test_deadline_new (WAIT);
    g_autoptr(GError) error = NULL;

    g_assert_true (mitogen_context_shutdown (ctx, TRUE, deadline->cancellable,
                                             &error));
    g_assert_no_error (error);
  }
  g_test_message ("shutdown took %.1f ms",
                  (g_get_monotonic_time () - start) / 1000.0);
  /* Dropped at once, as an application would: the agent is still
   * reaped, no zombie left behind. */
  g_object_unref (ctx);
  g_assert_true (wait_released (pid));

  /* A context kept after its shutdown: calling, or shutting down again,
   * fails or returns cleanly. */
  shutdown_ok (kept);
  g_assert_true (wait_released (kept_pid));
  shutdown_ok (kept);
  {
    g_autoptr(GError) error = call_fails (kept, "core.getpid", NULL);
    g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  }
  g_object_unref (kept);
}

static void
test_shutdown_hung (Fixture *f,
                    gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = connect_local (f->router, NULL);
  GPid pid = agent_pid (ctx);
  Hang h;
  GThread *thread;
  gint64 start, took;

  thread = hang_start (&h, ctx);
  start = g_get_monotonic_time ();
  shutdown_ok (ctx);
  took = g_get_monotonic_time () - start;
  g_test_message ("shutdown of a hung context took %.3f s", took / 1e6);
  /* The hung function held the agent until the grace period ended. */
  g_assert_cmpint (took, >=, MITOGEN_BROKER_SHUTDOWN_TIMEOUT - 100000);
  g_assert_true (wait_released (pid));

  hang_finish (&h, thread);
  g_assert_error (h.error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_clear_error (&h.error);
}

/* The helper master of test_death_master: connects a context, says its
 * agent's pid, and waits to be killed. */
static int
master_child_main (void)
{
  g_autoptr(GError) error = NULL;
  MitogenBroker *broker = mitogen_broker_new ();
  MitogenRouter *router = mitogen_router_new (broker);
  MitogenContext *ctx = mitogen_router_connect_context (
      router, "local", mitogen_test_connect_options (NULL), NULL, NULL, &error);
  g_autoptr(GVariant) pid = NULL;

  if (!ctx)
    {
      g_printerr ("master child: %s\n", error->message);
      return 1;
    }
  pid = mitogen_context_call (ctx, "core.getpid", NULL, NULL, &error);
  if (!pid)
    {
      g_printerr ("master child: %s\n", error->message);
      return 1;
    }
  printf ("%d\n", g_variant_get_int32 (pid));
  fflush (stdout);
  for (;;)
    pause ();
}

/* Reads one line from @fd within WAIT. */
static gchar *
read_line (int fd)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;
  GString *line = g_string_new (NULL);

  for (;;)
    {
      struct pollfd p = { fd, POLLIN, 0 };
      gint64 left = deadline - g_get_monotonic_time ();
      gchar c;

      if (left <= 0 || poll (&p, 1, (int) (left / 1000) + 1) < 0)
        break;
      if (!p.revents)
        continue;
      if (read (fd, &c, 1) != 1)
        break;
      if (c == '\n')
        return g_string_free (line, FALSE);
      g_string_append_c (line, c);
    }
  g_string_free (line, TRUE);
  return NULL;
}

/* Runs in a subprocess that is a child subreaper: the orphaned agent
 * becomes its child, so it can tell exactly when the agent exits, whatever
 * init does with orphans. */
static void
test_death_master (void)
{
  const gchar *argv[] = { "/proc/self/exe", "--master-child", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = NULL;
  g_autofree gchar *exe = NULL;
  GPid master;
  int out_fd, status;
  gint64 killed, deadline;
  GPid agent, got;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 2 * WAIT, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), ==, 0);
  exe = g_file_read_link ("/proc/self/exe", NULL);
  g_assert_nonnull (exe);
  argv[0] = exe;
  g_assert_true (g_spawn_async_with_pipes (NULL, (gchar **) argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                           &master, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  line = read_line (out_fd);
  close (out_fd);
  g_assert_nonnull (line);
  agent = (GPid) g_ascii_strtoll (line, NULL, 10);
  g_assert_cmpint (agent, >, 0);
  g_assert_cmpint (agent, !=, master);
  g_assert_true (mitogen_test_process_running (agent));

  killed = g_get_monotonic_time ();
  g_assert_cmpint (kill (master, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (master, &status, 0), ==, master);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);

  /* The orphan, ours now, notices its parent is gone and exits. */
  deadline = g_get_monotonic_time () + WAIT;
  while ((got = waitpid (agent, &status, WNOHANG)) == 0 &&
         g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpint (got, ==, agent);
  g_printerr ("# orphaned agent exited %.1f ms after its master was killed, "
              "status 0x%x\n", (g_get_monotonic_time () - killed) / 1000.0,
              (guint) status);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_false (process_exists (agent));
}

/* ---------------------------------------------------------------------- */
/* Resources. */

/* Each agent must be reaped and forgotten. */
static void
connect_call_shutdown (MitogenRouter *router)
{
  MitogenContext *ctx = connect_local (router, NULL);
  GPid pid = agent_pid (ctx);

  g_assert_cmpint (mitogen_test_remote_pid (ctx), ==, pid);
  shutdown_ok (ctx);
  g_object_unref (ctx);
}

/* The descriptors open now that were not in @before ("" for none). */
static GString *
new_fds (GHashTable *before)
{
  g_autoptr(GHashTable) now = open_fds ();
  GString *added = g_string_new (NULL);
  GHashTableIter iter;
  const gchar *fd;

  g_hash_table_iter_init (&iter, now);
  while (g_hash_table_iter_next (&iter, (gpointer *) &fd, NULL))
    if (!g_hash_table_contains (before, fd))
      g_string_append_printf (added, " %s", fd);
  return added;
}

/* new_fds() once it is empty, or once WAIT has passed. GLib's worker
 * thread closes a child watch's pidfd a moment after it reaped the child,
 * and a reaped child's pidfd no longer names it (its fdinfo says "Pid:
 * -1"), so wait_released() cannot wait for that close: this waits for the
 * descriptors themselves. */
static GString *
new_fds_settled (GHashTable *before)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;
  GString *added;

  while ((added = new_fds (before))->len && g_get_monotonic_time () < deadline)
    {
      g_string_free (added, TRUE);
      g_usleep (1000);
    }
  return added;
}

static void
test_resources_fds (Fixture *f,
                    gconstpointer data)
{
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  g_autoptr(GString) leaked = NULL;
  guint n = 100;
  gint64 start;
  int status;

  /* The first context loads the transport and starts GLib's helpers. */
  connect_call_shutdown (f->router);
  before = open_fds ();
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    connect_call_shutdown (f->router);
  g_test_message ("%u contexts connected, called and shut down in %.3f s", n,
                  (g_get_monotonic_time () - start) / 1e6);

  /* Some left over from earlier tests may have closed meanwhile; none may
   * have been added. */
  leaked = new_fds_settled (before);
  if (leaked->len)
    g_error ("descriptors left open:%s", leaked->str);
  after = open_fds ();
  g_assert_cmpuint (g_hash_table_size (after), <=, g_hash_table_size (before));

  /* Every agent was reaped by the library: nothing is left for us. */
  g_assert_cmpint (waitpid (-1, &status, WNOHANG), ==, -1);
  g_assert_cmpint (errno, ==, ECHILD);
}

/* ---------------------------------------------------------------------- */
/* Connect failures. Each runs in a subprocess: MITOGEN_AGENT is changed,
 * which only a process with no other thread yet may do. */

static void
assert_no_children (void)
{
  int status;

  g_assert_cmpint (waitpid (-1, &status, WNOHANG), ==, -1);
  g_assert_cmpint (errno, ==, ECHILD);
}

static void
connect_failure_subprocess (const gchar *agent,
                            GVariant *options,
                            GQuark domain,
                            gint code,
                            gint64 max_usec)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  gint64 start, took;

  g_assert_true (g_setenv ("MITOGEN_AGENT", agent, TRUE));
  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  start = g_get_monotonic_time ();
  ctx = mitogen_router_connect_context (router, "local", options, NULL, NULL,
                                        &error);
  took = g_get_monotonic_time () - start;
  /* To the inherited stderr: a subprocess's test messages are lost. */
  g_printerr ("# connect with MITOGEN_AGENT=%s failed after %.3f s: %s\n",
              agent, took / 1e6, error ? error->message : "(no error)");
  g_assert_null (ctx);
  g_assert_error (error, domain, code);
  g_assert_cmpint (took, <, mitogen_test_scaled (max_usec));
  assert_no_children ();
  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
}

static void
test_connect_bad_agent (void)
{
  if (g_test_subprocess ())
    {
      connect_failure_subprocess ("/bin/false", NULL, MITOGEN_STREAM_ERROR,
                                  MITOGEN_STREAM_ERROR_CONNECT,
                                  5 * G_USEC_PER_SEC);
      return;
    }
  g_test_trap_subprocess (NULL, WAIT, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_connect_missing_agent (void)
{
  if (g_test_subprocess ())
    {
      connect_failure_subprocess ("/nonexistent/mitogen-agent", NULL,
                                  MITOGEN_STREAM_ERROR,
                                  MITOGEN_STREAM_ERROR_CONNECT,
                                  5 * G_USEC_PER_SEC);
      return;
    }
  g_test_trap_subprocess (NULL, WAIT, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_connect_timeout (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autofree gchar *dir = g_dir_make_tmp ("test-context-XXXXXX", &error);
      g_autofree gchar *script = NULL;

      g_assert_no_error (error);
      script = g_build_filename (dir, "sleepy-agent", NULL);
      g_assert_true (g_file_set_contents_full (script,
                                               "#!/bin/sh\nexec sleep 100\n", -1,
                                               G_FILE_SET_CONTENTS_NONE, 0755,
                                               &error));
      g_assert_no_error (error);
      connect_failure_subprocess (script,
                                  g_variant_new_parsed ("{'connect-timeout': <0.5>}"),
                                  MITOGEN_TIMEOUT_ERROR,
                                  MITOGEN_TIMEOUT_ERROR_TIMED_OUT,
                                  5 * G_USEC_PER_SEC);
      g_assert_cmpint (g_unlink (script), ==, 0);
      g_assert_cmpint (g_rmdir (dir), ==, 0);
      return;
    }
  g_test_trap_subprocess (NULL, WAIT, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* ---------------------------------------------------------------------- */

#define ADD(path, func) \
  g_test_add ("/context/" path, Fixture, NULL, setup, func, teardown)

int
main (int argc,
      char **argv)
{
  if (argc > 1 && g_str_equal (argv[1], "--master-child"))
    return master_child_main ();

  g_test_init (&argc, &argv, NULL);

  records = g_ptr_array_new_with_free_func (record_free);
  g_log_set_writer_func (capture_writer, NULL, NULL);

  ADD ("calls/shapes", test_calls_shapes);
  ADD ("calls/large", test_calls_large);
  ADD ("calls/many", test_calls_many);
  ADD ("calls/threads", test_calls_threads);
  ADD ("calls/async", test_calls_async);
  ADD ("calls/async-cancel", test_calls_async_cancel);
  ADD ("errors/remote", test_errors_remote);
  ADD ("errors/result-too-large", test_errors_result_too_large);
  ADD ("errors/no-such-function", test_errors_no_such_function);
  ADD ("errors/bad-arguments", test_errors_bad_arguments);
  ADD ("calls/chain", test_call_chains);
  ADD ("logs/forwarded", test_logs_forwarded);
  ADD ("logs/debug", test_logs_debug);
  ADD ("logs/not-fatal", test_logs_not_fatal);
  ADD ("output/stdout", test_output_stdout);
  ADD ("output/captured", test_output_captured);
  ADD ("output/escaped", test_output_escaped);
  ADD ("death/kill9", test_death_kill9);
  g_test_add_func ("/context/death/master", test_death_master);
  ADD ("shutdown/plain", test_shutdown_plain);
  ADD ("shutdown/hung", test_shutdown_hung);
  ADD ("resources/fds", test_resources_fds);
  g_test_add_func ("/context/connect/bad-agent", test_connect_bad_agent);
  g_test_add_func ("/context/connect/missing-agent", test_connect_missing_agent);
  g_test_add_func ("/context/connect/timeout", test_connect_timeout);

  return g_test_run ();
}
