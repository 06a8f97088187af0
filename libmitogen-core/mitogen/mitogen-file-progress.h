/* mitogen-file-progress.h
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib-object.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

#define MITOGEN_TYPE_FILE_PROGRESS (mitogen_file_progress_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (
    MitogenFileProgress, mitogen_file_progress, MITOGEN, FILE_PROGRESS, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenFileProgress *mitogen_file_progress_new (void);
MITOGEN_AVAILABLE_IN_ALL
guint64 mitogen_file_progress_get_bytes_done (MitogenFileProgress *self);
MITOGEN_AVAILABLE_IN_ALL
guint64 mitogen_file_progress_get_bytes_total (MitogenFileProgress *self);
MITOGEN_AVAILABLE_IN_ALL
void mitogen_file_progress_update (MitogenFileProgress *self,
                                   guint64 bytes_done,
                                   guint64 bytes_total);

G_END_DECLS
