/* test-core-api.c: the smaller pieces of Mitogen's core API: replies,
 * myself(), to_sender(), disconnect_all(), defer_sync()
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include "mitogen-test-sshd.h"
#include "mitogen-test-util.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#define WAIT MITOGEN_TEST_WAIT

typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  mitogen_test_master_new (&f->broker, &f->router);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  mitogen_test_master_stop (f->broker, NULL);
  mitogen_test_master_clear (&f->broker, &f->router);
}

static MitogenReceiver *
new_inbox (Fixture *f)
{
  return mitogen_receiver_new (f->router, 0, TRUE, MITOGEN_CONTEXT_ID_NONE,
                               NULL);
}

static gchar *
get_string (MitogenReceiver *recv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) v
      = mitogen_receiver_get_value (recv, WAIT, NULL, &error);

  g_assert_no_error (error);
  return g_variant_dup_string (v, NULL);
}

typedef struct
{
  MitogenMessage *msg;
  MitogenRouter *router;
} ReplyJob;

static gpointer
reply_from_thread (gpointer data)
{
  ReplyJob *job = data;

  return GINT_TO_POINTER (mitogen_message_reply (
      job->msg, job->router, g_variant_new_string ("pong")));
}

/* The answer reaches the asker's reply_to, sent from a thread that is
 * neither the broker's nor the receiver's. */
static void
test_message_reply_reaches_reply_to (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenReceiver) server = new_inbox (f);
  g_autoptr (MitogenReceiver) asker = new_inbox (f);
  g_autoptr (MitogenMessage) question = mitogen_message_new (
      mitogen_router_get_context_id (f->router),
      mitogen_receiver_get_handle (server), g_variant_new_string ("ping"));
  g_autoptr (MitogenMessage) got = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *answer = NULL;
  ReplyJob job;
  GThread *thread;

  mitogen_message_set_reply_to (question, mitogen_receiver_get_handle (asker));
  mitogen_router_route (f->router, question);
  got = mitogen_receiver_get (server, WAIT, NULL, &error);
  g_assert_no_error (error);

  job.msg = got;
  job.router = f->router;
  thread = g_thread_new ("reply", reply_from_thread, &job);
  g_assert_true (GPOINTER_TO_INT (g_thread_join (thread)));
  answer = get_string (asker);
  g_assert_cmpstr (answer, ==, "pong");
}

static void
test_message_reply_without_reply_to_sends_nothing (Fixture *f,
                                                   gconstpointer data)
{
  g_autoptr (MitogenMessage) msg = mitogen_message_new (0, 1, NULL);

  g_assert_false (mitogen_message_reply (msg, f->router, NULL));
}

/* myself() is a context for this process: a message sent to it arrives
 * here. */
static void
test_router_myself_is_this_process (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenContext) self = mitogen_router_myself (f->router);
  g_autoptr (MitogenReceiver) inbox = new_inbox (f);
  g_autoptr (MitogenMessage) msg = mitogen_message_new (
      0, mitogen_receiver_get_handle (inbox), g_variant_new_string ("to me"));
  g_autoptr (GError) error = NULL;
  g_autofree gchar *got = NULL;

  g_assert_cmpuint (mitogen_context_get_context_id (self), ==,
                    mitogen_router_get_context_id (f->router));
  g_assert_cmpstr (mitogen_context_get_name (self), ==, "self");
  g_assert_true (mitogen_context_get_router (self) == f->router);
  g_assert_true (mitogen_context_send (self, msg, NULL, &error));
  g_assert_no_error (error);
  got = get_string (inbox);
  g_assert_cmpstr (got, ==, "to me");
}

static void
test_receiver_to_sender_delivers_to_receiver (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenReceiver) inbox = new_inbox (f);
  g_autoptr (MitogenSender) sender = mitogen_receiver_to_sender (inbox);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *got = NULL;

  g_assert_cmpuint (mitogen_sender_get_dst_id (sender), ==,
                    mitogen_router_get_context_id (f->router));
  g_assert_true (mitogen_sender_send (
      sender, g_variant_new_string ("via sender"), NULL, &error));
  g_assert_no_error (error);
  got = get_string (inbox);
  g_assert_cmpstr (got, ==, "via sender");
}

/* Every child is cut off; calls to them fail instead of waiting, and the
 * router still serves a context connected afterwards. */
static void
test_router_disconnect_all_cuts_every_child (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenContext) a
      = mitogen_test_connect (f->router, "local", NULL, NULL);
  g_autoptr (MitogenContext) b
      = mitogen_test_connect (f->router, "local", NULL, NULL);
  g_autoptr (MitogenContext) c = NULL;
  MitogenContext *cut[] = { a, b };

  mitogen_router_disconnect_all (f->router);
  mitogen_test_broker_idle (f->broker);
  for (guint i = 0; i < G_N_ELEMENTS (cut); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) result = NULL;

      g_assert_false (mitogen_context_is_connected (cut[i]));
      result = mitogen_context_call (cut[i], "core.getpid", NULL, NULL, &error);
      g_assert_null (result);
      g_assert_nonnull (error);
    }

  c = mitogen_test_connect (f->router, "local", NULL, NULL);
  g_assert_cmpint (mitogen_test_remote_pid (c), >, 0);
  mitogen_test_shutdown_ok (c);
}

/* Both figures are in the error: the size of what was refused and the limit
 * it broke, so the reader knows by how much and which setting to raise. */
static void
test_size_limit_error_states_limit_and_size (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenReceiver) server = new_inbox (f);
  g_autoptr (MitogenReceiver) asker = new_inbox (f);
  g_autofree gchar *big = g_strnfill (10000, 'x');
  g_autoptr (MitogenMessage) msg = mitogen_message_new (
      mitogen_router_get_context_id (f->router),
      mitogen_receiver_get_handle (server), g_variant_new_string (big));
  g_autofree gchar *size = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenMessage) reply = NULL;

  mitogen_router_set_max_message_size (f->router, 4096);
  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (asker));
  size = g_strdup_printf ("%" G_GSIZE_FORMAT " bytes",
                          mitogen_message_get_size (msg));
  mitogen_router_route (f->router, msg);
  reply = mitogen_receiver_get (asker, WAIT, NULL, &error);
  g_assert_null (reply);
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_assert_nonnull (strstr (error->message, size));
  g_assert_nonnull (strstr (error->message, "max_message_size 4096"));
}

static void
test_decoder_size_error_states_limit_and_size (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenMessageDecoder) decoder
      = mitogen_message_decoder_new (4096);
  g_autofree gchar *big = g_strnfill (10000, 'y');
  g_autoptr (MitogenMessage) msg
      = mitogen_message_new (1, 100, g_variant_new_string (big));
  g_autoptr (GBytes) frame = mitogen_message_encode (msg);
  g_autofree gchar *size = g_strdup_printf ("%" G_GSIZE_FORMAT " bytes",
                                            mitogen_message_get_size (msg));
  g_autoptr (GError) error = NULL;

  g_assert_false (
      mitogen_message_decoder_feed (decoder, g_bytes_get_data (frame, NULL),
                                    MITOGEN_MESSAGE_HEADER_SIZE, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, size));
  g_assert_nonnull (strstr (error->message, "4096 bytes"));
}

/* A child started here is named after its transport and pid. */
static void
test_context_name_local_has_pid (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenContext) ctx
      = mitogen_test_connect (f->router, "local", NULL, NULL);
  g_autofree gchar *expected
      = g_strdup_printf ("local.%d", mitogen_test_remote_pid (ctx));

  g_assert_cmpstr (mitogen_context_get_name (ctx), ==, expected);
  mitogen_test_shutdown_ok (ctx);
}

/* Names say where a context is: ssh.HOST (with the port sshd listens on),
 * sudo.USER, and a context reached through others is named by the path,
 * as ssh.bastion/ssh.web1/sudo.root. */
static void
test_context_name_says_where (Fixture *f, gconstpointer data)
{
  g_autofree gchar *skip = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenTestSshd) sshd = NULL;
  g_autoptr (MitogenContext) bastion = NULL, web = NULL, root = NULL;
  g_autofree gchar *host = NULL, *chain = NULL;
  g_autoptr (GVariant) options = NULL;
  GVariantDict dict;

  if (!mitogen_test_sshd_can_run (&skip))
    {
      g_test_skip (skip);
      return;
    }
  sshd = mitogen_test_sshd_start (NULL, "127.0.0.1", NULL, &error);
  g_assert_no_error (error);
  options
      = g_variant_ref_sink (mitogen_test_sshd_options (sshd, "root", "ignore"));
  host
      = g_strdup_printf ("ssh.127.0.0.1:%u", mitogen_test_sshd_get_port (sshd));

  bastion
      = mitogen_test_connect (f->router, "ssh", options, NULL);
  g_assert_cmpstr (mitogen_context_get_name (bastion), ==, host);
  web = mitogen_test_connect (f->router, "ssh", options,
                              bastion);
  chain = g_strdup_printf ("%s/%s", host, host);
  g_assert_cmpstr (mitogen_context_get_name (web), ==, chain);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "username", "s", "root");
  root = mitogen_router_connect_context (
      f->router, "sudo",
      mitogen_test_connect_options (g_variant_dict_end (&dict)), web, NULL,
      &error);
  if (root)
    {
      g_autofree gchar *full = g_strdup_printf ("%s/sudo.root", chain);

      g_assert_cmpstr (mitogen_context_get_name (root), ==, full);
      mitogen_test_shutdown_ok (root);
    }
  else
    g_test_message ("sudo hop not run here: %s", error->message);
  mitogen_test_shutdown_ok (web);
  mitogen_test_shutdown_ok (bastion);
}

/* The bug: the agent (and the first stage, and its loader) took EAGAIN on
 * a non-blocking stdin for the end, so the boot failed whenever the
 * configuration had not arrived by the time they read. @data: upload the
 * agent through the first stage. Several boots, since the race it guards
 * is a matter of timing. */
static void
test_boot_with_nonblocking_stdin (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (MitogenContext) ctx = NULL;
      GVariantDict dict;

      g_variant_dict_init (&dict, NULL);
      g_variant_dict_insert (&dict, "upload-agent", "b",
                             GPOINTER_TO_INT (data));
      ctx = mitogen_test_connect (f->router, "nonblock",
                                  g_variant_dict_end (&dict), NULL);
      g_assert_cmpint (mitogen_test_remote_pid (ctx), >, 0);
      mitogen_test_shutdown_ok (ctx);
    }
}

static gchar *
remote_getenv (MitogenContext *ctx, const gchar *name)
{
  g_autoptr (GVariant) v
      = mitogen_test_call_ok (ctx, "core.getenv", g_variant_new ("(s)", name));
  g_autoptr (GVariant) inner = g_variant_get_maybe (v);

  return inner ? g_variant_dup_string (inner, NULL) : NULL;
}

/* agent-path is the command the far side runs, per connection: here a
 * wrapper (env) before the agent, given for a child started by another
 * context, which runs it there. A sibling connected without it is started
 * as usual. */
static void
test_agent_path_per_connection (Fixture *f, gconstpointer data)
{
  const gchar *agent = g_getenv ("MITOGEN_AGENT");
  g_autoptr (MitogenContext) hop
      = mitogen_test_connect (f->router, "local", NULL, NULL);
  g_autoptr (MitogenContext) wrapped = NULL, plain = NULL;
  g_autofree gchar *seen = NULL, *unset = NULL;
  const gchar *command[]
      = { "env", "MITOGEN_TEST_AGENT_PATH=used", agent, NULL };
  GVariantDict dict;

  g_assert_nonnull (agent);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert_value (&dict, "agent-path",
                               g_variant_new_strv (command, -1));
  wrapped = mitogen_test_connect (f->router, "local",
                                  g_variant_dict_end (&dict), hop);
  plain = mitogen_test_connect (f->router, "local", NULL, hop);

  seen = remote_getenv (wrapped, "MITOGEN_TEST_AGENT_PATH");
  g_assert_cmpstr (seen, ==, "used");
  unset = remote_getenv (plain, "MITOGEN_TEST_AGENT_PATH");
  g_assert_null (unset);
  mitogen_test_shutdown_ok (wrapped);
  mitogen_test_shutdown_ok (plain);
  mitogen_test_shutdown_ok (hop);
}

/* A context's auth_id override is what the message carries, and the
 * recipient's policy judges it as any other: here a handler that admits
 * only its parents' authority refuses an authority that is not one. */
static void
test_auth_id_override_checked_by_policy (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenContext) self = mitogen_router_myself (f->router);
  g_autoptr (MitogenReceiver) guarded
      = mitogen_receiver_new (f->router, 0, TRUE, MITOGEN_CONTEXT_ID_NONE,
                              mitogen_router_policy_has_parent_authority);
  g_autoptr (MitogenReceiver) asker = new_inbox (f);
  g_autoptr (MitogenMessage) refused = NULL, admitted = NULL, got = NULL;
  g_autoptr (GError) error = NULL;

  refused = mitogen_message_new (0, mitogen_receiver_get_handle (guarded),
                                 g_variant_new_string ("on 77's authority"));
  mitogen_message_set_reply_to (refused, mitogen_receiver_get_handle (asker));
  mitogen_context_set_auth_id (self, 77);
  g_assert_true (mitogen_context_send (self, refused, NULL, &error));
  g_assert_cmpuint (mitogen_message_get_auth_id (refused), ==, 77);
  got = mitogen_receiver_get (asker, WAIT, NULL, &error);
  g_assert_null (got);
  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  g_clear_error (&error);
  g_assert_true (mitogen_receiver_empty (guarded));

  mitogen_context_set_auth_id (self, MITOGEN_CONTEXT_ID_NONE);
  admitted = mitogen_message_new (0, mitogen_receiver_get_handle (guarded),
                                  g_variant_new_string ("own authority"));
  g_assert_true (mitogen_context_send (self, admitted, NULL, &error));
  g_clear_pointer (&got, mitogen_message_unref);
  got = mitogen_receiver_get (guarded, WAIT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mitogen_message_get_auth_id (got), ==,
                    mitogen_router_get_context_id (f->router));
}

/* An agent-path script, in a fresh directory; free with remove_script(). */
static gchar *
write_script (const gchar *body)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("test-core-api-XXXXXX", &error);
  gchar *script;

  g_assert_no_error (error);
  script = g_build_filename (dir, "agent", NULL);
  g_assert_true (g_file_set_contents_full (
      script, body, -1, G_FILE_SET_CONTENTS_NONE, 0755, &error));
  g_assert_no_error (error);
  return script;
}

static void
remove_script (gchar *script)
{
  g_autofree gchar *dir = g_path_get_dirname (script);

  g_assert_cmpint (g_unlink (script), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  g_free (script);
}

static GError *
connect_with_agent (Fixture *f, const gchar *script)
{
  const gchar *command[] = { script, NULL };
  GError *error = NULL;
  g_autoptr (MitogenContext) ctx = NULL;
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert_value (&dict, "agent-path",
                               g_variant_new_strv (command, -1));
  ctx = mitogen_router_connect_context (
      f->router, "local",
      mitogen_test_connect_options (g_variant_dict_end (&dict)), NULL, NULL,
      &error);
  g_assert_null (ctx);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  return error;
}

/* A child that dies while it starts has usually said why on its stderr:
 * the connect error quotes it, not only "closed its connection". */
static void
test_bootstrap_death_quotes_stderr (Fixture *f, gconstpointer data)
{
  gchar *script = write_script ("#!/bin/sh\necho boom >&2\nexit 1\n");
  g_autoptr (GError) error = connect_with_agent (f, script);

  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "boom"));
  g_assert_nonnull (strstr (error->message, "status 1"));
  remove_script (script);
}

/* Of a child that said a lot, the end is quoted, and only a few KiB; what
 * it wrote never filled the pipe and stalled its bootstrap till the
 * connect timeout. */
static void
test_bootstrap_death_quotes_stderr_tail_only (Fixture *f, gconstpointer data)
{
  gchar *script
      = write_script ("#!/bin/sh\n"
                      "i=0\n"
                      "while [ $i -lt 1000 ]; do\n"
                      "  echo \"noise line $i, of no interest at all\" >&2\n"
                      "  i=$((i + 1))\n"
                      "done\n"
                      "echo 'boom at the end' >&2\n"
                      "exit 3\n");
  g_autoptr (GError) error = connect_with_agent (f, script);

  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "boom at the end"));
  g_assert_null (strstr (error->message, "noise line 0,"));
  g_assert_cmpuint (strlen (error->message), <, 8192);
  remove_script (script);
}

static gboolean
wait_for_file (const gchar *path)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;

  while (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      g_usleep (10 * 1000);
    }
  return TRUE;
}

/* Kills @pid and reaps it, or sees that the library's child watch did. */
static void
kill_and_reap (GPid pid)
{
  gint64 deadline = g_get_monotonic_time () + WAIT;
  int status;

  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  for (;;)
    {
      pid_t got = waitpid (pid, &status, WNOHANG);

      if (got == pid || (got < 0 && errno == ECHILD))
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
  g_assert_false (mitogen_test_process_running (pid));
}

/* Mitogen's detach(): the child says DETACHING, closes its link itself,
 * and goes on with the call that detached it; the parent neither signals
 * it nor waits for it, even when its broker shuts down, after which the
 * child still runs and acts. */
static void
test_detach_outlives_parent (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("test-core-api-XXXXXX", &error);
  g_autofree gchar *prefix = g_build_filename (dir, "child", NULL);
  g_autofree gchar *detached = g_strconcat (prefix, ".detached", NULL);
  g_autofree gchar *go = g_strconcat (prefix, ".go", NULL);
  g_autofree gchar *after = g_strconcat (prefix, ".after", NULL);
  g_autofree gchar *pid_text = NULL, *expected = NULL;
  g_autoptr (MitogenContext) ctx
      = mitogen_test_connect (f->router, "local", NULL, NULL);
  MitogenParentStream *stream
      = MITOGEN_PARENT_STREAM (mitogen_context_get_stream (ctx));
  GPid pid = mitogen_parent_stream_get_pid (stream);
  gint64 deadline = g_get_monotonic_time () + WAIT;

  g_assert_no_error (error);
  expected = g_strdup_printf ("%d", pid);
  g_assert_true (mitogen_context_call_no_reply (
      ctx, "testing.detach_and_linger", g_variant_new ("(s)", prefix), NULL,
      &error));
  g_assert_no_error (error);

  /* Written once the link was gone. */
  g_assert_true (wait_for_file (detached));
  g_assert_true (g_file_get_contents (detached, &pid_text, NULL, NULL));
  g_assert_cmpstr (pid_text, ==, expected);
  g_assert_true (mitogen_parent_stream_get_detached (stream));
  while (mitogen_context_is_connected (ctx))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }

  /* The parent goes; the child stays. */
  mitogen_broker_shutdown (f->broker);
  mitogen_broker_join (f->broker);
  g_assert_true (mitogen_test_process_running (pid));
  g_assert_true (g_file_set_contents (go, "", 0, NULL));
  g_assert_true (wait_for_file (after));
  g_assert_true (mitogen_test_process_running (pid));

  kill_and_reap (pid);
  g_assert_cmpint (g_unlink (detached), ==, 0);
  g_assert_cmpint (g_unlink (go), ==, 0);
  g_assert_cmpint (g_unlink (after), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static gpointer
on_broker (gpointer user_data, GError **error)
{
  MitogenBroker *broker = user_data;

  if (!mitogen_broker_is_broker_thread (broker))
    return g_strdup ("not on the broker thread");
  return g_strdup ("ran on the broker");
}

static gpointer
fail_on_broker (gpointer user_data, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                       "the work failed");
  return NULL;
}

static void
test_broker_defer_sync_returns_result (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *result
      = mitogen_broker_defer_sync (f->broker, on_broker, f->broker, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (result, ==, "ran on the broker");
  g_assert_null (
      mitogen_broker_defer_sync (f->broker, fail_on_broker, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);

  /* Once the broker is gone, the work cannot run: the caller is told so
   * instead of waiting for ever. */
  mitogen_broker_shutdown (f->broker);
  mitogen_broker_join (f->broker);
  g_assert_null (
      mitogen_broker_defer_sync (f->broker, on_broker, f->broker, &error));
  g_assert_error (error, MITOGEN_STREAM_ERROR,
                  MITOGEN_STREAM_ERROR_DISCONNECTED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn)                                                          \
  g_test_add ("/core-api/" path, Fixture, NULL, fixture_setup, fn,             \
              fixture_teardown)
  ADD ("message-reply-reaches-reply-to", test_message_reply_reaches_reply_to);
  ADD ("message-reply-without-reply-to-sends-nothing",
       test_message_reply_without_reply_to_sends_nothing);
  ADD ("router-myself-is-this-process", test_router_myself_is_this_process);
  ADD ("receiver-to-sender-delivers-to-receiver",
       test_receiver_to_sender_delivers_to_receiver);
  ADD ("router-disconnect-all-cuts-every-child",
       test_router_disconnect_all_cuts_every_child);
  ADD ("size-limit-error-states-limit-and-size",
       test_size_limit_error_states_limit_and_size);
  ADD ("decoder-size-error-states-limit-and-size",
       test_decoder_size_error_states_limit_and_size);
  ADD ("context-name-local-has-pid", test_context_name_local_has_pid);
  ADD ("context-name-says-where", test_context_name_says_where);
  g_test_add ("/core-api/boot-with-nonblocking-stdin/agent", Fixture,
              GINT_TO_POINTER (FALSE), fixture_setup,
              test_boot_with_nonblocking_stdin, fixture_teardown);
  g_test_add ("/core-api/boot-with-nonblocking-stdin/first-stage", Fixture,
              GINT_TO_POINTER (TRUE), fixture_setup,
              test_boot_with_nonblocking_stdin, fixture_teardown);
  ADD ("agent-path-per-connection", test_agent_path_per_connection);
  ADD ("auth-id-override-checked-by-policy",
       test_auth_id_override_checked_by_policy);
  ADD ("broker-defer-sync-returns-result",
       test_broker_defer_sync_returns_result);
  ADD ("bootstrap-death-quotes-stderr", test_bootstrap_death_quotes_stderr);
  ADD ("bootstrap-death-quotes-stderr-tail-only",
       test_bootstrap_death_quotes_stderr_tail_only);
  ADD ("detach-outlives-parent", test_detach_outlives_parent);
#undef ADD

  return g_test_run ();
}
