/* fuzz-png.c — the modalities' PNG reader (libpng behind our checks). */
#include "config.h"

#include "fuzz-common.h"
#include "m3ret-readers.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const gchar *path = fuzz_temp_file (data, size, "input.png");
  GError *error = NULL;
  M3retReadersPngInfo info;
  M3retVolume *volume = m3ret_readers_png_read (path, fuzz_limits (), &info, &error);
  fuzz_check_result (volume != NULL, error, path);
  m3ret_volume_free (volume);
  return 0;
}
