/* cmd-index.c — `m3ret index`: build the pipeline's retriever index from embeddings. */
#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "m3ret-embeddings.h"
#include "m3ret-transform.h"
#include "m3ret-fileio.h"
#include "m3ret-index.h"
#include "m3ret-limits.h"

static gboolean
build_index (M3retPipeline *pipeline, const gchar *pipeline_path, const gchar *npy_path,
             const gchar *out_path, GError **error)
{
  g_autofree gchar *sidecar = m3ret_embeddings_sidecar_path (npy_path);
  g_autoptr (M3retRunFiles) files = m3ret_run_files_new ();
  cli_add_pipeline_inputs (files, pipeline_path, pipeline);
  m3ret_run_files_add_input (files, npy_path, "--embeddings");
  m3ret_run_files_add_input (files, sidecar, "sidecar of --embeddings");
  m3ret_run_files_add_output (files, out_path, "index", "--out");
  if (!m3ret_run_files_check (files, error))
    return FALSE;
  const M3retPlugin *plugin = m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_RETRIEVER);
  M3retConfig *config = m3ret_pipeline_get_config (pipeline, "retriever");
  guint threads = (guint) m3ret_pipeline_get_settings (pipeline)->pipeline.threads;
  M3retLimits limits;
  m3ret_limits_init (&limits, &m3ret_pipeline_get_settings (pipeline)->data);
  if (!m3ret_limits_check_file (&limits, npy_path, error))
    return FALSE;
  g_autoptr (M3retEmbeddings) e = m3ret_embeddings_load (npy_path, FALSE, error);
  if (e == NULL)
    return FALSE;
  if (e->n_rows == 0) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                 "%s: holds no rows; nothing to index", npy_path);
    return FALSE;
  }
  /* Embeddings should arrive normalised; a stray norm would silently skew cosine. */
  if (!m3ret_vectors_normalize (e->data, e->n_rows, e->dim, npy_path, error))
    return FALSE;
  gint64 start = g_get_monotonic_time ();
  /* [retriever] whiten: learned from these rows, kept in the index */
  const M3retRetrieverSettings *rs = &m3ret_pipeline_get_settings (pipeline)->retriever;
  M3retTransform *transform = m3ret_transform_fit ((M3retTransformKind) rs->whiten,
                                                   (guint) rs->whiten_dim, e->data, e->n_rows,
                                                   e->dim, error);
  if (transform == NULL) {
    g_prefix_error (error, "%s: [retriever] whiten=%s: ", npy_path,
                    m3ret_transform_kind_name ((M3retTransformKind) rs->whiten));
    return FALSE;
  }
  g_autoptr (M3retIndex) index = m3ret_index_new_transformed (plugin, config, e->dim, transform,
                                                              threads, error);
  if (index == NULL || !m3ret_index_add (index, e->data, e->n_rows, error))
    return FALSE;
  gboolean bare = e->items == NULL;
  m3ret_index_set_items (index, g_steal_pointer (&e->items));
  m3ret_index_set_provenance (index, e->provenance);
  /* Temporaries of an earlier, killed `m3ret index` of the same file. */
  m3ret_atomic_file_remove_stale (out_path);
  if (!m3ret_index_save (index, out_path, error))
    return FALSE;
  if (bare)
    fprintf (stderr, "m3ret index: note: no sidecar %s, so results will show row numbers only\n",
             sidecar);
  if (e->provenance == NULL)
    fprintf (stderr, "m3ret index: note: %s does not record which encoder made it, so query "
                     "cannot check its weights against the index\n", npy_path);
  const M3retTransform *t = m3ret_index_get_transform (index);
  g_autofree gchar *post = t == NULL ? g_strdup ("")
                           : t->kind == M3RET_TRANSFORM_PCA
                             ? g_strdup_printf (", PCA-whitened to %u", t->out_dim)
                             : g_strdup (", centred");
  printf ("%s: %zu vectors of %u%s, retriever %s, built in %.1f s\n", out_path, e->n_rows, e->dim,
          post, m3ret_index_plugin_name (index), (g_get_monotonic_time () - start) / 1e6);
  return TRUE;
}

gint
cmd_index (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  g_autofree gchar *embeddings = NULL;
  g_autofree gchar *out = NULL;
  GOptionEntry entries[] = {
    { "embeddings", 'e', 0, G_OPTION_ARG_FILENAME, &embeddings,
      "Embeddings to index: float32 N×d .npy (its sidecar .csv is stored with the index)",
      "E.npy" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Index file to write (atomically)", "INDEX" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx =
    g_option_context_new ("PIPELINE.ini - build the [retriever] index of embeddings");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "index", &argc, &argv) || !cli_require_args ("index", argc, argv, 1, 1, "PIPELINE.ini") ||
      !cli_require ("index", embeddings, "--embeddings E.npy") ||
      !cli_require ("index", out, "--out INDEX")) {
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }
  M3retRegistry *registry = cli_registry (&common);
  GError *error = NULL;
  gint status = M3RET_EXIT_OK;
  M3retPipeline *pipeline = m3ret_pipeline_load (registry, argv[1], &error);
  if (pipeline == NULL || !build_index (pipeline, argv[1], embeddings, out, &error)) {
    status = cli_fail (error);
    g_error_free (error);
  }
  m3ret_pipeline_free (pipeline);
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  return status;
}
