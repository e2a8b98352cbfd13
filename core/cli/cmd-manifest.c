/* cmd-manifest.c — `m3ret manifest DIR --out M.csv`: a manifest of every
 * file under DIR that a modality plugin reads.
 *
 * Every file is probed with the loaded modality plugins.  Files that the
 * plugin says are slices of one series (series_key with joins: single-slice
 * CT or MR DICOM) become one row, the folder, or FOLDER#KEY when the folder
 * holds anything else.  Labels come from the first folder under DIR
 * (torchvision's ImageFolder) or from a header attribute the plugin reads
 * (dicom:KEYWORD).  A query/database split draws whole series: rows that
 * share a series key stay on one side.  The core reads no format itself:
 * attributes and series keys are the plugins' answers.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "m3ret-fileio.h"
#include "m3ret-modalities.h"
#include "manifest-walk.h"

typedef enum { LABELS_NONE, LABELS_FOLDER, LABELS_ATTRIBUTE } LabelSource;

/* One row of the manifest: a file, or the files of one series. */
typedef struct {
  gchar *input;      /* what the readers open: a file, FOLDER or FOLDER#KEY */
  gchar *target;     /* the file or FOLDER of @input */
  gchar *selector;   /* KEY of FOLDER#KEY, or NULL */
  gchar *rel;        /* the input's name under DIR, for labels and messages */
  gchar *modality;   /* (not owned) the set's name */
  GPtrArray *files;  /* (owned) the files it reads, in name order */
  gchar *label;
  gchar *unit;       /* what the split keeps together: a series key or the row itself */
  gboolean query;
} Row;

static void
row_free (gpointer p)
{
  Row *r = p;
  g_free (r->input);
  g_free (r->target);
  g_free (r->selector);
  g_free (r->rel);
  g_ptr_array_unref (r->files);
  g_free (r->label);
  g_free (r->unit);
  g_free (r);
}

/* A probed file on its way to a row. */
typedef struct {
  const ManifestWalkFile *file;
  const gchar *modality;
  gchar *key;        /* series key, or NULL */
  gboolean joins;
} Probed;

static void
probed_clear (gpointer p)
{
  g_free (((Probed *) p)->key);
}

/* ---- options ---- */

typedef struct {
  LabelSource labels;
  gchar *attribute;   /* LABELS_ATTRIBUTE: "dicom:KEYWORD" */
  gboolean split;
  gdouble query_fraction;
  guint64 seed;
} Options;

static gboolean
parse_labels (const gchar *value, Options *o)
{
  if (value == NULL)
    return TRUE;
  if (g_str_equal (value, "folder")) {
    o->labels = LABELS_FOLDER;
    return TRUE;
  }
  const gchar *colon = strchr (value, ':');
  if (colon == NULL || colon == value || colon[1] == '\0') {
    cli_usage_error ("manifest", "--labels '%s': give folder or dicom:ATTRIBUTE (e.g. "
                     "dicom:BodyPartExamined)", value);
    return FALSE;
  }
  o->labels = LABELS_ATTRIBUTE;
  o->attribute = g_strdup (value);
  return TRUE;
}

static gboolean
parse_split (const gchar *split, const gchar *seed, Options *o)
{
  if (split == NULL) {
    if (seed != NULL) {
      cli_usage_error ("manifest", "--seed draws the --split: give --split query=F too");
      return FALSE;
    }
    return TRUE;
  }
  gchar *end = NULL;
  gdouble f = g_str_has_prefix (split, "query=") ? g_ascii_strtod (split + 6, &end) : -1;
  if (end == NULL || end == split + 6 || *end != '\0' || !(f > 0.0 && f < 1.0)) {
    cli_usage_error ("manifest", "--split '%s': give query=F with F between 0 and 1 (e.g. "
                     "query=0.2)", split);
    return FALSE;
  }
  o->split = TRUE;
  o->query_fraction = f;
  if (seed != NULL) {
    guint64 s = 0;
    if (!g_ascii_string_to_unsigned (seed, 10, 0, G_MAXUINT64, &s, NULL)) {
      cli_usage_error ("manifest", "--seed '%s': give a whole number of 0 or more", seed);
      return FALSE;
    }
    o->seed = s;
  }
  return TRUE;
}

/* ---- rows ---- */

/* The first folder under DIR of @rel, "" for what lies in DIR itself. */
static gchar *
first_folder (const gchar *rel)
{
  const gchar *slash = strchr (rel, '/');
  return slash != NULL ? g_strndup (rel, (gsize) (slash - rel)) : g_strdup ("");
}

static Row *
row_new (const gchar *input, const gchar *rel, const gchar *modality)
{
  Row *r = g_new0 (Row, 1);
  r->input = g_strdup (input);
  r->target = g_strdup (input);
  r->rel = g_strdup (rel);
  r->modality = (gchar *) modality;
  r->files = g_ptr_array_new ();
  return r;
}

/* Groups the probed files into rows: joined series by folder and key, the
 * rest one row each.  A series of one file stays that file. */
static GPtrArray *
assemble_rows (ManifestWalk *walk, GArray *probed)
{
  GPtrArray *rows = g_ptr_array_new_with_free_func (row_free);
  /* folder + '\n' + modality + '\n' + key → Row */
  g_autoptr (GHashTable) series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) groups = g_ptr_array_new ();
  for (guint i = 0; i < probed->len; i++) {
    const Probed *p = &g_array_index (probed, Probed, i);
    if (p->key != NULL && p->joins) {
      g_autofree gchar *id = g_strjoin ("\n", p->file->folder, p->modality, p->key, NULL);
      Row *r = g_hash_table_lookup (series, id);
      if (r == NULL) {
        r = row_new (p->file->folder, p->file->rel, p->modality);
        r->unit = g_strdup (p->key);
        g_hash_table_insert (series, g_steal_pointer (&id), r);
        g_ptr_array_add (groups, r);
      }
      g_ptr_array_add (r->files, (gpointer) p->file);
      continue;
    }
    Row *r = row_new (p->file->path, p->file->rel, p->modality);
    g_ptr_array_add (r->files, (gpointer) p->file);
    /* Stills or frames of one series travel together in the split. */
    r->unit = p->key != NULL ? g_strconcat ("series:", p->key, NULL)
                             : g_strconcat ("file:", p->file->rel, NULL);
    g_ptr_array_add (rows, r);
  }
  for (guint g = 0; g < groups->len; g++) {
    Row *r = groups->pdata[g];
    const ManifestWalkFile *first = r->files->pdata[0];
    if (r->files->len == 1) {
      g_free (r->input);
      r->input = g_strdup (first->path);
      g_free (r->target);
      r->target = g_strdup (first->path);
      g_autofree gchar *key = r->unit;
      r->unit = g_strconcat ("series:", key, NULL);
      g_ptr_array_add (rows, r);
      continue;
    }
    /* The folder alone names the series only when it holds nothing else
     * the series reader would look at; otherwise FOLDER#KEY. */
    guint entries = GPOINTER_TO_UINT (g_hash_table_lookup (walk->entries, first->folder));
    g_autofree gchar *rel_folder = g_path_get_dirname (first->rel);
    g_free (r->rel);
    if (entries != r->files->len) {
      g_autofree gchar *input = g_strconcat (first->folder, "#", r->unit, NULL);
      g_free (r->input);
      r->input = g_steal_pointer (&input);
      r->selector = g_strdup (r->unit);
      r->rel = g_strconcat (rel_folder, "#", r->unit, NULL);
    } else {
      r->rel = g_strdup (rel_folder);
    }
    g_autofree gchar *key = r->unit;
    r->unit = g_strconcat ("series:", key, NULL);
    g_ptr_array_add (rows, r);
  }
  return rows;
}

static gint
compare_rows (gconstpointer a, gconstpointer b)
{
  const Row *x = *(Row *const *) a, *y = *(Row *const *) b;
  return strcmp (x->rel, y->rel);
}

/* ---- the split ---- */

/* A 64-bit hash of @text under @seed (FNV-1a, then SplitMix64's finaliser):
 * the order units are drawn in, the same on every machine. */
static guint64
seeded_hash (const gchar *text, guint64 seed)
{
  guint64 h = 0xcbf29ce484222325ull;
  for (const guchar *c = (const guchar *) text; *c; c++)
    h = (h ^ *c) * 0x100000001b3ull;
  h ^= seed * 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

typedef struct {
  gchar *unit;
  gchar *stratum;  /* modality and label: every label gets its share of queries */
  guint64 order;
  GPtrArray *rows; /* Row (not owned) */
} Unit;

static void
unit_clear (gpointer p)
{
  Unit *u = p;
  g_free (u->unit);
  g_free (u->stratum);
  g_ptr_array_unref (u->rows);
}

static gint
compare_units (gconstpointer a, gconstpointer b)
{
  const Unit *x = a, *y = b;
  gint s = strcmp (x->stratum, y->stratum);
  if (s != 0)
    return s;
  if (x->order != y->order)
    return x->order < y->order ? -1 : 1;
  return strcmp (x->unit, y->unit);
}

typedef struct {
  guint start, end;  /* its units in the sorted array */
  guint rows;
  guint target;      /* rows to draw as queries */
  gdouble remainder; /* of fraction × rows, for the largest-remainder rounding */
  guint64 order;     /* ties between equal remainders, by the seed */
} Stratum;

static gint
compare_remainders (gconstpointer a, gconstpointer b)
{
  const Stratum *x = *(Stratum *const *) a, *y = *(Stratum *const *) b;
  if (x->remainder != y->remainder)
    return x->remainder > y->remainder ? -1 : 1;
  return (x->order > y->order) - (x->order < y->order);
}

/* Marks about @fraction of the rows as queries, whole units at a time:
 * each modality and label (a stratum) gets its share, rounded so that the
 * shares add up to fraction × rows (largest remainders first), and draws
 * its units in the order of their seeded hash. */
static void
draw_split (GPtrArray *rows, gdouble fraction, guint64 seed)
{
  g_autoptr (GHashTable) by_unit = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GArray) units = g_array_new (FALSE, TRUE, sizeof (Unit));
  g_array_set_clear_func (units, unit_clear);
  for (guint i = 0; i < rows->len; i++) {
    Row *r = rows->pdata[i];
    gpointer found;
    if (!g_hash_table_lookup_extended (by_unit, r->unit, NULL, &found)) {
      Unit u = { g_strdup (r->unit), g_strjoin ("\n", r->modality, r->label, NULL),
                 seeded_hash (r->unit, seed), g_ptr_array_new () };
      g_array_append_val (units, u);
      found = GUINT_TO_POINTER (units->len);
      g_hash_table_insert (by_unit, r->unit, found);
    }
    g_ptr_array_add (g_array_index (units, Unit, GPOINTER_TO_UINT (found) - 1).rows, r);
  }
  g_array_sort (units, compare_units);
  g_autoptr (GArray) strata = g_array_new (FALSE, TRUE, sizeof (Stratum));
  guint assigned = 0;
  for (guint start = 0; start < units->len;) {
    Stratum st = { start, start, 0, 0, 0, 0 };
    const gchar *name = g_array_index (units, Unit, start).stratum;
    while (st.end < units->len && g_str_equal (g_array_index (units, Unit, st.end).stratum, name))
      st.rows += g_array_index (units, Unit, st.end++).rows->len;
    gdouble share = fraction * st.rows;
    st.target = (guint) share;
    st.remainder = share - st.target;
    st.order = seeded_hash (name, seed);
    assigned += st.target;
    g_array_append_val (strata, st);
    start = st.end;
  }
  guint total = (guint) (fraction * rows->len + 0.5);
  g_autoptr (GPtrArray) by_remainder = g_ptr_array_new ();
  for (guint k = 0; k < strata->len; k++)
    g_ptr_array_add (by_remainder, &g_array_index (strata, Stratum, k));
  g_ptr_array_sort (by_remainder, compare_remainders);
  for (guint k = 0; k < by_remainder->len && assigned < total; k++, assigned++)
    ((Stratum *) by_remainder->pdata[k])->target++;
  for (guint k = 0; k < strata->len; k++) {
    const Stratum *st = &g_array_index (strata, Stratum, k);
    guint taken = 0;
    for (guint u = st->start; u < st->end && taken < st->target; u++) {
      const Unit *unit = &g_array_index (units, Unit, u);
      for (guint i = 0; i < unit->rows->len; i++)
        ((Row *) unit->rows->pdata[i])->query = TRUE;
      taken += unit->rows->len;
    }
  }
}

/* ---- writing and the summary ---- */

static void
append_field (GString *out, const gchar *value)
{
  if (strpbrk (value, ",\"\r\n") == NULL) {
    g_string_append (out, value);
    return;
  }
  g_string_append_c (out, '"');
  for (const gchar *c = value; *c; c++) {
    if (*c == '"')
      g_string_append_c (out, '"');
    g_string_append_c (out, *c);
  }
  g_string_append_c (out, '"');
}

static gchar *
manifest_text (GPtrArray *rows, const gchar *out_folder, gboolean split)
{
  GString *csv = g_string_new (split ? "path,modality,label,split\n" : "path,modality,label\n");
  for (guint i = 0; i < rows->len; i++) {
    const Row *r = rows->pdata[i];
    /* FOLDER#KEY: the folder made relative, the key kept as it is. */
    g_autofree gchar *rel = manifest_relative_path (out_folder, r->target);
    g_autofree gchar *path = r->selector ? g_strconcat (rel, "#", r->selector, NULL)
                                         : g_steal_pointer (&rel);
    append_field (csv, path);
    g_string_append_c (csv, ',');
    append_field (csv, r->modality);
    g_string_append_c (csv, ',');
    append_field (csv, r->label ? r->label : "");
    if (split)
      g_string_append (csv, r->query ? ",query" : ",database");
    g_string_append_c (csv, '\n');
  }
  return g_string_free (csv, FALSE);
}

typedef struct {
  guint rows, files, query;
} Tally;

static void
print_summary (const gchar *dir, const gchar *out, GPtrArray *rows, const ManifestWalk *walk,
               GPtrArray *ambiguous, const Options *o)
{
  guint files = 0;
  for (guint i = 0; i < rows->len; i++)
    files += ((Row *) rows->pdata[i])->files->len;
  printf ("m3ret manifest: %s: %u rows (%u files) written to %s\n", dir, rows->len, files, out);
  /* modality + '\t' + label → Tally, printed in name order */
  g_autoptr (GHashTable) tallies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < rows->len; i++) {
    const Row *r = rows->pdata[i];
    gchar *id = g_strconcat (r->modality, "\t", r->label ? r->label : "", NULL);
    Tally *t = g_hash_table_lookup (tallies, id);
    if (t == NULL)
      g_hash_table_insert (tallies, id, t = g_new0 (Tally, 1));
    else
      g_free (id);
    t->rows++;
    t->files += r->files->len;
    t->query += r->query;
  }
  g_autoptr (GList) ids = g_list_sort (g_hash_table_get_keys (tallies), (GCompareFunc) strcmp);
  printf ("  %-12s %-24s %6s %6s%s\n", "modality", "label", "rows", "files",
          o->split ? "  query  database" : "");
  for (GList *l = ids; l != NULL; l = l->next) {
    const Tally *t = g_hash_table_lookup (tallies, l->data);
    g_auto (GStrv) parts = g_strsplit (l->data, "\t", 2);
    printf ("  %-12s %-24s %6u %6u", parts[0], *parts[1] ? parts[1] : "(none)", t->rows,
            t->files);
    if (o->split)
      printf ("  %5u  %8u", t->query, t->rows - t->query);
    printf ("\n");
  }
  if (o->split) {
    guint q = 0;
    for (guint i = 0; i < rows->len; i++)
      q += ((Row *) rows->pdata[i])->query;
    printf ("  split: %u query, %u database rows (query=%g, seed %" G_GUINT64_FORMAT "; a "
            "series is never split)\n", q, rows->len - q, o->query_fraction, o->seed);
  }
  printf ("  ambiguous probes: %u\n", ambiguous->len);
  for (guint i = 0; i < ambiguous->len; i++)
    printf ("    %s\n", (const gchar *) ambiguous->pdata[i]);
  printf ("  skipped: %u\n", walk->skipped->len);
  gsize root_len = strlen (walk->root);
  for (guint i = 0; i < walk->skipped->len; i++) {
    const ManifestWalkSkip *s = walk->skipped->pdata[i];
    /* under the name DIR was given as, not the canonical one */
    if (g_str_has_prefix (s->path, walk->root) && s->path[root_len] == G_DIR_SEPARATOR)
      printf ("    %s/%s: %s\n", dir, s->path + root_len + 1, s->reason);
    else
      printf ("    %s: %s\n", s->path, s->reason);
  }
}

/* ---- the command ---- */

/* Probes every walked file; what no plugin reads joins the skipped. */
static GArray *
probe_files (const M3retModalities *set, ManifestWalk *walk, const gchar *out_canonical,
             GPtrArray *ambiguous)
{
  GArray *probed = g_array_new (FALSE, TRUE, sizeof (Probed));
  g_array_set_clear_func (probed, probed_clear);
  g_autofree guint *scores = g_new0 (guint, MAX (m3ret_modalities_count (set), 1));
  for (guint i = 0; i < walk->files->len; i++) {
    const ManifestWalkFile *f = walk->files->pdata[i];
    GError *local = NULL;
    const gchar *modality = m3ret_modalities_probe (set, f->path, NULL, scores, &local);
    if (modality == NULL) {
      const gchar *why = local->message;
      if (g_str_has_prefix (why, f->path) && why[strlen (f->path)] == ':')
        why += strlen (f->path) + 2;
      /* The manifest being rewritten is no data; any other file is. */
      if (g_str_equal (f->path, out_canonical))
        manifest_walk_skip (walk, f->path, "the --out manifest itself, replaced by this one");
      else
        manifest_walk_skip (walk, f->path, "%s", why);
      g_error_free (local);
      continue;
    }
    gchar *close = m3ret_modalities_close_notice (set, f->rel, scores);
    if (close != NULL)
      g_ptr_array_add (ambiguous, close);
    Probed p = { f, modality, NULL, FALSE };
    p.key = m3ret_modalities_series_key (set, modality, f->path, &p.joins);
    g_array_append_val (probed, p);
  }
  return probed;
}

/* A series row is probed as the commands will read it: the same modality,
 * or its files are skipped with the reason. */
static void
check_series_rows (const M3retModalities *set, ManifestWalk *walk, GPtrArray *rows)
{
  for (guint i = 0; i < rows->len;) {
    Row *r = rows->pdata[i];
    if (r->files->len > 1) {
      GError *local = NULL;
      const gchar *modality = m3ret_modalities_probe (set, r->input, NULL, NULL, &local);
      if (g_strcmp0 (modality, r->modality) != 0) {
        for (guint k = 0; k < r->files->len; k++)
          manifest_walk_skip (walk, ((ManifestWalkFile *) r->files->pdata[k])->path,
                              "a slice of the series %s, which reads as %s", r->input,
                              local ? local->message : modality);
        g_clear_error (&local);
        g_ptr_array_remove_index (rows, i);
        continue;
      }
    }
    i++;
  }
}

/* Labels every row; a row whose attribute cannot be read is dropped. */
static void
label_rows (const M3retModalities *set, ManifestWalk *walk, GPtrArray *rows, const Options *o)
{
  for (guint i = 0; i < rows->len;) {
    Row *r = rows->pdata[i];
    if (o->labels == LABELS_FOLDER) {
      r->label = first_folder (r->rel);
    } else if (o->labels == LABELS_ATTRIBUTE) {
      const ManifestWalkFile *first = r->files->pdata[0];
      GError *local = NULL;
      r->label = m3ret_modalities_attribute (set, r->modality, first->path, o->attribute, &local);
      if (r->label == NULL) {
        manifest_walk_skip (walk, r->input, "no label: %s", local->message);
        g_error_free (local);
        g_ptr_array_remove_index (rows, i);
        continue;
      }
    }
    i++;
  }
}

static gboolean
write_manifest (M3retRegistry *registry, const gchar *dir, const gchar *out, const Options *o,
                GError **error)
{
  g_autoptr (M3retModalities) set = m3ret_modalities_new (registry, NULL, error);
  if (set == NULL)
    return FALSE;
  if (m3ret_modalities_count (set) == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN,
                 "manifest: no modality plugin found; check --plugin-path and M3RET_PLUGIN_PATH");
    return FALSE;
  }
  if (o->labels == LABELS_ATTRIBUTE && !m3ret_modalities_attribute_known (set, o->attribute, error)) {
    g_prefix_error (error, "manifest: --labels %s: ", o->attribute);
    return FALSE;
  }
  /* The output's folder, canonical: where the rows' paths start from. */
  g_autofree gchar *out_dir = g_path_get_dirname (out);
  g_autofree gchar *out_base = g_path_get_basename (out);
  char resolved[PATH_MAX];
  g_autoptr (M3retRunFiles) files = m3ret_run_files_new ();
  m3ret_run_files_add_output (files, out, "manifest", "--out");
  if (realpath (out_dir, resolved) == NULL)
    return m3ret_run_files_check (files, error); /* says why the folder will not do */
  g_autofree gchar *out_canonical = g_build_filename (resolved, out_base, NULL);
  g_autofree gchar *out_folder = g_strdup (resolved);
  if (realpath (out, resolved) != NULL) { /* an existing --out, perhaps through a link */
    g_free (out_canonical);
    out_canonical = g_strdup (resolved);
  }

  g_autoptr (ManifestWalk) walk = manifest_walk (dir, error);
  if (walk == NULL)
    return FALSE;
  g_autoptr (GPtrArray) ambiguous = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) probed = probe_files (set, walk, out_canonical, ambiguous);
  g_autoptr (GPtrArray) rows = assemble_rows (walk, probed);
  check_series_rows (set, walk, rows);
  label_rows (set, walk, rows, o);
  if (rows->len == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN,
                 "%s: holds no file a modality plugin reads (%u skipped; run with the same "
                 "arguments and -v, or m3ret inspect FILE, to see why)", dir, walk->skipped->len);
    for (guint i = 0; i < walk->skipped->len && i < 5; i++) {
      const ManifestWalkSkip *s = walk->skipped->pdata[i];
      fprintf (stderr, "m3ret manifest: skipped %s: %s\n", s->path, s->reason);
    }
    return FALSE;
  }
  g_ptr_array_sort (rows, compare_rows);
  /* Never over a file it reads: every file a row reads is an input. */
  for (guint i = 0; i < rows->len; i++) {
    const Row *r = rows->pdata[i];
    for (guint k = 0; k < r->files->len; k++)
      m3ret_run_files_add_input (files, ((ManifestWalkFile *) r->files->pdata[k])->path,
                                 "a file under DIR");
  }
  if (!m3ret_run_files_check (files, error))
    return FALSE;
  if (o->split)
    draw_split (rows, o->query_fraction, o->seed);
  g_autofree gchar *csv = manifest_text (rows, out_folder, o->split);
  if (!m3ret_file_write_atomic (out, csv, -1, error))
    return FALSE;
  print_summary (dir, out, rows, walk, ambiguous, o);
  return TRUE;
}

gint
cmd_manifest (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  g_autofree gchar *out = NULL, *labels = NULL, *split = NULL, *seed = NULL;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "The manifest to write (required)", "M.csv" },
    { "labels", 0, 0, G_OPTION_ARG_STRING, &labels,
      "folder (the first folder under DIR) or dicom:ATTRIBUTE (e.g. dicom:BodyPartExamined)",
      "SOURCE" },
    { "split", 0, 0, G_OPTION_ARG_STRING, &split,
      "query=F: mark about F of the rows query (each modality and label its share), the rest "
      "database, whole series at a time", "query=F" },
    { "seed", 0, 0, G_OPTION_ARG_STRING, &seed, "Seed of the split draw (default 0)", "S" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("DIR --out M.csv");
  g_option_context_set_summary (ctx, "Write a manifest of every file under DIR that a modality "
                                "plugin reads; DICOM slices of one series are one row.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  gint status = M3RET_EXIT_USAGE;
  Options o = { 0 };
  if (cli_parse (ctx, "manifest", &argc, &argv)
      && cli_require_args ("manifest", argc, argv, 1, 1, "the folder to walk, DIR")
      && cli_require ("manifest", out, "--out M.csv") && parse_labels (labels, &o)
      && parse_split (split, seed, &o)) {
    GError *error = NULL;
    M3retRegistry *registry = cli_registry (&common);
    status = write_manifest (registry, argv[1], out, &o, &error) ? M3RET_EXIT_OK
                                                                 : cli_fail (error);
    g_clear_error (&error);
    m3ret_registry_free (registry);
  }
  g_free (o.attribute);
  g_strfreev (common.plugin_paths);
  return status;
}
