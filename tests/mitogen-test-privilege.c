/* mitogen-test-privilege.c: what the su and doas suites share: whether
 * this machine can run them, becoming a test user, checking who a
 * context runs as.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-test-privilege.h"
#include "mitogen-test-util.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether @user may run the agent (the build tree must be readable). */
static gboolean
user_can_exec (const gchar *user, const gchar *agent)
{
  g_autofree gchar *runuser = g_find_program_in_path ("runuser");
  gint status = -1;

  return runuser
         && g_spawn_sync (
             NULL,
             (gchar *[]){ runuser, "-u", (gchar *) user, "--", "test", "-x",
                          (gchar *) agent, NULL },
             NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
             NULL, NULL, NULL, NULL, &status, NULL)
         && g_spawn_check_wait_status (status, NULL);
}

/* Skips the test, saying why, unless this machine can run it: root (as
 * in CI), @program, the users scripts/setup-test-env makes. */
gboolean
mitogen_test_privilege_can_run (const gchar *program)
{
  g_autofree gchar *path = g_find_program_in_path (program);
  const gchar *agent = g_getenv ("MITOGEN_AGENT");

  if (!path)
    {
      g_autofree gchar *why = g_strdup_printf (
          "%s is not installed: run scripts/install-deps", program);

      g_test_skip (why);
      return FALSE;
    }
  if (getuid () != 0)
    {
      g_test_skip ("needs root (as in CI)");
      return FALSE;
    }
  if (!getpwnam (MITOGEN_TEST_TARGET_USER)
      || !getpwnam (MITOGEN_TEST_ADMIN_USER))
    {
      g_test_skip ("the test users are missing: run scripts/setup-test-env");
      return FALSE;
    }
  if (!agent || !user_can_exec (MITOGEN_TEST_TARGET_USER, agent)
      || !user_can_exec (MITOGEN_TEST_ADMIN_USER, agent))
    {
      g_test_skip ("the agent is not executable by the test users "
                   "(MITOGEN_AGENT unset, runuser missing or the build tree "
                   "not world-readable?)");
      return FALSE;
    }
  return TRUE;
}

/* In a subprocess, becomes @name for good. */
void
mitogen_test_become_user (const gchar *name)
{
  struct passwd *pw = getpwnam (name);

  g_assert_nonnull (pw);
  g_assert_cmpint (setgroups (0, NULL), ==, 0);
  g_assert_cmpint (setgid (pw->pw_gid), ==, 0);
  g_assert_cmpint (setuid (pw->pw_uid), ==, 0);
}

GVariant *
mitogen_test_privilege_options (const gchar *username, const gchar *password)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "username", "s", username);
  g_variant_dict_insert (&dict, "connect-timeout", "d",
                         mitogen_test_scaled_seconds (20.0));
  if (password)
    g_variant_dict_insert (&dict, "password", "s", password);
  return g_variant_dict_end (&dict);
}

void
mitogen_test_assert_runs_as (MitogenContext *ctx, const gchar *username)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) result = NULL;
  g_autoptr (GVariant) out = NULL;
  g_autofree gchar *uid = NULL;
  gint status;
  struct passwd *pw = getpwnam (username);

  g_assert_nonnull (pw);
  result = mitogen_context_call (
      ctx, "core.run",
      g_variant_new ("(^asmaymsa{ss})", (const gchar *[]){ "id", "-u", NULL },
                     NULL, NULL, NULL),
      NULL, &error);
  g_assert_no_error (error);
  g_variant_get (result, "(i@ayay)", &status, &out, NULL);
  g_assert_cmpint (status, ==, 0);
  uid = g_strstrip (
      g_strndup (g_variant_get_data (out), g_variant_get_size (out)));
  g_assert_cmpint (atoi (uid), ==, (gint) pw->pw_uid);
}

typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
  MitogenContext *via;
  MitogenContext *ctx;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  mitogen_test_master_new (&f->broker, &f->router);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  mitogen_test_master_stop (f->broker, f->ctx);
  g_clear_object (&f->ctx);
  if (f->via)
    mitogen_test_master_stop (f->broker, f->via);
  g_clear_object (&f->via);
  mitogen_test_master_clear (&f->broker, &f->router);
}

/* Root needs no password (su) or has a rule that wants none (doas). */
static void
test_as_root (Fixture *f, gconstpointer data)
{
  const MitogenTestPrivilegeCase *tcase = data;
  g_autoptr (GError) error = NULL;

  if (!mitogen_test_privilege_can_run (tcase->program))
    return;
  f->ctx = mitogen_router_connect_context (
      f->router, tcase->transport,
      mitogen_test_privilege_options (MITOGEN_TEST_TARGET_USER, NULL), NULL,
      NULL, &error);
  g_assert_no_error (error);
  mitogen_test_assert_runs_as (f->ctx, MITOGEN_TEST_TARGET_USER);
}

/* local/TRANSPORT:USER: the hop is started by a child context. */
static void
test_chain (Fixture *f, gconstpointer data)
{
  const MitogenTestPrivilegeCase *tcase = data;
  g_autoptr (GError) error = NULL;

  if (!mitogen_test_privilege_can_run (tcase->program))
    return;
  f->via = mitogen_router_connect_context (f->router, "local", NULL, NULL, NULL,
                                           &error);
  g_assert_no_error (error);
  f->ctx = mitogen_router_connect_context (
      f->router, tcase->transport,
      mitogen_test_privilege_options (MITOGEN_TEST_TARGET_USER, NULL), f->via,
      NULL, &error);
  g_assert_no_error (error);
  mitogen_test_assert_runs_as (f->ctx, MITOGEN_TEST_TARGET_USER);
}

static void
test_unknown_user (Fixture *f, gconstpointer data)
{
  const MitogenTestPrivilegeCase *tcase = data;
  g_autoptr (GError) error = NULL;

  if (!mitogen_test_privilege_can_run (tcase->program))
    return;
  f->ctx = mitogen_router_connect_context (
      f->router, tcase->transport,
      mitogen_test_privilege_options ("mitogen-no-such-user", NULL), NULL, NULL,
      &error);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (
      strstr (error->message, "unknown user mitogen-no-such-user"));
  g_assert_null (f->ctx);
}

/* A pattern that is no regular expression fails the connect, naming the
 * property, instead of never matching. */
static void
test_bad_pattern (Fixture *f, gconstpointer data)
{
  const MitogenTestPrivilegeCase *tcase = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) options = NULL;
  GVariantDict dict;

  if (!mitogen_test_privilege_can_run (tcase->program))
    return;
  /* The dict copies what it starts from, without sinking it. */
  options = g_variant_ref_sink (
      mitogen_test_privilege_options (MITOGEN_TEST_TARGET_USER, NULL));
  g_variant_dict_init (&dict, options);
  g_variant_dict_insert (&dict, "prompt-patterns", "^as",
                         (const gchar *[]){ "password(", NULL });
  f->ctx = mitogen_router_connect_context (f->router, tcase->transport,
                                           g_variant_dict_end (&dict), NULL,
                                           NULL, &error);
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "prompt-patterns"));
  g_assert_null (f->ctx);
}

/* su and doas load side by side, each with its own copy of the shared
 * base; the options keep their names and defaults. */
static void
test_properties (Fixture *f, gconstpointer data)
{
  const MitogenTestPrivilegeCase *tcase = data;
  MitogenTransportRegistry *registry
      = mitogen_transport_registry_get_default ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *path_property = g_strdup_printf ("%s-path", tcase->program);
  g_autofree gchar *path = NULL;
  g_autofree gchar *username = NULL;
  g_auto (GStrv) prompts = NULL;
  g_autoptr (GObject) stream = NULL;
  GType su, doas;

  su = mitogen_transport_registry_get_stream_type (registry, "su", &error);
  g_assert_no_error (error);
  doas = mitogen_transport_registry_get_stream_type (registry, "doas", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (su, !=, doas);
  g_assert_cmpuint (g_type_parent (su), !=, g_type_parent (doas));
  g_assert_true (g_type_is_a (su, MITOGEN_TYPE_PARENT_STREAM));
  g_assert_true (g_type_is_a (doas, MITOGEN_TYPE_PARENT_STREAM));

  stream
      = g_object_new (g_str_equal (tcase->transport, "su") ? su : doas, NULL);
  g_object_get (stream, path_property, &path, "username", &username,
                "prompt-patterns", &prompts, NULL);
  g_assert_cmpstr (path, ==, tcase->program);
  g_assert_cmpstr (username, ==, "root");
  g_assert_cmpstrv (prompts, ((const gchar *[]){ "password: ?$", NULL }));
  g_clear_pointer (&path, g_free);
  g_object_set (stream, path_property, "/usr/bin/mitogen-test", NULL);
  g_object_get (stream, path_property, &path, NULL);
  g_assert_cmpstr (path, ==, "/usr/bin/mitogen-test");
}

/* In a subprocess run as the asker: connects with @password and checks
 * the error has @expected (%NULL: succeeds) and came before the connect
 * timeout. */
static void
connect_as_asker (Fixture *f,
                  const MitogenTestPrivilegeCase *tcase,
                  const gchar *password,
                  const gchar *expected)
{
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  mitogen_test_become_user (tcase->asker);
  f->ctx = mitogen_router_connect_context (
      f->router, tcase->transport,
      mitogen_test_privilege_options (tcase->target, password), NULL, NULL,
      &error);
  if (!expected)
    {
      g_assert_no_error (error);
      mitogen_test_assert_runs_as (f->ctx, tcase->target);
      return;
    }
  g_test_message ("%s", error ? error->message : "(no error)");
  g_assert_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, expected));
  if (password)
    g_assert_null (strstr (error->message, password));
  g_assert_null (f->ctx);
  /* Refused, not timed out. */
  g_assert_cmpint (g_get_monotonic_time () - start, <,
                   mitogen_test_scaled (10 * G_USEC_PER_SEC));
}

static void
run_in_subprocess (const MitogenTestPrivilegeCase *tcase)
{
  if (!mitogen_test_privilege_can_run (tcase->program))
    return;
  g_test_trap_subprocess (NULL, mitogen_test_scaled (60 * G_USEC_PER_SEC),
                          G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_right_password (Fixture *f, gconstpointer data)
{
  if (g_test_subprocess ())
    connect_as_asker (f, data, MITOGEN_TEST_ADMIN_PASSWORD, NULL);
  else
    run_in_subprocess (data);
}

static void
test_wrong_password (Fixture *f, gconstpointer data)
{
  const MitogenTestPrivilegeCase *tcase = data;
  g_autofree gchar *expected = NULL;

  if (g_test_subprocess ())
    {
      expected = g_strdup_printf ("%s: incorrect password for %s",
                                  tcase->transport, tcase->target);
      connect_as_asker (f, tcase, "not-the-password", expected);
    }
  else
    run_in_subprocess (tcase);
}

static void
test_no_password (Fixture *f, gconstpointer data)
{
  const MitogenTestPrivilegeCase *tcase = data;
  g_autofree gchar *expected = NULL;

  if (g_test_subprocess ())
    {
      expected = g_strdup_printf ("%s asked for a password but none was given",
                                  tcase->transport);
      connect_as_asker (f, tcase, NULL, expected);
    }
  else
    run_in_subprocess (tcase);
}

/**
 * mitogen_test_privilege_add_tests:
 * @tcase: (not nullable): the transport, living as long as the tests
 *
 * Adds /TRANSPORT/as-root, chain, unknown-user, bad-pattern, properties,
 * right-password, wrong-password and no-password.
 */
void
mitogen_test_privilege_add_tests (const MitogenTestPrivilegeCase *tcase)
{
  static const struct
  {
    const gchar *name;
    void (*func) (Fixture *, gconstpointer);
  } tests[] = {
    { "as-root", test_as_root },
    { "chain", test_chain },
    { "unknown-user", test_unknown_user },
    { "bad-pattern", test_bad_pattern },
    { "properties", test_properties },
    { "right-password", test_right_password },
    { "wrong-password", test_wrong_password },
    { "no-password", test_no_password },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (tests); i++)
    {
      g_autofree gchar *path
          = g_strdup_printf ("/%s/%s", tcase->transport, tests[i].name);

      g_test_add (path, Fixture, tcase, setup, tests[i].func, teardown);
    }
}
