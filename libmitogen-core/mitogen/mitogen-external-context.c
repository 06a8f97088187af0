/* mitogen-external-context.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-external-context-private.h"
#include "mitogen-push-file-service.h"

#include <errno.h>
#include <glib-unix.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "mitogen-call.h"
#include "mitogen-context-private.h"
#include "mitogen-module-forwarder.h"
#include "mitogen-errors.h"
#include "mitogen-fork-server.h"
#include "mitogen-io.h"
#include "mitogen-io-logger-private.h"
#include "mitogen-message-decoder.h"
#include "mitogen-parent-stream.h"
#include "mitogen-protocol.h"
#include "mitogen-router-private.h"
#include "mitogen-transport-registry.h"

/**
 * MitogenExternalContext:
 *
 * The main of a child context, run by `mitogen-agent`.
 *
 * It talks to its parent over the descriptors it was started with,
 * replaces its stdin with `/dev/null` and its stdout and stderr with
 * logger pipes, so nothing a function or its subprocesses print
 * can corrupt the stream, and forwards its log records to the master.
 *
 * `CALL_FUNCTION` messages, accepted only from its parent chain, run one
 * at a time on the main thread (mitogen_external_context_run(), the seed's
 * `_dispatch_calls`) while the broker thread keeps routing. A call chain
 * that failed fails its later calls with the same error, without running
 * them.
 *
 * On `SHUTDOWN`, or when the parent goes away, it stops taking calls,
 * cancels the running one, drains its output, and exits; a function that
 * ignores cancellation is abandoned after the broker's grace period.
 */
struct _MitogenExternalContext {
  GObject parent_instance;

  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenStream *parent_stream;
  MitogenContext *context;
  MitogenReceiver *channel;
  MitogenImporter *importer;
  MitogenModuleForwarder *forwarder;
  GPtrArray *children;       /* MitogenContext* started from here */
  MitogenIoLogger *stdout_log;
  MitogenIoLogger *stderr_log;
  MitogenLatch *loggers_done;

  gchar *name;
  gboolean log_debug;
  int emergency_fd; /* the original stderr, for when logs cannot travel */

  GMutex lock;
  MitogenCall *current_call;
  GHashTable *failed_chains; /* chain id -> GError* */
  gint shutting_down;        /* atomic */
  gint forwarding_logs;      /* atomic: FALSE once the broker stops */
  gboolean log_writer_taken; /* a fork child's writer is the master's */
  GCond done_cond;
  gboolean done;
  GThread *reaper;           /* under lock; joined before the context goes */

  /* A fork child's per-connection hook (mitogen_fork_server_add_on_start()). */
  gchar *on_start_name;
  MitogenForkOnStart on_start_func;
  GVariant *on_start_args;
  gpointer on_start_data;

  gint detached; /* atomic: see mitogen_external_context_detach() */
};

G_DEFINE_FINAL_TYPE (MitogenExternalContext, mitogen_external_context,
                     G_TYPE_OBJECT)

static MitogenExternalContext *the_context; /* for the log writer */
static GPrivate in_log_writer;

static void
mitogen_external_context_finalize (GObject *object)
{
  MitogenExternalContext *self = MITOGEN_EXTERNAL_CONTEXT (object);
  GThread *reaper;

  /* The reaper uses our lock and condition: it must be gone first. */
  g_mutex_lock (&self->lock);
  self->done = TRUE;
  g_cond_broadcast (&self->done_cond);
  reaper = g_steal_pointer (&self->reaper);
  g_mutex_unlock (&self->lock);
  if (reaper)
    g_thread_join (reaper);

  g_clear_object (&self->channel);
  g_clear_object (&self->context);
  g_clear_object (&self->parent_stream);
  g_clear_object (&self->stdout_log);
  g_clear_object (&self->stderr_log);
  g_clear_object (&self->loggers_done);
  g_clear_pointer (&self->children, g_ptr_array_unref);
  g_clear_object (&self->forwarder);
  g_clear_object (&self->importer);
  g_clear_object (&self->router);
  g_clear_object (&self->broker);
  g_clear_object (&self->current_call);
  g_hash_table_unref (self->failed_chains);
  g_free (self->name);
  g_free (self->on_start_name);
  g_clear_pointer (&self->on_start_args, g_variant_unref);
  if (the_context == self)
    the_context = NULL;
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->done_cond);
  G_OBJECT_CLASS (mitogen_external_context_parent_class)->finalize (object);
}

static void
mitogen_external_context_class_init (MitogenExternalContextClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_external_context_finalize;
}

static void
mitogen_external_context_init (MitogenExternalContext *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->done_cond);
  self->failed_chains = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) g_error_free);
  self->emergency_fd = -1;
  self->loggers_done = mitogen_latch_new ();
  self->children = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * mitogen_external_context_new:
 *
 * Creates the context a child's agent runs: call
 * mitogen_external_context_bootstrap(), then mitogen_external_context_run().
 *
 * Returns: (transfer full): a context to bootstrap and run
 */
MitogenExternalContext *
mitogen_external_context_new (void)
{
  return g_object_new (MITOGEN_TYPE_EXTERNAL_CONTEXT, NULL);
}

static void
emergency_write (MitogenExternalContext *self,
                 const gchar *text)
{
  if (self->emergency_fd >= 0)
    {
      g_autofree gchar *line = g_strdup_printf ("%s: %s\n",
                                                self->name ? self->name : "mitogen-agent",
                                                text);
      mitogen_write_all (self->emergency_fd, (const guint8 *) line,
                         strlen (line), -1, NULL);
    }
}

static const gchar *
field_value (const GLogField *fields,
             gsize n_fields,
             const gchar *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, key) == 0 && fields[i].length < 0)
      return fields[i].value;
  return NULL;
}

static GLogWriterOutput
forward_log (GLogLevelFlags level,
             const GLogField *fields,
             gsize n_fields,
             gpointer user_data)
{
  MitogenExternalContext *self = the_context;
  const gchar *domain = field_value (fields, n_fields, "GLIB_DOMAIN");
  const gchar *stream = field_value (fields, n_fields, "MITOGEN_STREAM");
  g_autofree gchar *text = NULL;
  g_autoptr(MitogenMessage) msg = NULL;

  /* After the context went, as the process exits. */
  if (!self)
    return g_log_writer_standard_streams (level, fields, n_fields, user_data);

  /* Only what the master would show travels. */
  if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) && !self->log_debug)
    return G_LOG_WRITER_HANDLED;

  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      /* A line a subprocess printed need not be UTF-8; a GVariant string
       * must. */
      text = g_utf8_make_valid (fields[i].value, fields[i].length);

  /* Logging from inside the forwarding path would recurse. The debug
   * records it logs (routing the record) are dropped, not written to
   * stderr: where that is ssh's, the parent reads it merged into the link
   * and takes it for a bad frame. */
  if (g_private_get (&in_log_writer) || !g_atomic_int_get (&self->forwarding_logs))
    {
      if (!(level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)))
        emergency_write (self, text ? text : "");
      return G_LOG_WRITER_HANDLED;
    }
  g_private_set (&in_log_writer, GINT_TO_POINTER (1));
  msg = mitogen_message_new (0, MITOGEN_HANDLE_FORWARD_LOG,
                             g_variant_new (MITOGEN_LOG_TYPE, domain ? domain : "",
                                            (gint) (level & G_LOG_LEVEL_MASK),
                                            text ? text : "",
                                            stream ? stream : ""));
  mitogen_router_route (self->router, msg);
  g_private_set (&in_log_writer, NULL);
  return G_LOG_WRITER_HANDLED;
}

static gboolean
read_exactly (int fd,
              guint8 *buf,
              gsize len,
              GError **error)
{
  gsize done = 0;

  while (done < len)
    {
      gssize n = read (fd, buf + done, len - done);
      struct pollfd pfd = { fd, POLLIN, 0 };

      if (n < 0 && errno == EINTR)
        continue;
      /* The descriptor's flags are whatever the process that started us
       * left; a non-blocking one has no data yet, not an end. */
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (poll (&pfd, 1, -1) < 0 && errno != EINTR)
            break;
          continue;
        }
      if (n <= 0)
        {
          g_set_error (error, MITOGEN_STREAM_ERROR,
                       MITOGEN_STREAM_ERROR_DISCONNECTED,
                       "The parent went away during bootstrap");
          return FALSE;
        }
      done += (gsize) n;
    }
  return TRUE;
}

/* Reads exactly one frame, so nothing after it is consumed. */
static GVariant *
read_config (int fd,
             GError **error)
{
  g_autoptr(MitogenMessageDecoder) decoder = mitogen_message_decoder_new (16 * 1024 * 1024);
  g_autoptr(MitogenMessage) msg = NULL;
  guint8 header[MITOGEN_MESSAGE_HEADER_SIZE];
  g_autofree guint8 *body = NULL;
  guint32 len;
  GVariant *config;

  if (!read_exactly (fd, header, sizeof header, error) ||
      !mitogen_message_decoder_feed (decoder, header, sizeof header, error))
    return NULL;
  /* The header is bytes: no alignment for a guint32 inside it. */
  memcpy (&len, header + 22, sizeof len);
  len = GUINT32_FROM_BE (len);
  body = g_malloc (MAX (len, 1));
  if (!read_exactly (fd, body, len, error) ||
      !mitogen_message_decoder_feed (decoder, body, len, error))
    return NULL;
  msg = mitogen_message_decoder_pop (decoder);
  config = msg ? mitogen_message_get_data (msg, error) : NULL;
  if (config && !g_variant_is_of_type (config, G_VARIANT_TYPE_VARDICT))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "The configuration is not an a{sv}");
      g_clear_pointer (&config, g_variant_unref);
    }
  return config;
}

static int
move_high (int fd)
{
  int moved = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  close (fd);
  return moved;
}

/* /dev/null, or where there is none (a bare chroot) one end of a pipe
 * whose other end is closed: reads see end of file, writes fail. */
static int
open_null (gboolean for_reading)
{
  int null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  int p[2];

  if (null_fd < 0 && g_unix_open_pipe (p, FD_CLOEXEC, NULL))
    {
      null_fd = for_reading ? p[0] : p[1];
      close (for_reading ? p[1] : p[0]);
    }
  return null_fd;
}

/* Either way @fd stays taken, so no descriptor opened later lands on it. */
static void
redirect_to_null (int fd)
{
  int null_fd = open_null (fd == STDIN_FILENO);

  if (null_fd >= 0 && null_fd != fd)
    {
      dup2 (null_fd, fd);
      close (null_fd);
    }
}

static void
begin_shutdown (MitogenExternalContext *self);

static void
on_shutdown_message (MitogenMessage *msg,
                     gpointer user_data)
{
  if (!mitogen_message_is_dead (msg))
    begin_shutdown (user_data);
}

static void
on_parent_disconnect (MitogenStream *stream,
                      MitogenExternalContext *self)
{
  /* Detached: the running call goes on, and the context ends after it,
   * as no call can reach it any more. Logs have nowhere to go but the
   * original stderr. */
  if (g_atomic_int_get (&self->detached))
    {
      g_atomic_int_set (&self->forwarding_logs, FALSE);
      mitogen_receiver_close (self->channel);
      return;
    }
  begin_shutdown (self);
}

static void
on_logger_disconnect (MitogenBasicStream *stream,
                      MitogenExternalContext *self)
{
  mitogen_latch_put (self->loggers_done, stream, NULL);
}

static MitogenIoLogger *
start_logger (MitogenExternalContext *self,
              const gchar *name,
              int fd,
              GError **error)
{
  MitogenIoLogger *logger = mitogen_io_logger_new (name, fd, error);

  if (!logger)
    return NULL;
  g_signal_connect (logger, "disconnect", G_CALLBACK (on_logger_disconnect), self);
  mitogen_broker_start_receive (self->broker, MITOGEN_BASIC_STREAM (logger));
  return logger;
}

static void
apply_config (MitogenExternalContext *self,
              GVariant *config)
{
  GVariantDict dict;
  g_autofree guint32 *parents = NULL;
  g_autoptr(GVariant) parent_ids = NULL;
  g_autofree const gchar **path = NULL;
  guint32 context_id = 1;
  guint64 max_size = MITOGEN_MAX_MESSAGE_SIZE;
  gsize n = 0;

  g_variant_dict_init (&dict, config);
  g_variant_dict_lookup (&dict, "context_id", "u", &context_id);
  g_variant_dict_lookup (&dict, "name", "s", &self->name);
  g_variant_dict_lookup (&dict, "log_debug", "b", &self->log_debug);
  /* GLib drops g_debug() and g_info() records before any writer sees them
   * unless G_MESSAGES_DEBUG says otherwise, which no parent sets here. */
  if (self->log_debug)
    g_log_set_debug_enabled (TRUE);
  g_variant_dict_lookup (&dict, "max_message_size", "t", &max_size);
  g_variant_dict_lookup (&dict, "plugin_path", "^a&s", &path);
  parent_ids = g_variant_dict_lookup_value (&dict, "parent_ids", G_VARIANT_TYPE ("au"));
  g_variant_dict_clear (&dict);

  mitogen_router_set_context_id (self->router, context_id);
  mitogen_router_set_max_message_size (self->router, max_size);
  if (parent_ids)
    {
      const guint32 *ids = g_variant_get_fixed_array (parent_ids, &n, sizeof (guint32));
      mitogen_router_set_parent_ids (self->router, ids, n);
    }
  self->importer = mitogen_importer_new (path);
}

/* Here, before the broker's thread: a fork server must be started while
 * the process is single-threaded. A failure is reported to whoever later
 * asks for a fork context. */
static void
start_fork_server_if_asked (GVariant *config)
{
  g_autoptr(GError) error = NULL;
  gboolean wanted = FALSE;

  g_variant_lookup (config, "fork_server", "b", &wanted);
  if (wanted && !mitogen_fork_server_start (&error))
    g_printerr ("mitogen-agent: no fork server: %s\n", error->message);
}

/* The fork child's hook, last before it says it is ready. Its failure
 * goes on the link, which the parent reads until the ready marker and
 * quotes: stderr is the logger's by now, which forwards to nobody yet. */
static gboolean
run_on_start (MitogenExternalContext *self, int out_fd, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree gchar *line = NULL;

  if (!self->on_start_func
      || self->on_start_func (self, self->on_start_args, self->on_start_data,
                              &local_error))
    return TRUE;
  if (!local_error)
    g_set_error (&local_error, MITOGEN_STREAM_ERROR,
                 MITOGEN_STREAM_ERROR_FAILED, "no reason given");
  line = g_strdup_printf ("on-start hook “%s” failed: %s\n",
                          self->on_start_name, local_error->message);
  mitogen_write_all (out_fd, (const guint8 *) line, strlen (line), -1, NULL);
  g_propagate_prefixed_error (
      error, g_steal_pointer (&local_error),
      "on-start hook “%s” failed: ", self->on_start_name);
  return FALSE;
}

/**
 * mitogen_external_context_bootstrap:
 * @self: a context
 * @in_fd: the descriptor the parent writes to, usually 0
 * @out_fd: the descriptor the parent reads, usually 1
 * @error: return location for an error
 *
 * Runs the child's half of the bootstrap: announces itself, reads its
 * configuration, takes over stdin, stdout and stderr, starts its broker
 * and router, and says it is ready.
 *
 * Returns: %TRUE when the context is ready to run
 */
gboolean
mitogen_external_context_bootstrap (MitogenExternalContext *self,
                                    int in_fd,
                                    int out_fd,
                                    GError **error)
{
  g_autoptr(GVariant) config = NULL;
  const gchar *started = MITOGEN_BOOT_MARKER_STARTED;
  const gchar *ready = MITOGEN_BOOT_MARKER_READY;
  guint32 parent_id;
  gsize n_parents;
  const guint32 *parents;
  g_autoptr(MitogenSide) rside = NULL;

  /* The link moves out of the way of stdio, and subprocesses don't
   * inherit it. */
  if (in_fd == out_fd)
    out_fd = dup (out_fd);
  in_fd = move_high (in_fd);
  out_fd = move_high (out_fd);
  /* At once: a descriptor opened later (GLib's own wake-up fd) must not
   * land on 0 or 1 and be replaced under it. */
  redirect_to_null (STDIN_FILENO);
  redirect_to_null (STDOUT_FILENO);
  self->emergency_fd = fcntl (STDERR_FILENO, F_DUPFD_CLOEXEC, 3);

  if (!mitogen_write_all (out_fd, (const guint8 *) started, strlen (started),
                          -1, error))
    return FALSE;
  config = read_config (in_fd, error);
  if (!config)
    return FALSE;

  start_fork_server_if_asked (config);
  self->broker = mitogen_broker_new ();
  self->router = mitogen_router_new (self->broker);
  apply_config (self, config);
  parents = mitogen_router_get_parent_ids (self->router, &n_parents);
  parent_id = n_parents ? parents[0] : 0;

  the_context = self;
  g_atomic_int_set (&self->forwarding_logs, TRUE);
  /* GLib aborts a second g_log_set_writer_func(). A fork child whose master
   * set one keeps it: what it logs goes where the master's writer puts it,
   * stderr as a rule, which the stderr logger below forwards. */
  if (!self->log_writer_taken)
    g_log_set_writer_func (forward_log, NULL, NULL);

  self->stdout_log = start_logger (self, "stdout", STDOUT_FILENO, error);
  if (!self->stdout_log)
    return FALSE;
  self->stderr_log = start_logger (self, "stderr", STDERR_FILENO, error);
  if (!self->stderr_log)
    return FALSE;
  /* Through GLib, their lines would reach the master's writer, which may
   * print them to this very stderr again. */
  if (self->log_writer_taken)
    {
      mitogen_io_logger_set_writer (self->stdout_log, forward_log, NULL);
      mitogen_io_logger_set_writer (self->stderr_log, forward_log, NULL);
    }

  mitogen_importer_set_parent (self->importer, self->router, parent_id);
  /* A transport not installed here comes from upstream too. */
  mitogen_transport_registry_set_importer (mitogen_transport_registry_get_default (),
                                           self->importer);
  /* Our own children fetch through us. */
  self->forwarder = mitogen_module_forwarder_new (self->router, self->importer);
  /* And files, from a cache, each once (see mitogen_context_put_file()). */
  mitogen_push_file_service_get_default (self->router);
  self->context = mitogen_context_new (self->router, parent_id, "parent");
  self->channel = mitogen_receiver_new (self->router, MITOGEN_HANDLE_CALL_FUNCTION,
                                        TRUE, MITOGEN_CONTEXT_ID_NONE,
                                        mitogen_router_policy_has_parent_authority);
  mitogen_router_add_handler (self->router, MITOGEN_HANDLE_SHUTDOWN,
                              MITOGEN_HANDLER_PERSIST, MITOGEN_CONTEXT_ID_NONE,
                              mitogen_router_policy_has_parent_authority,
                              on_shutdown_message, self, NULL);

  if (!run_on_start (self, out_fd, error))
    return FALSE;
  if (!mitogen_write_all (out_fd, (const guint8 *) ready, strlen (ready), -1,
                          error))
    return FALSE;

  /* The parent link does not hold up the broker's shutdown: the child
   * decides when it has said everything (see finish()). */
  self->parent_stream = mitogen_stream_new (self->router, parent_id, -1, -1);
  rside = mitogen_side_new (MITOGEN_BASIC_STREAM (self->parent_stream), in_fd, FALSE);
  mitogen_basic_stream_set_receive_side (MITOGEN_BASIC_STREAM (self->parent_stream), rside);
  {
    g_autoptr(MitogenSide) wside =
      mitogen_side_new (MITOGEN_BASIC_STREAM (self->parent_stream), out_fd, FALSE);
    mitogen_basic_stream_set_transmit_side (MITOGEN_BASIC_STREAM (self->parent_stream), wside);
  }
  mitogen_basic_stream_set_name (MITOGEN_BASIC_STREAM (self->parent_stream), "parent");
  mitogen_stream_set_is_privileged (self->parent_stream, TRUE);
  g_signal_connect (self->parent_stream, "disconnect",
                    G_CALLBACK (on_parent_disconnect), self);
  mitogen_router_register (self->router, self->parent_stream);
  /* The first record a parent asking for debug records gets. */
  g_debug ("Context %s (id %u, pid %d) started, parent %u",
           self->name ? self->name : "?",
           mitogen_router_get_context_id (self->router), (int) getpid (),
           parent_id);
  return TRUE;
}

static gpointer
reaper_thread (gpointer data)
{
  MitogenExternalContext *self = data;
  gint64 deadline = g_get_monotonic_time () +
                    mitogen_broker_get_shutdown_timeout (self->broker);
  gboolean done;

  g_mutex_lock (&self->lock);
  while (!self->done)
    if (!g_cond_wait_until (&self->done_cond, &self->lock, deadline))
      break;
  done = self->done;
  g_mutex_unlock (&self->lock);

  if (!done)
    {
      emergency_write (self, "a function did not return within the shutdown "
                             "grace period; exiting anyway");
      _exit (0);
    }
  return NULL;
}

static void
begin_shutdown (MitogenExternalContext *self)
{
  if (!g_atomic_int_compare_and_exchange (&self->shutting_down, FALSE, TRUE))
    return;

  g_mutex_lock (&self->lock);
  if (self->current_call)
    g_cancellable_cancel (mitogen_call_get_cancellable (self->current_call));
  /* Under the lock, and announced: run() joins it. */
  self->reaper = g_thread_new ("mitogen-reaper", reaper_thread, self);
  g_cond_broadcast (&self->done_cond);
  g_mutex_unlock (&self->lock);

  /* Wakes the main thread if it waits for a call. */
  mitogen_receiver_close (self->channel);
}

/* The agent's own functions, answered by run_function() itself; listed
 * here so that they describe themselves like any module's. */
static const MitogenFunctionInfo agent_functions[]
    = { { "describe", "(ss)", "(sss)", NULL,
          "Describe a function (module, function): its (argument type, result "
          "type, doc)" },
        { "functions", "(s)", "a(ssss)", NULL,
          "List a module's functions: (name, argument type, result type, doc) "
          "each" },
        { "connect", "(sa{sv})", "(us)", NULL,
          "Start a child of this context with a transport and its options; "
          "return its (id, name)" },
        { NULL } };

static const MitogenFunctionInfo *
find_functions (MitogenExternalContext *self,
                const gchar *module,
                GError **error)
{
  const MitogenModuleInfo *info;

  if (g_str_equal (module, "agent"))
    return agent_functions;
  info = mitogen_importer_load (self->importer, module, error);
  if (!info)
    return NULL;
  return info->functions;
}

static GVariant *
describe (MitogenExternalContext *self,
          GVariant *args,
          GError **error)
{
  const gchar *module, *function;
  const MitogenFunctionInfo *f;

  g_variant_get (args, "(&s&s)", &module, &function);
  f = find_functions (self, module, error);
  for (; f && f->name; f++)
    if (g_str_equal (f->name, function))
      return g_variant_new ("(sss)", f->args_type, f->result_type,
                            f->doc ? f->doc : "");
  if (f)
    g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_NO_SUCH_FUNCTION,
                 "Module “%s” has no function “%s”", module, function);
  return NULL;
}

/* agent.functions: what a module offers, for `mitogen describe`. */
static GVariant *
list_functions (MitogenExternalContext *self, GVariant *args, GError **error)
{
  const gchar *module;
  const MitogenFunctionInfo *f;
  GVariantBuilder list;

  g_variant_get (args, "(&s)", &module);
  f = find_functions (self, module, error);
  if (!f)
    return NULL;
  g_variant_builder_init (&list, G_VARIANT_TYPE ("a(ssss)"));
  for (; f->name; f++)
    g_variant_builder_add (&list, "(ssss)", f->name, f->args_type,
                           f->result_type, f->doc ? f->doc : "");
  return g_variant_builder_end (&list);
}

/* agent.connect: starts a child of this context for an upstream caller,
 * with an id from this context's own ranges (ALLOCATE_ID), the only ids
 * the routers above let it announce; returns the id and the name. */
static GVariant *
connect_child (MitogenExternalContext *self,
               MitogenCall *call,
               GVariant *args,
               GError **error)
{
  const gchar *transport;
  g_autoptr (GVariant) options = NULL;
  MitogenContext *child;

  g_variant_get (args, "(&s@a{sv})", &transport, &options);
  child = mitogen_router_connect_context (
      self->router, transport, options, NULL,
      mitogen_call_get_cancellable (call), error);
  if (!child)
    return NULL;
  g_ptr_array_add (self->children, child);
  return g_variant_new ("(us)", mitogen_context_get_context_id (child),
                        mitogen_context_get_name (child));
}

/* The agent's own functions fail with NULL, which g_variant_take_ref()
 * does not take. */
static GVariant *
take_ref_nullable (GVariant *value)
{
  return value ? g_variant_take_ref (value) : NULL;
}

static GVariant *
run_function (MitogenExternalContext *self,
              MitogenCall *call,
              GVariant *args,
              GError **error)
{
  const gchar *module = mitogen_call_get_module (call);
  const gchar *function = mitogen_call_get_function (call);
  const MitogenFunctionInfo *f;
  g_autoptr(GVariant) result = NULL;

  /* The agent's own module: what a command line needs to parse
   * arguments for any function. */
  if (g_str_equal (module, "agent") && g_str_equal (function, "describe") &&
      g_variant_is_of_type (args, G_VARIANT_TYPE ("(ss)")))
    return take_ref_nullable (describe (self, args, error));
  if (g_str_equal (module, "agent") && g_str_equal (function, "functions")
      && g_variant_is_of_type (args, G_VARIANT_TYPE ("(s)")))
    return take_ref_nullable (list_functions (self, args, error));
  if (g_str_equal (module, "agent") && g_str_equal (function, "connect")
      && g_variant_is_of_type (args, G_VARIANT_TYPE ("(sa{sv})")))
    return take_ref_nullable (connect_child (self, call, args, error));

  f = mitogen_importer_find_function (self->importer, module, function, error);
  if (!f)
    return NULL;
  if (!g_variant_is_of_type (args, G_VARIANT_TYPE (f->args_type)))
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_BAD_ARGUMENTS,
                   "%s.%s takes %s, not %s", module, function, f->args_type,
                   g_variant_get_type_string (args));
      return NULL;
    }
  result = f->func (call, args, error);
  if (!result)
    {
      if (error && !*error)
        g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE,
                     "%s.%s failed without saying why", module, function);
      return NULL;
    }
  /* (transfer full), floating or not. */
  g_variant_take_ref (result);
  if (!g_variant_is_of_type (result, G_VARIANT_TYPE (f->result_type)))
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE,
                   "%s.%s returned %s instead of %s", module, function,
                   g_variant_get_type_string (result), f->result_type);
      return NULL;
    }
  return g_steal_pointer (&result);
}

static void
reply (MitogenExternalContext *self,
       MitogenMessage *msg,
       GVariant *body)
{
  g_autoptr(MitogenMessage) r = NULL;

  if (mitogen_message_get_reply_to (msg) == 0)
    {
      g_variant_unref (g_variant_ref_sink (body));
      return;
    }
  r = mitogen_message_new (mitogen_message_get_src_id (msg),
                           mitogen_message_get_reply_to (msg), body);
  mitogen_router_route (self->router, r);
}

/* A result too large to travel is answered with an error saying so: the
 * router would drop it, and the caller would wait for ever. */
static void
reply_result (MitogenExternalContext *self,
              MitogenMessage *msg,
              const gchar *module,
              const gchar *function,
              GVariant *result)
{
  gsize max_size = mitogen_router_get_max_message_size (self->router);
  g_autoptr(MitogenMessage) r = NULL;
  g_autoptr(GError) error = NULL;

  if (mitogen_message_get_reply_to (msg) == 0)
    return;
  r = mitogen_message_new (mitogen_message_get_src_id (msg),
                           mitogen_message_get_reply_to (msg),
                           mitogen_protocol_reply_ok (result));
  if (mitogen_message_get_size (r) <= max_size)
    {
      mitogen_router_route (self->router, r);
      return;
    }
  g_set_error (&error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_TOO_LARGE,
               "The result of %s.%s is %" G_GSIZE_FORMAT " bytes, over "
               "max_message_size %" G_GSIZE_FORMAT "; move files with "
               "mitogen_context_get_file() (mitogen copy), which streams "
               "them whatever their size",
               module, function, mitogen_message_get_size (r), max_size);
  reply (self, msg, mitogen_protocol_reply_error (self->name, error));
}

static void
dispatch_call (MitogenExternalContext *self,
               MitogenMessage *msg)
{
  g_autoptr(GError) error = NULL;
  /* The channel takes calls only from the parent chain. */
  g_autoptr(GVariant) body = mitogen_message_get_data_from_parent (msg, &error);
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(MitogenCall) call = NULL;
  const gchar *chain, *module, *function;
  guint32 progress;
  guint requests;
  GError *failed;

  if (!body || !g_variant_is_of_type (body, G_VARIANT_TYPE (MITOGEN_CALL_TYPE)))
    {
      if (!error)
        g_set_error (&error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_BAD_ARGUMENTS,
                     "A CALL_FUNCTION body must be %s", MITOGEN_CALL_TYPE);
      reply (self, msg, mitogen_protocol_reply_error (self->name, error));
      return;
    }
  g_variant_get (body, "(&s&s&svu)", &chain, &module, &function, &args, &progress);

  failed = *chain ? g_hash_table_lookup (self->failed_chains, chain) : NULL;
  if (failed)
    {
      reply (self, msg, mitogen_protocol_reply_error (self->name, failed));
      return;
    }

  call = mitogen_call_new (self->router, mitogen_message_get_src_id (msg),
                           progress, module, function);
  g_mutex_lock (&self->lock);
  g_set_object (&self->current_call, call);
  if (g_atomic_int_get (&self->shutting_down))
    g_cancellable_cancel (mitogen_call_get_cancellable (call));
  g_mutex_unlock (&self->lock);

  requests = mitogen_importer_get_n_requests (self->importer);
  result = run_function (self, call, args, &error);
  /* A fetched module, once loaded, lives in its memfd: the heap copy it
   * arrived in is given back now, or every agent would keep its pages
   * dirty. Only after a fetch, since a trim walks the whole heap. */
  if (mitogen_importer_get_n_requests (self->importer) != requests)
    malloc_trim (0);

  g_mutex_lock (&self->lock);
  g_clear_object (&self->current_call);
  g_mutex_unlock (&self->lock);

  if (result)
    reply_result (self, msg, module, function, result);
  else
    {
      if (*chain)
        g_hash_table_insert (self->failed_chains, g_strdup (chain),
                             g_error_copy (error));
      reply (self, msg, mitogen_protocol_reply_error (self->name, error));
    }
}

/* Lets the last output reach the parent before the broker stops. */
static void
finish (MitogenExternalContext *self)
{
  gint64 grace = mitogen_broker_get_shutdown_timeout (self->broker);
  gint64 deadline = g_get_monotonic_time () + grace;
  int null_fd = open_null (FALSE);
  g_autoptr(GPtrArray) children = mitogen_router_dup_child_streams (self->router);

  /* Our children share our stdout and stderr pipes: they go first, or
   * the pipes would not end. All of them: those a function started with
   * mitogen_router_connect_context() as well as agent.connect's. */
  for (guint i = 0; i < children->len; i++)
    {
      g_autoptr(MitogenMessage) msg =
        mitogen_message_new (mitogen_stream_get_remote_id (children->pdata[i]),
                             MITOGEN_HANDLE_SHUTDOWN, NULL);
      mitogen_router_route (self->router, msg);
    }
  for (guint i = 0; i < children->len; i++)
    while (!mitogen_basic_stream_is_disconnected (children->pdata[i]) &&
           g_get_monotonic_time () < deadline)
      g_usleep (1000);

  fflush (stdout);
  fflush (stderr);
  /* Our own hold on the pipes goes; they end once subprocesses' do too. */
  if (null_fd >= 0)
    {
      dup2 (null_fd, STDOUT_FILENO);
      dup2 (null_fd, STDERR_FILENO);
      close (null_fd);
    }
  for (guint i = 0; i < 2; i++)
    {
      gint64 left = deadline - g_get_monotonic_time ();
      if (left <= 0 || !mitogen_latch_get (self->loggers_done, left, TRUE, NULL, NULL))
        break;
    }
  while (mitogen_stream_get_pending_bytes (self->parent_stream) > 0 &&
         !mitogen_basic_stream_is_disconnected (MITOGEN_BASIC_STREAM (self->parent_stream)) &&
         g_get_monotonic_time () < deadline)
    g_usleep (1000);

  g_atomic_int_set (&self->forwarding_logs, FALSE);
  mitogen_broker_shutdown (self->broker);
  mitogen_broker_join (self->broker);
}

/**
 * mitogen_external_context_run:
 * @self: a bootstrapped context
 *
 * Runs calls on this thread until the context is asked to shut down or
 * loses its parent, then drains its output and stops its broker.
 *
 * Returns: the process exit status to use
 */
int
mitogen_external_context_run (MitogenExternalContext *self)
{
  GThread *reaper;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MitogenMessage) msg =
        mitogen_receiver_get (self->channel, -1, NULL, &error);

      if (!msg)
        break;
      dispatch_call (self, msg);
    }

  begin_shutdown (self);
  finish (self);

  g_mutex_lock (&self->lock);
  /* Another thread may have begun the shutdown and not yet started the
   * reaper. */
  while (!self->reaper)
    g_cond_wait (&self->done_cond, &self->lock);
  self->done = TRUE;
  g_cond_broadcast (&self->done_cond);
  reaper = g_steal_pointer (&self->reaper);
  g_mutex_unlock (&self->lock);
  /* Not left to end on its own: a thread still exiting while the process
   * exits can deadlock the exit (seen under ASan: exit()'s loader lock
   * against the thread's teardown), and it uses this object. */
  g_thread_join (reaper);
  return 0;
}

/**
 * mitogen_external_context_get_broker:
 * @self: a context
 *
 * Returns the broker.
 *
 * Returns: (transfer none) (nullable): the broker
 */
MitogenBroker *
mitogen_external_context_get_broker (MitogenExternalContext *self)
{
  return self->broker;
}

/**
 * mitogen_external_context_get_router:
 * @self: a context
 *
 * Returns the router.
 *
 * Returns: (transfer none) (nullable): the router
 */
MitogenRouter *
mitogen_external_context_get_router (MitogenExternalContext *self)
{
  return self->router;
}

/**
 * mitogen_external_context_get_context:
 * @self: a context
 *
 * Returns the parent context.
 *
 * Returns: (transfer none) (nullable): the parent context
 */
MitogenContext *
mitogen_external_context_get_context (MitogenExternalContext *self)
{
  return self->context;
}

/**
 * mitogen_external_context_get_channel:
 * @self: a context
 *
 * Returns the receiver of `CALL_FUNCTION`.
 *
 * Returns: (transfer none) (nullable): the receiver of `CALL_FUNCTION`
 */
MitogenReceiver *
mitogen_external_context_get_channel (MitogenExternalContext *self)
{
  return self->channel;
}

/**
 * mitogen_external_context_get_importer:
 * @self: a context
 *
 * Returns the importer of function modules.
 *
 * Returns: (transfer none) (nullable): the importer of function modules
 */
MitogenImporter *
mitogen_external_context_get_importer (MitogenExternalContext *self)
{
  return self->importer;
}

/**
 * mitogen_external_context_get_stdout_log:
 * @self: a context
 *
 * Returns: (transfer none) (nullable): the logger of stdout
 */
MitogenIoLogger *
mitogen_external_context_get_stdout_log (MitogenExternalContext *self)
{
  return self->stdout_log;
}

/**
 * mitogen_external_context_get_stderr_log:
 * @self: a context
 *
 * Returns: (transfer none) (nullable): the logger of stderr
 */
MitogenIoLogger *
mitogen_external_context_get_stderr_log (MitogenExternalContext *self)
{
  return self->stderr_log;
}

/*
 * mitogen_external_context_set_log_writer_taken:
 * @self: a context not yet bootstrapped
 *
 * Says that this process already has a GLib log writer (a fork child of a
 * master that set one), so bootstrap must not set its own.
 */
void
mitogen_external_context_set_log_writer_taken (MitogenExternalContext *self)
{
  self->log_writer_taken = TRUE;
}

/*
 * mitogen_external_context_set_on_start:
 * @self: a context not yet bootstrapped
 * @name: the hook's name, for errors
 * @func: the hook
 * @args: its arguments
 * @user_data: its data
 *
 * Makes bootstrap run @func once the context is set up, before it says it
 * is ready (a fork child's `on-start`).
 */
void
mitogen_external_context_set_on_start (MitogenExternalContext *self,
                                       const gchar *name,
                                       MitogenForkOnStart func,
                                       GVariant *args,
                                       gpointer user_data)
{
  g_free (self->on_start_name);
  self->on_start_name = g_strdup (name);
  self->on_start_func = func;
  g_clear_pointer (&self->on_start_args, g_variant_unref);
  self->on_start_args = g_variant_ref_sink (args);
  self->on_start_data = user_data;
}

/**
 * mitogen_external_context_get_default:
 *
 * Returns the context this process runs as, for function modules that
 * need more than their [class@Call] gives, such as
 * mitogen_external_context_detach(); %NULL in a master.
 *
 * Returns: (transfer none) (nullable): the context this process runs as
 */
MitogenExternalContext *
mitogen_external_context_get_default (void)
{
  return the_context;
}

/**
 * mitogen_external_context_get_detached:
 * @self: a context
 *
 * Returns whether mitogen_external_context_detach() succeeded.
 *
 * Returns: whether the context detached from its parent
 */
gboolean
mitogen_external_context_get_detached (MitogenExternalContext *self)
{
  g_return_val_if_fail (MITOGEN_IS_EXTERNAL_CONTEXT (self), FALSE);

  return g_atomic_int_get (&self->detached);
}

/* Asks the parent to let go of us (DETACHING) and waits for its word. */
static gboolean
announce_detaching (MitogenExternalContext *self,
                    guint32 parent_id,
                    GCancellable *cancellable,
                    GError **error)
{
  gint64 timeout = mitogen_broker_get_shutdown_timeout (self->broker)
                   + (gint64) (MITOGEN_CONNECT_TIMEOUT * G_USEC_PER_SEC);
  g_autoptr (MitogenReceiver) ack
      = mitogen_receiver_new (self->router, 0, FALSE, parent_id, NULL);
  g_autoptr (MitogenMessage) msg
      = mitogen_message_new (parent_id, MITOGEN_HANDLE_DETACHING, NULL);
  g_autoptr (MitogenMessage) reply = NULL;

  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (ack));
  mitogen_router_route (self->router, msg);
  reply = mitogen_receiver_get (ack, timeout, cancellable, error);
  if (!reply)
    {
      g_prefix_error (error, "The parent did not accept DETACHING: ");
      return FALSE;
    }
  return TRUE;
}

/**
 * mitogen_external_context_detach:
 * @self: the context this process runs as
 * @cancellable: (nullable): stops the wait for the parent
 * @error: return location for an error
 *
 * Detaches the context from its parent, as Mitogen's
 * `ExternalContext.detach()` does, so that it outlives it: it announces
 * `DETACHING`, which the parent acknowledges and after which it neither
 * signals nor waits for this process when the link goes; then it lets its
 * output drain and closes the link itself. Losing the parent is no longer
 * the end: the call running (usually the one that detached) goes on, and
 * the context exits once it returns, since no call can reach it any more.
 * What it logs from then on goes to its original stderr, if anything is
 * still there to read it. Returns once the link is closed. Call it from a
 * function, not from the broker's thread.
 *
 * Returns: %TRUE once detached; %FALSE with an error if the parent is gone
 *   already or did not acknowledge
 */
gboolean
mitogen_external_context_detach (MitogenExternalContext *self,
                                 GCancellable *cancellable,
                                 GError **error)
{
  MitogenBasicStream *link;
  gint64 deadline;

  g_return_val_if_fail (MITOGEN_IS_EXTERNAL_CONTEXT (self), FALSE);
  g_return_val_if_fail (self->parent_stream != NULL, FALSE);
  g_return_val_if_fail (!mitogen_broker_is_broker_thread (self->broker), FALSE);

  if (g_atomic_int_get (&self->detached))
    return TRUE;
  link = MITOGEN_BASIC_STREAM (self->parent_stream);
  if (mitogen_basic_stream_is_disconnected (link))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR,
                   MITOGEN_STREAM_ERROR_DISCONNECTED,
                   "Cannot detach: the parent is gone already");
      return FALSE;
    }
  /* No terminal's or process group's signals from the parent's side. */
  setsid ();
  if (!announce_detaching (self,
                           mitogen_stream_get_remote_id (self->parent_stream),
                           cancellable, error))
    return FALSE;
  g_atomic_int_set (&self->detached, TRUE);
  g_debug ("Detached from the parent; closing the link");

  /* What was queued for the parent (logs, replies) goes first. */
  deadline = g_get_monotonic_time ()
             + mitogen_broker_get_shutdown_timeout (self->broker);
  while (mitogen_stream_get_pending_bytes (self->parent_stream) > 0
         && !mitogen_basic_stream_is_disconnected (link)
         && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  mitogen_stream_close (self->parent_stream, "detached");
  /* Returns with the link gone: what the caller does next happens with
   * no parent. */
  while (!mitogen_basic_stream_is_disconnected (link)
         && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  return TRUE;
}
