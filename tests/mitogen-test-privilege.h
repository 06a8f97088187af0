/* mitogen-test-privilege.h: what the su and doas suites share
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen.h>

G_BEGIN_DECLS

#define MITOGEN_TEST_TARGET_USER "mitogen-test"
#define MITOGEN_TEST_ADMIN_USER "mitogen-test-admin"
#define MITOGEN_TEST_ADMIN_PASSWORD "s3cret-pass"

/* One transport's case: who asks (and knows the password of @target,
 * or is let through only with his own), and whom it reaches. */
typedef struct
{
  const gchar *transport;
  const gchar *program;
  const gchar *asker;
  const gchar *target;
} MitogenTestPrivilegeCase;

void mitogen_test_privilege_add_tests (const MitogenTestPrivilegeCase *tcase);

gboolean mitogen_test_privilege_can_run (const gchar *program);
void mitogen_test_become_user (const gchar *name);
GVariant *mitogen_test_privilege_options (const gchar *username,
                                          const gchar *password);
void mitogen_test_assert_runs_as (MitogenContext *ctx, const gchar *username);

G_END_DECLS
