/* mitogen.h: the umbrella header of libmitogen
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#define __MITOGEN_H_INSIDE__

#include <mitogen/mitogen-version.h>
#include <mitogen/mitogen-types.h>
#include <mitogen/mitogen-enums.h>
#include <mitogen/mitogen-errors.h>
#include <mitogen/mitogen-io.h>
#include <mitogen/mitogen-latch.h>
#include <mitogen/mitogen-message.h>
#include <mitogen/mitogen-message-decoder.h>
#include <mitogen/mitogen-side.h>
#include <mitogen/mitogen-basic-stream.h>
#include <mitogen/mitogen-stream.h>
#include <mitogen/mitogen-broker.h>
#include <mitogen/mitogen-router.h>
#include <mitogen/mitogen-receiver.h>
#include <mitogen/mitogen-sender.h>
#include <mitogen/mitogen-channel.h>
#include <mitogen/mitogen-select.h>
#include <mitogen/mitogen-process-monitor.h>
#include <mitogen/mitogen-call.h>
#include <mitogen/mitogen-module-info.h>
#include <mitogen/mitogen-minimize-source.h>
#include <mitogen/mitogen-importer.h>
#include <mitogen/mitogen-transport-module.h>
#include <mitogen/mitogen-transport-registry.h>
#include <mitogen/mitogen-parent-stream.h>
#include <mitogen/mitogen-agent-bundle.h>
#include <mitogen/mitogen-context.h>
#include <mitogen/mitogen-external-context.h>
#include <mitogen/mitogen-call-chain.h>
#include <mitogen/mitogen-module-responder.h>
#include <mitogen/mitogen-fork-server.h>
#include <mitogen/mitogen-module-forwarder.h>

#undef __MITOGEN_H_INSIDE__
