/* mitogen-buildah-stream.c: the `buildah` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-container-exec.h"

/**
 * MitogenBuildahStream:
 *
 * Starts a child context in a Buildah working container: `buildah run
 * [--user USERNAME] CONTAINER -- /bin/sh -c FIRST-STAGE`.
 * Zero-install: the agent goes over the link
 * (#MitogenParentStream:upload-agent).
 *
 * Options: those of [class@Mitogen.ParentStream], `container`,
 * `username`, `tool-path` (default `buildah`) and `tool-args`.
 */
static gboolean
build (const MitogenContainerExec *exec, GPtrArray *argv, GError **error)
{
  g_ptr_array_add (argv, g_strdup ("run"));
  if (exec->username)
    {
      g_ptr_array_add (argv, g_strdup ("--user"));
      g_ptr_array_add (argv, g_strdup (exec->username));
    }
  g_ptr_array_add (argv, g_strdup (exec->container));
  g_ptr_array_add (argv, g_strdup ("--"));
  return TRUE;
}

MITOGEN_DEFINE_CONTAINER_EXEC_TRANSPORT (
    MitogenBuildahStream, mitogen_buildah_stream, "buildah", "buildah", build)
