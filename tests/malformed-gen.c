/* malformed-gen.c — the broken files of the malformed-input suite.
 *
 * Valid files come from the same libraries the readers use
 * (test-modality-fixtures.c, m3ret_npy_write_f32); the damage is done by
 * hand on the bytes, so each case is exactly one defect.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <png.h>

#include "m3ret-check.h"
#include "m3ret-npy.h"
#include "malformed-gen.h"
#include "test-modality-fixtures.h"

#include <nifti1_io.h> /* after GLib: nifti1.h redefines DT_UNKNOWN */

/* ---- bytes ---- */

static void
put (const gchar *path, const void *data, gsize len)
{
  GError *error = NULL;
  ck_assert_msg (g_file_set_contents (path, data, (gssize) len, &error), "%s", error ? error->message : "");
}

static GByteArray *
slurp (const gchar *path)
{
  gchar *data = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (path, &data, &len, NULL));
  return g_byte_array_new_take ((guint8 *) data, len);
}

/* Copies @src to @path with @len bytes at @offset replaced by @bytes. */
static void
patch_copy (const gchar *src, const gchar *path, gsize offset, const void *bytes, gsize len)
{
  g_autoptr (GByteArray) b = slurp (src);
  ck_assert_uint_le (offset + len, b->len);
  memcpy (b->data + offset, bytes, len);
  put (path, b->data, b->len);
}

static void
put_text (const gchar *path, const gchar *text)
{
  put (path, text, strlen (text));
}

static void
put_noise (const gchar *path, gsize len, guint32 seed)
{
  g_autofree guint8 *noise = g_new (guint8, len);
  GRand *r = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < len; i++)
    noise[i] = (guint8) g_rand_int (r);
  g_rand_free (r);
  put (path, noise, len);
}

/* ---- PNG chunks by hand ---- */

static guint32
crc32_of (const guint8 *p, gsize n)
{
  guint32 c = 0xffffffffu;
  for (gsize i = 0; i < n; i++) {
    c ^= p[i];
    for (gint k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xedb88320u & -(c & 1u));
  }
  return c ^ 0xffffffffu;
}

static void
append_chunk (GByteArray *png, const gchar *type, const guint8 *data, guint32 len, gboolean good_crc)
{
  guint32 be = GUINT32_TO_BE (len);
  gsize start = png->len + 4;
  g_byte_array_append (png, (const guint8 *) &be, 4);
  g_byte_array_append (png, (const guint8 *) type, 4);
  if (len > 0)
    g_byte_array_append (png, data, len);
  guint32 crc = crc32_of (png->data + start, len + 4) ^ (good_crc ? 0u : 1u);
  be = GUINT32_TO_BE (crc);
  g_byte_array_append (png, (const guint8 *) &be, 4);
}

/* Signature and an IHDR of @width × @height, 16-bit grey; no image data. */
static GByteArray *
png_head (guint32 width, guint32 height, gboolean good_crc)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  GByteArray *png = g_byte_array_new ();
  g_byte_array_append (png, signature, 8);
  guint8 ihdr[13] = { 0 };
  guint32 w = GUINT32_TO_BE (width), h = GUINT32_TO_BE (height);
  memcpy (ihdr, &w, 4);
  memcpy (ihdr + 4, &h, 4);
  ihdr[8] = 16; /* bit depth; colour type 0 = grey */
  append_chunk (png, "IHDR", ihdr, 13, good_crc);
  return png;
}

static void
png_header_only (const gchar *path, guint32 width, guint32 height, gboolean good_crc)
{
  g_autoptr (GByteArray) png = png_head (width, height, good_crc);
  /* A little IDAT so that only the header is at fault. */
  static const guint8 idat[] = { 0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01 };
  append_chunk (png, "IDAT", idat, sizeof idat, TRUE);
  append_chunk (png, "IEND", NULL, 0, TRUE);
  put (path, png->data, png->len);
}

static void
w_png_truncated (const MgContext *c, const gchar *path)
{
  g_autoptr (GByteArray) b = slurp (c->png);
  put (path, b->data, b->len / 2);
}

static void
w_png_bad_signature (const MgContext *c, const gchar *path)
{
  put_text (path, "GIF89a\x10\x00\x10\x00 an image of another format");
}

/* ---- JPEG ---- */

static void
w_jpeg_truncated (const MgContext *c, const gchar *path)
{
  guint8 v[32 * 32];
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = (guint8) (i * 7);
  fx_write_jpeg (path, 32, 32, 1, v, 90, 0);
  g_autoptr (GByteArray) b = slurp (path);
  put (path, b->data, b->len / 2);
}

static void
w_jpeg_huge_dims (const MgContext *c, const gchar *path)
{
  guint8 v[16 * 16];
  memset (v, 128, sizeof v);
  fx_write_jpeg (path, 16, 16, 1, v, 90, 0);
  g_autoptr (GByteArray) b = slurp (path);
  for (guint i = 2; i + 9 < b->len; i++)
    if (b->data[i] == 0xFF && b->data[i + 1] == 0xC0) { /* SOF0: 60000×60000 */
      b->data[i + 5] = b->data[i + 7] = 0xEA;
      b->data[i + 6] = b->data[i + 8] = 0x60;
      break;
    }
  put (path, b->data, b->len);
}

#define DCM_EXPLICIT_LE FX_DICOM_EXPLICIT_LE

static void
w_dicom_truncated (const MgContext *c, const gchar *path)
{
  g_autoptr (GByteArray) b = fx_dicom_object (DCM_EXPLICIT_LE, NULL, 0);
  put (path, b->data, b->len - 200);
}

static void
w_dicom_truncated_meta (const MgContext *c, const gchar *path)
{
  /* Cut inside the meta group: where Debian's GDCM would assert. */
  g_autoptr (GByteArray) b = fx_dicom_object (DCM_EXPLICIT_LE, NULL, 0);
  put (path, b->data, 140);
}

static void
w_dicom_lying_length (const MgContext *c, const gchar *path)
{
  g_autoptr (GByteArray) b = fx_dicom_object (DCM_EXPLICIT_LE, NULL, 0);
  /* The Modality element (0008,0060) claims 0x7ff0 bytes. */
  for (guint i = 132; i + 8 < b->len; i++)
    if (memcmp (b->data + i, "\x08\x00\x60\x00" "CS", 6) == 0) {
      b->data[i + 6] = 0xf0, b->data[i + 7] = 0x7f;
      break;
    }
  put (path, b->data, b->len);
}

static void
w_dicom_huge_dims (const MgContext *c, const gchar *path)
{
  g_autoptr (GByteArray) b = fx_dicom_object (DCM_EXPLICIT_LE, NULL, 0);
  for (guint i = 132; i + 10 < b->len; i++)
    if (memcmp (b->data + i, "\x28\x00\x10\x00" "US", 6) == 0
        || memcmp (b->data + i, "\x28\x00\x11\x00" "US", 6) == 0)
      b->data[i + 8] = b->data[i + 9] = 0xff; /* 65535 */
  put (path, b->data, b->len);
}

static void
w_dicom_bad_fragment (const MgContext *c, const gchar *path)
{
  /* JPEG-LS lossless whose one fragment is noise after a start marker. */
  guint8 noise[96] = { 0xff, 0xd8 };
  for (guint i = 2; i < sizeof noise; i++)
    noise[i] = (guint8) (i * 37 + 11);
  g_autoptr (GByteArray) b = fx_dicom_object ("1.2.840.10008.1.2.4.80", noise, sizeof noise);
  put (path, b->data, b->len);
}

static void
w_dicom_series_of_one (const MgContext *c, const gchar *path)
{
  /* A folder: one slice with a position and an orientation. */
  g_assert (g_mkdir (path, 0755) == 0);
  guint16 px[16 * 16] = { 0 };
  FxDicom d = { .modality = "CT", .width = 16, .height = 16, .frames = 1, .bits_stored = 12,
                .has_position = TRUE, .z = 0 };
  g_autoptr (GByteArray) b = fx_dicom_image (&d, px, NULL, 0);
  g_autofree gchar *slice = g_build_filename (path, "slice-1.dcm", NULL);
  put (slice, b->data, b->len);
}

static void
w_png_huge_dims (const MgContext *c, const gchar *path)
{
  png_header_only (path, 100000, 100000, TRUE);
}

static void
w_png_wide_strip (const MgContext *c, const gchar *path)
{
  /* 2^31-1 × 2: no 32-bit product overflows into a small one. */
  png_header_only (path, 0x7fffffff, 2, TRUE);
}

static void
w_png_zero_width (const MgContext *c, const gchar *path)
{
  png_header_only (path, 0, 16, TRUE);
}

static void
w_png_bad_crc (const MgContext *c, const gchar *path)
{
  png_header_only (path, 16, 16, FALSE);
}

static void
w_png_no_image_data (const MgContext *c, const gchar *path)
{
  g_autoptr (GByteArray) png = png_head (16, 16, TRUE);
  append_chunk (png, "IEND", NULL, 0, TRUE);
  put (path, png->data, png->len);
}

static void
w_empty (const MgContext *c, const gchar *path)
{
  put (path, "", 0);
}

static void
w_png_over_file_size (const MgContext *c, const gchar *path)
{
  /* 16-bit noise does not compress: ~500 KB against max_file_size=400000. */
  const guint side = 500;
  g_autofree guint16 *px = g_new (guint16, side * side);
  GRand *r = g_rand_new_with_seed (3);
  for (guint i = 0; i < side * side; i++)
    px[i] = (guint16) g_rand_int (r);
  g_rand_free (r);
  fx_write_png (path, side, side, 16, PNG_COLOR_TYPE_GRAY, px);
}

/* ---- NIfTI-1: header fields patched in a valid uncompressed file ---- */

#define NII_DIM 40       /* int16 dim[8] */
#define NII_DATATYPE 70  /* int16 */
#define NII_BITPIX 72    /* int16 */
#define NII_MAGIC 344    /* "n+1\0" */

static void
nii_patch_dims (const MgContext *c, const gchar *path, gint16 d0, gint16 d1, gint16 d2, gint16 d3)
{
  gint16 dim[4] = { GINT16_TO_LE (d0), GINT16_TO_LE (d1), GINT16_TO_LE (d2), GINT16_TO_LE (d3) };
  patch_copy (c->nifti_raw, path, NII_DIM, dim, sizeof dim);
}

static void
w_nii_negative_dim (const MgContext *c, const gchar *path)
{
  nii_patch_dims (c, path, 3, 8, -5, 6);
}

static void
w_nii_zero_dim (const MgContext *c, const gchar *path)
{
  nii_patch_dims (c, path, 3, 8, 8, 0);
}

static void
w_nii_bad_ndim (const MgContext *c, const gchar *path)
{
  nii_patch_dims (c, path, 9, 8, 8, 6);
}

static void
w_nii_huge_claim (const MgContext *c, const gchar *path)
{
  nii_patch_dims (c, path, 3, 1000, 1000, 1000);
}

static void
w_nii_dims_overflow (const MgContext *c, const gchar *path)
{
  /* 32767³ float64 voxels: 2.8e14 bytes, far past any 32-bit product. */
  g_autoptr (GByteArray) b = slurp (c->nifti_raw);
  gint16 dim[4] = { GINT16_TO_LE (3), GINT16_TO_LE (32767), GINT16_TO_LE (32767),
                    GINT16_TO_LE (32767) };
  gint16 type[2] = { GINT16_TO_LE (NIFTI_TYPE_FLOAT64), GINT16_TO_LE (64) };
  memcpy (b->data + NII_DIM, dim, sizeof dim);
  memcpy (b->data + NII_DATATYPE, type, sizeof type);
  put (path, b->data, b->len);
}

static void
w_nii_lying_size (const MgContext *c, const gchar *path)
{
  /* 40×40×40 int16 promised (64000 voxels, within max_voxels), 8×8×6 present. */
  nii_patch_dims (c, path, 3, 40, 40, 40);
}

static void
w_nii_bad_magic (const MgContext *c, const gchar *path)
{
  patch_copy (c->nifti_raw, path, NII_MAGIC, "xyz", 4);
}

static void
w_nii_truncated (const MgContext *c, const gchar *path)
{
  g_autoptr (GByteArray) b = slurp (c->nifti_raw);
  put (path, b->data, 352 + 40);
}

static void
w_nii_gz_truncated (const MgContext *c, const gchar *path)
{
  g_autoptr (GByteArray) b = slurp (c->nifti);
  put (path, b->data, b->len * 2 / 3);
}

/* ---- NIfTI-2: header fields patched in a valid file written here ---- */

#define NII2_DIM 16         /* int64 dim[8] */
#define NII2_VOX_OFFSET 168 /* int64 */

static void
nii2_patched (const gchar *path, gsize offset, const gint64 *values, guint n)
{
  gdouble v[8 * 8 * 6] = { 0 };
  fx_write_nifti2 (path, 8, 8, 6, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, NULL, FALSE);
  g_autoptr (GByteArray) b = slurp (path);
  for (guint i = 0; i < n; i++) {
    gint64 le = GINT64_TO_LE (values[i]);
    memcpy (b->data + offset + 8 * i, &le, sizeof le);
  }
  put (path, b->data, b->len);
}

static void
w_nii2_huge_claim (const MgContext *c, const gchar *path)
{
  const gint64 dim[4] = { 3, 1 << 20, 1 << 20, 1 << 20 }; /* 2^60 voxels */
  nii2_patched (path, NII2_DIM, dim, 4);
}

static void
w_nii2_lying_size (const MgContext *c, const gchar *path)
{
  const gint64 dim[4] = { 3, 40, 40, 40 };
  nii2_patched (path, NII2_DIM, dim, 4);
}

static void
w_nii2_bad_offset (const MgContext *c, const gchar *path)
{
  const gint64 offset = 100; /* inside the 540-byte header */
  nii2_patched (path, NII2_VOX_OFFSET, &offset, 1);
}

static void
w_nii2_short_header (const MgContext *c, const gchar *path)
{
  nii2_patched (path, NII2_VOX_OFFSET, NULL, 0);
  g_autoptr (GByteArray) b = slurp (path);
  put (path, b->data, 400);
}

static void
nii_with_values (const gchar *path, gdouble bad)
{
  gdouble v[8 * 8 * 6];
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = i % 50 == 7 ? bad : i;
  fx_write_nifti (path, 8, 8, 6, 1, NIFTI_TYPE_FLOAT32, v, 1, 1, 1, 0, 0, NULL);
}

static void
w_nii_nan (const MgContext *c, const gchar *path)
{
  nii_with_values (path, NAN);
}

static void
w_nii_inf (const MgContext *c, const gchar *path)
{
  nii_with_values (path, -INFINITY);
}

static void
w_nii_complex (const MgContext *c, const gchar *path)
{
  gdouble v[4 * 4 * 4] = { 0 };
  fx_write_nifti (path, 4, 4, 4, 1, NIFTI_TYPE_COMPLEX64, v, 1, 1, 1, 0, 0, NULL);
}

static void
w_nii_over_file_size (const MgContext *c, const gchar *path)
{
  /* 64×64×50 int16 = 400 KB of data plus the header: just over 400000 bytes. */
  g_autofree gdouble *v = g_new0 (gdouble, 64 * 64 * 50);
  fx_write_nifti (path, 64, 64, 50, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, NULL);
}

/* ---- video ---- */

static void
w_video_no_frames (const MgContext *c, const gchar *path)
{
  ck_assert (fx_write_video (path, "ffv1", 16, 16, 0, 0));
}

static void
w_video_truncated (const MgContext *c, const gchar *path)
{
  g_autoptr (GByteArray) b = slurp (c->video);
  put (path, b->data, 40);
}

static void
w_video_garbage (const MgContext *c, const gchar *path)
{
  put_noise (path, 4096, 11);
}

static void
w_video_too_many_frames (const MgContext *c, const gchar *path)
{
  ck_assert (fx_write_video (path, "ffv1", 16, 16, 12, 0)); /* max_frames=8 */
}

static void
w_video_frame_too_large (const MgContext *c, const gchar *path)
{
  ck_assert (fx_write_video (path, "ffv1", 320, 240, 2, 0)); /* 76800 > max_pixels=60000 */
}

static void
w_video_wrong_boxes (const MgContext *c, const gchar *path)
{
  /* An MP4 'ftyp' box, then noise where the 'moov' box should be. */
  put_noise (path, 2048, 13);
  patch_copy (path, path, 0, "\0\0\0\x18" "ftypisom\0\0\0\x01" "isomavc1", 24);
}

/* ---- manifests ---- */

static void
w_manifest_missing_file (const MgContext *c, const gchar *path)
{
  g_autofree gchar *text = g_strdup_printf ("path,modality,label\n%s,xray,chest\ngone.png,xray,chest\n",
                                            c->png);
  put_text (path, text);
}

static void
w_manifest_short_row (const MgContext *c, const gchar *path)
{
  g_autofree gchar *text = g_strdup_printf ("path,modality,label\n%s,xray,chest\n%s\n", c->png, c->png);
  put_text (path, text);
}

static void
w_manifest_no_path_column (const MgContext *c, const gchar *path)
{
  g_autofree gchar *text = g_strdup_printf ("file,modality\n%s,xray\n", c->png);
  put_text (path, text);
}

static void
w_manifest_unknown_modality (const MgContext *c, const gchar *path)
{
  g_autofree gchar *text = g_strdup_printf ("path,modality\n%s,dermatology\n", c->png);
  put_text (path, text);
}

static void
w_manifest_open_quote (const MgContext *c, const gchar *path)
{
  g_autofree gchar *text = g_strdup_printf ("path,modality\n\"%s,xray\n", c->png);
  put_text (path, text);
}

static void
w_manifest_header_only (const MgContext *c, const gchar *path)
{
  put_text (path, "path,modality,label\n");
}

static void
w_manifest_binary (const MgContext *c, const gchar *path)
{
  put (path, "path,modality\n\0\x01\x02,xray\n", 23);
}

/* ---- pipelines ---- */

#define PIPELINE_HEAD "[encoder]\npreset=micro\n[input]\nsize=16\ndepth=4\ntubelet=2,8,8\n"

static void
w_ini_wrong_type (const MgContext *c, const gchar *path)
{
  put_text (path, "[encoder]\npreset=micro\n[input]\nsize=abc\n");
}

static void
w_ini_out_of_range (const MgContext *c, const gchar *path)
{
  put_text (path, "[input]\nsize=3\n");
}

static void
w_ini_unknown_key (const MgContext *c, const gchar *path)
{
  put_text (path, PIPELINE_HEAD "[train]\nbatchsize=4\n");
}

static void
w_ini_duplicate_group (const MgContext *c, const gchar *path)
{
  put_text (path, PIPELINE_HEAD "[train]\nbatch=4\n[train]\nsteps=2\n");
}

static void
w_ini_not_keyfile (const MgContext *c, const gchar *path)
{
  put_noise (path, 300, 5);
}

static void
w_ini_bad_enum (const MgContext *c, const gchar *path)
{
  put_text (path, PIPELINE_HEAD "[data]\non_error=maybe\n");
}

static void
w_ini_limit_wrong_type (const MgContext *c, const gchar *path)
{
  put_text (path, PIPELINE_HEAD "[data]\nmax_pixels=lots\n");
}

static void
w_ini_negative_limit (const MgContext *c, const gchar *path)
{
  put_text (path, PIPELINE_HEAD "[data]\nmax_frames=-1\n");
}

/* ---- safetensors ---- */

static void
put_safetensors (const gchar *path, guint64 header_len, const gchar *json, gsize data_len)
{
  g_autoptr (GByteArray) b = g_byte_array_new ();
  guint64 le = GUINT64_TO_LE (header_len);
  g_byte_array_append (b, (const guint8 *) &le, 8);
  g_byte_array_append (b, (const guint8 *) json, strlen (json));
  g_autofree guint8 *zeros = g_new0 (guint8, MAX (data_len, 1));
  g_byte_array_append (b, zeros, data_len);
  put (path, b->data, b->len);
}

static const gchar st_json[] =
  "{\"cls_token\":{\"dtype\":\"F32\",\"shape\":[1,1,64],\"data_offsets\":[0,256]}}";

static void
w_st_truncated (const MgContext *c, const gchar *path)
{
  put_safetensors (path, strlen (st_json), st_json, 100); /* 256 bytes promised */
}

static void
w_st_huge_header (const MgContext *c, const gchar *path)
{
  put_safetensors (path, G_GUINT64_CONSTANT (1) << 62, st_json, 256);
}

static void
w_st_bad_json (const MgContext *c, const gchar *path)
{
  put_safetensors (path, 12, "{\"cls_token\"", 0);
}

static void
w_st_offsets_outside (const MgContext *c, const gchar *path)
{
  const gchar *json =
    "{\"cls_token\":{\"dtype\":\"F32\",\"shape\":[1,1,64],\"data_offsets\":[4096,4352]}}";
  put_safetensors (path, strlen (json), json, 256);
}

static void
w_st_missing_tensors (const MgContext *c, const gchar *path)
{
  put_safetensors (path, strlen (st_json), st_json, 256); /* valid, but no encoder in it */
}

static void
w_st_wrong_shape (const MgContext *c, const gchar *path)
{
  /* shape × dtype disagrees with the offsets */
  const gchar *json =
    "{\"cls_token\":{\"dtype\":\"F32\",\"shape\":[1,1,4096],\"data_offsets\":[0,256]}}";
  put_safetensors (path, strlen (json), json, 256);
}

/* ---- .npy ---- */

static void
put_npy (const gchar *path, const gchar *dict, const void *data, gsize data_len)
{
  g_autoptr (GByteArray) b = g_byte_array_new ();
  g_byte_array_append (b, (const guint8 *) "\x93NUMPY\x01\x00", 8);
  GString *header = g_string_new (dict);
  while ((10 + header->len + 1) % 64 != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');
  guint16 hl = GUINT16_TO_LE ((guint16) header->len);
  g_byte_array_append (b, (const guint8 *) &hl, 2);
  g_byte_array_append (b, (const guint8 *) header->str, header->len);
  g_byte_array_append (b, data, data_len);
  g_string_free (header, TRUE);
  put (path, b->data, b->len);
}

static void
w_npy_truncated (const MgContext *c, const gchar *path)
{
  gfloat rows[4 * 8] = { 0 };
  put_npy (path, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 64), }", rows, sizeof rows);
}

static void
w_npy_bad_magic (const MgContext *c, const gchar *path)
{
  put_text (path, "\x93NUMPX\x01\x00 not an array");
}

static void
w_npy_float64 (const MgContext *c, const gchar *path)
{
  gdouble rows[2 * 4] = { 1, 0, 0, 0, 0, 1, 0, 0 };
  put_npy (path, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }", rows, sizeof rows);
}

static void
w_npy_shape_overflow (const MgContext *c, const gchar *path)
{
  gfloat rows[4] = { 0 };
  put_npy (path,
           "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }",
           rows, sizeof rows);
}

static void
w_npy_nan (const MgContext *c, const gchar *path)
{
  gfloat rows[3 * 4] = { 1, 0, 0, 0, 0, NAN, 0, 0, 0, 0, 1, 0 };
  ck_assert (m3ret_npy_write_f32 (path, rows, 3, 4, NULL));
}

static void
w_npy_no_rows (const MgContext *c, const gchar *path)
{
  ck_assert (m3ret_npy_write_f32 (path, NULL, 0, 4, NULL));
}

/* ---- index files ---- */

static void
w_index_truncated (const MgContext *c, const gchar *path)
{
  g_autoptr (GByteArray) b = slurp (c->index);
  put (path, b->data, b->len / 2);
}

static void
w_index_garbage (const MgContext *c, const gchar *path)
{
  put_noise (path, 2048, 7);
}

static void
w_index_flipped (const MgContext *c, const gchar *path)
{
  g_autoptr (GByteArray) b = slurp (c->index);
  for (gsize i = 0; i < 16 && i < b->len; i++)
    b->data[i] ^= 0xff; /* the magic and version */
  put (path, b->data, b->len);
}

/* ---- commands over whole runs ---- */

static void
w_train_corrupt_only (const MgContext *c, const gchar *path)
{
  g_autofree gchar *bad = g_build_filename (c->dir, "train-corrupt.png", NULL);
  w_png_truncated (c, bad);
  g_autofree gchar *text = g_strdup_printf ("path,modality\n%s,xray\n", bad);
  put_text (path, text);
}

static void
w_train_missing_file (const MgContext *c, const gchar *path)
{
  w_manifest_missing_file (c, path);
}

static void
w_eval_missing_query (const MgContext *c, const gchar *path)
{
  g_autofree gchar *text = g_strdup_printf ("path,modality,label\n%s,xray,chest\nnot-here.png,xray,chest\n",
                                            c->png);
  put_text (path, text);
}

static const MgCase cases[] = {
  /* PNG */
  { "png-truncated.png", MG_IMAGE, "xray", "corrupt or truncated PNG", w_png_truncated },
  { "png-bad-signature.png", MG_IMAGE, "xray", "not a PNG file", w_png_bad_signature },
  { "png-huge-dims.png", MG_IMAGE, "xray", "max_pixels", w_png_huge_dims },
  { "png-wide-strip.png", MG_IMAGE, "xray", "max_pixels", w_png_wide_strip },
  { "png-zero-width.png", MG_IMAGE, "xray", "corrupt or truncated PNG", w_png_zero_width },
  { "png-bad-crc.png", MG_IMAGE, "xray", "CRC", w_png_bad_crc },
  { "jpeg-truncated.jpg", MG_IMAGE, "xray", "corrupt or truncated JPEG", w_jpeg_truncated },
  { "jpeg-huge-dims.jpg", MG_IMAGE, "endoscopy", "max_pixels", w_jpeg_huge_dims },
  /* DICOM (CT objects, read through several plugins: a manifest's modality
   * column overrides the Modality attribute, and the training test needs a
   * good file of each modality to stay reachable among the bad ones) */
  { "dicom-truncated.dcm", MG_IMAGE, "xray", "its pixel data is cut short", w_dicom_truncated },
  { "dicom-truncated-meta.dcm", MG_IMAGE, "endoscopy", "malformed DICOM", w_dicom_truncated_meta },
  { "dicom-lying-length.dcm", MG_IMAGE, "endoscopy", "runs past the end of the file", w_dicom_lying_length },
  { "dicom-huge-dims.dcm", MG_IMAGE, "xray", "max_pixels", w_dicom_huge_dims },
  { "dicom-bad-fragment.dcm", MG_IMAGE, "endoscopy", "cannot decode its JPEG-LS lossless pixel data", w_dicom_bad_fragment },
  { "dicom-series-of-one", MG_IMAGE, "ct", "a series of one file", w_dicom_series_of_one },
  { "png-no-image-data.png", MG_IMAGE, "xray", "corrupt or truncated PNG", w_png_no_image_data },
  { "png-empty.png", MG_IMAGE, "xray", "not a PNG file", w_empty },
  { "png-over-file-size.png", MG_IMAGE, "xray", "max_file_size", w_png_over_file_size },
  /* NIfTI */
  { "nii-negative-dim.nii", MG_IMAGE, "ct", "NIfTI", w_nii_negative_dim },
  { "nii-zero-dim.nii", MG_IMAGE, "ct", "NIfTI", w_nii_zero_dim },
  { "nii-bad-ndim.nii", MG_IMAGE, "ct", "NIfTI", w_nii_bad_ndim },
  { "nii-huge-claim.nii", MG_IMAGE, "ct", "max_voxels", w_nii_huge_claim },
  { "nii-dims-overflow.nii", MG_IMAGE, "ct", "max_voxels", w_nii_dims_overflow },
  { "nii-lying-size.nii", MG_IMAGE, "ct", "header promises", w_nii_lying_size },
  { "nii-bad-magic.nii", MG_IMAGE, "ct", "NIfTI", w_nii_bad_magic },
  { "nii-truncated.nii", MG_IMAGE, "ct", "promises", w_nii_truncated },
  { "nii-gz-truncated.nii.gz", MG_IMAGE, "ct", "truncated", w_nii_gz_truncated },
  { "nii-nan.nii.gz", MG_IMAGE, "ct", "NaN or infinite", w_nii_nan },
  { "nii-inf.nii", MG_IMAGE, "ct", "NaN or infinite", w_nii_inf },
  { "nii-complex.nii.gz", MG_IMAGE, "ct", "unsupported NIfTI datatype", w_nii_complex },
  { "nii-empty.nii.gz", MG_IMAGE, "ct", "NIfTI", w_empty },
  { "nii-over-file-size.nii", MG_IMAGE, "ct", "max_file_size", w_nii_over_file_size },
  { "nii2-huge-claim.nii", MG_IMAGE, "ct", "max_voxels", w_nii2_huge_claim },
  { "nii2-lying-size.nii", MG_IMAGE, "ct", "header promises", w_nii2_lying_size },
  { "nii2-bad-offset.nii", MG_IMAGE, "ct", "vox_offset 100", w_nii2_bad_offset },
  { "nii2-short-header.nii", MG_IMAGE, "ct", "NIfTI-2 header cut short", w_nii2_short_header },
  /* video */
  { "video-no-frames.mkv", MG_IMAGE, "endoscopy", "no frames", w_video_no_frames },
  { "video-truncated.mkv", MG_IMAGE, "endoscopy", "video", w_video_truncated },
  { "video-garbage.avi", MG_IMAGE, "endoscopy", "not a readable video", w_video_garbage },
  { "video-too-many-frames.mkv", MG_IMAGE, "endoscopy", "max_frames", w_video_too_many_frames },
  { "video-frame-too-large.mkv", MG_IMAGE, "endoscopy", "max_pixels", w_video_frame_too_large },
  { "video-wrong-boxes.mp4", MG_IMAGE, "endoscopy", "video", w_video_wrong_boxes },
  { "video-empty.mp4", MG_IMAGE, "endoscopy", "video", w_empty },
  /* manifests */
  { "manifest-missing-file.csv", MG_MANIFEST, NULL, "no such file", w_manifest_missing_file },
  { "manifest-short-row.csv", MG_MANIFEST, NULL, "fields where the header has", w_manifest_short_row },
  { "manifest-no-path-column.csv", MG_MANIFEST, NULL, "path", w_manifest_no_path_column },
  { "manifest-unknown-modality.csv", MG_MANIFEST, NULL, "unknown modality 'dermatology'",
    w_manifest_unknown_modality },
  { "manifest-open-quote.csv", MG_MANIFEST, NULL, "quote", w_manifest_open_quote },
  { "manifest-header-only.csv", MG_MANIFEST, NULL, "lists no files", w_manifest_header_only },
  { "manifest-binary.csv", MG_MANIFEST, NULL, "manifest-binary.csv", w_manifest_binary },
  { "manifest-empty.csv", MG_MANIFEST, NULL, "manifest-empty.csv", w_empty },
  /* pipelines */
  { "ini-wrong-type.ini", MG_PIPELINE, NULL, "size", w_ini_wrong_type },
  { "ini-out-of-range.ini", MG_PIPELINE, NULL, "size", w_ini_out_of_range },
  { "ini-unknown-key.ini", MG_PIPELINE, NULL, "batchsize", w_ini_unknown_key },
  { "ini-duplicate-group.ini", MG_PIPELINE, NULL, "train", w_ini_duplicate_group },
  { "ini-not-keyfile.ini", MG_PIPELINE, NULL, "ini-not-keyfile.ini", w_ini_not_keyfile },
  { "ini-bad-enum.ini", MG_PIPELINE, NULL, "on_error", w_ini_bad_enum },
  { "ini-limit-wrong-type.ini", MG_PIPELINE, NULL, "max_pixels", w_ini_limit_wrong_type },
  { "ini-negative-limit.ini", MG_PIPELINE, NULL, "max_frames", w_ini_negative_limit },
  /* checkpoints */
  { "st-truncated.safetensors", MG_CHECKPOINT, NULL, "safetensors", w_st_truncated },
  { "st-huge-header.safetensors", MG_CHECKPOINT, NULL, "header", w_st_huge_header },
  { "st-bad-json.safetensors", MG_CHECKPOINT, NULL, "header", w_st_bad_json },
  { "st-offsets-outside.safetensors", MG_CHECKPOINT, NULL, "cls_token", w_st_offsets_outside },
  { "st-missing-tensors.safetensors", MG_CHECKPOINT, NULL, "no tensor", w_st_missing_tensors },
  { "st-wrong-shape.safetensors", MG_CHECKPOINT, NULL, "cls_token", w_st_wrong_shape },
  { "st-empty.safetensors", MG_CHECKPOINT, NULL, "st-empty.safetensors", w_empty },
  /* embeddings */
  { "npy-truncated.npy", MG_EMBEDDINGS, NULL, "truncated", w_npy_truncated },
  { "npy-bad-magic.npy", MG_EMBEDDINGS, NULL, "npy-bad-magic.npy", w_npy_bad_magic },
  { "npy-float64.npy", MG_EMBEDDINGS, NULL, "<f8", w_npy_float64 },
  { "npy-shape-overflow.npy", MG_EMBEDDINGS, NULL, "shape", w_npy_shape_overflow },
  { "npy-nan.npy", MG_EMBEDDINGS, NULL, "npy-nan.npy", w_npy_nan },
  { "npy-no-rows.npy", MG_EMBEDDINGS, NULL, "no rows", w_npy_no_rows },
  /* indexes */
  { "index-truncated.idx", MG_INDEX, NULL, "index-truncated.idx", w_index_truncated },
  { "index-garbage.idx", MG_INDEX, NULL, "index-garbage.idx", w_index_garbage },
  { "index-flipped.idx", MG_INDEX, NULL, "index-flipped.idx", w_index_flipped },
  /* whole runs */
  { "train-corrupt-only.csv", MG_TRAIN, NULL, "train-corrupt.png: corrupt or truncated PNG",
    w_train_corrupt_only },
  { "train-missing-file.csv", MG_TRAIN, NULL, "no such file", w_train_missing_file },
  { "train-no-manifest.csv", MG_TRAIN, NULL, "no such file", NULL },
  { "eval-missing-query.csv", MG_EVAL, NULL, "no such file", w_eval_missing_query },
};

const MgCase *
mg_cases (guint *n_cases)
{
  *n_cases = G_N_ELEMENTS (cases);
  return cases;
}

void
mg_context_init (MgContext *c, const gchar *dir)
{
  memset (c, 0, sizeof *c);
  c->dir = g_strdup (dir);
  c->png = g_build_filename (dir, "good.png", NULL);
  c->nifti = g_build_filename (dir, "good.nii.gz", NULL);
  c->nifti_raw = g_build_filename (dir, "good-raw.nii", NULL);
  c->video = g_build_filename (dir, "good.mkv", NULL);
  c->index = g_build_filename (dir, "good.idx", NULL);
  guint16 px[16 * 16];
  for (guint i = 0; i < G_N_ELEMENTS (px); i++)
    px[i] = (guint16) (i * 251);
  fx_write_png (c->png, 16, 16, 16, PNG_COLOR_TYPE_GRAY, px);
  gdouble v[8 * 8 * 6];
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = (gdouble) (i * 37 % 2000) - 1000;
  fx_write_nifti (c->nifti, 8, 8, 6, 1, NIFTI_TYPE_INT16, v, 1, 1, 2, 0, 0, NULL);
  fx_write_nifti (c->nifti_raw, 8, 8, 6, 1, NIFTI_TYPE_INT16, v, 1, 1, 2, 0, 0, NULL);
  ck_assert (fx_write_video (c->video, "ffv1", 16, 16, 6, 0));
}

void
mg_context_clear (MgContext *c)
{
  g_free ((gchar *) c->dir);
  g_free ((gchar *) c->png);
  g_free ((gchar *) c->nifti);
  g_free ((gchar *) c->nifti_raw);
  g_free ((gchar *) c->video);
  g_free ((gchar *) c->index);
  memset (c, 0, sizeof *c);
}
