/* mitogen-jail-stream.c: the `jail` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-container-exec.h"

/**
 * MitogenJailStream:
 *
 * Starts a child context in a FreeBSD jail: `jexec [-U USERNAME] JAIL
 * /bin/sh -c FIRST-STAGE`, the jail being `container`.
 * Zero-install: the agent goes over the link
 * (#MitogenParentStream:upload-agent).
 *
 * Options: those of [class@Mitogen.ParentStream], `container`,
 * `username`, `tool-path` (default `jexec`) and `tool-args`.
 */
static gboolean
build (const MitogenContainerExec *exec, GPtrArray *argv, GError **error)
{
  if (exec->username)
    {
      g_ptr_array_add (argv, g_strdup ("-U"));
      g_ptr_array_add (argv, g_strdup (exec->username));
    }
  g_ptr_array_add (argv, g_strdup (exec->container));
  return TRUE;
}

MITOGEN_DEFINE_CONTAINER_EXEC_TRANSPORT (
    MitogenJailStream, mitogen_jail_stream, "jail", "jexec", build)
