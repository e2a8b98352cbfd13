/* bench-retrieval.c — flat search beside the sgemm bound; hnsw recall against speed.
 *
 * A program, not a test: prints tables, asserts nothing.  Sizes follow
 * issue 6/8: a 100k × 192 database, 1000 queries, k = 10, 2 threads
 * (M3RET_BENCH_THREADS overrides).  Two databases: unit vectors uniform on
 * the sphere (the hardest case for a graph index) and a clustered one
 * (2000 centres plus noise), closer to what a trained encoder produces.
 * M3RET_BENCH_ROWS shrinks the database for a dry run.
 */
#include "config.h"

#include <cblas.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-row.h"
#include "m3ret.h"
#include "m3ret-fileio.h"
#include "m3ret-index.h"

#define N_Q 1000
#define DIM 192
#define K 10
#define REPEATS 5
#define N_CENTRES 2000

static gsize N_DB = 100000;
static guint HNSW_M = 16, HNSW_EFC = 100;

static gdouble
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

static void
gaussian (GRand *rand, gfloat *out, gsize n, gdouble sigma)
{
  for (gsize i = 0; i < n; i++) {
    gdouble u = g_rand_double (rand), v = g_rand_double (rand);
    out[i] = (gfloat) (sigma * sqrt (-2 * log (1 - u)) * cos (2 * G_PI * v));
  }
}

/* (transfer full) n unit rows: uniform directions, or around @n_centres centres. */
static gfloat *
make_rows (GRand *rand, gsize n, const gfloat *centres, guint n_centres)
{
  gfloat *rows = g_new (gfloat, n * DIM);
  if (centres == NULL) {
    gaussian (rand, rows, n * DIM, 1.0);
  } else {
    gaussian (rand, rows, n * DIM, 0.6 / sqrt (DIM));
    for (gsize i = 0; i < n; i++) {
      const gfloat *c = centres + (gsize) g_rand_int_range (rand, 0, (gint32) n_centres) * DIM;
      for (guint j = 0; j < DIM; j++)
        rows[i * DIM + j] += c[j];
    }
  }
  m3ret_vectors_normalize (rows, n, DIM, "bench", NULL);
  return rows;
}

/* Median GFLOP/s of C = A·Bᵀ for m×k by n×k, as flat calls it. */
static gdouble
sgemm_rate (gint m, gint n, gint k)
{
  gfloat *a = g_new0 (gfloat, (gsize) m * k), *b = g_new0 (gfloat, (gsize) n * k);
  gfloat *c = g_new (gfloat, (gsize) m * n);
  for (gsize i = 0; i < (gsize) m * k; i++)
    a[i] = (gfloat) (i % 13) * 0.1f;
  for (gsize i = 0; i < (gsize) n * k; i++)
    b[i] = (gfloat) (i % 7) * 0.1f;
  gdouble t[3];
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, b, k, 0, c, n);
  for (guint r = 0; r < 3; r++) {
    gdouble t0 = now ();
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, b, k, 0, c, n);
    t[r] = now () - t0;
  }
  g_free (a);
  g_free (b);
  g_free (c);
  return 2.0 * m * n * k / bench_median (t, 3) / 1e9;
}

static M3retIndex *
build_index (const M3retPlugin *plugin, M3retConfig *config, const gfloat *db, guint threads,
             gdouble *seconds)
{
  GError *error = NULL;
  gdouble t0 = now ();
  M3retIndex *index = m3ret_index_new (plugin, config, DIM, threads, &error);
  if (index == NULL || !m3ret_index_add (index, db, N_DB, &error)) {
    fprintf (stderr, "bench-retrieval: %s\n", error->message);
    exit (1);
  }
  *seconds = now () - t0;
  return index;
}

/* Median queries/s of searching all N_Q queries at once, @repeats times. */
static gdouble
search_rate (M3retIndex *index, const gfloat *q, gint64 *ids, gfloat *scores, guint repeats)
{
  gdouble t[REPEATS];
  repeats = CLAMP (repeats, 1, REPEATS);
  for (guint r = 0; r < repeats; r++) {
    GError *error = NULL;
    gdouble t0 = now ();
    if (!m3ret_index_search (index, q, N_Q, K, NULL, ids, scores, &error)) {
      fprintf (stderr, "bench-retrieval: %s\n", error->message);
      exit (1);
    }
    t[r] = now () - t0;
  }
  return N_Q / bench_median (t, repeats);
}

static gdouble
recall (const gint64 *exact, const gint64 *approx)
{
  gsize found = 0;
  for (gsize i = 0; i < N_Q; i++)
    for (guint a = 0; a < K; a++)
      for (guint b = 0; b < K; b++)
        if (approx[i * K + a] == exact[i * K + b]) {
          found++;
          break;
        }
  return (gdouble) found / (N_Q * K);
}

/* Builds hnsw on @db with the bench's M and ef_construction, then sweeps
 * ef_search upwards; returns the index at the fastest setting whose
 * recall@10 reaches 0.95, its ef in @best_ef (NULL, 0 when none does).
 * Returns: (transfer full) */
static M3retIndex *
sweep_hnsw (const M3retPlugin *hnsw, const gfloat *db, const gfloat *q, const gint64 *exact,
            guint threads, gdouble flat_qps, guint *best_ef)
{
  g_autofree gint64 *ids = g_new (gint64, N_Q * K);
  g_autofree gfloat *scores = g_new (gfloat, N_Q * K);
  g_autoptr (M3retConfig) config =
    m3ret_config_new_defaults ("retriever", m3ret_plugin_get_desc (hnsw)->keys, NULL);
  g_autofree gchar *m = g_strdup_printf ("%u", HNSW_M);
  g_autofree gchar *efc = g_strdup_printf ("%u", HNSW_EFC);
  m3ret_config_set (config, "M", m, NULL);
  m3ret_config_set (config, "ef_construction", efc, NULL);
  gdouble build_s;
  g_autoptr (M3retIndex) graph = build_index (hnsw, config, db, threads, &build_s);
  printf ("  (hnsw M = %u, ef_construction = %u: built in %.1f s on %u threads, %.0f inserts/s)\n",
          HNSW_M, HNSW_EFC, build_s, threads, N_DB / build_s);
  /* hnsw reads ef_search when an index is created or loaded: save the graph
   * once and load it again under each setting. */
  /* A folder of its own: two benches at once must not share the file. */
  GError *error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("m3ret-bench-XXXXXX", &error);
  g_autofree gchar *tmp = dir ? g_build_filename (dir, "hnsw.idx", NULL) : NULL;
  if (dir == NULL || !m3ret_index_save (graph, tmp, &error)) {
    fprintf (stderr, "bench-retrieval: %s\n", error->message);
    exit (1);
  }
  static const guint efs[] = { 10, 12, 14, 16, 20, 24, 32, 48, 64, 96, 128, 256 };
  gdouble best = 0;
  M3retIndex *best_index = NULL;
  *best_ef = 0;
  for (guint e = 0; e < G_N_ELEMENTS (efs); e++) {
    g_autofree gchar *ef = g_strdup_printf ("%u", efs[e]);
    m3ret_config_set (config, "ef_search", ef, NULL);
    g_autoptr (M3retIndex) at_ef = m3ret_index_load (hnsw, config, tmp, threads, &error);
    if (at_ef == NULL) {
      fprintf (stderr, "bench-retrieval: %s\n", error->message);
      exit (1);
    }
    gdouble qps = search_rate (at_ef, q, ids, scores, REPEATS);
    gdouble r = recall (exact, ids);
    g_autofree gchar *label = g_strdup_printf ("hnsw ef_search = %u", efs[e]);
    printf ("  %-24s %10.3f %10.0f %9s %9.2f\n", label, r, qps, "", qps / flat_qps);
    if (r >= 0.95 && qps > best) {
      best = qps;
      *best_ef = efs[e];
      g_clear_pointer (&best_index, m3ret_index_free);
      best_index = g_steal_pointer (&at_ef);
    }
    if (r >= 0.995) /* higher ef only costs speed from here */
      break;
  }
  g_unlink (tmp);
  g_rmdir (dir);
  return best_index;
}

typedef struct {
  gdouble bound_qps; /* sgemm-bound limit, median of the rounds */
  gdouble flat_qps;  /* median of the rounds against the bound */
  gdouble hnsw_qps;  /* at the fastest ef_search with recall@10 >= 0.95; 0: none */
  gdouble flat_beside_hnsw_qps; /* median of the rounds against hnsw */
  guint hnsw_ef;
} DatasetResult;

#define ROUNDS 5

/* Queries/s the sgemm rate allows for exact search: 2·N·d flops per query. */
static gdouble
bound_rate (void)
{
  return sgemm_rate (1024, 1024, 1024) * 1e9 / (2.0 * N_DB * DIM);
}

static DatasetResult
run_dataset (const gchar *name, const M3retPlugin *flat, const M3retPlugin *hnsw, guint threads,
             GRand *rand, gboolean clustered)
{
  g_autofree gfloat *centres = NULL;
  if (clustered) {
    centres = g_new (gfloat, N_CENTRES * DIM);
    gaussian (rand, centres, N_CENTRES * DIM, 1.0);
    m3ret_vectors_normalize (centres, N_CENTRES, DIM, "centres", NULL);
  }
  g_autofree gfloat *db = make_rows (rand, N_DB, centres, N_CENTRES);
  g_autofree gfloat *q = make_rows (rand, N_Q, centres, N_CENTRES);
  g_autofree gint64 *exact = g_new (gint64, N_Q * K);
  g_autofree gint64 *ids = g_new (gint64, N_Q * K);
  g_autofree gfloat *scores = g_new (gfloat, N_Q * K);
  g_autoptr (M3retConfig) flat_config =
    m3ret_config_new_defaults ("retriever", m3ret_plugin_get_desc (flat)->keys, NULL);
  gdouble build_s;
  g_autoptr (M3retIndex) exact_index = build_index (flat, flat_config, db, threads, &build_s);
  /* The machine is shared: each figure and the one it is divided by are
   * measured in alternating rounds, so a change of load hits both. */
  DatasetResult res = { 0 };
  gdouble bound[ROUNDS], flat_qps[ROUNDS];
  search_rate (exact_index, q, exact, scores, 1);
  for (guint r = 0; r < ROUNDS; r++) {
    bound[r] = bound_rate ();
    flat_qps[r] = search_rate (exact_index, q, exact, scores, 1);
  }
  res.bound_qps = bench_median (bound, ROUNDS);
  res.flat_qps = bench_median (flat_qps, ROUNDS);
  printf ("\n%s database, %zu × %d, %d queries, k = %d, %u threads\n", name, N_DB, DIM, N_Q, K,
          threads);
  printf ("  sgemm-bound limit: %.0f queries/s (2·N·d flops per query at the 1024³ sgemm rate)\n",
          res.bound_qps);
  printf ("  %-24s %10s %10s %9s %9s\n", "retriever", "recall@10", "queries/s", "÷ bound", "÷ flat");
  printf ("  %-24s %10.3f %10.0f %9.2f %9s\n", "flat (exact)", 1.0, res.flat_qps,
          res.flat_qps / res.bound_qps, "1");
  g_autoptr (M3retIndex) best =
    sweep_hnsw (hnsw, db, q, exact, threads, res.flat_qps, &res.hnsw_ef);
  if (best == NULL) {
    printf ("  hnsw did not reach recall@10 ≥ 0.95 at these ef_search values\n");
    return res;
  }
  gdouble hnsw_qps[ROUNDS];
  for (guint r = 0; r < ROUNDS; r++) {
    flat_qps[r] = search_rate (exact_index, q, ids, scores, 1);
    hnsw_qps[r] = search_rate (best, q, ids, scores, 3);
  }
  res.flat_beside_hnsw_qps = bench_median (flat_qps, ROUNDS);
  res.hnsw_qps = bench_median (hnsw_qps, ROUNDS);
  printf ("  hnsw at recall@10 ≥ 0.95: ef_search = %u, %.0f queries/s beside flat's %.0f: "
          "%.2f × flat (medians of %d alternating rounds)\n", res.hnsw_ef, res.hnsw_qps,
          res.flat_beside_hnsw_qps, res.hnsw_qps / res.flat_beside_hnsw_qps, ROUNDS);
  fflush (stdout);
  return res;
}

int
main (void)
{
  guint threads = 2;
  if (g_getenv ("M3RET_BENCH_THREADS"))
    threads = (guint) MAX (1, atoi (g_getenv ("M3RET_BENCH_THREADS")));
  if (g_getenv ("M3RET_BENCH_ROWS"))
    N_DB = (gsize) MAX (1000, atol (g_getenv ("M3RET_BENCH_ROWS")));
  if (g_getenv ("M3RET_BENCH_HNSW_M"))
    HNSW_M = (guint) CLAMP (atoi (g_getenv ("M3RET_BENCH_HNSW_M")), 2, 100);
  if (g_getenv ("M3RET_BENCH_HNSW_EFC"))
    HNSW_EFC = (guint) CLAMP (atoi (g_getenv ("M3RET_BENCH_HNSW_EFC")), 8, 4096);
  openblas_set_num_threads ((int) threads);
  M3retRegistry *registry = m3ret_registry_new ();
  m3ret_registry_scan (registry, NULL);
  const M3retPlugin *flat = m3ret_registry_lookup (registry, M3RET_PLUGIN_RETRIEVER, "flat");
  const M3retPlugin *hnsw = m3ret_registry_lookup (registry, M3RET_PLUGIN_RETRIEVER, "hnsw");
  if (flat == NULL || hnsw == NULL) {
    fprintf (stderr, "bench-retrieval: flat and hnsw plugins not found (run via make bench)\n");
    return 1;
  }
  /* flat's tile, as each of its threads runs it: OpenBLAS on one thread. */
  openblas_set_num_threads (1);
  gdouble block = sgemm_rate (256, 1024, DIM);
  openblas_set_num_threads ((int) threads);
  printf ("retrieval benchmark (%u threads; OpenBLAS %s)\n", threads, openblas_get_config ());
  printf ("  sgemm 1024³, %u threads:       %7.1f GFLOP/s\n", threads, sgemm_rate (1024, 1024, 1024));
  printf ("  sgemm 256×1024×%d, 1 thread (flat's tile): %5.1f GFLOP/s\n", DIM, block);
  GRand *rand = g_rand_new_with_seed (2024);
  DatasetResult clustered = run_dataset ("clustered", flat, hnsw, threads, rand, TRUE);
  /* Uniform directions: a note on the worst case, off with M3RET_BENCH_UNIFORM=0. */
  if (g_strcmp0 (g_getenv ("M3RET_BENCH_UNIFORM"), "0") != 0)
    run_dataset ("uniform", flat, hnsw, threads, rand, FALSE);
  g_rand_free (rand);
  /* The targets are read on the clustered database, the one shaped like
   * trained embeddings. */
  g_autofree gchar *flat_figure =
    g_strdup_printf ("flat %zuk x %d, %d queries, k=%d: queries/s / sgemm-bound limit",
                     N_DB / 1000, DIM, N_Q, K);
  bench_row ("retrieval", flat_figure, clustered.flat_qps, "sgemm bound", clustered.bound_qps,
             ">=0.8");
  g_autofree gchar *hnsw_figure =
    g_strdup_printf ("hnsw %zuk x %d: queries/s at recall@10>=0.95 (ef_search %u) / flat",
                     N_DB / 1000, DIM, clustered.hnsw_ef);
  bench_row ("retrieval", hnsw_figure, clustered.hnsw_qps, "flat", clustered.flat_beside_hnsw_qps,
             ">=10");
  m3ret_registry_free (registry);
  return 0;
}
