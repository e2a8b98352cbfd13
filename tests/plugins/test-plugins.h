/* test-plugins.h — vtables shared by the test-only plugin modules. */
#ifndef M3RET_TEST_PLUGINS_H
#define M3RET_TEST_PLUGINS_H

#include "m3ret-plugin.h"

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

static const M3retObjectiveVTable test_objective_vtable = {
  .create = test_create,
  .destroy = g_free,
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
