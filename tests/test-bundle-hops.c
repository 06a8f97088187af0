/* Hops started from an agent that itself runs from an uploaded bundle
 * (ssh:H/local, ssh:H/sudo:U) run that same bundle, whatever is installed
 * on the far side: there, the master's agent path (MITOGEN_AGENT, set by
 * the test sshd for its sessions) holds a program that is not this agent
 * and exits 127, as an agent of another build or prefix that cannot find
 * its libraries does.
 *
 * Needs what test-ssh needs, and the mitogen-test user for sudo
 * (scripts/setup-test-env); skips otherwise. */
#include <mitogen/mitogen.h>
#include "mitogen-test-util.h"
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-test-sshd.h"

typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
  gchar *dir;
  MitogenTestSshd *sshd;
  MitogenContext *hop;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autofree gchar *skip = NULL, *broken = NULL, *extra = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) base = NULL;
  GVariantDict dict;

  mitogen_test_master_new (&f->broker, &f->router);
  if (!mitogen_test_sshd_can_run (&skip))
    {
      g_test_skip (skip);
      return;
    }
  f->dir = g_dir_make_tmp ("mitogen-bundle-hops-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (f->dir, 0755), ==, 0);
  broken = g_build_filename (f->dir, "not-this-agent", NULL);
  g_file_set_contents (
      broken, "#!/bin/sh\necho 'not this agent' >&2\nexit 127\n", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (broken, 0755), ==, 0);
  /* A Match block, since the sshd's own SetEnv comes first. */
  extra = g_strdup_printf ("Match all\n  SetEnv SHLVL=1 MITOGEN_AGENT=%s\n",
                           broken);
  f->sshd = mitogen_test_sshd_start (NULL, "127.0.0.1", extra, &error);
  g_assert_no_error (error);

  /* Sunk first: g_variant_dict_init() copies a floating value without
   * sinking it. */
  base = g_variant_ref_sink (mitogen_test_sshd_options (f->sshd, "root", "ignore"));
  g_variant_dict_init (&dict, base);
  g_variant_dict_insert (&dict, "upload-agent", "b", TRUE);
  f->hop = mitogen_test_connect (f->router, "ssh", g_variant_dict_end (&dict),
                                 NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  mitogen_test_master_stop (f->broker, f->hop);
  g_clear_object (&f->hop);
  mitogen_test_master_clear (&f->broker, &f->router);
  g_clear_pointer (&f->sshd, mitogen_test_sshd_stop);
  if (f->dir)
    {
      g_autofree gchar *broken
          = g_build_filename (f->dir, "not-this-agent", NULL);

      g_unlink (broken);
      g_rmdir (f->dir);
    }
  g_free (f->dir);
}

static gchar *
whoami (MitogenContext *ctx)
{
  g_autoptr (GVariant) result = NULL, out = NULL;
  gint status;

  result = mitogen_test_call_ok (
      ctx, "core.run",
      g_variant_new ("(^asmaymsa{ss})", (const gchar *[]){ "id", "-un", NULL },
                     NULL, NULL, NULL));
  g_variant_get (result, "(i@ayay)", &status, &out, NULL);
  g_assert_cmpint (status, ==, 0);
  return g_strstrip (
      g_strndup (g_variant_get_data (out), g_variant_get_size (out)));
}

static void
assert_hop_works (Fixture *f,
                  const gchar *transport,
                  GVariant *options,
                  const gchar *user)
{
  g_autoptr (MitogenContext) ctx = NULL;
  g_autofree gchar *who = NULL;

  ctx = mitogen_test_connect (f->router, transport, options, f->hop);
  g_assert_cmpint (mitogen_test_remote_pid (ctx), !=,
                   mitogen_test_remote_pid (f->hop));
  who = whoami (ctx);
  g_assert_cmpstr (who, ==, user);
  mitogen_test_shutdown_ok (ctx);
}

static void
test_local (Fixture *f, gconstpointer data)
{
  if (!f->hop)
    return;
  assert_hop_works (f, "local", NULL, "root");
}

static void
test_sudo (Fixture *f, gconstpointer data)
{
  GVariantDict dict;

  if (!f->hop)
    return;
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "username", "s", "mitogen-test");
  assert_hop_works (f, "sudo", g_variant_dict_end (&dict), "mitogen-test");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/bundle-hops/ssh-then-local", test_local);
  ADD ("/bundle-hops/ssh-then-sudo", test_sudo);
  return g_test_run ();
}
