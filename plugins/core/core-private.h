/* core-private.h: the functions of the core module
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen.h>

G_BEGIN_DECLS

/**
 * CORE_TEST_ERROR:
 *
 * The domain of the errors core.fail sets, for tests of error transport.
 */
#define CORE_TEST_ERROR (core_test_error_quark ())
#define CORE_TEST_ERROR_CODE 42

GQuark core_test_error_quark (void);

/* core.c */
GVariant *core_getpid      (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_hostname    (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_getenv      (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_sleep       (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_fail        (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_echo        (MitogenCall *call, GVariant *args, GError **error);

/* core-process.c */
GVariant *core_run         (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_run_stream  (MitogenCall *call, GVariant *args, GError **error);

/* core-files.c */
GVariant *core_read_file   (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_write_file  (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_stat        (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_fetch_file (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_make_dir    (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_make_symlink (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_send_file (MitogenCall *call, GVariant *args, GError **error);
GVariant *core_list_tree (MitogenCall *call, GVariant *args, GError **error);

G_END_DECLS
