/* mitogen-lxd-stream.c: the `lxd` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-container-exec.h"

/**
 * MitogenLxdStream:
 *
 * Starts a child context in an LXD instance: `lxc exec
 * --mode=non-interactive CONTAINER -- /bin/sh -c FIRST-STAGE`. LXD takes
 * a numeric user only: `username` is refused.
 * Zero-install: the agent goes over the link
 * (#MitogenParentStream:upload-agent).
 *
 * Options: those of [class@Mitogen.ParentStream], `container`,
 * `username`, `tool-path` (default `lxc`) and `tool-args`.
 */
static gboolean
build (const MitogenContainerExec *exec, GPtrArray *argv, GError **error)
{
  if (!mitogen_container_exec_no_username (exec, "lxd", error))
    return FALSE;
  g_ptr_array_add (argv, g_strdup ("exec"));
  g_ptr_array_add (argv, g_strdup ("--mode=non-interactive"));
  g_ptr_array_add (argv, g_strdup (exec->container));
  g_ptr_array_add (argv, g_strdup ("--"));
  return TRUE;
}

MITOGEN_DEFINE_CONTAINER_EXEC_TRANSPORT (
    MitogenLxdStream, mitogen_lxd_stream, "lxd", "lxc", build)
