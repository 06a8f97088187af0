/* mitogen-fork-server.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-fork-server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mitogen-errors.h"
#include "mitogen-external-context.h"
#include "mitogen-external-context-private.h"
#include "mitogen-io.h"

/* The fork server: see mitogen_fork_server_start() for the why.
 *
 * Protocol on the control socket (SOCK_STREAM, one request at a time, under
 * server_lock): the master sends a request header (Request), carrying as
 * SCM_RIGHTS the child's end of a new link and, if the child's stderr is
 * to be apart, the write end of a pipe for it; then `length` bytes of a
 * serialized `(sv)`: the on-start hook's name ("" for none) and its
 * arguments. The server forks and replies with a gint32, the child's pid
 * or minus an errno value. Before the first request, the server says it
 * is ready the same way, with 0. End of file on the socket tells the
 * server to exit. */

/* The master's side. */
static GMutex server_lock;
static int server_fd = -1;      /* our end of the control socket */
static GPid server_pid;
static GPid server_owner;       /* the process that started it */
static gboolean server_lost;

/* Known to the fork server because it is set before the fork. */
/* In the server and its children: whether the master had set a GLib log
 * writer, which a child cannot replace. */
static gboolean log_writer_taken;

static MitogenForkFunc on_fork_func;
static gpointer on_fork_data;

/* Per-connection hooks, by name (mitogen_fork_server_add_on_start()):
 * filled before the server starts, read only after. */
typedef struct
{
  MitogenForkOnStart func;
  gpointer user_data;
} OnStart;

static GHashTable *on_start_hooks; /* name -> OnStart* */

/* The master's name, which children take back from the fork server. */
static gchar process_name[17];

/* Where the master's module responder finds function modules, read when
 * the fork server starts: the children, on the same host, load from
 * there instead of asking the master. */
static gchar **module_path;

/* Modules to load into the fork server, so children start with them. */
static GPtrArray *preload_names;

/* In the fork server: holds the preloaded modules open. */
static MitogenImporter *preloaded;

/* A request is one byte carrying the link; the reply is the child's pid,
 * or minus an errno value. The server's first message, once it is ready,
 * is 0, or -EDEADLK if preloading a module started a thread. */
typedef gint32 Reply;

typedef struct
{
  guint32 length; /* of the serialized (sv) that follows */
} Request;

/* The most a request's hook arguments may take. */
#define MAX_REQUEST_LENGTH (16 * 1024 * 1024)
#define REQUEST_TYPE "(sv)"

/* What the server received for one child. */
typedef struct
{
  int link;
  int stderr_fd;
  GVariant *payload; /* (sv), or NULL */
} Received;

/* ---------------------------------------------------------------------- */
/* In the fork server and its children: single-threaded, so anything goes,
 * but nothing here may start a thread or wait for the master. */

/* Closes every descriptor from 3 up, but @keep. */
static void
close_fds_except (int keep)
{
  int max = (int) sysconf (_SC_OPEN_MAX);

  if ((keep <= 3 || close_range (3, (unsigned) keep - 1, 0) == 0) &&
      close_range ((unsigned) keep + 1, ~0U, 0) == 0)
    return;
  /* Kernels before 5.9. */
  for (int fd = 3; fd < MAX (max, keep + 1); fd++)
    if (fd != keep)
      close (fd);
}

static void
redirect_to_null (int fd)
{
  int null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC);

  if (null_fd >= 0 && null_fd != fd)
    {
      dup2 (null_fd, fd);
      close (null_fd);
    }
}

static void
set_sigchld (void (*handler) (int),
             int flags)
{
  struct sigaction sa = { 0 };

  sa.sa_handler = handler;
  sa.sa_flags = flags;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGCHLD, &sa, NULL);
}

/* g_random's state was copied from the master: without this every child
 * would draw the same numbers (and the same call chain ids). */
static void
reseed_random (void)
{
  guint32 seed;

  if (getrandom (&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t) sizeof seed)
    seed = (guint32) getpid () ^ (guint32) g_get_monotonic_time ();
  g_random_set_seed (seed);
}

static gboolean
run_on_fork (int link)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = NULL;

  if (!on_fork_func || on_fork_func (on_fork_data, &error))
    return TRUE;
  /* Written on the link, before the agent's first marker, the parent
   * quotes it in the connect error. */
  line = g_strdup_printf ("on-fork hook failed: %s\n",
                          error ? error->message : "no reason given");
  mitogen_write_all (link, (const guint8 *) line, strlen (line), -1, NULL);
  return FALSE;
}

/* The hook named in the request, given to the context, which runs it
 * once it is set up and before it says it is ready. */
static gboolean
set_on_start (MitogenExternalContext *context, GVariant *payload, int link)
{
  g_autoptr (GVariant) args = NULL;
  const gchar *name = "";
  OnStart *hook;

  if (!payload)
    return TRUE;
  g_variant_get (payload, "(&sv)", &name, &args);
  if (!*name)
    return TRUE;
  hook = on_start_hooks ? g_hash_table_lookup (on_start_hooks, name) : NULL;
  if (!hook)
    {
      /* The master checked; only a fork server started without it, in an
       * agent say, gets here. */
      g_autofree gchar *line = g_strdup_printf (
          "no on-start hook named “%s” in this fork server\n", name);
      mitogen_write_all (link, (const guint8 *) line, strlen (line), -1, NULL);
      return FALSE;
    }
  mitogen_external_context_set_on_start (context, name, hook->func, args,
                                         hook->user_data);
  return TRUE;
}

static void G_GNUC_NORETURN
child_main (Received *req)
{
  g_autoptr(MitogenExternalContext) context = NULL;
  g_autoptr(GError) error = NULL;
  int link = req->link;
  sigset_t all;

  /* The parent reads this pipe, and quotes it if the bootstrap fails. */
  if (req->stderr_fd >= 0)
    {
      dup2 (req->stderr_fd, STDERR_FILENO);
      close (req->stderr_fd);
    }

  /* Back to what a freshly started agent would have: its own session,
   * children it can wait for, no signal blocked, no descriptor but stdio
   * and the link. */
  setsid ();
  set_sigchld (SIG_DFL, 0);
  sigemptyset (&all);
  sigprocmask (SIG_SETMASK, &all, NULL);
  close_fds_except (link);
  prctl (PR_SET_NAME, process_name, 0, 0, 0);
  reseed_random ();

  if (!run_on_fork (link))
    _exit (1);

  context = mitogen_external_context_new ();
  if (log_writer_taken)
    mitogen_external_context_set_log_writer_taken (context);
  if (!set_on_start (context, req->payload, link))
    _exit (1);
  if (!mitogen_external_context_bootstrap (context, link, link, &error))
    {
      g_printerr ("mitogen fork child: %s\n", error->message);
      _exit (1);
    }
  /* Calls wait until run(): the importer gets its path first. A module the
   * fork server preloaded is then found loaded already. */
  for (guint i = 0; module_path[i]; i++)
    mitogen_importer_add_path (mitogen_external_context_get_importer (context),
                               module_path[i]);
  /* _exit: the master's atexit handlers and stdio buffers are not ours. */
  _exit (mitogen_external_context_run (context));
}

/* Blocking: the master writes a request whole, under its lock. */
static gboolean
read_exactly (int fd, gpointer buf, gsize len)
{
  gsize done = 0;

  while (done < len)
    {
      ssize_t n = read (fd, (guint8 *) buf + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      done += (gsize) n;
    }
  return TRUE;
}

static void
received_clear (Received *req)
{
  if (req->link >= 0)
    close (req->link);
  if (req->stderr_fd >= 0)
    close (req->stderr_fd);
  g_clear_pointer (&req->payload, g_variant_unref);
}

/* Returns 1 with @req filled, 0 once the master has gone, -1 for a
 * request without a link or with an unreadable payload. */
static int
receive_request (int ctl, Received *req)
{
  Request header = { 0 };
  struct iovec iov = { &header, sizeof header };
  union {
    struct cmsghdr align;
    gchar buf[CMSG_SPACE (2 * sizeof (int))];
  } control;
  struct msghdr msg = { 0 };
  struct cmsghdr *cmsg;
  gsize n_fds = 0;
  int fds[2] = { -1, -1 };
  guint8 *data = NULL;
  ssize_t n;

  req->link = req->stderr_fd = -1;
  req->payload = NULL;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  do
    n = recvmsg (ctl, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return 0;

  cmsg = CMSG_FIRSTHDR (&msg);
  if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS
      && cmsg->cmsg_len >= CMSG_LEN (sizeof (int)))
    {
      n_fds = MIN ((cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int), 2);
      memcpy (fds, CMSG_DATA (cmsg), n_fds * sizeof (int));
    }
  req->link = fds[0];
  req->stderr_fd = n_fds > 1 ? fds[1] : -1;
  /* The rest of the header, then the payload. */
  if ((gsize) n < sizeof header
      && !read_exactly (ctl, (guint8 *) &header + n, sizeof header - (gsize) n))
    return 0;
  if (header.length > MAX_REQUEST_LENGTH)
    return 0; /* out of step with the master: nothing more can be read */
  if (header.length > 0)
    {
      data = g_malloc (header.length);
      if (!read_exactly (ctl, data, header.length))
        {
          g_free (data);
          return 0;
        }
      req->payload = g_variant_ref_sink (
          g_variant_new_from_data (G_VARIANT_TYPE (REQUEST_TYPE), data,
                                   header.length, FALSE, g_free, data));
    }
  if (req->link < 0)
    return -1;
  return 1;
}

static gboolean
send_reply (int ctl,
            Reply reply)
{
  ssize_t n;

  do
    n = send (ctl, &reply, sizeof reply, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t) sizeof reply;
}

static gboolean
is_single_threaded (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  /* Without /proc, trust the caller. */
  if (!dir)
    return TRUE;
  while (g_dir_read_name (dir))
    n++;
  return n <= 1;
}

/* A module that cannot be preloaded is fetched by each child instead. */
static void
preload_modules (void)
{
  preloaded = mitogen_importer_new ((const gchar * const *) module_path);
  for (guint i = 0; i < preload_names->len; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!mitogen_importer_load (preloaded, preload_names->pdata[i], &error))
        g_debug ("The fork server did not preload %s: %s",
                 (const gchar *) preload_names->pdata[i], error->message);
    }
}

static GLogWriterOutput
probe_writer (GLogLevelFlags level,
              const GLogField *fields,
              gsize n_fields,
              gpointer user_data)
{
  return G_LOG_WRITER_HANDLED;
}

/* GLib can say neither whether a log writer was set nor let one be set
 * twice (it aborts). A throwaway child tries; its fate is the answer. */
static gboolean
probe_log_writer_taken (void)
{
  int status = 0;
  pid_t pid = fork ();

  if (pid == 0)
    {
      /* The abort's complaint is expected; it is not the master's. */
      int null_fd = open ("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null_fd >= 0)
        dup2 (null_fd, STDERR_FILENO);
      g_log_set_writer_func (probe_writer, NULL, NULL);
      _exit (0);
    }
  if (pid < 0)
    return TRUE; /* as if it were: forwarding stderr works either way */
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return !(WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

static void G_GNUC_NORETURN
server_main (int ctl)
{
  /* Whatever this process inherited of the master's state, it is no
   * fork server's client. */
  server_fd = -1;
  server_pid = 0;

  /* Before SIGCHLD is ignored, which would leave the probe unwaitable. */
  log_writer_taken = probe_log_writer_taken ();

  /* No terminal's signals: the server goes when the master does. */
  setsid ();
  set_sigchld (SIG_IGN, SA_NOCLDWAIT);
  redirect_to_null (STDIN_FILENO);
  redirect_to_null (STDOUT_FILENO);
  close_fds_except (ctl);
  prctl (PR_SET_NAME, "mitogen-forksrv", 0, 0, 0);

  /* A module's constructor could start a thread, which would make every
   * child a fork of a multi-threaded process again: refuse to serve. */
  preload_modules ();
  if (!send_reply (ctl, is_single_threaded () ? 0 : -EDEADLK))
    _exit (1);

  for (;;)
    {
      Received req;
      int got = receive_request (ctl, &req);
      Reply reply;
      pid_t pid;

      if (got == 0)
        _exit (0);
      if (got < 0)
        {
          received_clear (&req);
          if (!send_reply (ctl, -EBADMSG))
            _exit (1);
          continue;
        }
      pid = fork ();
      if (pid == 0)
        {
          close (ctl);
          child_main (&req);
        }
      reply = pid > 0 ? (Reply) pid : -errno;
      received_clear (&req);
      if (!send_reply (ctl, reply))
        _exit (1);
    }
}

/* ---------------------------------------------------------------------- */
/* In the master. */

static gboolean
receive_reply (int fd,
               gint64 deadline,
               Reply *reply,
               GError **error)
{
  gsize done = 0;

  while (done < sizeof *reply)
    {
      gssize n;

      if (!mitogen_wait_fd (fd, G_IO_IN, deadline, error))
        {
          g_prefix_error (error, "The fork server did not answer: ");
          return FALSE;
        }
      n = read (fd, (guint8 *) reply + done, sizeof *reply - done);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0)
        {
          g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                       "The fork server went away");
          return FALSE;
        }
      done += (gsize) n;
    }
  return TRUE;
}

/* Waits for the server's first word, after it preloaded modules. */
static gboolean
wait_ready (int fd,
            GPid pid,
            GError **error)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  Reply reply = -EIO;

  if (receive_reply (fd, deadline, &reply, error) && reply == 0)
    return TRUE;
  if (error && !*error && reply == -EDEADLK)
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                 "a module preloaded into it started a thread");
  else if (error && !*error)
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                 "%s", g_strerror (-reply));
  g_prefix_error (error, "Could not start the fork server: ");
  close (fd);
  kill (pid, SIGKILL);
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
  return FALSE;
}

/* The directories of the master's module responder (see
 * mitogen_module_responder_get_for_router()). */
static gchar **
default_module_path (void)
{
  const gchar *env = g_getenv ("MITOGEN_PLUGIN_PATH");
  g_auto(GStrv) dirs = g_strsplit (env ? env : "", G_SEARCHPATH_SEPARATOR_S, -1);
  g_autoptr(GStrvBuilder) path = g_strv_builder_new ();

  for (guint i = 0; dirs[i]; i++)
    if (*dirs[i])
      g_strv_builder_add (path, dirs[i]);
  g_strv_builder_add (path, MITOGEN_PLUGINDIR);
  return g_strv_builder_end (path);
}

static void
ensure_preload_names (void)
{
  if (!preload_names)
    {
      preload_names = g_ptr_array_new_with_free_func (g_free);
      /* Every context has it, and most calls are to it. */
      g_ptr_array_add (preload_names, g_strdup ("core"));
    }
}

/**
 * mitogen_fork_server_preload:
 * @module: a function module's name, such as `files`
 *
 * Loads @module into the fork server when it starts, from the directories
 * the master serves modules from (`MITOGEN_PLUGIN_PATH` and the install
 * directory), so that every `fork` child starts with it loaded and calls
 * it without fetching it. `core` is always preloaded. A module that cannot
 * be loaded is fetched by each child as usual.
 *
 * Call it before mitogen_fork_server_start(). A module whose loading
 * starts a thread makes mitogen_fork_server_start() fail.
 */
void
mitogen_fork_server_preload (const gchar *module)
{
  g_return_if_fail (mitogen_importer_is_valid_name (module));
  g_return_if_fail (mitogen_fork_server_get_pid () == 0);

  ensure_preload_names ();
  g_ptr_array_add (preload_names, g_strdup (module));
}

/**
 * mitogen_fork_server_start:
 * @error: return location for an error
 *
 * Starts the fork server, the process that `fork` contexts are copies of.
 *
 * Forking a multi-threaded process is unsafe: the child gets a copy of
 * memory in which other threads may hold the malloc arena lock, GLib's
 * type or log locks, or a library's mutex, and none of the threads that
 * would release them, so its first g_malloc() can hang for ever. A master
 * is multi-threaded as soon as it has a broker.
 *
 * So the master never forks a context itself. This function, called
 * while the process has a single thread, forks a helper, the fork server,
 * which never starts a thread and only does simple things in a loop: it
 * receives a request on its control socket, carrying the child's end of a
 * new link (`SCM_RIGHTS`), forks, and replies with the new child's pid.
 * Every `fork` child is thus a fork of a single-threaded process, safe by
 * construction whatever the master's threads are doing. The child closes
 * every descriptor but stdio and the link, starts a new session, re-seeds
 * g_random, runs the hook set with mitogen_fork_server_set_on_fork(), and
 * becomes a context ([class@ExternalContext]) over the link.
 *
 * A child starts as a copy of the master as it was when this was called:
 * what the master loads or sets later (modules, log writers, environment)
 * is not in it, and descriptors open then are closed in it. Function
 * modules reach it as they reach any child, from its parent.
 *
 * The fork server ignores `SIGCHLD`, so the kernel reaps its children as
 * they exit; the master is not their parent and neither waits for them nor
 * signals them by pid (`reaps_child` in [struct@ParentStreamClass]). The
 * server exits when the master closes the control socket, by
 * mitogen_fork_server_stop() or by exiting or dying, so it never outlives
 * it; children already started live on until their own link closes.
 * Requests from several threads are serialised: each holds a lock for its
 * round trip, which lasts one fork() in the server.
 *
 * Call it early in main(), while the process has a single thread: before
 * any broker, thread pool or GTask thread starts. A GLib log writer the
 * program set before is the children's too (GLib allows one per process):
 * they keep it, and what it prints on stderr reaches the master as their
 * stderr; without one, children forward their log records. Set the hook with
 * mitogen_fork_server_set_on_fork() first. Calling this again while the
 * server runs does nothing.
 *
 * Returns: %TRUE once the server runs; %FALSE with
 *   %MITOGEN_STREAM_ERROR_FAILED if the process already has threads or
 *   the fork failed
 */
gboolean
mitogen_fork_server_start (GError **error)
{
  int sv[2];
  pid_t pid;

  if (mitogen_fork_server_get_pid () > 0)
    return TRUE;
  if (!is_single_threaded ())
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                   "mitogen_fork_server_start() must be called while the "
                   "process has a single thread, early in main()");
      return FALSE;
    }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                   "socketpair() failed: %s", g_strerror (errsv));
      return FALSE;
    }

  prctl (PR_GET_NAME, process_name, 0, 0, 0);
  if (!module_path)
    module_path = default_module_path ();
  ensure_preload_names ();
  /* Or the server and every child would print our buffered output again. */
  fflush (NULL);
  pid = fork ();
  if (pid == 0)
    {
      close (sv[0]);
      server_main (sv[1]);
    }
  close (sv[1]);
  if (pid < 0)
    {
      int errsv = errno;
      close (sv[0]);
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                   "Could not start the fork server: fork() failed: %s",
                   g_strerror (errsv));
      return FALSE;
    }
  if (!wait_ready (sv[0], pid, error))
    return FALSE;

  g_mutex_lock (&server_lock);
  server_fd = sv[0];
  server_pid = pid;
  server_owner = getpid ();
  server_lost = FALSE;
  g_mutex_unlock (&server_lock);
  return TRUE;
}

static void
reap_server_locked (int flags)
{
  int status;

  while (waitpid (server_pid, &status, flags) < 0 && errno == EINTR)
    ;
}

/**
 * mitogen_fork_server_stop:
 *
 * Stops the fork server and waits for it to exit. Children it started
 * stay up until their contexts shut down. Later `fork` connects fail
 * until mitogen_fork_server_start() is called again, which is only
 * possible while the process has a single thread again.
 */
void
mitogen_fork_server_stop (void)
{
  g_mutex_lock (&server_lock);
  if (server_fd >= 0)
    {
      /* End of file tells the server to exit. */
      close (server_fd);
      server_fd = -1;
      reap_server_locked (0);
      server_pid = 0;
    }
  server_lost = FALSE;
  g_mutex_unlock (&server_lock);
}

/**
 * mitogen_fork_server_get_pid:
 *
 * Returns the fork server's pid, or 0 if it is not running.
 *
 * Returns: the fork server's pid, or 0 if it is not running
 */
GPid
mitogen_fork_server_get_pid (void)
{
  GPid pid;

  g_mutex_lock (&server_lock);
  pid = server_fd >= 0 && server_owner == getpid () ? server_pid : 0;
  g_mutex_unlock (&server_lock);
  return pid;
}

/**
 * mitogen_fork_server_set_on_fork:
 * @func: (nullable) (scope forever): the hook, or %NULL for none
 * @user_data: (closure func): data for @func
 *
 * Sets a hook that each `fork` child runs before it becomes a context:
 * after its descriptors are closed and before it starts a thread, so it
 * may do what needs a single thread, such as setenv() or re-initialising
 * a library that holds a connection. Its log records go to stderr, not to
 * the master. If it fails, the child exits and the connect fails with the
 * hook's error.
 *
 * The children are copies of the fork server, not of the master at
 * connect time, so the hook and @user_data must be set before
 * mitogen_fork_server_start(); the hook is the same for every child.
 */
void
mitogen_fork_server_set_on_fork (MitogenForkFunc func,
                                 gpointer user_data)
{
  g_return_if_fail (mitogen_fork_server_get_pid () == 0);

  on_fork_func = func;
  on_fork_data = user_data;
}

/* The header with the descriptors, then the rest, all before the lock
 * is let go. */
static gboolean
send_request (int fd,
              int link_fd,
              int stderr_fd,
              GBytes *payload,
              gint64 deadline,
              GError **error)
{
  Request header = { (guint32) (payload ? g_bytes_get_size (payload) : 0) };
  int fds[2] = { link_fd, stderr_fd };
  gsize n_fds = stderr_fd >= 0 ? 2 : 1;
  struct iovec iov = { &header, sizeof header };
  union {
    struct cmsghdr align;
    gchar buf[CMSG_SPACE (2 * sizeof (int))];
  } control;
  struct msghdr msg = { 0 };
  struct cmsghdr *cmsg;
  ssize_t n;

  memset (&control, 0, sizeof control);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = CMSG_SPACE (n_fds * sizeof (int));
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (n_fds * sizeof (int));
  memcpy (CMSG_DATA (cmsg), fds, n_fds * sizeof (int));

  do
    n = sendmsg (fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    {
      int errsv = errno;
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "Could not send a request to the fork server: %s",
                   n < 0 ? g_strerror (errsv) : "short write");
      return FALSE;
    }
  if ((gsize) n < sizeof header
      && !mitogen_write_all (fd, (const guint8 *) &header + n,
                             sizeof header - (gsize) n, deadline, error))
    return FALSE;
  if (header.length > 0
      && !mitogen_write_all (fd, g_bytes_get_data (payload, NULL),
                             header.length, deadline, error))
    return FALSE;
  return TRUE;
}

/* A server that failed once is out of step with us, or dead: drop it.
 * Closing our end makes a live one exit. */
static void
lose_server_locked (void)
{
  close (server_fd);
  server_fd = -1;
  reap_server_locked (WNOHANG);
  server_lost = TRUE;
}

static gboolean
request_locked (int link_fd,
                int stderr_fd,
                GBytes *payload,
                gint64 deadline,
                GPid *out_pid,
                GError **error)
{
  Reply reply;

  if (!send_request (server_fd, link_fd, stderr_fd, payload, deadline, error)
      || !receive_reply (server_fd, deadline, &reply, error))
    {
      lose_server_locked ();
      return FALSE;
    }
  if (reply <= 0)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "The fork server could not fork: %s",
                   g_strerror (reply < 0 ? -reply : EINVAL));
      return FALSE;
    }
  *out_pid = (GPid) reply;
  return TRUE;
}

static gboolean
not_running (GError **error)
{
  if (server_lost)
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                 "The fork server (pid %d) has gone; fork contexts can no "
                 "longer be started by this process", server_pid);
  else
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                 "No fork server is running in this process: call "
                 "mitogen_fork_server_start() early in main(), before any "
                 "thread starts");
  return FALSE;
}

/**
 * mitogen_fork_server_fork:
 * @link_fd: one end of a socket that becomes the child's link to its
 *   parent; this process keeps its own copy
 * @deadline: monotonic time at which to give up waiting for the fork
 *   server, or -1
 * @out_pid: (out): the child's pid; the fork server reaps it: do not wait
 *   for it, and signal it only through a pidfd
 * @error: return location for an error
 *
 * Asks the fork server for a child that runs a context over @link_fd, as
 * the `fork` transport does. Safe from any thread.
 *
 * Returns: %TRUE once the child exists; %FALSE with
 *   %MITOGEN_STREAM_ERROR_CONNECT (or %MITOGEN_TIMEOUT_ERROR_TIMED_OUT)
 *   if the server is not running, has gone or could not fork
 */
gboolean
mitogen_fork_server_fork (int link_fd,
                          gint64 deadline,
                          GPid *out_pid,
                          GError **error)
{
  return mitogen_fork_server_fork_full (link_fd, -1, NULL, NULL, deadline,
                                        out_pid, error);
}

/* The hook's name and arguments, as the server reads them. */
static GBytes *
build_payload (const gchar *on_start, GVariant *on_start_args, GError **error)
{
  g_autoptr (GVariant) payload = NULL;

  if (!on_start || !*on_start)
    return NULL;
  if (!on_start_hooks || !g_hash_table_contains (on_start_hooks, on_start))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "No on-start hook named “%s”: add it with "
                   "mitogen_fork_server_add_on_start() before "
                   "mitogen_fork_server_start()",
                   on_start);
      return NULL;
    }
  payload = g_variant_ref_sink (g_variant_new (
      "(sv)", on_start, on_start_args ? on_start_args : g_variant_new ("()")));
  if (g_variant_get_size (payload) > MAX_REQUEST_LENGTH)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "The arguments of on-start hook “%s” take %" G_GSIZE_FORMAT
                   " bytes, over the limit of %d",
                   on_start, g_variant_get_size (payload), MAX_REQUEST_LENGTH);
      return NULL;
    }
  return g_variant_get_data_as_bytes (payload);
}

/**
 * mitogen_fork_server_fork_full:
 * @link_fd: one end of a socket that becomes the child's link to its
 *   parent; this process keeps its own copy
 * @stderr_fd: the write end of a pipe to be the child's stderr, or -1 for
 *   the fork server's own; this process keeps its own copy
 * @on_start: (nullable): the name of a hook added with
 *   mitogen_fork_server_add_on_start(), for this child only, or %NULL
 * @on_start_args: (nullable): the hook's arguments, any #GVariant; a
 *   floating reference is sunk. `()` if %NULL
 * @deadline: monotonic time at which to give up waiting for the fork
 *   server, or -1
 * @out_pid: (out): the child's pid; the fork server reaps it: do not wait
 *   for it, and signal it only through a pidfd
 * @error: return location for an error
 *
 * Like mitogen_fork_server_fork(), with the child's stderr on @stderr_fd
 * and, if @on_start is given, that hook run in the child once it is a
 * context and before it says it is ready. Safe from any thread.
 *
 * Returns: %TRUE once the child exists; %FALSE with
 *   %MITOGEN_STREAM_ERROR_CONNECT (or %MITOGEN_TIMEOUT_ERROR_TIMED_OUT)
 *   if no hook has that name, or the server is not running, has gone or
 *   could not fork
 */
gboolean
mitogen_fork_server_fork_full (int link_fd,
                               int stderr_fd,
                               const gchar *on_start,
                               GVariant *on_start_args,
                               gint64 deadline,
                               GPid *out_pid,
                               GError **error)
{
  g_autoptr (GVariant) owned_args
      = on_start_args ? g_variant_ref_sink (on_start_args) : NULL;
  g_autoptr (GBytes) payload = NULL;
  GError *payload_error = NULL;
  gboolean ok;

  g_return_val_if_fail (link_fd >= 0, FALSE);
  g_return_val_if_fail (out_pid != NULL, FALSE);

  payload = build_payload (on_start, owned_args, &payload_error);
  if (payload_error)
    {
      g_propagate_error (error, payload_error);
      return FALSE;
    }
  g_mutex_lock (&server_lock);
  /* A plain fork() of the master inherits the socket, not the server. */
  if (server_fd < 0 || server_owner != getpid ())
    ok = not_running (error);
  else
    ok = request_locked (link_fd, stderr_fd, payload, deadline, out_pid, error);
  g_mutex_unlock (&server_lock);
  return ok;
}

/**
 * mitogen_fork_server_add_on_start:
 * @name: the hook's name, which a `fork` connection's `on-start` option
 *   gives
 * @func: (scope forever): the hook
 * @user_data: (closure func): data for @func
 *
 * Adds a per-connection hook, Mitogen's `on_start`: a `fork` context
 * connected with `{'on-start': <NAME>, 'on-start-args': <ARGS>}` runs
 * @func in its process once it is set up as a context (its router and
 * broker running, its modules at hand) and before it says it is ready,
 * so before it serves any call; @func gets the connection's arguments.
 * If it fails, the child exits and the connect fails with its message.
 *
 * A child is a copy of the fork server, not of the master at connect
 * time: hooks, and whatever @user_data points to, must be in place before
 * mitogen_fork_server_start(), and are then the same in every child;
 * what differs per connection travels in the arguments, as a #GVariant.
 */
void
mitogen_fork_server_add_on_start (const gchar *name,
                                  MitogenForkOnStart func,
                                  gpointer user_data)
{
  OnStart *hook;

  g_return_if_fail (name != NULL && *name);
  g_return_if_fail (func != NULL);
  g_return_if_fail (mitogen_fork_server_get_pid () == 0);

  if (!on_start_hooks)
    on_start_hooks
        = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  hook = g_new0 (OnStart, 1);
  hook->func = func;
  hook->user_data = user_data;
  g_hash_table_replace (on_start_hooks, g_strdup (name), hook);
}
