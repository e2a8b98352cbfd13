/* cmd-embed.c — `m3ret embed` and `m3ret eval`: the frozen encoder on manifests. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "m3ret-embedder.h"
#include "m3ret-index.h"
#include "m3ret-metrics.h"

/* Loads registry + pipeline + embedder shared by both commands. */
typedef struct {
  M3retRegistry *registry;
  M3retPipeline *pipeline;
  M3retEmbedder *embedder;
  M3retSkips *skips; /* [data] on_error=skip; NULL: fail */
} Setup;

static void
setup_clear (Setup *s)
{
  m3ret_embedder_free (s->embedder);
  m3ret_skips_free (s->skips);
  m3ret_pipeline_free (s->pipeline);
  m3ret_registry_free (s->registry);
}

static gboolean
setup_init (Setup *s, const CliCommon *common, const gchar *pipeline, const gchar *checkpoint,
            GError **error)
{
  s->registry = cli_registry (common);
  s->pipeline = m3ret_pipeline_load (s->registry, pipeline, error);
  if (s->pipeline == NULL)
    return FALSE;
  s->skips = m3ret_skips_new_for_pipeline (s->pipeline);
  s->embedder = m3ret_embedder_new (s->registry, s->pipeline, checkpoint, error);
  if (s->embedder != NULL)
    m3ret_embedder_set_skips (s->embedder, s->skips);
  return s->embedder != NULL;
}

static M3retEmbeddings *
embed_file (M3retEmbedder *embedder, const gchar *manifest_path, guint batch, const gchar *label,
            GError **error)
{
  const M3retModalities *set = m3ret_embedder_get_modalities (embedder);
  if (!m3ret_limits_check_file (m3ret_modalities_get_limits (set), manifest_path, error))
    return NULL;
  g_autoptr (M3retManifest) manifest = m3ret_manifest_load (manifest_path, error);
  if (manifest == NULL)
    return NULL;
  if (m3ret_manifest_size (manifest) == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST, "%s: lists no files",
                 manifest_path);
    return NULL;
  }
  return m3ret_embedder_embed_manifest (embedder, manifest, batch, label, isatty (STDERR_FILENO),
                                        error);
}

gint
cmd_embed (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  g_autofree gchar *checkpoint = NULL, *manifest = NULL, *out = NULL;
  gint batch = 32;
  GOptionEntry entries[] = {
    { "checkpoint", 'c', 0, G_OPTION_ARG_FILENAME, &checkpoint, "Weights (.safetensors), or 'random'", "CKPT" },
    { "manifest", 'm', 0, G_OPTION_ARG_FILENAME, &manifest, "Files to embed (CSV path,modality,label)", "M.csv" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Embeddings .npy (sidecar .csv beside it)", "E.npy" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Samples per forward pass (default 32)", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PIPELINE.ini - embed a manifest");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "embed", &argc, &argv))
    return M3RET_EXIT_USAGE;
  if (argc != 2 || !checkpoint || !manifest || !out || batch < 1) {
    fprintf (stderr, "m3ret embed: give PIPELINE.ini, --checkpoint, --manifest and --out (--batch >= 1)\n");
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }
  Setup s = { 0 };
  GError *error = NULL;
  gint status = M3RET_EXIT_OK;
  g_autoptr (M3retEmbeddings) e = NULL;
  if (!setup_init (&s, &common, argv[1], checkpoint, &error) ||
      (e = embed_file (s.embedder, manifest, (guint) batch, "embed", &error)) == NULL ||
      !m3ret_embeddings_save (e, out, &error)) {
    cli_report_skips ("embed", s.skips);
    status = cli_fail (error);
    g_clear_error (&error);
  } else {
    fprintf (stderr, "m3ret embed: %zu × %u embeddings in %s\n", e->n_rows, e->dim, out);
    cli_report_skips ("embed", s.skips);
  }
  setup_clear (&s);
  g_strfreev (common.plugin_paths);
  return status;
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

/* Embeds both manifests with @embedder and scores them. */
static M3retMetricsTable *
evaluate (Setup *s, M3retEmbedder *embedder, const gchar *query, const gchar *database,
          guint batch, GArray *ks, GError **error)
{
  g_autoptr (M3retEmbeddings) q = embed_file (embedder, query, batch, "queries ", error);
  g_autoptr (M3retEmbeddings) d = q ? embed_file (embedder, database, batch, "database", error) : NULL;
  if (d == NULL)
    return NULL;
  M3retConfig *retriever = m3ret_pipeline_get_config (s->pipeline, "retriever");
  guint threads = (guint) m3ret_config_get_int (m3ret_pipeline_get_config (s->pipeline, "pipeline"), "threads");
  return m3ret_metrics_evaluate (m3ret_pipeline_get_plugin (s->pipeline, M3RET_PLUGIN_RETRIEVER),
                                 retriever, threads, q, d, (const guint *) ks->data, ks->len, error);
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
  g_autofree gchar *baseline = NULL;
  gint batch = 32;
  GOptionEntry entries[] = {
    { "checkpoint", 'c', 0, G_OPTION_ARG_FILENAME, &checkpoint, "Weights (.safetensors), or 'random'", "CKPT" },
    { "query", 'q', 0, G_OPTION_ARG_FILENAME, &query, "Query manifest", "Q.csv" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database, "Database manifest", "D.csv" },
    { "k", 'k', 0, G_OPTION_ARG_STRING, &k_text, "Cut-offs (default 1,5,10)", "K,K,..." },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json, "Also write the figures as JSON", "OUT" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Samples per forward pass (default 32)", "N" },
    { "baseline", 0, 0, G_OPTION_ARG_FILENAME, &baseline,
      "Also score these weights (e.g. 'random') and print both side by side", "CKPT" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PIPELINE.ini - retrieval metrics");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "eval", &argc, &argv))
    return M3RET_EXIT_USAGE;
  g_autoptr (GArray) ks = g_array_new (FALSE, FALSE, sizeof (guint));
  if (argc != 2 || !checkpoint || !query || !database || batch < 1 ||
      !parse_ks (k_text ? k_text : "1,5,10", ks)) {
    fprintf (stderr, "m3ret eval: give PIPELINE.ini, --checkpoint, --query and --database; "
                     "-k takes positive integers like 1,5,10\n");
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }
  g_array_sort (ks, compare_uint);

  Setup s = { 0 };
  GError *error = NULL;
  gint status = M3RET_EXIT_OK;
  g_autoptr (M3retMetricsTable) table = NULL;
  g_autoptr (M3retMetricsTable) base_table = NULL;
  g_autoptr (M3retEmbedder) base_embedder = NULL;
  if (!setup_init (&s, &common, argv[1], checkpoint, &error))
    goto fail;
  if (baseline != NULL) {
    base_embedder = m3ret_embedder_new (s.registry, s.pipeline, baseline, &error);
    if (base_embedder != NULL)
      m3ret_embedder_set_skips (base_embedder, s.skips);
    if (base_embedder == NULL ||
        (base_table = evaluate (&s, base_embedder, query, database, (guint) batch, ks, &error)) == NULL)
      goto fail;
  }
  if ((table = evaluate (&s, s.embedder, query, database, (guint) batch, ks, &error)) == NULL)
    goto fail;
  printf ("checkpoint: %s\n", checkpoint);
  m3ret_metrics_table_print (table, stdout);
  if (base_table != NULL)
    print_comparison (base_table, baseline, table, checkpoint, ks);
  if (json != NULL && !m3ret_metrics_table_write_json (table, json, &error))
    goto fail;
  cli_report_skips ("eval", s.skips);
  goto out;
fail:
  cli_report_skips ("eval", s.skips);
  status = cli_fail (error);
  g_clear_error (&error);
out:
  setup_clear (&s);
  g_strfreev (common.plugin_paths);
  return status;
}
