/* bench-loader.c — samples/s the loader decodes and renders, per modality,
 * with 1 and 2 loader threads.  Prints a table; asserts nothing.
 *
 * Files are written first at sizes typical of the synthetic dataset: X-ray
 * 512² 16-bit PNG, ultrasound 256² 8-bit PNG, endoscopy 64 frames of 160²
 * h264 (ffv1 when libx264 is absent), CT 128²×64 int16 and MRI 128²×64
 * float32 .nii.gz.  Samples are training views of 64² × 16 frames (stills 2
 * frames), scale 0.4-1, as `[input] size=64 depth=16 tubelet=2,8,8`.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <png.h>

#include "m3ret-check.h"
#include "m3ret-loader.h"
#include "test-modality-fixtures.h"

#include <nifti1_io.h> /* after GLib: nifti1.h redefines DT_UNKNOWN */

#define FILES 8

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
    g_string_append_printf (csv, "%s,%s,x\n", name, modality);
  }
}

static void
remove_dir (const gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);
    g_remove (path);
  }
  if (d != NULL)
    g_dir_close (d);
  g_rmdir (dir);
}

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
  m3ret_batch_free (m3ret_loader_next (loader, NULL)); /* warm caches and threads */
  gint64 start = g_get_monotonic_time ();
  for (guint b = 0; b < batches; b++) {
    M3retBatch *batch = m3ret_loader_next (loader, &error);
    if (batch == NULL) {
      fprintf (stderr, "bench-loader: %s\n", error ? error->message : "no batch");
      g_clear_error (&error);
    }
    m3ret_batch_free (batch);
  }
  gdouble seconds = (g_get_monotonic_time () - start) / 1e6;
  m3ret_loader_free (loader);
  return batches * o.batch_size / seconds;
}

int
main (void)
{
  /* Not m3ret_check_init(): outside a Check run a warning must print, not abort. */
  if (g_getenv ("M3RET_TEST_PLUGIN_PATH") != NULL)
    g_setenv (M3RET_PLUGIN_PATH_ENV, g_getenv ("M3RET_TEST_PLUGIN_PATH"), TRUE);
  M3retRegistry *registry = m3ret_check_registry ();
  M3retModalities *set = m3ret_modalities_new (registry, NULL, NULL);
  gchar *dir = g_dir_make_tmp ("m3ret-bench-XXXXXX", NULL);
  const gchar *modalities[] = { "xray", "ultrasound", "endoscopy", "ct", "mri" };
  printf ("loader throughput: training views 3x16x64x64 (stills 3x2x64x64), batch 8, %u files each\n",
          FILES);
  printf ("%-11s %14s %14s %8s\n", "modality", "1 thread /s", "2 threads /s", "speedup");
  for (guint k = 0; k < G_N_ELEMENTS (modalities); k++) {
    GString *csv = g_string_new ("path,modality,label\n");
    write_files (dir, modalities[k], csv);
    g_autofree gchar *manifest = g_build_filename (dir, "manifest.csv", NULL);
    g_file_set_contents (manifest, csv->str, -1, NULL);
    g_string_free (csv, TRUE);
    M3retManifest *m = m3ret_manifest_load (manifest, NULL);
    guint batches = (k == 2 || k >= 3) ? 4 : 8;
    gdouble one = measure (m, set, 1, batches);
    gdouble two = measure (m, set, 2, batches);
    printf ("%-11s %14.1f %14.1f %7.2fx\n", modalities[k], one, two, one > 0 ? two / one : 0.0);
    fflush (stdout);
    m3ret_manifest_free (m);
  }
  printf ("compare with the training step's samples/s from the compute benchmark (target: loader >= 3x)\n");
  remove_dir (dir);
  g_free (dir);
  m3ret_modalities_free (set);
  m3ret_registry_free (registry);
  return 0;
}
