/* fuzz-video.c — the modalities' video reader (FFmpeg demuxers and decoders
 * behind our two passes): probe, then decode the first, middle and last frames. */
#include "config.h"

#include "fuzz-common.h"
#include "m3ret-readers.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean started;
  if (!started) {
    m3ret_readers_video_global_init ();
    started = TRUE;
  }
  const gchar *path = fuzz_temp_file (data, size, "input.mp4");
  GError *error = NULL;
  M3retReadersVideoInfo info;
  gboolean ok = m3ret_readers_video_probe_file (path, fuzz_limits (), &info, &error);
  fuzz_check_result (ok, error, path);
  if (!ok)
    return 0;
  guint64 index[3] = { 0, info.frames / 2, info.frames - 1 };
  error = NULL;
  M3retVolume *volume = m3ret_readers_video_read (path, &info, index, 3, fuzz_limits (), &error);
  fuzz_check_result (volume != NULL, error, path);
  m3ret_volume_free (volume);
  m3ret_readers_video_info_clear (&info);
  return 0;
}
