/* pipeline-doc.c — the key tables of docs/PIPELINE.md, from the key
 * declarations themselves.
 *
 *   pipeline-doc DOC.md     prints DOC.md with every generated table redone
 *
 * A table sits between `<!-- keys: [GROUP] -->` (a core group) or
 * `<!-- keys: plugin NAME -->` and `<!-- end keys -->`; everything else
 * is copied as it is.  Plugins come from the search path ($M3RET_PLUGIN_PATH:
 * `make check` and `make -C tests update-docs` give the build tree's).  It
 * fails when a core group or a loaded plugin has no table, or a table names
 * a group that does not exist; the table of a plugin this build lacks (torch
 * without libtorch) is kept as written.  test-docs compares its output with
 * the file, so the document cannot drift from what `m3ret plugins NAME` says.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "m3ret.h"

#define BEGIN "<!-- keys: "
#define END "<!-- end keys -->"

/* @text with every '|' escaped, for a table cell. */
static void
append_cell (GString *out, const gchar *text, gboolean code)
{
  g_string_append (out, code ? " `" : " ");
  for (const gchar *c = text; *c; c++) {
    if (*c == '|')
      g_string_append_c (out, '\\');
    g_string_append_c (out, *c);
  }
  g_string_append (out, code ? "` |" : " |");
}

static void
append_table (GString *out, const M3retKeySpec *keys)
{
  if (keys == NULL || keys->name == NULL) {
    g_string_append (out, "(no keys)\n");
    return;
  }
  g_string_append (out, "| key | type | default | allowed | what it does |\n"
                        "|---|---|---|---|---|\n");
  for (const M3retKeySpec *k = keys; k->name; k++) {
    g_autofree gchar *allowed = m3ret_key_describe_allowed (k);
    g_string_append_c (out, '|');
    append_cell (out, k->name, TRUE);
    append_cell (out, m3ret_key_type_name (k->type), FALSE);
    append_cell (out, m3ret_key_describe_default (k), k->default_value != NULL);
    append_cell (out, allowed, FALSE);
    append_cell (out, k->help ? k->help : "", FALSE);
    g_string_append_c (out, '\n');
  }
}

/* The ViT presets, from the one table vit.c holds. */
static void
append_presets (GString *out)
{
  g_string_append (out, "| preset | width D | blocks | heads | MLP width |\n|---|---|---|---|---|\n");
  for (gint p = 0; p < M3RET_N_PRESETS; p++) {
    gint dim, depth, heads;
    m3ret_vit_preset_shape ((M3retPreset) p, &dim, &depth, &heads);
    g_string_append_printf (out, "| `%s` | %d | %d | %d | %d |\n", m3ret_vit_preset_name (p), dim,
                            depth, heads, 4 * dim);
  }
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: pipeline-doc DOC.md\n");
    return 2;
  }
  g_autofree gchar *text = NULL;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents (argv[1], &text, NULL, &error)) {
    fprintf (stderr, "pipeline-doc: %s\n", error->message);
    return 1;
  }
  M3retRegistry *registry = m3ret_registry_new ();
  m3ret_registry_scan (registry, NULL);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GString) out = g_string_new (NULL);
  gint status = 0;
  const gchar *p = text;
  const gchar *begin;
  while ((begin = strstr (p, BEGIN)) != NULL) {
    const gchar *name_end = strstr (begin, " -->");
    const gchar *end = name_end ? strstr (name_end, END) : NULL;
    if (end == NULL) {
      fprintf (stderr, "pipeline-doc: %s: a table marker without '" END "'\n", argv[1]);
      status = 1;
      break;
    }
    g_autofree gchar *name = g_strndup (begin + strlen (BEGIN), name_end - begin - strlen (BEGIN));
    g_string_append_len (out, p, name_end + strlen (" -->\n") - p);
    const gchar *body = name_end + strlen (" -->\n");
    g_hash_table_add (seen, g_strdup (name));
    if (strcmp (name, "presets") == 0) {
      append_presets (out);
    } else if (g_str_has_prefix (name, "[") && g_str_has_suffix (name, "]")) {
      g_autofree gchar *group = g_strndup (name + 1, strlen (name) - 2);
      const M3retKeySpec *keys = m3ret_pipeline_core_keys (group);
      if (keys == NULL) {
        fprintf (stderr, "pipeline-doc: %s: no core group [%s]\n", argv[1], group);
        status = 1;
      }
      append_table (out, keys);
    } else if (g_str_has_prefix (name, "plugin ")) {
      const gchar *plugin = name + strlen ("plugin ");
      const M3retPlugin *found = NULL;
      g_autoptr (GPtrArray) all = m3ret_registry_list (registry, M3RET_PLUGIN_N_KINDS);
      for (guint i = 0; i < all->len; i++)
        if (strcmp (m3ret_plugin_get_desc (all->pdata[i])->name, plugin) == 0)
          found = all->pdata[i];
      if (found != NULL) {
        append_table (out, m3ret_plugin_get_desc (found)->keys);
      } else {
        fprintf (stderr, "pipeline-doc: plugin %s is not built here: its table is kept\n", plugin);
        g_string_append_len (out, body, end - body);
      }
    } else {
      fprintf (stderr, "pipeline-doc: %s: '%s' is neither [GROUP] nor plugin NAME\n", argv[1],
               name);
      status = 1;
    }
    g_string_append (out, END);
    p = end + strlen (END);
  }
  g_string_append (out, p);

  for (const gchar *const *g = m3ret_pipeline_core_groups (); *g; g++) {
    g_autofree gchar *name = g_strdup_printf ("[%s]", *g);
    if (!g_hash_table_contains (seen, name)) {
      fprintf (stderr, "pipeline-doc: %s has no table of the core group %s\n", argv[1], name);
      status = 1;
    }
  }
  g_autoptr (GPtrArray) all = m3ret_registry_list (registry, M3RET_PLUGIN_N_KINDS);
  for (guint i = 0; i < all->len; i++) {
    g_autofree gchar *name =
      g_strdup_printf ("plugin %s", m3ret_plugin_get_desc (all->pdata[i])->name);
    if (!g_hash_table_contains (seen, name)) {
      fprintf (stderr, "pipeline-doc: %s has no table of the %s\n", argv[1], name);
      status = 1;
    }
  }
  m3ret_registry_free (registry);
  fwrite (out->str, 1, out->len, stdout);
  return status;
}
