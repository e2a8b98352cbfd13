/* pipeline-private.h — the core's group table and what pipeline*.c,
 * relations.c and validate.c share. */
#ifndef M3RET_PIPELINE_PRIVATE_H
#define M3RET_PIPELINE_PRIVATE_H

#include "m3ret-pipeline.h"

typedef struct {
  const gchar *name;
  const M3retKeySpec *keys;
  const gchar *plugin_key;      /* key selecting a plugin whose keys join the group, or NULL */
  M3retPluginKind plugin_kind;
  gsize settings_offset;        /* where the group's struct sits in M3retSettings */
} CoreGroup;

const CoreGroup *m3ret_pipeline_core_group (const gchar *name);

/* Returns: (transfer full) "FILE:LINE" where [@group] @key is set (the
 * group's line when it took its default), "FILE" when the file has
 * neither: the place a message about the key names. */
gchar *m3ret_pipeline_where (const M3retPipeline *p, const gchar *group, const gchar *key);

/* relations.c: the relations between core keys (the tubelet tiles the
 * grid, the run length), on the settings; the loader calls it once they
 * are filled.  FALSE with a M3RET_CONFIG_ERROR naming FILE:LINE and keys. */
gboolean m3ret_pipeline_check_relations (const M3retPipeline *p, GError **error);

#endif
