/* cmd-eval.c — `m3ret eval`: retrieval metrics of a query set against a database. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dist-private.h"
#include "m3ret-embedder.h"
#include "m3ret-metrics.h"

/* One side of the evaluation: a manifest to embed, or embeddings that
 * `m3ret embed` wrote earlier (a .npy with its sidecar). */
typedef struct {
  const gchar *path;
  const gchar *option; /* "--query", "--database" */
  const gchar *label;  /* for the progress bar */
  M3retManifest *manifest;
  M3retEmbeddings *embeddings;
} Side;

static void
side_clear (Side *s)
{
  m3ret_manifest_free (s->manifest);
  m3ret_embeddings_free (s->embeddings);
}

/* TRUE when @path starts with numpy's magic (whatever its name). */
static gboolean
is_npy (const gchar *path)
{
  static const guint8 magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };
  guint8 head[6] = { 0 };
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return FALSE;
  gsize n = fread (head, 1, sizeof head, f);
  fclose (f);
  return n == sizeof head && memcmp (head, magic, sizeof magic) == 0;
}

static gboolean
side_load (Side *s, const M3retPipeline *pipeline, M3retRunFiles *files, GError **error)
{
  if (!m3ret_file_check_readable (s->path, error))
    return FALSE;
  m3ret_run_files_add_input (files, s->path, s->option);
  g_autofree gchar *listed = g_strdup_printf ("file listed in %s", s->option);
  if (!is_npy (s->path)) {
    s->manifest = cli_load_manifest (pipeline, s->path, error);
    if (s->manifest != NULL)
      m3ret_run_files_add_manifest_entries (files, s->manifest, listed);
    return s->manifest != NULL;
  }
  g_autofree gchar *sidecar = m3ret_embeddings_sidecar_path (s->path);
  g_autofree gchar *role = g_strdup_printf ("sidecar of %s", s->option);
  m3ret_run_files_add_input (files, sidecar, role);
  s->embeddings = m3ret_embeddings_load (s->path, TRUE, error);
  return s->embeddings != NULL;
}

/* (transfer none) the side's embeddings by @embedder: those it holds,
 * checked to come from the same encoder, or its manifest embedded now into
 * @made. */
static const M3retEmbeddings *
side_embed (const Side *s, M3retEmbedder *embedder, guint batch, gboolean allow_mismatch,
            M3retEmbeddings **made, GError **error)
{
  if (s->embeddings != NULL)
    return cli_check_provenance ("eval", s->path, s->embeddings->provenance,
                                 m3ret_embedder_get_provenance (embedder), allow_mismatch, error)
             ? s->embeddings
             : NULL;
  *made = m3ret_embedder_embed_manifest (embedder, s->manifest, batch, s->label,
                                         isatty (STDERR_FILENO), error);
  return *made;
}

/* Both sides through @embedder, scored with the pipeline's retriever. */
static M3retMetricsTable *
evaluate (const M3retPipeline *pipeline, M3retEmbedder *embedder, const Side *query,
          const Side *database, guint batch, gboolean allow_mismatch, GArray *ks,
          const M3retDist *dist, GError **error)
{
  g_autoptr (M3retEmbeddings) q_made = NULL;
  g_autoptr (M3retEmbeddings) d_made = NULL;
  const M3retEmbeddings *q = side_embed (query, embedder, batch, allow_mismatch, &q_made, error);
  const M3retEmbeddings *d = q ? side_embed (database, embedder, batch, allow_mismatch, &d_made,
                                             error)
                               : NULL;
  if (d == NULL) {
    cli_rank_abort (dist, *error); /* the other ranks may wait for this one */
    return NULL;
  }
  if (m3ret_dist_get_rank (dist) != 0) /* rank 0 alone has the rows, and scores them */
    return m3ret_metrics_table_new ((const guint *) ks->data, ks->len);
  M3retConfig *retriever = m3ret_pipeline_get_config (pipeline, "retriever");
  guint threads = (guint) m3ret_pipeline_get_settings (pipeline)->pipeline.threads;
  return m3ret_metrics_evaluate (m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_RETRIEVER),
                                 retriever, threads, q, d, (const guint *) ks->data, ks->len, error);
}

/* "1,5,10" → sorted, unique cut-offs. */
static gboolean
parse_ks (const gchar *text, GArray *ks)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  for (gchar **p = parts; *p; p++) {
    gchar *end = NULL;
    gint64 k = g_ascii_strtoll (g_strstrip (*p), &end, 10);
    if (end == *p || *end != '\0' || k < 1 || k > 100000)
      return FALSE;
    guint v = (guint) k;
    gboolean seen = FALSE;
    for (guint i = 0; i < ks->len; i++)
      seen |= g_array_index (ks, guint, i) == v;
    if (!seen)
      g_array_append_val (ks, v);
  }
  return ks->len > 0;
}

static gint
compare_uint (gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;
  return x < y ? -1 : x > y;
}

/* Overall and per-modality figures of two tables side by side. */
static void
print_comparison (M3retMetricsTable *base, const gchar *base_name, M3retMetricsTable *trained,
                  const gchar *trained_name, GArray *ks)
{
  guint kmax = g_array_index (ks, guint, ks->len - 1), ki = ks->len - 1;
  guint kmin = g_array_index (ks, guint, 0); /* sorted by the caller */
  printf ("\n%s against %s (same queries and database)\n", trained_name, base_name);
  g_autofree gchar *p_base = g_strdup_printf ("P@%u base", kmax), *p = g_strdup_printf ("P@%u", kmax);
  g_autofree gchar *m_base = g_strdup_printf ("mAP@%u base", kmax), *m = g_strdup_printf ("mAP@%u", kmax);
  g_autofree gchar *r_base = g_strdup_printf ("R@%u base", kmin), *r_at = g_strdup_printf ("R@%u", kmin);
  printf ("%-14s %11s %11s %11s %11s %11s %11s\n", "queries", r_base, r_at, p_base, p, m_base, m);
  g_autoptr (GPtrArray) rows = m3ret_metrics_table_rows (trained);
  for (guint r = 0; r < rows->len; r++) {
    M3retMetricsCell b, t;
    if (!m3ret_metrics_table_get (base, rows->pdata[r], M3RET_METRICS_ALL, &b) ||
        !m3ret_metrics_table_get (trained, rows->pdata[r], M3RET_METRICS_ALL, &t))
      continue;
    printf ("%-14s %11.3f %11.3f %11.3f %11.3f %11.3f %11.3f\n", (gchar *) rows->pdata[r], b.recall[0],
            t.recall[0], b.precision[ki], t.precision[ki], b.map[ki], t.map[ki]);
  }
}

gint
cmd_eval (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  g_autofree gchar *checkpoint = NULL, *query = NULL, *database = NULL, *json = NULL, *k_text = NULL;
  g_autofree gchar *baseline = NULL, *modality = NULL;
  gint batch = 32;
  gboolean allow_mismatch = FALSE;
  GOptionEntry entries[] = {
    { "checkpoint", 'c', 0, G_OPTION_ARG_FILENAME, &checkpoint, "Weights (.safetensors), or 'random'", "CKPT" },
    { "query", 'q', 0, G_OPTION_ARG_FILENAME, &query, "Query manifest, or embeddings .npy from m3ret embed", "Q.csv" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database, "Database manifest, or embeddings .npy from m3ret embed", "D.csv" },
    { "k", 'k', 0, G_OPTION_ARG_STRING, &k_text, "Cut-offs (default 1,5,10)", "K,K,..." },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json, "Also write the figures as JSON", "OUT" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Samples per forward pass (default 32)", "N" },
    { "baseline", 0, 0, G_OPTION_ARG_FILENAME, &baseline,
      "Also score these weights (e.g. 'random') and print both side by side", "CKPT" },
    { "allow-mismatch", 0, 0, G_OPTION_ARG_NONE, &allow_mismatch,
      "Use embeddings .npy made by another encoder than --checkpoint's", NULL },
    { "modality", 'm', 0, G_OPTION_ARG_STRING, &modality,
      "Read manifest rows that name no modality with this plugin instead of probing them", "NAME" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PIPELINE.ini - retrieval metrics");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  g_autoptr (GArray) ks = g_array_new (FALSE, FALSE, sizeof (guint));
  if (!cli_parse (ctx, "eval", &argc, &argv) ||
      !cli_require_args ("eval", argc, argv, 1, 1, "one PIPELINE.ini") ||
      !cli_require ("eval", checkpoint, "--checkpoint CKPT|random") ||
      !cli_require ("eval", query, "--query Q.csv") ||
      !cli_require ("eval", database, "--database D.csv") ||
      (batch < 1 && cli_usage_error ("eval", "--batch must be at least 1, not %d", batch) != 0) ||
      (!parse_ks (k_text ? k_text : "1,5,10", ks) &&
       cli_usage_error ("eval", "-k takes positive integers like 1,5,10, not '%s'", k_text) != 0)) {
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }
  g_array_sort (ks, compare_uint);

  GError *error = NULL;
  /* Under mpirun or srun: each rank embeds a share, rank 0 scores. */
  M3retDist *dist = m3ret_dist_get (&error);
  if (dist == NULL) {
    gint failed = cli_fail (error);
    g_clear_error (&error);
    g_strfreev (common.plugin_paths);
    return failed;
  }
  gboolean lead = m3ret_dist_get_rank (dist) == 0, report;
  cli_set_quiet_rank (!lead);
  gint status = M3RET_EXIT_OK;
  M3retRegistry *registry = cli_registry (&common);
  M3retPipeline *pipeline = NULL;
  M3retSkips *skips = NULL;
  M3retEmbedder *embedder = NULL, *base_embedder = NULL;
  M3retMetricsTable *table = NULL, *base_table = NULL;
  Side q = { query, "--query", "queries ", NULL, NULL };
  Side d = { database, "--database", "database", NULL, NULL };
  g_autoptr (M3retRunFiles) files = m3ret_run_files_new ();
  if ((pipeline = m3ret_pipeline_load (registry, argv[1], &error)) == NULL)
    goto agree;
  cli_add_pipeline_inputs (files, argv[1], pipeline);
  if (g_strcmp0 (checkpoint, M3RET_CHECKPOINT_RANDOM) != 0)
    m3ret_run_files_add_input (files, checkpoint, "--checkpoint");
  if (baseline != NULL && g_strcmp0 (baseline, M3RET_CHECKPOINT_RANDOM) != 0)
    m3ret_run_files_add_input (files, baseline, "--baseline");
  m3ret_run_files_add_output (files, json, "--json report", "--json");
  if (!side_load (&q, pipeline, files, &error) || !side_load (&d, pipeline, files, &error) ||
      !m3ret_run_files_check (files, &error))
    goto agree;
  if (baseline != NULL && (q.embeddings != NULL || d.embeddings != NULL)) {
    status = cli_usage_error ("eval", "--baseline embeds with other weights, so it needs "
                                      "manifests, not embeddings, for --query and --database");
    goto out;
  }
  skips = m3ret_skips_new_for (m3ret_pipeline_get_settings (pipeline)->data.on_error);
  if ((embedder = m3ret_embedder_new (registry, pipeline, checkpoint, &error)) == NULL)
    goto agree;
  m3ret_embedder_set_skips (embedder, skips);
  m3ret_embedder_set_dist (embedder, dist);
  /* Once, before either encoder runs, so each notice is printed once. */
  if ((q.manifest != NULL && !cli_resolve_manifest (embedder, q.manifest, modality, &error)) ||
      (d.manifest != NULL && !cli_resolve_manifest (embedder, d.manifest, modality, &error)))
    goto agree;
  if (baseline != NULL) {
    if ((base_embedder = m3ret_embedder_new (registry, pipeline, baseline, &error)) == NULL)
      goto agree;
    m3ret_embedder_set_skips (base_embedder, skips);
    m3ret_embedder_set_dist (base_embedder, dist);
  }
agree:
  /* The ranks fail together before the heavy work, the lowest failing one
   * printing its reason. */
  if (!cli_ranks_ok (dist, error == NULL, &report)) {
    if (report)
      goto fail;
    status = M3RET_EXIT_FAILURE;
    g_clear_error (&error);
    goto out;
  }
  if (baseline != NULL) {
    base_table = evaluate (pipeline, base_embedder, &q, &d, (guint) batch, allow_mismatch, ks,
                           dist, &error);
    if (base_table == NULL)
      goto fail;
  }
  table = evaluate (pipeline, embedder, &q, &d, (guint) batch, allow_mismatch, ks, dist, &error);
  if (table == NULL)
    goto fail;
  if (!lead)
    goto out;
  printf ("checkpoint: %s\n", checkpoint);
  m3ret_metrics_table_print (table, stdout);
  if (base_table != NULL)
    print_comparison (base_table, baseline, table, checkpoint, ks);
  if (json != NULL && !m3ret_metrics_table_write_json (table, json, &error))
    goto fail;
  cli_report_skips ("eval", skips);
  goto out;
fail:
  cli_report_skips ("eval", skips);
  status = cli_fail (error);
  g_clear_error (&error);
out:
  m3ret_metrics_table_free (table);
  m3ret_metrics_table_free (base_table);
  m3ret_embedder_free (base_embedder);
  m3ret_embedder_free (embedder);
  side_clear (&q);
  side_clear (&d);
  m3ret_skips_free (skips);
  m3ret_pipeline_free (pipeline);
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  m3ret_dist_finalize (dist);
  return status;
}
