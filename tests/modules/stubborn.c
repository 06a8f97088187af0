/* stubborn.c: a test-only function module that turns its context into a
 * process deaf to SHUTDOWN and SIGTERM
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <mitogen/mitogen.h>
#include <signal.h>
#include <unistd.h>

/* Every descriptor stays open across exec, the link to the parent among
 * them. */
static void
keep_descriptors (void)
{
  for (int fd = 0; fd < 1024; fd++)
    {
      int flags = fcntl (fd, F_GETFD);

      if (flags >= 0)
        fcntl (fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
}

/* The process becomes `sleep`, ignoring SIGTERM (an ignored signal stays
 * ignored across exec) and keeping the link to its parent open, unread:
 * to its parent it is a child that neither answers nor exits. */
static GVariant *
stubborn_become_sleep (MitogenCall *call, GVariant *args, GError **error)
{
  keep_descriptors ();
  signal (SIGTERM, SIG_IGN);
  execlp ("sleep", "sleep", "1000", (char *) NULL);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
               "Cannot run sleep: %s", g_strerror (errno));
  return NULL;
}

static const MitogenFunctionInfo stubborn_functions[] = {
  { "become_sleep", "()", "()", stubborn_become_sleep,
    "Replace the process with `sleep 1000` ignoring SIGTERM (for tests)" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("stubborn", NULL, stubborn_functions);
