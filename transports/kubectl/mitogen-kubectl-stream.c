/* mitogen-kubectl-stream.c: the `kubectl` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-container-exec.h"

/**
 * MitogenKubectlStream:
 *
 * Starts a child context in a Kubernetes pod: `kubectl exec -i POD --
 * /bin/sh -c FIRST-STAGE`, the pod being `container`; `tool-args` give
 * `--namespace`, `--context`, `-c CONTAINER`…. kubectl cannot choose the
 * user: `username` is refused.
 * Zero-install: the agent goes over the link
 * (#MitogenParentStream:upload-agent).
 *
 * Options: those of [class@Mitogen.ParentStream], `container`,
 * `username`, `tool-path` (default `kubectl`) and `tool-args`.
 */
static gboolean
build (const MitogenContainerExec *exec, GPtrArray *argv, GError **error)
{
  if (!mitogen_container_exec_no_username (exec, "kubectl", error))
    return FALSE;
  g_ptr_array_add (argv, g_strdup ("exec"));
  g_ptr_array_add (argv, g_strdup ("-i"));
  g_ptr_array_add (argv, g_strdup (exec->container));
  g_ptr_array_add (argv, g_strdup ("--"));
  return TRUE;
}

MITOGEN_DEFINE_CONTAINER_EXEC_TRANSPORT (
    MitogenKubectlStream, mitogen_kubectl_stream, "kubectl", "kubectl", build)
