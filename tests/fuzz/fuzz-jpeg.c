/* fuzz-jpeg.c — the modalities' JPEG reader (libjpeg-turbo behind our checks). */
#include "config.h"

#include "fuzz-common.h"
#include "m3ret-readers.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const gchar *path = fuzz_temp_file (data, size, "input.jpg");
  GError *error = NULL;
  M3retReadersJpegInfo info;
  M3retVolume *volume = m3ret_readers_jpeg_read (path, fuzz_limits (), &info, &error);
  fuzz_check_result (volume != NULL, error, path);
  m3ret_volume_free (volume);
  return 0;
}
