/* mitogen-agent-bundle.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_AGENT_BUNDLE (mitogen_agent_bundle_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenAgentBundle, mitogen_agent_bundle,
                      MITOGEN, AGENT_BUNDLE, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenAgentBundle *mitogen_agent_bundle_new_for_agent      (const gchar *agent_path,
                                                             const gchar *loader_path,
                                                             GError **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenAgentBundle *mitogen_agent_bundle_new_from_directory (const gchar *directory,
                                                             GError **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenAgentBundle *mitogen_agent_bundle_get_default        (GError **error);
MITOGEN_AVAILABLE_IN_ALL
void                mitogen_agent_bundle_set_default_directory (const gchar *directory);
MITOGEN_AVAILABLE_IN_ALL
const gchar        *mitogen_agent_bundle_get_default_directory (void);

MITOGEN_AVAILABLE_IN_ALL
const gchar        *mitogen_agent_bundle_get_hash           (MitogenAgentBundle *self);
MITOGEN_AVAILABLE_IN_ALL
const gchar        *mitogen_agent_bundle_get_interpreter    (MitogenAgentBundle *self);
MITOGEN_AVAILABLE_IN_ALL
GBytes             *mitogen_agent_bundle_get_archive        (MitogenAgentBundle *self);
MITOGEN_AVAILABLE_IN_ALL
gchar              *mitogen_agent_bundle_get_first_stage    (MitogenAgentBundle *self);
MITOGEN_AVAILABLE_IN_ALL
GBytes             *mitogen_agent_bundle_get_loader_script  (MitogenAgentBundle *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean            mitogen_agent_bundle_check_status       (MitogenAgentBundle *self,
                                                             const gchar *status,
                                                             GError **error);

/**
 * MITOGEN_BOOT_MARKER_STATUS:
 *
 * Starts each line the first stage and the loader print about the upload:
 * `cached`, `upload`, or why the agent cannot be started.
 */
#define MITOGEN_BOOT_MARKER_STATUS "MITO000 "

G_END_DECLS
