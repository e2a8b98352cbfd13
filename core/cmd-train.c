/* cmd-train.c — `m3ret train`: self-supervised training from a pipeline file. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "m3ret-trainer.h"

/* Set from the signal handler; the loop finishes its step, then saves. */
static volatile gint stop_signal;

static void
on_signal (int signum)
{
  stop_signal = signum;
}

gint
cmd_train (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  gint64 steps = 0, stop_at = 0;
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
  if (!cli_parse (ctx, "train", &argc, &argv))
    return M3RET_EXIT_USAGE;
  if (argc != 2 || steps < 0 || stop_at < 0) {
    fprintf (stderr, "m3ret train: give exactly one PIPELINE.ini (--steps and --stop-at >= 0)\n");
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }

  M3retRegistry *registry = cli_registry (&common);
  GError *error = NULL;
  gint status = M3RET_EXIT_OK;
  M3retPipeline *pipeline = m3ret_pipeline_load (registry, argv[1], &error);
  M3retTrainer *trainer = NULL;
  if (pipeline == NULL)
    goto fail;
  M3retTrainOptions options = {
    .out_dir = out ? out : "m3ret-out",
    .steps = steps,
    .resume = resume,
    .stop_at = stop_at,
    .progress = isatty (STDERR_FILENO),
    .quiet = quiet,
  };
  trainer = m3ret_trainer_new (registry, pipeline, &options, &error);
  if (trainer == NULL)
    goto fail;
  cli_report_notices (m3ret_trainer_get_manifest (trainer));

  struct sigaction sa = { 0 };
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  if (!m3ret_trainer_run (trainer, &stop_signal, &error))
    goto fail;
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
  return status;
}
