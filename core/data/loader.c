/* loader.c — the weighted sampler and the worker threads that fill batches.
 *
 * One lock guards the queue of batches being filled.  Workers take the
 * first free slot of the oldest batch (so a batch completes as early as
 * possible), plan a new batch when the queue has room, and decode without
 * the lock.  Everything random is derived from the seed and the batch and
 * slot numbers, never from which thread got there first.
 */
#include "config.h"

#include <string.h>

#include "m3ret-loader.h"

/* Tags keep the layout/file stream of a batch apart from its samples' streams. */
#define TAG_PLAN 0x706c616e
#define TAG_VIEW 0x76696577
#define TAG_REDRAW 0x72647277

/* on_error=skip, TRAIN: files drawn in place of a bad one before giving up. */
#define MAX_REDRAWS 64

typedef struct {
  const gchar *modality;
  M3retLayout layout;
  gdouble weight;
  GArray *entries; /* guint */
} Group;

typedef struct {
  M3retBatch *batch;
  guint next_slot;
  guint done;
  GError *error;
  guint error_slot;
  gboolean *skipped;  /* on_error=skip, SEQUENTIAL: slots left out */
} Pending;

struct _M3retLoader {
  M3retManifest *manifest;
  const M3retModalities *set;
  M3retLoaderOptions opts;
  GArray *groups;             /* Group */
  gdouble layout_weight[2];
  GMutex lock;
  GCond cond;
  GQueue pending;             /* Pending*, in batch order */
  guint64 next_number;
  guint cursor;               /* SEQUENTIAL: next manifest entry */
  guint end;                  /* SEQUENTIAL: one past the last entry */
  gboolean stop;
  GPtrArray *threads;
};

void
m3ret_loader_options_init (M3retLoaderOptions *o)
{
  memset (o, 0, sizeof *o);
  o->mode = M3RET_LOADER_TRAIN;
  o->batch_size = 32;
  o->threads = 2;
  o->queue_batches = 4;
  o->n_views = 1;
  m3ret_view_init_eval (&o->views[0], 64, 16, 2);
}

void
m3ret_loader_options_init_settings (M3retLoaderOptions *o, const M3retSettings *settings,
                                    M3retLoaderMode mode)
{
  m3ret_loader_options_init (o);
  o->mode = mode;
  const M3retInputSettings *input = &settings->input;
  const M3retDataSettings *data = &settings->data;
  guint size = (guint) input->size;
  guint depth = (guint) input->depth;
  guint image_depth = (guint) input->tubelet[0];
  if (mode == M3RET_LOADER_TRAIN)
    m3ret_view_init_train (&o->views[0], size, depth, image_depth, 0.4, 1.0, NULL);
  else
    m3ret_view_init_eval (&o->views[0], size, depth, image_depth);
  o->batch_size = (guint) settings->train.batch;
  o->seed = (guint64) settings->pipeline.seed;
  o->weight_names = data->weights.names;
  o->weights = data->weights.values;
  o->n_weights = data->weights.names != NULL ? data->weights.n : 0;
  o->threads = (guint) data->loader_threads;
  o->queue_batches = (guint) data->loader_queue;
}

static void
pending_free (Pending *p)
{
  m3ret_batch_free (p->batch);
  g_clear_error (&p->error);
  g_free (p->skipped);
  g_free (p);
}

static GRand *
rand_for (guint64 seed, guint64 number, guint32 slot, guint32 tag)
{
  guint32 words[6] = { (guint32) seed, (guint32) (seed >> 32), (guint32) number,
                       (guint32) (number >> 32), slot, tag };
  return g_rand_new_with_seed_array (words, G_N_ELEMENTS (words));
}

static M3retBatch *
batch_new (const M3retLoader *l, guint64 number, guint n, M3retLayout layout)
{
  M3retBatch *b = g_new0 (M3retBatch, 1);
  b->number = number;
  b->n = n;
  b->layout = layout;
  b->n_views = l->opts.n_views;
  b->views = g_new0 (M3retBatchView, b->n_views);
  for (guint v = 0; v < b->n_views; v++) {
    const M3retView *view = &l->opts.views[v];
    M3retBatchView *bv = &b->views[v];
    bv->channels = 3;
    bv->frames = layout == M3RET_LAYOUT_IMAGE ? view->image_depth : view->depth;
    bv->height = bv->width = view->size;
    bv->data = g_new0 (gfloat, (gsize) n * bv->channels * bv->frames * bv->height * bv->width);
  }
  b->entries = g_new0 (guint, n);
  return b;
}

/* Under the lock.  Returns NULL when a SEQUENTIAL pass has no entry left. */
static Pending *
plan_batch (M3retLoader *l)
{
  guint64 number = l->next_number;
  M3retBatch *b;
  if (l->opts.mode == M3RET_LOADER_SEQUENTIAL) {
    guint total = l->end;
    if (l->cursor >= total)
      return NULL;
    M3retLayout layout = m3ret_manifest_get_layout (l->manifest, l->cursor);
    guint n = 1;
    while (n < l->opts.batch_size && l->cursor + n < total &&
           m3ret_manifest_get_layout (l->manifest, l->cursor + n) == layout)
      n++;
    b = batch_new (l, number, n, layout);
    for (guint j = 0; j < n; j++)
      b->entries[j] = l->cursor + j;
    l->cursor += n;
  } else {
    GRand *r = rand_for (l->opts.seed, number, 0, TAG_PLAN);
    gdouble total = l->layout_weight[0] + l->layout_weight[1];
    M3retLayout layout =
      (g_rand_double (r) * total < l->layout_weight[0]) ? M3RET_LAYOUT_IMAGE : M3RET_LAYOUT_SEQUENCE;
    if (l->layout_weight[layout] <= 0.0) /* rounding at the edge */
      layout = layout == M3RET_LAYOUT_IMAGE ? M3RET_LAYOUT_SEQUENCE : M3RET_LAYOUT_IMAGE;
    /* The whole batch is drawn, so that a shard's draws are the whole's. */
    guint n_shard = l->opts.shard_count > 0 ? l->opts.shard_count : l->opts.batch_size;
    b = batch_new (l, number, n_shard, layout);
    for (guint j = 0; j < l->opts.batch_size; j++) {
      gdouble u = g_rand_double (r) * l->layout_weight[layout];
      const Group *pick = NULL;
      for (guint g = 0; g < l->groups->len; g++) {
        const Group *grp = &g_array_index (l->groups, Group, g);
        if (grp->layout != layout || grp->weight <= 0.0)
          continue;
        pick = grp;
        if (u < grp->weight)
          break;
        u -= grp->weight;
      }
      guint entry = g_array_index (pick->entries, guint,
                                   g_rand_int_range (r, 0, (gint32) pick->entries->len));
      if (j >= l->opts.shard_first && j - l->opts.shard_first < n_shard)
        b->entries[j - l->opts.shard_first] = entry;
    }
    g_rand_free (r);
  }
  l->next_number++;
  Pending *p = g_new0 (Pending, 1);
  p->batch = b;
  if (l->opts.skips != NULL && l->opts.mode == M3RET_LOADER_SEQUENTIAL)
    p->skipped = g_new0 (gboolean, b->n);
  return p;
}

/* Under the lock: a slot to decode, planning a batch when there is room. */
static gboolean
take_slot (M3retLoader *l, Pending **out, guint *slot)
{
  for (GList *it = l->pending.head; it != NULL; it = it->next) {
    Pending *p = it->data;
    if (p->next_slot < p->batch->n) {
      *out = p;
      *slot = p->next_slot++;
      return TRUE;
    }
  }
  if (l->pending.length >= MAX (l->opts.queue_batches, 1u))
    return FALSE;
  Pending *p = plan_batch (l);
  if (p == NULL)
    return FALSE;
  g_queue_push_tail (&l->pending, p);
  *out = p;
  *slot = p->next_slot++;
  return TRUE;
}

/* Without the lock: decodes manifest entry @entry into slot @slot of @b. */
static GError *
read_entry (M3retLoader *l, M3retBatch *b, guint slot, guint entry)
{
  M3retView views[M3RET_LOADER_MAX_VIEWS];
  GRand *r = NULL;
  memcpy (views, l->opts.views, sizeof views);
  if (l->opts.mode == M3RET_LOADER_TRAIN)
    r = rand_for (l->opts.seed, b->number, l->opts.shard_first + slot + 1, TAG_VIEW);
  for (guint v = 0; v < l->opts.n_views; v++) {
    if (l->opts.mode == M3RET_LOADER_SEQUENTIAL)
      views[v].mode = M3RET_VIEW_EVAL;
    views[v].rand = r;
  }
  M3retSample *out[M3RET_LOADER_MAX_VIEWS] = { NULL };
  GError *error = NULL;
  if (m3ret_modalities_read (l->set, m3ret_manifest_get_modality (l->manifest, entry),
                             m3ret_manifest_get_path (l->manifest, entry), views,
                             l->opts.n_views, out, &error)) {
    for (guint v = 0; v < l->opts.n_views; v++) {
      gsize n = m3ret_sample_n_values (out[v]);
      memcpy (b->views[v].data + (gsize) slot * n, out[v]->data, n * sizeof (gfloat));
      m3ret_sample_free (out[v]);
    }
  }
  if (r != NULL)
    g_rand_free (r);
  return error;
}

/* The group entry @entry was drawn from. */
static const Group *
group_of (const M3retLoader *l, guint entry)
{
  const gchar *modality = m3ret_manifest_get_modality (l->manifest, entry);
  M3retLayout layout = m3ret_manifest_get_layout (l->manifest, entry);
  for (guint g = 0; g < l->groups->len; g++) {
    const Group *grp = &g_array_index (l->groups, Group, g);
    if (grp->layout == layout && strcmp (grp->modality, modality) == 0)
      return grp;
  }
  g_return_val_if_reached (NULL);
}

/* on_error=skip, TRAIN: files of @entry's group drawn in turn from the
 * slot's own stream until one reads.  A file known bad is passed over
 * without reading: the same draw is used up either way, so the outcome
 * does not depend on which thread found it bad first. */
static GError *
redraw (M3retLoader *l, M3retBatch *b, guint slot, GError *error)
{
  const Group *grp = group_of (l, b->entries[slot]);
  GRand *r = rand_for (l->opts.seed, b->number, l->opts.shard_first + slot + 1, TAG_REDRAW);
  for (guint attempt = 0; attempt < MAX_REDRAWS && error != NULL; attempt++) {
    guint entry = g_array_index (grp->entries, guint,
                                 g_rand_int_range (r, 0, (gint32) grp->entries->len));
    if (m3ret_skips_has (l->opts.skips, m3ret_manifest_get_path (l->manifest, entry)))
      continue;
    g_clear_error (&error);
    error = read_entry (l, b, slot, entry);
    if (error == NULL)
      b->entries[slot] = entry;
    else
      m3ret_skips_add (l->opts.skips, m3ret_manifest_get_path (l->manifest, entry), error);
  }
  g_rand_free (r);
  if (error != NULL)
    g_prefix_error (&error, "%u files of modality '%s' drawn in turn failed (on_error=skip); "
                    "the last: ", MAX_REDRAWS + 1, grp->modality);
  return error;
}

/* Without the lock: decodes slot @slot of @p's batch into its buffers. */
static GError *
fill_slot (M3retLoader *l, Pending *p, guint slot)
{
  M3retBatch *b = p->batch;
  GError *error = read_entry (l, b, slot, b->entries[slot]);
  if (error == NULL || l->opts.skips == NULL)
    return error;
  m3ret_skips_add (l->opts.skips, m3ret_manifest_get_path (l->manifest, b->entries[slot]), error);
  if (l->opts.mode == M3RET_LOADER_TRAIN)
    return redraw (l, b, slot, error);
  p->skipped[slot] = TRUE;
  g_error_free (error);
  return NULL;
}

/* on_error=skip, SEQUENTIAL: moves the slots that read to the front. */
static void
drop_skipped (M3retBatch *b, const gboolean *skipped)
{
  guint kept = 0;
  for (guint j = 0; j < b->n; j++) {
    if (skipped[j])
      continue;
    for (guint v = 0; v < b->n_views; v++) {
      M3retBatchView *bv = &b->views[v];
      gsize n = (gsize) bv->channels * bv->frames * bv->height * bv->width;
      if (kept != j)
        memcpy (bv->data + kept * n, bv->data + j * n, n * sizeof (gfloat));
    }
    b->entries[kept++] = b->entries[j];
  }
  b->n = kept;
}

/* Under the lock: records a finished slot. */
static void
finish_slot (M3retLoader *l, Pending *p, guint slot, GError *error)
{
  p->done++;
  if (error != NULL) {
    /* The first failing slot's error, whichever thread finished first. */
    if (p->error == NULL || slot < p->error_slot) {
      g_clear_error (&p->error);
      p->error = error;
      p->error_slot = slot;
    } else {
      g_error_free (error);
    }
  }
  if (p->done == p->batch->n)
    g_cond_broadcast (&l->cond);
}

static gpointer
worker (gpointer data)
{
  M3retLoader *l = data;
  g_mutex_lock (&l->lock);
  while (!l->stop) {
    Pending *p;
    guint slot;
    if (!take_slot (l, &p, &slot)) {
      g_cond_wait (&l->cond, &l->lock);
      continue;
    }
    g_mutex_unlock (&l->lock);
    GError *error = fill_slot (l, p, slot);
    g_mutex_lock (&l->lock);
    finish_slot (l, p, slot, error);
  }
  g_mutex_unlock (&l->lock);
  return NULL;
}

static gboolean
build_groups (M3retLoader *l, GError **error)
{
  g_autoptr (GHashTable) index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) per_modality = g_hash_table_new (g_str_hash, g_str_equal);
  guint total = m3ret_manifest_size (l->manifest);
  for (guint i = 0; i < total; i++) {
    const gchar *modality = m3ret_manifest_get_modality (l->manifest, i);
    M3retLayout layout = m3ret_manifest_get_layout (l->manifest, i);
    gchar *key = g_strdup_printf ("%s/%d", modality, layout);
    gpointer found;
    guint g;
    if (g_hash_table_lookup_extended (index, key, NULL, &found)) {
      g = GPOINTER_TO_UINT (found);
      g_free (key);
    } else {
      Group grp = { modality, layout, 0.0, g_array_new (FALSE, FALSE, sizeof (guint)) };
      g = l->groups->len;
      g_array_append_val (l->groups, grp);
      g_hash_table_insert (index, key, GUINT_TO_POINTER (g));
    }
    g_array_append_val (g_array_index (l->groups, Group, g).entries, i);
    guint count = GPOINTER_TO_UINT (g_hash_table_lookup (per_modality, modality));
    g_hash_table_insert (per_modality, (gpointer) modality, GUINT_TO_POINTER (count + 1));
  }
  for (guint g = 0; g < l->groups->len; g++) {
    Group *grp = &g_array_index (l->groups, Group, g);
    gdouble w = l->opts.n_weights == 0 ? 1.0 : 0.0;
    for (guint k = 0; k < l->opts.n_weights; k++) /* [data] weights=XRay:1 is xray */
      if (g_ascii_strcasecmp (l->opts.weight_names[k], grp->modality) == 0)
        w = l->opts.weights[k];
    guint n_modality = GPOINTER_TO_UINT (g_hash_table_lookup (per_modality, grp->modality));
    /* A modality's weight is shared by its layouts in proportion to their files. */
    grp->weight = w * grp->entries->len / n_modality;
    l->layout_weight[grp->layout] += grp->weight;
  }
  if (l->layout_weight[0] + l->layout_weight[1] <= 0.0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                 "%s: nothing to sample: the manifest is empty or the weights give 0 to every "
                 "modality in it", m3ret_manifest_get_source (l->manifest));
    return FALSE;
  }
  return TRUE;
}

static void
groups_free (GArray *groups)
{
  for (guint g = 0; g < groups->len; g++)
    g_array_unref (g_array_index (groups, Group, g).entries);
  g_array_unref (groups);
}

M3retLoader *
m3ret_loader_new (M3retManifest *manifest, const M3retModalities *set,
                  const M3retLoaderOptions *options, GError **error)
{
  g_return_val_if_fail (manifest != NULL && set != NULL && options != NULL, NULL);
  if (options->batch_size == 0 || options->n_views == 0 ||
      options->n_views > M3RET_LOADER_MAX_VIEWS) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                 "loader: batch size must be positive and views between 1 and %d",
                 M3RET_LOADER_MAX_VIEWS);
    return NULL;
  }
  if (options->mode == M3RET_LOADER_TRAIN &&
      (options->shard_first >= options->batch_size ||
       options->shard_count > options->batch_size - options->shard_first)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                 "loader: a shard of samples %u to %u is not within a batch of %u",
                 options->shard_first, options->shard_first + options->shard_count,
                 options->batch_size);
    return NULL;
  }
  for (guint v = 0; v < options->n_views; v++) {
    const M3retView *view = &options->views[v];
    if (view->size == 0 || view->depth == 0 || view->image_depth == 0) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                   "loader: view %u has an empty grid (%u×%u, depth %u, image depth %u)", v,
                   view->size, view->size, view->depth, view->image_depth);
      return NULL;
    }
  }
  if (options->skips != NULL ? !m3ret_manifest_resolve_skipping (manifest, set, options->skips, error)
                             : !m3ret_manifest_resolve (manifest, set, error))
    return NULL;
  M3retLoader *l = g_new0 (M3retLoader, 1);
  l->manifest = manifest;
  l->set = set;
  l->opts = *options;
  if (options->mode != M3RET_LOADER_TRAIN)
    l->opts.shard_first = l->opts.shard_count = 0;
  l->end = m3ret_manifest_size (manifest);
  if (options->mode == M3RET_LOADER_SEQUENTIAL) {
    if (options->end_entry > 0)
      l->end = MIN (l->end, options->end_entry);
    l->cursor = MIN (options->first_entry, l->end);
  }
  l->next_number = options->mode == M3RET_LOADER_TRAIN ? options->first_batch : 0;
  l->groups = g_array_new (FALSE, FALSE, sizeof (Group));
  g_mutex_init (&l->lock);
  g_cond_init (&l->cond);
  g_queue_init (&l->pending);
  if (options->mode == M3RET_LOADER_TRAIN && !build_groups (l, error)) {
    m3ret_loader_free (l);
    return NULL;
  }
  l->threads = g_ptr_array_new ();
  for (guint t = 0; t < options->threads; t++) {
    g_autofree gchar *name = g_strdup_printf ("m3ret-loader-%u", t);
    g_ptr_array_add (l->threads, g_thread_new (name, worker, l));
  }
  return l;
}

/* The oldest batch once every slot is done; NULL at the end of a pass. */
static Pending *
next_finished (M3retLoader *l)
{
  g_mutex_lock (&l->lock);
  for (;;) {
    Pending *head = g_queue_peek_head (&l->pending);
    if (head != NULL && head->done == head->batch->n)
      break;
    if (l->threads->len == 0) {
      Pending *p;
      guint slot;
      if (!take_slot (l, &p, &slot))
        break; /* nothing left to plan: the end of a pass */
      g_mutex_unlock (&l->lock);
      GError *e = fill_slot (l, p, slot);
      g_mutex_lock (&l->lock);
      finish_slot (l, p, slot, e);
      continue;
    }
    if (head == NULL && l->opts.mode == M3RET_LOADER_SEQUENTIAL && l->cursor >= l->end)
      break;
    g_cond_broadcast (&l->cond);
    g_cond_wait (&l->cond, &l->lock);
  }
  Pending *head = g_queue_pop_head (&l->pending);
  g_cond_broadcast (&l->cond); /* room for a new batch */
  g_mutex_unlock (&l->lock);
  return head;
}

M3retBatch *
m3ret_loader_next (M3retLoader *l, GError **error)
{
  g_return_val_if_fail (l != NULL, NULL);
  for (;;) {
    Pending *head = next_finished (l);
    if (head == NULL)
      return NULL;
    M3retBatch *batch = NULL;
    if (head->error != NULL) {
      g_propagate_error (error, g_steal_pointer (&head->error));
    } else {
      batch = g_steal_pointer (&head->batch);
      if (head->skipped != NULL)
        drop_skipped (batch, head->skipped);
    }
    pending_free (head);
    if (batch != NULL && batch->n == 0) { /* every entry of it was skipped */
      m3ret_batch_free (batch);
      continue;
    }
    return batch;
  }
}

void
m3ret_loader_free (M3retLoader *l)
{
  if (l == NULL)
    return;
  if (l->threads != NULL) {
    g_mutex_lock (&l->lock);
    l->stop = TRUE;
    g_cond_broadcast (&l->cond);
    g_mutex_unlock (&l->lock);
    for (guint t = 0; t < l->threads->len; t++)
      g_thread_join (l->threads->pdata[t]);
    g_ptr_array_unref (l->threads);
  }
  g_queue_clear_full (&l->pending, (GDestroyNotify) pending_free);
  groups_free (l->groups);
  g_mutex_clear (&l->lock);
  g_cond_clear (&l->cond);
  g_free (l);
}
