/* mitogen-minimize-source.h: strip comments and docstrings from Python source
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib.h>
#include <mitogen/mitogen-version.h>

G_BEGIN_DECLS

MITOGEN_AVAILABLE_IN_ALL
gchar *mitogen_minimize_source (const gchar *source);

G_END_DECLS
