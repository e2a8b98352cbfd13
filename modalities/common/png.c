/* png.c — PNG files through libpng, errors turned into GError.
 *
 * libpng reports errors by longjmp: every libpng call sits after the
 * setjmp in read_png(), and what must be freed on that path is kept in a
 * struct the jump cannot clobber.
 */
#include "config.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "m3ret-fileio.h"
#include "readers-private.h"

static const guint8 png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

gboolean
m3ret_readers_png_sniff (const guint8 *head, gsize head_len, M3retReadersPngInfo *info)
{
  if (head_len < 33 || memcmp (head, png_signature, 8) != 0 || memcmp (head + 12, "IHDR", 4) != 0)
    return FALSE;
  memset (info, 0, sizeof *info);
  info->width = GUINT32_FROM_BE (*(const guint32 *) (head + 16));
  info->height = GUINT32_FROM_BE (*(const guint32 *) (head + 20));
  info->bit_depth = head[24];
  info->color_type = head[25];
  info->channels = (info->color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
  return TRUE;
}

typedef struct {
  char message[256];
} ErrorSink;

static void
on_error (png_structp png, png_const_charp message)
{
  ErrorSink *sink = png_get_error_ptr (png);
  g_strlcpy (sink->message, message ? message : "unknown libpng error", sizeof sink->message);
  png_longjmp (png, 1);
}

static void
on_warning (png_structp png, png_const_charp message)
{
  /* Benign (e.g. an unknown chunk, a colour profile quirk): not worth a line. */
}

typedef struct {
  FILE *file;
  png_structp png;
  png_infop info;
  M3retVolume *volume;
  guint8 *row;
} Reading;

static void
reading_clear (Reading *r)
{
  if (r->png != NULL)
    png_destroy_read_struct (&r->png, r->info ? &r->info : NULL, NULL);
  if (r->file != NULL)
    fclose (r->file);
  g_free (r->row);
  m3ret_volume_free (r->volume);
  memset (r, 0, sizeof *r);
}

/* Everything that may longjmp.  Returns 0 on success, 1 on a libpng error
 * (message in @sink), 2 on a refusal already in @error. */
static int
read_png (Reading *r, ErrorSink *sink, const M3retLimits *limits, const gchar *path,
          M3retReadersPngInfo *out, GError **error)
{
  if (setjmp (png_jmpbuf (r->png)))
    return 1;
  png_init_io (r->png, r->file);
  /* Our own limit decides; libpng's 1e6×1e6 default would let absurd sizes through. */
  png_set_user_limits (r->png, 0x7fffffff, 0x7fffffff);
  png_read_info (r->png, r->info);
  png_uint_32 width, height;
  int bit_depth, color_type;
  png_get_IHDR (r->png, r->info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
  if (!m3ret_limits_check_frame (limits, path, "PNG", width, height, error))
    return 2;
  out->width = width;
  out->height = height;
  out->bit_depth = bit_depth;
  out->color_type = color_type;
  out->channels = (color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;

  if (color_type == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb (r->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
    png_set_expand_gray_1_2_4_to_8 (r->png);
  if (color_type & PNG_COLOR_MASK_ALPHA)
    png_set_strip_alpha (r->png);
  if (png_get_valid (r->png, r->info, PNG_INFO_tRNS))
    png_set_tRNS_to_alpha (r->png), png_set_strip_alpha (r->png);
  out->alpha_dropped = (color_type & PNG_COLOR_MASK_ALPHA) != 0 ||
                       png_get_valid (r->png, r->info, PNG_INFO_tRNS) != 0;
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  if (bit_depth == 16)
    png_set_swap (r->png);
#endif
  int passes = png_set_interlace_handling (r->png);
  png_read_update_info (r->png, r->info);
  guint channels = png_get_channels (r->png, r->info);
  guint depth = png_get_bit_depth (r->png, r->info);
  if (channels != out->channels || (depth != 8 && depth != 16)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "%s: PNG decodes to %u channels of %u bits, expected %u of 8 or 16", path,
                 channels, depth, out->channels);
    return 2;
  }
  r->volume = m3ret_volume_try_new (channels, 1, height, width);
  r->row = g_try_malloc (png_get_rowbytes (r->png, r->info));
  if (r->volume == NULL || r->row == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE,
                 "%s: cannot allocate %u×%u pixels", path, (guint) width, (guint) height);
    return 2;
  }
  if (passes > 1)
    memset (r->volume->data, 0, m3ret_volume_n_values (r->volume) * sizeof (gfloat));
  /* pHYs: pixels per metre (→ mm) or just an aspect ratio. */
  png_uint_32 ppu_x = 0, ppu_y = 0;
  int unit = 0;
  if (png_get_pHYs (r->png, r->info, &ppu_x, &ppu_y, &unit) && ppu_x > 0 && ppu_y > 0) {
    gdouble k = unit == PNG_RESOLUTION_METER ? 1000.0 : (gdouble) MIN (ppu_x, ppu_y);
    r->volume->spacing[0] = k / ppu_x;
    r->volume->spacing[1] = k / ppu_y;
  }
  gfloat scale = 1.0f / (depth == 16 ? 65535.0f : 255.0f);
  gsize plane = (gsize) width * height;
  for (int pass = 0; pass < passes; pass++)
    for (png_uint_32 y = 0; y < height; y++) {
      gfloat *dst = r->volume->data + (gsize) y * width;
      if (passes > 1) /* interlaced: libpng combines into the row we hand back */
        for (png_uint_32 x = 0; x < width; x++)
          for (guint c = 0; c < channels; c++) {
            gfloat v = dst[c * plane + x] / scale;
            if (depth == 16)
              ((guint16 *) r->row)[x * channels + c] = (guint16) (v + 0.5f);
            else
              r->row[x * channels + c] = (guint8) (v + 0.5f);
          }
      png_read_row (r->png, r->row, NULL);
      for (png_uint_32 x = 0; x < width; x++)
        for (guint c = 0; c < channels; c++) {
          gfloat v = depth == 16 ? ((guint16 *) r->row)[x * channels + c]
                                 : r->row[x * channels + c];
          dst[c * plane + x] = v * scale;
        }
    }
  png_read_end (r->png, NULL);
  return 0;
}

M3retVolume *
m3ret_readers_png_read (const gchar *path, const M3retLimits *limits, M3retReadersPngInfo *info,
                        GError **error)
{
  Reading r = { 0 };
  ErrorSink sink = { { 0 } };
  M3retReadersPngInfo local;
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
  guint8 signature[8];
  if (fread (signature, 1, 8, r.file) != 8 || png_sig_cmp (signature, 0, 8) != 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: not a PNG file (bad signature)", path);
    reading_clear (&r);
    return NULL;
  }
  r.png = png_create_read_struct (PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
  r.info = r.png ? png_create_info_struct (r.png) : NULL;
  if (r.png == NULL || r.info == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO, "%s: libpng cannot start", path);
    reading_clear (&r);
    return NULL;
  }
  png_set_sig_bytes (r.png, 8);
  int status = read_png (&r, &sink, limits, path, info, error);
  if (status == 1)
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: corrupt or truncated PNG: %s", path, sink.message);
  if (status != 0) {
    reading_clear (&r);
    return NULL;
  }
  M3retVolume *volume = g_steal_pointer (&r.volume);
  reading_clear (&r);
  return volume;
}

gboolean
m3ret_readers_png_read_views (const gchar *path, const M3retLimits *limits,
                              const M3retRenderOptions *options, const M3retView *views,
                              guint n_views, M3retSample **out, GError **error)
{
  g_autoptr (M3retVolume) volume = m3ret_readers_png_read (path, limits, NULL, error);
  if (volume == NULL)
    return FALSE;
  m3ret_readers_render_views (volume, M3RET_LAYOUT_IMAGE, options, views, n_views, out);
  return TRUE;
}

static const gchar *
color_name (guint color_type)
{
  switch (color_type) {
  case PNG_COLOR_TYPE_GRAY: return "grey";
  case PNG_COLOR_TYPE_GRAY_ALPHA: return "grey+alpha";
  case PNG_COLOR_TYPE_PALETTE: return "palette";
  case PNG_COLOR_TYPE_RGB: return "RGB";
  case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
  default: return "unknown colour type";
  }
}

gboolean
m3ret_readers_png_inspect (const gchar *path, const M3retLimits *limits, M3retInspectInfo *info,
                           GError **error)
{
  M3retReadersPngInfo png;
  g_autoptr (M3retVolume) volume = m3ret_readers_png_read (path, limits, &png, error);
  if (volume == NULL)
    return FALSE;
  info->format = g_strdup_printf ("PNG %u-bit %s", png.bit_depth, color_name (png.color_type));
  info->datatype = g_strdup (png.bit_depth == 16 ? "uint16" : "uint8");
  info->width = png.width;
  info->height = png.height;
  info->depth = 1;
  info->channels = png.channels;
  info->frames = 1;
  info->spacing[0] = volume->spacing[0];
  info->spacing[1] = volume->spacing[1];
  info->spacing[2] = 1.0;
  /* Statistics in stored units (grey below 8 bits counts as 8: libpng
   * expands it), the decoded [0,1] values times the full scale. */
  gdouble full = png.bit_depth == 16 ? 65535.0 : 255.0;
  m3ret_readers_fill_stats (info, volume);
  readers_scale_stats (info, full);
  m3ret_readers_add_note (info, "full scale: %g (maps to 1 before mean/std)", full);
  if (png.alpha_dropped)
    m3ret_readers_add_note (info, "alpha dropped: transparency is ignored, pixels read as %s",
                            png.channels == 1 ? "grey" : "RGB");
  return TRUE;
}
