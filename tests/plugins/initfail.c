/* initfail.c — init() refuses: INIT_FAILED, with the plugin's own reason. */
#include "test-plugins.h"

static gboolean
init (GError **error)
{
  g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "the license file is missing");
  return FALSE;
}

M3RET_PLUGIN_DEFINE (testinitfail, M3RET_PLUGIN_MODALITY, "1.0", "init fails", "MIT", NULL, init,
                     &test_modality_vtable)
