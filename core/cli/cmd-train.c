/* cmd-train.c — `m3ret train`: self-supervised training from a pipeline file. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "dist-private.h"
#include "m3ret-trainer.h"

/* Set from the signal handler; the loop finishes its step, then saves. */
static volatile gint stop_signal;

static void
on_signal (int signum)
{
  stop_signal = signum;
}

/* Refuses an --out folder whose outputs are the run's inputs.  A --resume
 * checkpoint that is the folder's own checkpoint is the one exception: it
 * is read whole at the start and replaced atomically by its continuation. */
static gboolean
check_files (const gchar *pipeline_path, const M3retPipeline *pipeline, const gchar *out_dir,
             const gchar *resume, GError **error)
{
  static const gchar *const outputs[] = { "checkpoint.safetensors", "train-log.csv", "loss.png" };
  g_autoptr (M3retRunFiles) files = m3ret_run_files_new ();
  m3ret_run_files_set_creates_folders (files, TRUE);
  cli_add_pipeline_inputs (files, pipeline_path, pipeline);
  for (guint i = 0; i < G_N_ELEMENTS (outputs); i++) {
    g_autofree gchar *path = g_build_filename (out_dir, outputs[i], NULL);
    g_autofree gchar *role = g_strdup_printf ("%s of --out", outputs[i]);
    if (i > 0 || resume == NULL || !m3ret_run_files_same_file (path, resume))
      m3ret_run_files_add_output (files, path, role, "--out");
  }
  m3ret_run_files_add_input (files, resume, "--resume checkpoint");
  const gchar *train = m3ret_pipeline_get_settings (pipeline)->data.train;
  g_autoptr (M3retManifest) manifest = NULL;
  if (train != NULL && *train != '\0') {
    g_autofree gchar *path = m3ret_pipeline_resolve_path (pipeline, train);
    m3ret_run_files_add_input (files, path, "[data] train manifest");
    /* The trainer reports a manifest it cannot read; here only its files count. */
    manifest = m3ret_manifest_load (path, NULL);
    if (manifest != NULL)
      m3ret_run_files_add_manifest_entries (files, manifest, "file listed in [data] train");
  }
  return m3ret_run_files_check (files, error);
}

gint
cmd_train (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  /* "Not given" is a value no one types: an explicit 0 is an error. */
  gint64 steps = G_MININT64, stop_at = 0;
  g_autofree gchar *out = NULL;
  g_autofree gchar *resume = NULL;
  gboolean quiet = FALSE;
  GOptionEntry entries[] = {
    { "steps", 0, 0, G_OPTION_ARG_INT64, &steps, "Total optimiser steps (overrides [train] steps)", "N" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output folder (default m3ret-out)", "DIR" },
    { "resume", 0, 0, G_OPTION_ARG_FILENAME, &resume, "Continue from a checkpoint", "CKPT" },
    { "stop-at", 0, 0, G_OPTION_ARG_INT64, &stop_at,
      "Stop after step N with a checkpoint, as if interrupted (schedules still span --steps)", "N" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress output", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PIPELINE.ini - train the encoder");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "train", &argc, &argv) ||
      !cli_require_args ("train", argc, argv, 1, 1, "exactly one PIPELINE.ini") ||
      (stop_at < 0 && cli_usage_error ("train", "--stop-at must not be negative") != 0) ||
      (steps != G_MININT64 && steps < 1 &&
       cli_usage_error ("train", "--steps %" G_GINT64_FORMAT ": a run needs at least 1 step",
                        steps) != 0)) {
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }

  GError *error = NULL;
  /* Under mpirun or srun: one rank of a data-parallel run. */
  M3retDist *dist = m3ret_dist_get (&error);
  if (dist == NULL) {
    gint failed = cli_fail (error);
    g_clear_error (&error);
    g_strfreev (common.plugin_paths);
    return failed;
  }
  gboolean parallel = m3ret_dist_is_parallel (dist);
  gboolean lead = m3ret_dist_get_rank (dist) == 0;
  M3retRegistry *registry = cli_registry (&common);
  gint status = M3RET_EXIT_OK;
  M3retPipeline *pipeline = m3ret_pipeline_load (registry, argv[1], &error);
  M3retTrainer *trainer = NULL;
  if (pipeline == NULL && !parallel)
    goto fail;
  M3retTrainOptions options = {
    .out_dir = out ? out : "m3ret-out",
    .steps = steps == G_MININT64 ? 0 : steps,
    .resume = resume,
    .stop_at = stop_at,
    .progress = isatty (STDERR_FILENO),
    .quiet = quiet || !lead,
    .dist = dist,
  };
  if (pipeline != NULL && check_files (argv[1], pipeline, options.out_dir, resume, &error))
    trainer = m3ret_trainer_new (registry, pipeline, &options, &error);
  /* The ranks fail together before the first step, the lowest failing
   * one printing its reason. */
  gboolean report;
  if (!cli_ranks_ok (dist, trainer != NULL, &report)) {
    if (report)
      goto fail;
    g_clear_error (&error);
    status = M3RET_EXIT_FAILURE;
    goto out;
  }
  gint64 was = m3ret_trainer_get_resumed_total (trainer), now = m3ret_trainer_get_total (trainer);
  if (was > 0 && was != now && lead)
    fprintf (stderr, "m3ret train: note: %s comes from a run of %" G_GINT64_FORMAT " steps, this "
             "one has %" G_GINT64_FORMAT ": the learning-rate and weight-decay schedules (and "
             "the objective's own, such as a teacher's momentum) now end at step %"
             G_GINT64_FORMAT ", not %" G_GINT64_FORMAT "\n",
             resume, was, now, now, was);
  if (lead)
    cli_report_notices (m3ret_trainer_get_manifest (trainer));

  struct sigaction sa = { 0 };
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  if (!m3ret_trainer_run (trainer, &stop_signal, &error)) {
    /* The other ranks may wait for this one in a collective: the job
     * ends here, with this rank's reason, rather than hanging. */
    cli_rank_abort (dist, error);
    goto fail;
  }
  /* Every rank stopped after the same step; they report the same signal. */
  stop_signal = (gint) m3ret_dist_allreduce_max (dist, stop_signal);
  cli_gather_skips (dist, m3ret_trainer_get_skips (trainer));
  if (!lead) {
    status = stop_signal != 0 ? 128 + stop_signal : M3RET_EXIT_OK;
    goto out;
  }
  if (stop_signal != 0) {
    fprintf (stderr, "m3ret train: stopped by signal %d after step %" G_GINT64_FORMAT
             "; continue with --resume %s\n", stop_signal, m3ret_trainer_get_step (trainer),
             m3ret_trainer_get_checkpoint_path (trainer));
    status = 128 + stop_signal;
  } else if (m3ret_trainer_get_step (trainer) < m3ret_trainer_get_total (trainer)) {
    if (!quiet)
      fprintf (stderr, "m3ret train: stopped after step %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
               " as asked; continue with --resume %s\n", m3ret_trainer_get_step (trainer),
               m3ret_trainer_get_total (trainer), m3ret_trainer_get_checkpoint_path (trainer));
  } else if (!quiet) {
    fprintf (stderr, "m3ret train: done; checkpoint %s\n", m3ret_trainer_get_checkpoint_path (trainer));
  }
  cli_report_skips ("train", m3ret_trainer_get_skips (trainer));
  goto out;

fail:
  if (trainer != NULL)
    cli_report_skips ("train", m3ret_trainer_get_skips (trainer));
  status = cli_fail (error);
  g_clear_error (&error);
out:
  m3ret_trainer_free (trainer);
  m3ret_pipeline_free (pipeline);
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  m3ret_dist_finalize (dist);
  return status;
}
