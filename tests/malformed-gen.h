/* malformed-gen.h — broken files of every format m3ret reads, one kind per case.
 *
 * Each case writes one file (its name gives the extension) and says which
 * command reads it and what the one error line must mention.  Cases that
 * corrupt a valid file start from the good files in the context.
 */
#ifndef M3RET_MALFORMED_GEN_H
#define M3RET_MALFORMED_GEN_H

#include <glib.h>

G_BEGIN_DECLS

/* The [data] limits every case runs under: small, so that small files can
 * be "too large" (see README: Input limits). */
#define MG_LIMITS "max_file_size=400000\nmax_pixels=60000\nmax_voxels=100000\nmax_frames=8\n"

/* Which command reads a case's file. */
typedef enum {
  MG_IMAGE,      /* a data file (modality below): `inspect`, then `embed` of a manifest of it */
  MG_MANIFEST,   /* `embed --manifest FILE` */
  MG_TRAIN,      /* `train` of a pipeline whose [data] train= is FILE */
  MG_PIPELINE,   /* `validate FILE` (every command loads pipelines the same way) */
  MG_CHECKPOINT, /* `embed --checkpoint FILE` of a good manifest */
  MG_EMBEDDINGS, /* `index --embeddings FILE` */
  MG_INDEX,      /* `query --index FILE` of a good image */
  MG_EVAL        /* `eval --query FILE --database` a good manifest */
} MgKind;

/* Good files the cases start from (absolute paths). */
typedef struct {
  const gchar *dir;        /* where the cases are written */
  const gchar *png;        /* 16×16 16-bit grey, xray */
  const gchar *nifti;      /* 8×8×6 int16 .nii.gz, ct */
  const gchar *nifti_raw;  /* 8×8×6 int16 .nii (uncompressed), ct */
  const gchar *video;      /* 16×16, 6 frames, ffv1 .mkv, endoscopy */
  const gchar *index;      /* a flat index of 4 rows of 64 (written by `m3ret index`) */
} MgContext;

typedef struct {
  const gchar *name;      /* the file written, in ctx->dir */
  MgKind kind;
  const gchar *modality;  /* MG_IMAGE: the manifest's modality column */
  const gchar *reason;    /* the error line contains it */
  void (*write) (const MgContext *ctx, const gchar *path);
} MgCase;

/* (transfer none) the cases, *n_cases of them. */
const MgCase *mg_cases (guint *n_cases);

/* Writes the good files of @ctx into @dir (all but the index, which takes
 * the m3ret command) and fills their paths; free with mg_context_clear(). */
void mg_context_init (MgContext *ctx, const gchar *dir);
void mg_context_clear (MgContext *ctx);

G_END_DECLS

#endif /* M3RET_MALFORMED_GEN_H */
