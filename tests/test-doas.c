/* The doas transport against the real doas: a context as another user as
 * root and through a chain, and doas's password prompt answered, refused
 * or unanswerable (doas from mitogen-test-admin to mitogen-test with the
 * former's password, as /etc/doas.conf's rule wants). Needs root and the users
 * and rules that scripts/setup-test-env makes. */
#include "mitogen-test-privilege.h"

int
main (int argc, char *argv[])
{
  static const MitogenTestPrivilegeCase tcase = {
    "doas",
    "doas",
    MITOGEN_TEST_ADMIN_USER,
    MITOGEN_TEST_TARGET_USER,
  };

  g_test_init (&argc, &argv, NULL);
  mitogen_test_privilege_add_tests (&tcase);
  return g_test_run ();
}
