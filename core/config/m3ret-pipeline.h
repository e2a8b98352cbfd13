/* m3ret-pipeline.h — a pipeline file, parsed and validated.
 *
 * Loading checks everything about the file itself: every group and key is
 * declared (by the core or by the plugin the group selects), values have
 * the declared type and range, plugin names resolve in the registry, and
 * the relations between core keys hold (the tubelet tiles the grid, the
 * weights name modalities, the warm-up fits the run).  What needs the
 * plugins' own checks or the data is m3ret-validate.h's.  Errors name the file, the line, the key and what is
 * allowed.  Defaults are filled and logged once.
 */
#ifndef M3RET_PIPELINE_H
#define M3RET_PIPELINE_H

#include <glib.h>

#include "m3ret-config.h"
#include "m3ret-registry.h"
#include "m3ret-settings.h"

G_BEGIN_DECLS

typedef struct _M3retPipeline M3retPipeline;

/* Returns: (transfer full) the validated pipeline, or NULL with @error in
 * M3RET_CONFIG_ERROR (or G_FILE_ERROR when @path cannot be read). */
M3retPipeline *m3ret_pipeline_load (M3retRegistry *registry, const gchar *path, GError **error);

/* Same, from text; @source names it in messages and relative paths resolve
 * against @base_dir (NULL: the current folder). */
M3retPipeline *m3ret_pipeline_load_data (M3retRegistry *registry, const gchar *text, gssize length,
                                         const gchar *source, const gchar *base_dir,
                                         GError **error);
void m3ret_pipeline_free (M3retPipeline *pipeline);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retPipeline, m3ret_pipeline_free)

/* (transfer none) one of the fixed groups: pipeline, input, encoder,
 * objective, data, train, retriever. For groups that select a plugin the
 * config also holds that plugin's keys. */
M3retConfig *m3ret_pipeline_get_config (const M3retPipeline *pipeline, const gchar *group);

/* (transfer none) the config of modality plugin @name: its [modality NAME]
 * group, or its defaults when the file has none; NULL if no such plugin. */
M3retConfig *m3ret_pipeline_get_modality_config (const M3retPipeline *pipeline,
                                                 const gchar *name);

/* (transfer none) the plugin chosen for a kind that has one per pipeline
 * (backend, objective, retriever). */
const M3retPlugin *m3ret_pipeline_get_plugin (const M3retPipeline *pipeline, M3retPluginKind kind);

/* (transfer none) the typed core groups of @pipeline, valid while it is. */
const M3retSettings *m3ret_pipeline_get_settings (const M3retPipeline *pipeline);

/* The file's text as read, for checkpoint metadata. */
const gchar *m3ret_pipeline_get_text (const M3retPipeline *pipeline);
const gchar *m3ret_pipeline_get_source (const M3retPipeline *pipeline);

/* Returns: (transfer full) @path made absolute against the pipeline's folder. */
gchar *m3ret_pipeline_resolve_path (const M3retPipeline *pipeline, const gchar *path);

/* Returns: (transfer none) "group.key=value" for each key that took its
 * default, in file order of groups. */
const GPtrArray *m3ret_pipeline_get_defaulted (const M3retPipeline *pipeline);

/* Checks a run of the pipeline's [train] steps (@given_by NULL) or of
 * @steps given elsewhere (@given_by names where, e.g. "--steps"): at least
 * one step, and a warm-up no longer than the run.  Loading checks the
 * file's own steps; a command that overrides them calls this.  Errors name
 * the file, the line and the key, or @given_by and @steps. */
gboolean m3ret_pipeline_check_run_length (const M3retPipeline *pipeline, gint64 steps,
                                          const gchar *given_by, GError **error);

/* The groups the core declares, in canonical order, NULL-terminated. */
const gchar *const *m3ret_pipeline_core_groups (void);
/* (transfer none) the core's keys of @group, or NULL. */
const M3retKeySpec *m3ret_pipeline_core_keys (const gchar *group);

G_END_DECLS

#endif /* M3RET_PIPELINE_H */
