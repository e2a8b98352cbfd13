/* write-png.c — grey PNGs through libpng, 8 or 16 bits.
 *
 * No time or text chunks, so the bytes depend on the pixels alone; pHYs
 * carries the pixel spacing for readers that want it.
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>

#include "synth-private.h"

typedef struct {
  gchar message[256];
} PngFailure;

static void
on_png_error (png_structp png, png_const_charp message)
{
  PngFailure *failure = png_get_error_ptr (png);
  g_strlcpy (failure->message, message, sizeof failure->message);
  png_longjmp (png, 1);
}

static void
on_png_warning (png_structp png, png_const_charp message)
{
  /* Warnings concern ancillary details we do not write; keep stderr quiet. */
}

/* Kept apart from the caller so no local is live across setjmp. */
static gboolean
encode (FILE *fp, const SynthImage *image, PngFailure *failure)
{
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, failure, on_png_error,
                                             on_png_warning);
  if (png == NULL) {
    g_strlcpy (failure->message, "out of memory", sizeof failure->message);
    return FALSE;
  }
  png_infop info = png_create_info_struct (png);
  if (info == NULL || setjmp (png_jmpbuf (png))) {
    png_destroy_write_struct (&png, &info);
    return FALSE;
  }
  png_init_io (png, fp);
  png_set_IHDR (png, info, image->width, image->height, image->bit_depth, PNG_COLOR_TYPE_GRAY,
                PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_uint_32 per_metre = (png_uint_32) (1000.0 / image->spacing_mm + 0.5);
  png_set_pHYs (png, info, per_metre, per_metre, PNG_RESOLUTION_METER);
  png_write_info (png, info);
  if (image->bit_depth == 16)
    png_set_swap (png); /* our samples are host order, PNG's big-endian */
  for (guint r = 0; r < image->height; r++) {
    png_const_bytep row = image->bit_depth == 16
                            ? (png_const_bytep) (image->data16 + (gsize) r * image->width)
                            : image->data8 + (gsize) r * image->width;
    png_write_row (png, row);
  }
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  return TRUE;
}

gboolean
synth_write_png (const gchar *path, const SynthImage *image, GError **error)
{
  g_return_val_if_fail (image->bit_depth == 8 || image->bit_depth == 16, FALSE);
  g_autofree gchar *tmp = synth_temp_path (path);
  FILE *fp = g_fopen (tmp, "wb");
  if (fp == NULL) {
    g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_IO, "%s: cannot write: %s", path,
                 g_strerror (errno));
    return FALSE;
  }
  PngFailure failure = { "" };
  gboolean ok = encode (fp, image, &failure);
  if (fclose (fp) != 0 && ok) {
    ok = FALSE;
    g_strlcpy (failure.message, g_strerror (errno), sizeof failure.message);
  }
  if (!ok) {
    g_unlink (tmp);
    g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_IO, "%s: cannot write PNG: %s", path,
                 failure.message);
    return FALSE;
  }
  return synth_commit_file (tmp, path, error);
}
