/* main.c — m3ret-synth, the program behind `m3ret synth`: write the
 * synthetic labelled dataset.
 *
 * A program of its own so that the generator and its codecs stay off the
 * m3ret command's link line; m3ret execs it with its arguments unchanged,
 * and its messages read as the command's ("m3ret: error: synth: ...").
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "m3ret-synth.h"

/* The exit statuses of every m3ret command. */
enum { SYNTH_EXIT_OK = 0, SYNTH_EXIT_FAILURE = 1, SYNTH_EXIT_USAGE = 2 };

static gint usage_error (const gchar *format, ...) G_GNUC_PRINTF (1, 2);

static gint
usage_error (const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree gchar *msg = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "m3ret: error: synth: %s (see m3ret synth --help)\n", msg);
  return SYNTH_EXIT_USAGE;
}

static gint
fail (const GError *error)
{
  fprintf (stderr, "m3ret: error: %s\n", error->message);
  return SYNTH_EXIT_FAILURE;
}

int
main (int argc, char **argv)
{
  /* Accepted, as every m3ret command accepts them; the generator loads no
   * plugin and logs nothing more. */
  gchar **plugin_paths = NULL;
  gboolean verbose = FALSE;
  g_set_prgname ("m3ret synth");
  M3retSynthOptions opts;
  m3ret_synth_options_init (&opts);
  gchar *out = NULL, *modalities = NULL, *codec = NULL;
  gint per_class = (gint) opts.per_class, size = (gint) opts.size, frames = (gint) opts.frames;
  gint cine = (gint) opts.cine;
  gint64 seed = 0;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write the dataset into DIR (created if missing)",
      "DIR" },
    { "per-class", 'n', 0, G_OPTION_ARG_INT, &per_class,
      "Samples per label and modality (default 8)", "N" },
    { "size", 's', 0, G_OPTION_ARG_INT, &size,
      "Image side in pixels, a multiple of 16 in [32, 512]; volumes are S×S×S/2 (default 64)", "S" },
    { "modalities", 'm', 0, G_OPTION_ARG_STRING, &modalities,
      "Comma-separated subset of xray,ultrasound,endoscopy,ct,mri (default all)", "LIST" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed; same arguments, same bytes (default 0)",
      "S" },
    { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "Frames per video (default 16)", "N" },
    { "cine", 0, 0, G_OPTION_ARG_INT, &cine,
      "Write the last N ultrasound samples of each class as cine clips (default 0)", "N" },
    { "video-codec", 0, 0, G_OPTION_ARG_STRING, &codec,
      "h264 (.mp4) or mpeg4 (.avi); default h264 where FFmpeg has libx264", "CODEC" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- write a synthetic labelled dataset");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (
    ctx, "Writes DIR/MODALITY/LABEL_NNN.{png,nii.gz,mp4|avi} and DIR/manifest.csv\n"
         "(path,modality,label,split), DIR/query.csv and DIR/database.csv.\n"
         "Labels: head, chest, abdomen, pelvis, knee for xray, ultrasound, ct and mri\n"
         "(sample NNN of a region is the same anatomy in each); esophagus, stomach,\n"
         "duodenum, colon for endoscopy.\n");
  GOptionEntry common[] = {
    { "plugin-path", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &plugin_paths,
      "Search DIR for plugins first (repeatable, or ':'-separated)", "DIR" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log more (defaults, skipped plugins)", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_option_context_add_main_entries (ctx, common, NULL);
  gint status = SYNTH_EXIT_USAGE;
  GError *error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    /* GLib's sentences start with a capital; ours continue after "synth: ". */
    gchar *message = error->message;
    if (g_ascii_isupper (message[0]) && !g_ascii_isupper (message[1]))
      message[0] = g_ascii_tolower (message[0]);
    usage_error ("%s", message);
    goto done;
  }
  if (argc != 1) {
    usage_error ("unexpected argument '%s'", argv[1]);
    goto done;
  }
  if (out == NULL) {
    usage_error ("--out DIR is required");
    goto done;
  }
  if (per_class < 1 || size < 1 || frames < 1 || cine < 0) {
    usage_error ("--per-class, --size and --frames must be positive and --cine "
                 "not negative (got %d, %d, %d, %d)", per_class, size, frames, cine);
    goto done;
  }
  if (modalities != NULL && !m3ret_synth_parse_modalities (modalities, &opts.modalities, &error)) {
    usage_error ("%s", error->message);
    goto done;
  }
  opts.out_dir = out;
  opts.per_class = (guint) per_class;
  opts.size = (guint) size;
  opts.frames = (guint) frames;
  opts.cine = (guint) cine;
  opts.video_codec = codec;
  opts.seed = (guint64) seed;
  M3retSynthReport report = { 0 };
  gint64 start = g_get_monotonic_time ();
  if (!m3ret_synth_run (&opts, &report, &error)) {
    status = error->code == M3RET_SYNTH_ERROR_ARGUMENT
               ? usage_error ("%s", error->message)
               : fail (error);
    goto done;
  }
  printf ("wrote %u files to %s in %.1f s%s%s%s\n", report.n_files, out,
          (g_get_monotonic_time () - start) / 1e6, report.video_codec ? " (video: " : "",
          report.video_codec ? report.video_codec : "", report.video_codec ? ")" : "");
  status = SYNTH_EXIT_OK;
done:
  g_clear_error (&error);
  g_free (out);
  g_free (modalities);
  g_free (codec);
  g_strfreev (plugin_paths);
  return status;
}
