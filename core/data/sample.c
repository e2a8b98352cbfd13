/* sample.c — samples on the canonical grid, views, inspect descriptions. */
#include "config.h"

#include <string.h>

#include "m3ret-plugin.h"
#include "m3ret-sample.h"

G_DEFINE_QUARK (m3ret-data-error-quark, m3ret_data_error)

const gchar *
m3ret_layout_to_string (M3retLayout layout)
{
  return layout == M3RET_LAYOUT_IMAGE ? "image" : "sequence";
}

void
m3ret_view_init_eval (M3retView *view, guint size, guint depth, guint image_depth)
{
  memset (view, 0, sizeof *view);
  view->mode = M3RET_VIEW_EVAL;
  view->size = size;
  view->depth = depth;
  view->image_depth = image_depth;
  view->scale_min = view->scale_max = 1.0;
}

void
m3ret_view_init_train (M3retView *view, guint size, guint depth, guint image_depth,
                       gdouble scale_min, gdouble scale_max, GRand *rand)
{
  m3ret_view_init_eval (view, size, depth, image_depth);
  view->mode = M3RET_VIEW_TRAIN;
  view->scale_min = scale_min;
  view->scale_max = scale_max;
  view->rand = rand;
}

M3retSample *
m3ret_sample_new (guint channels, guint frames, guint height, guint width)
{
  M3retSample *s = g_new0 (M3retSample, 1);
  s->channels = channels;
  s->frames = frames;
  s->height = height;
  s->width = width;
  s->data = g_new0 (gfloat, m3ret_sample_n_values (s));
  return s;
}

void
m3ret_sample_free (M3retSample *sample)
{
  if (sample == NULL)
    return;
  g_free (sample->data);
  g_free (sample);
}

void
m3ret_inspect_info_clear (M3retInspectInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->format);
  g_free (info->datatype);
  g_free (info->orientation);
  if (info->notes != NULL)
    g_ptr_array_unref (info->notes);
  memset (info, 0, sizeof *info);
}

void
m3ret_batch_free (M3retBatch *batch)
{
  if (batch == NULL)
    return;
  for (guint v = 0; v < batch->n_views; v++)
    g_free (batch->views[v].data);
  g_free (batch->views);
  g_free (batch->entries);
  g_free (batch);
}
