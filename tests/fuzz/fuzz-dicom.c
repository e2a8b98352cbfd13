/* fuzz-dicom.c — the modalities' DICOM reader (dicom-guard.c's walk, then GDCM). */
#include "config.h"

#include "fuzz-common.h"
#include "m3ret-readers.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const gchar *path = fuzz_temp_file (data, size, "input.dcm");
  GError *error = NULL;
  /* The probe's header read, then the decode in both intensity units. */
  const gchar *plugin = m3ret_readers_dicom_plugin_of (path, &error);
  fuzz_check_result (plugin != NULL, error, path);
  error = NULL;
  const M3retReadersDicomUnits units[] = { M3RET_READERS_DICOM_MODALITY_UNITS,
                                           M3RET_READERS_DICOM_UNIT_RANGE };
  for (guint i = 0; i < G_N_ELEMENTS (units); i++) {
    M3retVolume *volume = m3ret_readers_dicom_read (path, fuzz_limits (), units[i], NULL, &error);
    fuzz_check_result (volume != NULL, error, path);
    error = NULL;
    m3ret_volume_free (volume);
  }
  return 0;
}
