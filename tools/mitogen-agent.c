/* mitogen-agent: the main of a child context.
 *
 * Started by a parent with the link on stdin and stdout; see
 * MitogenExternalContext. Not meant to be run by hand.
 *
 * The loader of a zero-install start (mitogen-bootstrap) passes
 * `--bundle=DIR`, where the agent and its libraries are stored, so that
 * this agent ships the same bundle to children of its own, and
 * `--temporary` when DIR is to be removed at exit.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <glib/gstdio.h>
#include <mitogen/mitogen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
remove_directory (const gchar *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree gchar *file = g_build_filename (path, name, NULL);

      g_unlink (file);
    }
  g_rmdir (path);
}

static gboolean
parse_arguments (int argc,
                 char **argv,
                 const gchar **bundle,
                 gboolean *temporary)
{
  for (int i = 1; i < argc; i++)
    {
      if (g_str_has_prefix (argv[i], "--bundle=") && argv[i][9] == '/')
        *bundle = argv[i] + 9;
      else if (strcmp (argv[i], "--temporary") == 0)
        *temporary = TRUE;
      else
        return FALSE;
    }
  return !*temporary || *bundle;
}

int
main (int argc, char **argv)
{
  g_autoptr(MitogenExternalContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *bundle = NULL;
  gboolean temporary = FALSE;
  int status;

  /* A terminal on stdin is normal under sudo or ssh -t; only arguments
   * other than the loader's mean a person typed the command. */
  if (!parse_arguments (argc, argv, &bundle, &temporary))
    {
      fprintf (stderr,
               "mitogen-agent %s: the child side of a libmitogen context.\n"
               "A parent starts it and speaks to it over stdin and stdout;\n"
               "run `mitogen` instead.\n", MITOGEN_VERSION_S);
      return 2;
    }
  if (bundle)
    mitogen_agent_bundle_set_default_directory (bundle);

  context = mitogen_external_context_new ();
  if (!mitogen_external_context_bootstrap (context, STDIN_FILENO, STDOUT_FILENO,
                                           &error))
    {
      fprintf (stderr, "mitogen-agent: %s\n", error->message);
      status = 1;
    }
  else
    status = mitogen_external_context_run (context);
  if (temporary)
    remove_directory (bundle);
  return status;
}
