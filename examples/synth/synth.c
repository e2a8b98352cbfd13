/* synth.c — options, seeding, and the walk over classes and modalities.
 *
 * One anatomy instance per (region, index) is drawn from its own generator
 * and rendered by every body-region modality, so ct/chest_003.nii.gz,
 * mri/chest_003.nii.gz, xray/chest_003.png and ultrasound/chest_003.png show
 * the same patient; each rendering draws its noise from a generator of its
 * own. Endoscopy clips have their own site labels. Files are named
 * MODALITY/LABEL_NNN.EXT; the first round(query_fraction·N) of each class
 * (at least one when N ≥ 2) form the query split, and with --cine C the last
 * C ultrasound samples of each class are cine clips instead of stills.
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "synth-private.h"

G_DEFINE_QUARK (m3ret-synth-error-quark, m3ret_synth_error)

/* Generator streams: one per modality for rendering noise, and the anatomy. */
enum { STREAM_ANATOMY = M3RET_SYNTH_N_MODALITIES };

static const gchar *const modality_names[M3RET_SYNTH_N_MODALITIES] = {
  [M3RET_SYNTH_XRAY] = "xray", [M3RET_SYNTH_ULTRASOUND] = "ultrasound",
  [M3RET_SYNTH_ENDOSCOPY] = "endoscopy", [M3RET_SYNTH_CT] = "ct", [M3RET_SYNTH_MRI] = "mri",
};

const gchar *
m3ret_synth_modality_name (M3retSynthModality modality)
{
  return modality < M3RET_SYNTH_N_MODALITIES ? modality_names[modality] : NULL;
}

void
m3ret_synth_options_init (M3retSynthOptions *opts)
{
  *opts = (M3retSynthOptions) { .out_dir = NULL, .per_class = 8, .size = 64, .seed = 0,
                                .modalities = M3RET_SYNTH_ALL_MODALITIES, .frames = 16, .cine = 0,
                                .query_fraction = 0.2, .video_codec = NULL };
}

gboolean
m3ret_synth_parse_modalities (const gchar *list, guint *mask, GError **error)
{
  g_auto (GStrv) names = g_strsplit (list, ",", -1);
  guint m = 0;
  for (guint i = 0; names[i] != NULL; i++) {
    const gchar *name = g_strstrip (names[i]);
    if (*name == '\0') {
      g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_ARGUMENT,
                   "an empty name in --modalities '%s'", list);
      return FALSE;
    }
    guint k;
    for (k = 0; k < M3RET_SYNTH_N_MODALITIES; k++)
      if (strcmp (name, modality_names[k]) == 0)
        break;
    if (k == M3RET_SYNTH_N_MODALITIES) {
      g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_ARGUMENT,
                   "unknown modality '%s' in --modalities (choose from xray, ultrasound, "
                   "endoscopy, ct, mri)", name);
      return FALSE;
    }
    m |= 1u << k;
  }
  if (m == 0) {
    g_set_error_literal (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_ARGUMENT,
                         "--modalities names no modality");
    return FALSE;
  }
  *mask = m;
  return TRUE;
}

GRand *
synth_rng_new (guint64 seed, guint stream, guint klass, guint index)
{
  guint32 key[5] = { (guint32) seed, (guint32) (seed >> 32), stream, klass, index };
  return g_rand_new_with_seed_array (key, G_N_ELEMENTS (key));
}

gdouble
synth_uniform (GRand *rng, gdouble lo, gdouble hi)
{
  return lo + (hi - lo) * g_rand_double (rng);
}

gdouble
synth_normal (GRand *rng, gdouble mean, gdouble sd)
{
  /* Box–Muller; 1 - u keeps the logarithm finite. */
  gdouble u = 1 - g_rand_double (rng), v = g_rand_double (rng);
  return mean + sd * sqrt (-2 * log (u)) * cos (2 * G_PI * v);
}

gdouble
synth_noise (GRand *rng)
{
  /* Irwin–Hall: four 16-bit uniforms summed, centred and scaled to unit variance. */
  guint32 a = g_rand_int (rng), b = g_rand_int (rng);
  gdouble sum = (a & 0xffff) + (a >> 16) + (b & 0xffff) + (b >> 16);
  return (sum / 65536.0 - 2) * 1.7320508075688772; /* sqrt (12 / 4) */
}

static gboolean
check_options (const M3retSynthOptions *o, GError **error)
{
  const gchar *bad = NULL;
  g_autofree gchar *msg = NULL;
  if (o->out_dir == NULL || *o->out_dir == '\0')
    bad = "--out DIR is required";
  else if (o->per_class < 1 || o->per_class > 100000)
    bad = msg = g_strdup_printf ("--per-class must be between 1 and 100000 (got %u)", o->per_class);
  else if (o->size < 32 || o->size > 512 || o->size % 16 != 0)
    bad = msg = g_strdup_printf ("--size must be a multiple of 16 between 32 and 512 (got %u)", o->size);
  else if (o->frames < 2 || o->frames > 256)
    bad = msg = g_strdup_printf ("--frames must be between 2 and 256 (got %u)", o->frames);
  else if (o->cine > o->per_class)
    bad = msg = g_strdup_printf ("--cine must not exceed --per-class (got %u > %u)", o->cine, o->per_class);
  else if ((o->modalities & M3RET_SYNTH_ALL_MODALITIES) == 0)
    bad = "no modality selected";
  else if (!(o->query_fraction >= 0 && o->query_fraction < 1))
    bad = "the query fraction must be in [0, 1)";
  if (bad != NULL)
    g_set_error_literal (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_ARGUMENT, bad);
  return bad == NULL;
}

static gboolean
make_dir (const gchar *path, GError **error)
{
  if (g_mkdir_with_parents (path, 0755) == 0 && g_access (path, W_OK) == 0)
    return TRUE;
  int saved = errno;
  g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_IO, "%s: cannot create a writable folder: %s",
               path, g_strerror (saved));
  return FALSE;
}

typedef struct {
  const M3retSynthOptions *opts;
  SynthVideoCodec codec;
  guint n_query;
  GPtrArray *rows[M3RET_SYNTH_N_MODALITIES]; /* SynthEntry, per modality in class order */
  guint n_files;
} Run;

/* Returns: (transfer full) DIR/MODALITY/LABEL_NNN.EXT; @rel gets the part after DIR/. */
static gchar *
sample_path (const Run *run, M3retSynthModality m, const gchar *label, guint index,
             const gchar *ext, gchar **rel)
{
  *rel = g_strdup_printf ("%s/%s_%03u%s", modality_names[m], label, index, ext);
  return g_build_filename (run->opts->out_dir, *rel, NULL);
}

static void
add_row (Run *run, M3retSynthModality m, gchar *rel, const gchar *label, guint index)
{
  SynthEntry *e = g_new0 (SynthEntry, 1);
  e->path = rel;
  e->modality = m;
  e->label = label;
  e->query = index < run->n_query;
  g_ptr_array_add (run->rows[m], e);
  run->n_files++;
}

/* Renders and writes modality @m of one anatomy instance. */
static gboolean
write_body_sample (Run *run, M3retSynthModality m, const SynthPhantom *phantom, guint index,
                   GError **error)
{
  const gchar *label = synth_region_name (phantom->region);
  const M3retSynthOptions *o = run->opts;
  g_autoptr (GRand) rng = synth_rng_new (o->seed, m, phantom->region, index);
  gboolean volume = m == M3RET_SYNTH_CT || m == M3RET_SYNTH_MRI;
  gboolean cine = m == M3RET_SYNTH_ULTRASOUND && index + o->cine >= o->per_class;
  gchar *rel;
  g_autofree gchar *path = sample_path (
    run, m, label, index, volume ? ".nii.gz" : cine ? run->codec.extension : ".png", &rel);
  gboolean ok;
  if (cine) {
    SynthVideo video = { 0 };
    synth_render_ultrasound_cine (phantom, rng, o->frames, &video);
    ok = synth_write_video (path, &run->codec, &video, error);
    synth_video_clear (&video);
  } else if (volume) {
    SynthVolume v = { 0 };
    if (m == M3RET_SYNTH_CT)
      synth_render_ct (phantom, rng, &v);
    else
      synth_render_mri (phantom, rng, &v);
    ok = synth_write_nifti (path, &v, error);
    synth_volume_clear (&v);
  } else {
    SynthImage image = { 0 };
    if (m == M3RET_SYNTH_XRAY)
      synth_render_xray (phantom, rng, &image);
    else
      synth_render_ultrasound (phantom, rng, &image);
    ok = synth_write_png (path, &image, error);
    synth_image_clear (&image);
  }
  if (ok)
    add_row (run, m, rel, label, index);
  else
    g_free (rel);
  return ok;
}

static gboolean
write_body_regions (Run *run, GError **error)
{
  static const M3retSynthModality body[] = { M3RET_SYNTH_XRAY, M3RET_SYNTH_ULTRASOUND,
                                             M3RET_SYNTH_CT, M3RET_SYNTH_MRI };
  const M3retSynthOptions *o = run->opts;
  guint wanted = 0;
  for (guint b = 0; b < G_N_ELEMENTS (body); b++)
    wanted |= o->modalities & (1u << body[b]);
  if (wanted == 0)
    return TRUE;
  for (guint r = 0; r < SYNTH_N_REGIONS; r++)
    for (guint i = 0; i < o->per_class; i++) {
      g_autoptr (GRand) rng = synth_rng_new (o->seed, STREAM_ANATOMY, r, i);
      SynthPhantom *phantom = synth_phantom_new (r, o->size, rng);
      for (guint b = 0; b < G_N_ELEMENTS (body); b++)
        if ((o->modalities & (1u << body[b])) &&
            !write_body_sample (run, body[b], phantom, i, error)) {
          synth_phantom_free (phantom);
          return FALSE;
        }
      synth_phantom_free (phantom);
    }
  return TRUE;
}

static gboolean
write_endoscopy (Run *run, GError **error)
{
  const M3retSynthOptions *o = run->opts;
  for (guint s = 0; s < SYNTH_N_SITES; s++)
    for (guint i = 0; i < o->per_class; i++) {
      const gchar *label = synth_site_name (s);
      g_autoptr (GRand) rng = synth_rng_new (o->seed, M3RET_SYNTH_ENDOSCOPY, s, i);
      SynthVideo video = { 0 };
      synth_render_endoscopy (s, o->size, o->frames, rng, &video);
      gchar *rel;
      g_autofree gchar *path = sample_path (run, M3RET_SYNTH_ENDOSCOPY, label, i, run->codec.extension, &rel);
      gboolean ok = synth_write_video (path, &run->codec, &video, error);
      synth_video_clear (&video);
      if (!ok) {
        g_free (rel);
        return FALSE;
      }
      add_row (run, M3RET_SYNTH_ENDOSCOPY, rel, label, i);
    }
  return TRUE;
}

gboolean
m3ret_synth_run (const M3retSynthOptions *opts, M3retSynthReport *report, GError **error)
{
  if (!check_options (opts, error))
    return FALSE;
  Run run = { .opts = opts };
  gboolean endoscopy = (opts->modalities & (1u << M3RET_SYNTH_ENDOSCOPY)) != 0;
  gboolean video = endoscopy || (opts->cine > 0 && (opts->modalities & (1u << M3RET_SYNTH_ULTRASOUND)));
  if (video && !synth_video_codec_find (opts->video_codec, &run.codec, error))
    return FALSE;
  if (opts->per_class >= 2)
    run.n_query = CLAMP ((guint) floor (opts->query_fraction * opts->per_class + 0.5), 1,
                         opts->per_class - 1);
  if (!make_dir (opts->out_dir, error))
    return FALSE;
  gboolean ok = TRUE;
  for (guint m = 0; m < M3RET_SYNTH_N_MODALITIES; m++) {
    run.rows[m] = g_ptr_array_new_with_free_func ((GDestroyNotify) synth_entry_free);
    if (ok && (opts->modalities & (1u << m))) {
      g_autofree gchar *dir = g_build_filename (opts->out_dir, modality_names[m], NULL);
      ok = make_dir (dir, error);
    }
  }
  ok = ok && write_body_regions (&run, error) && (!endoscopy || write_endoscopy (&run, error));
  if (ok) {
    g_autoptr (GPtrArray) all = g_ptr_array_new ();
    for (guint m = 0; m < M3RET_SYNTH_N_MODALITIES; m++)
      for (guint i = 0; i < run.rows[m]->len; i++)
        g_ptr_array_add (all, run.rows[m]->pdata[i]);
    ok = synth_manifest_write (opts->out_dir, all, error);
  }
  if (ok && report != NULL) {
    report->n_files = run.n_files;
    report->video_codec = video ? run.codec.name : NULL;
  }
  for (guint m = 0; m < M3RET_SYNTH_N_MODALITIES; m++)
    g_ptr_array_unref (run.rows[m]);
  return ok;
}
