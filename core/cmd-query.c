/* cmd-query.c — `m3ret query`: the most similar cases of given files. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "m3ret-embedder.h"
#include "m3ret-index.h"
#include "m3ret-limits.h"
#include "m3ret-montage.h"

/* A one-column manifest of the files named on the command line (their
 * modality is probed). */
static M3retManifest *
manifest_of_files (gchar **files, gint n, GError **error)
{
  g_autoptr (GString) csv = g_string_new ("path\n");
  for (gint i = 0; i < n; i++) {
    if (!g_file_test (files[i], G_FILE_TEST_IS_REGULAR)) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file", files[i]);
      return NULL;
    }
    gchar **parts = g_strsplit (files[i], "\"", -1);
    g_autofree gchar *escaped = g_strjoinv ("\"\"", parts);
    g_strfreev (parts);
    g_string_append_printf (csv, "\"%s\"\n", escaped);
  }
  return m3ret_manifest_load_data (csv->str, (gssize) csv->len, "(command line)", NULL, error);
}

gint
cmd_query (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  g_autofree gchar *checkpoint = NULL, *index_path = NULL, *montage = NULL;
  gint k = 10;
  GOptionEntry entries[] = {
    { "checkpoint", 'c', 0, G_OPTION_ARG_FILENAME, &checkpoint, "Weights (.safetensors), or 'random'", "CKPT" },
    { "index", 'i', 0, G_OPTION_ARG_FILENAME, &index_path, "Index written by m3ret index", "INDEX" },
    { "k", 'k', 0, G_OPTION_ARG_INT, &k, "Neighbours per query (default 10)", "K" },
    { "montage", 0, 0, G_OPTION_ARG_FILENAME, &montage, "Draw queries and neighbours into a PNG", "OUT.png" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PIPELINE.ini FILE... - find similar cases");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "query", &argc, &argv))
    return M3RET_EXIT_USAGE;
  if (argc < 3 || !checkpoint || !index_path || k < 1 || k > 10000) {
    fprintf (stderr, "m3ret query: give PIPELINE.ini, --checkpoint, --index and at least one FILE "
                     "(-k between 1 and 10000)\n");
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }

  GError *error = NULL;
  gint status = M3RET_EXIT_OK;
  M3retRegistry *registry = cli_registry (&common);
  M3retPipeline *pipeline = NULL;
  M3retEmbedder *embedder = NULL;
  M3retIndex *index = NULL;
  M3retManifest *manifest = NULL;
  M3retEmbeddings *queries = NULL;
  g_autofree gint64 *ids = NULL;
  g_autofree gfloat *scores = NULL;
  g_autofree M3retMontageCell *cells = NULL;

  if ((pipeline = m3ret_pipeline_load (registry, argv[1], &error)) == NULL)
    goto fail;
  guint threads = (guint) m3ret_config_get_int (m3ret_pipeline_get_config (pipeline, "pipeline"), "threads");
  M3retLimits limits;
  m3ret_limits_from_pipeline (&limits, pipeline);
  if (!m3ret_limits_check_file (&limits, index_path, &error))
    goto fail;
  index = m3ret_index_load (m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_RETRIEVER),
                            m3ret_pipeline_get_config (pipeline, "retriever"), index_path, threads,
                            &error);
  if (index == NULL)
    goto fail;
  if ((embedder = m3ret_embedder_new (registry, pipeline, checkpoint, &error)) == NULL)
    goto fail;
  if (m3ret_index_dim (index) != m3ret_embedder_get_dim (embedder)) {
    g_set_error (&error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "%s: holds %u-wide vectors, the encoder makes %u-wide ones", index_path,
                 m3ret_index_dim (index), m3ret_embedder_get_dim (embedder));
    goto fail;
  }
  if ((manifest = manifest_of_files (argv + 2, argc - 2, &error)) == NULL)
    goto fail;
  queries = m3ret_embedder_embed_manifest (embedder, manifest, 16, "query", FALSE, &error);
  if (queries == NULL)
    goto fail;
  gsize nq = queries->n_rows;
  ids = g_new (gint64, nq * k);
  scores = g_new (gfloat, nq * k);
  if (!m3ret_index_search (index, queries->data, nq, (guint) k, NULL, ids, scores, &error))
    goto fail;

  const M3retItems *items = m3ret_index_get_items (index);
  cells = g_new0 (M3retMontageCell, nq * (k + 1));
  for (gsize q = 0; q < nq; q++) {
    printf ("query %s (%s)\n", queries->items->paths[q], queries->items->modalities[q]);
    printf ("  %4s  %6s  %-10s  %-10s  %s\n", "rank", "score", "modality", "label", "path");
    M3retMontageCell *row = &cells[q * (k + 1)];
    row[0] = (M3retMontageCell) { queries->items->paths[q], queries->items->modalities[q], "", NAN };
    for (gint r = 0; r < k; r++) {
      gint64 id = ids[q * k + r];
      if (id < 0)
        break;
      const gchar *path = items ? items->paths[id] : NULL;
      const gchar *modality = items ? items->modalities[id] : "";
      const gchar *label = items ? items->labels[id] : "";
      g_autofree gchar *row_name = path ? g_strdup (path) : g_strdup_printf ("row %" G_GINT64_FORMAT, id);
      printf ("  %4d  %6.3f  %-10s  %-10s  %s\n", r + 1, scores[q * k + r], modality, label, row_name);
      if (path != NULL)
        row[r + 1] = (M3retMontageCell) { path, modality, label, scores[q * k + r] };
    }
  }
  fflush (stdout);
  if (montage != NULL) {
    M3retConfig *input = m3ret_pipeline_get_config (pipeline, "input");
    const gint64 *tubelet = m3ret_config_get_ints (input, "tubelet", NULL);
    if (!m3ret_montage_write (montage, m3ret_embedder_get_modalities (embedder),
                              (guint) m3ret_config_get_int (input, "size"),
                              (guint) m3ret_config_get_int (input, "depth"), (guint) tubelet[0],
                              cells, (guint) nq, (guint) k + 1, &error))
      goto fail;
    fprintf (stderr, "m3ret query: montage in %s\n", montage);
  }
  goto out;
fail:
  status = cli_fail (error);
  g_clear_error (&error);
out:
  m3ret_embeddings_free (queries);
  m3ret_manifest_free (manifest);
  m3ret_index_free (index);
  m3ret_embedder_free (embedder);
  m3ret_pipeline_free (pipeline);
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  return status;
}
