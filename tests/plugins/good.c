/* good.c — a well-formed test plugin: loads. */
#include "test-plugins.h"

static const M3retKeySpec keys[] = {
  M3RET_KEY_DOUBLE_SPEC ("gain", "1.0", 0, 10, "a test key"),
  M3RET_KEY_END
};

M3RET_PLUGIN_DEFINE (testgood, M3RET_PLUGIN_MODALITY, "1.2.3", "a plugin that loads", "MIT", keys,
                     NULL, &test_modality_vtable)
