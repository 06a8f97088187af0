/* big.c: a test-only function module of about 1 MiB, for measuring module
 * transfer
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>

/* Initialised, so that it lands in .rodata and the file, not .bss; kept
 * by `used` even though only its size is asked for. */
__attribute__ ((used)) static const guint8 blob[1 << 20] = { 1 };

static GVariant *
big_size (MitogenCall *call,
          GVariant *args,
          GError **error)
{
  /* Read through a volatile pointer: the bytes must really be there. */
  if (((const volatile guint8 *) blob)[0] != 1)
    {
      g_set_error (error, MITOGEN_CALL_ERROR, MITOGEN_CALL_ERROR_REMOTE,
                   "big.so's blob is not what it was built with");
      return NULL;
    }
  return g_variant_new_uint64 (sizeof blob);
}

static const MitogenFunctionInfo big_functions[] = {
  { "size", "()", "t", big_size, "Return the size of the module's blob (for tests)" },
  { NULL }
};

MITOGEN_MODULE_DEFINE ("big", NULL, big_functions);
