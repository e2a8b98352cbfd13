/* attributes.c — the modality table's attribute and series_key entries
 * (ABI minor 9) for the plugins that read DICOM: what `m3ret manifest`
 * asks of a file it walked, answered from the header alone.
 *
 * Built on the public DICOM calls only (m3ret_readers_dicom_attribute),
 * so a plugin out of the tree answers as the bundled ones do.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "readers-private.h"

#define DICOM_SCHEME "dicom:"

gchar *
m3ret_readers_attribute (gpointer self, const gchar *path, const gchar *name, GError **error)
{
  if (name == NULL || !g_str_has_prefix (name, DICOM_SCHEME)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "attribute '%s': the readers library reads DICOM attributes only, named "
                 "dicom:KEYWORD (e.g. dicom:BodyPartExamined)", name ? name : "");
    return NULL;
  }
  const gchar *keyword = name + strlen (DICOM_SCHEME);
  if (!m3ret_readers_dicom_keyword_known (keyword)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "attribute '%s': '%s' is not a keyword of the DICOM dictionary (keywords are "
                 "spelt as the standard's, e.g. BodyPartExamined, StudyDescription)", name,
                 keyword);
    return NULL;
  }
  /* Files of other formats have no DICOM attributes; a series is asked
   * through one of its files. */
  if (path == NULL || m3ret_readers_dicom_series_path (path, NULL, NULL)
      || !m3ret_readers_dicom_sniff_file (path))
    return g_strdup ("");
  return m3ret_readers_dicom_attribute (path, keyword, error);
}

/* The Series Instance UID of the DICOM file @path, or NULL. */
static gchar *
series_uid (const gchar *path)
{
  if (m3ret_readers_dicom_series_path (path, NULL, NULL) || !m3ret_readers_dicom_sniff_file (path))
    return NULL;
  gchar *uid = m3ret_readers_dicom_attribute (path, "SeriesInstanceUID", NULL);
  if (uid != NULL && *uid == '\0')
    g_clear_pointer (&uid, g_free);
  return uid;
}

gchar *
m3ret_readers_volume_series_key (gpointer self, const gchar *path, gboolean *joins)
{
  *joins = FALSE;
  gchar *uid = series_uid (path);
  if (uid == NULL)
    return NULL;
  /* One slice per file joins its series; a multi-frame object is a volume
   * by itself (an enhanced CT or MR). */
  g_autofree gchar *frames = m3ret_readers_dicom_attribute (path, "NumberOfFrames", NULL);
  *joins = frames == NULL || *frames == '\0' || strtol (frames, NULL, 10) <= 1;
  return uid;
}

gchar *
m3ret_readers_still_series_key (gpointer self, const gchar *path, gboolean *joins)
{
  *joins = FALSE;
  return series_uid (path);
}
