/* kinds.c — names of plugin kinds and key types, for messages and lookups. */
#include "config.h"

#include <string.h>

#include "m3ret-plugin.h"

static const gchar *const kind_names[M3RET_PLUGIN_N_KINDS] = {
  [M3RET_PLUGIN_MODALITY] = "modality",
  [M3RET_PLUGIN_OBJECTIVE] = "objective",
  [M3RET_PLUGIN_BACKEND] = "backend",
  [M3RET_PLUGIN_RETRIEVER] = "retriever",
};

const gchar *
m3ret_plugin_kind_to_string (M3retPluginKind kind)
{
  return (guint) kind < M3RET_PLUGIN_N_KINDS ? kind_names[kind] : "unknown";
}

gboolean
m3ret_plugin_kind_from_string (const gchar *str, M3retPluginKind *kind)
{
  for (guint i = 0; str != NULL && i < M3RET_PLUGIN_N_KINDS; i++)
    if (strcmp (str, kind_names[i]) == 0) {
      *kind = (M3retPluginKind) i;
      return TRUE;
    }
  return FALSE;
}

const gchar *
m3ret_key_type_name (M3retKeyType type)
{
  switch (type) {
  case M3RET_KEY_INT: return "int";
  case M3RET_KEY_DOUBLE: return "double";
  case M3RET_KEY_BOOL: return "bool";
  case M3RET_KEY_STRING: return "string";
  case M3RET_KEY_ENUM: return "enum";
  case M3RET_KEY_INT_LIST: return "int list";
  case M3RET_KEY_DOUBLE_LIST: return "double list";
  case M3RET_KEY_PLUGIN: return "plugin";
  case M3RET_KEY_WEIGHTS: return "weights";
  }
  return "unknown";
}
