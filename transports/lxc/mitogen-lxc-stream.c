/* mitogen-lxc-stream.c: the `lxc` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-container-exec.h"

/**
 * MitogenLxcStream:
 *
 * Starts a child context in a running LXC container: `lxc-attach
 * --clear-env -n CONTAINER -- /bin/sh -c FIRST-STAGE`. lxc-attach runs as
 * root only: `username` is refused.
 * Zero-install: the agent goes over the link
 * (#MitogenParentStream:upload-agent).
 *
 * Options: those of [class@Mitogen.ParentStream], `container`,
 * `username`, `tool-path` (default `lxc-attach`) and `tool-args`.
 */
static gboolean
build (const MitogenContainerExec *exec, GPtrArray *argv, GError **error)
{
  if (!mitogen_container_exec_no_username (exec, "lxc", error))
    return FALSE;
  g_ptr_array_add (argv, g_strdup ("--clear-env"));
  g_ptr_array_add (argv, g_strdup ("-n"));
  g_ptr_array_add (argv, g_strdup (exec->container));
  g_ptr_array_add (argv, g_strdup ("--"));
  return TRUE;
}

MITOGEN_DEFINE_CONTAINER_EXEC_TRANSPORT (
    MitogenLxcStream, mitogen_lxc_stream, "lxc", "lxc-attach", build)
