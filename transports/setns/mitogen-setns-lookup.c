/* mitogen-setns-lookup.c: a container's init pid, from its engine
 *
 * The engine is asked with its own command, as Mitogen's setns does: the
 * pid of a container's init is no part of any file a container leaves
 * where this process could read it without the engine.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-setns-lookup.h"

#include <errno.h>
#include <mitogen/mitogen.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the engine says is kept up to this, for parsing and errors. */
#define MAX_OUTPUT 4096

typedef struct
{
  const gchar *kind;
  const gchar *tool; /* the default tool-path */
  /* The arguments after the tool, NAME standing for the container. */
  const gchar *const args[5];
  /* A line's prefix before the pid ("PID:"), or NULL for a bare pid. */
  const gchar *key;
} LookupKind;

static const LookupKind kinds[] = {
  { "docker",
    "docker",
    { "inspect", "--format", "{{.State.Pid}}", "NAME" },
    NULL },
  { "podman",
    "podman",
    { "inspect", "--format", "{{.State.Pid}}", "NAME" },
    NULL },
  { "lxc", "lxc-info", { "-n", "NAME", "-p", "-H" }, NULL },
  /* LXD's client prints a summary of the instance, "PID: 1234" in it. */
  { "lxd", "lxc", { "info", "NAME" }, "pid:" },
  { "machinectl",
    "machinectl",
    { "show", "--property=Leader", "--value", "NAME" },
    NULL },
};

static const LookupKind *
find_kind (const gchar *kind, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++)
    if (g_strcmp0 (kinds[i].kind, kind) == 0)
      return &kinds[i];
  if (!kind)
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                 "setns: a container needs its kind (" MITOGEN_SETNS_KINDS ")");
  else
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                 "setns: unknown container kind “%s” (not one of "
                 "" MITOGEN_SETNS_KINDS ")",
                 kind);
  return NULL;
}

/* The command line that asks the engine of @kind for the pid of
 * @container's init; @tool_path %NULL for the kind's own tool. */
static gchar **
lookup_command (const gchar *kind,
                const gchar *tool_path,
                const gchar *container,
                GError **error)
{
  const LookupKind *k = find_kind (kind, error);
  GPtrArray *argv;

  if (!k)
    return NULL;
  /* The engine would take it for an option. */
  if (!container || !*container || container[0] == '-')
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "setns: “%s” is not a container name",
                   container ? container : "");
      return NULL;
    }
  argv = g_ptr_array_new ();
  g_ptr_array_add (argv, g_strdup (tool_path ? tool_path : k->tool));
  for (guint i = 0; k->args[i]; i++)
    g_ptr_array_add (
        argv,
        g_strdup (g_str_equal (k->args[i], "NAME") ? container : k->args[i]));
  g_ptr_array_add (argv, NULL);
  return (gchar **) g_ptr_array_free (argv, FALSE);
}

static gboolean
collect (const guint8 *data, gsize len, gpointer user_data)
{
  GString *output = user_data;

  if (output->len < MAX_OUTPUT)
    g_string_append_len (output, (const gchar *) data,
                         MIN (len, MAX_OUTPUT - output->len));
  return TRUE;
}

/* Reads all the engine says until it closes its end; FALSE when
 * @deadline passed first. */
static gboolean
read_all (int fd, gint64 deadline, GString *output, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  if (mitogen_iter_read (fd, deadline, collect, output, &local_error))
    return TRUE;
  if (g_error_matches (local_error, MITOGEN_STREAM_ERROR,
                       MITOGEN_STREAM_ERROR_DISCONNECTED))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/* The pid in @output, a line of its own (after @key, if any). */
static gint
parse_pid (const gchar *output, const gchar *key)
{
  g_auto (GStrv) lines = g_strsplit (output, "\n", -1);

  for (guint i = 0; lines[i]; i++)
    {
      gchar *line = g_strstrip (lines[i]);
      guint64 pid;

      if (key)
        {
          if (g_ascii_strncasecmp (line, key, strlen (key)) != 0)
            continue;
          line = g_strstrip (line + strlen (key));
        }
      if (g_ascii_string_to_unsigned (line, 10, 0, G_MAXINT, &pid, NULL))
        return (gint) pid;
    }
  return -1;
}

/* The first line the engine said, for an error message. */
static gchar *
first_line (const gchar *output)
{
  g_autofree gchar *line
      = g_strndup (output, MIN (strcspn (output, "\r\n"), 200));

  return g_utf8_make_valid (g_strstrip (line), -1);
}

static gboolean
run_lookup (const gchar *const *argv,
            gint64 deadline,
            GString *output,
            int *status,
            GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree gchar *program = g_find_program_in_path (argv[0]);
  GPid pid;
  int fd;
  gboolean ok;

  if (!program)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "setns: %s is not installed (not found in PATH)", argv[0]);
      return FALSE;
    }
  if (!mitogen_create_child_merged (argv, NULL, &pid, &fd, error))
    {
      g_prefix_error (error, "setns: ");
      return FALSE;
    }
  ok = read_all (fd, deadline, output, &local_error);
  close (fd);
  /* A tool that hung is not left behind. */
  if (!ok)
    kill (pid, SIGKILL);
  while (waitpid (pid, status, 0) < 0 && errno == EINTR)
    ;
  if (!ok)
    g_set_error (error, MITOGEN_TIMEOUT_ERROR, MITOGEN_TIMEOUT_ERROR_TIMED_OUT,
                 "setns: %s did not answer in time: %s", argv[0],
                 local_error->message);
  return ok;
}

/* Asks the engine of @kind for the pid of @container's init, within
 * @deadline (monotonic). Fails, saying why, when the engine is missing,
 * does not know the container or says it is not running. */
gboolean
mitogen_setns_lookup_pid (const gchar *kind,
                          const gchar *tool_path,
                          const gchar *container,
                          gint64 deadline,
                          gint *out_pid,
                          GError **error)
{
  g_auto (GStrv) argv = lookup_command (kind, tool_path, container, error);
  g_autoptr (GString) output = g_string_new (NULL);
  g_autofree gchar *said = NULL;
  int status;

  if (!argv)
    return FALSE;
  if (!run_lookup ((const gchar *const *) argv, deadline, output, &status,
                   error))
    return FALSE;
  said = first_line (output->str);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "setns: %s knows no container “%s”: %s", argv[0], container,
                   *said ? said : "(it said nothing)");
      return FALSE;
    }
  *out_pid = parse_pid (output->str, find_kind (kind, NULL)->key);
  /* docker and podman say 0, lxc-info nothing, for a stopped one. */
  if (*out_pid == 0 || (*out_pid < 0 && !*said))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "setns: %s container “%s” is not running", kind, container);
      return FALSE;
    }
  if (*out_pid < 0)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "setns: %s gave no pid for container “%s”: %s", argv[0],
                   container, *said ? said : "(it said nothing)");
      return FALSE;
    }
  return TRUE;
}
