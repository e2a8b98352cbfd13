/* pipeline-private.h — the core's group table, shared by pipeline*.c only. */
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

#endif
