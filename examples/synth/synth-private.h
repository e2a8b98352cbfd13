/* synth-private.h — what the generator's files share; not installed. */
#ifndef M3RET_SYNTH_PRIVATE_H
#define M3RET_SYNTH_PRIVATE_H

#include "m3ret-synth.h"

/* ---- tissues (tissue.c) ------------------------------------------------ */

typedef enum {
  SYNTH_AIR, SYNTH_FAT, SYNTH_SOFT, SYNTH_MUSCLE, SYNTH_BONE, SYNTH_MARROW, SYNTH_LUNG,
  SYNTH_BLOOD, SYNTH_LIVER, SYNTH_SPLEEN, SYNTH_KIDNEY, SYNTH_FLUID, SYNTH_GREY, SYNTH_WHITE,
  SYNTH_GAS, SYNTH_CARTILAGE, SYNTH_LESION,
  SYNTH_N_TISSUES
} SynthTissue;

/* What each modality measures of one tissue, for one phantom instance. */
typedef struct {
  gdouble hu[SYNTH_N_TISSUES];        /* CT number */
  gdouble t1w[SYNTH_N_TISSUES];       /* T1-weighted MR signal, 0..1 */
  gdouble t2w[SYNTH_N_TISSUES];       /* T2-weighted MR signal, 0..1 */
  gdouble echo[SYNTH_N_TISSUES];      /* ultrasound backscatter, 0..1 */
  gdouble impedance[SYNTH_N_TISSUES]; /* acoustic impedance, MRayl */
  gdouble us_atten[SYNTH_N_TISSUES];  /* ultrasound attenuation, nepers per unit depth */
} SynthTissueTable;

/* The textbook values jittered per instance with @rng. */
void synth_tissue_table_sample (SynthTissueTable *table, GRand *rng);
/* TRUE for air-like tissues that block ultrasound and show no anatomy behind. */
gboolean synth_tissue_is_gas (SynthTissue tissue);

/* ---- phantoms (phantom.c) ---------------------------------------------- */

typedef enum {
  SYNTH_HEAD, SYNTH_CHEST, SYNTH_ABDOMEN, SYNTH_PELVIS, SYNTH_KNEE,
  SYNTH_N_REGIONS
} SynthRegion;

const gchar *synth_region_name (SynthRegion region);

/* One anatomy instance rasterised on an isotropic size³ grid over a cubic
 * field of view: label[(k * size + j) * size + i] with i towards the
 * patient's right, j anterior and k superior (NIfTI's RAS+ axes). */
typedef struct {
  SynthRegion region;
  guint size;
  gdouble fov_mm;          /* side of the cubic field of view */
  guint8 *label;           /* SynthTissue per voxel */
  SynthTissueTable tissue;
} SynthPhantom;

/* Returns: (transfer full) a new random instance of @region drawn from @rng. */
SynthPhantom *synth_phantom_new (SynthRegion region, guint size, GRand *rng);
void synth_phantom_free (SynthPhantom *phantom);

static inline guint8
synth_phantom_at (const SynthPhantom *p, gint i, gint j, gint k)
{
  gint n = (gint) p->size;
  if (i < 0 || j < 0 || k < 0 || i >= n || j >= n || k >= n)
    return SYNTH_AIR;
  return p->label[((gsize) k * n + j) * n + i];
}

/* ---- rendered data ----------------------------------------------------- */

typedef struct {
  guint nx, ny, nz;
  gdouble spacing[3]; /* mm */
  gint16 *data;       /* x fastest */
} SynthVolume;

void synth_volume_clear (SynthVolume *volume);

typedef struct {
  guint width, height;
  guint bit_depth;     /* 8 or 16, grey */
  gdouble spacing_mm;
  guint8 *data8;       /* bit_depth 8 */
  guint16 *data16;     /* bit_depth 16 */
} SynthImage;

void synth_image_clear (SynthImage *image);

typedef struct {
  guint width, height, n_frames;
  guint fps;
  guint8 *rgb;         /* n_frames × height × width × 3 */
} SynthVideo;

void synth_video_clear (SynthVideo *video);

/* ---- renderers: (transfer full) results in the out-argument ------------- */

/* render-volume.c */
void synth_render_ct (const SynthPhantom *phantom, GRand *rng, SynthVolume *out);
void synth_render_mri (const SynthPhantom *phantom, GRand *rng, SynthVolume *out);
/* render-xray.c */
void synth_render_xray (const SynthPhantom *phantom, GRand *rng, SynthImage *out);
/* render-ultrasound.c: a still, or a cine sweep of @n_frames grey frames (as RGB) */
void synth_render_ultrasound (const SynthPhantom *phantom, GRand *rng, SynthImage *out);
void synth_render_ultrasound_cine (const SynthPhantom *phantom, GRand *rng, guint n_frames,
                                   SynthVideo *out);

/* render-endoscopy.c */
typedef enum {
  SYNTH_ESOPHAGUS, SYNTH_STOMACH, SYNTH_DUODENUM, SYNTH_COLON,
  SYNTH_N_SITES
} SynthSite;

const gchar *synth_site_name (SynthSite site);
void synth_render_endoscopy (SynthSite site, guint size, guint n_frames, GRand *rng,
                             SynthVideo *out);

/* ---- writers: each writes to a temporary name in the same folder and renames */

gboolean synth_write_png (const gchar *path, const SynthImage *image, GError **error);
gboolean synth_write_nifti (const gchar *path, const SynthVolume *volume, GError **error);

typedef struct {
  const gchar *encoder;   /* "libx264" or "mpeg4" */
  const gchar *muxer;     /* "mp4" or "avi" */
  const gchar *extension; /* ".mp4" or ".avi" */
  const gchar *name;      /* "h264" or "mpeg4", for the report */
} SynthVideoCodec;

/* Finds the encoder for @want ("h264" or "mpeg4"); NULL: libx264 when this
 * FFmpeg has it, else mpeg4. */
gboolean synth_video_codec_find (const gchar *want, SynthVideoCodec *codec, GError **error);
gboolean synth_write_video (const gchar *path, const SynthVideoCodec *codec,
                            const SynthVideo *video, GError **error);

/* Returns: (transfer full) "FOLDER/.tmp-NAME" for @path, keeping its extension. */
gchar *synth_temp_path (const gchar *path);
/* Renames @tmp onto @path; on failure removes @tmp and sets @error. */
gboolean synth_commit_file (const gchar *tmp, const gchar *path, GError **error);

/* ---- manifest (manifest.c) --------------------------------------------- */

typedef struct {
  gchar *path; /* relative to the dataset folder */
  M3retSynthModality modality;
  const gchar *label;
  gboolean query;
} SynthEntry;

void synth_entry_free (SynthEntry *entry);
/* Writes manifest.csv, query.csv and database.csv in @dir for @entries (SynthEntry). */
gboolean synth_manifest_write (const gchar *dir, const GPtrArray *entries, GError **error);

/* ---- random helpers (synth.c) ------------------------------------------ */

/* Returns: (transfer full) the generator for one stream of one sample. */
GRand *synth_rng_new (guint64 seed, guint stream, guint klass, guint index);
gdouble synth_uniform (GRand *rng, gdouble lo, gdouble hi);
gdouble synth_normal (GRand *rng, gdouble mean, gdouble sd);
/* Zero mean, unit variance, nearly Gaussian and cheap: for per-voxel noise. */
gdouble synth_noise (GRand *rng);

#endif
