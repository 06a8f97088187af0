/* mitogen-podman-stream.c: the `podman` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-container-exec.h"

/**
 * MitogenPodmanStream:
 *
 * Starts a child context in a running Podman container: `podman exec -i
 * [-u USERNAME] CONTAINER /bin/sh -c FIRST-STAGE`.
 * Zero-install: the agent goes over the link
 * (#MitogenParentStream:upload-agent).
 *
 * Options: those of [class@Mitogen.ParentStream], `container`,
 * `username`, `tool-path` (default `podman`) and `tool-args`.
 */
MITOGEN_DEFINE_CONTAINER_EXEC_TRANSPORT (MitogenPodmanStream,
                                         mitogen_podman_stream,
                                         "podman",
                                         "podman",
                                         mitogen_container_exec_build_exec_i)
