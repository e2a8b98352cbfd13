/* test-modality-fixtures.h — small files in the real formats, written in the
 * tests through the same libraries the plugins read with. */
#ifndef M3RET_TEST_MODALITY_FIXTURES_H
#define M3RET_TEST_MODALITY_FIXTURES_H

#include <glib.h>

/* A PNG of @width×@height: @color_type PNG_COLOR_TYPE_GRAY (values[y*w+x])
 * or _RGB (values[(y*w+x)*3+c]) or _PALETTE (values = palette indices,
 * palette entry i = (i, 255-i, i/2)), or _GRAY_ALPHA / _RGB_ALPHA (the
 * channels of a pixel in turn, alpha last); @bit_depth 8 or 16. */
void fx_write_png (const gchar *path, guint width, guint height, gint bit_depth, gint color_type,
                   const guint16 *values);

/* Same, with a pHYs chunk of @ppm_x × @ppm_y pixels per metre. */
void fx_write_png_phys (const gchar *path, guint width, guint height, gint bit_depth,
                        gint color_type, const guint16 *values, guint ppm_x, guint ppm_y);

/* A NIfTI-1 file (.nii or .nii.gz by name) of @nx×@ny×@nz×@nt voxels of
 * @datatype (NIFTI_TYPE_*) from doubles (converted), spacing @dx,@dy,@dz,
 * scl @slope/@inter (0 = none), and a sform (row-major 3×4, NULL = none,
 * qform/sform codes 0). */
void fx_write_nifti (const gchar *path, guint nx, guint ny, guint nz, guint nt, gint datatype,
                     const gdouble *values, gdouble dx, gdouble dy, gdouble dz, gdouble slope,
                     gdouble inter, const gdouble *sform);

/* The same as NIfTI-2 (a single-file "n+2" .nii or .nii.gz; no qform),
 * in big-endian byte order when @big_endian. */
void fx_write_nifti2 (const gchar *path, guint nx, guint ny, guint nz, guint nt, gint datatype,
                      const gdouble *values, gdouble dx, gdouble dy, gdouble dz, gdouble slope,
                      gdouble inter, const gdouble *sform, gboolean big_endian);

/* A video of @n_frames frames of @width×@height with @codec_name ("ffv1",
 * "mpeg4", "libx264"); frame k is filled with RGB (r0 + 10k, g, b) where
 * g, b vary across the frame as x*4 and y*4.  @n_frames may be 0 (a header
 * and no frame).  Returns FALSE when the encoder is missing. */
gboolean fx_write_video (const gchar *path, const gchar *codec_name, guint width, guint height,
                         guint n_frames, guint r0);

/* A baseline JPEG of @width×@height, @channels 1 (grey) or 3 (RGB,
 * values[(y*w+x)*3+c], no chroma subsampling) at @quality (1..100); with
 * @orientation 1..8 an Exif APP1 holding that orientation replaces JFIF
 * (0: a plain JFIF file). */
void fx_write_jpeg (const gchar *path, guint width, guint height, guint channels,
                    const guint8 *values, gint quality, guint orientation);

/* Copies the first @keep bytes of @src to @dst. */
void fx_truncate_copy (const gchar *src, const gchar *dst, gsize keep);

/* DICOM written byte by byte, explicit VR little endian: what a run reads
 * of a grey object, nothing else (tests/dicom-fixtures.py writes the full
 * range of pixel formats with pydicom). */
#define FX_DICOM_EXPLICIT_LE "1.2.840.10008.1.2.1"
typedef struct {
  const gchar *modality;   /* e.g. "CT" */
  const gchar *syntax;     /* transfer syntax UID; NULL: explicit VR little endian */
  const gchar *series_uid; /* NULL: 1.2.3.4.5 */
  guint width, height, frames, bits_stored; /* 16 bits allocated, unsigned */
  gboolean has_position;   /* axial Image Position/Orientation (Patient) at z */
  gdouble z;
} FxDicom;
/* The bytes of an object with native @pixels (width × height × frames), or,
 * when @fragment is not NULL, that one encapsulated fragment instead. */
GByteArray *fx_dicom_image (const FxDicom *d, const guint16 *pixels, const guint8 *fragment,
                            guint32 fragment_len);
/* A 16×16 CT object, 12 bits stored, in @syntax. */
GByteArray *fx_dicom_object (const gchar *syntax, const guint8 *fragment, guint32 fragment_len);
/* Appends a text element (even length) to @b. */
void fx_dicom_text (GByteArray *b, guint16 group, guint16 element, const gchar *vr,
                    const gchar *text);

#endif
