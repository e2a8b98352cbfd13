/* relations.c — the relations between core keys, checked in one place.
 *
 * Each key is checked against its own declaration when it is parsed; what
 * ties two keys together is checked here, on the typed settings, once the
 * pipeline has filled them.  Errors name the file, the line and the keys to
 * change.
 */
#include "config.h"

#include "m3ret-pipeline.h"
#include "m3ret-settings.h"
#include "pipeline-private.h"

/* The tubelet must tile the grid: pt | depth, ph | size, pw | size. */
static gboolean
check_tubelet (const M3retPipeline *p, const M3retInputSettings *input, GError **error)
{
  const gint64 *tub = input->tubelet;
  if (input->depth % tub[0] == 0 && input->size % tub[1] == 0 && input->size % tub[2] == 0)
    return TRUE;
  g_autofree gchar *at = m3ret_pipeline_where (p, "input", "tubelet");
  g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_OUT_OF_RANGE,
               "%s: [input] tubelet=%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
               " must divide depth,size,size = %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
               ",%" G_GINT64_FORMAT, at, tub[0], tub[1], tub[2], input->depth, input->size,
               input->size);
  return FALSE;
}

/* The read-out's blocks exist in the preset, and grid cells tile the
 * token grid in-plane. */
static gboolean
check_readout (const M3retPipeline *p, const M3retSettings *s, GError **error)
{
  const M3retEncoderSettings *e = &s->encoder;
  gint dim, depth, heads;
  m3ret_vit_preset_shape (e->preset, &dim, &depth, &heads);
  M3retConfig *config = m3ret_pipeline_get_config (p, "encoder");
  gint64 last = e->readout_block == 0 ? depth : e->readout_block;
  if (e->readout_block > depth) {
    m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_OUT_OF_RANGE, "readout_block",
                            "%" G_GINT64_FORMAT " is past the last block of preset=%s (%d blocks)",
                            e->readout_block, m3ret_vit_preset_name (e->preset), depth);
    return FALSE;
  }
  if (e->readout_mean > last) {
    m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_OUT_OF_RANGE, "readout_mean",
                            "%" G_GINT64_FORMAT " blocks cannot end at block %" G_GINT64_FORMAT
                            " (preset=%s)", e->readout_mean, last,
                            m3ret_vit_preset_name (e->preset));
    return FALSE;
  }
  gint64 gh = s->input.size / s->input.tubelet[1], gw = s->input.size / s->input.tubelet[2];
  if (e->pool == M3RET_POOL_GRID && (gh % e->pool_cells != 0 || gw % e->pool_cells != 0)) {
    m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_OUT_OF_RANGE, "pool_cells",
                            "%" G_GINT64_FORMAT " does not divide the %" G_GINT64_FORMAT "×%"
                            G_GINT64_FORMAT " token grid in-plane (size / tubelet)",
                            e->pool_cells, gh, gw);
    return FALSE;
  }
  return TRUE;
}

gboolean
m3ret_pipeline_check_run_length (const M3retPipeline *p, gint64 steps, const gchar *given_by,
                                 GError **error)
{
  g_return_val_if_fail (p != NULL, FALSE);
  const M3retTrainSettings *train = &m3ret_pipeline_get_settings (p)->train;
  if (given_by == NULL)
    steps = train->steps;
  if (steps < 1) { /* [train] steps has 1 as its minimum: only an override gets here */
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                 "%s %" G_GINT64_FORMAT ": a run needs at least 1 step",
                 given_by ? given_by : "[train] steps", steps);
    return FALSE;
  }
  /* Warm-up longer than the run never reaches the peak learning rate. */
  gint64 warmup = train->warmup;
  if (warmup <= steps)
    return TRUE;
  g_autofree gchar *run = given_by ? g_strdup_printf ("%s %" G_GINT64_FORMAT, given_by, steps)
                                   : g_strdup_printf ("steps=%" G_GINT64_FORMAT, steps);
  g_autofree gchar *fix = given_by ? g_strdup_printf ("lower warmup or give %s %" G_GINT64_FORMAT
                                                      " or more", given_by, warmup)
                                   : g_strdup_printf ("make warmup at most %" G_GINT64_FORMAT,
                                                      steps);
  m3ret_config_key_error (m3ret_pipeline_get_config (p, "train"), error,
                          M3RET_CONFIG_ERROR_OUT_OF_RANGE, "warmup",
                          "longer than the run (%s): the learning rate would never reach its "
                          "peak; %s", run, fix);
  return FALSE;
}

gboolean
m3ret_pipeline_check_relations (const M3retPipeline *p, GError **error)
{
  const M3retSettings *s = m3ret_pipeline_get_settings (p);
  return check_tubelet (p, &s->input, error) && check_readout (p, s, error)
         && m3ret_pipeline_check_run_length (p, 0, NULL, error);
}
