/* dicom-gdcm.h — the C face of the GDCM shim (dicom-gdcm.cxx): what the
 * DICOM reader asks of the library, in plain C types.  Private to
 * libm3ret-readers; nothing of GDCM's C++ crosses it, and no exception
 * either (a failure is a reason string).
 */
#ifndef M3RET_DICOM_GDCM_H
#define M3RET_DICOM_GDCM_H

#include <glib.h>

G_BEGIN_DECLS

/* The attributes of one DICOM object a run needs: geometry, pixel format,
 * modality, the series it belongs to and one attribute a user chose as a
 * label.  Nothing else of the header is kept (no patient data). */
typedef struct {
  gchar modality[17];        /* (0008,0060), trimmed; "" when absent */
  gchar series_uid[65];      /* (0020,000E); "" when absent */
  gchar transfer_syntax[65]; /* UID of the transfer syntax */
  const gchar *syntax_name;  /* (static) e.g. "JPEG-LS lossless" */
  gchar photometric[20];     /* (0028,0004) as stored */
  gboolean has_pixels;       /* Pixel Data (7FE0,0010) present (set by dicom.c) */
  guint rows, cols, frames, samples;
  guint bits_allocated, bits_stored, high_bit;
  gboolean is_signed;        /* Pixel Representation 1 */
  guint planar;              /* Planar Configuration */
  gdouble slope, intercept;  /* the Modality LUT (1, 0 when absent) */
  gdouble spacing[2];        /* mm between columns (x) and between rows (y) */
  const gchar *spacing_from; /* (static) which attribute gave it, or NULL: none (1 mm) */
  gboolean has_position, has_orientation;
  gdouble position[3];       /* Image Position (Patient) of the first frame */
  gdouble orientation[6];    /* Image Orientation (Patient): row then column cosines */
  gdouble *frame_positions;  /* (owned) 3 per frame from the per-frame groups, or NULL */
  gdouble frame_time_ms;     /* Frame Time, or 1000 / Cine Rate; 0 when neither */
  gchar *label;              /* (owned) the chosen attribute's value, or NULL */
} ReadersDicomHeader;

/* Reads the header of @path up to its pixel data and fills @h; when
 * @label_keyword is not NULL the attribute of that keyword (e.g.
 * "BodyPartExamined") is read into @h->label.  FALSE with @reason (owned)
 * when @path is not a DICOM object the library can parse. */
gboolean readers_dicom_gdcm_header (const gchar *path, const gchar *label_keyword,
                                    ReadersDicomHeader *h, gchar **reason);
void readers_dicom_header_clear (ReadersDicomHeader *h);

/* Whether @keyword names an attribute of the standard's dictionary. */
gboolean readers_dicom_gdcm_keyword_known (const gchar *keyword);

/* Decodes the pixel data of @path (whose header @h the caller read and
 * checked against its limits) into @out: @h->frames × rows × cols values
 * per channel, [c][frame][y][x].  Grey objects give one channel in the
 * units of the Modality LUT (slope and intercept applied, MONOCHROME1 not
 * yet inverted); colour ones (RGB, YBR_FULL, YBR_FULL_422, PALETTE COLOR)
 * three channels of RGB in [0, *range_max].  *range_min and *range_max
 * are the values the stored bits can represent, in the same units. */
gboolean readers_dicom_gdcm_decode (const gchar *path, const ReadersDicomHeader *h,
                                    gfloat *out, guint *channels, gdouble *range_min,
                                    gdouble *range_max, gchar **reason);

G_END_DECLS

#endif /* M3RET_DICOM_GDCM_H */
