/* test-modality-fixtures.c — writers of test files (PNG, JPEG, NIfTI-1 and -2, video). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <png.h>
#include <jpeglib.h>

#include "test-modality-fixtures.h"

/* Not Check's asserts: the benchmark writes fixtures outside a test run. */
#define FX_CHECK(expr)                                                          \
  G_STMT_START {                                                                \
    if (!(expr))                                                                \
      g_error ("fixture writer: %s failed (%s:%d)", #expr, __FILE__, __LINE__); \
  } G_STMT_END

/* After GLib: nifti1.h redefines DT_UNKNOWN, which <dirent.h> declares. */
#include <nifti1_io.h>
#include <nifti2.h>

void
fx_write_png (const gchar *path, guint width, guint height, gint bit_depth, gint color_type,
              const guint16 *values)
{
  fx_write_png_phys (path, width, height, bit_depth, color_type, values, 0, 0);
}

void
fx_write_png_phys (const gchar *path, guint width, guint height, gint bit_depth, gint color_type,
                   const guint16 *values, guint ppm_x, guint ppm_y)
{
  FILE *f = fopen (path, "wb");
  FX_CHECK (f != NULL);
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  FX_CHECK (setjmp (png_jmpbuf (png)) == 0);
  png_init_io (png, f);
  png_set_IHDR (png, info, width, height, bit_depth, color_type, PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_color palette[256];
    for (guint i = 0; i < 256; i++) {
      palette[i].red = i;
      palette[i].green = 255 - i;
      palette[i].blue = i / 2;
    }
    png_set_PLTE (png, info, palette, 256);
  }
  if (ppm_x > 0 && ppm_y > 0)
    png_set_pHYs (png, info, ppm_x, ppm_y, PNG_RESOLUTION_METER);
  png_write_info (png, info);
  guint channels = color_type == PNG_COLOR_TYPE_RGB ? 3
                   : color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                   : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
  guint bytes = bit_depth == 16 ? 2 : 1;
  g_autofree guint8 *row = g_new0 (guint8, (gsize) width * channels * bytes);
  for (guint y = 0; y < height; y++) {
    for (guint i = 0; i < width * channels; i++) {
      guint16 v = values[(gsize) y * width * channels + i];
      if (bytes == 2) {
        row[2 * i] = v >> 8; /* PNG stores big-endian */
        row[2 * i + 1] = v & 0xff;
      } else {
        row[i] = (guint8) v;
      }
    }
    png_write_row (png, row);
  }
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  fclose (f);
}

void
fx_write_nifti (const gchar *path, guint nx, guint ny, guint nz, guint nt, gint datatype,
                const gdouble *values, gdouble dx, gdouble dy, gdouble dz, gdouble slope,
                gdouble inter, const gdouble *sform)
{
  int dims[8] = { nt > 1 ? 4 : 3, (int) nx, (int) ny, (int) nz, (int) nt, 1, 1, 1 };
  nifti_image *nim = nifti_make_new_nim (dims, datatype, 1);
  FX_CHECK (nim != NULL);
  nim->pixdim[1] = nim->dx = dx;
  nim->pixdim[2] = nim->dy = dy;
  nim->pixdim[3] = nim->dz = dz;
  nim->scl_slope = slope;
  nim->scl_inter = inter;
  nim->qform_code = 0;
  nim->sform_code = 0;
  if (sform != NULL) {
    nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
    for (gint r = 0; r < 3; r++)
      for (gint c = 0; c < 4; c++)
        nim->sto_xyz.m[r][c] = sform[r * 4 + c];
    nim->sto_xyz.m[3][0] = nim->sto_xyz.m[3][1] = nim->sto_xyz.m[3][2] = 0;
    nim->sto_xyz.m[3][3] = 1;
  }
  gsize n = (gsize) nx * ny * nz * nt;
  for (gsize i = 0; i < n; i++) {
    gdouble v = values[i];
    switch (datatype) {
    case NIFTI_TYPE_UINT8: ((guint8 *) nim->data)[i] = (guint8) v; break;
    case NIFTI_TYPE_INT16: ((gint16 *) nim->data)[i] = (gint16) v; break;
    case NIFTI_TYPE_UINT16: ((guint16 *) nim->data)[i] = (guint16) v; break;
    case NIFTI_TYPE_INT32: ((gint32 *) nim->data)[i] = (gint32) v; break;
    case NIFTI_TYPE_FLOAT32: ((gfloat *) nim->data)[i] = (gfloat) v; break;
    case NIFTI_TYPE_FLOAT64: ((gdouble *) nim->data)[i] = v; break;
    case NIFTI_TYPE_COMPLEX64: ((gfloat *) nim->data)[2 * i] = (gfloat) v; break;
    default: g_error ("fixture datatype %d not written", datatype);
    }
  }
  /* nifti_set_filenames picks .nii / .nii.gz from the name. */
  FX_CHECK (nifti_set_filenames (nim, path, 0, 1) == 0);
  nifti_image_write (nim);
  nifti_image_free (nim);
  FX_CHECK (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* Stores @n values of @size bytes at @p in big-endian order (in place). */
static void
to_big_endian (void *p, gsize n, gsize size)
{
  if (G_BYTE_ORDER == G_BIG_ENDIAN || size == 1)
    return;
  guint8 *b = p;
  for (gsize i = 0; i < n; i++, b += size)
    for (gsize k = 0; k < size / 2; k++) {
      guint8 t = b[k];
      b[k] = b[size - 1 - k];
      b[size - 1 - k] = t;
    }
}

void
fx_write_nifti2 (const gchar *path, guint nx, guint ny, guint nz, guint nt, gint datatype,
                 const gdouble *values, gdouble dx, gdouble dy, gdouble dz, gdouble slope,
                 gdouble inter, const gdouble *sform, gboolean big_endian)
{
  /* Written field by field from nifti2.h: nifticlib's nifti2_io exports
   * the symbols of nifti1_io, so one process cannot hold both. */
  nifti_2_header h;
  memset (&h, 0, sizeof h);
  h.sizeof_hdr = 540;
  memcpy (h.magic, "n+2\0\r\n\032\n", 8);
  gint nbyper = 0, swapsize = 0;
  nifti_datatype_sizes (datatype, &nbyper, &swapsize);
  FX_CHECK (nbyper > 0);
  h.datatype = (gint16) datatype;
  h.bitpix = (gint16) (8 * nbyper);
  gint64 dims[8] = { nt > 1 ? 4 : 3, nx, ny, nz, nt, 1, 1, 1 };
  memcpy (h.dim, dims, sizeof dims);
  h.pixdim[0] = 1;
  h.pixdim[1] = dx;
  h.pixdim[2] = dy;
  h.pixdim[3] = dz;
  h.pixdim[4] = 1;
  h.vox_offset = 544; /* the header and the 4 bytes saying "no extension" */
  h.scl_slope = slope;
  h.scl_inter = inter;
  h.xyzt_units = NIFTI_UNITS_MM;
  if (sform != NULL) {
    h.sform_code = NIFTI_XFORM_SCANNER_ANAT;
    for (gint c = 0; c < 4; c++) {
      h.srow_x[c] = sform[c];
      h.srow_y[c] = sform[4 + c];
      h.srow_z[c] = sform[8 + c];
    }
  }
  gsize n = (gsize) nx * ny * nz * nt;
  g_autofree guint8 *data = g_malloc0 (n * (gsize) nbyper);
  for (gsize i = 0; i < n; i++) {
    gdouble v = values[i];
    switch (datatype) {
    case NIFTI_TYPE_UINT8: data[i] = (guint8) v; break;
    case NIFTI_TYPE_INT16: ((gint16 *) data)[i] = (gint16) v; break;
    case NIFTI_TYPE_UINT16: ((guint16 *) data)[i] = (guint16) v; break;
    case NIFTI_TYPE_INT32: ((gint32 *) data)[i] = (gint32) v; break;
    case NIFTI_TYPE_FLOAT32: ((gfloat *) data)[i] = (gfloat) v; break;
    case NIFTI_TYPE_FLOAT64: ((gdouble *) data)[i] = v; break;
    default: g_error ("fixture datatype %d not written", datatype);
    }
  }
  if (big_endian) {
    to_big_endian (&h.sizeof_hdr, 1, 4);
    to_big_endian (&h.datatype, 1, 2);
    to_big_endian (&h.bitpix, 1, 2);
    to_big_endian (h.dim, 8, 8);
    to_big_endian (h.pixdim, 8, 8);
    to_big_endian (&h.vox_offset, 1, 8);
    to_big_endian (&h.scl_slope, 1, 8);
    to_big_endian (&h.scl_inter, 1, 8);
    to_big_endian (&h.sform_code, 1, 4);
    to_big_endian (&h.xyzt_units, 1, 4);
    to_big_endian (h.srow_x, 4, 8);
    to_big_endian (h.srow_y, 4, 8);
    to_big_endian (h.srow_z, 4, 8);
    to_big_endian (data, n, (gsize) nbyper);
  }
  static const guint8 no_extension[4] = { 0, 0, 0, 0 };
  znzFile zf = znzopen (path, "wb", g_str_has_suffix (path, ".gz"));
  FX_CHECK (!znz_isnull (zf));
  FX_CHECK (znzwrite (&h, 1, sizeof h, zf) == sizeof h);
  FX_CHECK (znzwrite (no_extension, 1, 4, zf) == 4);
  FX_CHECK (znzwrite (data, 1, n * (gsize) nbyper, zf) == n * (gsize) nbyper);
  znzclose (zf);
}

static void
drain (AVFormatContext *oc, AVCodecContext *c, AVStream *st, AVFrame *frame)
{
  AVPacket *pkt = av_packet_alloc ();
  avcodec_send_frame (c, frame);
  while (avcodec_receive_packet (c, pkt) == 0) {
    pkt->duration = 1; /* else MP4's edit list drops the last frame */
    av_packet_rescale_ts (pkt, c->time_base, st->time_base);
    pkt->stream_index = st->index;
    av_interleaved_write_frame (oc, pkt);
  }
  av_packet_free (&pkt);
}

gboolean
fx_write_video (const gchar *path, const gchar *codec_name, guint width, guint height,
                guint n_frames, guint r0)
{
  av_log_set_level (AV_LOG_QUIET); /* x264 reports its settings otherwise */
  const AVCodec *codec = avcodec_find_encoder_by_name (codec_name);
  if (codec == NULL)
    return FALSE;
  AVFormatContext *oc = NULL;
  FX_CHECK (avformat_alloc_output_context2 (&oc, NULL, NULL, path) >= 0);
  AVStream *st = avformat_new_stream (oc, NULL);
  AVCodecContext *c = avcodec_alloc_context3 (codec);
  c->width = width;
  c->height = height;
  c->time_base = (AVRational) { 1, 25 };
  c->framerate = (AVRational) { 25, 1 };
  c->gop_size = 4;
  c->pix_fmt = strcmp (codec_name, "ffv1") == 0 ? AV_PIX_FMT_BGR0 : AV_PIX_FMT_YUV420P;
  if (strcmp (codec_name, "libx264") == 0)
    av_opt_set (c->priv_data, "preset", "ultrafast", 0);
  if (oc->oformat->flags & AVFMT_GLOBALHEADER)
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  FX_CHECK (avcodec_open2 (c, codec, NULL) >= 0);
  st->time_base = c->time_base;
  avcodec_parameters_from_context (st->codecpar, c);
  FX_CHECK (avio_open (&oc->pb, path, AVIO_FLAG_WRITE) >= 0);
  FX_CHECK (avformat_write_header (oc, NULL) >= 0);

  AVFrame *rgb = av_frame_alloc ();
  rgb->format = AV_PIX_FMT_RGB24;
  rgb->width = width;
  rgb->height = height;
  av_frame_get_buffer (rgb, 0);
  AVFrame *frame = av_frame_alloc ();
  frame->format = c->pix_fmt;
  frame->width = width;
  frame->height = height;
  av_frame_get_buffer (frame, 0);
  struct SwsContext *sws = sws_getContext (width, height, AV_PIX_FMT_RGB24, width, height,
                                           c->pix_fmt, SWS_POINT, NULL, NULL, NULL);
  for (guint k = 0; k < n_frames; k++) {
    for (guint y = 0; y < height; y++)
      for (guint x = 0; x < width; x++) {
        guint8 *p = rgb->data[0] + y * rgb->linesize[0] + 3 * x;
        p[0] = (guint8) MIN (r0 + 10 * k, 255u);
        p[1] = (guint8) MIN (x * 4, 255u);
        p[2] = (guint8) MIN (y * 4, 255u);
      }
    av_frame_make_writable (frame);
    sws_scale (sws, (const guint8 *const *) rgb->data, rgb->linesize, 0, height, frame->data,
               frame->linesize);
    frame->pts = k;
    drain (oc, c, st, frame);
  }
  drain (oc, c, st, NULL);
  av_write_trailer (oc);
  sws_freeContext (sws);
  av_frame_free (&rgb);
  av_frame_free (&frame);
  avcodec_free_context (&c);
  avio_closep (&oc->pb);
  avformat_free_context (oc);
  return TRUE;
}

void
fx_truncate_copy (const gchar *src, const gchar *dst, gsize keep)
{
  g_autofree gchar *data = NULL;
  gsize len = 0;
  FX_CHECK (g_file_get_contents (src, &data, &len, NULL));
  FX_CHECK (g_file_set_contents (dst, data, MIN (keep, len), NULL));
}

void
fx_write_jpeg (const gchar *path, guint width, guint height, guint channels, const guint8 *values,
               gint quality, guint orientation)
{
  FILE *f = fopen (path, "wb");
  FX_CHECK (f != NULL);
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr err;
  c.err = jpeg_std_error (&err);
  jpeg_create_compress (&c);
  jpeg_stdio_dest (&c, f);
  c.image_width = width;
  c.image_height = height;
  c.input_components = (int) channels;
  c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults (&c);
  jpeg_set_quality (&c, quality, TRUE);
  if (channels == 3) { /* no chroma subsampling: values near exact at quality 100 */
    for (int k = 0; k < 3; k++)
      c.comp_info[k].h_samp_factor = c.comp_info[k].v_samp_factor = 1;
  }
  if (orientation != 0) /* no JFIF APP0: an Exif file */
    c.write_JFIF_header = FALSE;
  jpeg_start_compress (&c, TRUE);
  if (orientation != 0) {
    /* Exif, little-endian TIFF, one IFD entry: Orientation (0x0112) SHORT 1. */
    guint8 exif[6 + 8 + 2 + 12 + 4] = { 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                                        1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0,
                                        (guint8) orientation, 0, 0, 0, 0, 0, 0, 0 };
    jpeg_write_marker (&c, JPEG_APP0 + 1, exif, sizeof exif);
  }
  while (c.next_scanline < height) {
    JSAMPROW row = (JSAMPROW) (values + (gsize) c.next_scanline * width * channels);
    jpeg_write_scanlines (&c, &row, 1);
  }
  jpeg_finish_compress (&c);
  jpeg_destroy_compress (&c);
  FX_CHECK (fclose (f) == 0);
}

/* ---- DICOM, written byte by byte (explicit VR little endian, PS3.5 7.1.2) ---- */

static void
dicom_element (GByteArray *b, guint16 group, guint16 element, const gchar *vr, const void *value,
               guint32 len)
{
  guint8 head[12] = { group & 0xff, group >> 8, element & 0xff, element >> 8, vr[0], vr[1] };
  gboolean long_form = strcmp (vr, "OB") == 0 || strcmp (vr, "OW") == 0 || strcmp (vr, "SQ") == 0;
  if (long_form) {
    head[8] = len & 0xff, head[9] = (len >> 8) & 0xff, head[10] = (len >> 16) & 0xff;
    head[11] = len >> 24;
  } else {
    head[6] = len & 0xff, head[7] = (len >> 8) & 0xff;
  }
  g_byte_array_append (b, head, long_form ? 12 : 8);
  if (value != NULL && len != 0xffffffffu)
    g_byte_array_append (b, value, len);
}

void
fx_dicom_text (GByteArray *b, guint16 group, guint16 element, const gchar *vr, const gchar *text)
{
  /* Even lengths: UIDs pad with a NUL, text with a space. */
  gsize n = strlen (text);
  g_autofree gchar *padded = g_malloc0 (n + 2);
  memcpy (padded, text, n);
  if (n % 2)
    padded[n] = strcmp (vr, "UI") == 0 ? '\0' : ' ';
  dicom_element (b, group, element, vr, padded, (guint32) (n + n % 2));
}

static void
dicom_us (GByteArray *b, guint16 group, guint16 element, guint16 v)
{
  guint8 le[2] = { v & 0xff, v >> 8 };
  dicom_element (b, group, element, "US", le, 2);
}

GByteArray *
fx_dicom_image (const FxDicom *d, const guint16 *pixels, const guint8 *fragment,
                guint32 fragment_len)
{
  GByteArray *b = g_byte_array_new ();
  guint8 preamble[128] = { 0 };
  g_byte_array_append (b, preamble, sizeof preamble);
  g_byte_array_append (b, (const guint8 *) "DICM", 4);
  fx_dicom_text (b, 0x0002, 0x0010, "UI", d->syntax ? d->syntax : FX_DICOM_EXPLICIT_LE);
  fx_dicom_text (b, 0x0008, 0x0060, "CS", d->modality);
  fx_dicom_text (b, 0x0020, 0x000e, "UI", d->series_uid ? d->series_uid : "1.2.3.4.5");
  if (d->has_position) {
    g_autofree gchar *pos = g_strdup_printf ("0\\0\\%g", d->z);
    fx_dicom_text (b, 0x0020, 0x0032, "DS", pos);
    fx_dicom_text (b, 0x0020, 0x0037, "DS", "1\\0\\0\\0\\1\\0");
  }
  dicom_us (b, 0x0028, 0x0002, 1);
  fx_dicom_text (b, 0x0028, 0x0004, "CS", "MONOCHROME2");
  if (d->frames > 1) {
    g_autofree gchar *n = g_strdup_printf ("%u", d->frames);
    fx_dicom_text (b, 0x0028, 0x0008, "IS", n);
  }
  dicom_us (b, 0x0028, 0x0010, (guint16) d->height);
  dicom_us (b, 0x0028, 0x0011, (guint16) d->width);
  dicom_us (b, 0x0028, 0x0100, 16);
  dicom_us (b, 0x0028, 0x0101, (guint16) d->bits_stored);
  dicom_us (b, 0x0028, 0x0102, (guint16) (d->bits_stored - 1));
  dicom_us (b, 0x0028, 0x0103, 0);
  if (fragment == NULL) {
    gsize n = (gsize) d->width * d->height * MAX (d->frames, 1u);
    g_autofree guint16 *le = g_new (guint16, n);
    for (gsize i = 0; i < n; i++)
      le[i] = GUINT16_TO_LE (pixels[i]);
    dicom_element (b, 0x7fe0, 0x0010, "OW", le, (guint32) (n * 2));
    return b;
  }
  dicom_element (b, 0x7fe0, 0x0010, "OB", NULL, 0xffffffffu);
  const guint8 empty_table[8] = { 0xfe, 0xff, 0x00, 0xe0, 0, 0, 0, 0 };
  g_byte_array_append (b, empty_table, sizeof empty_table);
  guint8 item[8] = { 0xfe, 0xff, 0x00, 0xe0, fragment_len & 0xff, (fragment_len >> 8) & 0xff,
                     (fragment_len >> 16) & 0xff, fragment_len >> 24 };
  g_byte_array_append (b, item, sizeof item);
  g_byte_array_append (b, fragment, fragment_len);
  const guint8 end[8] = { 0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0 };
  g_byte_array_append (b, end, sizeof end);
  return b;
}

GByteArray *
fx_dicom_object (const gchar *syntax, const guint8 *fragment, guint32 fragment_len)
{
  guint16 px[16 * 16];
  for (guint i = 0; i < G_N_ELEMENTS (px); i++)
    px[i] = (guint16) (i * 13 % 4096);
  FxDicom d = { .modality = "CT", .syntax = syntax, .width = 16, .height = 16, .frames = 1,
                .bits_stored = 12 };
  return fx_dicom_image (&d, px, fragment, fragment_len);
}
