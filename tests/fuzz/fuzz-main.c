/* fuzz-main.c: libFuzzer's loop, run on the broker thread
 *
 * Linked with libFuzzer's no-main runtime in place of its main(): the
 * loop runs inside a function the broker thread was given, so that each
 * input reaches the router on the thread streams deliver on, without a
 * thread switch per input. libFuzzer exits the process when done.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <stdlib.h>

#include "fuzz-common.h"

int LLVMFuzzerRunDriver (int *argc,
                         char ***argv,
                         int (*callback) (const uint8_t *data, size_t size));

typedef struct
{
  int argc;
  char **argv;
} Args;

static void
run_driver (gpointer data)
{
  Args *args = data;

  exit (LLVMFuzzerRunDriver (&args->argc, &args->argv, LLVMFuzzerTestOneInput));
}

int
main (int argc, char **argv)
{
  Args args = { argc, argv };

  fuzz_run_on_broker (run_driver, &args);
  return 1;
}
