/* missing.c — a modality without its mandatory probe: refused with MISSING_ENTRY. */
#include "test-plugins.h"

static const M3retModalityVTable vtable = {
  .create = test_create,
  .destroy = g_free,
  .probe = NULL,
  .layout = test_layout,
  .read = test_read,
};

M3RET_PLUGIN_DEFINE (testmissing, M3RET_PLUGIN_MODALITY, "1.0", "no probe", "MIT", NULL, NULL,
                     &vtable)
