/* fuzz-common.h: what every fuzz target shares
 *
 * Each target is one file defining LLVMFuzzerTestOneInput() and
 * fuzz_target_seeds(). Built with clang's libFuzzer (meson -Dfuzzing=true)
 * it fuzzes; built with fuzz-replay.c it replays its corpus in the
 * ordinary suite, or writes its seeds.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <mitogen/mitogen.h>

G_BEGIN_DECLS

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Adds the target's seed inputs (GBytes*) to @seeds. */
void fuzz_target_seeds (GPtrArray *seeds);

/* Once per process: logs are dropped, but a warning from the library or
 * GLib, or a critical or error from anyone, aborts, so that the fuzzer
 * reports what a peer's input made the library complain about. */
void fuzz_init_logging (void);

/* The process's broker, made on first use (with the logging set up). */
MitogenBroker *fuzz_get_broker (void);

/* Runs @func on the broker thread and waits for it to return. Every
 * input runs there, as a stream's messages do; the fuzzing loop itself
 * runs there (fuzz-main.c), so that no input waits for a thread switch. */
void fuzz_run_on_broker (void (*func) (gpointer data), gpointer data);

G_END_DECLS
