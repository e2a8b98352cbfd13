/* jpeg.c — JPEG stills through libjpeg-turbo, errors turned into GError.
 *
 * libjpeg reports errors through error_exit, which here longjmps back to
 * read_jpeg(); what must be freed on that path is kept in a struct the
 * jump cannot clobber.  The frame size is checked against the limits right
 * after jpeg_read_header(), before anything the size of the image is
 * allocated.  The EXIF orientation (APP1, tag 0x0112) is applied, so the
 * volume is the picture as a viewer shows it.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include <glib/gstdio.h>

#include "m3ret-fileio.h"
#include "readers-private.h"

/* Fills @info from the SOF marker when it lies within @head. */
gboolean
m3ret_readers_jpeg_sniff (const guint8 *head, gsize head_len, M3retReadersJpegInfo *info)
{
  if (head_len < 3 || head[0] != 0xFF || head[1] != 0xD8 || head[2] != 0xFF)
    return FALSE;
  memset (info, 0, sizeof *info);
  info->orientation = 1;
  gsize i = 2;
  while (i + 4 <= head_len) {
    if (head[i] != 0xFF)
      break;
    guint8 marker = head[i + 1];
    if (marker == 0xFF) { /* fill byte */
      i++;
      continue;
    }
    gsize len = ((gsize) head[i + 2] << 8) | head[i + 3];
    if (len < 2)
      break;
    gboolean sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
                   marker != 0xCC;
    if (sof && i + 10 <= head_len) {
      info->height = ((guint) head[i + 5] << 8) | head[i + 6];
      info->width = ((guint) head[i + 7] << 8) | head[i + 8];
      info->components = head[i + 9];
      info->channels = info->components == 1 ? 1 : 3;
      break;
    }
    if (marker == 0xDA || marker == 0xD9)
      break;
    i += 2 + len;
  }
  return TRUE;
}

/* The orientation (1..8) in an EXIF APP1 payload, 1 when absent or bad. */
static guint
exif_orientation (const guint8 *p, gsize len)
{
  if (len < 14 || memcmp (p, "Exif\0\0", 6) != 0)
    return 1;
  const guint8 *t = p + 6;
  gsize n = len - 6;
  gboolean le;
  if (t[0] == 'I' && t[1] == 'I')
    le = TRUE;
  else if (t[0] == 'M' && t[1] == 'M')
    le = FALSE;
  else
    return 1;
#define RD16(o) (le ? (guint) t[o] | ((guint) t[(o) + 1] << 8) : ((guint) t[o] << 8) | t[(o) + 1])
#define RD32(o) (le ? (guint32) RD16 (o) | ((guint32) RD16 ((o) + 2) << 16)                     \
                    : ((guint32) RD16 (o) << 16) | (guint32) RD16 ((o) + 2))
  if (RD16 (2) != 42)
    return 1;
  guint32 ifd = RD32 (4);
  if (ifd < 8 || (gsize) ifd + 2 > n)
    return 1;
  guint count = RD16 (ifd);
  for (guint k = 0; k < count; k++) {
    gsize e = (gsize) ifd + 2 + (gsize) k * 12;
    if (e + 12 > n)
      return 1;
    if (RD16 (e) == 0x0112 && RD16 (e + 2) == 3 /* SHORT */) {
      guint v = RD16 (e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
#undef RD16
#undef RD32
}

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  gboolean truncated; /* libjpeg hit the end of the data and padded the rest */
} ErrorSink;

static void
on_error_exit (j_common_ptr cinfo)
{
  ErrorSink *sink = (ErrorSink *) cinfo->err;
  (*cinfo->err->format_message) (cinfo, sink->message);
  longjmp (sink->jump, 1);
}

static void
on_emit_message (j_common_ptr cinfo, int level)
{
  /* Warnings are not printed; a premature end of data (the decoder pads
   * the rest with grey) makes the file refused. */
  ErrorSink *sink = (ErrorSink *) cinfo->err;
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF && !sink->truncated) {
    sink->truncated = TRUE;
    (*cinfo->err->format_message) (cinfo, sink->message);
  }
}

typedef struct {
  FILE *file;
  struct jpeg_decompress_struct cinfo;
  gboolean started;
  guint8 *pixels; /* decoded rows, as stored (before orientation) */
  M3retVolume *volume;
} Reading;

static void
reading_clear (Reading *r)
{
  if (r->started)
    jpeg_destroy_decompress (&r->cinfo);
  if (r->file != NULL)
    fclose (r->file);
  g_free (r->pixels);
  m3ret_volume_free (r->volume);
  memset (r, 0, sizeof *r);
}

/* The source pixel (sx, sy) of the shown pixel (x, y) for EXIF @o on a
 * stored @w×@h picture. */
static inline void
oriented_source (guint o, guint w, guint h, guint x, guint y, guint *sx, guint *sy)
{
  switch (o) {
  case 2: *sx = w - 1 - x; *sy = y; break;
  case 3: *sx = w - 1 - x; *sy = h - 1 - y; break;
  case 4: *sx = x; *sy = h - 1 - y; break;
  case 5: *sx = y; *sy = x; break;
  case 6: *sx = y; *sy = h - 1 - x; break;
  case 7: *sx = w - 1 - y; *sy = h - 1 - x; break;
  case 8: *sx = w - 1 - y; *sy = x; break;
  default: *sx = x; *sy = y; break;
  }
}

/* Everything that may longjmp.  Returns 0 on success, 1 on a libjpeg error
 * (message in @sink), 2 on a refusal already in @error. */
static int
read_jpeg (Reading *r, ErrorSink *sink, const M3retLimits *limits, const gchar *path,
           M3retReadersJpegInfo *out, GError **error)
{
  if (setjmp (sink->jump))
    return 1;
  jpeg_create_decompress (&r->cinfo);
  r->started = TRUE;
  jpeg_stdio_src (&r->cinfo, r->file);
  jpeg_save_markers (&r->cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header (&r->cinfo, TRUE);
  struct jpeg_decompress_struct *c = &r->cinfo;
  if (!m3ret_limits_check_frame (limits, path, "JPEG", c->image_width, c->image_height, error))
    return 2;
  out->width = c->image_width;
  out->height = c->image_height;
  out->components = c->num_components;
  out->orientation = 1;
  for (jpeg_saved_marker_ptr m = c->marker_list; m != NULL; m = m->next)
    if (m->marker == JPEG_APP0 + 1) {
      guint o = exif_orientation (m->data, m->data_length);
      if (o != 1) {
        out->orientation = o;
        break;
      }
    }
  switch (c->jpeg_color_space) {
  case JCS_GRAYSCALE:
    c->out_color_space = JCS_GRAYSCALE;
    out->channels = 1;
    break;
  case JCS_YCbCr:
  case JCS_RGB:
    c->out_color_space = JCS_RGB;
    out->channels = 3;
    break;
  default:
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "%s: JPEG colour space with %d components (CMYK/YCCK) is not read", path,
                 c->num_components);
    return 2;
  }
  gboolean transposed = out->orientation >= 5;
  guint w = c->image_width, h = c->image_height, ch = out->channels;
  r->volume = transposed ? m3ret_volume_try_new (ch, 1, w, h) : m3ret_volume_try_new (ch, 1, h, w);
  r->pixels = g_try_malloc ((gsize) w * h * ch);
  if (r->volume == NULL || r->pixels == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE,
                 "%s: cannot allocate %u×%u pixels", path, w, h);
    return 2;
  }
  jpeg_start_decompress (c);
  if (c->output_width != w || c->output_height != h || (guint) c->output_components != ch) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "%s: JPEG decodes to %u×%u×%d, expected %u×%u×%u", path, c->output_width,
                 c->output_height, c->output_components, w, h, ch);
    return 2;
  }
  while (c->output_scanline < h) {
    JSAMPROW row = r->pixels + (gsize) c->output_scanline * w * ch;
    jpeg_read_scanlines (c, &row, 1);
  }
  jpeg_finish_decompress (c);

  /* Density: dots per inch (1) or per cm (2) → mm; 0 is an aspect ratio. */
  gdouble sx = 1.0, sy = 1.0;
  if (c->saw_JFIF_marker && c->X_density > 0 && c->Y_density > 0) {
    gdouble k = c->density_unit == 1 ? 25.4 : c->density_unit == 2 ? 10.0
                                                 : (gdouble) MIN (c->X_density, c->Y_density);
    sx = k / c->X_density;
    sy = k / c->Y_density;
  }
  r->volume->spacing[0] = transposed ? sy : sx;
  r->volume->spacing[1] = transposed ? sx : sy;

  guint ow = transposed ? h : w, oh = transposed ? w : h;
  gsize plane = (gsize) ow * oh;
  const gfloat scale = 1.0f / 255.0f;
  for (guint y = 0; y < oh; y++)
    for (guint x = 0; x < ow; x++) {
      guint px, py;
      oriented_source (out->orientation, w, h, x, y, &px, &py);
      const guint8 *src = r->pixels + ((gsize) py * w + px) * ch;
      for (guint k = 0; k < ch; k++)
        r->volume->data[k * plane + (gsize) y * ow + x] = src[k] * scale;
    }
  out->width = ow;
  out->height = oh;
  return 0;
}

M3retVolume *
m3ret_readers_jpeg_read (const gchar *path, const M3retLimits *limits,
                         M3retReadersJpegInfo *info, GError **error)
{
  Reading r;
  memset (&r, 0, sizeof r);
  ErrorSink sink;
  memset (&sink, 0, sizeof sink);
  M3retReadersJpegInfo local;
  if (info == NULL)
    info = &local;
  memset (info, 0, sizeof *info);

  r.file = g_fopen (path, "rb");
  if (r.file == NULL) {
    int saved = errno;
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO, "%s: %s", path,
                 m3ret_file_reason (saved));
    return NULL;
  }
  guint8 magic[3];
  if (fread (magic, 1, 3, r.file) != 3 || magic[0] != 0xFF || magic[1] != 0xD8 ||
      magic[2] != 0xFF) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: not a JPEG file (no SOI marker)", path);
    reading_clear (&r);
    return NULL;
  }
  rewind (r.file);
  r.cinfo.err = jpeg_std_error (&sink.pub);
  sink.pub.error_exit = on_error_exit;
  sink.pub.emit_message = on_emit_message;
  int status = read_jpeg (&r, &sink, limits, path, info, error);
  if (status == 0 && sink.truncated)
    status = 1;
  if (status == 1)
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: corrupt or truncated JPEG: %s", path, sink.message);
  if (status != 0) {
    reading_clear (&r);
    return NULL;
  }
  M3retVolume *volume = g_steal_pointer (&r.volume);
  reading_clear (&r);
  return volume;
}

gboolean
m3ret_readers_jpeg_read_views (const gchar *path, const M3retLimits *limits,
                               const M3retRenderOptions *options, const M3retView *views,
                               guint n_views, M3retSample **out, GError **error)
{
  g_autoptr (M3retVolume) volume = m3ret_readers_jpeg_read (path, limits, NULL, error);
  if (volume == NULL)
    return FALSE;
  m3ret_readers_render_views (volume, M3RET_LAYOUT_IMAGE, options, views, n_views, out);
  return TRUE;
}

gboolean
m3ret_readers_jpeg_inspect (const gchar *path, const M3retLimits *limits, M3retInspectInfo *info,
                            GError **error)
{
  M3retReadersJpegInfo jpeg;
  g_autoptr (M3retVolume) volume = m3ret_readers_jpeg_read (path, limits, &jpeg, error);
  if (volume == NULL)
    return FALSE;
  info->format = g_strdup_printf ("JPEG %s", jpeg.channels == 1 ? "grey" : "colour");
  info->datatype = g_strdup ("uint8");
  info->width = jpeg.width;
  info->height = jpeg.height;
  info->depth = 1;
  info->channels = jpeg.channels;
  info->frames = 1;
  info->spacing[0] = volume->spacing[0];
  info->spacing[1] = volume->spacing[1];
  info->spacing[2] = 1.0;
  m3ret_readers_fill_stats (info, volume);
  readers_scale_stats (info, 255.0);
  m3ret_readers_add_note (info, "full scale: 255 (maps to 1 before mean/std)");
  if (jpeg.orientation != 1)
    m3ret_readers_add_note (info, "EXIF orientation %u applied (stored %u×%u)", jpeg.orientation,
                            jpeg.orientation >= 5 ? jpeg.height : jpeg.width,
                            jpeg.orientation >= 5 ? jpeg.width : jpeg.height);
  return TRUE;
}

gboolean
m3ret_readers_jpeg_sniff_file (const gchar *path)
{
  FILE *f = g_fopen (path, "rb");
  if (f == NULL)
    return FALSE;
  guint8 head[3];
  gboolean ok = fread (head, 1, 3, f) == 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF;
  fclose (f);
  return ok;
}
