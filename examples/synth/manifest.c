/* manifest.c — the dataset's index files.
 *
 * manifest.csv lists every file with its split; query.csv and database.csv
 * hold the two halves of an evaluation, in the project's manifest format
 * (path,modality,label, paths relative to the file's folder), each written
 * crash-safely (temporary, fsync, rename).
 */
#include "config.h"

#include "m3ret-fileio.h"
#include "synth-private.h"

void
synth_entry_free (SynthEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->path);
  g_free (entry);
}

static gboolean
save (const gchar *dir, const gchar *name, const GString *text, GError **error)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  GError *local = NULL;
  if (!m3ret_file_write_atomic (path, text->str, (gssize) text->len, &local)) {
    g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_IO, "%s", local->message);
    g_error_free (local);
    return FALSE;
  }
  return TRUE;
}

gboolean
synth_manifest_write (const gchar *dir, const GPtrArray *entries, GError **error)
{
  g_autoptr (GString) all = g_string_new ("path,modality,label,split\n");
  g_autoptr (GString) query = g_string_new ("path,modality,label\n");
  g_autoptr (GString) database = g_string_new ("path,modality,label\n");
  for (guint i = 0; i < entries->len; i++) {
    const SynthEntry *e = entries->pdata[i];
    const gchar *modality = m3ret_synth_modality_name (e->modality);
    g_string_append_printf (all, "%s,%s,%s,%s\n", e->path, modality, e->label,
                            e->query ? "query" : "database");
    g_string_append_printf (e->query ? query : database, "%s,%s,%s\n", e->path, modality, e->label);
  }
  return save (dir, "manifest.csv", all, error) && save (dir, "query.csv", query, error) &&
         save (dir, "database.csv", database, error);
}
