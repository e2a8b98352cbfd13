/* cmd-query.c — `m3ret query`: the most similar cases of given files. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "m3ret-embedder.h"
#include "m3ret-index.h"
#include "m3ret-limits.h"
#include "m3ret-montage.h"

/* The files named on the command line, each checked to be a file. */
static M3retManifest *
manifest_of_files (gchar **files, gint n, GError **error)
{
  for (gint i = 0; i < n; i++)
    if (!m3ret_file_check_readable (files[i], error))
      return NULL;
  return m3ret_manifest_new_for_files ((const gchar *const *) files, (guint) n);
}

/* The index rows that are the query file itself (once or more): a query is
 * never its own neighbour.  Paths compare after canonicalisation, and the
 * query also by where its links lead. */
static GHashTable *
rows_by_path (const M3retItems *items)
{
  GHashTable *rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) g_array_unref);
  for (gsize i = 0; items != NULL && i < items->n; i++) {
    gchar *key = g_canonicalize_filename (items->paths[i], NULL);
    GArray *ids = g_hash_table_lookup (rows, key);
    if (ids == NULL) {
      ids = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_hash_table_insert (rows, key, ids);
    } else {
      g_free (key);
    }
    gint64 id = (gint64) i;
    g_array_append_val (ids, id);
  }
  return rows;
}

static void
add_self_rows (GHashTable *rows, const gchar *path, GArray *out)
{
  g_autofree gchar *lexical = g_canonicalize_filename (path, NULL);
  gchar *real = realpath (path, NULL);
  for (guint pass = 0; pass < 2; pass++) {
    const gchar *key = pass == 0 ? lexical : real;
    if (key == NULL || (pass == 1 && strcmp (real, lexical) == 0))
      continue;
    GArray *ids = g_hash_table_lookup (rows, key);
    if (ids != NULL)
      g_array_append_vals (out, ids->data, ids->len);
  }
  free (real);
}

/* Refuses a --montage that is one of the run's inputs. */
static gboolean
check_files (const gchar *pipeline_path, const M3retPipeline *pipeline, const gchar *checkpoint,
             const gchar *index_path, gchar **queries, gint n_queries, const gchar *montage,
             GError **error)
{
  g_autoptr (M3retRunFiles) files = m3ret_run_files_new ();
  cli_add_pipeline_inputs (files, pipeline_path, pipeline);
  if (m3ret_checkpoint_is_file (checkpoint))
    m3ret_run_files_add_input (files, checkpoint, "--checkpoint");
  m3ret_run_files_add_input (files, index_path, "--index");
  for (gint i = 0; i < n_queries; i++)
    m3ret_run_files_add_input (files, queries[i], "query FILE");
  m3ret_run_files_add_output (files, montage, "--montage picture", "--montage");
  return m3ret_run_files_check (files, error);
}

gint
cmd_query (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  g_autofree gchar *checkpoint = NULL, *index_path = NULL, *montage = NULL, *modality = NULL;
  gint k = 10;
  gboolean allow_mismatch = FALSE;
  GOptionEntry entries[] = {
    { "checkpoint", 'c', 0, G_OPTION_ARG_FILENAME, &checkpoint, "Weights (.safetensors), or 'random' or 'raw'", "CKPT" },
    { "index", 'i', 0, G_OPTION_ARG_FILENAME, &index_path, "Index written by m3ret index", "INDEX" },
    { "k", 'k', 0, G_OPTION_ARG_INT, &k, "Neighbours per query (default 10)", "K" },
    { "montage", 0, 0, G_OPTION_ARG_FILENAME, &montage, "Draw queries and neighbours into a PNG", "OUT.png" },
    { "allow-mismatch", 0, 0, G_OPTION_ARG_NONE, &allow_mismatch,
      "Search an index made by another encoder than --checkpoint's", NULL },
    { "modality", 'm', 0, G_OPTION_ARG_STRING, &modality,
      "Read every FILE with this modality plugin instead of probing it", "NAME" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PIPELINE.ini FILE... - find similar cases");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "query", &argc, &argv) ||
      !cli_require_args ("query", argc, argv, 2, -1, "PIPELINE.ini and at least one FILE") ||
      !cli_require ("query", checkpoint, "--checkpoint CKPT|random|raw") ||
      !cli_require ("query", index_path, "--index INDEX") ||
      ((k < 1 || k > 10000) && cli_usage_error ("query", "-k must be between 1 and 10000, not %d",
                                                k) != 0)) {
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
  g_autoptr (GHashTable) by_path = NULL; /* index rows of each path */
  g_autofree gsize *offsets = NULL;      /* each query's own rows in @own */
  g_autoptr (GArray) own = NULL;

  if ((pipeline = m3ret_pipeline_load (registry, argv[1], &error)) == NULL)
    goto fail;
  guint threads = (guint) m3ret_pipeline_get_settings (pipeline)->pipeline.threads;
  M3retLimits limits;
  m3ret_limits_init (&limits, &m3ret_pipeline_get_settings (pipeline)->data);
  if (!check_files (argv[1], pipeline, checkpoint, index_path, argv + 2, argc - 2, montage,
                    &error) ||
      !m3ret_file_check_readable (index_path, &error) ||
      !m3ret_limits_check_file (&limits, index_path, &error))
    goto fail;
  /* The index says which retriever reads it; [retriever] only builds one. */
  if ((index = m3ret_index_open (registry, index_path, threads, &error)) == NULL)
    goto fail;
  if ((manifest = manifest_of_files (argv + 2, argc - 2, &error)) == NULL)
    goto fail;
  if ((embedder = m3ret_embedder_new (registry, pipeline, checkpoint, &error)) == NULL)
    goto fail;
  if (!cli_check_provenance ("query", index_path, m3ret_index_get_provenance (index),
                             m3ret_embedder_get_provenance (embedder), allow_mismatch, &error) ||
      !cli_resolve_manifest (embedder, manifest, modality, &error))
    goto fail;
  if (m3ret_index_dim (index) != m3ret_embedder_get_dim (embedder)) {
    g_set_error (&error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "%s: holds %u-wide vectors, the encoder makes %u-wide ones", index_path,
                 m3ret_index_dim (index), m3ret_embedder_get_dim (embedder));
    goto fail;
  }
  queries = m3ret_embedder_embed_manifest (embedder, manifest, 16, "query", FALSE, &error);
  if (queries == NULL)
    goto fail;
  gsize nq = queries->n_rows;
  ids = g_new (gint64, nq * k);
  scores = g_new (gfloat, nq * k);
  const M3retItems *items = m3ret_index_get_items (index);
  by_path = rows_by_path (items);
  offsets = g_new (gsize, nq + 1);
  own = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (gsize q = 0; q < nq; q++) {
    offsets[q] = own->len;
    add_self_rows (by_path, queries->items->paths[q], own);
  }
  offsets[nq] = own->len;
  M3retExclusions self = { offsets, (const gint64 *) own->data };
  if (!m3ret_index_search_excluding (index, queries->data, nq, (guint) k, &self, ids, scores,
                                     &error))
    goto fail;

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
      const gchar *item_modality = items ? items->modalities[id] : "";
      const gchar *label = items ? items->labels[id] : "";
      g_autofree gchar *row_name = path ? g_strdup (path) : g_strdup_printf ("row %" G_GINT64_FORMAT, id);
      printf ("  %4d  %6.3f  %-10s  %-10s  %s\n", r + 1, scores[q * k + r], item_modality, label,
              row_name);
      if (path != NULL)
        row[r + 1] = (M3retMontageCell) { path, item_modality, label, scores[q * k + r] };
    }
  }
  fflush (stdout);
  if (montage != NULL) {
    const M3retInputSettings *input = &m3ret_pipeline_get_settings (pipeline)->input;
    if (!m3ret_montage_write (montage, m3ret_embedder_get_modalities (embedder),
                              (guint) input->size, (guint) input->depth, (guint) input->tubelet[0],
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
