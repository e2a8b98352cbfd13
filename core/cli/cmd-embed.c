/* cmd-embed.c — `m3ret embed`: the frozen encoder on one manifest. */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "dist-private.h"
#include "m3ret-embedder.h"

/* Refuses an --out or sidecar that is one of the run's inputs. */
static gboolean
check_files (const gchar *pipeline_path, const M3retPipeline *pipeline, const gchar *checkpoint,
             const gchar *manifest_path, const M3retManifest *manifest, const gchar *out,
             GError **error)
{
  g_autoptr (M3retRunFiles) files = m3ret_run_files_new ();
  cli_add_pipeline_inputs (files, pipeline_path, pipeline);
  if (m3ret_checkpoint_is_file (checkpoint))
    m3ret_run_files_add_input (files, checkpoint, "--checkpoint");
  m3ret_run_files_add_input (files, manifest_path, "--manifest");
  m3ret_run_files_add_manifest_entries (files, manifest, "file listed in --manifest");
  g_autofree gchar *sidecar = m3ret_embeddings_sidecar_path (out);
  g_autofree gchar *sidecar_role = g_strdup_printf ("sidecar of --out %s", out);
  m3ret_run_files_add_output (files, out, "--out embeddings", "--out");
  m3ret_run_files_add_output (files, sidecar, sidecar_role, "--out");
  return m3ret_run_files_check (files, error);
}

gint
cmd_embed (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  g_autofree gchar *checkpoint = NULL, *manifest_path = NULL, *out = NULL, *modality = NULL;
  gint batch = 32;
  GOptionEntry entries[] = {
    { "checkpoint", 'c', 0, G_OPTION_ARG_FILENAME, &checkpoint, "Weights (.safetensors), or 'random' or 'raw'", "CKPT" },
    { "manifest", 0, 0, G_OPTION_ARG_FILENAME, &manifest_path, "Files to embed (CSV path,modality,label)", "M.csv" },
    { "modality", 'm', 0, G_OPTION_ARG_STRING, &modality,
      "Read rows that name no modality with this plugin instead of probing them", "NAME" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Embeddings .npy (sidecar .csv beside it)", "E.npy" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Samples per forward pass (default 32)", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PIPELINE.ini - embed a manifest");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "embed", &argc, &argv) ||
      !cli_require_args ("embed", argc, argv, 1, 1, "one PIPELINE.ini") ||
      !cli_require ("embed", checkpoint, "--checkpoint CKPT|random|raw") ||
      !cli_require ("embed", manifest_path, "--manifest M.csv") ||
      !cli_require ("embed", out, "--out E.npy") ||
      (batch < 1 && cli_usage_error ("embed", "--batch must be at least 1, not %d", batch) != 0)) {
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }
  GError *error = NULL;
  /* Under mpirun or srun: each rank embeds a share, rank 0 writes. */
  M3retDist *dist = m3ret_dist_get (&error);
  if (dist == NULL) {
    gint failed = cli_fail (error);
    g_clear_error (&error);
    g_strfreev (common.plugin_paths);
    return failed;
  }
  gboolean lead = m3ret_dist_get_rank (dist) == 0, report;
  gint status = M3RET_EXIT_OK;
  M3retRegistry *registry = cli_registry (&common);
  M3retPipeline *pipeline = NULL;
  M3retManifest *manifest = NULL;
  M3retSkips *skips = NULL;
  M3retEmbedder *embedder = NULL;
  M3retEmbeddings *e = NULL;
  if ((pipeline = m3ret_pipeline_load (registry, argv[1], &error)) == NULL ||
      (manifest = cli_load_manifest (pipeline, manifest_path, &error)) == NULL ||
      !check_files (argv[1], pipeline, checkpoint, manifest_path, manifest, out, &error) ||
      (embedder = m3ret_embedder_new (registry, pipeline, checkpoint, &error)) == NULL)
    ;
  else {
    skips = m3ret_skips_new_for (m3ret_pipeline_get_settings (pipeline)->data.on_error);
    m3ret_embedder_set_skips (embedder, skips);
    m3ret_embedder_set_dist (embedder, dist);
    if (!lead) { /* rank 0 prints the manifest's notices */
      if (modality == NULL ||
          m3ret_manifest_set_default_modality (manifest, m3ret_embedder_get_modalities (embedder),
                                               modality, &error))
        m3ret_embedder_resolve (embedder, manifest, &error);
    } else
      cli_resolve_manifest (embedder, manifest, modality, &error);
  }
  if (!cli_ranks_ok (dist, error == NULL, &report)) {
    if (report)
      goto fail;
    status = M3RET_EXIT_FAILURE;
    g_clear_error (&error);
    goto out;
  }
  e = m3ret_embedder_embed_manifest (embedder, manifest, (guint) batch, "embed",
                                     isatty (STDERR_FILENO), &error);
  if (e == NULL)
    cli_rank_abort (dist, error);
  cli_gather_skips (dist, skips);
  if (!lead) {
    m3ret_embeddings_free (g_steal_pointer (&e));
    goto out;
  }
  if (e == NULL || !m3ret_embeddings_save (e, out, &error))
    goto fail;
  fprintf (stderr, "m3ret embed: %zu × %u embeddings in %s\n", e->n_rows, e->dim, out);
  cli_report_skips ("embed", skips);
  goto out;
fail:
  cli_report_skips ("embed", skips);
  status = cli_fail (error);
  g_clear_error (&error);
out:
  m3ret_embeddings_free (e);
  m3ret_embedder_free (embedder);
  m3ret_skips_free (skips);
  m3ret_manifest_free (manifest);
  m3ret_pipeline_free (pipeline);
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  m3ret_dist_finalize (dist);
  return status;
}
