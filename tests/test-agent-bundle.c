/* The agent bundle's hash names its content: the same tree must give the
 * same hash in every process, whatever order the names were found in, or
 * every host's cache misses and the agent is uploaded again. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <glib/gstdio.h>
#include <string.h>

/* Reads the archive's member names in order: the magic "MITOBND1", an
 * 8-byte body length, then per member 4-byte name length, 4-byte mode,
 * 8-byte data length, the name and the data. */
static GPtrArray *
archive_names (GBytes *archive)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (archive, &len);
  const guint8 *end = p + len;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const gsize magic = strlen ("MITOBND1");

  g_assert_cmpuint (len, >=, magic + 8);
  g_assert_cmpmem (p, magic, "MITOBND1", magic);
  p += magic + 8;
  while (p < end)
    {
      guint64 name_len = 0, data_len = 0;

      g_assert_cmpuint ((gsize) (end - p), >=, 16);
      for (guint i = 0; i < 4; i++)
        name_len = (name_len << 8) | p[i];
      for (guint i = 0; i < 8; i++)
        data_len = (data_len << 8) | p[8 + i];
      p += 16;
      g_assert_cmpuint ((gsize) (end - p), >=, name_len + data_len);
      g_ptr_array_add (names, g_strndup ((const gchar *) p, name_len));
      p += name_len + data_len;
    }
  return g_steal_pointer (&names);
}

static MitogenAgentBundle *
build_bundle (void)
{
  g_autoptr (GError) error = NULL;
  MitogenAgentBundle *bundle = mitogen_agent_bundle_new_for_agent (
      g_getenv ("MITOGEN_AGENT"), g_getenv ("MITOGEN_BOOTSTRAP"), &error);

  g_assert_no_error (error);
  return bundle;
}

/* Programs first, then the libraries in strict name order. */
static void
test_archive_order (void)
{
  g_autoptr (MitogenAgentBundle) bundle = build_bundle ();
  GBytes *archive = mitogen_agent_bundle_get_archive (bundle);
  g_autoptr (GPtrArray) names = archive_names (archive);

  g_assert_cmpuint (names->len, >=, 3);
  g_assert_cmpstr (names->pdata[0], ==, "mitogen-agent");
  g_assert_cmpstr (names->pdata[1], ==, "mitogen-bootstrap");
  for (guint i = 3; i < names->len; i++)
    g_assert_cmpint (strcmp (names->pdata[i - 1], names->pdata[i]), <, 0);
}

static void
print_hash (void)
{
  g_autoptr (MitogenAgentBundle) bundle = build_bundle ();

  g_print ("hash=%s\n", mitogen_agent_bundle_get_hash (bundle));
}

/* Separate processes, each with its own heap layout, agree. */
static void
test_hash_across_processes (void)
{
  g_autoptr (MitogenAgentBundle) bundle = build_bundle ();
  g_autofree gchar *expected
      = g_strdup_printf ("hash=%s\n", mitogen_agent_bundle_get_hash (bundle));

  if (g_test_subprocess ())
    {
      print_hash ();
      return;
    }
  for (gint i = 0; i < 3; i++)
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stdout (expected);
    }
}

static void
copy_file (const gchar *from, const gchar *to)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GFile) src = g_file_new_for_path (from);
  g_autoptr (GFile) dst = g_file_new_for_path (to);

  g_assert_true (
      g_file_copy (src, dst, G_FILE_COPY_NONE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
}

/* Fills a new directory with @libs (in reverse when @reverse) and the
 * agent and loader, so two trees hold the same members found (and
 * allocated) in different orders. */
static gchar *
make_tree (const gchar *const *libs, gboolean reverse)
{
  g_autoptr (GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("mitogen-bundle-XXXXXX", &error);
  guint n = g_strv_length ((gchar **) libs);

  g_assert_no_error (error);
  for (guint k = 0; k < n; k++)
    {
      const gchar *lib = libs[reverse ? n - 1 - k : k];
      g_autofree gchar *path = g_build_filename (dir, lib, NULL);

      g_assert_true (g_file_set_contents (path, lib, -1, &error));
      g_assert_no_error (error);
    }
  {
    g_autofree gchar *agent = g_build_filename (dir, "mitogen-agent", NULL);
    g_autofree gchar *loader
        = g_build_filename (dir, "mitogen-bootstrap", NULL);

    copy_file (g_getenv ("MITOGEN_AGENT"), agent);
    copy_file (g_getenv ("MITOGEN_BOOTSTRAP"), loader);
  }
  return dir;
}

static void
remove_tree (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)))
    {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);

      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Two copies of one tree, written in opposite orders, hash alike. */
static void
test_hash_same_tree (void)
{
  static const gchar *const libs[]
      = { "libz.so.1",       "liba.so.1",        "libq.so.2",
          "libm-x.so.6",     "libb.so.0",        "liby.so.3",
          "libc-extra.so.1", "libglib-2.0.so.0", NULL };
  g_autofree gchar *one = make_tree (libs, FALSE);
  g_autofree gchar *two = make_tree (libs, TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenAgentBundle) a = NULL;
  g_autoptr (MitogenAgentBundle) b = NULL;
  GBytes *archive = NULL; /* the bundle's */
  g_autoptr (GPtrArray) names = NULL;

  a = mitogen_agent_bundle_new_from_directory (one, &error);
  g_assert_no_error (error);
  b = mitogen_agent_bundle_new_from_directory (two, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (mitogen_agent_bundle_get_hash (a), ==,
                   mitogen_agent_bundle_get_hash (b));
  archive = mitogen_agent_bundle_get_archive (a);
  names = archive_names (archive);
  g_assert_cmpuint (names->len, ==, 10);
  for (guint i = 3; i < names->len; i++)
    g_assert_cmpint (strcmp (names->pdata[i - 1], names->pdata[i]), <, 0);
  remove_tree (one);
  remove_tree (two);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/agent-bundle/archive-order", test_archive_order);
  g_test_add_func ("/agent-bundle/hash-across-processes",
                   test_hash_across_processes);
  g_test_add_func ("/agent-bundle/hash-same-tree", test_hash_same_tree);
  return g_test_run ();
}
