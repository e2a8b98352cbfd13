/* fuzz-manifest.c — the manifest CSV parser, then every accessor on what it accepted. */
#include "config.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_init ();
  GError *error = NULL;
  M3retManifest *m = m3ret_manifest_load_data ((const gchar *) data, size, "input.csv",
                                               "/nonexistent", &error);
  fuzz_check_result (m != NULL, error, "input.csv");
  if (m == NULL)
    return 0;
  for (guint i = 0; i < m3ret_manifest_size (m); i++) {
    m3ret_manifest_get_path (m, i);
    m3ret_manifest_get_written_path (m, i);
    m3ret_manifest_get_label (m, i);
    m3ret_manifest_get_column (m, i, "modality");
    m3ret_manifest_get_layout (m, i);
  }
  const gchar *first = m3ret_manifest_size (m) ? m3ret_manifest_get_modality (m, 0) : NULL;
  M3retManifest *some = m3ret_manifest_filter (m, "modality", first ? first : "");
  m3ret_manifest_free (some);
  m3ret_manifest_free (m);
  return 0;
}
