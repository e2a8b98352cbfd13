/* fuzz-index.c — index files: the core container, then the payload of the
 * retriever it names (flat or hnsw; others are read as flat), then one
 * search, which walks whatever graph the payload built.
 *
 * The container's CRC would stop nearly every mutation at the door, so the
 * target rewrites it to match: what is fuzzed is everything behind it. */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"

#define HEADER_SIZE 64
#define TRAILER_SIZE 24

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  M3retRegistry *registry = fuzz_registry ();
  g_autofree guint8 *bytes = g_memdup2 (data, size);
  const gchar *name = "flat";
  if (size >= HEADER_SIZE + TRAILER_SIZE) {
    guint32 crc = m3ret_crc32_update (0, bytes, size - 8);
    for (gint i = 0; i < 4; i++)
      bytes[size - 8 + i] = (crc >> (8 * i)) & 0xff;
    if (memcmp (bytes + 24, "hnsw", 5) == 0)
      name = "hnsw";
  }
  const M3retPlugin *plugin = m3ret_registry_lookup (registry, M3RET_PLUGIN_RETRIEVER, name);
  if (plugin == NULL)
    g_error ("retriever plugin '%s' not found on $M3RET_PLUGIN_PATH", name);
  GError *error = NULL;
  M3retConfig *config =
    m3ret_config_new_defaults ("retriever", m3ret_plugin_get_desc (plugin)->keys, &error);
  g_assert_no_error (error);
  const gchar *path = fuzz_temp_file (bytes, size, "input.index");
  M3retIndex *index = m3ret_index_load (plugin, config, path, 1, &error);
  fuzz_check_result (index != NULL, error, path);
  if (index != NULL && m3ret_index_count (index) > 0) {
    guint dim = m3ret_index_dim (index);
    if (dim <= 4096) {
      g_autofree gfloat *query = g_new0 (gfloat, dim);
      query[0] = 1.0f;
      gint64 ids[3];
      gfloat scores[3];
      error = NULL;
      gboolean ok = m3ret_index_search (index, query, 1, 3, NULL, ids, scores, &error);
      fuzz_check_result (ok, error, ""); /* search errors need not name the file */
      for (gint i = 0; ok && i < 3; i++)
        if (ids[i] < -1 || ids[i] >= (gint64) m3ret_index_count (index))
          abort (); /* an id outside the index */
    }
  }
  m3ret_index_free (index);
  m3ret_config_unref (config);
  return 0;
}
