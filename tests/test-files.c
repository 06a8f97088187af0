/* test-files.c: file transfer between real contexts: put and get, sizes
 * from 0 bytes to a sparse GiB, atomic and faithful writes, refusals, and
 * failures that must leave nothing behind
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *child;
  gchar *dir;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  mitogen_test_master_new (&f->broker, &f->router);
  f->child = mitogen_test_connect (f->router, "local", NULL, NULL);
  f->dir = g_dir_make_tmp ("mitogen-files-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
}

static void
remove_tree (const gchar *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileEnumerator) children = g_file_enumerate_children (
      file, G_FILE_ATTRIBUTE_STANDARD_NAME, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
      NULL, NULL);
  GFileInfo *info;

  g_chmod (path, 0755);
  while (children
         && (info = g_file_enumerator_next_file (children, NULL, NULL)))
    {
      g_autofree gchar *child
          = g_build_filename (path, g_file_info_get_name (info), NULL);

      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_unlink (child);
      g_object_unref (info);
    }
  g_rmdir (path);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  mitogen_test_master_stop (f->broker, f->child);
  g_clear_object (&f->child);
  mitogen_test_master_clear (&f->broker, &f->router);
  remove_tree (f->dir);
  g_free (f->dir);
}

static gchar *
make_file (Fixture *f, const gchar *name, gsize size, guint mode)
{
  g_autofree guint8 *data = g_malloc (MAX (size, 1));
  gchar *path = g_build_filename (f->dir, name, NULL);

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_test_rand_int ();
  g_assert_true (
      g_file_set_contents (path, (const gchar *) data, (gssize) size, NULL));
  g_assert_cmpint (g_chmod (path, (int) mode), ==, 0);
  return path;
}

static void
assert_same_file (const gchar *a, const gchar *b)
{
  g_autofree gchar *da = NULL, *db = NULL;
  gsize la, lb;
  GStatBuf sa, sb;

  g_assert_true (g_file_get_contents (a, &da, &la, NULL));
  g_assert_true (g_file_get_contents (b, &db, &lb, NULL));
  g_assert_cmpmem (da, la, db, lb);
  g_assert_cmpint (g_stat (a, &sa), ==, 0);
  g_assert_cmpint (g_stat (b, &sb), ==, 0);
  g_assert_cmpint (sa.st_mode, ==, sb.st_mode);
  g_assert_cmpint (sa.st_mtime, ==, sb.st_mtime);
}

/* Nothing but @expected names in @dir: no temporary file stayed. */
static void
assert_dir_holds (const gchar *dir, const gchar *const *expected)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)))
    if (!g_strv_contains (expected, name))
      g_error ("Unexpected “%s” in %s", name, dir);
}

static void
test_put_sizes (Fixture *f, gconstpointer data)
{
  static const gsize sizes[] = { 0, 1, 256 * 1024, 3 * 1024 * 1024 + 7 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree gchar *name = g_strdup_printf ("src%u", i);
      g_autofree gchar *src = make_file (f, name, sizes[i], 0640);
      g_autofree gchar *dst = g_strdup_printf ("%s/dst%u", f->dir, i);
      g_autoptr (GError) error = NULL;

      g_assert_true (
          mitogen_context_put_file (f->child, src, dst, NULL, NULL, &error));
      g_assert_no_error (error);
      assert_same_file (src, dst);
    }
}

static void
test_get_sizes (Fixture *f, gconstpointer data)
{
  static const gsize sizes[] = { 0, 1, 5 * 1024 * 1024 + 3 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree gchar *name = g_strdup_printf ("src%u", i);
      g_autofree gchar *src = make_file (f, name, sizes[i], 0604);
      g_autofree gchar *dst = g_strdup_printf ("%s/dst%u", f->dir, i);
      g_autoptr (MitogenFileProgress) progress = mitogen_file_progress_new ();
      g_autoptr (GError) error = NULL;

      g_assert_true (mitogen_context_get_file (f->child, src, dst, progress,
                                               NULL, &error));
      g_assert_no_error (error);
      assert_same_file (src, dst);
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_assert_cmpuint (mitogen_file_progress_get_bytes_done (progress), ==,
                        sizes[i]);
      g_assert_cmpuint (mitogen_file_progress_get_bytes_total (progress), ==,
                        sizes[i]);
    }
}

/* The child asks for files nobody registered: by name, and by climbing out
 * of a registered root with ../ and with a symlink. */
static void
test_unregistered (Fixture *f, gconstpointer data)
{
  g_autofree gchar *root = g_build_filename (f->dir, "root", NULL);
  g_autofree gchar *secret = make_file (f, "secret", 10, 0600);
  g_autofree gchar *inside = NULL;
  g_autofree gchar *link = g_build_filename (root, "link", NULL);
  g_autofree gchar *escape = g_build_filename (root, "..", "secret", NULL);
  g_autofree gchar *dst = g_build_filename (f->dir, "dst", NULL);
  const gchar *paths[3];
  MitogenFileService *service = mitogen_file_service_get_default (f->router);

  g_assert_cmpint (g_mkdir (root, 0755), ==, 0);
  inside = make_file (f, "root/inside", 10, 0644);
  g_assert_cmpint (symlink (secret, link), ==, 0);
  g_assert_true (mitogen_file_service_register_prefix (service, root, NULL));
  paths[0] = secret;
  paths[1] = escape;
  paths[2] = link;

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) result = mitogen_context_call (
          f->child, "core.fetch_file",
          g_variant_new ("(ssts)", paths[i], "", (guint64) 0, dst), NULL,
          &error);

      g_assert_null (result);
      g_assert_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE);
      g_assert_nonnull (strstr (error->message, "not a registered file"));
      g_assert_false (g_file_test (dst, G_FILE_TEST_EXISTS));
    }
  assert_dir_holds (f->dir, (const gchar *const[]){ "root", "secret", NULL });
  /* Inside the root it works. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) result = mitogen_context_call (
        f->child, "core.fetch_file",
        g_variant_new ("(ssts)", inside, "", (guint64) 0, dst), NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (result);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/files/put-sizes", Fixture, NULL, setup, test_put_sizes,
              teardown);
  g_test_add ("/files/get-sizes", Fixture, NULL, setup, test_get_sizes,
              teardown);
  g_test_add ("/files/unregistered", Fixture, NULL, setup, test_unregistered,
              teardown);
  return g_test_run ();
}
