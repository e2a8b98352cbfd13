/* embedder.c — manifests to embeddings with the frozen encoder. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dist-private.h"
#include "m3ret-embedder.h"
#include "m3ret-encoder-context.h"
#include "m3ret-loader.h"
#include "m3ret-ops.h"
#include "m3ret-raw-features.h"
#include "m3ret-readout.h"

struct _M3retEmbedder {
  const M3retPipeline *pipeline;
  M3retEncoderContext *context; /* device, parameters, ViT, modalities */
  M3retVit *vit;                /* the context's */
  M3retGraph *graph;
  M3retModalities *modalities;  /* the context's */
  guint loader_threads;
  M3retSkips *skips; /* not owned; NULL: fail on a bad entry */
  /* the raw-pixel baseline: features from the views, no encoder */
  gboolean raw;
  gchar *raw_provenance;
  M3retReadout readout; /* how the encoder's tokens become rows */
  const M3retDist *dist; /* NULL: one process */
};

void
m3ret_embedder_free (M3retEmbedder *e)
{
  if (e == NULL)
    return;
  m3ret_graph_free (e->graph);
  m3ret_encoder_context_free (e->context);
  g_free (e->raw_provenance);
  g_free (e);
}

M3retEmbedder *
m3ret_embedder_new (M3retRegistry *registry, const M3retPipeline *pipeline,
                    const gchar *checkpoint, GError **error)
{
  g_return_val_if_fail (registry != NULL && pipeline != NULL && checkpoint != NULL, NULL);
  /* The random baseline is the initialisation itself; the raw one needs
   * the context for its modalities only. */
  gboolean raw = strcmp (checkpoint, M3RET_CHECKPOINT_RAW) == 0;
  M3retEncoderContextOptions options = {
    .checkpoint = m3ret_checkpoint_is_file (checkpoint) ? checkpoint : NULL,
    .provenance = !raw,
  };
  M3retEncoderContext *context = m3ret_encoder_context_new (registry, pipeline, &options, error);
  if (context == NULL)
    return NULL;
  M3retEmbedder *e = g_new0 (M3retEmbedder, 1);
  e->pipeline = pipeline;
  e->context = context;
  e->vit = m3ret_encoder_context_get_vit (context);
  e->modalities = m3ret_encoder_context_get_modalities (context);
  e->graph = m3ret_graph_new (m3ret_encoder_context_get_device (context));
  m3ret_graph_set_grad_enabled (e->graph, FALSE);
  const M3retSettings *settings = m3ret_pipeline_get_settings (pipeline);
  e->loader_threads = (guint) settings->data.loader_threads;
  m3ret_readout_from_settings (&e->readout, &settings->encoder, m3ret_vit_get_config (e->vit)->depth);
  if (raw) {
    gint tubelet[3] = { (gint) settings->input.tubelet[0], (gint) settings->input.tubelet[1],
                        (gint) settings->input.tubelet[2] };
    e->raw = TRUE;
    e->raw_provenance = m3ret_raw_provenance ((guint) settings->input.size,
                                              (guint) settings->input.depth, tubelet);
  }
  return e;
}

gboolean
m3ret_checkpoint_is_file (const gchar *checkpoint)
{
  return g_strcmp0 (checkpoint, M3RET_CHECKPOINT_RANDOM) != 0
         && g_strcmp0 (checkpoint, M3RET_CHECKPOINT_RAW) != 0;
}

const gchar *
m3ret_embedder_get_provenance (const M3retEmbedder *e)
{
  return e->raw ? e->raw_provenance : m3ret_encoder_context_get_provenance (e->context);
}

guint
m3ret_embedder_get_dim (const M3retEmbedder *e)
{
  if (e->raw)
    return m3ret_raw_feature_dim ((guint) m3ret_vit_get_config (e->vit)->in_chans);
  return m3ret_readout_dim (&e->readout, m3ret_vit_get_config (e->vit)->dim);
}

/* (transfer full) the read-out rows of @n samples @data laid out as @v's
 * (B×C×T×H×W), on the host */
static gfloat *
encoder_rows (M3retEmbedder *e, const M3retBatchView *v, guint n, const gfloat *data,
              GError **error)
{
  const M3retVitConfig *c = m3ret_vit_get_config (e->vit);
  m3ret_graph_reset (e->graph);
  M3retTensor *patches = m3ret_vit_patchify (e->graph, e->vit, data, (gint) n, (gint) v->frames);
  M3retTensor *tokens = m3ret_vit_forward_blocks (e->graph, e->vit, patches, NULL, 0,
                                                  e->readout.last, e->readout.count);
  if (tokens == NULL) {
    m3ret_graph_check (e->graph, error);
    return NULL;
  }
  g_autofree gfloat *host = m3ret_tensor_to_host (tokens);
  const gint grid[3] = { (gint) v->frames / c->tubelet[0], c->grid[1], c->grid[2] };
  gfloat *rows = g_new (gfloat, (gsize) n * m3ret_embedder_get_dim (e));
  m3ret_readout_rows (&e->readout, host, (gint) n, grid, c->dim, rows);
  return rows;
}

/* (transfer full) @v's @n samples mirrored left-right (along W) */
static gfloat *
mirror_view (const M3retBatchView *v, guint n)
{
  gsize w = v->width, lines = (gsize) n * v->channels * v->frames * v->height;
  gfloat *out = g_new (gfloat, lines * w);
  for (gsize l = 0; l < lines; l++)
    for (gsize x = 0; x < w; x++)
      out[l * w + x] = v->data[l * w + w - 1 - x];
  return out;
}

/* (transfer full) the batch's embeddings, batch->n × dim, on the host */
static gfloat *
embed_batch (M3retEmbedder *e, const M3retBatch *batch, GError **error)
{
  const M3retBatchView *v = &batch->views[0];
  if (e->raw) {
    guint dim = m3ret_embedder_get_dim (e);
    gfloat *host = g_new (gfloat, (gsize) batch->n * dim);
    for (guint j = 0; j < batch->n; j++)
      m3ret_raw_feature (v, j, host + (gsize) j * dim);
    return host;
  }
  guint dim = m3ret_embedder_get_dim (e);
  gfloat *rows = encoder_rows (e, v, batch->n, v->data, error);
  if (rows == NULL || e->readout.tta == M3RET_TTA_NONE)
    return rows;
  /* the mirror image's rows averaged in, then normalised again */
  g_autofree gfloat *mirror = mirror_view (v, batch->n);
  g_autofree gfloat *mirrored = encoder_rows (e, v, batch->n, mirror, error);
  if (mirrored == NULL) {
    g_free (rows);
    return NULL;
  }
  for (guint j = 0; j < batch->n; j++) {
    gfloat *row = rows + (gsize) j * dim;
    gdouble ss = 0.0;
    for (guint c = 0; c < dim; c++) {
      row[c] += mirrored[(gsize) j * dim + c];
      ss += (gdouble) row[c] * row[c];
    }
    gfloat inv = (gfloat) (1.0 / MAX (sqrt (ss), 1e-12));
    for (guint c = 0; c < dim; c++)
      row[c] *= inv;
  }
  return rows;
}

void
m3ret_embedder_set_skips (M3retEmbedder *e, M3retSkips *skips)
{
  e->skips = skips;
}

void
m3ret_embedder_set_dist (M3retEmbedder *e, const M3retDist *dist)
{
  e->dist = dist;
}

/* This rank's entries [*first, *end) of @manifest: whole batches of the
 * pass one process makes (runs of one layout, @batch_size at most), the
 * batches shared out in order, so every sample sees the batch it would. */
static void
rank_range (const M3retEmbedder *e, const M3retManifest *manifest, guint batch_size, guint *first,
            guint *end)
{
  guint n = m3ret_manifest_size (manifest);
  g_autoptr (GArray) starts = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint at = 0; at < n;) {
    g_array_append_val (starts, at);
    M3retLayout layout = m3ret_manifest_get_layout (manifest, at);
    guint len = 1;
    while (len < batch_size && at + len < n && m3ret_manifest_get_layout (manifest, at + len) == layout)
      len++;
    at += len;
  }
  guint batches = starts->len, ranks = (guint) m3ret_dist_get_size (e->dist);
  guint r = (guint) m3ret_dist_get_rank (e->dist);
  guint b0 = (guint) ((guint64) batches * r / ranks), b1 = (guint) ((guint64) batches * (r + 1) / ranks);
  *first = b0 < batches ? g_array_index (starts, guint, b0) : n;
  *end = b1 < batches ? g_array_index (starts, guint, b1) : n;
}

/* Returns: (transfer full) the rows of @all marked in @embedded, in order. */
static M3retEmbeddings *
keep_embedded (const M3retEmbeddings *all, const gboolean *embedded, gsize kept)
{
  M3retEmbeddings *out = m3ret_embeddings_new (kept, all->dim);
  out->provenance = g_strdup (all->provenance);
  gsize row = 0;
  for (gsize i = 0; i < all->n_rows; i++) {
    if (!embedded[i])
      continue;
    memcpy (out->data + row * all->dim, all->data + i * all->dim, all->dim * sizeof (gfloat));
    m3ret_items_set (out->items, row++, all->items->paths[i], all->items->modalities[i],
                     all->items->labels[i]);
  }
  return out;
}

const M3retModalities *
m3ret_embedder_get_modalities (const M3retEmbedder *e)
{
  return e->modalities;
}

gboolean
m3ret_embedder_resolve (M3retEmbedder *e, M3retManifest *manifest, GError **error)
{
  return e->skips != NULL ? m3ret_manifest_resolve_skipping (manifest, e->modalities, e->skips, error)
                          : m3ret_manifest_resolve (manifest, e->modalities, error);
}

static void
progress_bar (const gchar *label, gsize done, gsize total, gint64 start)
{
  gint width = 30, filled = total ? (gint) (width * done / total) : width;
  gdouble elapsed = (g_get_monotonic_time () - start) / 1e6;
  fprintf (stderr, "\r%s [%.*s%*s] %zu/%zu  %.1f/s ", label ? label : "embed", filled,
           "##############################", width - filled, "", done, total,
           elapsed > 0 ? done / elapsed : 0.0);
  if (done == total)
    fputc ('\n', stderr);
}

M3retEmbeddings *
m3ret_embedder_embed_manifest (M3retEmbedder *e, M3retManifest *manifest, guint batch_size,
                               const gchar *label, gboolean progress, GError **error)
{
  g_return_val_if_fail (e != NULL && manifest != NULL, NULL);
  M3retLoaderOptions o;
  m3ret_loader_options_init_settings (&o, m3ret_pipeline_get_settings (e->pipeline),
                                      M3RET_LOADER_SEQUENTIAL);
  o.batch_size = MAX (1, batch_size);
  o.threads = e->loader_threads;
  o.skips = e->skips;
  gboolean parallel = m3ret_dist_is_parallel (e->dist);
  /* Data-parallel: every rank resolves the whole manifest (the same way),
   * embeds its share, and rank 0 gathers the rows bit for bit. */
  if (parallel && !m3ret_embedder_resolve (e, manifest, error))
    return NULL;
  if (parallel)
    rank_range (e, manifest, o.batch_size, &o.first_entry, &o.end_entry);
  if (parallel && o.first_entry == o.end_entry)
    o.first_entry = o.end_entry = m3ret_manifest_size (manifest); /* nothing for this rank */
  g_autoptr (M3retLoader) loader = m3ret_loader_new (manifest, e->modalities, &o, error);
  if (loader == NULL)
    return NULL;
  gsize n = m3ret_manifest_size (manifest);
  progress = progress && m3ret_dist_get_rank (e->dist) == 0;
  guint dim = m3ret_embedder_get_dim (e);
  g_autoptr (M3retEmbeddings) out = m3ret_embeddings_new (n, dim);
  out->provenance = g_strdup (m3ret_embedder_get_provenance (e));
  for (gsize i = 0; i < n; i++)
    m3ret_items_set (out->items, i, m3ret_manifest_get_path (manifest, i),
                     m3ret_manifest_get_modality (manifest, i), m3ret_manifest_get_label (manifest, i));
  gint64 start = g_get_monotonic_time ();
  gsize done = 0;
  g_autofree gboolean *embedded = g_new0 (gboolean, MAX (n, 1));
  for (;;) {
    GError *local = NULL;
    g_autoptr (M3retBatch) batch = m3ret_loader_next (loader, &local);
    if (batch == NULL) {
      if (local != NULL) {
        if (progress)
          fputc ('\n', stderr);
        g_propagate_error (error, local);
        return NULL;
      }
      break;
    }
    g_autofree gfloat *host = embed_batch (e, batch, error);
    if (host == NULL)
      return NULL;
    for (guint j = 0; j < batch->n; j++) {
      memcpy (out->data + (gsize) batch->entries[j] * dim, host + (gsize) j * dim,
              dim * sizeof (gfloat));
      embedded[batch->entries[j]] = TRUE;
    }
    done += batch->n;
    if (progress)
      progress_bar (label, done, n, start);
  }
  if (parallel) {
    g_assert (sizeof (gboolean) == sizeof (guint32) && sizeof (gfloat) == sizeof (guint32));
    m3ret_dist_gather_or (e->dist, (guint32 *) out->data, n * dim);
    m3ret_dist_gather_or (e->dist, (guint32 *) embedded, n);
    done = 0;
    for (gsize i = 0; i < n; i++)
      done += embedded[i] != 0;
    if (m3ret_dist_get_rank (e->dist) != 0)
      done = n; /* rank 0 alone has the rows */
  }
  if (progress && done < n)
    fputc ('\n', stderr);
  if (done == 0 && n > 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                 "%s: no entry could be embedded: every one was skipped (on_error=skip)",
                 m3ret_manifest_get_source (manifest));
    return NULL;
  }
  if (done < n) /* on_error=skip left some out: rows and items only for the rest */
    return keep_embedded (out, embedded, done);
  return g_steal_pointer (&out);
}
