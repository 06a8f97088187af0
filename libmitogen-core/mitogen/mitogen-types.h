/* mitogen-types.h: forward declarations shared by the public headers
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct _MitogenBasicStream MitogenBasicStream;
typedef struct _MitogenBroker MitogenBroker;
typedef struct _MitogenRouter MitogenRouter;
typedef struct _MitogenSide MitogenSide;
typedef struct _MitogenStream MitogenStream;
typedef struct _MitogenContext MitogenContext;

/**
 * MITOGEN_CONTEXT_ID_NONE:
 *
 * Stands for "no context" where a context id is optional. Context 0 is the
 * master.
 */
#define MITOGEN_CONTEXT_ID_NONE G_MAXUINT32

G_END_DECLS
