/* test-modality.c — the five modality plugins on real files: round trips,
 * probe choice, spacing and orientation, 4D, video frames, bad input. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <png.h>

#include "m3ret-check.h"
#include "m3ret-modalities.h"
#include "m3ret-readers.h"
#include "test-modality-fixtures.h"

/* Last: nifti1.h redefines DT_UNKNOWN, which <dirent.h> (via Check) declares. */
#include <nifti1_io.h>

#define EPS 1e-4

static M3retRegistry *registry;
static M3retModalities *set;
static gchar *tmp;

static void
setup (void)
{
  registry = m3ret_check_registry ();
  GError *error = NULL;
  set = m3ret_modalities_new (registry, NULL, &error);
  ck_assert_msg (set != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (m3ret_modalities_count (set), 5);
  tmp = m3ret_check_tmpdir ();
}

static void
teardown (void)
{
  m3ret_modalities_free (set);
  m3ret_registry_free (registry);
  m3ret_check_rmtree (tmp);
  g_free (tmp);
}

static gchar *
path_in_tmp (const gchar *name)
{
  return g_build_filename (tmp, name, NULL);
}

static M3retSample *
read_eval (const gchar *modality, const gchar *path, guint size, guint depth, guint image_depth)
{
  M3retView view;
  m3ret_view_init_eval (&view, size, depth, image_depth);
  M3retSample *out = NULL;
  GError *error = NULL;
  gboolean ok = m3ret_modalities_read (set, modality, path, &view, 1, &out, &error);
  ck_assert_msg (ok, "%s", error ? error->message : "");
  return out;
}

/* Reads @path with @modality expecting failure with @code (−1: any); the message must
 * name the file and contain @reason. */
static void
assert_read_fails (const gchar *modality, const gchar *path, gint code, const gchar *reason)
{
  M3retView view;
  m3ret_view_init_eval (&view, 8, 4, 2);
  M3retSample *out = NULL;
  GError *error = NULL;
  ck_assert_msg (!m3ret_modalities_read (set, modality, path, &view, 1, &out, &error),
                 "%s read although it is bad", path);
  ck_assert_ptr_null (out);
  ck_assert_ptr_nonnull (error);
  ck_assert_msg (error->domain == M3RET_DATA_ERROR && (code < 0 || error->code == code),
                 "%s: code %d, expected %d: %s",
                 path, error->code, code, error->message);
  ck_assert_msg (strstr (error->message, path) != NULL, "message does not name the file: %s",
                 error->message);
  ck_assert_msg (strstr (error->message, reason) != NULL, "message '%s' lacks '%s'",
                 error->message, reason);
  g_error_free (error);
}

static const gchar *
probe (const gchar *path, guint *score)
{
  GError *error = NULL;
  const gchar *name = m3ret_modalities_probe (set, path, score, NULL, &error);
  ck_assert_msg (name != NULL, "%s", error ? error->message : "");
  return name;
}

/* An instance of @modality with one key changed, for limits and volumes. */
static gpointer
create_with (const gchar *modality, const gchar *key, const gchar *value,
             const M3retModalityVTable **vtable)
{
  const M3retPlugin *plugin = m3ret_registry_lookup (registry, M3RET_PLUGIN_MODALITY, modality);
  ck_assert_ptr_nonnull (plugin);
  const M3retPluginDesc *desc = m3ret_plugin_get_desc (plugin);
  g_autofree gchar *group = g_strconcat ("modality ", modality, NULL);
  g_autoptr (M3retConfig) config = m3ret_config_new_defaults (group, desc->keys, NULL);
  ck_assert (m3ret_config_set (config, key, value, NULL));
  *vtable = desc->vtable;
  gpointer self = (*vtable)->create (config, NULL);
  ck_assert_ptr_nonnull (self);
  return self;
}

/* Reads @path with @modality under the [data] limit @key=@value; returns the
 * error (transfer full), NULL when the read succeeds. */
static GError *
read_with_limit (const gchar *modality, const gchar *path, const gchar *key, const gchar *value)
{
  g_autofree gchar *text = g_strdup_printf ("[data]\n%s=%s\n", key, value);
  GError *error = NULL;
  g_autoptr (M3retPipeline) p = m3ret_pipeline_load_data (registry, text, -1, "limits.ini", tmp,
                                                          &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  g_autoptr (M3retModalities) limited = m3ret_modalities_new (registry, p, &error);
  ck_assert_msg (limited != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (m3ret_modalities_get_limits (limited)->max_pixels,
                     g_str_equal (key, "max_pixels") ? g_ascii_strtoull (value, NULL, 10)
                                                     : m3ret_modalities_get_limits (set)->max_pixels);
  M3retView view;
  m3ret_view_init_eval (&view, 4, 2, 2);
  M3retSample *out = NULL;
  if (m3ret_modalities_read (limited, modality, path, &view, 1, &out, &error)) {
    m3ret_sample_free (out);
    return NULL;
  }
  ck_assert_ptr_null (out);
  return error;
}

/* @path passes the default limits and fails [data] @key=@value, naming the key. */
static void
assert_limit_refuses (const gchar *modality, const gchar *path, const gchar *key,
                      const gchar *value)
{
  ck_assert_ptr_null (read_with_limit (modality, path, "max_frames", "1000000"));
  g_autoptr (GError) error = read_with_limit (modality, path, key, value);
  ck_assert_msg (error != NULL, "%s read although %s=%s", path, key, value);
  ck_assert_msg (g_error_matches (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE), "%s",
                 error->message);
  ck_assert_msg (strstr (error->message, path) && strstr (error->message, key), "%s",
                 error->message);
}

/* ---- PNG: X-ray and ultrasound stills ---- */

START_TEST (test_png_16bit_xray)
{
  g_autofree gchar *path = path_in_tmp ("chest.png");
  guint16 values[64];
  for (guint i = 0; i < 64; i++)
    values[i] = (guint16) (i * 1000);
  fx_write_png (path, 8, 8, 16, PNG_COLOR_TYPE_GRAY, values);
  guint score;
  ck_assert_str_eq (probe (path, &score), "xray");
  ck_assert_uint_eq (score, 80);
  M3retLayout layout;
  ck_assert (m3ret_modalities_layout (set, "xray", path, &layout, NULL));
  ck_assert_int_eq (layout, M3RET_LAYOUT_IMAGE);
  g_autoptr (M3retSample) s = read_eval ("xray", path, 8, 16, 2);
  ck_assert_uint_eq (s->channels, 3);
  ck_assert_uint_eq (s->frames, 2);
  for (guint c = 0; c < 3; c++)
    for (guint t = 0; t < 2; t++)
      for (guint i = 0; i < 64; i++)
        ck_assert_float_eq_tol (s->data[(c * 2 + t) * 64 + i],
                                (values[i] / 65535.0 - 0.5) / 0.25, EPS);
}
END_TEST

START_TEST (test_png_8bit_rgb_palette_ultrasound)
{
  g_autofree gchar *grey = path_in_tmp ("us.png");
  g_autofree gchar *rgb = path_in_tmp ("doppler.png");
  g_autofree gchar *pal = path_in_tmp ("palette.png");
  guint16 g[16], c3[48], idx[16];
  for (guint i = 0; i < 16; i++) {
    g[i] = (guint16) (i * 17);
    idx[i] = (guint16) (i * 16);
    for (guint c = 0; c < 3; c++)
      c3[i * 3 + c] = (guint16) ((i * 10 + c * 50) % 256);
  }
  fx_write_png (grey, 4, 4, 8, PNG_COLOR_TYPE_GRAY, g);
  fx_write_png (rgb, 4, 4, 8, PNG_COLOR_TYPE_RGB, c3);
  fx_write_png (pal, 4, 4, 8, PNG_COLOR_TYPE_PALETTE, idx);
  guint score;
  ck_assert_str_eq (probe (grey, &score), "ultrasound");
  ck_assert_uint_eq (score, 60);
  ck_assert_str_eq (probe (rgb, &score), "ultrasound");
  ck_assert_str_eq (probe (pal, &score), "ultrasound");

  g_autoptr (M3retSample) sg = read_eval ("ultrasound", grey, 4, 8, 1);
  for (guint c = 0; c < 3; c++)
    for (guint i = 0; i < 16; i++)
      ck_assert_float_eq_tol (sg->data[c * 16 + i], (g[i] / 255.0 - 0.5) / 0.25, EPS);
  g_autoptr (M3retSample) sc = read_eval ("ultrasound", rgb, 4, 8, 1);
  for (guint c = 0; c < 3; c++)
    for (guint i = 0; i < 16; i++)
      ck_assert_float_eq_tol (sc->data[c * 16 + i], (c3[i * 3 + c] / 255.0 - 0.5) / 0.25, EPS);
  g_autoptr (M3retSample) sp = read_eval ("ultrasound", pal, 4, 8, 1);
  for (guint i = 0; i < 16; i++) {
    ck_assert_float_eq_tol (sp->data[i], (idx[i] / 255.0 - 0.5) / 0.25, EPS);
    ck_assert_float_eq_tol (sp->data[16 + i], ((255 - idx[i]) / 255.0 - 0.5) / 0.25, EPS);
    ck_assert_float_eq_tol (sp->data[32 + i], ((idx[i] / 2) / 255.0 - 0.5) / 0.25, EPS);
  }
}
END_TEST

START_TEST (test_png_aspect_padded)
{
  /* 8 wide, 4 high: squared around the centre, rows 0-1 and 6-7 are padding. */
  g_autofree gchar *path = path_in_tmp ("wide.png");
  guint16 values[32];
  for (guint i = 0; i < 32; i++)
    values[i] = 200;
  fx_write_png (path, 8, 4, 8, PNG_COLOR_TYPE_GRAY, values);
  g_autoptr (M3retSample) s = read_eval ("xray", path, 8, 4, 1);
  gdouble pad = (0.0 - 0.5) / 0.25, inside = (200 / 255.0 - 0.5) / 0.25;
  for (guint y = 0; y < 8; y++)
    for (guint x = 0; x < 8; x++)
      ck_assert_float_eq_tol (s->data[y * 8 + x], (y < 2 || y >= 6) ? pad : inside, EPS);

  /* The same pixels 0.1 mm wide and 0.2 mm tall (pHYs): physically square. */
  g_autofree gchar *tall = path_in_tmp ("tall.png");
  fx_write_png_phys (tall, 8, 4, 8, PNG_COLOR_TYPE_GRAY, values, 10000, 5000);
  g_autoptr (M3retSample) t = read_eval ("xray", tall, 8, 4, 1);
  for (guint i = 0; i < 64; i++)
    ck_assert_float_eq_tol (t->data[i], inside, EPS);
  M3retInspectInfo info;
  ck_assert (m3ret_modalities_inspect (set, "xray", tall, &info, NULL));
  ck_assert_float_eq_tol (info.spacing[0], 0.1, EPS);
  ck_assert_float_eq_tol (info.spacing[1], 0.2, EPS);
  m3ret_inspect_info_clear (&info);
}
END_TEST

static guint32
crc32_png (const guint8 *data, gsize len)
{
  guint32 crc = 0xffffffffu;
  for (gsize i = 0; i < len; i++) {
    crc ^= data[i];
    for (gint k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}

START_TEST (test_png_bad_input)
{
  g_autofree gchar *good = path_in_tmp ("good.png");
  guint16 values[64 * 64];
  for (guint i = 0; i < 64 * 64; i++)
    values[i] = (guint16) ((i * 7919) % 65536);
  fx_write_png (good, 64, 64, 16, PNG_COLOR_TYPE_GRAY, values);
  g_autofree gchar *data = NULL;
  gsize len;
  ck_assert (g_file_get_contents (good, &data, &len, NULL));

  g_autofree gchar *truncated = path_in_tmp ("truncated.png");
  fx_truncate_copy (good, truncated, len / 2);
  assert_read_fails ("xray", truncated, M3RET_DATA_ERROR_CORRUPT, "corrupt or truncated PNG");

  g_autofree gchar *corrupt = path_in_tmp ("corrupt.png");
  g_autofree gchar *bad = g_memdup2 (data, len);
  for (gsize i = 60; i < 80; i++)
    bad[i] ^= 0x5a; /* inside the image data: its CRC fails */
  ck_assert (g_file_set_contents (corrupt, bad, len, NULL));
  assert_read_fails ("xray", corrupt, M3RET_DATA_ERROR_CORRUPT, "corrupt or truncated PNG");

  /* A header claiming 100000×100000, with a valid CRC: refused before allocating. */
  g_autofree gchar *huge = path_in_tmp ("huge.png");
  g_autofree guint8 *big = g_memdup2 (data, len);
  guint32 side = GUINT32_TO_BE (100000);
  memcpy (big + 16, &side, 4);
  memcpy (big + 20, &side, 4);
  guint32 crc = GUINT32_TO_BE (crc32_png (big + 12, 17));
  memcpy (big + 29, &crc, 4);
  ck_assert (g_file_set_contents (huge, (gchar *) big, len, NULL));
  assert_read_fails ("xray", huge, M3RET_DATA_ERROR_TOO_LARGE, "max_pixels");

  /* The limits are [data] keys: 64×64 passes the defaults and fails at 1000
   * pixels, or when the file is over 100 bytes. */
  assert_limit_refuses ("xray", good, "max_pixels", "1000");
  assert_limit_refuses ("xray", good, "max_file_size", "100");
  GError *error = NULL;

  g_autofree gchar *text = path_in_tmp ("notes.png");
  ck_assert (g_file_set_contents (text, "this is not an image\n", -1, NULL));
  assert_read_fails ("ultrasound", text, M3RET_DATA_ERROR_CORRUPT, "not a PNG");
  g_autofree gchar *missing = path_in_tmp ("missing.png");
  assert_read_fails ("xray", missing, M3RET_DATA_ERROR_IO, "missing.png: no such file");
  ck_assert_ptr_null (m3ret_modalities_probe (set, text, NULL, NULL, &error));
  ck_assert (g_error_matches (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN));
  g_clear_error (&error);
}
END_TEST

/* ---- NIfTI: CT and MRI ---- */

static gdouble *
ramp (gsize n, gdouble scale, gdouble offset)
{
  gdouble *v = g_new (gdouble, n);
  for (gsize i = 0; i < n; i++)
    v[i] = offset + scale * (gdouble) (i % 97);
  return v;
}

START_TEST (test_nifti_ct_roundtrip)
{
  const gchar *names[] = { "ct.nii.gz", "ct.nii" };
  for (guint f = 0; f < 2; f++) {
    g_autofree gchar *path = path_in_tmp (names[f]);
    g_autofree gdouble *raw = ramp (8 * 8 * 4, 10, 0);
    /* HU = 2·raw − 1000: slope and intercept must be applied. */
    fx_write_nifti (path, 8, 8, 4, 1, NIFTI_TYPE_INT16, raw, 1, 1, 1, 2, -1000, NULL);
    guint score;
    ck_assert_str_eq (probe (path, &score), "ct");
    ck_assert_uint_eq (score, 60);
    g_autoptr (M3retSample) s = read_eval ("ct", path, 8, 4, 2);
    ck_assert_uint_eq (s->frames, 4);
    for (guint i = 0; i < 256; i++) {
      gdouble hu = 2 * raw[i] - 1000;
      gdouble unit = CLAMP ((hu + 1000) / 2000, 0, 1);
      for (guint c = 0; c < 3; c++)
        ck_assert_float_eq_tol (s->data[c * 256 + i], (unit - 0.5) / 0.25, EPS);
    }
  }
}
END_TEST

START_TEST (test_nifti_datatypes_mri)
{
  const gint types[] = { NIFTI_TYPE_UINT8, NIFTI_TYPE_UINT16, NIFTI_TYPE_INT32,
                         NIFTI_TYPE_FLOAT32, NIFTI_TYPE_FLOAT64 };
  for (guint k = 0; k < G_N_ELEMENTS (types); k++) {
    g_autofree gchar *name = g_strdup_printf ("mri-%d.nii.gz", types[k]);
    g_autofree gchar *path = path_in_tmp (name);
    gdouble v[4 * 4 * 2];
    for (guint i = 0; i < 32; i++)
      v[i] = i * 3;
    fx_write_nifti (path, 4, 4, 2, 1, types[k], v, 1, 1, 1, 0, 0, NULL);
    g_autoptr (M3retSample) s = read_eval ("mri", path, 4, 2, 1);
    /* Percentiles 0.5/99.5 of 0..93 step 3: 0.465 and 92.535. */
    gdouble lo = 0.465, hi = 92.535;
    for (guint i = 0; i < 32; i++) {
      gdouble unit = CLAMP ((v[i] - lo) / (hi - lo), 0, 1);
      ck_assert_msg (fabs (s->data[i] - (unit - 0.5) / 0.25) < 1e-3, "type %d voxel %u: %g vs %g",
                     types[k], i, s->data[i], (unit - 0.5) / 0.25);
    }
  }
}
END_TEST

START_TEST (test_nifti_spacing)
{
  /* 8×4 in-plane with rows 2 mm apart: physically square, nothing padded. */
  g_autofree gchar *path = path_in_tmp ("tall.nii.gz");
  gdouble v[8 * 4 * 2];
  for (guint i = 0; i < 64; i++)
    v[i] = 500;
  fx_write_nifti (path, 8, 4, 2, 1, NIFTI_TYPE_INT16, v, 1, 2, 3, 0, 0, NULL);
  g_autoptr (M3retSample) s = read_eval ("ct", path, 8, 2, 1);
  gdouble inside = (0.75 - 0.5) / 0.25, pad = -2.0;
  for (gsize i = 0; i < m3ret_sample_n_values (s); i++)
    ck_assert_float_eq_tol (s->data[i], inside, EPS);
  M3retInspectInfo info;
  ck_assert (m3ret_modalities_inspect (set, "ct", path, &info, NULL));
  ck_assert_uint_eq (info.width, 8);
  ck_assert_uint_eq (info.height, 4);
  ck_assert_uint_eq (info.depth, 2);
  ck_assert_float_eq_tol (info.spacing[1], 2, EPS);
  ck_assert_float_eq_tol (info.spacing[2], 3, EPS);
  ck_assert_str_eq (info.datatype, "INT16");
  ck_assert_float_eq_tol (info.max, 500, EPS);
  m3ret_inspect_info_clear (&info);

  /* The same grid with square pixels is padded above and below. */
  g_autofree gchar *flat = path_in_tmp ("flat.nii.gz");
  fx_write_nifti (flat, 8, 4, 2, 1, NIFTI_TYPE_INT16, v, 1, 1, 3, 0, 0, NULL);
  g_autoptr (M3retSample) f = read_eval ("ct", flat, 8, 2, 1);
  ck_assert_float_eq_tol (f->data[0], pad, EPS);
  ck_assert_float_eq_tol (f->data[4 * 8], inside, EPS);
}
END_TEST

START_TEST (test_nifti_orientation)
{
  /* One anatomy stored three ways: as RAS, mirrored left-right (R2L), and
   * with the first and last axes swapped.  All must read the same. */
  const guint nx = 6, ny = 5, nz = 4;
  g_autofree gdouble *a = g_new (gdouble, nx * ny * nz);
  g_autofree gdouble *b = g_new (gdouble, nx * ny * nz);
  g_autofree gdouble *c = g_new (gdouble, nx * ny * nz);
  for (guint z = 0; z < nz; z++)
    for (guint y = 0; y < ny; y++)
      for (guint x = 0; x < nx; x++) {
        gdouble v = x * 100 + y * 10 + z;
        a[(z * ny + y) * nx + x] = v;
        b[(z * ny + y) * nx + (nx - 1 - x)] = v;
        c[(x * ny + y) * nz + z] = v; /* stored i = z, k = x */
      }
  const gdouble ras[12] = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 };
  const gdouble mirrored[12] = { -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 };
  const gdouble swapped[12] = { 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0 };
  g_autofree gchar *pa = path_in_tmp ("ras.nii.gz");
  g_autofree gchar *pb = path_in_tmp ("las.nii.gz");
  g_autofree gchar *pc = path_in_tmp ("swapped.nii.gz");
  fx_write_nifti (pa, nx, ny, nz, 1, NIFTI_TYPE_INT16, a, 1, 1, 1, 0, 0, ras);
  fx_write_nifti (pb, nx, ny, nz, 1, NIFTI_TYPE_INT16, b, 1, 1, 1, 0, 0, mirrored);
  fx_write_nifti (pc, nz, ny, nx, 1, NIFTI_TYPE_INT16, c, 1, 1, 1, 0, 0, swapped);
  g_autoptr (M3retSample) sa = read_eval ("ct", pa, 6, 4, 1);
  g_autoptr (M3retSample) sb = read_eval ("ct", pb, 6, 4, 1);
  g_autoptr (M3retSample) sc = read_eval ("ct", pc, 6, 4, 1);
  gsize n = m3ret_sample_n_values (sa);
  for (gsize i = 0; i < n; i++) {
    ck_assert_float_eq_tol (sa->data[i], sb->data[i], EPS);
    ck_assert_float_eq_tol (sa->data[i], sc->data[i], EPS);
  }
  M3retInspectInfo info;
  ck_assert (m3ret_modalities_inspect (set, "ct", pb, &info, NULL));
  ck_assert (g_str_has_prefix (info.orientation, "LAS"));
  m3ret_inspect_info_clear (&info);
}
END_TEST

START_TEST (test_nifti_4d_volume_key)
{
  g_autofree gchar *path = path_in_tmp ("fmri.nii.gz");
  gdouble v[4 * 4 * 2 * 2];
  for (guint i = 0; i < 64; i++)
    v[i] = i < 32 ? -1000 : 1000; /* volume 0 air, volume 1 bright */
  fx_write_nifti (path, 4, 4, 2, 2, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, NULL);
  g_autoptr (M3retSample) first = read_eval ("ct", path, 4, 2, 1);
  ck_assert_float_eq_tol (first->data[0], -2.0, EPS);

  const M3retModalityVTable *vt;
  M3retView view;
  m3ret_view_init_eval (&view, 4, 2, 1);
  gpointer second = create_with ("ct", "volume", "1", &vt);
  M3retSample *out = NULL;
  ck_assert (vt->read (second, path, &view, 1, &out, NULL));
  ck_assert_float_eq_tol (out->data[0], 2.0, EPS);
  m3ret_sample_free (out);
  vt->destroy (second);

  gpointer absent = create_with ("ct", "volume", "5", &vt);
  GError *error = NULL;
  ck_assert (!vt->read (absent, path, &view, 1, &out, &error));
  ck_assert (g_error_matches (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED));
  g_clear_error (&error);
  vt->destroy (absent);
}
END_TEST

START_TEST (test_nifti_bad_input)
{
  gdouble v[8 * 8 * 8];
  for (guint i = 0; i < 512; i++)
    v[i] = i;
  g_autofree gchar *plain = path_in_tmp ("plain.nii");
  fx_write_nifti (plain, 8, 8, 8, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, NULL);

  g_autofree gchar *cut = path_in_tmp ("cut.nii");
  fx_truncate_copy (plain, cut, 352 + 300);
  assert_read_fails ("ct", cut, M3RET_DATA_ERROR_CORRUPT, "file is shorter");

  /* A header that lies: dims say 8×8×4000 for a file holding 8×8×8. */
  g_autofree gchar *data = NULL;
  gsize len;
  ck_assert (g_file_get_contents (plain, &data, &len, NULL));
  gint16 dim3 = 4000;
  memcpy (data + 40 + 3 * 2, &dim3, 2);
  g_autofree gchar *liar = path_in_tmp ("liar.nii");
  ck_assert (g_file_set_contents (liar, data, len, NULL));
  assert_read_fails ("mri", liar, M3RET_DATA_ERROR_CORRUPT, "shorter");

  g_autofree gchar *gz = path_in_tmp ("whole.nii.gz");
  fx_write_nifti (gz, 8, 8, 8, 1, NIFTI_TYPE_FLOAT32, v, 1, 1, 1, 0, 0, NULL);
  g_autofree gchar *gz_data = NULL;
  ck_assert (g_file_get_contents (gz, &gz_data, &len, NULL));
  g_autofree gchar *gz_cut = path_in_tmp ("cut.nii.gz");
  fx_truncate_copy (gz, gz_cut, len * 2 / 3);
  assert_read_fails ("ct", gz_cut, M3RET_DATA_ERROR_CORRUPT, "truncated");
  g_autofree gchar *gz_head = path_in_tmp ("head.nii.gz");
  fx_truncate_copy (gz, gz_head, 20);
  assert_read_fails ("ct", gz_head, M3RET_DATA_ERROR_CORRUPT, "NIfTI");

  g_autofree gchar *complex = path_in_tmp ("complex.nii.gz");
  fx_write_nifti (complex, 4, 4, 4, 1, NIFTI_TYPE_COMPLEX64, v, 1, 1, 1, 0, 0, NULL);
  assert_read_fails ("mri", complex, M3RET_DATA_ERROR_UNSUPPORTED, "unsupported NIfTI datatype");

  g_autofree gchar *nan = path_in_tmp ("nan.nii.gz");
  gdouble w[64];
  for (guint i = 0; i < 64; i++)
    w[i] = i == 5 ? NAN : (i == 9 ? INFINITY : i);
  fx_write_nifti (nan, 4, 4, 4, 1, NIFTI_TYPE_FLOAT32, w, 1, 1, 1, 0, 0, NULL);
  assert_read_fails ("mri", nan, M3RET_DATA_ERROR_BAD_VALUES, "2 of 64 voxels are NaN or infinite");

  assert_limit_refuses ("ct", plain, "max_voxels", "100");

  g_autofree gchar *missing = path_in_tmp ("absent.nii.gz");
  assert_read_fails ("ct", missing, M3RET_DATA_ERROR_IO, "no such file");
}
END_TEST

/* ---- decoded files kept between reads (cache_mb) ---- */

/* One view of @path read through the instance @self of @vt. */
static M3retSample *
read_with (const M3retModalityVTable *vt, gpointer self, const gchar *path, M3retView *view)
{
  M3retSample *out = NULL;
  GError *error = NULL;
  ck_assert_msg (vt->read (self, path, view, 1, &out, &error), "%s", error ? error->message : "");
  return out;
}

static void
assert_same_sample (const M3retSample *a, const M3retSample *b)
{
  ck_assert_uint_eq (m3ret_sample_n_values (a), m3ret_sample_n_values (b));
  ck_assert_mem_eq (a->data, b->data, m3ret_sample_n_values (a) * sizeof (gfloat));
}

START_TEST (test_cache_same_views_and_refreshed)
{
  /* A volume read twice through the cache gives what an instance without
   * one gives; training views too (same seed, same crop). */
  g_autofree gchar *path = path_in_tmp ("kept.nii");
  g_autofree gdouble *raw = ramp (16 * 16 * 8, 20, -900);
  fx_write_nifti (path, 16, 16, 8, 1, NIFTI_TYPE_INT16, raw, 1, 1, 1, 0, 0, NULL);
  const M3retModalityVTable *vt;
  gpointer kept = create_with ("ct", "cache_mb", "16", &vt);
  gpointer cold = create_with ("ct", "cache_mb", "0", &vt);
  for (guint round = 0; round < 2; round++) {
    M3retView view;
    GRand *r1 = g_rand_new_with_seed (round), *r2 = g_rand_new_with_seed (round);
    m3ret_view_init_train (&view, 8, 4, 2, 0.4, 1.0, r1);
    g_autoptr (M3retSample) a = read_with (vt, kept, path, &view);
    view.rand = r2;
    g_autoptr (M3retSample) b = read_with (vt, cold, path, &view);
    assert_same_sample (a, b);
    g_rand_free (r1);
    g_rand_free (r2);
  }
  /* Rewritten at once with the same size: the kept volume must not be used. */
  for (gsize i = 0; i < 16 * 16 * 8; i++)
    raw[i] = 1000 - raw[i];
  fx_write_nifti (path, 16, 16, 8, 1, NIFTI_TYPE_INT16, raw, 1, 1, 1, 0, 0, NULL);
  M3retView eval;
  m3ret_view_init_eval (&eval, 8, 4, 2);
  g_autoptr (M3retSample) fresh = read_with (vt, kept, path, &eval);
  g_autoptr (M3retSample) expect = read_with (vt, cold, path, &eval);
  assert_same_sample (fresh, expect);
  vt->destroy (kept);
  vt->destroy (cold);

  /* A clip kept whole gives the frames that decoding only the views' frames gives. */
  g_autofree gchar *clip = path_in_tmp ("kept.mkv");
  ck_assert (fx_write_video (clip, "ffv1", 16, 16, 12, 10));
  kept = create_with ("endoscopy", "cache_mb", "16", &vt);
  cold = create_with ("endoscopy", "cache_mb", "0", &vt);
  for (guint round = 0; round < 3; round++) {
    M3retView view;
    GRand *r1 = g_rand_new_with_seed (round), *r2 = g_rand_new_with_seed (round);
    m3ret_view_init_train (&view, 8, 4, 2, 0.4, 1.0, r1);
    g_autoptr (M3retSample) a = read_with (vt, kept, clip, &view);
    view.rand = r2;
    g_autoptr (M3retSample) b = read_with (vt, cold, clip, &view);
    assert_same_sample (a, b);
    g_rand_free (r1);
    g_rand_free (r2);
  }
  /* Rewritten at once with more frames: probed and decoded again. */
  ck_assert (fx_write_video (clip, "ffv1", 16, 16, 20, 10));
  M3retView clip_eval;
  m3ret_view_init_eval (&clip_eval, 8, 4, 2);
  g_autoptr (M3retSample) fresh_clip = read_with (vt, kept, clip, &clip_eval);
  g_autoptr (M3retSample) expect_clip = read_with (vt, cold, clip, &clip_eval);
  assert_same_sample (fresh_clip, expect_clip);
  vt->destroy (kept);
  vt->destroy (cold);
}
END_TEST

/* ---- video: endoscopy and ultrasound cine ---- */

START_TEST (test_video_ffv1_frames_exact)
{
  g_autofree gchar *path = path_in_tmp ("scope.mkv");
  ck_assert (fx_write_video (path, "ffv1", 16, 16, 6, 40));
  guint score;
  ck_assert_str_eq (probe (path, &score), "endoscopy");
  ck_assert_uint_eq (score, 60);
  /* Evaluation frames of 6 into 3: 1, 3, 5 → red 50, 70, 90. */
  g_autoptr (M3retSample) s = read_eval ("endoscopy", path, 16, 3, 2);
  const gdouble mean[3] = { 0.485, 0.456, 0.406 }, std[3] = { 0.229, 0.224, 0.225 };
  for (guint t = 0; t < 3; t++)
    for (guint y = 0; y < 16; y++)
      for (guint x = 0; x < 16; x++) {
        gdouble rgb[3] = { (40 + 10 * (2 * t + 1)) / 255.0, x * 4 / 255.0, y * 4 / 255.0 };
        for (guint c = 0; c < 3; c++)
          ck_assert_float_eq_tol (s->data[((c * 3 + t) * 16 + y) * 16 + x],
                                  (rgb[c] - mean[c]) / std[c], 1e-3);
      }
  M3retInspectInfo info;
  ck_assert (m3ret_modalities_inspect (set, "endoscopy", path, &info, NULL));
  ck_assert_uint_eq (info.frames, 6);
  ck_assert_float_eq_tol (info.fps, 25, 1e-6);
  ck_assert_uint_eq (info.width, 16);
  ck_assert (strstr (info.format, "ffv1") != NULL);
  m3ret_inspect_info_clear (&info);

  /* Rewritten in place with 12 frames: what the plugin learnt about the old
   * file must not be used.  Frames 2, 6, 10 → red 120, 160, 200. */
  ck_assert (fx_write_video (path, "ffv1", 16, 16, 12, 100));
  g_autoptr (M3retSample) again = read_eval ("endoscopy", path, 16, 3, 2);
  for (guint t = 0; t < 3; t++) {
    gdouble red = (again->data[t * 256 + 8 * 16 + 8] * 0.229 + 0.485) * 255;
    ck_assert_float_eq_tol (red, 120 + 40 * t, 0.5);
  }
}
END_TEST

START_TEST (test_video_lossy_codecs)
{
  const gchar *files[][2] = { { "clip.avi", "mpeg4" }, { "clip.mp4", "libx264" } };
  for (guint k = 0; k < G_N_ELEMENTS (files); k++) {
    g_autofree gchar *path = path_in_tmp (files[k][0]);
    if (!fx_write_video (path, files[k][1], 32, 32, 8, 20))
      continue; /* that encoder is not in this FFmpeg build */
    ck_assert_str_eq (probe (path, NULL), "endoscopy");
    g_autoptr (M3retSample) s = read_eval ("endoscopy", path, 32, 4, 2);
    /* Frames 1, 3, 5, 7: red 30, 50, 70, 90, within lossy-coding error. */
    for (guint t = 0; t < 4; t++) {
      gdouble red = s->data[(0 * 4 + t) * 32 * 32 + 16 * 32 + 16] * 0.229 + 0.485;
      ck_assert_msg (fabs (red * 255 - (30 + 20 * t)) < 12, "%s frame %u red %g", files[k][0], t,
                     red * 255);
    }
    /* Ultrasound reads cine loops too, as sequences. */
    M3retLayout layout;
    ck_assert (m3ret_modalities_layout (set, "ultrasound", path, &layout, NULL));
    ck_assert_int_eq (layout, M3RET_LAYOUT_SEQUENCE);
    g_autoptr (M3retSample) us = read_eval ("ultrasound", path, 16, 4, 2);
    ck_assert_uint_eq (us->frames, 4);
  }
}
END_TEST

START_TEST (test_video_seek_lands_on_the_frame)
{
  /* 20 frames, key frames every 4: frames 5 and 15 are reached by seeking
   * to a key frame and decoding on, and must be exactly those frames. */
  const gchar *files[][2] = { { "seek.mkv", "ffv1" }, { "seek.mp4", "libx264" },
                              { "seek.avi", "mpeg4" } };
  for (guint k = 0; k < G_N_ELEMENTS (files); k++) {
    g_autofree gchar *path = path_in_tmp (files[k][0]);
    if (!fx_write_video (path, files[k][1], 16, 16, 20, 0))
      continue;
    g_autoptr (M3retSample) s = read_eval ("endoscopy", path, 16, 2, 2);
    for (guint t = 0; t < 2; t++) {
      gdouble red = (s->data[t * 256 + 8 * 16 + 8] * 0.229 + 0.485) * 255;
      gdouble expect = 10.0 * (5 + 10 * t);
      ck_assert_msg (fabs (red - expect) < (k == 0 ? 0.5 : 12), "%s frame %u: red %g, expected %g",
                     files[k][0], t, red, expect);
    }
  }
}
END_TEST

START_TEST (test_video_bad_input)
{
  g_autofree gchar *empty = path_in_tmp ("empty.mkv");
  ck_assert (fx_write_video (empty, "ffv1", 16, 16, 0, 0));
  assert_read_fails ("endoscopy", empty, M3RET_DATA_ERROR_BAD_VALUES, "no frames");

  g_autofree gchar *good = path_in_tmp ("good.mkv");
  ck_assert (fx_write_video (good, "ffv1", 16, 16, 6, 0));
  /* [data] limits: 6 frames of 16×16 pass the defaults, not max_frames=5 or max_pixels=200. */
  assert_limit_refuses ("endoscopy", good, "max_frames", "5");
  assert_limit_refuses ("endoscopy", good, "max_pixels", "200");
  g_autofree gchar *data = NULL;
  gsize len;
  ck_assert (g_file_get_contents (good, &data, &len, NULL));
  g_autofree gchar *head = path_in_tmp ("head.mkv");
  fx_truncate_copy (good, head, 40);
  assert_read_fails ("endoscopy", head, -1, "");

  g_autofree gchar *garbage = path_in_tmp ("garbage.avi");
  g_autofree gchar *noise = g_new (gchar, 4096);
  for (guint i = 0; i < 4096; i++)
    noise[i] = (gchar) ((i * 2654435761u) >> 13);
  ck_assert (g_file_set_contents (garbage, noise, 4096, NULL));
  assert_read_fails ("endoscopy", garbage, M3RET_DATA_ERROR_CORRUPT, "");

  /* Damaged payload: whatever decodes is used, and nothing crashes. */
  g_autofree gchar *damaged = path_in_tmp ("damaged.mkv");
  g_autofree gchar *copy = g_memdup2 (data, len);
  for (gsize i = len / 2; i < len / 2 + 64 && i < len; i++)
    copy[i] ^= 0xff;
  ck_assert (g_file_set_contents (damaged, copy, len, NULL));
  M3retView view;
  m3ret_view_init_eval (&view, 8, 4, 2);
  M3retSample *out = NULL;
  GError *error = NULL;
  if (m3ret_modalities_read (set, "endoscopy", damaged, &view, 1, &out, &error))
    m3ret_sample_free (out);
  else
    ck_assert (strstr (error->message, damaged) != NULL);
  g_clear_error (&error);

  g_autofree gchar *missing = path_in_tmp ("missing.mp4");
  assert_read_fails ("endoscopy", missing, M3RET_DATA_ERROR_IO, "no such file");
}
END_TEST


START_TEST (test_png_low_depth_alpha_interlaced)
{
  /* 4-bit grey (expanded to 8 by libpng), grey+alpha (alpha dropped) and an
   * interlaced 16-bit file, written directly with libpng. */
  g_autofree gchar *path = path_in_tmp ("variants.png");
  const gint kinds[3][3] = { { 4, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE },
                             { 8, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE },
                             { 16, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_ADAM7 } };
  for (guint k = 0; k < 3; k++) {
    FILE *volatile f = fopen (path, "wb");
    png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct (png);
    ck_assert_int_eq (setjmp (png_jmpbuf (png)), 0);
    png_init_io (png, f);
    gint depth = kinds[k][0], type = kinds[k][1];
    png_set_IHDR (png, info, 8, 8, depth, type, kinds[k][2], PNG_COMPRESSION_TYPE_DEFAULT,
                  PNG_FILTER_TYPE_DEFAULT);
    png_write_info (png, info);
    gint passes = png_set_interlace_handling (png);
    guint8 rows[8][32];
    memset (rows, 0, sizeof rows);
    for (guint y = 0; y < 8; y++)
      for (guint x = 0; x < 8; x++) {
        guint v = (x + y * 8) % 16; /* 0..15 */
        if (depth == 4)
          rows[y][x / 2] |= (guint8) (v << (x % 2 ? 0 : 4));
        else if (depth == 8) {
          rows[y][2 * x] = (guint8) (v * 17);
          rows[y][2 * x + 1] = 128; /* alpha */
        } else {
          rows[y][2 * x] = (guint8) (v * 17);
          rows[y][2 * x + 1] = (guint8) (v * 17); /* v · 4369 big-endian */
        }
      }
    for (gint p = 0; p < passes; p++)
      for (guint y = 0; y < 8; y++)
        png_write_row (png, rows[y]);
    png_write_end (png, NULL);
    png_destroy_write_struct (&png, &info);
    fclose (f);
    g_autoptr (M3retSample) s = read_eval ("xray", path, 8, 2, 1);
    for (guint i = 0; i < 64; i++)
      ck_assert_msg (fabs (s->data[i] - ((i % 16) / 15.0 - 0.5) / 0.25) < EPS,
                     "kind %u pixel %u: %g", k, i, s->data[i]);
  }
}
END_TEST

/* Flips bytes of @good at random and reads each result: any outcome but a
 * crash or a hang is fine, and a failure must name the file. */
static void
mutate_and_read (const gchar *good, const gchar *name, const gchar *modality, guint rounds)
{
  g_autofree gchar *data = NULL;
  gsize len;
  ck_assert (g_file_get_contents (good, &data, &len, NULL));
  g_autofree gchar *path = path_in_tmp (name);
  GRand *r = g_rand_new_with_seed (1234);
  M3retView view;
  m3ret_view_init_eval (&view, 8, 2, 1);
  for (guint k = 0; k < rounds; k++) {
    g_autofree gchar *copy = g_memdup2 (data, len);
    guint flips = g_rand_int_range (r, 1, 9);
    for (guint f = 0; f < flips; f++)
      copy[g_rand_int_range (r, 0, (gint32) len)] ^= (gchar) g_rand_int_range (r, 1, 256);
    gsize keep = g_rand_boolean (r) ? len : (gsize) g_rand_int_range (r, 1, (gint32) len);
    ck_assert (g_file_set_contents (path, copy, keep, NULL));
    M3retSample *out = NULL;
    GError *error = NULL;
    if (m3ret_modalities_read (set, modality, path, &view, 1, &out, &error)) {
      for (gsize i = 0; i < m3ret_sample_n_values (out); i++)
        ck_assert (isfinite (out->data[i]));
      m3ret_sample_free (out);
    } else {
      ck_assert_msg (strstr (error->message, path) != NULL, "%s", error->message);
      g_error_free (error);
    }
  }
  g_rand_free (r);
}

START_TEST (test_mutations_never_crash)
{
  g_autofree gchar *png_path = path_in_tmp ("m.png");
  guint16 px[24 * 24];
  for (guint i = 0; i < G_N_ELEMENTS (px); i++)
    px[i] = (guint16) (i * 97);
  fx_write_png (png_path, 24, 24, 16, PNG_COLOR_TYPE_GRAY, px);
  mutate_and_read (png_path, "mut.png", "xray", 60);

  g_autofree gchar *nii = path_in_tmp ("m.nii");
  g_autofree gchar *gz = path_in_tmp ("m.nii.gz");
  g_autofree gdouble *v = ramp (6 * 6 * 4, 3, -50);
  fx_write_nifti (nii, 6, 6, 4, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, NULL);
  fx_write_nifti (gz, 6, 6, 4, 1, NIFTI_TYPE_FLOAT32, v, 1, 1, 1, 0, 0, NULL);
  mutate_and_read (nii, "mut.nii", "ct", 60);
  mutate_and_read (gz, "mut.nii.gz", "mri", 60);

  g_autofree gchar *mkv = path_in_tmp ("m.mkv");
  ck_assert (fx_write_video (mkv, "ffv1", 16, 16, 4, 0));
  mutate_and_read (mkv, "mut.mkv", "endoscopy", 30);
  g_autofree gchar *avi = path_in_tmp ("m.avi");
  ck_assert (fx_write_video (avi, "mpeg4", 16, 16, 4, 0));
  mutate_and_read (avi, "mut.avi", "endoscopy", 30);
}
END_TEST

/* ---- m3ret inspect, as a program ---- */

static gint
run_inspect_with (const gchar *pipeline, const gchar *path, gchar **out, gchar **err)
{
  const gchar *bin = g_getenv ("M3RET_BIN");
  ck_assert_msg (bin != NULL, "M3RET_BIN is not set (run through make check)");
  const gchar *plain[] = { bin, "inspect", path, NULL };
  const gchar *configured[] = { bin, "inspect", "--pipeline", pipeline, path, NULL };
  const gchar **argv = pipeline != NULL ? configured : plain;
  gint status = 0;
  GError *error = NULL;
  ck_assert_msg (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, err,
                               &status, &error), "%s", error ? error->message : "");
  return g_spawn_check_wait_status (status, NULL) ? 0 : 1;
}

static gint
run_inspect (const gchar *path, gchar **out, gchar **err)
{
  return run_inspect_with (NULL, path, out, err);
}

START_TEST (test_inspect_command)
{
  g_autofree gchar *ct = path_in_tmp ("head.nii.gz");
  g_autofree gdouble *v = ramp (8 * 6 * 4, 10, -500);
  fx_write_nifti (ct, 8, 6, 4, 1, NIFTI_TYPE_INT16, v, 0.5, 0.5, 2.5, 0, 0, NULL);
  g_autofree gchar *out = NULL, *err = NULL;
  ck_assert_int_eq (run_inspect (ct, &out, &err), 0);
  ck_assert_msg (strstr (out, "modality    ct (probe, score 60)") != NULL, "%s", out);
  ck_assert_msg (strstr (out, "mri=40") != NULL, "%s", out);
  ck_assert_msg (strstr (out, "8 × 6 × 4") != NULL, "%s", out);
  ck_assert_msg (strstr (out, "spacing     0.5 × 0.5 × 2.5") != NULL, "%s", out);
  ck_assert_msg (strstr (out, "datatype    INT16") != NULL, "%s", out);
  ck_assert_msg (strstr (out, "min -500, max 460") != NULL, "%s", out);

  /* --pipeline configures the plugins from [modality NAME] groups. */
  g_autofree gchar *ini = path_in_tmp ("p.ini");
  ck_assert (g_file_set_contents (ini, "[modality ct]\nwindow=-400,600\n", -1, NULL));
  g_free (out);
  g_free (err);
  ck_assert_int_eq (run_inspect_with (ini, ct, &out, &err), 0);
  ck_assert_msg (strstr (out, "window [-400, 600] HU") != NULL, "%s%s", out, err);

  g_autofree gchar *mkv = path_in_tmp ("scope.mkv");
  ck_assert (fx_write_video (mkv, "ffv1", 16, 16, 5, 0));
  g_free (out);
  g_free (err);
  ck_assert_int_eq (run_inspect (mkv, &out, &err), 0);
  ck_assert_msg (strstr (out, "frames      5 at 25.000 fps") != NULL, "%s", out);

  g_autofree gchar *bad = path_in_tmp ("bad.png");
  ck_assert (g_file_set_contents (bad, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, NULL));
  g_free (out);
  g_free (err);
  ck_assert_int_eq (run_inspect (bad, &out, &err), 1);
  ck_assert_msg (g_str_has_prefix (err, "m3ret: error: ") && strstr (err, bad) != NULL, "%s", err);
  ck_assert_msg (strchr (err, '\n') == err + strlen (err) - 1, "more than one line: %s", err);
}
END_TEST

/* ---- close probes, names in any case, what inspect notes ---- */

/* The scores of every modality for @path, in index order (ct, endoscopy, mri,
 * ultrasound, xray). */
static void
probe_scores (const gchar *path, guint scores[5])
{
  GError *error = NULL;
  ck_assert_msg (m3ret_modalities_probe (set, path, NULL, scores, &error) != NULL, "%s",
                 error ? error->message : "");
}

START_TEST (test_probe_close_scores)
{
  guint16 px[8 * 8];
  for (guint i = 0; i < G_N_ELEMENTS (px); i++)
    px[i] = (guint16) (i * 3);
  g_autofree gchar *grey8 = path_in_tmp ("grey8.png");
  g_autofree gchar *grey16 = path_in_tmp ("grey16.png");
  fx_write_png (grey8, 8, 8, 8, PNG_COLOR_TYPE_GRAY, px);
  fx_write_png (grey16, 8, 8, 16, PNG_COLOR_TYPE_GRAY, px);
  guint scores[5];

  /* An 8-bit grey PNG is an X-ray as often as an ultrasound: a guess, said so. */
  probe_scores (grey8, scores);
  ck_assert (m3ret_modalities_scores_close (set, scores));
  g_autofree gchar *notice = m3ret_modalities_close_notice (set, grey8, scores);
  g_autofree gchar *expect =
    g_strdup_printf ("%s: probed as ultrasound, but the scores are close (ultrasound 60, xray 40): "
                     "give -m/--modality NAME or a 'modality' column in the manifest to decide",
                     grey8);
  ck_assert_str_eq (notice, expect);
  g_autofree gchar *bare = m3ret_modalities_close_notice (set, NULL, scores);
  ck_assert_str_eq (bare, expect + strlen (grey8) + 2);

  /* 16-bit grey is X-ray by 60 points: no notice. */
  probe_scores (grey16, scores);
  ck_assert (!m3ret_modalities_scores_close (set, scores));
  ck_assert_ptr_null (m3ret_modalities_close_notice (set, grey16, scores));

  /* A NIfTI file is CT or MRI; a word in its path decides. */
  g_autofree gdouble *v = ramp (4 * 4 * 2, 1, 0);
  g_autofree gchar *plain = path_in_tmp ("scan.nii");
  fx_write_nifti (plain, 4, 4, 2, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, NULL);
  probe_scores (plain, scores);
  g_autofree gchar *nifti_notice = m3ret_modalities_close_notice (set, NULL, scores);
  ck_assert_ptr_nonnull (nifti_notice);
  ck_assert_msg (strstr (nifti_notice, "probed as ct, but the scores are close (ct 60, mri 40)"),
                 "%s", nifti_notice);
  g_autofree gchar *mri_dir = path_in_tmp ("mri");
  ck_assert_int_eq (g_mkdir (mri_dir, 0755), 0);
  g_autofree gchar *worded = g_build_filename (mri_dir, "scan.nii", NULL);
  fx_write_nifti (worded, 4, 4, 2, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, NULL);
  probe_scores (worded, scores);
  ck_assert_uint_eq (scores[2], 90);
  ck_assert (!m3ret_modalities_scores_close (set, scores));

  /* The margin itself: within 20 points is close, 21 is not, a 0 never counts;
   * every modality within the margin is named, best first. */
  const guint edge[5] = { 0, 0, 0, 50, 30 }, apart[5] = { 0, 0, 0, 50, 29 };
  const guint alone[5] = { 0, 0, 0, 15, 0 }, three[5] = { 41, 0, 45, 0, 50 };
  ck_assert (m3ret_modalities_scores_close (set, edge));
  ck_assert (!m3ret_modalities_scores_close (set, apart));
  ck_assert (!m3ret_modalities_scores_close (set, alone));
  g_autofree gchar *all = m3ret_modalities_close_notice (set, "f", three);
  ck_assert_msg (strstr (all, "f: probed as xray, but the scores are close "
                             "(xray 50, mri 45, ct 41)"),
                 "%s", all);
}
END_TEST

START_TEST (test_names_any_case)
{
  ck_assert_str_eq (m3ret_modalities_lookup (set, "XRay"), "xray");
  ck_assert_str_eq (m3ret_modalities_lookup (set, "ULTRASOUND"), "ultrasound");
  ck_assert (m3ret_modalities_has (set, "Ct"));
  ck_assert_ptr_null (m3ret_modalities_lookup (set, "derm"));
  g_autofree gchar *names = m3ret_modalities_list_names (set);
  ck_assert_str_eq (names, "ct, endoscopy, mri, ultrasound, xray");
  GError *error = NULL;
  ck_assert_ptr_null (m3ret_modalities_check_name (set, "dermatology", &error));
  ck_assert (g_error_matches (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN));
  ck_assert_str_eq (error->message,
                    "unknown modality 'dermatology' (valid: ct, endoscopy, mri, ultrasound, xray)");
  g_clear_error (&error);

  guint16 px[8 * 8] = { 0 };
  g_autofree gchar *path = path_in_tmp ("x.png");
  fx_write_png (path, 8, 8, 16, PNG_COLOR_TYPE_GRAY, px);
  g_autoptr (M3retSample) s = read_eval ("XRAY", path, 8, 2, 1);
  ck_assert_uint_eq (s->width, 8);
  M3retLayout layout;
  ck_assert (m3ret_modalities_layout (set, "Ultrasound", path, &layout, NULL));
  ck_assert_int_eq (layout, M3RET_LAYOUT_IMAGE);
  assert_read_fails ("derm", path, M3RET_DATA_ERROR_NO_PLUGIN,
                     "unknown modality 'derm' (valid: ct, endoscopy, mri, ultrasound, xray)");
}
END_TEST

/* Whether @info has a note containing @text. */
static gboolean
has_note (const M3retInspectInfo *info, const gchar *text)
{
  for (guint i = 0; info->notes != NULL && i < info->notes->len; i++)
    if (strstr (info->notes->pdata[i], text) != NULL)
      return TRUE;
  return FALSE;
}

static gchar *
notes_of (const M3retInspectInfo *info)
{
  if (info->notes == NULL)
    return g_strdup ("(none)");
  g_ptr_array_add (info->notes, NULL);
  gchar *all = g_strjoinv ("\n", (gchar **) info->notes->pdata);
  g_ptr_array_remove_index (info->notes, info->notes->len - 1);
  return all;
}

START_TEST (test_inspect_notes)
{
  M3retInspectInfo info;
  GError *error = NULL;
  /* Alpha is dropped: the note says so; a plain grey file has no such note. */
  guint16 ga[6 * 4 * 2];
  for (guint i = 0; i < G_N_ELEMENTS (ga); i++)
    ga[i] = i % 2 ? 128 : (guint16) (i * 5);
  g_autofree gchar *alpha = path_in_tmp ("alpha.png");
  fx_write_png (alpha, 6, 4, 8, PNG_COLOR_TYPE_GRAY_ALPHA, ga);
  ck_assert_msg (m3ret_modalities_inspect (set, "xray", alpha, &info, &error), "%s",
                 error ? error->message : "");
  g_autofree gchar *n1 = notes_of (&info);
  ck_assert_msg (has_note (&info, "alpha dropped: transparency is ignored, pixels read as grey"),
                 "%s", n1);
  ck_assert_str_eq (info.format, "PNG 8-bit grey+alpha");
  m3ret_inspect_info_clear (&info);
  guint16 px[6 * 4] = { 0 };
  g_autofree gchar *grey = path_in_tmp ("grey.png");
  fx_write_png (grey, 6, 4, 8, PNG_COLOR_TYPE_GRAY, px);
  ck_assert (m3ret_modalities_inspect (set, "xray", grey, &info, NULL));
  ck_assert (!has_note (&info, "alpha"));
  m3ret_inspect_info_clear (&info);

  /* A negative and a zero pixdim are mended (|x|, 1): said, with the stored values;
   * no qform or sform: the orientation is unknown. */
  g_autofree gdouble *v = ramp (4 * 3 * 2, 1, 0);
  g_autofree gchar *odd = path_in_tmp ("odd.nii");
  fx_write_nifti (odd, 4, 3, 2, 1, NIFTI_TYPE_INT16, v, 0.5, 0.75, 0, 0, 0, NULL);
  { /* nifticlib writes |pixdim|: the negative one goes into the header by hand */
    g_autofree gchar *bytes = NULL;
    gsize len = 0;
    ck_assert (g_file_get_contents (odd, &bytes, &len, NULL));
    gfloat neg = -0.5f;
    memcpy (bytes + 76 + 4, &neg, 4); /* pixdim[1], native order as nifticlib wrote it */
    ck_assert (g_file_set_contents (odd, bytes, (gssize) len, NULL));
  }
  ck_assert_msg (m3ret_modalities_inspect (set, "ct", odd, &info, &error), "%s",
                 error ? error->message : "");
  g_autofree gchar *n2 = notes_of (&info);
  ck_assert_msg (has_note (&info, "spacing corrected: pixdim[1] = -0.5, read as 0.5"), "%s", n2);
  ck_assert_msg (has_note (&info, "spacing corrected: pixdim[3] = 0, read as 1"), "%s", n2);
  ck_assert_msg (!has_note (&info, "pixdim[2]"), "%s", n2);
  ck_assert_msg (has_note (&info, "orientation unknown: no qform or sform"), "%s", n2);
  ck_assert_str_eq (info.orientation, "unknown, axes read as stored");
  ck_assert_float_eq_tol (info.spacing[0], 0.5, 1e-9);
  ck_assert_float_eq_tol (info.spacing[2], 1.0, 1e-9);
  m3ret_inspect_info_clear (&info);

  /* A proper header: no such notes. */
  const gdouble ras[12] = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 };
  g_autofree gchar *good = path_in_tmp ("good.nii");
  fx_write_nifti (good, 4, 3, 2, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, ras);
  ck_assert (m3ret_modalities_inspect (set, "ct", good, &info, NULL));
  g_autofree gchar *n3 = notes_of (&info);
  ck_assert_msg (!has_note (&info, "orientation") && !has_note (&info, "spacing"), "%s", n3);
  ck_assert_str_eq (info.orientation, "RAS (stored, from the sform), read as RAS");
  m3ret_inspect_info_clear (&info);
}
END_TEST

START_TEST (test_inspect_many_files)
{
  /* inspect A B C D: every file reported, the bad ones on stderr, exit 1. */
  g_autofree gchar *ct = path_in_tmp ("head.nii.gz");
  g_autofree gdouble *v = ramp (8 * 6 * 4, 10, -500);
  const gdouble ras[12] = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 };
  fx_write_nifti (ct, 8, 6, 4, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, ras);
  guint16 px[16 * 16];
  for (guint i = 0; i < G_N_ELEMENTS (px); i++)
    px[i] = (guint16) (i % 251);
  g_autofree gchar *grey = path_in_tmp ("grey.png");
  fx_write_png (grey, 16, 16, 8, PNG_COLOR_TYPE_GRAY, px);
  g_autofree gchar *bad = path_in_tmp ("bad.png");
  ck_assert (g_file_set_contents (bad, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, NULL));
  g_autofree gchar *folder = path_in_tmp ("a-folder");
  ck_assert_int_eq (g_mkdir (folder, 0755), 0);

  M3retCheckRun r = m3ret_check_m3ret (TRUE, "inspect", ct, bad, folder, grey, NULL);
  ck_assert_int_eq (r.status, 1);
  g_autofree gchar *ct_head = g_strdup_printf ("%s\n  modality    ct (probe, score 60)\n", ct);
  g_autofree gchar *grey_head =
    g_strdup_printf ("%s\n  modality    ultrasound (probe, score 60)\n", grey);
  ck_assert_msg (strstr (r.out, ct_head) != NULL, "%s", r.out);
  ck_assert_msg (strstr (r.out, grey_head) != NULL, "%s", r.out);
  ck_assert_uint_eq (m3ret_check_count_lines (r.err), 2);
  g_autofree gchar *folder_line = g_strdup_printf ("m3ret: error: %s: a folder without DICOM image files\n",
                                                   folder);
  ck_assert_msg (g_str_has_prefix (r.err, "m3ret: error: ") && strstr (r.err, bad) != NULL, "%s",
                 r.err);
  ck_assert_msg (strstr (r.err, folder_line) != NULL, "%s", r.err);
  /* The grey PNG's close probe, once, in its own block, with the scores and the way out;
   * the CT file (60 against 40) too; grids the files are smaller than. */
  const gchar *grey_block = strstr (r.out, grey_head);
  ck_assert_msg (strstr (grey_block, "  warning     probed as ultrasound, but the scores are close "
                                     "(ultrasound 60, xray 40): give -m/--modality NAME or a "
                                     "'modality' column in the manifest to decide\n") != NULL,
                 "%s", r.out);
  ck_assert_msg (strstr (grey_block, "  note        16 × 16 pixels, smaller than the default "
                                     "64 × 64 grid: upsampled ×4\n") != NULL, "%s", r.out);
  ck_assert_msg (strstr (r.out, "warning     probed as ct, but the scores are close "
                                "(ct 60, mri 40)"),
                 "%s", r.out);
  ck_assert_msg (strstr (r.out, "  note        4 slices, fewer than the default depth 16: "
                                "interpolated between slices\n"), "%s", r.out);
  m3ret_check_run_clear (&r);

  /* All good: exit 0.  -m in any case reads as asked, with no warning. */
  r = m3ret_check_m3ret (TRUE, "inspect", "-m", "XRay", grey, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert_msg (strstr (r.out, "  modality    xray (as asked, score 40)\n") != NULL, "%s", r.out);
  ck_assert_msg (strstr (r.out, "warning") == NULL, "%s", r.out);
  m3ret_check_run_clear (&r);

  /* The grid of a pipeline: 8 × 6 pixels under [input] size=16. */
  g_autofree gchar *ini = path_in_tmp ("grid.ini");
  ck_assert (g_file_set_contents (ini, "[input]\nsize=16\ndepth=4\ntubelet=2,8,8\n", -1, NULL));
  r = m3ret_check_m3ret (TRUE, "inspect", "-p", ini, ct, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert_msg (strstr (r.out, "  note        8 × 6 pixels, smaller than the pipeline's 16 × 16 "
                                "grid: upsampled ×2\n"), "%s", r.out);
  ck_assert_msg (strstr (r.out, "slices") == NULL, "%s", r.out);
  m3ret_check_run_clear (&r);

  /* An unknown -m lists the valid names. */
  r = m3ret_check_m3ret (TRUE, "inspect", "-m", "derm", grey, NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert_str_eq (r.err, "m3ret: error: -m/--modality: unknown modality 'derm' "
                           "(valid: ct, endoscopy, mri, ultrasound, xray)\n");
  m3ret_check_run_clear (&r);
}
END_TEST

/* ---- JPEG: X-ray, ultrasound and endoscopy stills ---- */

/* @path decoded by djpeg (libjpeg-turbo-progs: a separate decoder program,
 * which ignores EXIF) as PNM: fills *w, *h, *channels; (transfer full). */
static guint8 *
djpeg_decode (const gchar *path, guint *w, guint *h, guint *channels)
{
  g_autofree gchar *prog = g_find_program_in_path ("djpeg");
  ck_assert_msg (prog != NULL, "djpeg not found: install libjpeg-turbo-progs (setup.sh does)");
  const gchar *argv[] = { prog, "-pnm", path, NULL };
  g_autofree gchar *out = NULL;
  gsize len = 0;
  gint status = 0;
  gchar *stdout_buf = NULL;
  GError *error = NULL;
  ck_assert_msg (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                               &stdout_buf, NULL, &status, &error),
                 "%s", error ? error->message : "");
  out = stdout_buf;
  ck_assert_msg (g_spawn_check_wait_status (status, NULL), "djpeg failed on %s", path);
  /* P5/P6 W H 255\n data: out holds binary, so the length comes from the header. */
  guint maxval = 0;
  gchar magic[3] = { 0 };
  int consumed = 0;
  ck_assert (sscanf (out, "%2s %u %u %u%n", magic, w, h, &maxval, &consumed) == 4);
  ck_assert_uint_eq (maxval, 255);
  *channels = g_str_equal (magic, "P5") ? 1 : 3;
  len = (gsize) *w * *h * *channels;
  return g_memdup2 (out + consumed + 1, len);
}

static guint8 *
jpeg_test_picture (guint w, guint h, guint channels)
{
  guint8 *v = g_new (guint8, (gsize) w * h * channels);
  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++)
      for (guint c = 0; c < channels; c++)
        v[((gsize) y * w + x) * channels + c] = (guint8) ((x * 29 + y * 17 + c * 80) % 256);
  return v;
}

/* Our decode equals djpeg's for both colour kinds, and is close to what was written. */
START_TEST (test_jpeg_against_djpeg)
{
  for (guint channels = 1; channels <= 3; channels += 2) {
    g_autofree gchar *path = path_in_tmp (channels == 1 ? "grey.jpg" : "colour.jpg");
    const guint w = 19, h = 13;
    g_autofree guint8 *pixels = jpeg_test_picture (w, h, channels);
    fx_write_jpeg (path, w, h, channels, pixels, 95, 0);
    M3retLimits limits;
    m3ret_limits_init_default (&limits);
    M3retReadersJpegInfo info;
    GError *error = NULL;
    g_autoptr (M3retVolume) vol = m3ret_readers_jpeg_read (path, &limits, &info, &error);
    ck_assert_msg (vol != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq (info.channels, channels);
    ck_assert_uint_eq (info.orientation, 1);
    ck_assert_uint_eq (vol->channels, channels);
    ck_assert_uint_eq (vol->width, w);
    ck_assert_uint_eq (vol->height, h);
    guint dw, dh, dc;
    g_autofree guint8 *ref = djpeg_decode (path, &dw, &dh, &dc);
    ck_assert_uint_eq (dw, w);
    ck_assert_uint_eq (dh, h);
    ck_assert_uint_eq (dc, channels);
    gsize plane = (gsize) w * h;
    gdouble err_written = 0;
    for (guint y = 0; y < h; y++)
      for (guint x = 0; x < w; x++)
        for (guint c = 0; c < channels; c++) {
          gdouble v = vol->data[c * plane + (gsize) y * w + x] * 255.0;
          gsize k = ((gsize) y * w + x) * channels + c;
          ck_assert_msg (fabs (v - ref[k]) < 1e-3, "(%u,%u,%u): %g, djpeg %u", x, y, c, v,
                         ref[k]);
          err_written = MAX (err_written, fabs (v - pixels[k]));
        }
    /* Quality 95, no subsampling: within 24 levels of what was written (lossy). */
    ck_assert_msg (err_written <= 24, "max error %g against the written values", err_written);
    /* Through the plugin's probe by magic bytes, under a name that says nothing. */
    g_autofree gchar *plain = path_in_tmp (channels == 1 ? "grey.dat" : "colour.dat");
    fx_truncate_copy (path, plain, G_MAXSIZE);
    guint score = 0;
    ck_assert_str_eq (probe (plain, &score), channels == 1 ? "xray" : "endoscopy");
    ck_assert_uint_eq (score, 60);
    static const gchar *const names[] = { "xray", "ultrasound", "endoscopy" };
    for (guint m = 0; m < G_N_ELEMENTS (names); m++) {
      M3retLayout layout = M3RET_LAYOUT_SEQUENCE;
      ck_assert (m3ret_modalities_layout (set, names[m], plain, &layout, NULL));
      ck_assert_int_eq (layout, M3RET_LAYOUT_IMAGE);
      M3retSample *sample = read_eval (names[m], plain, 16, 2, 2);
      ck_assert_ptr_nonnull (sample);
      m3ret_sample_free (sample);
    }
  }
}
END_TEST

/* Every EXIF orientation gives the picture as shown: the stored one (djpeg
 * ignores EXIF) transformed as the standard says. */
START_TEST (test_jpeg_exif_orientation)
{
  const guint w = 24, h = 16;
  g_autofree guint8 *pixels = jpeg_test_picture (w, h, 3);
  for (guint o = 1; o <= 8; o++) {
    g_autofree gchar *name = g_strdup_printf ("o%u.jpg", o);
    g_autofree gchar *path = path_in_tmp (name);
    fx_write_jpeg (path, w, h, 3, pixels, 90, o);
    guint dw, dh, dc;
    g_autofree guint8 *ref = djpeg_decode (path, &dw, &dh, &dc);
    M3retLimits limits;
    m3ret_limits_init_default (&limits);
    M3retReadersJpegInfo info;
    GError *error = NULL;
    g_autoptr (M3retVolume) vol = m3ret_readers_jpeg_read (path, &limits, &info, &error);
    ck_assert_msg (vol != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq (info.orientation, o);
    guint ow = o >= 5 ? h : w, oh = o >= 5 ? w : h;
    ck_assert_uint_eq (vol->width, ow);
    ck_assert_uint_eq (vol->height, oh);
    for (guint y = 0; y < oh; y++)
      for (guint x = 0; x < ow; x++) {
        /* The EXIF definitions written out: where shown (x, y) was stored. */
        guint sx, sy;
        switch (o) {
        case 1: sx = x; sy = y; break;
        case 2: sx = w - 1 - x; sy = y; break;           /* mirrored left-right */
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;   /* upside down */
        case 4: sx = x; sy = h - 1 - y; break;           /* mirrored top-bottom */
        case 5: sx = y; sy = x; break;                   /* transposed */
        case 6: sx = y; sy = h - 1 - x; break;           /* turn 90° clockwise to show */
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;   /* transversed */
        default: sx = w - 1 - y; sy = x; break;          /* turn 90° anticlockwise */
        }
        for (guint c = 0; c < 3; c++) {
          gdouble v = vol->data[(gsize) c * ow * oh + (gsize) y * ow + x] * 255.0;
          guint8 r = ref[((gsize) sy * w + sx) * 3 + c];
          ck_assert_msg (fabs (v - r) < 1e-3, "orientation %u (%u,%u,%u): %g, expected %u", o,
                         x, y, c, v, r);
        }
      }
  }
}
END_TEST

START_TEST (test_jpeg_bad_input)
{
  g_autofree gchar *path = path_in_tmp ("good.jpg");
  g_autofree guint8 *pixels = jpeg_test_picture (32, 32, 1);
  fx_write_jpeg (path, 32, 32, 1, pixels, 90, 0);
  gsize len = 0;
  g_autofree gchar *data = NULL;
  ck_assert (g_file_get_contents (path, &data, &len, NULL));

  g_autofree gchar *cut = path_in_tmp ("cut.jpg");
  fx_truncate_copy (path, cut, len / 2);
  assert_read_fails ("xray", cut, M3RET_DATA_ERROR_CORRUPT, "truncated");
  g_autofree gchar *header_only = path_in_tmp ("header.jpg");
  fx_truncate_copy (path, header_only, 40);
  assert_read_fails ("xray", header_only, M3RET_DATA_ERROR_CORRUPT, "JPEG");

  /* A 60000×60000 frame header (libjpeg itself stops at 65500): refused by
   * the limit before any allocation. */
  g_autofree gchar *huge = path_in_tmp ("huge.jpg");
  gboolean patched = FALSE;
  for (gsize i = 2; i + 9 < len; i++)
    if ((guint8) data[i] == 0xFF && (guint8) data[i + 1] == 0xC0) {
      data[i + 5] = data[i + 7] = (gchar) 0xEA;
      data[i + 6] = data[i + 8] = (gchar) 0x60;
      patched = TRUE;
      break;
    }
  ck_assert (patched);
  ck_assert (g_file_set_contents (huge, data, (gssize) len, NULL));
  assert_read_fails ("xray", huge, M3RET_DATA_ERROR_TOO_LARGE, "max_pixels");
  assert_limit_refuses ("endoscopy", path, "max_pixels", "1000");

  /* Another format under a .jpg name is not read as JPEG. */
  g_autofree gchar *fake = path_in_tmp ("fake.jpg");
  ck_assert (g_file_set_contents (fake, "\xff\xd8\xff\xe0garbage", 11, NULL));
  assert_read_fails ("endoscopy", fake, M3RET_DATA_ERROR_CORRUPT, "JPEG");
}
END_TEST

static Suite *
modality_suite (void)
{
  Suite *s = suite_create ("modality");
  TCase *png = tcase_create ("png");
  tcase_add_checked_fixture (png, setup, teardown);
  tcase_add_test (png, test_png_16bit_xray);
  tcase_add_test (png, test_png_8bit_rgb_palette_ultrasound);
  tcase_add_test (png, test_png_aspect_padded);
  tcase_add_test (png, test_png_bad_input);
  tcase_add_test (png, test_png_low_depth_alpha_interlaced);
  tcase_add_test (png, test_probe_close_scores);
  tcase_add_test (png, test_names_any_case);
  tcase_add_test (png, test_inspect_notes);
  tcase_add_test (png, test_jpeg_against_djpeg);
  tcase_add_test (png, test_jpeg_exif_orientation);
  tcase_add_test (png, test_jpeg_bad_input);
  suite_add_tcase (s, png);
  TCase *nifti = tcase_create ("nifti");
  tcase_add_checked_fixture (nifti, setup, teardown);
  tcase_add_test (nifti, test_nifti_ct_roundtrip);
  tcase_add_test (nifti, test_nifti_datatypes_mri);
  tcase_add_test (nifti, test_nifti_spacing);
  tcase_add_test (nifti, test_nifti_orientation);
  tcase_add_test (nifti, test_nifti_4d_volume_key);
  tcase_add_test (nifti, test_nifti_bad_input);
  tcase_add_test (nifti, test_cache_same_views_and_refreshed);
  suite_add_tcase (s, nifti);
  TCase *video = tcase_create ("video");
  tcase_add_checked_fixture (video, setup, teardown);
  tcase_add_test (video, test_video_ffv1_frames_exact);
  tcase_add_test (video, test_video_lossy_codecs);
  tcase_add_test (video, test_video_seek_lands_on_the_frame);
  tcase_add_test (video, test_video_bad_input);
  suite_add_tcase (s, video);
  TCase *robust = tcase_create ("robustness");
  tcase_add_checked_fixture (robust, setup, teardown);
  tcase_add_test (robust, test_mutations_never_crash);
  tcase_add_test (robust, test_inspect_command);
  tcase_add_test (robust, test_inspect_many_files);
  suite_add_tcase (s, robust);
  return s;
}

M3RET_CHECK_MAIN (.suite = modality_suite)
