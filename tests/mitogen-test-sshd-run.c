/* mitogen-test-sshd-run: the test sshd (MitogenTestSshd) for shell
 * scripts (tests/test-cli.sh, scripts/test-install).
 *
 * Starts it, with its first argument if any appended to its sshd_config,
 * and prints, as sh assignments, where it is:
 *   SSHD_PORT=… SSHD_KEY=… SSHD_KNOWN_HOSTS=…
 * then keeps it running until its stdin reaches its end. Exits 77, the
 * tests' "skipped", with the reason on stderr where no sshd can run.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <gio/gio.h>
#include <stdio.h>
#include <unistd.h>

#include "mitogen-test-sshd.h"

int
main (int argc, char *argv[])
{
  g_autofree gchar *skip = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenTestSshd) sshd = NULL;
  g_autofree gchar *key = NULL, *known = NULL;
  gchar buf[256];

  if (!mitogen_test_sshd_can_run (&skip))
    {
      g_printerr ("%s\n", skip);
      return 77;
    }
  sshd = mitogen_test_sshd_start (NULL, "127.0.0.1", argc > 1 ? argv[1] : NULL,
                                  &error);
  if (!sshd)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  key = g_shell_quote (mitogen_test_sshd_get_client_key (sshd));
  known = g_shell_quote (mitogen_test_sshd_get_known_hosts (sshd));
  printf ("SSHD_PORT=%u SSHD_KEY=%s SSHD_KNOWN_HOSTS=%s\n",
          mitogen_test_sshd_get_port (sshd), key, known);
  fflush (stdout);
  while (read (STDIN_FILENO, buf, sizeof buf) > 0)
    ;
  return 0;
}
