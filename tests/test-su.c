/* The su transport against the real su: a context as another user as
 * root and through a chain, and su's password prompt answered, refused
 * or unanswerable (su from mitogen-test to mitogen-test-admin with the latter's
 * password). Needs root and the users and rules that scripts/setup-test-env
 * makes. */
#include "mitogen-test-privilege.h"

int
main (int argc, char *argv[])
{
  static const MitogenTestPrivilegeCase tcase = {
    "su",
    "su",
    MITOGEN_TEST_TARGET_USER,
    MITOGEN_TEST_ADMIN_USER,
  };

  g_test_init (&argc, &argv, NULL);
  mitogen_test_privilege_add_tests (&tcase);
  return g_test_run ();
}
