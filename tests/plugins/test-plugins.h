/* test-plugins.h — vtables shared by the test-only plugin modules. */
#ifndef M3RET_TEST_PLUGINS_H
#define M3RET_TEST_PLUGINS_H

#include "m3ret.h"

static gpointer
test_create (const M3retConfig *config, GError **error)
{
  return g_new0 (gint, 1);
}

static guint
test_probe (const gchar *path, const guint8 *head, gsize head_len)
{
  return g_str_has_suffix (path, ".test") ? 100 : 0;
}

static M3retLayout
test_layout (gpointer self, const gchar *path, GError **error)
{
  return M3RET_LAYOUT_IMAGE;
}

/* Registry tests never read files; a read says so instead of inventing data. */
static gboolean
test_read (gpointer self, const gchar *path, const M3retView *views, guint n_views,
           M3retSample **out, GError **error)
{
  g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
               "%s: the test modality reads no files", path);
  return FALSE;
}

static const M3retModalityVTable test_modality_vtable = {
  .create = test_create,
  .destroy = g_free,
  .probe = test_probe,
  .layout = test_layout,
  .read = test_read,
};

/* A minimal honest objective: the mean square of the first view's values,
 * which trains nothing but runs through the whole interface. */
typedef struct {
  guint size, depth, image_depth;
} TestObjective;

static gpointer
test_objective_create (const M3retConfig *config, const M3retObjectiveSetup *setup, GError **error)
{
  TestObjective *self = g_new0 (TestObjective, 1);
  self->size = setup->size;
  self->depth = setup->depth;
  self->image_depth = setup->image_depth;
  return self;
}

static guint
test_objective_views (gpointer self, M3retView *views, guint max_views)
{
  TestObjective *t = self;
  m3ret_view_init_eval (&views[0], t->size, t->depth, t->image_depth);
  return 1;
}

static M3retTensor *
test_objective_loss (gpointer self, M3retGraph *graph, const M3retBatch *batch, gint64 step,
                     GError **error)
{
  const M3retBatchView *v = &batch->views[0];
  gint64 shape[2] = { batch->n, (gint64) v->channels * v->frames * v->height * v->width };
  M3retTensor *x = m3ret_graph_from_host (graph, 2, shape, v->data, FALSE);
  return m3ret_op_mean (graph, m3ret_op_mul (graph, x, x));
}

static void
test_objective_optimizer (gpointer self, M3retOptimizerSettings *s)
{
  *s = (M3retOptimizerSettings) { 0.9, 0.999, 1e-8, 0.0, 0.0 };
}

static const M3retObjectiveVTable test_objective_vtable = {
  .create = test_objective_create,
  .destroy = g_free,
  .views = test_objective_views,
  .loss = test_objective_loss,
  .optimizer = test_objective_optimizer,
};

/* A retriever that holds nothing: enough for registry and pipeline tests. */
static gpointer
test_retriever_create (const M3retConfig *config, guint dim, guint n_threads, GError **error)
{
  return g_new0 (gint, 1);
}

static gboolean
test_retriever_add (gpointer index, const gfloat *vectors, gsize n, GError **error)
{
  return TRUE;
}

static gsize
test_retriever_count (gpointer index)
{
  return 0;
}

static gboolean
test_retriever_search (gpointer index, const gfloat *queries, gsize n_queries, guint k,
                       gint64 *ids, gfloat *scores, GError **error)
{
  for (gsize i = 0; i < n_queries * k; i++)
    ids[i] = -1;
  return TRUE;
}

/* An empty payload: the test retriever holds nothing worth saving. */
static gboolean
test_retriever_save (gpointer index, M3retIndexWriter *writer, GError **error)
{
  return TRUE;
}

static gpointer
test_retriever_load (const M3retConfig *config, guint dim, gsize count, const guint8 *payload,
                     gsize payload_len, guint n_threads, GError **error)
{
  return g_new0 (gint, 1);
}

static const M3retRetrieverVTable test_retriever_vtable = {
  .create = test_retriever_create,
  .destroy = g_free,
  .add = test_retriever_add,
  .count = test_retriever_count,
  .search = test_retriever_search,
  .save = test_retriever_save,
  .load = test_retriever_load,
};

#endif
