/* mitogen-test-sshd.h: a real sshd for the tests and benchmarks
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _MitogenTestSshd MitogenTestSshd;

gboolean         mitogen_test_sshd_can_run          (gchar **skip_reason);
MitogenTestSshd *mitogen_test_sshd_start            (const gchar *netns,
                                                     const gchar *listen_address,
                                                     const gchar *extra_config,
                                                     GError **error);
const gchar     *mitogen_test_sshd_get_address      (MitogenTestSshd *self);
guint16          mitogen_test_sshd_get_port         (MitogenTestSshd *self);
const gchar     *mitogen_test_sshd_get_netns        (MitogenTestSshd *self);
const gchar     *mitogen_test_sshd_get_client_key   (MitogenTestSshd *self);
const gchar     *mitogen_test_sshd_get_known_hosts  (MitogenTestSshd *self);
const gchar     *mitogen_test_sshd_get_dir          (MitogenTestSshd *self);
gchar           *mitogen_test_sshd_add_key          (MitogenTestSshd *self,
                                                     const gchar *name);
GVariant        *mitogen_test_sshd_options          (MitogenTestSshd *self,
                                                     const gchar *username,
                                                     const gchar *check_host_keys);
void             mitogen_test_sshd_stop             (MitogenTestSshd *self);

guint16          mitogen_test_sshd_free_port        (const gchar *netns,
                                                     const gchar *address);
gboolean         mitogen_test_sshd_run_in_netns     (const gchar *netns,
                                                     GThreadFunc func,
                                                     gpointer data,
                                                     gpointer *result,
                                                     GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenTestSshd, mitogen_test_sshd_stop)

G_END_DECLS
