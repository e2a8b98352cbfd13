/* limits.c — input size limits, compared before anything is allocated. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "m3ret-fileio.h"
#include "m3ret-limits.h"
#include "m3ret-pipeline.h"
#include "m3ret-sample.h"
#include "m3ret-settings.h"

void
m3ret_limits_init (M3retLimits *limits, const M3retDataSettings *data)
{
  if (data == NULL) {
    m3ret_limits_init_default (limits);
    return;
  }
  memset (limits, 0, sizeof *limits);
  limits->max_file_size = (guint64) data->max_file_size;
  limits->max_pixels = (guint64) data->max_pixels;
  limits->max_voxels = (guint64) data->max_voxels;
  limits->max_frames = (guint64) data->max_frames;
}

void
m3ret_limits_init_default (M3retLimits *limits)
{
  /* The one declaration of the keys holds the defaults. */
  const M3retKeySpec *keys = m3ret_pipeline_core_keys ("data");
  g_autoptr (M3retConfig) config = m3ret_config_new_defaults ("data", keys, NULL);
  M3retDataSettings data;
  gboolean filled = config != NULL && m3ret_config_fill (config, keys, &data, NULL);
  g_assert (filled);
  m3ret_limits_init (limits, &data);
}

gboolean
m3ret_limits_check_file (const M3retLimits *limits, const gchar *path, GError **error)
{
  GStatBuf st;
  GError *local = NULL;
  if (!m3ret_file_check_readable (path, &local) || g_stat (path, &st) != 0) {
    /* A data error, so that on_error=skip can leave the entry out. */
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO, "%s",
                 local ? local->message : path);
    g_clear_error (&local);
    return FALSE;
  }
  if (!S_ISREG (st.st_mode)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO, "%s: %s", path,
                 S_ISDIR (st.st_mode) ? "is a folder, not a file" : "not a regular file");
    return FALSE;
  }
  if ((guint64) st.st_size > limits->max_file_size) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE,
                 "%s: file of %" G_GUINT64_FORMAT " bytes exceeds [data] max_file_size=%"
                 G_GUINT64_FORMAT, path, (guint64) st.st_size, limits->max_file_size);
    return FALSE;
  }
  return TRUE;
}

gboolean
m3ret_limits_is_folder_input (const gchar *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return TRUE;
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return FALSE;
  const gchar *hash = strrchr (path, '#');
  if (hash == NULL || hash == path || hash[1] == '\0')
    return FALSE;
  g_autofree gchar *folder = g_strndup (path, (gsize) (hash - path));
  return g_file_test (folder, G_FILE_TEST_IS_DIR);
}

gboolean
m3ret_limits_check_input (const M3retLimits *limits, const gchar *path, GError **error)
{
  if (!m3ret_limits_is_folder_input (path))
    return m3ret_limits_check_file (limits, path, error);
  const gchar *hash = g_file_test (path, G_FILE_TEST_IS_DIR) ? NULL : strrchr (path, '#');
  g_autofree gchar *folder = hash ? g_strndup (path, (gsize) (hash - path)) : g_strdup (path);
  if (g_access (folder, R_OK | X_OK) != 0) {
    int saved = errno;
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO, "%s: %s", folder,
                 m3ret_file_reason (saved));
    return FALSE;
  }
  return TRUE;
}

gboolean
m3ret_limits_check_frame (const M3retLimits *limits, const gchar *path, const gchar *what,
                          guint64 width, guint64 height, GError **error)
{
  if (width == 0 || height == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: %s of %" G_GUINT64_FORMAT "×%" G_GUINT64_FORMAT " pixels is empty", path,
                 what, width, height);
    return FALSE;
  }
  guint64 pixels;
  if (!g_uint64_checked_mul (&pixels, width, height) || pixels > limits->max_pixels) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE,
                 "%s: %s of %" G_GUINT64_FORMAT "×%" G_GUINT64_FORMAT " pixels exceeds [data] "
                 "max_pixels=%" G_GUINT64_FORMAT, path, what, width, height, limits->max_pixels);
    return FALSE;
  }
  return TRUE;
}

gboolean
m3ret_limits_check_volume (const M3retLimits *limits, const gchar *path, guint64 nx, guint64 ny,
                           guint64 nz, GError **error)
{
  if (nx == 0 || ny == 0 || nz == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: volume of %" G_GUINT64_FORMAT "×%" G_GUINT64_FORMAT "×%" G_GUINT64_FORMAT
                 " voxels is empty", path, nx, ny, nz);
    return FALSE;
  }
  guint64 plane, voxels;
  if (!g_uint64_checked_mul (&plane, nx, ny) || !g_uint64_checked_mul (&voxels, plane, nz) ||
      voxels > limits->max_voxels) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE,
                 "%s: volume of %" G_GUINT64_FORMAT "×%" G_GUINT64_FORMAT "×%" G_GUINT64_FORMAT
                 " voxels exceeds [data] max_voxels=%" G_GUINT64_FORMAT, path, nx, ny, nz,
                 limits->max_voxels);
    return FALSE;
  }
  return TRUE;
}

gboolean
m3ret_limits_check_frames (const M3retLimits *limits, const gchar *path, guint64 frames,
                           GError **error)
{
  if (frames > limits->max_frames) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE,
                 "%s: video of %" G_GUINT64_FORMAT " frames or more exceeds [data] max_frames=%"
                 G_GUINT64_FORMAT, path, frames, limits->max_frames);
    return FALSE;
  }
  return TRUE;
}
