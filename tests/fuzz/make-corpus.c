/* make-corpus.c — writes the fuzz targets' seed corpora: a few small, valid
 * files per reader, through the same writers the suites use (the fixture
 * writers, the safetensors/npy writers, real flat and hnsw indexes).
 *
 *   make -C tests fuzz-make-corpus && tests/fuzz-make-corpus tests/fuzz/corpus
 *
 * The output is committed; rerun only when a format changes.  The manifest
 * and pipeline seeds are text, written by hand beside it. */
#include "config.h"

#include <math.h>
#include <png.h>

#include <glib/gstdio.h>

#include "m3ret.h"
#include "test-modality-fixtures.h"

/* Last: nifti1.h defines DT_UNKNOWN, which <dirent.h> declares. */
#include <nifti1_io.h>

static gchar *
out_path (const gchar *root, const gchar *target, const gchar *name)
{
  g_autofree gchar *dir = g_build_filename (root, target, NULL);
  g_mkdir_with_parents (dir, 0755);
  return g_build_filename (dir, name, NULL);
}

static void
write_pngs (const gchar *root)
{
  guint16 v[12 * 10 * 3];
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = (guint16) (i * 37);
  g_autofree gchar *a = out_path (root, "png", "grey8.png");
  g_autofree gchar *b = out_path (root, "png", "grey16-phys.png");
  g_autofree gchar *c = out_path (root, "png", "rgb8.png");
  g_autofree gchar *d = out_path (root, "png", "palette.png");
  guint16 v8[G_N_ELEMENTS (v)], v4[G_N_ELEMENTS (v)];
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v8[i] = v[i] & 0xff, v4[i] = v[i] % 200;
  fx_write_png (a, 8, 8, 8, PNG_COLOR_TYPE_GRAY, v8);
  fx_write_png_phys (b, 12, 10, 16, PNG_COLOR_TYPE_GRAY, v, 5000, 4000);
  fx_write_png (c, 6, 5, 8, PNG_COLOR_TYPE_RGB, v8);
  fx_write_png (d, 7, 3, 8, PNG_COLOR_TYPE_PALETTE, v4);
}

static void
write_jpegs (const gchar *root)
{
  guint8 v[12 * 10 * 3];
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = (guint8) (i * 37);
  g_autofree gchar *a = out_path (root, "jpeg", "grey.jpg");
  g_autofree gchar *b = out_path (root, "jpeg", "rgb.jpg");
  g_autofree gchar *c = out_path (root, "jpeg", "rgb-exif6.jpg");
  fx_write_jpeg (a, 12, 10, 1, v, 90, 0);
  fx_write_jpeg (b, 12, 10, 3, v, 75, 0);
  fx_write_jpeg (c, 10, 12, 3, v, 75, 6);
}

static void
write_niftis (const gchar *root)
{
  gdouble v[4 * 4 * 3 * 2];
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = (gdouble) (i % 50) - 10;
  const gdouble sform[12] = { 0, -2, 0, 10, 1.5, 0, 0, -5, 0, 0, 3, 2 };
  g_autofree gchar *a = out_path (root, "nifti", "u8.nii");
  g_autofree gchar *b = out_path (root, "nifti", "i16-scl-sform.nii");
  g_autofree gchar *c = out_path (root, "nifti", "f32-4d.nii");
  g_autofree gchar *d = out_path (root, "nifti", "f64.nii.gz");
  g_autofree gchar *e = out_path (root, "nifti", "i16-scl-sform.nii.gz");
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = fabs (v[i]);
  fx_write_nifti (a, 4, 4, 3, 1, NIFTI_TYPE_UINT8, v, 1, 1, 2, 0, 0, NULL);
  fx_write_nifti (b, 4, 3, 2, 1, NIFTI_TYPE_INT16, v, 0.5, 0.5, 3, 2, -1024, sform);
  fx_write_nifti (c, 3, 3, 2, 2, NIFTI_TYPE_FLOAT32, v, 1, 1, 1, 0, 0, NULL);
  fx_write_nifti (d, 3, 3, 3, 1, NIFTI_TYPE_FLOAT64, v, 1, 1, 1, 0, 0, NULL);
  fx_write_nifti (e, 4, 3, 2, 1, NIFTI_TYPE_INT16, v, 0.5, 0.5, 3, 2, -1024, sform);
  /* NIfTI-2: the reader's own header decoding, in both byte orders. */
  g_autofree gchar *f = out_path (root, "nifti", "n2-i16-scl-sform.nii");
  g_autofree gchar *g = out_path (root, "nifti", "n2-be-f32-4d.nii");
  fx_write_nifti2 (f, 4, 3, 2, 1, NIFTI_TYPE_INT16, v, 0.5, 0.5, 3, 2, -1024, sform, FALSE);
  fx_write_nifti2 (g, 3, 3, 2, 2, NIFTI_TYPE_FLOAT32, v, 1, 1, 1, 0, 0, NULL, TRUE);
}

static void
write_videos (const gchar *root)
{
  static const struct { const gchar *codec, *name; } clips[] = {
    { "ffv1", "ffv1.mkv" }, { "mpeg4", "mpeg4.mp4" }, { "libx264", "h264.mp4" },
    { "mpeg4", "mpeg4.avi" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (clips); i++) {
    g_autofree gchar *p = out_path (root, "video", clips[i].name);
    if (!fx_write_video (p, clips[i].codec, 16, 16, 4, 20 * i))
      g_printerr ("make-corpus: no %s encoder, %s skipped\n", clips[i].codec, p);
  }
}

static void
write_tensors (const gchar *root)
{
  gfloat w[2 * 3 * 4];
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    w[i] = (gfloat) i / 7.0f - 1.0f;
  g_autoptr (M3retSafetensorsWriter) st = m3ret_safetensors_writer_new ();
  const gint64 s1[3] = { 2, 3, 4 }, s2[1] = { 5 };
  m3ret_safetensors_writer_add (st, "blocks.0.attn.qkv.weight", s1, 3, w);
  m3ret_safetensors_writer_add (st, "cls_token", s2, 1, w);
  m3ret_safetensors_writer_set_metadata (st, "step", "3");
  m3ret_safetensors_writer_set_metadata (st, "objective", "mae");
  g_autofree gchar *a = out_path (root, "safetensors", "two-tensors.safetensors");
  GError *error = NULL;
  if (!m3ret_safetensors_writer_write (st, a, &error))
    g_error ("%s", error->message);
  g_autofree gchar *b = out_path (root, "npy", "3x4.npy");
  g_autofree gchar *c = out_path (root, "npy", "1x8.npy");
  if (!m3ret_npy_write_f32 (b, w, 3, 4, &error) || !m3ret_npy_write_f32 (c, w, 1, 8, &error))
    g_error ("%s", error->message);
}

static void
write_index (const gchar *root, M3retRegistry *registry, const gchar *plugin_name,
             gboolean with_items)
{
  const M3retPlugin *plugin = m3ret_registry_lookup (registry, M3RET_PLUGIN_RETRIEVER, plugin_name);
  if (plugin == NULL)
    g_error ("no %s retriever on $M3RET_PLUGIN_PATH", plugin_name);
  GError *error = NULL;
  g_autoptr (M3retConfig) config =
    m3ret_config_new_defaults ("retriever", m3ret_plugin_get_desc (plugin)->keys, &error);
  const guint dim = 4, n = 6;
  g_autoptr (M3retIndex) index = m3ret_index_new (plugin, config, dim, 1, &error);
  gfloat rows[6 * 4];
  for (guint i = 0; i < n * dim; i++)
    rows[i] = (gfloat) ((i * 7) % 5) - 1.5f;
  if (index == NULL || !m3ret_vectors_normalize (rows, n, dim, "corpus", &error) ||
      !m3ret_index_add (index, rows, n, &error))
    g_error ("%s", error->message);
  if (with_items) {
    M3retItems *items = m3ret_items_new (n);
    for (guint i = 0; i < n; i++) {
      g_autofree gchar *p = g_strdup_printf ("case-%u.png", i);
      m3ret_items_set (items, i, p, i % 2 ? "xray" : "ct", i % 3 ? "chest" : "head");
    }
    m3ret_index_set_items (index, items);
  }
  g_autofree gchar *name = g_strdup_printf ("%s%s.index", plugin_name, with_items ? "-items" : "");
  g_autofree gchar *p = out_path (root, "index", name);
  if (!m3ret_index_save (index, p, &error))
    g_error ("%s", error->message);
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    g_printerr ("usage: %s CORPUS-DIR\n", argv[0]);
    return 2;
  }
  write_pngs (argv[1]);
  write_jpegs (argv[1]);
  write_niftis (argv[1]);
  write_videos (argv[1]);
  write_tensors (argv[1]);
  M3retRegistry *registry = m3ret_registry_new ();
  m3ret_registry_scan (registry, NULL);
  write_index (argv[1], registry, "flat", TRUE);
  write_index (argv[1], registry, "flat", FALSE);
  write_index (argv[1], registry, "hnsw", TRUE);
  m3ret_registry_free (registry);
  return 0;
}
