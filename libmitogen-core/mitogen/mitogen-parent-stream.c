/* mitogen-parent-stream.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-parent-stream.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mitogen-agent-bundle.h"
#include "mitogen-broker.h"
#include "mitogen-errors.h"
#include "mitogen-io.h"
#include "mitogen-keepalive-private.h"
#include "mitogen-latch.h"
#include "mitogen-router.h"
#include "mitogen-broker-private.h"
#include "mitogen-parent-stream-private.h"
#include "mitogen-stream-private.h"
#include "mitogen-router-private.h"
#include "mitogen-stderr-tail-private.h"

/**
 * MitogenParentStream:
 *
 * The stream from a parent to a child context it starts. It runs the
 * child's command, then the bootstrap handshake under the connect timeout:
 * the agent announces itself (%MITOGEN_BOOT_MARKER_STARTED), receives its
 * configuration as one frame, and says it is ready
 * (%MITOGEN_BOOT_MARKER_READY); framed messages follow.
 *
 * Whatever the child prints before it announces itself (a shell's
 * complaint, a login banner) is kept and quoted in the error if the
 * bootstrap fails, and so are the last few KiB it wrote on its stderr
 * where that is a pipe of its own (mitogen_parent_stream_take_stderr()),
 * as for `local` and `fork`. A password prompt the transport recognises
 * (`is_prompt`) is answered once with #MitogenParentStream:password.
 *
 * With #MitogenParentStream:upload-agent the child runs a first stage of
 * `sh` instead of the agent, which starts a cached copy of the agent or
 * asks for it to be uploaded; see #MitogenAgentBundle.
 *
 * At shutdown the stream asks the child to exit (`SHUTDOWN`) and waits,
 * within a grace period, for it to close the connection. Once the link is
 * gone, a child process that has not exited is sent `SIGTERM` (at once if
 * it was not asked to exit or did not within the grace period, after
 * %MITOGEN_BROKER_EXIT_DELAY if it closed the link itself), then `SIGKILL`
 * after %MITOGEN_BROKER_KILL_DELAY, and it is reaped: nothing the child
 * does keeps it, or a shutdown waiting for it, alive longer.
 *
 * A keepalive watches the link (#MitogenParentStream:keepalive-interval,
 * #MitogenParentStream:keepalive-count): a child that stays silent, even to
 * its probes, is disconnected as dead.
 */
typedef struct {
  GPid pid;
  gboolean exited;
  gint wait_status;
  GSource *child_watch;
  struct _ChildWatch *watch; /* shared with child_watch's callback */
  gboolean detached;         /* the child said DETACHING: it outlives us */
  gdouble connect_timeout;
  gboolean debug;
  gboolean fork_server;
  gchar *context_name;
  gboolean shutdown_sent;
  gchar *password;
  gboolean upload_agent;
  gboolean upload_agent_set;
  gchar **agent_path;
  MitogenAgentBundle *bundle;
  MitogenStderrTail *stderr_tail; /* the child's stderr, if apart */

  gdouble keepalive_interval;
  guint keepalive_count;
  MitogenKeepalive *keepalive;

  /* Set at connect; the broker's thread outlives the child's reaping
   * (mitogen_broker_hold()), and every timer below runs there. */
  MitogenBroker *broker;
  GMainContext *context;
  GSource *grace_timer;     /* holds a reference to the stream */
  GSource *terminate_timer; /* holds a reference to the stream */
  gboolean grace_over;
  gboolean term_sent;
  MitogenLatch *exit_latch; /* gets one item once the child is reaped */
} MitogenParentStreamPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MitogenParentStream, mitogen_parent_stream,
                                     MITOGEN_TYPE_STREAM)

enum
{
  PROP_0,
  PROP_CONNECT_TIMEOUT,
  PROP_DEBUG,
  PROP_FORK_SERVER,
  PROP_CONTEXT_NAME,
  PROP_PID,
  PROP_PASSWORD,
  PROP_UPLOAD_AGENT,
  PROP_AGENT_PATH,
  PROP_KEEPALIVE_INTERVAL,
  PROP_KEEPALIVE_COUNT,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

#define PRIV(self) \
  ((MitogenParentStreamPrivate *) mitogen_parent_stream_get_instance_private (self))

/**
 * mitogen_parent_stream_get_agent_path:
 *
 * Returns the agent program: `MITOGEN_AGENT` if set, otherwise the installed
 * `mitogen-agent`.
 *
 * Returns: (transfer full): the agent program: `MITOGEN_AGENT` if set,
 *   otherwise the installed `mitogen-agent`
 */
gchar *
mitogen_parent_stream_get_agent_path (void)
{
  const gchar *env = g_getenv ("MITOGEN_AGENT");

  if (env && *env)
    return g_strdup (env);
  return g_build_filename (MITOGEN_LIBEXECDIR, "mitogen-agent", NULL);
}

/**
 * mitogen_parent_stream_get_upload_agent:
 * @self: a stream
 *
 * Returns whether the agent is uploaded: #MitogenParentStream:upload-agent if
 * set, otherwise whether the transport uploads by default or this process
 * runs from an uploaded agent itself, with none installed.
 *
 * Returns: whether the agent is uploaded: #MitogenParentStream:upload-agent
 *   if set, otherwise whether the transport uploads by default or this
 *   process runs from an uploaded agent itself, with none installed; never
 *   by default with #MitogenParentStream:agent-path, which says where one is
 */
gboolean
mitogen_parent_stream_get_upload_agent (MitogenParentStream *self)
{
  MitogenParentStreamPrivate *priv = PRIV (self);
  g_autofree gchar *agent = NULL;

  if (priv->upload_agent_set)
    return priv->upload_agent;
  if (priv->agent_path && priv->agent_path[0])
    return FALSE;
  if (MITOGEN_PARENT_STREAM_GET_CLASS (self)->uploads_agent)
    return TRUE;
  if (!mitogen_agent_bundle_get_default_directory ())
    return FALSE;
  agent = mitogen_parent_stream_get_agent_path ();
  return !g_file_test (agent, G_FILE_TEST_IS_EXECUTABLE);
}

/**
 * mitogen_parent_stream_get_agent_command:
 * @self: a stream
 * @error: return location for an error
 *
 * The command that starts the agent on the far side, which transports put
 * at the end of their own: #MitogenParentStream:agent-path or this
 * process's agent's path, or with #MitogenParentStream:upload-agent,
 * `/bin/sh -c` and the first stage.
 *
 * Returns: (transfer full) (array zero-terminated=1): the command, or
 *   %NULL with @error set if the agent cannot be bundled
 */
gchar **
mitogen_parent_stream_get_agent_command (MitogenParentStream *self,
                                         GError **error)
{
  MitogenParentStreamPrivate *priv = PRIV (self);
  gchar **argv;

  if (!mitogen_parent_stream_get_upload_agent (self) && priv->agent_path
      && priv->agent_path[0])
    return g_strdupv (priv->agent_path);
  if (!mitogen_parent_stream_get_upload_agent (self))
    {
      argv = g_new0 (gchar *, 2);
      argv[0] = mitogen_parent_stream_get_agent_path ();
      return argv;
    }
  g_clear_object (&priv->bundle);
  priv->bundle = mitogen_agent_bundle_get_default (error);
  if (!priv->bundle)
    return NULL;
  argv = g_new0 (gchar *, 4);
  argv[0] = g_strdup ("/bin/sh");
  argv[1] = g_strdup ("-c");
  argv[2] = mitogen_agent_bundle_get_first_stage (priv->bundle);
  return argv;
}

/**
 * mitogen_parent_stream_get_password:
 * @self: a stream
 *
 * Returns the password prompts are answered with.
 *
 * Returns: (nullable): the password prompts are answered with
 */
const gchar *
mitogen_parent_stream_get_password (MitogenParentStream *self)
{
  return PRIV (self)->password;
}

static gchar **
mitogen_parent_stream_real_get_boot_command (MitogenParentStream *self,
                                             GError **error)
{
  return mitogen_parent_stream_get_agent_command (self, error);
}

/* sudo and ssh ask for passwords on the controlling terminal only, so a
 * transport that answers prompts runs its child on one when it has a
 * password to give. Otherwise a socket carries the link, with the
 * child's complaints merged in to be read during the bootstrap: a
 * terminal's 4 KiB line buffer would slow the upload and every message
 * after it. */
static gboolean
mitogen_parent_stream_real_create_child (MitogenParentStream *self,
                                         const gchar * const *argv,
                                         GPid *out_pid,
                                         int *out_fd,
                                         GError **error)
{
  if (!MITOGEN_PARENT_STREAM_GET_CLASS (self)->is_prompt)
    {
      int stderr_fd = -1;

      if (!mitogen_create_child (argv, NULL, out_pid, out_fd, &stderr_fd,
                                 error))
        return FALSE;
      mitogen_parent_stream_take_stderr (self, stderr_fd);
      return TRUE;
    }
  if (PRIV (self)->password)
    return mitogen_tty_create_child (argv, NULL, out_pid, out_fd, error);
  return mitogen_create_child_merged (argv, NULL, out_pid, out_fd, error);
}

/* The most of what a child said that an error quotes. */
#define QUOTE_SIZE 4096

/**
 * mitogen_parent_stream_quote_output:
 * @who: who said it: `the child`, `ssh`, `sudo`
 * @output: what the child printed before its bootstrap failed
 * @error: (inout) (nullable): the error to add it to, if set
 *
 * Appends what the child said to the message of the bootstrap's error:
 * usually the real reason, such as a shell's "not found".
 */
void
mitogen_parent_stream_quote_output (const gchar *who,
                                    GString *output,
                                    GError **error)
{
  g_autofree gchar *text = NULL;
  const gchar *start = output->str;

  if (!error || !*error || output->len == 0)
    return;
  /* The end says why, the start is often a banner: the tail is kept,
   * from a line's start. */
  if (output->len > QUOTE_SIZE)
    {
      const gchar *nl;

      start += output->len - QUOTE_SIZE;
      nl = memchr (start, '\n', QUOTE_SIZE);
      if (nl && nl[1])
        start = nl + 1;
    }
  text
      = g_utf8_make_valid (start, (gssize) (output->str + output->len - start));
  g_strstrip (text);
  if (*text)
    {
      gchar *message = g_strdup_printf ("%s (%s said: %s)",
                                        (*error)->message, who, text);
      g_free ((*error)->message);
      (*error)->message = message;
    }
}

/**
 * mitogen_parent_stream_write_secret:
 * @fd: the child's terminal
 * @secret: a password
 * @deadline: monotonic time at which to give up
 * @error: return location for an error
 *
 * Answers a prompt with @secret and a newline, wiping the copy it made.
 *
 * Returns: %TRUE once written
 */
gboolean
mitogen_parent_stream_write_secret (int fd,
                                    const gchar *secret,
                                    gint64 deadline,
                                    GError **error)
{
  gsize len = strlen (secret);
  gchar *line = g_malloc (len + 1);
  gboolean ok;

  memcpy (line, secret, len);
  line[len] = '\n';
  ok = mitogen_write_all (fd, (const guint8 *) line, len + 1, deadline, error);
  explicit_bzero (line, len + 1);
  g_free (line);
  return ok;
}

/**
 * mitogen_parent_stream_expect_marker:
 * @fd: the child's descriptor
 * @marker: the line to wait for, such as %MITOGEN_BOOT_MARKER_STARTED
 * @deadline: monotonic time at which to give up
 * @output: (nullable): receives what came before the marker
 * @error: return location for an error
 *
 * Reads byte by byte until @marker, so that nothing after it is consumed.
 *
 * Returns: %TRUE once seen; %FALSE with %MITOGEN_TIMEOUT_ERROR_TIMED_OUT
 *   or %MITOGEN_STREAM_ERROR_DISCONNECTED
 */
gboolean
mitogen_parent_stream_expect_marker (int fd,
                                     const gchar *marker,
                                     gint64 deadline,
                                     GString *output,
                                     GError **error)
{
  gsize mlen = strlen (marker);
  gsize matched = 0;

  while (matched < mlen)
    {
      gchar c;
      gssize n;

      if (!mitogen_wait_fd (fd, G_IO_IN, deadline, error))
        return FALSE;
      n = read (fd, &c, 1);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0)
        {
          g_set_error (error, MITOGEN_STREAM_ERROR,
                       MITOGEN_STREAM_ERROR_DISCONNECTED,
                       "The child closed its connection during bootstrap");
          return FALSE;
        }
      if (c == marker[matched])
        matched++;
      else
        {
          /* Markers do not repeat their first byte, so a mismatch can
           * restart at most at this byte. */
          if (output)
            g_string_append_len (output, marker, (gssize) matched);
          matched = c == marker[0] ? 1 : 0;
          if (!matched && output && output->len < 65536)
            g_string_append_c (output, c);
        }
    }
  return TRUE;
}

/**
 * mitogen_parent_stream_send_config:
 * @fd: the child's descriptor
 * @config: the agent's configuration, of type `a{sv}`
 * @deadline: monotonic time at which to give up
 * @error: return location for an error
 *
 * Sends @config as the bootstrap's one frame.
 *
 * Returns: %TRUE on success
 */
gboolean
mitogen_parent_stream_send_config (int fd,
                                   GVariant *config,
                                   gint64 deadline,
                                   GError **error)
{
  g_autoptr(MitogenMessage) msg = mitogen_message_new (0, MITOGEN_HANDLE_NONE, config);
  g_autoptr(GBytes) frame = mitogen_message_encode (msg);
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);

  return mitogen_write_all (fd, data, len, deadline, error);
}

typedef enum {
  BOOT_FAILED,
  BOOT_STARTED,
  BOOT_STATUS,
  BOOT_PROMPT,
} BootEvent;

/* Only the tail of what a child says is searched, and only this much is
 * kept. */
#define MAX_OUTPUT 65536

static gboolean
check_output (MitogenParentStream *self,
              GString *output,
              gsize *scanned,
              GError **error)
{
  MitogenParentStreamClass *klass = MITOGEN_PARENT_STREAM_GET_CLASS (self);
  gboolean failed = klass->check_output &&
                    klass->check_output (self, output->str + *scanned, error);

  *scanned = output->len;
  return failed;
}

/* Reads byte by byte, so that nothing meant for the next stage is
 * consumed, until the agent announces itself, the first stage reports on
 * the upload (a %MITOGEN_BOOT_MARKER_STATUS line, its text in @status), or
 * the transport sees a password prompt. What else the child says is kept
 * in @output; @scanned is where the transport's next check starts. */
static BootEvent
read_boot_event (MitogenParentStream *self,
                 int fd,
                 gint64 deadline,
                 GString *output,
                 gsize *scanned,
                 gchar **status,
                 GError **error)
{
  MitogenParentStreamClass *klass = MITOGEN_PARENT_STREAM_GET_CLASS (self);
  const gchar *started = MITOGEN_BOOT_MARKER_STARTED;
  gsize started_len = strlen (started);
  gsize line_start = output->len;

  for (;;)
    {
      gchar c;
      gssize n;

      if (!mitogen_wait_fd (fd, G_IO_IN, deadline, error))
        {
          if (error && g_error_matches (*error, MITOGEN_TIMEOUT_ERROR,
                                        MITOGEN_TIMEOUT_ERROR_TIMED_OUT))
            {
              g_clear_error (error);
              g_set_error (error, MITOGEN_TIMEOUT_ERROR, MITOGEN_TIMEOUT_ERROR_TIMED_OUT,
                           "The agent did not start: timed out after %.1f s "
                           "(the connect timeout)", PRIV (self)->connect_timeout);
            }
          return BOOT_FAILED;
        }
      n = read (fd, &c, 1);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0)
        {
          /* A pty's master reads EIO once the last slave is closed. */
          if (!check_output (self, output, scanned, error))
            g_set_error (error, MITOGEN_STREAM_ERROR,
                         MITOGEN_STREAM_ERROR_DISCONNECTED,
                         "The child closed its connection during bootstrap");
          return BOOT_FAILED;
        }
      if (output->len >= MAX_OUTPUT)
        {
          g_string_erase (output, 0, (gssize) (output->len - MAX_OUTPUT / 2));
          *scanned = line_start = 0;
        }
      g_string_append_c (output, c);

      if (output->len >= started_len &&
          memcmp (output->str + output->len - started_len, started, started_len) == 0)
        {
          g_string_truncate (output, output->len - started_len);
          return BOOT_STARTED;
        }
      if (c == '\n' || c == '\r')
        {
          const gchar *line = output->str + line_start;

          if (g_str_has_prefix (line, MITOGEN_BOOT_MARKER_STATUS))
            {
              *status = g_strstrip (g_strdup (line + strlen (MITOGEN_BOOT_MARKER_STATUS)));
              g_string_truncate (output, line_start);
              *scanned = MIN (*scanned, output->len);
              return BOOT_STATUS;
            }
          line_start = output->len;
          if (check_output (self, output, scanned, error))
            return BOOT_FAILED;
        }
      else if (klass->is_prompt && klass->is_prompt (self, output))
        {
          *scanned = output->len;
          return BOOT_PROMPT;
        }
    }
}

/* The loader line and the archive, sent without waiting: the shell reads
 * its line a byte at a time, so the archive waits in the pipe for the
 * loader. If the far side gave up, what it said is the better error. */
static gboolean
upload_agent (MitogenParentStream *self,
              int fd,
              gint64 deadline,
              GString *output,
              gsize *scanned,
              GError **error)
{
  MitogenAgentBundle *bundle = PRIV (self)->bundle;
  g_autoptr(GBytes) script = mitogen_agent_bundle_get_loader_script (bundle);
  GBytes *archive = mitogen_agent_bundle_get_archive (bundle);
  g_autoptr(GError) write_error = NULL;
  g_autofree gchar *status = NULL;

  g_debug ("uploading agent bundle %s (%" G_GSIZE_FORMAT " bytes)",
           mitogen_agent_bundle_get_hash (bundle), g_bytes_get_size (archive));
  if (mitogen_write_all (fd, g_bytes_get_data (script, NULL), g_bytes_get_size (script),
                         deadline, &write_error) &&
      mitogen_write_all (fd, g_bytes_get_data (archive, NULL), g_bytes_get_size (archive),
                         deadline, &write_error))
    return TRUE;
  if (read_boot_event (self, fd, deadline, output, scanned, &status, NULL) == BOOT_STATUS)
    return mitogen_agent_bundle_check_status (bundle, status, error);
  g_propagate_prefixed_error (error, g_steal_pointer (&write_error),
                              "Uploading the agent (%.1f MB) failed: ",
                              g_bytes_get_size (archive) / 1e6);
  return FALSE;
}

static gboolean
answer_prompt (MitogenParentStream *self,
               int fd,
               gint64 deadline,
               gboolean *password_sent,
               GError **error)
{
  MitogenParentStreamPrivate *priv = PRIV (self);
  const gchar *who = MITOGEN_PARENT_STREAM_GET_CLASS (self)->transport_name;

  if (*password_sent)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "%s: the password was not accepted (asked again)", who);
      return FALSE;
    }
  if (!priv->password)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "%s asked for a password but none was given", who);
      return FALSE;
    }
  g_debug ("%s asked for a password; sending it", who);
  *password_sent = TRUE;
  return mitogen_parent_stream_write_secret (fd, priv->password, deadline, error);
}

static gboolean
mitogen_parent_stream_real_handshake (MitogenParentStream *self,
                                      int fd,
                                      GVariant *config,
                                      gint64 deadline,
                                      GError **error)
{
  MitogenParentStreamPrivate *priv = PRIV (self);
  g_autoptr(GString) output = g_string_new (NULL);
  gboolean password_sent = FALSE;
  gsize scanned = 0;

  for (;;)
    {
      g_autofree gchar *status = NULL;
      BootEvent event = read_boot_event (self, fd, deadline, output, &scanned,
                                         &status, error);

      if (event == BOOT_STARTED)
        break;
      if (event == BOOT_FAILED)
        goto fail;
      if (event == BOOT_PROMPT &&
          !answer_prompt (self, fd, deadline, &password_sent, error))
        goto fail;
      if (event == BOOT_STATUS)
        {
          if (!priv->bundle)
            {
              g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                           "The child sent an upload status (%s) without "
                           "having been asked to", status);
              goto fail;
            }
          if (!mitogen_agent_bundle_check_status (priv->bundle, status, error))
            goto fail;
          if (g_str_equal (status, "upload") &&
              !upload_agent (self, fd, deadline, output, &scanned, error))
            goto fail;
        }
    }

  /* What the transport and the agent said before this is of no interest
   * now. */
  g_string_truncate (output, 0);
  if (mitogen_parent_stream_send_config (fd, config, deadline, error) &&
      mitogen_parent_stream_expect_marker (fd, MITOGEN_BOOT_MARKER_READY,
                                           deadline, output, error))
    return TRUE;

fail:
  mitogen_parent_stream_quote_output (MITOGEN_PARENT_STREAM_GET_CLASS (self)->transport_name,
                                      output, error);
  return FALSE;
}

/* The child watch outlives the stream if need be (see finalize), so it
 * holds the stream weakly; it releases the broker's hold when the child
 * is reaped. */
typedef struct _ChildWatch
{
  GWeakRef stream;
  MitogenBroker *broker;
  gint held; /* atomic: the hold on the broker is still ours */
} ChildWatch;

static void
child_watch_clear (gpointer data)
{
  ChildWatch *watch = data;

  g_weak_ref_clear (&watch->stream);
}

static void
child_watch_data_free (gpointer data)
{
  g_atomic_rc_box_release_full (data, child_watch_clear);
}

/* Once: when the child is reaped, or when it detached, since the broker
 * must not wait for a process that outlives it. */
static void
child_watch_release (ChildWatch *watch)
{
  if (g_atomic_int_compare_and_exchange (&watch->held, TRUE, FALSE))
    mitogen_broker_release (watch->broker);
}

static void
clear_source (GSource **source)
{
  GSource *s = g_steal_pointer (source);

  if (s)
    {
      g_source_destroy (s);
      g_source_unref (s);
    }
}

/* Runs @func on the stream in @self's broker context after @delay_usec,
 * holding a reference until then; replaces what @slot held. */
static void
arm_timer (MitogenParentStream *self,
           GSource **slot,
           gint64 delay_usec,
           GSourceFunc func)
{
  clear_source (slot);
  *slot = g_timeout_source_new ((guint) MAX (delay_usec / 1000, 0));
  g_source_set_callback (*slot, func, g_object_ref (self), g_object_unref);
  g_source_set_static_name (*slot, "mitogen-parent-stream");
  g_source_attach (*slot, PRIV (self)->context);
}

static gboolean on_terminate_timer (gpointer data);

/* SIGCONT too: a stopped child acts on SIGTERM only once it runs. */
static void
send_sigterm (MitogenParentStream *self)
{
  MitogenParentStreamPrivate *priv = PRIV (self);

  g_debug ("Stream %s: sending SIGTERM to child %d", priv->context_name, priv->pid);
  kill (priv->pid, SIGTERM);
  kill (priv->pid, SIGCONT);
  priv->term_sent = TRUE;
  arm_timer (self, &priv->terminate_timer, MITOGEN_BROKER_KILL_DELAY,
             on_terminate_timer);
}

static gboolean
on_terminate_timer (gpointer data)
{
  MitogenParentStream *self = data;
  MitogenParentStreamPrivate *priv = PRIV (self);

  /* GLib holds the source while it dispatches. */
  g_source_unref (g_steal_pointer (&priv->terminate_timer));
  if (priv->exited)
    ;
  else if (!priv->term_sent)
    send_sigterm (self);
  else
    {
      g_debug ("Stream %s: sending SIGKILL to child %d", priv->context_name,
               priv->pid);
      kill (priv->pid, SIGKILL);
    }
  return G_SOURCE_REMOVE;
}

/* The link is gone and the child still runs. A child that was asked to
 * exit, and closed the link itself, is exiting: it gets a moment. */
static void
terminate_child (MitogenParentStream *self)
{
  MitogenParentStreamPrivate *priv = PRIV (self);

  if (!MITOGEN_PARENT_STREAM_GET_CLASS (self)->reaps_child || priv->pid <= 0
      || priv->exited || !priv->context || priv->detached)
    return;
  if (priv->shutdown_sent && !priv->grace_over)
    arm_timer (self, &priv->terminate_timer, MITOGEN_BROKER_EXIT_DELAY,
               on_terminate_timer);
  else
    send_sigterm (self);
}

static void
on_child_exit (GPid pid,
               gint wait_status,
               gpointer user_data)
{
  ChildWatch *watch = user_data;
  g_autoptr(MitogenParentStream) self = g_weak_ref_get (&watch->stream);
  int status;
  pid_t got;

  /* GLib 2.74's pidfd child watch calls back as soon as the pidfd is
   * readable, which can be before the exiting child may be reaped; then
   * it reaps nothing, passes status 0 and forgets the child, a zombie for
   * good. Reap it here in that case: it is exiting, so this is brief.
   * After GLib's own reap, this fails with ECHILD. */
  do
    got = waitpid (pid, &status, WNOHANG);
  while (got < 0 && errno == EINTR);
  if (got == 0)
    {
      g_debug ("GLib did not reap child %d; waiting for it", pid);
      do
        got = waitpid (pid, &status, 0);
      while (got < 0 && errno == EINTR);
    }
  if (got == pid)
    wait_status = status;

  if (self)
    {
      MitogenParentStreamPrivate *priv = PRIV (self);

      priv->exited = TRUE;
      priv->wait_status = wait_status;
      clear_source (&priv->terminate_timer);
      mitogen_latch_put (priv->exit_latch, GINT_TO_POINTER (pid), NULL);
    }
  g_spawn_close_pid (pid);
  child_watch_release (watch);
}

/* Sends SHUTDOWN once. Returns FALSE if the link is gone. */
static gboolean
send_shutdown (MitogenParentStream *self)
{
  g_autoptr(MitogenMessage) msg =
    mitogen_message_new (mitogen_stream_get_remote_id (MITOGEN_STREAM (self)),
                         MITOGEN_HANDLE_SHUTDOWN, NULL);
  MitogenRouter *router = mitogen_stream_get_router (MITOGEN_STREAM (self));

  if (PRIV (self)->shutdown_sent)
    return TRUE;
  /* The child closes the connection when it has exited; until then the
   * keep-alive receive side holds the broker's shutdown. */
  PRIV (self)->shutdown_sent = TRUE;
  if (router)
    mitogen_message_set_src_id (msg, mitogen_router_get_context_id (router));
  mitogen_message_set_auth_id (msg, mitogen_message_get_src_id (msg));
  return mitogen_stream_send (MITOGEN_STREAM (self), msg);
}

static void
mitogen_parent_stream_on_shutdown (MitogenBasicStream *stream,
                                   MitogenBroker *broker)
{
  if (!send_shutdown (MITOGEN_PARENT_STREAM (stream)))
    mitogen_basic_stream_on_disconnect (stream, broker);
}

static void
mitogen_parent_stream_on_disconnect (MitogenBasicStream *stream,
                                     MitogenBroker *broker)
{
  MitogenParentStream *self = MITOGEN_PARENT_STREAM (stream);
  MitogenParentStreamPrivate *priv = PRIV (self);

  if (priv->keepalive)
    mitogen_keepalive_stop (priv->keepalive);
  clear_source (&priv->grace_timer);
  MITOGEN_BASIC_STREAM_CLASS (mitogen_parent_stream_parent_class)
    ->on_disconnect (stream, broker);
  terminate_child (self);
}

static gboolean
on_grace_over (gpointer data)
{
  MitogenParentStream *self = data;
  MitogenParentStreamPrivate *priv = PRIV (self);
  g_autofree gchar *reason = NULL;

  /* GLib holds the source while it dispatches. */
  g_source_unref (g_steal_pointer (&priv->grace_timer));
  if (mitogen_basic_stream_is_disconnected (MITOGEN_BASIC_STREAM (self)))
    return G_SOURCE_REMOVE;
  reason = g_strdup_printf ("did not exit within the %g s grace period",
                            (gdouble) mitogen_broker_get_shutdown_timeout (priv->broker) /
                            G_USEC_PER_SEC);
  g_message ("Stream %s: %s; disconnecting", priv->context_name, reason);
  priv->grace_over = TRUE;
  mitogen_stream_close (MITOGEN_STREAM (self), reason);
  return G_SOURCE_REMOVE;
}

static void
shutdown_on_broker (gpointer data)
{
  MitogenParentStream *self = data;
  MitogenParentStreamPrivate *priv = PRIV (self);

  if (mitogen_basic_stream_is_disconnected (MITOGEN_BASIC_STREAM (self)))
    return;
  if (!send_shutdown (self))
    {
      mitogen_stream_close (MITOGEN_STREAM (self), NULL);
      return;
    }
  if (!priv->grace_timer)
    arm_timer (self, &priv->grace_timer,
               mitogen_broker_get_shutdown_timeout (priv->broker), on_grace_over);
}

/**
 * mitogen_parent_stream_shutdown:
 * @self: a connected stream
 *
 * Asks the child to exit (`SHUTDOWN`). If it has not closed its link
 * within the broker's grace period (mitogen_broker_set_shutdown_timeout())
 * the stream disconnects; a child process still running is then sent
 * `SIGTERM`, then `SIGKILL`, and reaped. Callable from any thread; returns
 * at once.
 */
void
mitogen_parent_stream_shutdown (MitogenParentStream *self)
{
  MitogenParentStreamPrivate *priv = PRIV (self);

  g_return_if_fail (MITOGEN_IS_PARENT_STREAM (self));

  if (!priv->broker)
    return;
  mitogen_broker_defer (priv->broker, shutdown_on_broker, g_object_ref (self),
                        g_object_unref);
}

/**
 * mitogen_parent_stream_wait_exited:
 * @self: a stream
 * @timeout_usec: the longest wait, or -1
 * @cancellable: (nullable): stops the wait
 * @error: return location for an error
 *
 * Waits until the child process has been reaped. A child this stream does
 * not reap (a fork server's) counts as reaped.
 *
 * Returns: %TRUE once reaped; %FALSE with %MITOGEN_TIMEOUT_ERROR_TIMED_OUT or
 *   %G_IO_ERROR_CANCELLED
 */
gboolean
mitogen_parent_stream_wait_exited (MitogenParentStream *self,
                                   gint64 timeout_usec,
                                   GCancellable *cancellable,
                                   GError **error)
{
  MitogenParentStreamPrivate *priv = PRIV (self);
  gpointer item;

  if (!MITOGEN_PARENT_STREAM_GET_CLASS (self)->reaps_child || !priv->broker)
    return TRUE;
  item = mitogen_latch_get (priv->exit_latch, timeout_usec, TRUE, cancellable,
                            error);
  if (!item)
    return FALSE;
  /* Left for any other waiter. */
  mitogen_latch_put (priv->exit_latch, item, NULL);
  return TRUE;
}

static void
mitogen_parent_stream_get_property (GObject *object,
                                    guint prop_id,
                                    GValue *value,
                                    GParamSpec *pspec)
{
  MitogenParentStreamPrivate *priv = PRIV (MITOGEN_PARENT_STREAM (object));

  switch (prop_id)
    {
    case PROP_CONNECT_TIMEOUT:
      g_value_set_double (value, priv->connect_timeout);
      break;
    case PROP_DEBUG:
      g_value_set_boolean (value, priv->debug);
      break;
    case PROP_FORK_SERVER:
      g_value_set_boolean (value, priv->fork_server);
      break;
    case PROP_CONTEXT_NAME:
      g_value_set_string (value, priv->context_name);
      break;
    case PROP_PID:
      g_value_set_int (value, priv->pid);
      break;
    case PROP_PASSWORD:
      g_value_set_string (value, priv->password);
      break;
    case PROP_UPLOAD_AGENT:
      g_value_set_boolean (value,
                           mitogen_parent_stream_get_upload_agent (MITOGEN_PARENT_STREAM (object)));
      break;
    case PROP_AGENT_PATH:
      g_value_set_boxed (value, priv->agent_path);
      break;
    case PROP_KEEPALIVE_INTERVAL:
      g_value_set_double (value, priv->keepalive_interval);
      break;
    case PROP_KEEPALIVE_COUNT:
      g_value_set_uint (value, priv->keepalive_count);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clear_password (MitogenParentStreamPrivate *priv)
{
  if (priv->password)
    explicit_bzero (priv->password, strlen (priv->password));
  g_clear_pointer (&priv->password, g_free);
}

static void
mitogen_parent_stream_set_property (GObject *object,
                                    guint prop_id,
                                    const GValue *value,
                                    GParamSpec *pspec)
{
  MitogenParentStreamPrivate *priv = PRIV (MITOGEN_PARENT_STREAM (object));

  switch (prop_id)
    {
    case PROP_CONNECT_TIMEOUT:
      priv->connect_timeout = g_value_get_double (value);
      break;
    case PROP_DEBUG:
      priv->debug = g_value_get_boolean (value);
      break;
    case PROP_FORK_SERVER:
      priv->fork_server = g_value_get_boolean (value);
      break;
    case PROP_CONTEXT_NAME:
      g_free (priv->context_name);
      priv->context_name = g_value_dup_string (value);
      break;
    case PROP_PASSWORD:
      clear_password (priv);
      priv->password = g_value_dup_string (value);
      break;
    case PROP_UPLOAD_AGENT:
      priv->upload_agent = g_value_get_boolean (value);
      priv->upload_agent_set = TRUE;
      break;
    case PROP_AGENT_PATH:
      g_strfreev (priv->agent_path);
      priv->agent_path = g_value_dup_boxed (value);
      break;
    case PROP_KEEPALIVE_INTERVAL:
      priv->keepalive_interval = g_value_get_double (value);
      break;
    case PROP_KEEPALIVE_COUNT:
      priv->keepalive_count = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_parent_stream_finalize (GObject *object)
{
  MitogenParentStreamPrivate *priv = PRIV (MITOGEN_PARENT_STREAM (object));

  /* Left attached: a child that has not exited yet (its stream closes just
   * before it does) is still reaped, not left a zombie. */
  if (priv->child_watch)
    g_source_unref (priv->child_watch);
  g_clear_pointer (&priv->watch, child_watch_data_free);
  if (priv->keepalive)
    mitogen_keepalive_stop (priv->keepalive);
  g_clear_object (&priv->keepalive);
  clear_source (&priv->grace_timer);
  clear_source (&priv->terminate_timer);
  g_clear_object (&priv->exit_latch);
  g_clear_pointer (&priv->context, g_main_context_unref);
  g_free (priv->context_name);
  clear_password (priv);
  g_strfreev (priv->agent_path);
  g_clear_object (&priv->bundle);
  g_clear_pointer (&priv->stderr_tail, mitogen_stderr_tail_unref);
  G_OBJECT_CLASS (mitogen_parent_stream_parent_class)->finalize (object);
}

static void
mitogen_parent_stream_class_init (MitogenParentStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MitogenBasicStreamClass *stream_class = MITOGEN_BASIC_STREAM_CLASS (klass);

  object_class->get_property = mitogen_parent_stream_get_property;
  object_class->set_property = mitogen_parent_stream_set_property;
  object_class->finalize = mitogen_parent_stream_finalize;
  stream_class->on_shutdown = mitogen_parent_stream_on_shutdown;
  stream_class->on_disconnect = mitogen_parent_stream_on_disconnect;

  klass->transport_name = "parent";
  klass->get_boot_command = mitogen_parent_stream_real_get_boot_command;
  klass->create_child = mitogen_parent_stream_real_create_child;
  klass->handshake = mitogen_parent_stream_real_handshake;
  klass->reaps_child = TRUE;

  /**
   * MitogenParentStream:connect-timeout:
   *
   * Seconds the child gets to start and complete its bootstrap.
   */
  props[PROP_CONNECT_TIMEOUT] =
    g_param_spec_double ("connect-timeout", NULL, NULL, 0.0, G_MAXDOUBLE,
                         MITOGEN_CONNECT_TIMEOUT,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenParentStream:debug:
   *
   * Whether the child forwards debug and info log records too.
   */
  props[PROP_DEBUG] =
    g_param_spec_boolean ("debug", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenParentStream:fork-server:
   *
   * Whether the child starts a fork server of its own while it is still
   * single-threaded, so that `fork` contexts can be started from it.
   */
  props[PROP_FORK_SERVER] =
    g_param_spec_boolean ("fork-server", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenParentStream:context-name:
   *
   * The child context's name; by default the transport's name and the
   * child's pid, such as `local.4242`.
   */
  props[PROP_CONTEXT_NAME] =
    g_param_spec_string ("context-name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenParentStream:pid:
   *
   * The child's process id, once started.
   */
  props[PROP_PID] =
    g_param_spec_int ("pid", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenParentStream:password:
   *
   * The password to answer the transport's prompt with (sudo's, ssh's),
   * written to the child's terminal only when asked for; never put on a
   * command line or in an environment.
   */
  props[PROP_PASSWORD] =
    g_param_spec_string ("password", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenParentStream:upload-agent:
   *
   * Whether the far side is sent the agent and the libraries it needs
   * rather than run an installed one, so that it needs nothing but `/bin/sh`
   * and the C library; a copy cached by its content's hash is reused. By
   * default, as the transport says (ssh does) or if no agent is installed
   * here.
   */
  props[PROP_UPLOAD_AGENT] =
    g_param_spec_boolean ("upload-agent", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenParentStream:agent-path:
   *
   * The command that runs the agent on the far side, for this connection
   * only: its path there, with any program before it that should run it
   * (`env`, `nice`, a wrapper), as Mitogen's `python_path` is the far
   * side's interpreter. By default the path of this process's own agent,
   * which suits the same host. Setting it means an agent is there: it is
   * not uploaded unless #MitogenParentStream:upload-agent says so, and then
   * this is not used.
   */
  props[PROP_AGENT_PATH]
      = g_param_spec_boxed ("agent-path", NULL, NULL, G_TYPE_STRV,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenParentStream:keepalive-interval:
   *
   * Seconds of silence from the child after which it is probed; 0 turns
   * the keepalive off. See mitogen-keepalive.c.
   */
  props[PROP_KEEPALIVE_INTERVAL] =
    g_param_spec_double ("keepalive-interval", NULL, NULL, 0.0, G_MAXINT / 1000,
                         MITOGEN_KEEPALIVE_INTERVAL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenParentStream:keepalive-count:
   *
   * Probes left unanswered before the child is declared dead, which takes
   * #MitogenParentStream:keepalive-interval times one more than this of
   * silence.
   */
  props[PROP_KEEPALIVE_COUNT] =
    g_param_spec_uint ("keepalive-count", NULL, NULL, 1, 1000,
                       MITOGEN_KEEPALIVE_COUNT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
mitogen_parent_stream_init (MitogenParentStream *self)
{
  MitogenParentStreamPrivate *priv = PRIV (self);

  priv->connect_timeout = MITOGEN_CONNECT_TIMEOUT;
  priv->keepalive_interval = MITOGEN_KEEPALIVE_INTERVAL;
  priv->keepalive_count = MITOGEN_KEEPALIVE_COUNT;
  priv->exit_latch = mitogen_latch_new ();
}

static void
fail_connect (MitogenParentStream *self,
              int fd,
              GError **error)
{
  MitogenParentStreamPrivate *priv = PRIV (self);
  int status = 0;

  close (fd);
  /* A child that is not ours is the transport's to stop. */
  if (priv->pid <= 0 || !MITOGEN_PARENT_STREAM_GET_CLASS (self)->reaps_child)
    return;
  /* The child is of no use now; don't leave it running or a zombie. */
  if (waitpid (priv->pid, &status, WNOHANG) == 0)
    {
      kill (priv->pid, SIGKILL);
      waitpid (priv->pid, &status, 0);
    }
  priv->exited = TRUE;
  priv->wait_status = status;
  if (error && *error && WIFEXITED (status))
    g_prefix_error (error, "(child exited with status %d) ", WEXITSTATUS (status));
}

/* After fail_connect(): the child is gone or stopped, so what it wrote on
 * its stderr is all in the pipe. */
static void
quote_stderr (MitogenParentStream *self, GError **error)
{
  MitogenParentStreamPrivate *priv = PRIV (self);
  g_autofree gchar *text = NULL;

  if (!priv->stderr_tail)
    return;
  text = mitogen_stderr_tail_drain (priv->stderr_tail);
  if (text && error && *error)
    {
      gchar *message
          = g_strdup_printf ("%s (its stderr: %s)", (*error)->message, text);

      g_free ((*error)->message);
      (*error)->message = message;
    }
}

/**
 * mitogen_parent_stream_take_stderr:
 * @self: a stream being connected
 * @fd: the read end of a pipe that is the child's stderr, or -1
 *
 * For transports' `create_child`: gives the stream the child's stderr,
 * when the child has one apart from its link. What the child writes there
 * is copied to this process's stderr, as if it shared it; if the
 * bootstrap fails, the last few KiB of it are quoted in the error, which
 * is where an agent that could not start says why. The stream closes @fd.
 */
void
mitogen_parent_stream_take_stderr (MitogenParentStream *self, int fd)
{
  MitogenParentStreamPrivate *priv;

  g_return_if_fail (MITOGEN_IS_PARENT_STREAM (self));
  priv = PRIV (self);
  g_clear_pointer (&priv->stderr_tail, mitogen_stderr_tail_unref);
  if (fd >= 0)
    priv->stderr_tail = mitogen_stderr_tail_new (fd);
}

/* Mitogen's names: where the context is for transports that reach another
 * host or user, the pid for those that start one here. */
static gchar *
default_context_name (MitogenParentStream *self)
{
  MitogenParentStreamClass *klass = MITOGEN_PARENT_STREAM_GET_CLASS (self);
  gchar *name = klass->dup_default_name ? klass->dup_default_name (self) : NULL;

  if (name)
    return name;
  return g_strdup_printf ("%s.%d",
                          MITOGEN_PARENT_STREAM_GET_CLASS (self)->transport_name,
                          PRIV (self)->pid);
}

/**
 * mitogen_parent_stream_connect:
 * @self: a stream, configured
 * @router: the router that will own it
 * @context_id: the id the child gets
 * @config: the agent's configuration, `a{sv}`; its `name` is filled in
 *   if missing
 * @cancellable: (nullable): checked before the child is started
 * @error: return location for an error
 *
 * Starts the child, runs the bootstrap within
 * #MitogenParentStream:connect-timeout, and registers the stream with
 * @router. Blocks the calling thread, which must not be the broker's.
 *
 * Returns: %TRUE once the child is a context; %FALSE with
 *   %MITOGEN_STREAM_ERROR_CONNECT or %MITOGEN_TIMEOUT_ERROR_TIMED_OUT
 *   saying what failed, in which case no child is left behind
 */
gboolean
mitogen_parent_stream_connect (MitogenParentStream *self,
                               MitogenRouter *router,
                               guint32 context_id,
                               GVariant *config,
                               GCancellable *cancellable,
                               GError **error)
{
  MitogenParentStreamClass *klass = MITOGEN_PARENT_STREAM_GET_CLASS (self);
  MitogenParentStreamPrivate *priv = PRIV (self);
  gint64 deadline = g_get_monotonic_time () +
                    (gint64) (priv->connect_timeout * G_USEC_PER_SEC);
  g_auto(GStrv) argv = NULL;
  g_autoptr(GVariant) full_config = NULL;
  GVariantDict dict;
  int fd;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  argv = klass->get_boot_command (self, error);
  if (!argv)
    return FALSE;
  if (!klass->create_child (self, (const gchar * const *) argv, &priv->pid, &fd,
                            error))
    return FALSE;
  if (priv->stderr_tail)
    mitogen_stderr_tail_start (
        priv->stderr_tail,
        mitogen_broker_get_context (mitogen_router_get_broker (router)));
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_PID]);

  if (!priv->context_name)
    priv->context_name = default_context_name (self);
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (self), priv->context_name);

  g_variant_dict_init (&dict, config);
  if (!g_variant_dict_contains (&dict, "name"))
    g_variant_dict_insert (&dict, "name", "s", priv->context_name);
  g_variant_dict_insert (&dict, "log_debug", "b", priv->debug);
  g_variant_dict_insert (&dict, "fork_server", "b", priv->fork_server);
  full_config = g_variant_ref_sink (g_variant_dict_end (&dict));

  if (!klass->handshake (self, fd, full_config, deadline, error))
    {
      fail_connect (self, fd, error);
      quote_stderr (self, error);
      g_prefix_error (error, "Could not start %s: ", priv->context_name);
      if (error && *error && (*error)->domain == MITOGEN_STREAM_ERROR)
        (*error)->code = MITOGEN_STREAM_ERROR_CONNECT;
      return FALSE;
    }

  if (priv->stderr_tail)
    mitogen_stderr_tail_forget (priv->stderr_tail);
  mitogen_stream_set_remote_id (MITOGEN_STREAM (self), context_id);
  mitogen_stream_accept (MITOGEN_STREAM (self), fd, fd);
  priv->broker = mitogen_router_get_broker (router);
  priv->context = g_main_context_ref (mitogen_broker_get_context (priv->broker));
  /* GLib's child watch waits for the pid, which fails (with a warning on
   * every SIGCHLD) for a child that is not ours. */
  if (klass->reaps_child)
    {
      ChildWatch *watch = g_atomic_rc_box_new0 (ChildWatch);

      g_weak_ref_init (&watch->stream, self);
      watch->broker = priv->broker;
      watch->held = TRUE;
      mitogen_broker_hold (priv->broker);
      priv->watch = g_atomic_rc_box_acquire (watch);
      priv->child_watch = g_child_watch_source_new (priv->pid);
      g_source_set_callback (priv->child_watch, G_SOURCE_FUNC (on_child_exit),
                             watch, child_watch_data_free);
      g_source_attach (priv->child_watch, priv->context);
    }
  if (priv->keepalive_interval > 0)
    priv->keepalive = mitogen_keepalive_new (MITOGEN_STREAM (self), priv->context,
                                             priv->keepalive_interval,
                                             priv->keepalive_count);
  mitogen_router_register (router, MITOGEN_STREAM (self));
  return TRUE;
}

static void
on_detaching (MitogenMessage *msg, gpointer user_data)
{
  MitogenRouter *router = user_data;
  guint32 src_id = mitogen_message_get_src_id (msg);
  g_autoptr (MitogenStream) stream = NULL;
  MitogenParentStreamPrivate *priv;

  if (mitogen_message_is_dead (msg))
    return;
  /* The policy admits immediate children only: the stream is the child's. */
  stream = mitogen_router_stream_by_id (router, src_id);
  if (!MITOGEN_IS_PARENT_STREAM (stream))
    {
      g_message ("Context %u said DETACHING but is no child this process "
                 "started; ignored",
                 src_id);
      return;
    }
  priv = PRIV (MITOGEN_PARENT_STREAM (stream));
  g_debug ("Stream %s: the child detaches; it will not be stopped",
           priv->context_name);
  priv->detached = TRUE;
  /* Still reaped if it exits while we run, but not waited for. */
  if (priv->watch)
    child_watch_release (priv->watch);
  /* Nor is its stderr read any more: it would block on a full pipe once
   * our broker stops. What it wrote so far is copied out first. */
  if (priv->stderr_tail)
    g_free (mitogen_stderr_tail_drain (priv->stderr_tail));
  mitogen_message_reply (msg, router, NULL);
}

/*
 * mitogen_parent_stream_ensure_detach_handler:
 * @router: a router that starts children
 *
 * Answers children's `DETACHING` (see mitogen_external_context_detach()).
 */
void
mitogen_parent_stream_ensure_detach_handler (MitogenRouter *router)
{
  /* Fails harmlessly once installed. */
  mitogen_router_add_handler (router, MITOGEN_HANDLE_DETACHING,
                              MITOGEN_HANDLER_PERSIST, MITOGEN_CONTEXT_ID_NONE,
                              mitogen_router_policy_is_immediate_child,
                              on_detaching, router, NULL);
}

/**
 * mitogen_parent_stream_get_detached:
 * @self: a stream
 *
 * Returns whether the child detached (`DETACHING`): it outlives its link,
 * and is neither signalled nor waited for when the link goes.
 *
 * Returns: whether the child detached
 */
gboolean
mitogen_parent_stream_get_detached (MitogenParentStream *self)
{
  g_return_val_if_fail (MITOGEN_IS_PARENT_STREAM (self), FALSE);

  return PRIV (self)->detached;
}

/**
 * mitogen_parent_stream_get_pid:
 * @self: a stream
 *
 * Returns the child's pid, or 0 before it started.
 *
 * Returns: the child's pid, or 0 before it started
 */
GPid
mitogen_parent_stream_get_pid (MitogenParentStream *self)
{
  return PRIV (self)->pid;
}

/**
 * mitogen_parent_stream_get_connect_timeout:
 * @self: a stream
 *
 * Returns the connect timeout, in seconds.
 *
 * Returns: the connect timeout, in seconds
 */
gdouble
mitogen_parent_stream_get_connect_timeout (MitogenParentStream *self)
{
  return PRIV (self)->connect_timeout;
}

/**
 * mitogen_parent_stream_get_context_name:
 * @self: a stream
 *
 * Returns the child context's name.
 *
 * Returns: (nullable): the child context's name
 */
const gchar *
mitogen_parent_stream_get_context_name (MitogenParentStream *self)
{
  return PRIV (self)->context_name;
}

/**
 * mitogen_parent_stream_get_debug:
 * @self: a stream
 *
 * Returns whether the child forwards debug records.
 *
 * Returns: whether the child forwards debug records
 */
gboolean
mitogen_parent_stream_get_debug (MitogenParentStream *self)
{
  return PRIV (self)->debug;
}
