/* fuzz-npy.c — .npy embeddings: the header dictionary and the data behind it. */
#include "config.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_init ();
  GError *error = NULL;
  gsize rows = 0, cols = 0;
  gfloat *values = m3ret_npy_decode_f32 (data, size, "input.npy", &rows, &cols, &error);
  fuzz_check_result (values != NULL || (error == NULL && rows * cols == 0), error, "input.npy");
  g_free (values);
  return 0;
}
