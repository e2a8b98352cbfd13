/* m3ret-synth.h — the synthetic labelled multi-modality dataset generator.
 *
 * A small library of 3D anatomical phantoms (head, chest, abdomen, pelvis,
 * knee), each sample a fresh random instance (size, pose, tissue values,
 * lesions), rendered the way each modality sees it: CT and MRI volumes
 * (NIfTI), X-ray projections and ultrasound fans (PNG), and endoscopy videos
 * through a lumen of one of four sites (esophagus, stomach, duodenum, colon).
 *
 * Layout: DIR/MODALITY/LABEL_NNN.EXT with MODALITY one of xray (16-bit grey
 * PNG), ultrasound (8-bit grey PNG, or a cine clip), endoscopy (RGB video),
 * ct and mri (int16 .nii.gz, slices twice as thick as the pixels); LABEL is
 * the body region for xray, ultrasound, ct and mri, and the site for
 * endoscopy. Sample NNN of a region is one patient seen by each modality.
 * DIR/manifest.csv lists them all (path,modality,label,split, paths relative
 * to DIR); DIR/query.csv and DIR/database.csv split them for evaluation.
 *
 * Randomness is GLib's GRand (Mersenne Twister), seeded explicitly for every
 * sample from (seed, stream, class, index), so a file depends on nothing but
 * the arguments: the same arguments give byte-identical files, whatever
 * subset of modalities is asked for. Files are written through libm3ret's
 * crash-safe writes; the generator itself is not part of libm3ret, and the
 * m3ret command runs it as the program m3ret-synth.
 */
#ifndef M3RET_SYNTH_H
#define M3RET_SYNTH_H

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  M3RET_SYNTH_XRAY,
  M3RET_SYNTH_ULTRASOUND,
  M3RET_SYNTH_ENDOSCOPY,
  M3RET_SYNTH_CT,
  M3RET_SYNTH_MRI,
  M3RET_SYNTH_N_MODALITIES
} M3retSynthModality;

#define M3RET_SYNTH_ALL_MODALITIES ((1u << M3RET_SYNTH_N_MODALITIES) - 1)

#define M3RET_SYNTH_ERROR (m3ret_synth_error_quark ())
typedef enum {
  M3RET_SYNTH_ERROR_ARGUMENT, /* an option out of range or unknown */
  M3RET_SYNTH_ERROR_IO,       /* a folder or file could not be written */
  M3RET_SYNTH_ERROR_CODEC,    /* no usable video encoder, or encoding failed */
} M3retSynthError;
GQuark m3ret_synth_error_quark (void);

typedef struct {
  const gchar *out_dir;   /* created if missing; existing files of the same name are replaced */
  guint per_class;        /* samples per label and modality, >= 1 */
  guint size;             /* image side in pixels, a multiple of 16 in [32, 512] */
  guint64 seed;
  guint modalities;       /* bit (1 << M3RET_SYNTH_*) for each modality to write */
  guint frames;           /* frames per video, in [2, 256] */
  guint cine;             /* per ultrasound class, the last @cine samples are cine clips, not stills */
  gdouble query_fraction; /* share of each class (per modality) put in the query split */
  const gchar *video_codec; /* "h264" (.mp4), "mpeg4" (.avi), or NULL: h264 where libx264 is there */
} M3retSynthOptions;

/* Fills @opts with the defaults: 8 per class, size 64, seed 0, every
 * modality, 16 frames, no ultrasound cine, 20% queries; out_dir NULL. */
void m3ret_synth_options_init (M3retSynthOptions *opts);

typedef struct {
  guint n_files;           /* media files written (manifests not counted) */
  const gchar *video_codec; /* "h264" or "mpeg4"; NULL when no video was written */
} M3retSynthReport;

/* Returns: the modality's manifest name ("xray", ...), static. */
const gchar *m3ret_synth_modality_name (M3retSynthModality modality);

/* Parses a comma-separated list of modality names into a bit mask. */
gboolean m3ret_synth_parse_modalities (const gchar *list, guint *mask, GError **error);

/* Writes the dataset and DIR/manifest.csv (path,modality,label,split),
 * DIR/query.csv and DIR/database.csv (path,modality,label). Every file is
 * written under a temporary name and renamed. @report may be NULL. */
gboolean m3ret_synth_run (const M3retSynthOptions *opts, M3retSynthReport *report,
                          GError **error);

G_END_DECLS

#endif
