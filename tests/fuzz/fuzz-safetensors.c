/* fuzz-safetensors.c — safetensors files: the JSON header, then every tensor it lists. */
#include "config.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const gchar *path = fuzz_temp_file (data, size, "input.safetensors");
  GError *error = NULL;
  M3retSafetensors *f = m3ret_safetensors_open (path, &error);
  fuzz_check_result (f != NULL, error, path);
  if (f == NULL)
    return 0;
  const GPtrArray *names = m3ret_safetensors_names (f);
  for (guint i = 0; i < names->len; i++) {
    gint64 shape[M3RET_SAFETENSORS_MAX_DIMS];
    guint n_dims = 0;
    if (!m3ret_safetensors_get_shape (f, names->pdata[i], shape, &n_dims))
      abort (); /* a listed name must have a shape */
    gsize n = 1;
    for (guint d = 0; d < n_dims; d++)
      n = shape[d] >= 0 && (guint64) shape[d] < (1u << 24) ? n * (gsize) shape[d] : 0;
    error = NULL;
    gfloat *values = m3ret_safetensors_read (f, names->pdata[i], MIN (n, 1u << 24), &error);
    fuzz_check_result (values != NULL, error, path);
    g_free (values);
  }
  m3ret_safetensors_get_metadata (f, "step");
  m3ret_safetensors_close (f);
  return 0;
}
