/* mitogen-docker-stream.c: the `docker` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-container-exec.h"

/**
 * MitogenDockerStream:
 *
 * Starts a child context in a running Docker container: `docker exec -i
 * [-u USERNAME] CONTAINER /bin/sh -c FIRST-STAGE`.
 * Zero-install: the agent goes over the link
 * (#MitogenParentStream:upload-agent).
 *
 * Options: those of [class@Mitogen.ParentStream], `container`,
 * `username`, `tool-path` (default `docker`) and `tool-args`.
 */
MITOGEN_DEFINE_CONTAINER_EXEC_TRANSPORT (MitogenDockerStream,
                                         mitogen_docker_stream,
                                         "docker",
                                         "docker",
                                         mitogen_container_exec_build_exec_i)
