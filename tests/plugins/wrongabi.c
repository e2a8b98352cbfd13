/* wrongabi.c — claims a minor newer than the core: refused with ABI_MISMATCH. */
#include "test-plugins.h"

G_MODULE_EXPORT const M3retPluginDesc *m3ret_plugin_testwrongabi_get_desc (void);

const M3retPluginDesc *
m3ret_plugin_testwrongabi_get_desc (void)
{
  static const M3retPluginDesc desc = {
    M3RET_ABI_MAJOR, M3RET_ABI_MINOR + 1, M3RET_PLUGIN_MODALITY, "testwrongabi", "1.0",
    "from the future", "MIT", NULL, NULL, &test_modality_vtable, { NULL }
  };
  return &desc;
}
