/* mine.c: the transport of docs/writing-a-transport.md, the smallest
 * there is (a local child, under a name of its own), built and connected
 * through by the tests so that the guide's code stays true
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <gmodule.h>
#include <mitogen/mitogen.h>

#define MY_TYPE_STREAM (my_stream_get_type ())
G_DECLARE_FINAL_TYPE (MyStream, my_stream, MY, STREAM, MitogenParentStream)

struct _MyStream
{
  MitogenParentStream parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (MyStream, my_stream, MITOGEN_TYPE_PARENT_STREAM)

static void
my_stream_class_init (MyStreamClass *klass)
{
  MITOGEN_PARENT_STREAM_CLASS (klass)->transport_name = "mine";
}

static void
my_stream_class_finalize (MyStreamClass *klass)
{
}

static void
my_stream_init (MyStream *self)
{
}

G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);

G_MODULE_EXPORT GType
mitogen_transport_register (GTypeModule *module)
{
  my_stream_register_type (module);
  return MY_TYPE_STREAM;
}
