/* m3ret-modalities.h — one configured instance of every modality plugin.
 *
 * The loader, `m3ret inspect` and the embedding commands read files through
 * this set: it creates each modality plugin from its [modality NAME] group,
 * probes files (highest score wins; ties go to the name first in
 * alphabetical order), and forwards reads to the right plugin.  Modality
 * names are matched without regard to case ("XRay" is xray).
 */
#ifndef M3RET_MODALITIES_H
#define M3RET_MODALITIES_H

#include <glib.h>

#include "m3ret-limits.h"
#include "m3ret-pipeline.h"
#include "m3ret-plugin.h"
#include "m3ret-registry.h"
#include "m3ret-sample.h"

G_BEGIN_DECLS

/* The one definition of a probe that guesses: the runner-up's score (above
 * 0) is within this many points (of 100) of the winner's.  E.g. an 8-bit
 * grey PNG scores ultrasound 60, xray 40; a NIfTI file ct 60, mri 40. */
#define M3RET_PROBE_CLOSE_MARGIN 20

typedef struct _M3retModalities M3retModalities;

/* Returns: (transfer full) instances of every modality plugin in @registry,
 * configured from @pipeline (NULL: every plugin's defaults), each given the
 * pipeline's [data] limits (m3ret-limits.h), which read and inspect also
 * apply to the file's size before the plugin opens it; NULL with
 * @error when a plugin refuses its configuration.  @registry must outlive it. */
M3retModalities *m3ret_modalities_new (M3retRegistry *registry, const M3retPipeline *pipeline,
                                       GError **error);
void m3ret_modalities_free (M3retModalities *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retModalities, m3ret_modalities_free)

guint m3ret_modalities_count (const M3retModalities *set);
/* (transfer none) the name of modality @i, in alphabetical order. */
const gchar *m3ret_modalities_name (const M3retModalities *set, guint i);
/* Whether @name (any case) is one of the set's modalities. */
gboolean m3ret_modalities_has (const M3retModalities *set, const gchar *name);
/* Returns: (transfer none) the set's own spelling of @name (any case:
 * "XRay" gives "xray"), or NULL when there is no such modality. */
const gchar *m3ret_modalities_lookup (const M3retModalities *set, const gchar *name);
/* Returns: (transfer full) every modality name, e.g. "ct, endoscopy, mri". */
gchar *m3ret_modalities_list_names (const M3retModalities *set);
/* m3ret_modalities_lookup(), or NULL with @error (M3RET_DATA_ERROR_NO_PLUGIN)
 * "unknown modality 'NAME' (valid: ct, endoscopy, ...)"; callers prefix
 * where the name came from (a flag, a manifest line). */
const gchar *m3ret_modalities_check_name (const M3retModalities *set, const gchar *name,
                                          GError **error);
/* (transfer none) the limits every read goes by. */
const M3retLimits *m3ret_modalities_get_limits (const M3retModalities *set);

/* Probes @path with every modality.  Returns: (transfer none) the name of the
 * best-scoring one, or NULL with @error (M3RET_DATA_ERROR_IO when the file
 * cannot be read or is a folder, M3RET_DATA_ERROR_NO_PLUGIN when every
 * score is 0).  @score (optional) receives the winner's score; @scores
 * (optional, one per modality in index order) every score. */
const gchar *m3ret_modalities_probe (const M3retModalities *set, const gchar *path, guint *score,
                                     guint *scores, GError **error);

/* Whether @scores (one per modality, as m3ret_modalities_probe() fills
 * them) are close: the best two within M3RET_PROBE_CLOSE_MARGIN, the
 * second above 0, so the winner is a guess. */
gboolean m3ret_modalities_scores_close (const M3retModalities *set, const guint *scores);

/* Returns: (transfer full) the line that tells the user the probe guessed
 * for @path, or NULL when @scores are not close, e.g.
 * "a.png: probed as ultrasound, but the scores are close (ultrasound 60,
 * xray 40): give -m/--modality NAME or a 'modality' column in the manifest
 * to decide" (@path NULL: the same without "a.png: ").  Every modality
 * within the margin of the winner is named, best first. */
gchar *m3ret_modalities_close_notice (const M3retModalities *set, const gchar *path,
                                      const guint *scores);

/* The token layout @path will have under modality @name.  In this and the
 * calls below @name may be spelt in any case; an unknown one fails, the
 * message listing the valid ones. */
gboolean m3ret_modalities_layout (const M3retModalities *set, const gchar *name,
                                  const gchar *path, M3retLayout *layout, GError **error);

/* Reads @path with modality @name into one sample per view (see the read()
 * entry of m3ret-modality.h); checks the grid the plugin returns. */
gboolean m3ret_modalities_read (const M3retModalities *set, const gchar *name, const gchar *path,
                                const M3retView *views, guint n_views, M3retSample **out,
                                GError **error);

/* Fills @info (zeroed here first) through the plugin's inspect entry. */
gboolean m3ret_modalities_inspect (const M3retModalities *set, const gchar *name,
                                   const gchar *path, M3retInspectInfo *info, GError **error);

/* ---- what `m3ret manifest` asks (the plugins' attribute and series_key
 * entries, ABI minor 9; plugins without them answer nothing) ---- */

/* Whether some modality reads header attribute @name ("dicom:BodyPartExamined");
 * FALSE with @error saying why not (an unknown keyword, no plugin that reads
 * attributes). */
gboolean m3ret_modalities_attribute_known (const M3retModalities *set, const gchar *name,
                                           GError **error);
/* Returns: (transfer full) the value of @attribute of @path as modality @name
 * reads it ("" when the file has none, or the plugin reads no attributes),
 * or NULL with @error. */
gchar *m3ret_modalities_attribute (const M3retModalities *set, const gchar *name,
                                   const gchar *path, const gchar *attribute, GError **error);
/* Returns: (transfer full) the key of the series @path belongs to under
 * modality @name, or NULL; *@joins: whether the files of one key in one
 * folder make one input (see series_key in m3ret-modality.h). */
gchar *m3ret_modalities_series_key (const M3retModalities *set, const gchar *name,
                                    const gchar *path, gboolean *joins);

G_END_DECLS

#endif /* M3RET_MODALITIES_H */
