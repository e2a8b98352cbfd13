/* cmd-eval.c — `m3ret eval`: retrieval metrics of a query set against a database. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dist-private.h"
#include "m3ret-embedder.h"
#include "m3ret-metrics.h"
#include "m3ret-similarity.h"
#include "m3ret-transform.h"

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

/* What one set of weights (or a baseline) scores. */
typedef struct {
  const gchar *name;
  M3retEmbedder *embedder;
  M3retMetricsTable *table;
  M3retSimilarityStats similarity;
} Scored;

static void
scored_clear (Scored *s)
{
  m3ret_metrics_table_free (s->table);
  m3ret_embedder_free (s->embedder);
}

/* (transfer full) @e's rows through @t, with its items and provenance */
static M3retEmbeddings *
transformed (const M3retTransform *t, const M3retEmbeddings *e, const gchar *what, GError **error)
{
  g_autoptr (M3retEmbeddings) out = m3ret_embeddings_new (e->n_rows, t->out_dim);
  if (!m3ret_transform_apply (t, e->data, e->n_rows, out->data, what, error))
    return NULL;
  for (gsize i = 0; i < e->n_rows; i++)
    m3ret_items_set (out->items, i, e->items->paths[i], e->items->modalities[i],
                     e->items->labels[i]);
  out->provenance = g_strdup (e->provenance);
  return g_steal_pointer (&out);
}

/* Both sides through @s's embedder, scored with the pipeline's retriever,
 * and the spread of their similarities. */
static gboolean
evaluate (const M3retPipeline *pipeline, Scored *s, const Side *query, const Side *database,
          guint batch, gboolean allow_mismatch, GArray *ks, const M3retDist *dist,
          M3retSkips *skips, GError **error)
{
  g_autoptr (M3retEmbeddings) q_made = NULL;
  g_autoptr (M3retEmbeddings) d_made = NULL;
  const M3retEmbeddings *q = side_embed (query, s->embedder, batch, allow_mismatch, &q_made, error);
  const M3retEmbeddings *d = q ? side_embed (database, s->embedder, batch, allow_mismatch, &d_made,
                                             error)
                               : NULL;
  if (d == NULL) {
    cli_rank_abort (dist, *error); /* the other ranks may wait for this one */
    return FALSE;
  }
  cli_gather_skips (dist, skips);
  if (m3ret_dist_get_rank (dist) != 0) { /* rank 0 alone has the rows, and scores them */
    s->table = m3ret_metrics_table_new ((const guint *) ks->data, ks->len);
    return TRUE;
  }
  /* [retriever] whiten: learned from the database, applied to both sides */
  const M3retRetrieverSettings *rs = &m3ret_pipeline_get_settings (pipeline)->retriever;
  g_autoptr (M3retEmbeddings) q_post = NULL;
  g_autoptr (M3retEmbeddings) d_post = NULL;
  if (rs->whiten != M3RET_TRANSFORM_NONE) {
    g_autoptr (M3retTransform) t = m3ret_transform_fit ((M3retTransformKind) rs->whiten,
                                                        (guint) rs->whiten_dim, d->data,
                                                        d->n_rows, d->dim, error);
    if (t == NULL) {
      g_prefix_error (error, "%s: [retriever] whiten=%s: ", database->path,
                      m3ret_transform_kind_name ((M3retTransformKind) rs->whiten));
      return FALSE;
    }
    q_post = transformed (t, q, "query embeddings", error);
    d_post = q_post ? transformed (t, d, "database embeddings", error) : NULL;
    if (d_post == NULL)
      return FALSE;
    q = q_post;
    d = d_post;
  }
  M3retConfig *retriever = m3ret_pipeline_get_config (pipeline, "retriever");
  guint threads = (guint) m3ret_pipeline_get_settings (pipeline)->pipeline.threads;
  s->table = m3ret_metrics_evaluate (m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_RETRIEVER),
                                     retriever, threads, q, d, (const guint *) ks->data, ks->len,
                                     error);
  return s->table != NULL && m3ret_similarity_stats (q, d, &s->similarity, error);
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

/* Overall and per-modality figures of the baselines and the weights side
 * by side: P@K and mAP@K at the largest K, and the similarity AUC. */
static void
print_comparison (const Scored *scored, guint n, GArray *ks)
{
  guint kmax = g_array_index (ks, guint, ks->len - 1), ki = ks->len - 1;
  const Scored *trained = &scored[n - 1];
  printf ("\nagainst the baselines (same queries and database; P@%u / mAP@%u)\n", kmax, kmax);
  printf ("%-14s", "queries");
  for (guint i = 0; i < n; i++)
    printf (" %17s", scored[i].name);
  printf ("\n");
  g_autoptr (GPtrArray) rows = m3ret_metrics_table_rows (trained->table);
  for (guint r = 0; r < rows->len; r++) {
    printf ("%-14s", (gchar *) rows->pdata[r]);
    for (guint i = 0; i < n; i++) {
      M3retMetricsCell c;
      if (m3ret_metrics_table_get (scored[i].table, rows->pdata[r], M3RET_METRICS_ALL, &c))
        printf ("     %5.3f / %5.3f", c.precision[ki], c.map[ki]);
      else
        printf (" %17s", "-");
    }
    printf ("\n");
  }
  printf ("%-14s", "similarity AUC");
  for (guint i = 0; i < n; i++)
    printf (" %17.3f", scored[i].similarity.auc);
  printf ("\n");
}

static void
json_summary (GString *out, const M3retScoreSummary *s)
{
  g_string_append_printf (out, "{\"pairs\": %zu, \"mean\": %.6g, \"p5\": %.6g, \"p25\": %.6g, "
                               "\"p50\": %.6g, \"p75\": %.6g, \"p95\": %.6g}",
                          s->n, s->mean, s->q[0], s->q[1], s->q[2], s->q[3], s->q[4]);
}

static void
json_similarity (GString *out, const M3retSimilarityStats *st)
{
  g_string_append (out, "{\"relevant\": ");
  json_summary (out, &st->relevant);
  g_string_append (out, ", \"irrelevant\": ");
  json_summary (out, &st->irrelevant);
  if (isnan (st->auc))
    g_string_append (out, ", \"auc\": null}");
  else
    g_string_append_printf (out, ", \"auc\": %.6g}", st->auc);
}

/* The weights' table, their similarity spread and each baseline's table. */
static gboolean
write_json (const Scored *scored, guint n, const gchar *path, GError **error)
{
  const Scored *trained = &scored[n - 1];
  g_autofree gchar *main = m3ret_metrics_table_to_json (trained->table);
  GString *out = g_string_new (main);
  /* reopen the object: drop its closing brace */
  while (out->len > 0 && out->str[out->len - 1] != '}')
    g_string_truncate (out, out->len - 1);
  g_string_truncate (out, out->len - 1);
  while (out->len > 0 && g_ascii_isspace (out->str[out->len - 1]))
    g_string_truncate (out, out->len - 1);
  g_string_append (out, ",\n  \"similarity\": ");
  json_similarity (out, &trained->similarity);
  g_string_append (out, ",\n  \"baselines\": {");
  for (guint i = 0; i + 1 < n; i++) {
    g_autofree gchar *table = m3ret_metrics_table_to_json (scored[i].table);
    g_string_append_printf (out, "%s\n    \"%s\": {\"similarity\": ", i ? "," : "",
                            scored[i].name);
    json_similarity (out, &scored[i].similarity);
    g_string_append (out, ", \"metrics\": ");
    g_string_append (out, g_strchomp (table));
    g_string_append (out, "}");
  }
  g_string_append (out, n > 1 ? "\n  }\n}\n" : "}\n}\n");
  g_autofree gchar *text = g_string_free (out, FALSE);
  return m3ret_file_write_atomic (path, text, -1, error);
}

/* The baselines to score beside @checkpoint: @text split at commas
 * ("none": none), or by default raw pixels and random init, less the one
 * @checkpoint is. */
static GStrv
baselines_for (const gchar *text, const gchar *checkpoint)
{
  if (text != NULL && strcmp (text, "none") == 0)
    return g_new0 (gchar *, 1);
  if (text != NULL)
    return g_strsplit (text, ",", -1);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  if (strcmp (checkpoint, M3RET_CHECKPOINT_RAW) != 0)
    g_strv_builder_add (b, M3RET_CHECKPOINT_RAW);
  if (m3ret_checkpoint_is_file (checkpoint))
    g_strv_builder_add (b, M3RET_CHECKPOINT_RANDOM);
  return g_strv_builder_end (b);
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
    { "checkpoint", 'c', 0, G_OPTION_ARG_FILENAME, &checkpoint, "Weights (.safetensors), or 'random' or 'raw'", "CKPT" },
    { "query", 'q', 0, G_OPTION_ARG_FILENAME, &query, "Query manifest, or embeddings .npy from m3ret embed", "Q.csv" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database, "Database manifest, or embeddings .npy from m3ret embed", "D.csv" },
    { "k", 'k', 0, G_OPTION_ARG_STRING, &k_text, "Cut-offs (default 1,5,10)", "K,K,..." },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json, "Also write the figures as JSON", "OUT" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Samples per forward pass (default 32)", "N" },
    { "baseline", 0, 0, G_OPTION_ARG_FILENAME, &baseline,
      "Also score these, comma-separated, side by side (default raw,random; 'none')", "CKPT,..." },
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
      !cli_require ("eval", checkpoint, "--checkpoint CKPT|random|raw") ||
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
  g_auto (GStrv) baselines = baselines_for (baseline, checkpoint);
  guint n_scored = g_strv_length (baselines) + 1;
  g_autofree Scored *scored = g_new0 (Scored, n_scored);
  for (guint i = 0; i + 1 < n_scored; i++)
    scored[i].name = baselines[i];
  Scored *trained = &scored[n_scored - 1];
  gboolean dropped_baselines = FALSE;
  trained->name = m3ret_checkpoint_is_file (checkpoint) ? "trained" : checkpoint;
  Side q = { query, "--query", "queries ", NULL, NULL };
  Side d = { database, "--database", "database", NULL, NULL };
  g_autoptr (M3retRunFiles) files = m3ret_run_files_new ();
  if ((pipeline = m3ret_pipeline_load (registry, argv[1], &error)) == NULL)
    goto agree;
  cli_add_pipeline_inputs (files, argv[1], pipeline);
  if (m3ret_checkpoint_is_file (checkpoint))
    m3ret_run_files_add_input (files, checkpoint, "--checkpoint");
  for (guint i = 0; i + 1 < n_scored; i++)
    if (m3ret_checkpoint_is_file (baselines[i]))
      m3ret_run_files_add_input (files, baselines[i], "--baseline");
  m3ret_run_files_add_output (files, json, "--json report", "--json");
  if (!side_load (&q, pipeline, files, &error) || !side_load (&d, pipeline, files, &error) ||
      !m3ret_run_files_check (files, &error))
    goto agree;
  if (n_scored > 1 && (q.embeddings != NULL || d.embeddings != NULL)) {
    if (baseline != NULL) {
      status = cli_usage_error ("eval", "--baseline embeds with other weights, so it needs "
                                        "manifests, not embeddings, for --query and --database");
      goto out;
    }
    dropped_baselines = TRUE;
    n_scored = 1;
    scored[0] = *trained;
    trained = &scored[0];
  }
  skips = m3ret_skips_new_for (m3ret_pipeline_get_settings (pipeline)->data.on_error);
  for (guint i = 0; i < n_scored; i++) {
    const gchar *weights = &scored[i] == trained ? checkpoint : scored[i].name;
    if ((scored[i].embedder = m3ret_embedder_new (registry, pipeline, weights, &error)) == NULL)
      goto agree;
    m3ret_embedder_set_skips (scored[i].embedder, skips);
    m3ret_embedder_set_dist (scored[i].embedder, dist);
  }
  /* Once, before any encoder runs, so each notice is printed once. */
  if ((q.manifest != NULL && !cli_resolve_manifest (trained->embedder, q.manifest, modality, &error)) ||
      (d.manifest != NULL && !cli_resolve_manifest (trained->embedder, d.manifest, modality, &error)))
    goto agree;
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
  for (guint i = 0; i < n_scored; i++)
    if (!evaluate (pipeline, &scored[i], &q, &d, (guint) batch, allow_mismatch, ks, dist, skips,
                   &error))
      goto fail;
  if (!lead)
    goto out;
  printf ("checkpoint: %s\n", checkpoint);
  m3ret_metrics_table_print (trained->table, stdout);
  printf ("\n");
  m3ret_similarity_stats_print (&trained->similarity, stdout);
  if (n_scored > 1)
    print_comparison (scored, n_scored, ks);
  if (dropped_baselines)
    printf ("\nno baselines: --query or --database holds embeddings, which only this "
            "checkpoint's encoder made (give manifests to compare with raw pixels and random "
            "init)\n");
  if (json != NULL && !write_json (scored, n_scored, json, &error))
    goto fail;
  cli_report_skips ("eval", skips);
  goto out;
fail:
  cli_report_skips ("eval", skips);
  status = cli_fail (error);
  g_clear_error (&error);
out:
  for (guint i = 0; i < n_scored; i++)
    scored_clear (&scored[i]);
  side_clear (&q);
  side_clear (&d);
  m3ret_skips_free (skips);
  m3ret_pipeline_free (pipeline);
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  m3ret_dist_finalize (dist);
  return status;
}
