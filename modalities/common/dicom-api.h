/* dicom-api.h — the public DICOM entries of libm3ret-readers, in progress
 * (issue 18): not yet built nor installed; they move into m3ret-readers.h
 * once dicom.c, series.c and dicom-gdcm.cxx are wired into the build and
 * tested.
 */
#ifndef M3RET_DICOM_API_H
#define M3RET_DICOM_API_H

#include "m3ret-readers.h"

G_BEGIN_DECLS

/* ---- DICOM (GDCM): single objects, multi-frame objects, series ---- */

/* How grey pixels come out of the DICOM reader. */
typedef enum {
  /* the units of the Modality LUT (Rescale Slope/Intercept: CT in HU) */
  M3RET_READERS_DICOM_MODALITY_UNITS,
  /* the range the stored bits can hold, scaled to [0,1] */
  M3RET_READERS_DICOM_UNIT_RANGE,
} M3retReadersDicomUnits;

typedef struct {
  gchar modality[17];        /* the Modality attribute (0008,0060) */
  const gchar *plugin;       /* the m3ret modality it maps to, or NULL */
  gchar syntax[48];          /* transfer syntax, e.g. "JPEG-LS lossless" */
  gchar photometric[20];     /* as stored, e.g. "MONOCHROME1" */
  guint width, height;       /* of the volume read */
  guint frames;              /* frames of one object, or slices of a series */
  guint channels;            /* 1 grey, 3 colour */
  guint n_files;             /* 1, or the files of a series */
  guint bits_allocated, bits_stored;
  gboolean is_signed;
  gdouble slope, intercept;  /* the Modality LUT applied */
  gdouble spacing[3];        /* mm along x, y, z of the volume read */
  const gchar *spacing_from; /* "Pixel Spacing", "Imager Pixel Spacing", … or NULL (1 mm) */
  gdouble frame_time_ms;     /* multi-frame objects: Frame Time (0 when absent) */
  gchar orientation[4];      /* series: "RAS" once reoriented; "" otherwise */
} M3retReadersDicomInfo;

/* TRUE when @head holds a DICOM Part 10 preamble ("DICM" at 128) or starts
 * like a bare little-endian data set. */
gboolean m3ret_readers_dicom_sniff (const guint8 *head, gsize head_len);

/* The m3ret modality that reads DICOM Modality @dicom_modality: CT → ct,
 * MR → mri, CR/DX/MG/XA/RF/PX/IO → xray, US/IVUS → ultrasound, ES/XC/GM →
 * endoscopy; NULL for any other. */
const gchar *m3ret_readers_dicom_plugin_for (const gchar *dicom_modality);

/* Whether @path names a series: an existing folder, or FOLDER#SERIES_UID
 * (a folder holding several series).  @folder and @selector (may be NULL)
 * receive the parts (transfer full; *@selector NULL without '#'). */
gboolean m3ret_readers_dicom_series_path (const gchar *path, gchar **folder, gchar **selector);

/* The m3ret modality of the DICOM object or series @path, read from its
 * header; NULL with @error for objects without pixels (SR, RTSTRUCT, PR,
 * KO…) and unmapped modalities, named in the message. */
const gchar *m3ret_readers_dicom_plugin_of (const gchar *path, GError **error);

/* A probe entry's answer for DICOM: @score when @path (a file whose first
 * bytes are @head, or a series when @head_len is 0) maps to @plugin, else 0. */
guint m3ret_readers_dicom_probe (const gchar *path, const guint8 *head, gsize head_len,
                                 const gchar *plugin, guint score);

/* Image for a single-frame object, sequence for multi-frame objects and
 * series (from the header only). */
M3retLayout m3ret_readers_dicom_layout (const gchar *path);

/* Decodes the object or series @path: limits checked on the header before
 * any allocation; grey in @units, MONOCHROME1 inverted, colour (RGB, YBR,
 * palette) as RGB in [0,1]; depth = frames or slices.  A series is sorted
 * along its slice normal and reoriented to RAS, its slice spacing taken
 * from the positions.  Returns: (transfer full) or NULL with @error. */
M3retVolume *m3ret_readers_dicom_read (const gchar *path, const M3retLimits *limits,
                                       M3retReadersDicomUnits units, M3retReadersDicomInfo *info,
                                       GError **error);

/* Fills @info for `m3ret inspect` (statistics in @units). */
gboolean m3ret_readers_dicom_inspect (const gchar *path, const M3retLimits *limits,
                                      M3retReadersDicomUnits units, M3retInspectInfo *info,
                                      GError **error);

G_END_DECLS

#endif /* M3RET_DICOM_API_H */
