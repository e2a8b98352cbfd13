/* fuzz-nifti.c — the modalities' NIfTI-1 reader (nifticlib behind our header checks). */
#include "config.h"

#include "fuzz-common.h"
#include "m3ret-readers.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* nifticlib picks gzip by the name: name the file after its first bytes. */
  gboolean gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  const gchar *path = fuzz_temp_file (data, size, gz ? "input.nii.gz" : "input.nii");
  GError *error = NULL;
  /* The second volume too when there is one: the offset arithmetic differs. */
  for (guint64 v = 0; v < 2; v++) {
    M3retReadersNiftiInfo info;
    M3retVolume *volume = m3ret_readers_nifti_read (path, v, fuzz_limits (), &info, &error);
    fuzz_check_result (volume != NULL, error, path);
    error = NULL;
    gboolean more = volume != NULL && info.n_volumes > v + 1;
    m3ret_volume_free (volume);
    if (!more)
      break;
  }
  return 0;
}
