/* Zero install: ssh into a minimal root, a directory holding only a static
 * shell (busybox), the C library and the dynamic loader, which a real sshd
 * enters with ChrootDirectory for the test user. The agent, its libraries
 * and its loader all arrive over the ssh link. The kernel's /proc is
 * mounted there, as on any host, since modules load from memfds.
 *
 * Needs root, sshd, busybox (static) and mitogen-test (scripts/setup-test-env);
 * skips otherwise. Mounts happen in a mount namespace of the test's own, so
 * none outlives it. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <errno.h>
#include <glib/gstdio.h>
#include <link.h>
#include <pwd.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/time.h>
#include <unistd.h>

#include "mitogen-test-sshd.h"

#define USER "mitogen-test"
#define BUSYBOX "/bin/busybox"
/* A failure is to come from its cause, before the connect timeout (the
 * library's default, which these connects keep) would end the attempt:
 * how much sooner depends on the machine's load, so that is all a test
 * can assert. */
#define QUICK_USEC ((gint64) (MITOGEN_CONNECT_TIMEOUT * G_USEC_PER_SEC))

typedef enum {
  ROOT_WRITABLE_HOME = 1 << 0,
  ROOT_READ_ONLY = 1 << 1,
  ROOT_TINY_TMP = 1 << 2,
  ROOT_NO_LOADER = 1 << 3,
} RootFlags;

typedef struct {
  gchar *root;
  GPtrArray *mounts;
  MitogenTestSshd *sshd;
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenAgentBundle *bundle;
} Fixture;

static gboolean in_own_namespace;

typedef struct {
  const gchar *libc;
  const gchar *libm;
} CLibrary;

static int
find_c_library (struct dl_phdr_info *info,
                size_t size,
                void *data)
{
  CLibrary *found = data;

  if (g_str_has_suffix (info->dlpi_name, "/libc.so.6"))
    found->libc = info->dlpi_name;
  else if (g_str_has_suffix (info->dlpi_name, "/libm.so.6"))
    found->libm = info->dlpi_name;
  return 0;
}

/* Copies @path to the same path under @root, following symlinks. */
static void
copy_into_root (const gchar *root,
                const gchar *path,
                const gchar *as)
{
  g_autofree gchar *target = g_build_filename (root, as ? as : path, NULL);
  g_autofree gchar *dir = g_path_get_dirname (target);
  g_autoptr(GFile) src = g_file_new_for_path (path);
  g_autoptr(GFile) dst = g_file_new_for_path (target);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_copy (src, dst, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (target, 0755), ==, 0);
}

static void
do_mount (Fixture *f,
          const gchar *source,
          const gchar *sub,
          const gchar *type,
          unsigned long flags,
          const gchar *options)
{
  g_autofree gchar *target = g_build_filename (f->root, sub, NULL);

  if (mount (source, target, type, flags, options) < 0)
    g_error ("mount %s on %s: %s", type ? type : source, target, g_strerror (errno));
  if (!(flags & MS_REMOUNT))
    g_ptr_array_add (f->mounts, g_steal_pointer (&target));
}

static void
make_root (Fixture *f,
           RootFlags flags)
{
  const gchar *interp = mitogen_agent_bundle_get_interpreter (f->bundle);
  CLibrary c = { NULL, NULL };
  g_autofree gchar *tmp = NULL, *proc = NULL;

  f->root = g_strdup ("/run/mitogen-minroot-XXXXXX");
  /* sshd insists that every part of the path is root's and not writable
   * by others: so /run, not /tmp. */
  g_assert_nonnull (g_mkdtemp_full (f->root, 0755));
  dl_iterate_phdr (find_c_library, &c);
  g_assert_nonnull (c.libc);
  g_assert_nonnull (c.libm);

  copy_into_root (f->root, BUSYBOX, "/bin/sh");
  copy_into_root (f->root, c.libc, NULL);
  copy_into_root (f->root, c.libm, NULL);
  if (flags & ROOT_NO_LOADER)
    copy_into_root (f->root, interp, "/lib/ld-linux-aarch64.so.1");
  else
    copy_into_root (f->root, interp, NULL);

  tmp = g_build_filename (f->root, "tmp", NULL);
  proc = g_build_filename (f->root, "proc", NULL);
  g_assert_cmpint (g_mkdir (tmp, 0755), ==, 0);
  g_assert_cmpint (g_chmod (tmp, 01777), ==, 0);
  g_assert_cmpint (g_mkdir (proc, 0555), ==, 0);
  if (flags & ROOT_WRITABLE_HOME)
    {
      g_autofree gchar *home = g_build_filename (f->root, "home", USER, NULL);
      struct passwd *pw = getpwnam (USER);

      g_assert_cmpint (g_mkdir_with_parents (home, 0755), ==, 0);
      g_assert_cmpint (g_chmod (home, 0700), ==, 0);
      g_assert_cmpint (chown (home, pw->pw_uid, pw->pw_gid), ==, 0);
    }

  if (flags & ROOT_READ_ONLY)
    {
      do_mount (f, f->root, "", NULL, MS_BIND, NULL);
      do_mount (f, NULL, "", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
    }
  do_mount (f, "proc", "proc", "proc", 0, NULL);
  if (flags & ROOT_TINY_TMP)
    do_mount (f, "tmpfs", "tmp", "tmpfs", 0, "size=64k,mode=1777");
  else if (flags & ROOT_READ_ONLY)
    do_mount (f, "tmpfs", "tmp", "tmpfs", 0, "mode=1777");
}

static void
setup (Fixture *f,
       gconstpointer data)
{
  RootFlags flags = GPOINTER_TO_UINT (data);
  g_autofree gchar *skip = NULL;
  g_autofree gchar *config = NULL;
  g_autoptr(GError) error = NULL;

  f->mounts = g_ptr_array_new_with_free_func (g_free);
  f->broker = mitogen_broker_new ();
  f->router = mitogen_router_new (f->broker);

  if (!mitogen_test_sshd_can_run (&skip))
    {
      g_test_skip (skip);
      return;
    }
  if (!in_own_namespace)
    {
      g_test_skip ("cannot make a mount namespace");
      return;
    }
  if (!getpwnam (USER))
    {
      g_test_skip ("no user " USER "; run scripts/setup-test-env");
      return;
    }
  if (!g_file_test (BUSYBOX, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("busybox-static is not installed");
      return;
    }

  f->bundle = mitogen_agent_bundle_get_default (&error);
  g_assert_no_error (error);
  make_root (f, flags);
  config = g_strdup_printf ("Match User " USER "\n  ChrootDirectory %s\n", f->root);
  f->sshd = mitogen_test_sshd_start (NULL, "127.0.0.1", config, &error);
  g_assert_no_error (error);
  /* sshd reads the authorized keys as the user logging in. */
  g_assert_cmpint (g_chmod (mitogen_test_sshd_get_dir (f->sshd), 0711), ==, 0);
}

static void
remove_tree (const gchar *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree gchar *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
          !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
teardown (Fixture *f,
          gconstpointer data)
{
  mitogen_broker_shutdown (f->broker);
  mitogen_broker_join (f->broker);
  g_clear_object (&f->router);
  g_clear_object (&f->broker);
  g_clear_pointer (&f->sshd, mitogen_test_sshd_stop);
  for (guint i = f->mounts->len; i > 0; i--)
    g_assert_cmpint (umount2 (f->mounts->pdata[i - 1], MNT_DETACH), ==, 0);
  g_ptr_array_unref (f->mounts);
  if (f->root)
    remove_tree (f->root);
  g_free (f->root);
  g_clear_object (&f->bundle);
}

static MitogenContext *
connect (Fixture *f,
         GError **error)
{
  return mitogen_router_connect_context (
      f->router, "ssh", mitogen_test_sshd_options (f->sshd, USER, "accept-new"),
      NULL, NULL, error);
}

static gint
remote_pid (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pid = mitogen_context_call (ctx, "core.getpid", NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (pid, G_VARIANT_TYPE_INT32));
  return g_variant_get_int32 (pid);
}

static void
shutdown_context (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_context_shutdown (ctx, TRUE, NULL, &error));
  g_assert_no_error (error);
}

/* A bundle directory, owned by the test user, stored @age_seconds ago. */
static gchar *
plant_bundle (const gchar *cache,
              gchar digit,
              gint64 age_seconds)
{
  g_autofree gchar *name = g_strnfill (64, digit);
  gchar *dir = g_build_filename (cache, name, NULL);
  g_autofree gchar *file = g_build_filename (dir, "mitogen-agent", NULL);
  struct passwd *pw = getpwnam (USER);
  struct timeval when[2] = { { time (NULL) - age_seconds, 0 },
                             { time (NULL) - age_seconds, 0 } };
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (file, "old", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (chown (file, pw->pw_uid, pw->pw_gid), ==, 0);
  g_assert_cmpint (chown (dir, pw->pw_uid, pw->pw_gid), ==, 0);
  g_assert_cmpint (utimes (dir, when), ==, 0);
  return dir;
}

static void
test_minimal_root (Fixture *f,
                   gconstpointer data)
{
  g_autoptr(MitogenContext) first = NULL;
  g_autoptr(MitogenContext) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *home = NULL, *cached = NULL, *tmp = NULL;
  g_autofree gchar *stale = NULL, *recent = NULL;

  if (!f->sshd)
    return;
  home = g_build_filename (f->root, "home", USER, NULL);
  cached = g_build_filename (home, ".cache", "mitogen",
                             mitogen_agent_bundle_get_hash (f->bundle),
                             "mitogen-agent", NULL);

  /* Other versions' bundles: a stale one goes when this one is stored,
   * a recent one stays. */
  {
    g_autofree gchar *dot_cache = g_build_filename (home, ".cache", NULL);
    g_autofree gchar *cache = g_build_filename (dot_cache, "mitogen", NULL);
    struct passwd *pw = getpwnam (USER);

    g_assert_cmpint (g_mkdir_with_parents (cache, 0700), ==, 0);
    g_assert_cmpint (chown (dot_cache, pw->pw_uid, pw->pw_gid), ==, 0);
    g_assert_cmpint (chown (cache, pw->pw_uid, pw->pw_gid), ==, 0);
    stale = plant_bundle (cache, 'a', 2 * 24 * 60 * 60);
    recent = plant_bundle (cache, 'b', 60);
  }

  first = connect (f, &error);
  g_assert_no_error (error);
  g_assert_cmpint (remote_pid (first), >, 0);
  g_assert_true (g_file_test (cached, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (recent, G_FILE_TEST_IS_DIR));
  shutdown_context (first);

  /* With nothing writable left, only the cached copy can start. */
  tmp = g_build_filename (f->root, "tmp", NULL);
  g_assert_cmpint (g_chmod (tmp, 0755), ==, 0);
  g_assert_cmpint (g_chmod (home, 0555), ==, 0);
  second = connect (f, &error);
  g_assert_no_error (error);
  g_assert_cmpint (remote_pid (second), >, 0);
  shutdown_context (second);
}

static guint
count_agent_dirs (const gchar *tmp)
{
  g_autoptr(GDir) dir = g_dir_open (tmp, 0, NULL);
  const gchar *name;
  guint n = 0;

  while (dir && (name = g_dir_read_name (dir)))
    n += g_str_has_prefix (name, "mitogen-");
  return n;
}

static void
test_read_only (Fixture *f,
                gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *tmp = NULL;
  gint64 deadline;

  if (!f->sshd)
    return;
  tmp = g_build_filename (f->root, "tmp", NULL);
  ctx = connect (f, &error);
  g_assert_no_error (error);
  g_assert_cmpint (remote_pid (ctx), >, 0);
  /* Nothing could be cached; the agent runs from a temporary copy … */
  g_assert_cmpuint (count_agent_dirs (tmp), ==, 1);
  shutdown_context (ctx);

  /* … which it removes as it exits, a moment after the link closes. */
  deadline = g_get_monotonic_time () + MITOGEN_TEST_WAIT;
  while (count_agent_dirs (tmp) > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (G_USEC_PER_SEC / 100);
    }
}

static void
assert_fails_quickly (Fixture *f,
                      const gchar *needle)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  ctx = connect (f, &error);
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_test_message ("error: %s", error->message);
  g_assert_nonnull (strstr (error->message, needle));
  g_assert_cmpint (g_get_monotonic_time () - start, <, QUICK_USEC);
}

static void
test_full_disk (Fixture *f,
                gconstpointer data)
{
  if (!f->sshd)
    return;
  assert_fails_quickly (f, "No space left on device");
}

static void
test_other_architecture (Fixture *f,
                         gconstpointer data)
{
  if (!f->sshd)
    return;
  assert_fails_quickly (f, "another architecture");
}

int
main (int argc,
      char **argv)
{
  /* Before any thread: a mount namespace cannot be entered by a process
   * that shares its filesystem context with threads. */
  in_own_namespace = getuid () == 0 && unshare (CLONE_NEWNS) == 0 &&
                     mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;

  g_test_init (&argc, &argv, NULL);
  g_test_add ("/zero-install/minimal-root", Fixture,
              GUINT_TO_POINTER (ROOT_WRITABLE_HOME), setup, test_minimal_root, teardown);
  g_test_add ("/zero-install/read-only", Fixture,
              GUINT_TO_POINTER (ROOT_READ_ONLY), setup, test_read_only, teardown);
  g_test_add ("/zero-install/full-disk", Fixture,
              GUINT_TO_POINTER (ROOT_READ_ONLY | ROOT_TINY_TMP), setup, test_full_disk,
              teardown);
  g_test_add ("/zero-install/other-architecture", Fixture,
              GUINT_TO_POINTER (ROOT_NO_LOADER), setup, test_other_architecture, teardown);
  return g_test_run ();
}
