/* fuzz-replay.c: a fuzz target's main without libFuzzer
 *
 *   fuzz-replay-TARGET [PATH…]          replays the target's seeds, then
 *                                       every file in each PATH (a file
 *                                       or a corpus directory)
 *   fuzz-replay-TARGET --write-seeds DIR  writes the seeds into DIR
 *
 * Built with the ordinary compiler, so that the suite replays every
 * corpus, crashers included, on every run.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"

static void
replay (const gchar *what, GBytes *input)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (input, &len);
  /* A copy of its own, so that reads past the end are caught. */
  g_autofree guint8 *copy = g_memdup2 (data, len);

  if (g_getenv ("FUZZ_REPLAY_VERBOSE"))
    g_printerr ("replaying %s (%" G_GSIZE_FORMAT " bytes)\n", what, len);
  LLVMFuzzerTestOneInput (copy, len);
}

static guint
replay_file (const gchar *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GMappedFile) file = g_mapped_file_new (path, FALSE, &error);
  g_autoptr (GBytes) bytes = NULL;

  if (!file)
    {
      g_printerr ("%s\n", error->message);
      exit (1);
    }
  bytes = g_mapped_file_get_bytes (file);
  replay (path, bytes);
  return 1;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

static guint
replay_path (const gchar *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;
  guint n = 0;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    return replay_file (path);
  dir = g_dir_open (path, 0, &error);
  if (!dir)
    {
      g_printerr ("%s\n", error->message);
      exit (1);
    }
  while ((name = g_dir_read_name (dir)))
    g_ptr_array_add (names, g_build_filename (path, name, NULL));
  /* In a fixed order, so that a failure repeats. */
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    n += replay_file (names->pdata[i]);
  return n;
}

static int
write_seeds (const gchar *dir, GPtrArray *seeds)
{
  for (guint i = 0; i < seeds->len; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree gchar *name = g_strdup_printf ("seed-%02u", i);
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      gsize len;
      const gchar *data = g_bytes_get_data (seeds->pdata[i], &len);

      if (!g_file_set_contents (path, data, (gssize) len, &error))
        {
          g_printerr ("%s\n", error->message);
          return 1;
        }
    }
  return 0;
}

typedef struct
{
  int argc;
  char **argv;
  GPtrArray *seeds;
  guint n;
} Replay;

/* On the broker thread, as under libFuzzer (fuzz-main.c). */
static void
replay_all (gpointer data)
{
  Replay *r = data;

  for (guint i = 0; i < r->seeds->len; i++)
    {
      g_autofree gchar *what = g_strdup_printf ("seed %u", i);
      replay (what, r->seeds->pdata[i]);
    }
  for (int i = 1; i < r->argc; i++)
    r->n += replay_path (r->argv[i]);
}

int
main (int argc, char **argv)
{
  g_autoptr (GPtrArray) seeds
      = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autofree gchar *name = g_path_get_basename (argv[0]);
  Replay r = { argc, argv, seeds, 0 };

  fuzz_target_seeds (seeds);
  if (argc == 3 && g_str_equal (argv[1], "--write-seeds"))
    return write_seeds (argv[2], seeds);

  fuzz_run_on_broker (replay_all, &r);
  printf ("%s: replayed %u seeds and %u corpus inputs\n", name, seeds->len,
          r.n);
  return 0;
}
