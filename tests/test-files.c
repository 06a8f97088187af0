/* test-files.c: file transfer between real contexts: put and get, sizes
 * from 0 bytes to a sparse GiB, atomic and faithful writes, refusals, and
 * failures that must leave nothing behind
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include "mitogen-test-sshd.h"

#include <pwd.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
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

static gchar *
make_sparse (Fixture *f, const gchar *name, guint64 size)
{
  gchar *path = g_build_filename (f->dir, name, NULL);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, (off_t) size), ==, 0);
  /* A byte at each end, so that an off-by-one anywhere shows. */
  g_assert_cmpint (pwrite (fd, "A", 1, 0), ==, 1);
  g_assert_cmpint (pwrite (fd, "Z", 1, (off_t) size - 1), ==, 1);
  close (fd);
  return path;
}

static gsize
rss_kib (void)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  g_assert_true (
      g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "VmRSS:");
  g_assert_nonnull (line);
  return (gsize) g_ascii_strtoull (line + 6, NULL, 10);
}

static void
assert_same_bytes (const gchar *a, const gchar *b)
{
  g_autoptr (GMappedFile) ma = g_mapped_file_new (a, FALSE, NULL);
  g_autoptr (GMappedFile) mb = g_mapped_file_new (b, FALSE, NULL);

  g_assert_nonnull (ma);
  g_assert_nonnull (mb);
  g_assert_cmpuint (g_mapped_file_get_length (ma), ==,
                    g_mapped_file_get_length (mb));
  g_assert_true (memcmp (g_mapped_file_get_contents (ma),
                         g_mapped_file_get_contents (mb),
                         g_mapped_file_get_length (ma))
                 == 0);
}

/* A GiB each way; the master's memory stays a window, not the file. */
static void
test_gib (Fixture *f, gconstpointer data)
{
  g_autofree gchar *src = make_sparse (f, "gib", G_GUINT64_CONSTANT (1) << 30);
  g_autofree gchar *put = g_build_filename (f->dir, "put", NULL);
  g_autofree gchar *got = g_build_filename (f->dir, "got", NULL);
  g_autoptr (GError) error = NULL;
  gsize before = rss_kib ();

  g_assert_true (
      mitogen_context_put_file (f->child, src, put, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (
      mitogen_context_get_file (f->child, src, got, NULL, NULL, &error));
  g_assert_no_error (error);
#ifndef __SANITIZE_ADDRESS__
  /* Not under AddressSanitizer, whose quarantine keeps freed chunks. */
  g_assert_cmpuint (rss_kib (), <, before + 64 * 1024);
#else
  (void) before;
#endif
  assert_same_bytes (src, put);
  assert_same_bytes (src, got);
}

static void
test_tree (Fixture *f, gconstpointer data)
{
  g_autofree gchar *src = g_build_filename (f->dir, "tree", NULL);
  g_autofree gchar *sub = g_build_filename (src, "sub", NULL);
  g_autofree gchar *dst = g_build_filename (f->dir, "copy", NULL);
  g_autofree gchar *a = NULL, *b = NULL, *ca = NULL, *cb = NULL;
  g_autofree gchar *link = g_build_filename (src, "link", NULL);
  g_autofree gchar *clink = g_build_filename (dst, "link", NULL);
  g_autofree gchar *csub = g_build_filename (dst, "sub", NULL);
  g_autofree gchar *target = NULL;
  g_autoptr (MitogenFileProgress) progress = mitogen_file_progress_new ();
  g_autoptr (GError) error = NULL;
  GStatBuf st;

  g_assert_cmpint (g_mkdir (src, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  a = make_file (f, "tree/a", 1000, 0600);
  b = make_file (f, "tree/sub/b", 70000, 0755);
  g_assert_cmpint (symlink ("sub/b", link), ==, 0);
  g_assert_cmpint (g_chmod (sub, 0750), ==, 0);

  /* data: the tree comes back from the child rather than going to it
   * (the child and this process share the file system). */
  if (data)
    g_assert_true (
        mitogen_context_get_tree (f->child, src, dst, progress, NULL, &error));
  else
    g_assert_true (
        mitogen_context_put_tree (f->child, src, dst, progress, NULL, &error));
  g_assert_no_error (error);
  ca = g_build_filename (dst, "a", NULL);
  cb = g_build_filename (dst, "sub", "b", NULL);
  assert_same_file (a, ca);
  assert_same_file (b, cb);
  target = g_file_read_link (clink, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (target, ==, "sub/b");
  g_assert_cmpint (g_stat (csub, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0750);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (mitogen_file_progress_get_bytes_done (progress), ==, 71000);
  g_assert_cmpuint (mitogen_file_progress_get_bytes_total (progress), ==,
                    71000);
}

/* One listing a lying child may give, and what get_tree must say. */
typedef struct
{
  const gchar *what;
  const gchar *listing; /* GVariant text: an a(ssuts) if it starts with [ */
  GQuark domain;
  gint code;
  const gchar *message; /* a part of the error's message */
} Lie;

static void
add_listing_entry (GVariantBuilder *b,
                   const gchar *relative,
                   const gchar *type,
                   const gchar *target)
{
  g_variant_builder_add (b, "(ssuts)", relative, type,
                         g_str_equal (type, "directory") ? 0755u : 0644u,
                         (guint64) (g_str_equal (type, "file") ? 3 : 0),
                         target);
}

/* The child serves each listing in turn in place of core.list_tree (see
 * hostile.lie_about_trees); each is refused with its own error, and
 * nothing appears outside the destination, not even through the symlink
 * to `outside` a listing makes. */
static void
test_hostile_listing (Fixture *f, gconstpointer data)
{
  g_autofree gchar *dst = g_build_filename (f->dir, "dst", NULL);
  g_autofree gchar *outside = g_build_filename (f->dir, "outside", NULL);
  g_autofree gchar *link_dir = NULL;
  const gchar *const expected[] = { "dst", "outside", NULL };
  const gchar *const nothing[] = { NULL };
  GQuark protocol = MITOGEN_STREAM_ERROR;
  gint bad = MITOGEN_STREAM_ERROR_PROTOCOL;
  const Lie lies[] = {
    { "dot-dot",
      "[('', 'directory', 493, 0, ''), ('../escape', 'file', 420, 3, '')]",
      protocol, bad,
      "listed “../escape” below “/srv/tree”, which is not a path below it" },
    { "dot-dot-inside",
      "[('', 'directory', 493, 0, ''), ('a', 'directory', 493, 0, ''), "
      "('a/../../escape', 'file', 420, 3, '')]",
      protocol, bad,
      "“a/../../escape” below “/srv/tree”, which is not a path below it" },
    { "absolute",
      "[('', 'directory', 493, 0, ''), ('/tmp/escape', 'file', 420, 3, "
      "'')]",
      protocol, bad,
      "“/tmp/escape” below “/srv/tree”, which is not a path below it" },
    { "empty-part",
      "[('', 'directory', 493, 0, ''), ('a', 'directory', 493, 0, ''), "
      "('a//b', 'file', 420, 3, '')]",
      protocol, bad, "“a//b” below “/srv/tree”, which is not a path below it" },
    { "dot", "[('', 'directory', 493, 0, ''), ('.', 'directory', 493, 0, '')]",
      protocol, bad, "“.” below “/srv/tree”, which is not a path below it" },
    { "unlisted-parent",
      "[('', 'directory', 493, 0, ''), ('sub/x', 'file', 420, 3, '')]",
      protocol, bad,
      "“sub/x” below “/srv/tree”, which is not in a directory listed before "
      "it" },
    { "through-relative-symlink",
      "[('', 'directory', 493, 0, ''), ('d', 'directory', 493, 0, ''), ('s', "
      "'symlink', 420, 0, 'd'), ('s/x', 'file', 420, 3, '')]",
      protocol, bad,
      "“s/x” below “/srv/tree”, which is not in a directory listed before it" },
    { "through-symlink", NULL, protocol, bad,
      "“link/x” below “/srv/tree”, which is not in a directory listed before "
      "it" },
    { "symlink-then-directory", NULL, G_FILE_ERROR, G_FILE_ERROR_NOTDIR,
      "Cannot make directory" },
    { "root-not-first", "[('a', 'directory', 493, 0, '')]", protocol, bad,
      "“a” below “/srv/tree”, which does not begin with the tree itself" },
    { "second-root",
      "[('', 'directory', 493, 0, ''), ('', 'directory', 493, 0, '')]",
      protocol, bad, "which does not begin with the tree itself" },
    { "empty", "[]", protocol, bad, "which is empty" },
    { "not-a-listing", "'just a string'", protocol, bad,
      "which is not a listing" },
  };

  g_assert_cmpint (g_mkdir (outside, 0755), ==, 0);
  mitogen_module_responder_add_path (
      mitogen_module_responder_get_for_router (f->router),
      MITOGEN_TEST_MODULES_DIR);
  for (gsize i = 0; i < G_N_ELEMENTS (lies); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) told = NULL;
      g_autoptr (GVariant) listing = NULL;

      g_test_message ("listing: %s", lies[i].what);
      if (lies[i].listing)
        listing = g_variant_parse (
            lies[i].listing[0] == '[' ? G_VARIANT_TYPE ("a(ssuts)") : NULL,
            lies[i].listing, NULL, NULL, &error);
      else
        {
          GVariantBuilder b;

          /* A symlink to a directory outside, then a path through it. */
          g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ssuts)"));
          add_listing_entry (&b, "", "directory", "");
          add_listing_entry (&b, "link", "symlink", outside);
          if (g_str_equal (lies[i].what, "through-symlink"))
            add_listing_entry (&b, "link/x", "file", "");
          else
            add_listing_entry (&b, "link", "directory", "");
          listing = g_variant_ref_sink (g_variant_builder_end (&b));
        }
      g_assert_no_error (error);
      told = mitogen_test_call_ok (f->child, "hostile.lie_about_trees",
                                   g_variant_new ("(v)", listing));
      g_assert_true (g_variant_get_boolean (told));

      g_assert_false (mitogen_context_get_tree (f->child, "/srv/tree", dst,
                                                NULL, NULL, &error));
      g_assert_error (error, lies[i].domain, lies[i].code);
      if (!strstr (error->message, lies[i].message))
        g_error ("%s: “%s” does not say “%s”", lies[i].what, error->message,
                 lies[i].message);
      assert_dir_holds (f->dir, expected);
      assert_dir_holds (outside, nothing);
      remove_tree (dst);
    }
  /* The symlink was made, in the destination, and only written beside. */
  link_dir = g_build_filename (outside, "x", NULL);
  g_assert_false (g_file_test (link_dir, G_FILE_TEST_EXISTS));
}

/* Mounts a tmpfs of @options at a new directory of the fixture's, or
 * skips: only root may. */
static gchar *
mount_tmpfs (Fixture *f, const gchar *options)
{
  gchar *dir = g_build_filename (f->dir, "mnt", NULL);
  const gchar *argv[]
      = { "mount", "-t", "tmpfs", "-o", options, "tmpfs", dir, NULL };
  gint status = -1;

  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  if (getuid () != 0
      || !g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                        NULL, NULL, NULL, &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    {
      g_test_skip ("Cannot mount a tmpfs (needs root)");
      g_rmdir (dir);
      g_free (dir);
      return NULL;
    }
  return dir;
}

static void
unmount (gchar *dir)
{
  const gchar *argv[] = { "umount", dir, NULL };
  gint status = -1;

  g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH,
                               NULL, NULL, NULL, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_rmdir (dir);
  g_free (dir);
}

static void
assert_empty_dir (const gchar *dir)
{
  assert_dir_holds (dir, (const gchar *const[]){ NULL });
}

static void
test_disk_full (Fixture *f, gconstpointer data)
{
  g_autofree gchar *src = make_file (f, "big", 3 * 1024 * 1024, 0644);
  gchar *mnt = mount_tmpfs (f, "size=1m");
  g_autofree gchar *dst = NULL;
  g_autoptr (GError) error = NULL;

  if (!mnt)
    return;
  dst = g_build_filename (mnt, "big", NULL);
  g_assert_false (
      mitogen_context_put_file (f->child, src, dst, NULL, NULL, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOSPC);
  g_assert_nonnull (strstr (error->message, dst));
  assert_empty_dir (mnt);
  g_clear_error (&error);
  g_assert_false (
      mitogen_context_get_file (f->child, src, dst, NULL, NULL, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOSPC);
  assert_empty_dir (mnt);
  unmount (mnt);
}

static void
test_read_only (Fixture *f, gconstpointer data)
{
  g_autofree gchar *src = make_file (f, "small", 100, 0644);
  gchar *mnt = mount_tmpfs (f, "ro,size=1m");
  g_autofree gchar *dst = NULL;
  g_autoptr (GError) error = NULL;

  if (!mnt)
    return;
  dst = g_build_filename (mnt, "small", NULL);
  g_assert_false (
      mitogen_context_put_file (f->child, src, dst, NULL, NULL, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_ROFS);
  g_assert_nonnull (strstr (error->message, dst));
  g_clear_error (&error);
  g_assert_false (
      mitogen_context_get_file (f->child, src, dst, NULL, NULL, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_ROFS);
  g_assert_nonnull (strstr (error->message, dst));
  assert_empty_dir (mnt);
  unmount (mnt);
}

/* What a test does once the transfer is under way (bytes-done > 0). */
typedef void (*MidwayFunc) (Fixture *f, gpointer data);

typedef struct
{
  Fixture *f;
  MidwayFunc midway;
  gpointer data;
  gboolean fired;
  GAsyncResult *result;
} Midway;

static void
midway_notify (MitogenFileProgress *progress, GParamSpec *pspec, Midway *m)
{
  if (!m->fired && mitogen_file_progress_get_bytes_done (progress) > 0)
    {
      m->fired = TRUE;
      m->midway (m->f, m->data);
    }
}

static gboolean
keep_ticking (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
midway_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Midway *m = user_data;

  m->result = g_object_ref (result);
}

/* Runs a put (@put) or get of @src to @dst, calling @midway once the
 * first bytes are through; returns its error. */
static GError *
transfer_with_midway (Fixture *f,
                      gboolean put,
                      const gchar *src,
                      const gchar *dst,
                      GCancellable *cancellable,
                      MidwayFunc midway,
                      gpointer data)
{
  g_autoptr (MitogenFileProgress) progress = mitogen_file_progress_new ();
  gint64 end = g_get_monotonic_time () + 3 * MITOGEN_TEST_WAIT;
  guint ticker;
  Midway m = { f, midway, data, FALSE, NULL };
  GError *error = NULL;
  gboolean ok;

  g_signal_connect (progress, "notify::bytes-done", G_CALLBACK (midway_notify),
                    &m);
  if (put)
    mitogen_context_put_file_async (f->child, src, dst, progress, cancellable,
                                    midway_done, &m);
  else
    mitogen_context_get_file_async (f->child, src, dst, progress, cancellable,
                                    midway_done, &m);
  /* Wakes the loop now and then to look at the deadline. */
  ticker = g_timeout_add (100, keep_ticking, NULL);
  while (!m.result)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (ticker);
  ok = put ? mitogen_context_put_file_finish (f->child, m.result, &error)
           : mitogen_context_get_file_finish (f->child, m.result, &error);
  g_object_unref (m.result);
  g_signal_handlers_disconnect_by_data (progress, &m);
  g_assert_true (m.fired);
  g_assert_false (ok);
  return error;
}

static void
truncate_source (Fixture *f, gpointer data)
{
  g_assert_cmpint (truncate (data, 1000), ==, 0);
}

static void
test_source_shrinks (Fixture *f, gconstpointer data)
{
  for (guint put = 0; put < 2; put++)
    {
      g_autofree gchar *src = make_sparse (f, "shrinks", 256 * 1024 * 1024);
      g_autofree gchar *dst = g_build_filename (f->dir, "dst", NULL);
      g_autoptr (GError) error
          = transfer_with_midway (f, put, src, dst, NULL, truncate_source, src);

      g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_IO);
      g_assert_nonnull (strstr (error->message, "shrank"));
      g_assert_nonnull (strstr (error->message, src));
      assert_dir_holds (f->dir, (const gchar *const[]){ "shrinks", NULL });
    }
}

static void
cancel_now (Fixture *f, gpointer data)
{
  g_cancellable_cancel (data);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  for (guint put = 0; put < 2; put++)
    {
      g_autofree gchar *src = make_sparse (f, "src", 512 * 1024 * 1024);
      g_autofree gchar *dst = g_build_filename (f->dir, "dst", NULL);
      g_autoptr (GCancellable) cancellable = g_cancellable_new ();
      g_autoptr (GError) error = transfer_with_midway (
          f, put, src, dst, cancellable, cancel_now, cancellable);

      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      assert_dir_holds (f->dir, (const gchar *const[]){ "src", NULL });
      /* Both sides stopped: the child answers at once, and the next
       * transfer goes through. */
      g_assert_cmpint (mitogen_test_remote_pid (f->child), >, 0);
      g_assert_true (
          mitogen_context_put_file (f->child, src, dst, NULL, NULL, NULL));
      g_unlink (dst);
    }
}

static void
kill_child (Fixture *f, gpointer data)
{
  g_assert_cmpint (kill (GPOINTER_TO_INT (data), SIGKILL), ==, 0);
}

/* The receiver dies half-way: its O_TMPFILE goes with it. */
static void
test_receiver_killed (Fixture *f, gconstpointer data)
{
  g_autofree gchar *src = make_sparse (f, "src", G_GUINT64_CONSTANT (1) << 30);
  g_autofree gchar *dst = g_build_filename (f->dir, "dst", NULL);
  gint pid = mitogen_test_remote_pid (f->child);
  g_autoptr (GError) error = transfer_with_midway (
      f, TRUE, src, dst, NULL, kill_child, GINT_TO_POINTER (pid));

  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  assert_dir_holds (f->dir, (const gchar *const[]){ "src", NULL });
}

/* The sender dies half-way: the master removes its temporary file. */
static void
test_sender_killed (Fixture *f, gconstpointer data)
{
  g_autofree gchar *src = make_sparse (f, "src", G_GUINT64_CONSTANT (1) << 30);
  g_autofree gchar *dst = g_build_filename (f->dir, "dst", NULL);
  gint pid = mitogen_test_remote_pid (f->child);
  g_autoptr (GError) error = transfer_with_midway (
      f, FALSE, src, dst, NULL, kill_child, GINT_TO_POINTER (pid));

  g_assert_error (error, MITOGEN_CHANNEL_ERROR, MITOGEN_CHANNEL_ERROR_DEAD);
  assert_dir_holds (f->dir, (const gchar *const[]){ "src", NULL });
}

#define N_LEAVES 10

/* Ten leaves under one hop: the file crosses the master's link once. */
static void
test_push_through_hop (Fixture *f, gconstpointer data)
{
  g_autofree gchar *src = make_file (f, "pushed", 4 * 1024 * 1024, 0644);
  MitogenContext *leaves[N_LEAVES];
  MitogenStream *link = mitogen_context_get_stream (f->child);
  guint64 before;
  gdouble ratio;

  for (guint i = 0; i < N_LEAVES; i++)
    leaves[i] = mitogen_test_connect (f->router, "local", NULL, f->child);
  before = mitogen_stream_get_bytes_sent (link);
  for (guint i = 0; i < N_LEAVES; i++)
    {
      g_autofree gchar *dst = g_strdup_printf ("%s/leaf%u", f->dir, i);
      g_autoptr (GError) error = NULL;

      g_assert_true (
          mitogen_context_put_file (leaves[i], src, dst, NULL, NULL, &error));
      g_assert_no_error (error);
      assert_same_file (src, dst);
    }
  ratio = (gdouble) (mitogen_stream_get_bytes_sent (link) - before)
          / (4 * 1024 * 1024);
  g_test_message ("master link carried %.3fx the file for %u leaves", ratio,
                  N_LEAVES);
  g_assert_cmpfloat (ratio, <, 1.1);
  for (guint i = 0; i < N_LEAVES; i++)
    {
      mitogen_test_shutdown_ok (leaves[i]);
      g_object_unref (leaves[i]);
    }
}

/* put and get of @size bytes to @ctx, whose files land in @dir. */
static void
assert_round_trip (Fixture *f,
                   MitogenContext *ctx,
                   const gchar *dir,
                   gsize size)
{
  g_autofree gchar *src = make_file (f, "rt-src", size, 0640);
  g_autofree gchar *there = g_build_filename (dir, "rt-there", NULL);
  g_autofree gchar *back = g_build_filename (f->dir, "rt-back", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *data = NULL, *copy = NULL;
  gsize length, copy_length;

  g_assert_true (
      mitogen_context_put_file (ctx, src, there, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (
      mitogen_context_get_file (ctx, there, back, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (src, &data, &length, NULL));
  g_assert_true (g_file_get_contents (back, &copy, &copy_length, NULL));
  g_assert_cmpmem (data, length, copy, copy_length);
  g_unlink (there);
}

static void
test_two_hops (Fixture *f, gconstpointer data)
{
  g_autoptr (MitogenContext) middle
      = mitogen_test_connect (f->router, "local", NULL, f->child);
  g_autoptr (MitogenContext) leaf
      = mitogen_test_connect (f->router, "local", NULL, middle);

  assert_round_trip (f, leaf, f->dir, 5 * 1024 * 1024 + 1);
  mitogen_test_shutdown_ok (leaf);
  mitogen_test_shutdown_ok (middle);
}

static void
test_ssh (Fixture *f, gconstpointer data)
{
  g_autofree gchar *skip = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (MitogenTestSshd) sshd = NULL;
  g_autoptr (MitogenContext) ctx = NULL;

  if (!mitogen_test_sshd_can_run (&skip))
    {
      g_test_skip (skip);
      return;
    }
  sshd = mitogen_test_sshd_start (NULL, "127.0.0.1", NULL, &error);
  g_assert_no_error (error);
  ctx = mitogen_test_connect (
      f->router, "ssh", mitogen_test_sshd_options (sshd, "root", "ignore"),
      NULL);
  assert_round_trip (f, ctx, f->dir, 3 * 1024 * 1024 + 5);
  mitogen_test_shutdown_ok (ctx);
}

/* The sudo target of tests/test-sudo.c, made by scripts/setup-test-env. */
#define SUDO_USER "mitogen-test"

static void
test_sudo (Fixture *f, gconstpointer data)
{
  g_autofree gchar *sudo = g_find_program_in_path ("sudo");
  g_autoptr (MitogenContext) ctx = NULL;
  g_autofree gchar *there = g_build_filename (f->dir, "sudo-dir", NULL);
  GVariantDict dict;

  if (!sudo || getuid () != 0 || !getpwnam (SUDO_USER))
    {
      g_test_skip ("Needs sudo, root and the user " SUDO_USER);
      return;
    }
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "username", "s", SUDO_USER);
  ctx = mitogen_test_connect (f->router, "sudo", g_variant_dict_end (&dict),
                              NULL);
  /* A directory the other user may write to, below one it may enter. */
  g_assert_cmpint (g_chmod (f->dir, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (there, 0777), ==, 0);
  g_assert_cmpint (g_chmod (there, 0777), ==, 0);
  assert_round_trip (f, ctx, there, 2 * 1024 * 1024 + 9);
  mitogen_test_shutdown_ok (ctx);
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
  g_test_add ("/files/gib", Fixture, NULL, setup, test_gib, teardown);
  g_test_add ("/files/tree", Fixture, NULL, setup, test_tree, teardown);
  g_test_add ("/files/get-tree", Fixture, GINT_TO_POINTER (1), setup, test_tree,
              teardown);
  g_test_add ("/files/hostile-listing", Fixture, NULL, setup,
              test_hostile_listing, teardown);
  g_test_add ("/files/disk-full", Fixture, NULL, setup, test_disk_full,
              teardown);
  g_test_add ("/files/read-only", Fixture, NULL, setup, test_read_only,
              teardown);
  g_test_add ("/files/source-shrinks", Fixture, NULL, setup,
              test_source_shrinks, teardown);
  g_test_add ("/files/cancel", Fixture, NULL, setup, test_cancel, teardown);
  g_test_add ("/files/receiver-killed", Fixture, NULL, setup,
              test_receiver_killed, teardown);
  g_test_add ("/files/sender-killed", Fixture, NULL, setup, test_sender_killed,
              teardown);
  g_test_add ("/files/push-through-hop", Fixture, NULL, setup,
              test_push_through_hop, teardown);
  g_test_add ("/files/two-hops", Fixture, NULL, setup, test_two_hops, teardown);
  g_test_add ("/files/ssh", Fixture, NULL, setup, test_ssh, teardown);
  g_test_add ("/files/sudo", Fixture, NULL, setup, test_sudo, teardown);
  return g_test_run ();
}
