/* fuzz-png.c — the modalities' PNG reader (libpng behind our checks). */
#include "config.h"

#include "fuzz-common.h"
#include "modcommon.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const gchar *path = fuzz_temp_file (data, size, "input.png");
  GError *error = NULL;
  McPngInfo info;
  /* A small limit keeps the fuzzer fast; the limit check itself is fuzzed. */
  M3retVolume *volume = mc_png_read (path, 1u << 20, &info, &error);
  fuzz_check_result (volume != NULL, error, path);
  m3ret_volume_free (volume);
  return 0;
}
