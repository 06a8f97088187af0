/* bench-common.h: what every benchmark times with and takes medians of
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen.h>

G_BEGIN_DECLS

double          bench_now_us                 (void);
double          bench_median                 (double *samples,
                                              gsize n);
gboolean        bench_parse_options          (int *argc,
                                              char ***argv,
                                              const gchar *summary,
                                              const GOptionEntry *entries);
void            bench_default_to_build_tree  (void);

gboolean        bench_read_exactly           (int fd,
                                              guint8 *buf,
                                              gsize len);
gboolean        bench_write_exactly          (int fd,
                                              const guint8 *buf,
                                              gsize len);

double          bench_raw_bulk               (int fd,
                                              gint64 total,
                                              gsize chunk_size);

MitogenContext *bench_connect                (MitogenRouter *router,
                                              const gchar *transport,
                                              GVariant *options,
                                              MitogenContext *via);
gint32          bench_call_getpid            (MitogenContext *ctx);
void            bench_shutdown_and_wait      (MitogenContext *ctx,
                                              GPid pid,
                                              guint timeout_ms);
double          bench_round_trip             (MitogenContext *ctx,
                                              double *samples,
                                              gint rounds,
                                              gint warmup);

G_END_DECLS
