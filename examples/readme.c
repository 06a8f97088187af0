/* readme.c: the README's C example, as a whole program.
 *
 * Starts a child context on this host, and a second one started from the
 * first, calls into both, and returns from main() with both alive: the
 * broker's shutdown asks them to exit.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>

int
main (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr (MitogenRouter) router = mitogen_router_new (broker);
  g_autoptr (MitogenContext) child = mitogen_router_connect_context (
      router, "local", NULL, NULL, NULL, &error);
  g_autoptr (MitogenContext) grandchild = NULL;
  g_autoptr (GVariant) pid = NULL;
  g_autoptr (GVariant) grandchild_pid = NULL;

  if (child)
    grandchild = mitogen_router_connect_context (router, "local", NULL, child,
                                                 NULL, &error);
  if (grandchild)
    pid = mitogen_context_call (child, "core.getpid", NULL, NULL, &error);
  if (pid)
    grandchild_pid
        = mitogen_context_call (grandchild, "core.getpid", NULL, NULL, &error);
  if (!grandchild_pid)
    {
      g_printerr ("readme: %s\n", error->message);
      return 1;
    }
  g_print ("%d %d\n", g_variant_get_int32 (pid),
           g_variant_get_int32 (grandchild_pid));
  return 0;
}
