/* mitogen-transport-nonblock.c: the test transport `nonblock`
 *
 * `local`, except that the child's end of the link is O_NONBLOCK, as when
 * the process that started the agent shares the descriptor. Only the spawn
 * is its own: the first stage, loader, handshake and agent are the real
 * ones. Built for tests/test-core-api only, never installed.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <fcntl.h>
#include <gmodule.h>
#include <mitogen/mitogen.h>
#include <sys/socket.h>
#include <unistd.h>

#define MITOGEN_TYPE_NONBLOCK_STREAM (mitogen_nonblock_stream_get_type ())
G_DECLARE_FINAL_TYPE (MitogenNonblockStream,
                      mitogen_nonblock_stream,
                      MITOGEN,
                      NONBLOCK_STREAM,
                      MitogenParentStream)

struct _MitogenNonblockStream
{
  MitogenParentStream parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (MitogenNonblockStream,
                       mitogen_nonblock_stream,
                       MITOGEN_TYPE_PARENT_STREAM)

static gboolean
nonblock_create_child (MitogenParentStream *self,
                       const gchar *const *argv,
                       GPid *out_pid,
                       int *out_fd,
                       GError **error)
{
  int fds[2];
  gboolean ok;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0
      || fcntl (fds[1], F_SETFL, fcntl (fds[1], F_GETFL) | O_NONBLOCK) < 0)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                   "socketpair or fcntl failed");
      return FALSE;
    }
  ok = g_spawn_async_with_fds (NULL, (gchar **) argv, NULL,
                               G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, out_pid,
                               fds[1], fds[1], -1, error);
  close (fds[1]);
  if (!ok)
    {
      close (fds[0]);
      return FALSE;
    }
  *out_fd = fds[0];
  return TRUE;
}

static void
mitogen_nonblock_stream_class_init (MitogenNonblockStreamClass *klass)
{
  MitogenParentStreamClass *parent_class = MITOGEN_PARENT_STREAM_CLASS (klass);

  parent_class->transport_name = "nonblock";
  parent_class->create_child = nonblock_create_child;
}

static void
mitogen_nonblock_stream_class_finalize (MitogenNonblockStreamClass *klass)
{
}

static void
mitogen_nonblock_stream_init (MitogenNonblockStream *self)
{
}

G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);

G_MODULE_EXPORT GType
mitogen_transport_register (GTypeModule *module)
{
  mitogen_nonblock_stream_register_type (module);
  return MITOGEN_TYPE_NONBLOCK_STREAM;
}
