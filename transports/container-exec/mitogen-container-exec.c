/* mitogen-container-exec.c: what the container exec transports share
 *
 * A container exec transport runs the container tool's own exec command
 * (`docker exec -i NAME`, `lxc-attach -n NAME --`, …) with the agent's
 * first stage after it, as ssh runs it on another host: nothing needs to
 * be installed in the container but `/bin/sh` and the C library, the
 * bundle going over the tool's stdin and stdout.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-container-exec.h"

#include <string.h>

#define RW (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)

void
mitogen_container_exec_class_init (MitogenParentStreamClass *klass,
                                   const gchar *name)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  klass->transport_name = name;
  klass->create_child = mitogen_container_exec_create_child;
  /* The container has its own file system: the agent goes to it. */
  klass->uploads_agent = TRUE;

  g_object_class_install_property (
      object_class, MITOGEN_CONTAINER_EXEC_PROP_CONTAINER,
      g_param_spec_string ("container", NULL,
                           "The container (pod, jail) to run in. Required.",
                           NULL, RW));
  g_object_class_install_property (
      object_class, MITOGEN_CONTAINER_EXEC_PROP_USERNAME,
      g_param_spec_string ("username", NULL,
                           "The user to run as in the container, or NULL "
                           "for the tool's default. Not every tool has one.",
                           NULL, RW));
  g_object_class_install_property (
      object_class, MITOGEN_CONTAINER_EXEC_PROP_TOOL_PATH,
      g_param_spec_string ("tool-path", NULL,
                           "The container tool; searched in PATH.", NULL, RW));
  g_object_class_install_property (
      object_class, MITOGEN_CONTAINER_EXEC_PROP_TOOL_ARGS,
      g_param_spec_boxed ("tool-args", NULL,
                          "Arguments to the tool placed before its exec "
                          "command (`--host`, `--context`, …).",
                          G_TYPE_STRV, RW));
}

void
mitogen_container_exec_init (MitogenContainerExec *exec, const gchar *tool)
{
  exec->tool_path = g_strdup (tool);
}

void
mitogen_container_exec_clear (MitogenContainerExec *exec)
{
  g_clear_pointer (&exec->container, g_free);
  g_clear_pointer (&exec->username, g_free);
  g_clear_pointer (&exec->tool_path, g_free);
  g_clear_pointer (&exec->tool_args, g_strfreev);
}

void
mitogen_container_exec_get_property (MitogenContainerExec *exec,
                                     guint prop_id,
                                     GValue *value)
{
  switch (prop_id)
    {
    case MITOGEN_CONTAINER_EXEC_PROP_CONTAINER:
      g_value_set_string (value, exec->container);
      break;
    case MITOGEN_CONTAINER_EXEC_PROP_USERNAME:
      g_value_set_string (value, exec->username);
      break;
    case MITOGEN_CONTAINER_EXEC_PROP_TOOL_PATH:
      g_value_set_string (value, exec->tool_path);
      break;
    case MITOGEN_CONTAINER_EXEC_PROP_TOOL_ARGS:
      g_value_set_boxed (value, exec->tool_args);
      break;
    default:
      g_assert_not_reached ();
    }
}

void
mitogen_container_exec_set_property (MitogenContainerExec *exec,
                                     guint prop_id,
                                     const GValue *value)
{
  switch (prop_id)
    {
    case MITOGEN_CONTAINER_EXEC_PROP_CONTAINER:
      g_free (exec->container);
      exec->container = g_value_dup_string (value);
      break;
    case MITOGEN_CONTAINER_EXEC_PROP_USERNAME:
      g_free (exec->username);
      exec->username = g_value_dup_string (value);
      break;
    case MITOGEN_CONTAINER_EXEC_PROP_TOOL_PATH:
      /* NULL keeps the default, which init set. */
      if (g_value_get_string (value))
        {
          g_free (exec->tool_path);
          exec->tool_path = g_value_dup_string (value);
        }
      break;
    case MITOGEN_CONTAINER_EXEC_PROP_TOOL_ARGS:
      g_strfreev (exec->tool_args);
      exec->tool_args = g_value_dup_boxed (value);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* TOOL [TOOL-ARGS] <build's part> /bin/sh -c FIRST-STAGE. The tools pass
 * the command to the container as an argument vector, no shell parsing
 * it again, so nothing is quoted. */
gchar **
mitogen_container_exec_build (MitogenParentStream *stream,
                              const MitogenContainerExec *exec,
                              MitogenContainerExecBuild build,
                              GError **error)
{
  const gchar *name = MITOGEN_PARENT_STREAM_GET_CLASS (stream)->transport_name;
  g_auto (GStrv) agent = NULL;
  GPtrArray *argv;

  if (!exec->container || !*exec->container)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "%s: no container given", name);
      return NULL;
    }
  /* A name the tool would take for an option. */
  if (exec->container[0] == '-')
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "%s: invalid container name “%s”", name, exec->container);
      return NULL;
    }
  agent = mitogen_parent_stream_get_agent_command (stream, error);
  if (!agent)
    return NULL;

  argv = g_ptr_array_new ();
  g_ptr_array_add (argv, g_strdup (exec->tool_path));
  for (gchar **arg = exec->tool_args; arg && *arg; arg++)
    g_ptr_array_add (argv, g_strdup (*arg));
  if (!build (exec, argv, error))
    {
      g_ptr_array_set_free_func (argv, g_free);
      g_ptr_array_unref (argv);
      return NULL;
    }
  for (guint i = 0; agent[i]; i++)
    g_ptr_array_add (argv, g_steal_pointer (&agent[i]));
  g_ptr_array_add (argv, NULL);
  return (gchar **) g_ptr_array_free (argv, FALSE);
}

static gboolean
says_any (const gchar *lower, const gchar *const *patterns)
{
  for (guint i = 0; patterns[i]; i++)
    if (strstr (lower, patterns[i]))
      return TRUE;
  return FALSE;
}

/* What the tools say when the container is not there or not running:
 * fail at once rather than at the connect timeout. */
gboolean
mitogen_container_exec_check_output (MitogenParentStream *stream,
                                     const MitogenContainerExec *exec,
                                     const gchar *text,
                                     GError **error)
{
  const gchar *name = MITOGEN_PARENT_STREAM_GET_CLASS (stream)->transport_name;
  static const gchar *const missing[]
      = { "no such container", "no container with name", "instance not found",
          "(notfound)",        "failed to get init pid", NULL };
  static const gchar *const stopped[]
      = { "is not running", "not running", "is stopped", NULL };
  g_autofree gchar *lower = g_ascii_strdown (text, -1);
  g_autofree gchar *quoted = g_strdup_printf ("\"%s\"", exec->container);

  /* A bare "not found" may be the container's shell's ("sh: not found"):
   * only with the container's name quoted is it the tool's (jexec). */
  if (says_any (lower, missing)
      || (strstr (lower, "not found") && strstr (text, quoted)))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "%s: container “%s” not found", name, exec->container);
      return TRUE;
    }
  if (says_any (lower, stopped))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "%s: container “%s” is not running", name, exec->container);
      return TRUE;
    }
  return FALSE;
}

/* docker and podman: `exec -i [-u USERNAME] CONTAINER`. */
gboolean
mitogen_container_exec_build_exec_i (const MitogenContainerExec *exec,
                                     GPtrArray *argv,
                                     GError **error)
{
  g_ptr_array_add (argv, g_strdup ("exec"));
  g_ptr_array_add (argv, g_strdup ("-i"));
  if (exec->username)
    {
      g_ptr_array_add (argv, g_strdup ("-u"));
      g_ptr_array_add (argv, g_strdup (exec->username));
    }
  g_ptr_array_add (argv, g_strdup (exec->container));
  return TRUE;
}

/* For the tools that cannot run as another user. */
gboolean
mitogen_container_exec_no_username (const MitogenContainerExec *exec,
                                    const gchar *name,
                                    GError **error)
{
  if (!exec->username)
    return TRUE;
  g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
               "%s: a username cannot be given", name);
  return FALSE;
}

/* The tool's complaints are merged into the link so that the bootstrap
 * sees them (check_output) and quotes them in its error. */
gboolean
mitogen_container_exec_create_child (MitogenParentStream *stream,
                                     const gchar *const *argv,
                                     GPid *out_pid,
                                     int *out_fd,
                                     GError **error)
{
  return mitogen_create_child_merged (argv, NULL, out_pid, out_fd, error);
}
