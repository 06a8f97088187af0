/* mitogen-setns-stream.c: the `setns` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-setns-lookup.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <gmodule.h>
#include <mitogen/mitogen.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/**
 * MitogenSetnsStream:
 *
 * Starts a child context inside the namespaces (user where it differs,
 * ipc, uts, net, pid, mount) and root directory of process
 * #MitogenSetnsStream:pid, a container's init say, with no helper process left
 * in the data path: the agent is this process's own child, started by an
 * intermediate process that entered the namespaces and then cloned it with
 * `CLONE_PARENT` (entering a pid namespace applies to children only).
 * Entering namespaces needs root, or the target being in a user namespace
 * this user owns.
 *
 * The agent is uploaded over the link by default
 * (#MitogenParentStream:upload-agent), the container having a file system
 * of its own; it needs only `/bin/sh` and the C library there.
 *
 * The process may be named by a container instead, whose engine
 * (#MitogenSetnsStream:kind) is asked for the pid of its init with its
 * own command: `docker inspect --format {{.State.Pid}} NAME`, the same
 * with podman, `lxc-info -n NAME -p -H` for LXC, `lxc info NAME` for LXD,
 * `machinectl show --property=Leader --value NAME`.
 *
 * Options: those of [class@Mitogen.ParentStream], `pid`, or `container`
 * with `kind` and `tool-path`.
 */
#define MITOGEN_TYPE_SETNS_STREAM (mitogen_setns_stream_get_type ())
G_DECLARE_FINAL_TYPE (MitogenSetnsStream,
                      mitogen_setns_stream,
                      MITOGEN,
                      SETNS_STREAM,
                      MitogenParentStream)

struct _MitogenSetnsStream
{
  MitogenParentStream parent_instance;

  gint pid;
  gchar *container;
  gchar *kind;
  gchar *tool_path;
};

G_DEFINE_DYNAMIC_TYPE (MitogenSetnsStream,
                       mitogen_setns_stream,
                       MITOGEN_TYPE_PARENT_STREAM)

enum
{
  PROP_0,
  PROP_PID,
  PROP_CONTAINER,
  PROP_KIND,
  PROP_TOOL_PATH,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

/* In the order entered: the user namespace first, to gain the
 * capabilities the others need; mount last, as it changes what the paths
 * of the others would mean. The fds are all opened before any is
 * entered. */
static const gchar *const ns_names[]
    = { "user", "ipc", "uts", "net", "pid", "mnt" };
#define N_NS G_N_ELEMENTS (ns_names)
#define MNT_NS (N_NS - 1)

/* What the intermediate and agent processes report on the status pipe. */
typedef struct
{
  gint kind; /* 'P': the agent's pid in value; 'E': errno in value */
  gint step; /* for 'E': the index in ns_names, N_NS for chroot, N_NS+1 exec */
  gint value;
} SetnsReport;

typedef struct
{
  int ns_fds[N_NS]; /* -1 where the namespace is already ours */
  int root_fd;
} SetnsTarget;

static void
setns_target_clear (SetnsTarget *target)
{
  for (guint i = 0; i < N_NS; i++)
    if (target->ns_fds[i] >= 0)
      close (target->ns_fds[i]);
  if (target->root_fd >= 0)
    close (target->root_fd);
}

static gboolean
same_file (const gchar *a, const gchar *b)
{
  struct stat sa, sb;

  return stat (a, &sa) == 0 && stat (b, &sb) == 0 && sa.st_dev == sb.st_dev
         && sa.st_ino == sb.st_ino;
}

static gboolean
open_target_file (gint pid, const gchar *name, int *out_fd, GError **error)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/%s", pid, name);
  int errsv;

  *out_fd = open (path, O_RDONLY | O_CLOEXEC);
  if (*out_fd >= 0)
    return TRUE;
  errsv = errno;
  if (errsv == ENOENT)
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                 "setns: no process %d", pid);
  else
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                 "setns: cannot open %s: %s%s", path, g_strerror (errsv),
                 errsv == EACCES || errsv == EPERM
                     ? " (entering another "
                       "user's namespaces needs root)"
                     : "");
  return FALSE;
}

/* Opens the namespaces of @pid that differ from ours. */
static gboolean
open_target (gint pid, SetnsTarget *target, GError **error)
{
  gboolean other_user_ns = FALSE;

  target->root_fd = -1;
  for (guint i = 0; i < N_NS; i++)
    target->ns_fds[i] = -1;
  if (pid <= 0)
    {
      g_set_error_literal (error, MITOGEN_STREAM_ERROR,
                           MITOGEN_STREAM_ERROR_CONNECT, "setns: no pid given");
      return FALSE;
    }
  for (guint i = 0; i < N_NS; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("ns/%s", ns_names[i]);
      g_autofree gchar *ours
          = g_strdup_printf ("/proc/self/ns/%s", ns_names[i]);
      g_autofree gchar *theirs
          = g_strdup_printf ("/proc/%d/ns/%s", pid, ns_names[i]);

      if (!open_target_file (pid, name, &target->ns_fds[i], error))
        return FALSE;
      /* Entering one's own user namespace fails (EINVAL): skip those
       * already shared. */
      if (same_file (ours, theirs))
        {
          close (target->ns_fds[i]);
          target->ns_fds[i] = -1;
        }
      else if (i == 0)
        other_user_ns = TRUE;
    }
  /* Without a user namespace to gain capabilities in, only root may. */
  if (!other_user_ns && geteuid () != 0)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "setns: entering the namespaces of process %d needs root",
                   pid);
      return FALSE;
    }
  return open_target_file (pid, "root", &target->root_fd, error);
}

static void G_GNUC_NORETURN
report_and_exit (int fd, gint kind, gint step, gint value)
{
  SetnsReport report = { kind, step, value };

  (void) !write (fd, &report, sizeof report);
  _exit (127);
}

/* The intermediate process, after fork(): only async-signal-safe calls. */
static void G_GNUC_NORETURN
run_intermediate (const SetnsTarget *target,
                  const gchar *const *argv,
                  int sock,
                  int status_fd)
{
  SetnsReport report = { 'P', 0, 0 };
  long pid;

  for (guint i = 0; i < N_NS; i++)
    if (target->ns_fds[i] >= 0 && setns (target->ns_fds[i], 0) < 0)
      report_and_exit (status_fd, 'E', (gint) i, errno);
  /* A chroot()ed container's root is not its mount namespace's. */
  if (target->ns_fds[MNT_NS] >= 0
      && (fchdir (target->root_fd) < 0 || chroot (".") < 0 || chdir ("/") < 0))
    report_and_exit (status_fd, 'E', N_NS, errno);

  pid = syscall (SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0)
    report_and_exit (status_fd, 'E', N_NS + 1, errno);
  if (pid == 0)
    {
      setsid ();
      if (dup2 (sock, 0) < 0 || dup2 (sock, 1) < 0 || dup2 (sock, 2) < 0)
        report_and_exit (status_fd, 'E', N_NS + 1, errno);
      execvp (argv[0], (char *const *) argv);
      report_and_exit (status_fd, 'E', N_NS + 1, errno);
    }
  report.value = (gint) pid;
  (void) !write (status_fd, &report, sizeof report);
  _exit (0);
}

static void
set_step_error (gint pid,
                const SetnsReport *report,
                const gchar *program,
                GError **error)
{
  const gchar *why = g_strerror (report->value);

  if (report->step < (gint) N_NS)
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                 "setns: cannot enter the %s namespace of process %d: %s",
                 ns_names[report->step], pid, why);
  else if (report->step == N_NS)
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                 "setns: cannot enter the root directory of process %d: %s",
                 pid, why);
  else
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                 "setns: cannot run %s in process %d's namespaces: %s", program,
                 pid, why);
}

/* Reads the reports until both writers are gone: the intermediate's exit
 * and the agent's exec (the pipe is close-on-exec) close it. */
static gboolean
read_reports (int fd,
              gint target_pid,
              const gchar *program,
              GPid *agent_pid,
              GError **error)
{
  SetnsReport report;
  gboolean failed = FALSE;
  ssize_t got;

  *agent_pid = -1;
  while ((got = read (fd, &report, sizeof report)) != 0)
    {
      if (got < 0 && errno == EINTR)
        continue;
      if (got != (ssize_t) sizeof report)
        break;
      if (report.kind == 'P')
        *agent_pid = report.value;
      else if (!failed)
        {
          set_step_error (target_pid, &report, program, error);
          failed = TRUE;
        }
    }
  if (!failed && *agent_pid <= 0)
    {
      g_set_error_literal (error, MITOGEN_STREAM_ERROR,
                           MITOGEN_STREAM_ERROR_FAILED,
                           "setns: the intermediate process failed");
      failed = TRUE;
    }
  return !failed;
}

static gboolean
spawn_in_target (gint target_pid,
                 const SetnsTarget *target,
                 const gchar *const *argv,
                 GPid *out_pid,
                 int sock,
                 GError **error)
{
  int status_pipe[2];
  pid_t intermediate;
  int status;
  gboolean ok;

  if (!g_unix_open_pipe (status_pipe, FD_CLOEXEC, error))
    return FALSE;
  intermediate = fork ();
  if (intermediate < 0)
    {
      int errsv = errno;
      close (status_pipe[0]);
      close (status_pipe[1]);
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                   "fork() failed: %s", g_strerror (errsv));
      return FALSE;
    }
  if (intermediate == 0)
    run_intermediate (target, argv, sock, status_pipe[1]);
  close (status_pipe[1]);
  ok = read_reports (status_pipe[0], target_pid, argv[0], out_pid, error);
  close (status_pipe[0]);
  while (waitpid (intermediate, &status, 0) < 0 && errno == EINTR)
    ;
  /* An agent that failed to exec is ours to reap too. */
  if (!ok && *out_pid > 0)
    while (waitpid (*out_pid, &status, 0) < 0 && errno == EINTR)
      ;
  return ok;
}

/* The pid whose namespaces to enter: given, or that of the container's
 * init, which its engine is asked for within the connect timeout. */
static gboolean
find_target_pid (MitogenSetnsStream *self, gint *out_pid, GError **error)
{
  gint64 deadline;

  if (!self->container)
    {
      *out_pid = self->pid;
      return TRUE;
    }
  if (self->pid > 0)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "setns: give a pid or a container, not both (pid %d, "
                   "container “%s”)",
                   self->pid, self->container);
      return FALSE;
    }
  deadline = g_get_monotonic_time ()
             + (gint64) (mitogen_parent_stream_get_connect_timeout (
                             MITOGEN_PARENT_STREAM (self))
                         * G_USEC_PER_SEC);
  return mitogen_setns_lookup_pid (self->kind, self->tool_path, self->container,
                                   deadline, out_pid, error);
}

static gboolean
mitogen_setns_stream_create_child (MitogenParentStream *stream,
                                   const gchar *const *argv,
                                   GPid *out_pid,
                                   int *out_fd,
                                   GError **error)
{
  MitogenSetnsStream *self = MITOGEN_SETNS_STREAM (stream);
  SetnsTarget target;
  gint pid;
  int sv[2];
  gboolean ok;

  if (!find_target_pid (self, &pid, error))
    return FALSE;
  if (!open_target (pid, &target, error))
    {
      setns_target_clear (&target);
      return FALSE;
    }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;
      setns_target_clear (&target);
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                   "socketpair() failed: %s", g_strerror (errsv));
      return FALSE;
    }
  ok = spawn_in_target (pid, &target, argv, out_pid, sv[1], error);
  close (sv[1]);
  setns_target_clear (&target);
  if (!ok)
    {
      close (sv[0]);
      return FALSE;
    }
  *out_fd = sv[0];
  return TRUE;
}

static void
mitogen_setns_stream_get_property (GObject *object,
                                   guint prop_id,
                                   GValue *value,
                                   GParamSpec *pspec)
{
  MitogenSetnsStream *self = MITOGEN_SETNS_STREAM (object);

  switch (prop_id)
    {
    case PROP_PID:
      g_value_set_int (value, self->pid);
      break;
    case PROP_CONTAINER:
      g_value_set_string (value, self->container);
      break;
    case PROP_KIND:
      g_value_set_string (value, self->kind);
      break;
    case PROP_TOOL_PATH:
      g_value_set_string (value, self->tool_path);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_setns_stream_set_property (GObject *object,
                                   guint prop_id,
                                   const GValue *value,
                                   GParamSpec *pspec)
{
  MitogenSetnsStream *self = MITOGEN_SETNS_STREAM (object);

  switch (prop_id)
    {
    case PROP_PID:
      self->pid = g_value_get_int (value);
      break;
    case PROP_CONTAINER:
      g_free (self->container);
      self->container = g_value_dup_string (value);
      break;
    case PROP_KIND:
      g_free (self->kind);
      self->kind = g_value_dup_string (value);
      break;
    case PROP_TOOL_PATH:
      g_free (self->tool_path);
      self->tool_path = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_setns_stream_finalize (GObject *object)
{
  MitogenSetnsStream *self = MITOGEN_SETNS_STREAM (object);

  g_free (self->container);
  g_free (self->kind);
  g_free (self->tool_path);
  G_OBJECT_CLASS (mitogen_setns_stream_parent_class)->finalize (object);
}

/* setns.NAME for a container; otherwise the default, setns.AGENT-PID. */
static gchar *
mitogen_setns_stream_dup_default_name (MitogenParentStream *stream)
{
  MitogenSetnsStream *self = MITOGEN_SETNS_STREAM (stream);

  if (self->container)
    return g_strdup_printf ("setns.%s", self->container);
  return NULL;
}

static void
mitogen_setns_stream_class_init (MitogenSetnsStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MitogenParentStreamClass *parent_class = MITOGEN_PARENT_STREAM_CLASS (klass);

  object_class->get_property = mitogen_setns_stream_get_property;
  object_class->set_property = mitogen_setns_stream_set_property;
  object_class->finalize = mitogen_setns_stream_finalize;

  parent_class->transport_name = "setns";
  parent_class->create_child = mitogen_setns_stream_create_child;
  parent_class->uploads_agent = TRUE;
  parent_class->dup_default_name = mitogen_setns_stream_dup_default_name;

  /**
   * MitogenSetnsStream:pid:
   *
   * The process whose namespaces the child enters: a container's init,
   * as `docker inspect --format '{{.State.Pid}}'` gives. Required
   * unless #MitogenSetnsStream:container is given.
   */
  props[PROP_PID]
      = g_param_spec_int ("pid", NULL, NULL, 0, G_MAXINT, 0,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSetnsStream:container:
   *
   * A container whose init's namespaces the child enters, found by
   * asking its engine (#MitogenSetnsStream:kind) for the pid; instead
   * of #MitogenSetnsStream:pid.
   */
  props[PROP_CONTAINER]
      = g_param_spec_string ("container", NULL, NULL, NULL,
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSetnsStream:kind:
   *
   * The engine of #MitogenSetnsStream:container: `docker`, `podman`,
   * `lxc`, `lxd` or `machinectl`. Required with a container.
   */
  props[PROP_KIND] = g_param_spec_string (
      "kind", NULL, NULL, NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenSetnsStream:tool-path:
   *
   * The engine's program, searched in `PATH`; %NULL for the kind's own:
   * `docker`, `podman`, `lxc-info`, `lxc` (LXD), `machinectl`.
   */
  props[PROP_TOOL_PATH]
      = g_param_spec_string ("tool-path", NULL, NULL, NULL,
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
mitogen_setns_stream_class_finalize (MitogenSetnsStreamClass *klass)
{
}

static void
mitogen_setns_stream_init (MitogenSetnsStream *self)
{
}

G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);

G_MODULE_EXPORT GType
mitogen_transport_register (GTypeModule *module)
{
  mitogen_setns_stream_register_type (module);
  return MITOGEN_TYPE_SETNS_STREAM;
}
