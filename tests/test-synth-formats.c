/* test-synth-formats.c — the synthetic files read back through libpng,
 * nifticlib and libavformat: dimensions, spacing, bit depth, frame counts,
 * plausible values, and labels that carry signal. */
#include "config.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <math.h>
#include <png.h>
#include <string.h>

#include "m3ret-check.h"
#include "test-synth-common.h"
/* After GLib: nifti1.h redefines DT_UNKNOWN, which dirent.h declares as an enumerator. */
#include <nifti1_io.h>

#define PER_CLASS 3
#define SIZE 32
#define FRAMES 6

static gchar *tmp, *dir, *dir_avi; /* the second with mpeg4 videos */
static GPtrArray *rows;

static void
setup_dataset (void)
{
  tmp = m3ret_check_tmpdir ();
  dir = g_build_filename (tmp, "data", NULL);
  g_autofree gchar *out = NULL, *err = NULL;
  gint status = synth_spawn (&out, &err, "--out", dir, "--per-class", G_STRINGIFY (PER_CLASS),
                             "--size", G_STRINGIFY (SIZE), "--frames", G_STRINGIFY (FRAMES),
                             "--seed", "3", "--cine", "1", NULL);
  ck_assert_msg (status == 0, "m3ret synth failed (%d): %s", status, err);
  g_autofree gchar *manifest = g_build_filename (dir, "manifest.csv", NULL);
  rows = synth_read_csv (manifest);
  dir_avi = g_build_filename (tmp, "avi", NULL);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  status = synth_spawn (&out, &err, "--out", dir_avi, "--per-class", "1", "--size", G_STRINGIFY (SIZE),
                        "--frames", G_STRINGIFY (FRAMES), "--modalities", "endoscopy,ultrasound",
                        "--cine", "1", "--video-codec", "mpeg4", NULL);
  ck_assert_msg (status == 0, "m3ret synth --video-codec mpeg4 failed (%d): %s", status, err);
}

static void
teardown_dataset (void)
{
  g_clear_pointer (&rows, g_ptr_array_unref);
  m3ret_check_rmtree (tmp);
  g_free (tmp);
  g_free (dir);
  g_free (dir_avi);
}

/* Calls @check on the full path of every file of @modality, with its label and index in class. */
static void
each (const gchar *modality, void (*check) (const gchar *path, const gchar *label, gpointer data),
      gpointer data)
{
  guint n = 0;
  for (guint i = 1; i < rows->len; i++) {
    gchar **f = rows->pdata[i];
    if (strcmp (f[1], modality) != 0)
      continue;
    g_autofree gchar *path = g_build_filename (dir, f[0], NULL);
    check (path, f[2], data);
    n++;
  }
  ck_assert_uint_gt (n, 0);
}

/* ---- PNG ---- */

typedef struct {
  guint width, height, bit_depth, color_type;
  gdouble spacing_mm;
  guint16 *pixels; /* widened to 16 bits */
} Png;

static void
png_load (const gchar *path, Png *out)
{
  FILE *fp = fopen (path, "rb");
  ck_assert_msg (fp != NULL, "cannot open %s", path);
  png_structp png = png_create_read_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  ck_assert_msg (setjmp (png_jmpbuf (png)) == 0, "libpng cannot read %s", path);
  png_init_io (png, fp);
  png_read_info (png, info);
  out->width = png_get_image_width (png, info);
  out->height = png_get_image_height (png, info);
  out->bit_depth = png_get_bit_depth (png, info);
  out->color_type = png_get_color_type (png, info);
  png_uint_32 rx = 0, ry = 0;
  int unit = 0;
  ck_assert_msg (png_get_pHYs (png, info, &rx, &ry, &unit) && unit == PNG_RESOLUTION_METER && rx == ry,
                 "%s: no pixel spacing", path);
  out->spacing_mm = 1000.0 / rx;
  out->pixels = g_new (guint16, (gsize) out->width * out->height);
  guint bytes = out->bit_depth / 8;
  g_autofree guint8 *row = g_malloc ((gsize) out->width * bytes);
  for (guint r = 0; r < out->height; r++) {
    png_read_row (png, row, NULL);
    for (guint c = 0; c < out->width; c++)
      out->pixels[r * out->width + c] =
        bytes == 2 ? (guint16) (row[2 * c] << 8 | row[2 * c + 1]) : row[c];
  }
  png_read_end (png, NULL);
  png_destroy_read_struct (&png, &info, NULL);
  fclose (fp);
}

static void
check_xray (const gchar *path, const gchar *label, gpointer data)
{
  Png p;
  png_load (path, &p);
  ck_assert_uint_eq (p.width, SIZE);
  ck_assert_uint_eq (p.height, SIZE);
  ck_assert_uint_eq (p.bit_depth, 16);
  ck_assert_uint_eq (p.color_type, PNG_COLOR_TYPE_GRAY);
  ck_assert_msg (p.spacing_mm > 3 && p.spacing_mm < 20, "%s: spacing %g mm", path, p.spacing_mm);
  guint lo = G_MAXUINT, hi = 0;
  for (guint i = 0; i < SIZE * SIZE; i++) {
    lo = MIN (lo, p.pixels[i]);
    hi = MAX (hi, p.pixels[i]);
  }
  /* The display range is the exposure's own: close to black and close to white both occur. */
  ck_assert_msg (lo < 2000 && hi > 60000, "%s: range %u..%u", path, lo, hi);
  g_free (p.pixels);
}

START_TEST (test_xray_png)
{
  each ("xray", check_xray, NULL);
}
END_TEST

static void
check_ultrasound (const gchar *path, const gchar *label, gpointer data)
{
  if (!g_str_has_suffix (path, ".png"))
    return; /* a cine clip: test_ultrasound_cine */
  Png p;
  png_load (path, &p);
  ck_assert_uint_eq (p.width, SIZE);
  ck_assert_uint_eq (p.height, SIZE);
  ck_assert_uint_eq (p.bit_depth, 8);
  ck_assert_uint_eq (p.color_type, PNG_COLOR_TYPE_GRAY);
  /* Outside the fan (the top corners) is black; inside, echoes. */
  ck_assert_uint_eq (p.pixels[0], 0);
  ck_assert_uint_eq (p.pixels[SIZE - 1], 0);
  guint bright = 0;
  for (guint i = 0; i < SIZE * SIZE; i++)
    bright += p.pixels[i] > 60;
  /* Even a skull, which shadows all behind it, echoes along its surface. */
  ck_assert_msg (bright > SIZE / 2, "%s: only %u echoes", path, bright);
  g_free (p.pixels);
}

START_TEST (test_ultrasound_png)
{
  each ("ultrasound", check_ultrasound, NULL);
}
END_TEST

/* Leave-one-out nearest neighbour on 8×8 thumbnails: the body regions must be
 * told apart by plain pixels, or retrieval has nothing to find. */
START_TEST (test_xray_labels_carry_signal)
{
  g_autoptr (GPtrArray) feats = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) labels = g_ptr_array_new ();
  for (guint i = 1; i < rows->len; i++) {
    gchar **f = rows->pdata[i];
    if (strcmp (f[1], "xray") != 0)
      continue;
    g_autofree gchar *path = g_build_filename (dir, f[0], NULL);
    Png p;
    png_load (path, &p);
    gdouble *v = g_new0 (gdouble, 64);
    for (guint r = 0; r < SIZE; r++)
      for (guint c = 0; c < SIZE; c++)
        v[(r * 8 / SIZE) * 8 + c * 8 / SIZE] += p.pixels[r * SIZE + c] / 65535.0;
    g_free (p.pixels);
    g_ptr_array_add (feats, v);
    g_ptr_array_add (labels, f[2]);
  }
  guint right = 0;
  for (guint a = 0; a < feats->len; a++) {
    gdouble best = G_MAXDOUBLE;
    guint who = a;
    for (guint b = 0; b < feats->len; b++) {
      if (a == b)
        continue;
      gdouble d = 0;
      for (guint k = 0; k < 64; k++) {
        gdouble e = ((gdouble *) feats->pdata[a])[k] - ((gdouble *) feats->pdata[b])[k];
        d += e * e;
      }
      if (d < best) {
        best = d;
        who = b;
      }
    }
    right += strcmp (labels->pdata[a], labels->pdata[who]) == 0;
  }
  ck_assert_msg (right * 10 >= feats->len * 8, "1-NN right for %u of %u", right, feats->len);
}
END_TEST

/* ---- NIfTI ---- */

typedef struct {
  gboolean ct;
  gdouble lung[5]; /* summed fraction of voxels in the lung range, per region */
  guint n[5];
} VolumeStats;

static const gchar *const regions[] = { "head", "chest", "abdomen", "pelvis", "knee", NULL };

static void
check_volume (const gchar *path, const gchar *label, gpointer data)
{
  VolumeStats *stats = data;
  nifti_image *nim = nifti_image_read (path, 1);
  ck_assert_msg (nim != NULL, "nifticlib cannot read %s", path);
  ck_assert_int_eq (nim->ndim, 3);
  ck_assert_int_eq (nim->nx, SIZE);
  ck_assert_int_eq (nim->ny, SIZE);
  ck_assert_int_eq (nim->nz, SIZE / 2);
  ck_assert_int_eq (nim->datatype, NIFTI_TYPE_INT16);
  ck_assert_int_eq (nim->xyz_units, NIFTI_UNITS_MM);
  ck_assert_msg (nim->dx > 3 && nim->dx < 20 && fabs (nim->dx - nim->dy) < 1e-4, "%s: %g×%g", path,
                 nim->dx, nim->dy);
  ck_assert_msg (fabs (nim->dz - 2 * nim->dx) < 1e-3, "%s: slices %g mm for pixels %g mm", path,
                 nim->dz, nim->dx);
  ck_assert_int_gt (nim->qform_code, 0);
  ck_assert_int_gt (nim->sform_code, 0);
  const gint16 *v = nim->data;
  gint lo = G_MAXINT, hi = G_MININT;
  guint bone = 0, lung = 0;
  for (gsize i = 0; i < nim->nvox; i++) {
    lo = MIN (lo, v[i]);
    hi = MAX (hi, v[i]);
    bone += v[i] > 500;
    lung += v[i] > -900 && v[i] < -600;
  }
  if (stats->ct) {
    /* Air outside, and every region has bone in it. */
    ck_assert_msg (lo >= -1024 && lo <= -950, "%s: min %d HU", path, lo);
    ck_assert_msg (hi <= 3071 && bone > 0, "%s: max %d HU, %u bone voxels", path, hi, bone);
  } else {
    ck_assert_msg (lo >= 0 && hi > 200, "%s: range %d..%d", path, lo, hi);
  }
  guint r = 0;
  while (strcmp (regions[r], label) != 0)
    r++;
  stats->lung[r] += (gdouble) lung / nim->nvox;
  stats->n[r]++;
  nifti_image_free (nim);
}

START_TEST (test_ct_nifti)
{
  nifti_set_debug_level (0);
  VolumeStats stats = { .ct = TRUE };
  each ("ct", check_volume, &stats);
  /* Only the chest has lungs: far more voxels between -900 and -600 HU than anywhere else. */
  for (guint r = 0; r < 5; r++) {
    ck_assert_uint_eq (stats.n[r], PER_CLASS);
    if (r != 1)
      ck_assert_msg (stats.lung[1] > 3 * stats.lung[r], "lung-range voxels: chest %g, %s %g",
                     stats.lung[1], regions[r], stats.lung[r]);
  }
}
END_TEST

START_TEST (test_mri_nifti)
{
  nifti_set_debug_level (0);
  VolumeStats stats = { .ct = FALSE };
  each ("mri", check_volume, &stats);
}
END_TEST

/* ---- video ---- */

/* Decodes every frame of @path; @mean_yuv gets the mean of each plane over all frames. */
static void
decode (const gchar *path, guint *frames, gdouble mean_yuv[3])
{
  AVFormatContext *fc = NULL;
  ck_assert_msg (avformat_open_input (&fc, path, NULL, NULL) == 0, "libavformat cannot open %s", path);
  ck_assert (avformat_find_stream_info (fc, NULL) >= 0);
  int si = av_find_best_stream (fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
  ck_assert_int_ge (si, 0);
  AVCodecParameters *par = fc->streams[si]->codecpar;
  enum AVCodecID want = g_str_has_suffix (path, ".mp4") ? AV_CODEC_ID_H264 : AV_CODEC_ID_MPEG4;
  ck_assert_int_eq (par->codec_id, want);
  ck_assert_int_eq (par->width, SIZE);
  ck_assert_int_eq (par->height, SIZE);
  const AVCodec *codec = avcodec_find_decoder (par->codec_id);
  AVCodecContext *cc = avcodec_alloc_context3 (codec);
  avcodec_parameters_to_context (cc, par);
  cc->thread_count = 1;
  ck_assert (avcodec_open2 (cc, codec, NULL) == 0);
  AVPacket *pkt = av_packet_alloc ();
  AVFrame *frame = av_frame_alloc ();
  gdouble y_sum = 0, u_sum = 0, v_sum = 0;
  *frames = 0;
  for (gboolean more = TRUE; more;) {
    if (av_read_frame (fc, pkt) < 0) {
      avcodec_send_packet (cc, NULL);
      more = FALSE;
    } else {
      if (pkt->stream_index == si)
        avcodec_send_packet (cc, pkt);
      av_packet_unref (pkt);
    }
    while (avcodec_receive_frame (cc, frame) == 0) {
      ck_assert_int_eq (frame->format, AV_PIX_FMT_YUV420P);
      for (int y = 0; y < SIZE; y++)
        for (int x = 0; x < SIZE; x++)
          y_sum += frame->data[0][y * frame->linesize[0] + x];
      for (int y = 0; y < SIZE / 2; y++)
        for (int x = 0; x < SIZE / 2; x++) {
          u_sum += frame->data[1][y * frame->linesize[1] + x];
          v_sum += frame->data[2][y * frame->linesize[2] + x];
        }
      (*frames)++;
    }
  }
  gdouble n = MAX (*frames, 1u);
  mean_yuv[0] = y_sum / (n * SIZE * SIZE);
  mean_yuv[1] = u_sum / (n * SIZE * SIZE / 4);
  mean_yuv[2] = v_sum / (n * SIZE * SIZE / 4);
  av_frame_free (&frame);
  av_packet_free (&pkt);
  avcodec_free_context (&cc);
  avformat_close_input (&fc);
}

static void
check_video (const gchar *path, const gchar *label, gpointer data)
{
  guint frames = 0;
  gdouble yuv[3];
  decode (path, &frames, yuv);
  ck_assert_uint_eq (frames, FRAMES);
  /* Lit mucosa, reddish: luma well above black, Cr above neutral. */
  ck_assert_msg (yuv[0] > 40 && yuv[2] > 128, "%s: mean Y %g Cr %g", path, yuv[0], yuv[2]);
}

static void
check_cine (const gchar *path, const gchar *label, gpointer data)
{
  if (g_str_has_suffix (path, ".png"))
    return;
  guint frames = 0;
  gdouble yuv[3];
  decode (path, &frames, yuv);
  ck_assert_uint_eq (frames, FRAMES);
  /* Grey: chroma neutral; a dark fan background with echoes. */
  ck_assert_msg (fabs (yuv[1] - 128) < 3 && fabs (yuv[2] - 128) < 3, "%s: Cb %g Cr %g", path, yuv[1],
                 yuv[2]);
  ck_assert_msg (yuv[0] > 20 && yuv[0] < 160, "%s: mean Y %g", path, yuv[0]);
  (*(guint *) data)++;
}

START_TEST (test_ultrasound_cine)
{
  av_log_set_level (AV_LOG_QUIET);
  guint clips = 0;
  each ("ultrasound", check_cine, &clips);
  ck_assert_uint_eq (clips, 5); /* --cine 1: one per region */
}
END_TEST

START_TEST (test_endoscopy_video)
{
  av_log_set_level (AV_LOG_QUIET);
  each ("endoscopy", check_video, NULL);
}
END_TEST

/* Leave-one-out nearest neighbour on each clip's mean colour (luma weighted
 * down: exposure varies): the four sites differ in mucosa colour. */
START_TEST (test_endoscopy_sites_carry_signal)
{
  av_log_set_level (AV_LOG_QUIET);
  gdouble feat[4 * PER_CLASS][3];
  const gchar *label[4 * PER_CLASS];
  guint n = 0;
  for (guint i = 1; i < rows->len; i++) {
    gchar **f = rows->pdata[i];
    if (strcmp (f[1], "endoscopy") != 0)
      continue;
    ck_assert_uint_lt (n, 4 * PER_CLASS);
    g_autofree gchar *path = g_build_filename (dir, f[0], NULL);
    guint frames;
    decode (path, &frames, feat[n]);
    feat[n][0] *= 0.5;
    label[n++] = f[2];
  }
  ck_assert_uint_eq (n, 4 * PER_CLASS);
  guint right = 0;
  for (guint a = 0; a < n; a++) {
    gdouble best = G_MAXDOUBLE;
    guint who = a;
    for (guint b = 0; b < n; b++) {
      gdouble d = 0;
      for (guint k = 0; k < 3; k++)
        d += (feat[a][k] - feat[b][k]) * (feat[a][k] - feat[b][k]);
      if (b != a && d < best) {
        best = d;
        who = b;
      }
    }
    right += strcmp (label[a], label[who]) == 0;
  }
  ck_assert_msg (right * 4 >= n * 3, "1-NN right for %u of %u clips", right, n);
}
END_TEST

START_TEST (test_mpeg4_avi)
{
  av_log_set_level (AV_LOG_QUIET);
  g_autofree gchar *manifest = g_build_filename (dir_avi, "manifest.csv", NULL);
  g_autoptr (GPtrArray) avi = synth_read_csv (manifest);
  ck_assert_uint_eq (avi->len - 1, 4 + 5);
  for (guint i = 1; i < avi->len; i++) {
    gchar **f = avi->pdata[i];
    ck_assert_msg (g_str_has_suffix (f[0], ".avi"), "%s", f[0]);
    g_autofree gchar *path = g_build_filename (dir_avi, f[0], NULL);
    if (strcmp (f[1], "endoscopy") == 0)
      check_video (path, f[2], NULL);
    else
      check_cine (path, f[2], &(guint) { 0 });
  }
}
END_TEST

static Suite *
formats_suite (void)
{
  Suite *s = suite_create ("synth-formats");
  TCase *tc = tcase_create ("read back");
  tcase_add_unchecked_fixture (tc, setup_dataset, teardown_dataset);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_xray_png);
  tcase_add_test (tc, test_ultrasound_png);
  tcase_add_test (tc, test_xray_labels_carry_signal);
  tcase_add_test (tc, test_ct_nifti);
  tcase_add_test (tc, test_mri_nifti);
  tcase_add_test (tc, test_endoscopy_video);
  tcase_add_test (tc, test_ultrasound_cine);
  tcase_add_test (tc, test_mpeg4_avi);
  tcase_add_test (tc, test_endoscopy_sites_carry_signal);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = formats_suite)
