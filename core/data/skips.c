/* skips.c — bad entries left out under on_error=skip, grouped by reason. */
#include "config.h"

#include <string.h>

#include "m3ret-pipeline.h"
#include "m3ret-sample.h"
#include "m3ret-skips.h"

/* How many paths a summary line names before "and N more". */
#define NAMED_PER_REASON 3

/* Summary groups, in the order they are printed. */
typedef enum {
  REASON_MISSING,
  REASON_CORRUPT,
  REASON_UNSUPPORTED,
  REASON_TOO_LARGE,
  REASON_BAD_VALUES,
  REASON_MANIFEST,
  REASON_NO_PLUGIN,
  REASON_OTHER,
  N_REASONS
} Reason;

static const gchar *const reason_names[N_REASONS] = {
  "missing or unreadable",
  "corrupt or truncated",
  "unsupported format or datatype",
  "over a [data] max_* limit",
  "NaN/Inf values or no frames",
  "bad manifest row",
  "read by no modality plugin",
  "other errors",
};

struct _M3retSkips {
  GMutex lock;
  GHashTable *seen;             /* path → itself */
  GPtrArray *paths[N_REASONS];  /* (owned by seen) in the order recorded */
};

static Reason
reason_of (const GError *error)
{
  if (error == NULL || error->domain != M3RET_DATA_ERROR)
    return REASON_OTHER;
  switch ((M3retDataError) error->code) {
  case M3RET_DATA_ERROR_IO: return REASON_MISSING;
  case M3RET_DATA_ERROR_CORRUPT: return REASON_CORRUPT;
  case M3RET_DATA_ERROR_UNSUPPORTED: return REASON_UNSUPPORTED;
  case M3RET_DATA_ERROR_TOO_LARGE: return REASON_TOO_LARGE;
  case M3RET_DATA_ERROR_BAD_VALUES: return REASON_BAD_VALUES;
  case M3RET_DATA_ERROR_MANIFEST: return REASON_MANIFEST;
  case M3RET_DATA_ERROR_NO_PLUGIN: return REASON_NO_PLUGIN;
  default: return REASON_OTHER;
  }
}

M3retSkips *
m3ret_skips_new (void)
{
  M3retSkips *s = g_new0 (M3retSkips, 1);
  g_mutex_init (&s->lock);
  s->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint r = 0; r < N_REASONS; r++)
    s->paths[r] = g_ptr_array_new ();
  return s;
}

M3retSkips *
m3ret_skips_new_for (M3retOnError on_error)
{
  return on_error == M3RET_ON_ERROR_SKIP ? m3ret_skips_new () : NULL;
}

void
m3ret_skips_free (M3retSkips *s)
{
  if (s == NULL)
    return;
  for (guint r = 0; r < N_REASONS; r++)
    g_ptr_array_unref (s->paths[r]);
  g_hash_table_unref (s->seen);
  g_mutex_clear (&s->lock);
  g_free (s);
}

static gboolean
add_for (M3retSkips *s, const gchar *path, Reason r)
{
  g_mutex_lock (&s->lock);
  gboolean fresh = !g_hash_table_contains (s->seen, path);
  if (fresh) {
    gchar *key = g_strdup (path);
    g_hash_table_add (s->seen, key);
    g_ptr_array_add (s->paths[r], key);
  }
  g_mutex_unlock (&s->lock);
  return fresh;
}

gboolean
m3ret_skips_add (M3retSkips *s, const gchar *path, const GError *reason)
{
  gboolean fresh = add_for (s, path, reason_of (reason));
  if (fresh) /* the whole reason, for -v */
    g_info ("skipped: %s", reason != NULL ? reason->message : path);
  return fresh;
}

gboolean
m3ret_skips_has (M3retSkips *s, const gchar *path)
{
  g_mutex_lock (&s->lock);
  gboolean has = g_hash_table_contains (s->seen, path);
  g_mutex_unlock (&s->lock);
  return has;
}

guint
m3ret_skips_count (M3retSkips *s)
{
  g_mutex_lock (&s->lock);
  guint n = g_hash_table_size (s->seen);
  g_mutex_unlock (&s->lock);
  return n;
}

gchar *
m3ret_skips_summary (M3retSkips *s)
{
  g_mutex_lock (&s->lock);
  GString *out = g_string_new (NULL);
  guint total = g_hash_table_size (s->seen);
  if (total > 0)
    g_string_append_printf (out, "skipped %u file%s (on_error=skip):\n", total,
                            total == 1 ? "" : "s");
  for (guint r = 0; r < N_REASONS; r++) {
    GPtrArray *paths = s->paths[r];
    if (paths->len == 0)
      continue;
    g_string_append_printf (out, "  %u %s: ", paths->len, reason_names[r]);
    for (guint i = 0; i < MIN (paths->len, NAMED_PER_REASON); i++)
      g_string_append_printf (out, "%s%s", i ? ", " : "", (const gchar *) paths->pdata[i]);
    if (paths->len > NAMED_PER_REASON)
      g_string_append_printf (out, " and %u more", paths->len - NAMED_PER_REASON);
    g_string_append_c (out, '\n');
  }
  g_mutex_unlock (&s->lock);
  return g_string_free (out, FALSE);
}

/* One line per entry: the reason's number, a tab, the path escaped (a
 * path may hold a newline). */
gchar *
m3ret_skips_to_text (M3retSkips *s)
{
  GString *out = g_string_new (NULL);
  g_mutex_lock (&s->lock);
  for (guint r = 0; r < N_REASONS; r++)
    for (guint i = 0; i < s->paths[r]->len; i++) {
      g_autofree gchar *escaped = g_strescape (s->paths[r]->pdata[i], NULL);
      g_string_append_printf (out, "%u\t%s\n", r, escaped);
    }
  g_mutex_unlock (&s->lock);
  return g_string_free (out, FALSE);
}

void
m3ret_skips_add_text (M3retSkips *s, const gchar *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    gchar *tab = strchr (lines[i], '\t');
    if (tab == NULL)
      continue; /* the last, empty line */
    guint64 r = g_ascii_strtoull (lines[i], NULL, 10);
    g_autofree gchar *path = g_strcompress (tab + 1);
    add_for (s, path, r < N_REASONS ? (Reason) r : REASON_OTHER);
  }
}
