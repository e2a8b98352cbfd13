/* trainer.c — the training loop: data, objective, optimiser, checkpoints, log. */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config-private.h"
#include "dist-private.h"
#include "grad-average.h"
#include "m3ret.h"
#include "m3ret-checkpoint.h"
#include "m3ret-encoder-context.h"
#include "m3ret-plot.h"
#include "m3ret-trainer.h"
#include "m3ret-validate.h"

G_DEFINE_QUARK (m3ret-train-error-quark, m3ret_train_error)

struct _M3retTrainer {
  const M3retPipeline *pipeline;
  M3retTrainOptions options;
  gchar *out_dir;
  gchar *checkpoint_path;
  gchar *log_path;

  M3retEncoderContext *context; /* device, parameters, ViT, modalities */
  M3retDevice *device;          /* the context's parts */
  M3retParams *params;
  M3retVit *vit;
  const M3retPluginDesc *objective_desc;
  const M3retObjectiveVTable *objective_vt;
  gpointer objective;
  M3retOptimizerSettings settings;
  M3retAdamW *optimizer;
  M3retGraph *graph;

  M3retManifest *manifest;
  M3retModalities *modalities; /* the context's */
  M3retLoader *loader;
  M3retLoaderOptions loader_options;
  M3retSkips *skips; /* [data] on_error=skip; NULL: fail */

  gint64 step;  /* optimiser steps done */
  gint64 total;
  gint64 resumed_total; /* the total of the run --resume continues; 0: none or not recorded */
  gint batch;
  gint64 warmup;
  gint64 checkpoint_every;
  gint64 saved_step; /* step of the last checkpoint written, -1 none */
  gdouble peak_lr;
  gdouble min_lr;
  gdouble clip;
  FILE *log;
  gboolean started;       /* the first batch was read */

  /* data-parallel: rank 0 alone writes and reports */
  const M3retDist *dist;  /* NULL: one process */
  gint rank, n_ranks;
  GradAverage *average;   /* NULL: one process */
  gint64 steps_us;        /* spent in steps, this run */
};

void
m3ret_trainer_free (M3retTrainer *t)
{
  if (t == NULL)
    return;
  if (t->log != NULL)
    fclose (t->log);
  m3ret_loader_free (t->loader);
  m3ret_skips_free (t->skips);
  m3ret_manifest_free (t->manifest);
  m3ret_graph_free (t->graph);
  m3ret_adamw_free (t->optimizer);
  if (t->objective_vt != NULL)
    t->objective_vt->destroy (t->objective);
  m3ret_encoder_context_free (t->context);
  g_free (t->out_dir);
  g_free (t->checkpoint_path);
  g_free (t->log_path);
  grad_average_free (t->average);
  g_free (t);
}

#define LOG_HEADER "step,loss,lr,weight_decay,grad_norm,images_per_s,elapsed_s"
#define LOG_FIELDS 7

/* Whether @line is a whole log row (a step ≥ 1, then six numbers); sets @step. */
static gboolean
parse_log_row (const gchar *line, gint64 *step)
{
  gchar *end = NULL;
  *step = g_ascii_strtoll (line, &end, 10);
  if (end == line || *step < 1)
    return FALSE;
  for (gint f = 1; f < LOG_FIELDS; f++) {
    if (*end != ',')
      return FALSE;
    const gchar *field = end + 1;
    g_ascii_strtod (field, &end);
    if (end == field)
      return FALSE;
  }
  return *end == '\0';
}

/* Keeps the whole rows of the step log up to @step (the checkpoint's), in
 * order: a resume rewinds past rows a killed run wrote after its last
 * checkpoint, and a row cut short by the kill (or zeros after a power cut)
 * is dropped. */
static gboolean
trim_log (const gchar *path, gint64 step, GError **error)
{
  g_autofree gchar *text = NULL;
  gsize length = 0;
  if (!g_file_get_contents (path, &text, &length, NULL))
    return TRUE; /* no log yet */
  g_autoptr (GString) kept = g_string_new (LOG_HEADER "\n");
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gint64 next = 1;
  for (guint i = 0; lines[i] != NULL; i++) {
    gint64 row;
    if (!parse_log_row (lines[i], &row) || row < next)
      continue;
    if (row > step)
      break;
    g_string_append_printf (kept, "%s\n", lines[i]);
    next = row + 1;
  }
  return m3ret_file_write_atomic (path, kept->str, (gssize) kept->len, error);
}

static gboolean
open_log (M3retTrainer *t, GError **error)
{
  t->started = TRUE;
  if (t->rank != 0)
    return TRUE;
  if (g_mkdir_with_parents (t->out_dir, 0755) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "%s: cannot create the output folder: %s", t->out_dir, g_strerror (errno));
    return FALSE;
  }
  /* A run killed while writing leaves hidden temporaries; the folder is
   * this run's, so nobody else is writing them. */
  static const gchar *const outputs[] = { "checkpoint.safetensors", "train-log.csv", "loss.png" };
  for (guint i = 0; i < G_N_ELEMENTS (outputs); i++) {
    g_autofree gchar *output = g_build_filename (t->out_dir, outputs[i], NULL);
    m3ret_atomic_file_remove_stale (output);
  }
  if (t->step > 0) {
    if (!trim_log (t->log_path, t->step, error))
      return FALSE;
  } else {
    g_unlink (t->log_path);
  }
  gboolean fresh = !g_file_test (t->log_path, G_FILE_TEST_EXISTS);
  t->log = g_fopen (t->log_path, "a");
  if (t->log == NULL) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: cannot write: %s",
                 t->log_path, g_strerror (errno));
    return FALSE;
  }
  if (fresh)
    fprintf (t->log, LOG_HEADER "\n");
  return TRUE;
}

/* Restores parameters, objective state and optimiser from a checkpoint. */
static gboolean
resume (M3retTrainer *t, const gchar *path, GError **error)
{
  g_autoptr (M3retSafetensors) file = m3ret_safetensors_open (path, error);
  if (file == NULL)
    return FALSE;
  const gchar *objective = m3ret_safetensors_get_metadata (file, M3RET_CHECKPOINT_META_OBJECTIVE);
  if (objective == NULL || strcmp (objective, t->objective_desc->name) != 0) {
    g_set_error (error, M3RET_TRAIN_ERROR, M3RET_TRAIN_ERROR_RESUME,
                 "%s: written by objective '%s', the pipeline trains with '%s'", path,
                 objective ? objective : "(none)", t->objective_desc->name);
    return FALSE;
  }
  /* Absent from checkpoints written before it was recorded. */
  const gchar *total = m3ret_safetensors_get_metadata (file, M3RET_CHECKPOINT_META_TOTAL_STEPS);
  t->resumed_total = total != NULL ? MAX (0, g_ascii_strtoll (total, NULL, 10)) : 0;
  if (!m3ret_checkpoint_get_step (file, path, &t->step, error) ||
      !m3ret_checkpoint_load_params (file, path, t->params, "", error) ||
      !m3ret_checkpoint_load_optimizer (file, path, t->params, t->optimizer, error))
    return FALSE;
  if (t->objective_vt->state != NULL) {
    const gchar *prefix = NULL;
    M3retParams *state = t->objective_vt->state (t->objective, &prefix);
    if (state != NULL && !m3ret_checkpoint_load_params (file, path, state, prefix, error))
      return FALSE;
  }
  if (t->step > t->total) {
    g_set_error (error, M3RET_TRAIN_ERROR, M3RET_TRAIN_ERROR_RESUME,
                 "%s: already at step %" G_GINT64_FORMAT ", past the %" G_GINT64_FORMAT
                 " steps asked for", path, t->step, t->total);
    return FALSE;
  }
  t->saved_step = t->step;
  return TRUE;
}

static gboolean
build_data (M3retTrainer *t, GError **error)
{
  t->manifest = m3ret_validate_load_train_manifest (t->pipeline, error);
  if (t->manifest == NULL)
    return FALSE;
  M3retLoaderOptions *o = &t->loader_options;
  m3ret_loader_options_init_settings (o, m3ret_pipeline_get_settings (t->pipeline),
                                      M3RET_LOADER_TRAIN);
  o->n_views = t->objective_vt->views (t->objective, o->views, M3RET_LOADER_MAX_VIEWS);
  if (o->n_views == 0 || o->n_views > M3RET_LOADER_MAX_VIEWS) {
    g_set_error (error, M3RET_TRAIN_ERROR, M3RET_TRAIN_ERROR_CONFIG,
                 "objective '%s' asks for %u views per sample (1 to %d are possible)",
                 t->objective_desc->name, o->n_views, M3RET_LOADER_MAX_VIEWS);
    return FALSE;
  }
  /* One batch per optimiser step: resuming at step s starts at batch s. */
  o->first_batch = (guint64) t->step;
  /* A rank's share of the global batch one process would draw. */
  if (t->n_ranks > 1) {
    o->shard_count = (guint) (t->batch / t->n_ranks);
    o->shard_first = (guint) t->rank * o->shard_count;
  }
  t->skips = m3ret_skips_new_for (m3ret_pipeline_get_settings (t->pipeline)->data.on_error);
  o->skips = t->skips;
  t->loader = m3ret_loader_new (t->manifest, t->modalities, o, error);
  return t->loader != NULL;
}

M3retTrainer *
m3ret_trainer_new (M3retRegistry *registry, const M3retPipeline *pipeline,
                   const M3retTrainOptions *options, GError **error)
{
  g_return_val_if_fail (registry != NULL && pipeline != NULL && options != NULL, NULL);
  M3retTrainer *t = g_new0 (M3retTrainer, 1);
  t->pipeline = pipeline;
  t->options = *options;
  t->saved_step = -1;
  t->out_dir = g_strdup (options->out_dir ? options->out_dir : "m3ret-out");
  t->checkpoint_path = g_build_filename (t->out_dir, "checkpoint.safetensors", NULL);
  t->log_path = g_build_filename (t->out_dir, "train-log.csv", NULL);

  const M3retSettings *settings = m3ret_pipeline_get_settings (pipeline);
  const M3retTrainSettings *train = &settings->train;
  t->total = options->steps > 0 ? options->steps : train->steps;
  /* The pipeline's own steps were checked when it loaded. */
  if (options->steps > 0 && !m3ret_pipeline_check_run_length (pipeline, t->total, "--steps", error))
    goto fail;
  t->batch = (gint) train->batch;
  t->dist = options->dist;
  t->rank = m3ret_dist_get_rank (t->dist);
  t->n_ranks = m3ret_dist_get_size (t->dist);
  if (t->batch % t->n_ranks != 0) {
    m3ret_config_key_error (m3ret_pipeline_get_config (pipeline, "train"), error,
                            M3RET_CONFIG_ERROR_OUT_OF_RANGE, "batch",
                            "the global batch %d does not split over %d ranks; make it a "
                            "multiple of %d (each rank takes batch/ranks samples)", t->batch,
                            t->n_ranks, t->n_ranks);
    goto fail;
  }
  t->warmup = train->warmup;
  t->checkpoint_every = train->checkpoint_every;
  t->peak_lr = m3ret_lr_for_batch (train->lr, t->batch);
  t->min_lr = train->min_lr;
  t->clip = train->clip_grad;

  /* Model: the encoder first, then the objective's own tensors, all from
   * the one init stream in that order. */
  M3retVitConfig vit_config;
  if (!m3ret_encoder_vit_config (pipeline, &vit_config, error))
    goto fail;
  /* The objective's own checks, before anything is allocated. */
  if (!m3ret_validate_objective (pipeline, &vit_config, t->total, error))
    goto fail;
  t->context = m3ret_encoder_context_new (registry, pipeline, NULL, error);
  if (t->context == NULL)
    goto fail;
  t->device = m3ret_encoder_context_get_device (t->context);
  t->params = m3ret_encoder_context_get_params (t->context);
  t->vit = m3ret_encoder_context_get_vit (t->context);
  t->modalities = m3ret_encoder_context_get_modalities (t->context);

  const M3retPlugin *plugin = m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_OBJECTIVE);
  t->objective_desc = m3ret_plugin_get_desc (plugin);
  const M3retObjectiveVTable *vt = m3ret_plugin_get_vtable (plugin);
  M3retObjectiveSetup setup;
  m3ret_validate_objective_setup (&setup, pipeline, m3ret_vit_get_config (t->vit), t->total);
  setup.params = t->params;
  setup.encoder = t->vit;
  setup.init_rng = m3ret_encoder_context_get_init_rng (t->context);
  setup.dist = t->dist;
  GError *local = NULL;
  M3retConfig *objective = m3ret_pipeline_get_config (pipeline, "objective");
  t->objective = vt->create (objective, &setup, &local);
  if (t->objective == NULL && local != NULL && local->domain == M3RET_CONFIG_ERROR) {
    m3ret_config_locate_error (objective, NULL, local); /* FILE:LINE: [objective] ... */
    g_propagate_error (error, local);
    goto fail;
  }
  if (t->objective == NULL) {
    g_propagate_prefixed_error (error, local, "objective '%s': ", t->objective_desc->name);
    goto fail;
  }
  t->objective_vt = vt;
  vt->optimizer (t->objective, &t->settings);
  t->optimizer = m3ret_adamw_new (t->params, t->settings.beta1, t->settings.beta2,
                                  t->settings.eps, error);
  if (t->optimizer == NULL)
    goto fail;
  t->graph = m3ret_graph_new (t->device);
  if (t->n_ranks > 1)
    t->average = grad_average_new (t->dist, t->device, t->params,
                                   (gsize) train->allreduce_bucket_kb * 1024 / sizeof (gfloat));

  if (options->resume != NULL && !resume (t, options->resume, error))
    goto fail;
  /* The output folder and log wait for the first batch: bad input writes nothing. */
  if (!build_data (t, error))
    goto fail;
  return t;

fail:
  m3ret_trainer_free (t);
  return NULL;
}

static gboolean
save (M3retTrainer *t, GError **error)
{
  if (t->rank != 0) { /* rank 0 writes the one checkpoint of every rank's model */
    t->saved_step = t->step;
    return TRUE;
  }
  /* The rows before a checkpoint reach the disk before it does, so a
   * resume from it always finds them (the log itself is appended in place). */
  if (fflush (t->log) != 0 || fsync (fileno (t->log)) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: cannot write: %s",
                 t->log_path, g_strerror (errno));
    return FALSE;
  }
  const gchar *prefix = NULL;
  M3retParams *state = t->objective_vt->state ? t->objective_vt->state (t->objective, &prefix) : NULL;
  M3retCheckpointContents c = {
    .model = t->params,
    .state = state,
    .state_prefix = prefix,
    .optimizer = t->optimizer,
    .step = t->step,
    .total_steps = t->total,
    .pipeline_text = m3ret_pipeline_get_text (t->pipeline),
    .objective = t->objective_desc->name,
    .preset = m3ret_vit_preset_name (m3ret_pipeline_get_settings (t->pipeline)->encoder.preset),
  };
  if (!m3ret_checkpoint_save (t->checkpoint_path, &c, error))
    return FALSE;
  t->saved_step = t->step;
  return TRUE;
}

/* The loss curve from the whole step log (resumed runs included). */
static gboolean
plot_log (M3retTrainer *t, GError **error)
{
  if (t->rank != 0)
    return TRUE;
  g_autofree gchar *text = NULL;
  if (!g_file_get_contents (t->log_path, &text, NULL, error))
    return FALSE;
  g_autoptr (GArray) xs = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr (GArray) ys = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++) {
    gchar *end = NULL;
    gdouble step = g_ascii_strtod (lines[i], &end);
    if (end == lines[i] || *end != ',')
      continue;
    gdouble loss = g_ascii_strtod (end + 1, NULL);
    g_array_append_val (xs, step);
    g_array_append_val (ys, loss);
  }
  if (xs->len < 2)
    return TRUE; /* nothing worth drawing */
  g_autofree gchar *png = g_build_filename (t->out_dir, "loss.png", NULL);
  g_autofree gchar *title = g_strdup_printf ("%s loss, %s ViT", t->objective_desc->name,
    m3ret_vit_preset_name (m3ret_pipeline_get_settings (t->pipeline)->encoder.preset));
  return m3ret_plot_curve (png, title, "step", "loss", (gdouble *) xs->data, (gdouble *) ys->data,
                           xs->len, error);
}

static void
format_duration (gchar *out, gsize size, gdouble seconds)
{
  if (!isfinite (seconds) || seconds < 0)
    g_strlcpy (out, "?", size);
  else if (seconds < 60)
    g_snprintf (out, size, "%.0fs", seconds);
  else if (seconds < 3600)
    g_snprintf (out, size, "%dm%02ds", (gint) seconds / 60, (gint) seconds % 60);
  else
    g_snprintf (out, size, "%dh%02dm", (gint) seconds / 3600, ((gint) seconds % 3600) / 60);
}

static void
report (M3retTrainer *t, gdouble loss, gdouble lr, gdouble images_per_s, gdouble eta)
{
  if (t->options.quiet || t->rank != 0)
    return;
  gchar eta_text[32];
  format_duration (eta_text, sizeof eta_text, eta);
  gint64 every = MAX (1, t->total / 20);
  if (t->options.progress) {
    fprintf (stderr, "\rstep %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "  loss %.4f  lr %.2e  %.1f img/s  ETA %s   ",
             t->step, t->total, loss, lr, images_per_s, eta_text);
    if (t->step == t->total)
      fputc ('\n', stderr);
  } else if (t->step % every == 0 || t->step == t->total) {
    fprintf (stderr, "step %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " loss %.4f lr %.2e %.1f img/s ETA %s\n",
             t->step, t->total, loss, lr, images_per_s, eta_text);
  }
}

/* What data parallelism cost this run, on rank 0's clock. */
static void
report_averaging (const M3retTrainer *t, gint64 steps)
{
  gint64 reduce = grad_average_get_reduce_us (t->average);
  gint64 waited = grad_average_get_waited_us (t->average);
  fprintf (stderr, "m3ret train: %d ranks: %.1f ms a step, %.1f%% of it averaging %.1f MB of "
           "gradients after the backward (rank 0)\n", t->n_ranks,
           t->steps_us / 1e3 / MAX (1, steps),
           100.0 * grad_average_get_after_us (t->average) / t->steps_us,
           grad_average_get_floats (t->average) * 4 / 1e6);
  if (grad_average_overlaps (t->average))
    fprintf (stderr, "m3ret train: all-reduce %.1f ms a step, %.0f%% of it hidden behind the "
             "backward\n", reduce / 1e3 / MAX (1, steps),
             reduce > 0 ? 100.0 * MAX (0, reduce - waited) / reduce : 0.0);
  else
    fprintf (stderr, "m3ret train: all-reduce %.1f ms a step, after the backward "
             "([train] allreduce_bucket_kb=0, or an MPI without MPI_THREAD_MULTIPLE)\n",
             reduce / 1e3 / MAX (1, steps));
}

gboolean
m3ret_trainer_run (M3retTrainer *t, const volatile gint *stop, GError **error)
{
  g_return_val_if_fail (t != NULL, FALSE);
  gint64 start = g_get_monotonic_time ();
  gint64 first = t->step;
  gint64 end = t->options.stop_at > 0 ? MIN (t->options.stop_at, t->total) : t->total;
  /* A signal to any rank stops every rank after the same step: the ranks
   * agree on it before each step (an all-reduce of one number). */
  while (t->step < end &&
         !m3ret_dist_allreduce_max (t->dist, stop != NULL && *stop ? 1 : 0)) {
    gint64 t0 = g_get_monotonic_time ();
    g_autoptr (M3retBatch) batch = m3ret_loader_next (t->loader, error);
    if (batch == NULL) {
      if (error != NULL && *error == NULL)
        g_set_error (error, M3RET_TRAIN_ERROR, M3RET_TRAIN_ERROR_CONFIG, "the loader ended early");
      return FALSE;
    }
    if (!t->started) { /* the first batch read: the run really starts */
      if (!open_log (t, error))
        return FALSE;
      if (!t->options.quiet && t->rank == 0) {
        fprintf (stderr, "m3ret train: %s from step %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
                 "; checkpoints in %s\n", m3ret_pipeline_get_source (t->pipeline), t->step,
                 t->total, t->out_dir);
        if (t->n_ranks > 1)
          fprintf (stderr, "m3ret train: %d ranks, %d samples each of the global batch of %d\n",
                   t->n_ranks, t->batch / t->n_ranks, t->batch);
      }
    }
    m3ret_graph_reset (t->graph);
    M3retTensor *loss = t->objective_vt->loss (t->objective, t->graph, batch, t->step, error);
    if (loss == NULL) {
      if (error != NULL && *error == NULL)
        m3ret_graph_check (t->graph, error);
      return FALSE;
    }
    m3ret_params_zero_grad (t->params);
    if (!(t->average != NULL ? grad_average_backward (t->average, t->graph, loss, error)
                             : m3ret_graph_backward (t->graph, loss, error)))
      return FALSE;
    /* The global loss is the ranks' mean, as the gradient is. */
    gdouble loss_value = m3ret_tensor_item (loss);
    if (t->n_ranks > 1) {
      m3ret_dist_allreduce_sum (t->dist, &loss_value, 1);
      loss_value /= t->n_ranks;
    }
    if (!isfinite (loss_value)) {
      g_set_error (error, M3RET_TRAIN_ERROR, M3RET_TRAIN_ERROR_DIVERGED,
                   "the loss became %g at step %" G_GINT64_FORMAT "; lower [train] lr or set "
                   "clip_grad (the last checkpoint is %s)", loss_value, t->step + 1,
                   t->saved_step >= 0 ? t->checkpoint_path : "not written yet");
      return FALSE;
    }
    gdouble grad_norm = t->clip > 0 ? m3ret_params_clip_grad_norm (t->params, t->clip)
                                     : m3ret_params_grad_norm (t->params);
    gdouble lr = m3ret_schedule_warmup_cosine (t->step, t->warmup, t->total, t->peak_lr, t->min_lr);
    gdouble wd = m3ret_schedule_cosine (t->step, t->total, t->settings.weight_decay,
                                        t->settings.weight_decay_end);
    m3ret_adamw_step (t->optimizer, lr, wd);
    if (t->objective_vt->after_step != NULL)
      t->objective_vt->after_step (t->objective, t->step);
    m3ret_device_synchronize (t->device);
    /* the optimiser and the EMA run outside the graph */
    if (!m3ret_device_take_error (t->device, error)) {
      g_prefix_error (error, "step %" G_GINT64_FORMAT ": ", t->step + 1);
      return FALSE;
    }

    gint64 t1 = g_get_monotonic_time ();
    t->steps_us += t1 - t0;
    gdouble images_per_s = (gdouble) batch->n * t->n_ranks / MAX (1e-9, (t1 - t0) / 1e6);
    gdouble elapsed = (t1 - start) / 1e6;
    t->step++;
    /* Rows count steps done, from 1, as the terminal and the checkpoint do. */
    if (t->log != NULL) {
      fprintf (t->log, "%" G_GINT64_FORMAT ",%.6g,%.6g,%.6g,%.6g,%.3f,%.3f\n", t->step,
               loss_value, lr, wd, grad_norm, images_per_s, elapsed);
      fflush (t->log);
    }
    gdouble eta = elapsed / (t->step - first) * (t->total - t->step);
    report (t, loss_value, lr, images_per_s, eta);
    if (t->checkpoint_every > 0 && t->step % t->checkpoint_every == 0 && !save (t, error))
      return FALSE;
  }
  if (!t->started && !open_log (t, error))
    return FALSE;
  if (t->average != NULL && t->rank == 0 && !t->options.quiet && t->steps_us > 0)
    report_averaging (t, t->step - first);
  if (t->step != t->saved_step && !save (t, error))
    return FALSE;
  return plot_log (t, error);
}

gint
m3ret_trainer_get_rank (const M3retTrainer *t)
{
  return t->rank;
}

gint64
m3ret_trainer_get_step (const M3retTrainer *t)
{
  return t->step;
}

gint64
m3ret_trainer_get_total (const M3retTrainer *t)
{
  return t->total;
}

gint64
m3ret_trainer_get_resumed_total (const M3retTrainer *t)
{
  return t->resumed_total;
}

const gchar *
m3ret_trainer_get_checkpoint_path (const M3retTrainer *t)
{
  return t->checkpoint_path;
}

M3retSkips *
m3ret_trainer_get_skips (const M3retTrainer *t)
{
  return t->skips;
}

const M3retManifest *
m3ret_trainer_get_manifest (const M3retTrainer *t)
{
  return t->manifest;
}
