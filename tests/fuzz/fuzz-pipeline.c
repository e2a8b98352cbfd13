/* fuzz-pipeline.c — pipeline .ini files: GKeyFile, our line index, every
 * plugin's key checks (the plugins on $M3RET_PLUGIN_PATH). */
#include "config.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  M3retRegistry *registry = fuzz_registry ();
  GError *error = NULL;
  M3retPipeline *p = m3ret_pipeline_load_data (registry, (const gchar *) data, size, "input.ini",
                                               "/nonexistent", &error);
  fuzz_check_result (p != NULL, error, "input.ini");
  m3ret_pipeline_free (p);
  return 0;
}
