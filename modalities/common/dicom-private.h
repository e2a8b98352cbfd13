/* dicom-private.h — what dicom.c and series.c share inside libm3ret-readers. */
#ifndef M3RET_DICOM_PRIVATE_H
#define M3RET_DICOM_PRIVATE_H

#include "dicom-gdcm.h"
#include "readers-private.h"

G_BEGIN_DECLS

/* dicom-guard.c: TRUE when the element structure of @path (tags, VRs,
 * lengths, sequences, fragments) fits in its bytes, so GDCM, whose Debian
 * build keeps its assert()s, can be given it; *@has_pixels tells whether
 * the top-level data set holds Pixel Data.  FALSE with @reason (owned). */
gboolean dicom_guard (const gchar *path, gboolean *has_pixels, gchar **reason);

/* readers_dicom_gdcm_header() after dicom_guard(), with the failure as a
 * GError naming @path. */
gboolean dicom_read_header (const gchar *path, const gchar *label_keyword, ReadersDicomHeader *h,
                            GError **error);
/* Refuses objects without pixels (SR, RTSTRUCT, PR, KO…) and empty geometry. */
gboolean dicom_check_image (const gchar *path, const ReadersDicomHeader *h, GError **error);
/* The run's limits for @depth frames (or slices, when @volume) of @h's size. */
gboolean dicom_check_limits (const gchar *path, const ReadersDicomHeader *h, guint64 depth,
                             gboolean volume, const M3retLimits *limits, GError **error);
/* 1 grey, 3 colour (RGB, YBR, palette). */
guint dicom_channels (const ReadersDicomHeader *h);
/* The pixels of @path, [c][frame][y][x], in @units, MONOCHROME1 inverted.
 * Returns: (transfer full) or NULL with @error. */
gfloat *dicom_decode (const gchar *path, const ReadersDicomHeader *h, M3retReadersDicomUnits units,
                      GError **error);
/* The unit normal of the slice plane of Image Orientation (Patient) @o. */
void dicom_normal (const gdouble *o, gdouble *n);
/* Distance of positions @a and @b along the normal of @orientation (1 when 0). */
gdouble dicom_slice_distance (const gdouble *orientation, const gdouble *a, const gdouble *b);
void dicom_fill_info (M3retReadersDicomInfo *info, const ReadersDicomHeader *h,
                      const M3retVolume *vol, guint n_files);

/* series.c */
/* The first file (in name order) of the series @selector of @folder (NULL:
 * its only series).  Returns: (transfer full) or NULL with @error. */
gchar *dicom_series_first_file (const gchar *folder, const gchar *selector, GError **error);
/* Reads the series as a volume reoriented to RAS; @path names it in errors. */
M3retVolume *dicom_series_read (const gchar *path, const gchar *folder, const gchar *selector,
                                const M3retLimits *limits, M3retReadersDicomUnits units,
                                M3retReadersDicomInfo *info, GError **error);

G_END_DECLS

#endif /* M3RET_DICOM_PRIVATE_H */
