/* fuzz-common.c — temporary files, the error contract and the registry for the fuzz targets. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "fuzz-common.h"

static gchar *temp_dir;
static gchar *temp_path;
static M3retRegistry *registry;

static void
cleanup (void)
{
  if (temp_path != NULL)
    g_unlink (temp_path);
  if (temp_dir != NULL)
    g_rmdir (temp_dir);
  g_clear_pointer (&temp_path, g_free);
  g_clear_pointer (&temp_dir, g_free);
  g_clear_pointer (&registry, m3ret_registry_free);
}

void
fuzz_init (void)
{
  static gboolean done;
  if (done)
    return;
  done = TRUE;
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  atexit (cleanup);
}

const gchar *
fuzz_temp_file (const uint8_t *data, size_t size, const gchar *name)
{
  fuzz_init ();
  if (temp_dir == NULL) {
    GError *error = NULL;
    temp_dir = g_dir_make_tmp ("m3ret-fuzz-XXXXXX", &error);
    if (temp_dir == NULL)
      g_error ("cannot make a temporary folder: %s", error->message);
  }
  if (temp_path != NULL)
    g_unlink (temp_path);
  g_free (temp_path);
  temp_path = g_build_filename (temp_dir, name, NULL);
  GError *error = NULL;
  if (!g_file_set_contents (temp_path, (const gchar *) data, size, &error))
    g_error ("cannot write %s: %s", temp_path, error->message);
  return temp_path;
}

void
fuzz_check_result (gboolean ok, GError *error, const gchar *name)
{
  if (ok && error == NULL)
    return;
  if (ok) {
    fprintf (stderr, "fuzz: success with an error set: %s\n", error->message);
    abort ();
  }
  if (error == NULL) {
    fprintf (stderr, "fuzz: refusal without a GError for %s\n", name);
    abort ();
  }
  if (strstr (error->message, name) == NULL || strchr (error->message, '\n') != NULL) {
    fprintf (stderr, "fuzz: the error is not one line naming %s: %s\n", name, error->message);
    abort ();
  }
  g_error_free (error);
}

const M3retLimits *
fuzz_limits (void)
{
  static M3retLimits limits;
  if (limits.max_pixels == 0) {
    m3ret_limits_init_default (&limits);
    limits.max_file_size = 16u << 20;
    limits.max_pixels = 1u << 20;
    limits.max_voxels = 1u << 20;
    limits.max_frames = 64;
  }
  return &limits;
}

M3retRegistry *
fuzz_registry (void)
{
  fuzz_init ();
  if (registry == NULL) {
    registry = m3ret_registry_new ();
    m3ret_registry_scan (registry, NULL);
  }
  return registry;
}
