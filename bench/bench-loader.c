/* bench-loader.c — samples/s the loader decodes and renders, per modality,
 * with 1 and 2 loader threads, beside what training consumes: the images/s
 * of a ViT-tiny MAE step (2-D 64², tubelet 2×8×8, batch 32, cpu backend on 2
 * threads, tests/backend-step.c) measured in the same run.  Prints a table;
 * asserts nothing.
 *
 * Files are written first at sizes typical of the synthetic dataset: X-ray
 * 512² 16-bit PNG, ultrasound 256² 8-bit PNG, endoscopy 64 frames of 160²
 * h264 (ffv1 when libx264 is absent), CT 128²×64 int16 and MRI 128²×64
 * float32 .nii.gz; and the stills and DICOM of issue 18: JPEG X-ray 512² grey
 * and endoscopy 256² colour, a 1024² 12-bit DX object, a CT series of 64
 * single-slice 128² files.  Samples are training views of 64² × 16 frames (stills 2
 * frames), scale 0.4-1, as `[input] size=64 depth=16 tubelet=2,8,8`.
 * Each modality runs with its defaults (decoded files kept: `cache_mb`, which
 * holds all 8 files here) and with `cache_mb=0`, every read decoding its file.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <png.h>

#include "backend-step.h"
#include "bench-row.h"
#include "m3ret-check.h"
#include "m3ret-loader.h"
#include "test-modality-fixtures.h"

#include <nifti1_io.h> /* after GLib: nifti1.h redefines DT_UNKNOWN */

#define FILES 8
#define REPEATS 3

static void
write_files (const gchar *dir, const gchar *modality, GString *csv)
{
  for (guint i = 0; i < FILES; i++) {
    g_autofree gchar *name = NULL;
    if (strcmp (modality, "xray") == 0 || strcmp (modality, "ultrasound") == 0) {
      gboolean xr = modality[0] == 'x';
      guint side = xr ? 512 : 256;
      g_autofree guint16 *px = g_new (guint16, side * side);
      for (guint k = 0; k < side * side; k++)
        px[k] = (guint16) (((k % side) * 97 + (k / side) * 31 + i * 1000) % (xr ? 65536 : 256));
      name = g_strdup_printf ("%s%u.png", modality, i);
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      fx_write_png (path, side, side, xr ? 16 : 8, PNG_COLOR_TYPE_GRAY, px);
    } else if (strcmp (modality, "endoscopy") == 0) {
      name = g_strdup_printf ("scope%u.mp4", i);
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      if (!fx_write_video (path, "libx264", 160, 160, 64, 10 + i)) {
        g_free (name);
        name = g_strdup_printf ("scope%u.mkv", i);
        g_free (path);
        path = g_build_filename (dir, name, NULL);
        fx_write_video (path, "ffv1", 160, 160, 64, 10 + i);
      }
    } else if (strcmp (modality, "xray-jpeg") == 0 || strcmp (modality, "endoscopy-jpeg") == 0) {
      /* Stills as the public sets ship them: CheXpert-like grey 512², HyperKvasir-like colour 256². */
      gboolean grey = modality[0] == 'x';
      guint side = grey ? 512 : 256, ch = grey ? 1 : 3;
      g_autofree guint8 *px = g_new (guint8, (gsize) side * side * ch);
      for (gsize k = 0; k < (gsize) side * side * ch; k++)
        px[k] = (guint8) (((k / ch) % side) * 3 + ((k / ch) / side) * 2 + k % ch * 40 + i * 9);
      name = g_strdup_printf ("%s%u.jpg", modality, i);
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      fx_write_jpeg (path, side, side, ch, px, 90, 0);
    } else if (strcmp (modality, "xray-dicom") == 0) {
      /* A DX object, 1024² 12-bit, native pixels. */
      guint side = 1024;
      g_autofree guint16 *px = g_new (guint16, (gsize) side * side);
      for (gsize k = 0; k < (gsize) side * side; k++)
        px[k] = (guint16) (((k % side) * 3 + (k / side) * 2 + i * 50) % 4096);
      FxDicom d = { .modality = "DX", .width = side, .height = side, .frames = 1, .bits_stored = 12 };
      g_autoptr (GByteArray) b = fx_dicom_image (&d, px, NULL, 0);
      name = g_strdup_printf ("dx%u.dcm", i);
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      g_file_set_contents (path, (const gchar *) b->data, b->len, NULL);
    } else if (strcmp (modality, "ct-dicom") == 0) {
      /* A series: a folder of 64 single-slice 128² CT files. */
      name = g_strdup_printf ("series%u", i);
      g_autofree gchar *folder = g_build_filename (dir, name, NULL);
      g_mkdir (folder, 0755);
      g_autofree gchar *uid = g_strdup_printf ("1.2.3.4.%u", i);
      g_autofree guint16 *px = g_new (guint16, 128 * 128);
      for (guint z = 0; z < 64; z++) {
        for (gsize k = 0; k < 128 * 128; k++)
          px[k] = (guint16) ((k * 37 + z * 300 + i * 100) % 2000);
        FxDicom d = { .modality = "CT", .series_uid = uid, .width = 128, .height = 128,
                      .frames = 1, .bits_stored = 12, .has_position = TRUE, .z = 2.0 * z };
        g_autoptr (GByteArray) b = fx_dicom_image (&d, px, NULL, 0);
        g_autofree gchar *slice_name = g_strdup_printf ("%02u.dcm", z);
        g_autofree gchar *slice = g_build_filename (folder, slice_name, NULL);
        g_file_set_contents (slice, (const gchar *) b->data, b->len, NULL);
      }
    } else {
      gboolean ct = strcmp (modality, "ct") == 0;
      gsize n = 128 * 128 * 64;
      g_autofree gdouble *vox = g_new (gdouble, n);
      for (gsize k = 0; k < n; k++)
        vox[k] = ct ? (gdouble) ((k * 37 + i * 300) % 2000) - 1000 : (gdouble) ((k * 13) % 4096);
      name = g_strdup_printf ("%s%u.nii.gz", modality, i);
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      fx_write_nifti (path, 128, 128, 64, 1, ct ? NIFTI_TYPE_INT16 : NIFTI_TYPE_FLOAT32, vox, 1, 1,
                      2, 0, 0, NULL);
    }
    /* The rows name the plugin; the first word of a reader's row is it. */
    g_autofree gchar *plugin = g_strndup (modality, strcspn (modality, "-"));
    g_string_append_printf (csv, "%s,%s,x\n", name, plugin);
  }
}

static void
remove_dir (const gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR))
      remove_dir (path); /* a DICOM series */
    else
      g_remove (path);
  }
  if (d != NULL)
    g_dir_close (d);
  g_rmdir (dir);
}

/* Median samples/s over REPEATS runs of @batches batches, after four warm-up
 * batches: threads started and, with a cache, (almost surely) every file
 * decoded once, as after the first epoch of a training run. */
static gdouble
measure (M3retManifest *m, const M3retModalities *set, guint threads, guint batches)
{
  M3retLoaderOptions o;
  m3ret_loader_options_init (&o);
  o.batch_size = 8;
  o.threads = threads;
  o.queue_batches = 4;
  m3ret_view_init_train (&o.views[0], 64, 16, 2, 0.4, 1.0, NULL);
  GError *error = NULL;
  M3retLoader *loader = m3ret_loader_new (m, set, &o, &error);
  if (loader == NULL) {
    fprintf (stderr, "bench-loader: %s\n", error->message);
    g_error_free (error);
    return 0.0;
  }
  for (guint w = 0; w < 4; w++)
    m3ret_batch_free (m3ret_loader_next (loader, NULL));
  gdouble rates[REPEATS];
  for (guint r = 0; r < REPEATS; r++) {
    gint64 start = g_get_monotonic_time ();
    for (guint b = 0; b < batches; b++) {
      M3retBatch *batch = m3ret_loader_next (loader, &error);
      if (batch == NULL) {
        fprintf (stderr, "bench-loader: %s\n", error ? error->message : "no batch");
        g_clear_error (&error);
      }
      m3ret_batch_free (batch);
    }
    rates[r] = batches * o.batch_size / ((g_get_monotonic_time () - start) / 1e6);
  }
  m3ret_loader_free (loader);
  return bench_median (rates, REPEATS);
}

/* Images/s of the training step the loader feeds (median of 3 steps after a
 * warm-up), or 0 when it cannot run. */
static gdouble
training_rate (M3retRegistry *registry)
{
  GError *error = NULL;
  g_autoptr (M3retDevice) device = m3ret_device_new_by_name (registry, "cpu", 2, NULL, &error);
  BackendStepSpec spec = { "mae", "tiny", 64, { 2, 8, 8 }, 32, 1 };
  BackendStep *step = device != NULL ? backend_step_new (registry, device, &spec, &error) : NULL;
  gfloat loss;
  if (step == NULL || !backend_step_run (step, TRUE, &loss, &error)) {
    fprintf (stderr, "bench-loader: training step: %s\n", error ? error->message : "failed");
    g_clear_error (&error);
    backend_step_free (step);
    return 0.0;
  }
  gdouble rates[3];
  for (guint r = 0; r < 3; r++) {
    gint64 start = g_get_monotonic_time ();
    backend_step_run (step, TRUE, &loss, NULL); /* the loss waits for the device */
    rates[r] = spec.batch / ((g_get_monotonic_time () - start) / 1e6);
  }
  backend_step_free (step);
  return bench_median (rates, 3);
}

/* The modality set with `cache_mb=@cache_mb` for every plugin that has it. */
static M3retModalities *
modalities_with_cache (M3retRegistry *registry, const gchar *cache_mb)
{
  g_autoptr (GString) text = g_string_new (NULL);
  const gchar *names[] = { "ct", "mri", "endoscopy", "ultrasound" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_string_append_printf (text, "[modality %s]\ncache_mb=%s\n", names[i], cache_mb);
  GError *error = NULL;
  g_autoptr (M3retPipeline) pipeline =
    m3ret_pipeline_load_data (registry, text->str, -1, "bench-loader", NULL, &error);
  M3retModalities *set = pipeline ? m3ret_modalities_new (registry, pipeline, &error) : NULL;
  if (set == NULL) {
    fprintf (stderr, "bench-loader: %s\n", error->message);
    exit (1);
  }
  return set;
}

int
main (void)
{
  /* Not m3ret_check_init(): outside a Check run a warning must print, not abort. */
  if (g_getenv ("M3RET_TEST_PLUGIN_PATH") != NULL)
    g_setenv (M3RET_PLUGIN_PATH_ENV, g_getenv ("M3RET_TEST_PLUGIN_PATH"), TRUE);
  M3retRegistry *registry = m3ret_check_registry ();
  M3retModalities *set = m3ret_modalities_new (registry, NULL, NULL);
  M3retModalities *cold = modalities_with_cache (registry, "0");
  gchar *dir = g_dir_make_tmp ("m3ret-bench-XXXXXX", NULL);
  const gchar *modalities[] = { "xray", "ultrasound", "endoscopy", "ct", "mri", "xray-jpeg",
                                "endoscopy-jpeg", "xray-dicom", "ct-dicom" };
  gdouble consumed = training_rate (registry);
  printf ("training consumes %.1f images/s (ViT-tiny MAE step, 2-D 64², tubelet 2×8×8, batch 32, "
          "cpu backend, 2 threads)\n", consumed);
  printf ("loader throughput: training views 3x16x64x64 (stills 3x2x64x64), batch 8, %u files each, "
          "median of %d\n", FILES, REPEATS);
  printf ("%-15s %14s %14s %8s %16s %10s\n", "reader", "1 thread /s", "2 threads /s", "speedup",
          "1 thr, no cache", "1 thr ÷ tr");
  gdouble one[G_N_ELEMENTS (modalities)];
  /* M3RET_BENCH_MODALITIES=ct,mri runs only those (for profiling). */
  g_auto (GStrv) only = g_getenv ("M3RET_BENCH_MODALITIES")
                          ? g_strsplit (g_getenv ("M3RET_BENCH_MODALITIES"), ",", -1)
                          : NULL;
  for (guint k = 0; k < G_N_ELEMENTS (modalities); k++) {
    one[k] = 0.0;
    if (only != NULL && !g_strv_contains ((const gchar *const *) only, modalities[k]))
      continue;
    GString *csv = g_string_new ("path,modality,label\n");
    write_files (dir, modalities[k], csv);
    g_autofree gchar *manifest = g_build_filename (dir, "manifest.csv", NULL);
    g_file_set_contents (manifest, csv->str, -1, NULL);
    g_string_free (csv, TRUE);
    M3retManifest *m = m3ret_manifest_load (manifest, NULL);
    gboolean heavy = k == 2 || strncmp (modalities[k], "ct", 2) == 0 || k == 4;
    guint batches = heavy ? 4 : 8;
    one[k] = measure (m, set, 1, batches);
    gdouble two = measure (m, set, 2, batches);
    gdouble uncached = measure (m, cold, 1, batches);
    printf ("%-15s %14.1f %14.1f %7.2fx %16.1f %10.2f\n", modalities[k], one[k], two,
            one[k] > 0 ? two / one[k] : 0.0, uncached, consumed > 0 ? one[k] / consumed : 0.0);
    fflush (stdout);
    m3ret_manifest_free (m);
  }
  printf ("target: loader on 1 thread >= 3x what training consumes\n");
  for (guint k = 0; k < G_N_ELEMENTS (modalities); k++)
    if (one[k] > 0) {
      g_autofree gchar *figure =
        g_strdup_printf ("loader %s, 1 thread: samples/s / training images/s", modalities[k]);
      bench_row ("loader", figure, one[k], "training step", consumed, ">=3");
    }
  remove_dir (dir);
  g_free (dir);
  m3ret_modalities_free (cold);
  m3ret_modalities_free (set);
  m3ret_registry_free (registry);
  return 0;
}
