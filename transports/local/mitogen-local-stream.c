/* mitogen-local-stream.c: the `local` transport
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <gmodule.h>
#include <mitogen/mitogen.h>

/**
 * MitogenLocalStream:
 *
 * Starts a child context on this host as a new process running the agent,
 * with its stdin and stdout on a socket. Options: those of
 * [class@Mitogen.ParentStream].
 */
#define MITOGEN_TYPE_LOCAL_STREAM (mitogen_local_stream_get_type ())
G_DECLARE_FINAL_TYPE (MitogenLocalStream, mitogen_local_stream, MITOGEN,
                      LOCAL_STREAM, MitogenParentStream)

struct _MitogenLocalStream {
  MitogenParentStream parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (MitogenLocalStream, mitogen_local_stream,
                       MITOGEN_TYPE_PARENT_STREAM)

static void
mitogen_local_stream_class_init (MitogenLocalStreamClass *klass)
{
  MITOGEN_PARENT_STREAM_CLASS (klass)->transport_name = "local";
}

static void
mitogen_local_stream_class_finalize (MitogenLocalStreamClass *klass)
{
}

static void
mitogen_local_stream_init (MitogenLocalStream *self)
{
}

G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);

G_MODULE_EXPORT GType
mitogen_transport_register (GTypeModule *module)
{
  mitogen_local_stream_register_type (module);
  return MITOGEN_TYPE_LOCAL_STREAM;
}
