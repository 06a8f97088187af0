/* mitogen-agent: the main of a child context.
 *
 * Started by a parent with the link on stdin and stdout; see
 * MitogenExternalContext. Not meant to be run by hand.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include <stdio.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  g_autoptr(MitogenExternalContext) context = NULL;
  g_autoptr(GError) error = NULL;

  /* A terminal on stdin is normal under sudo or ssh -t; only arguments
   * mean a person typed the command. */
  if (argc > 1)
    {
      fprintf (stderr,
               "mitogen-agent %s: the child side of a libmitogen context.\n"
               "A parent starts it and speaks to it over stdin and stdout;\n"
               "run `mitogen` instead.\n", MITOGEN_VERSION_S);
      return 2;
    }

  context = mitogen_external_context_new ();
  if (!mitogen_external_context_bootstrap (context, STDIN_FILENO, STDOUT_FILENO,
                                           &error))
    {
      fprintf (stderr, "mitogen-agent: %s\n", error->message);
      return 1;
    }
  return mitogen_external_context_run (context);
}
