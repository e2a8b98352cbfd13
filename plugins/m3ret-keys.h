/* m3ret-keys.h — how a plugin (or the core) declares its configuration keys.
 *
 * One declaration feeds validation of pipeline files, the defaults, the
 * text of `m3ret plugins NAME` and the tables of docs/PIPELINE.md: a key is
 * described once, here, and nowhere else.
 */
#ifndef M3RET_KEYS_H
#define M3RET_KEYS_H

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  M3RET_KEY_INT,          /* whole number within [min, max]                    */
  M3RET_KEY_DOUBLE,       /* real number within [min, max]                     */
  M3RET_KEY_BOOL,         /* true/false                                        */
  M3RET_KEY_STRING,       /* free text (paths, names)                          */
  M3RET_KEY_ENUM,         /* one of `choices`, written "a|b|c"                 */
  M3RET_KEY_INT_LIST,     /* comma separated ints, each in [min, max]          */
  M3RET_KEY_DOUBLE_LIST,  /* comma separated reals, each in [min, max]         */
  M3RET_KEY_PLUGIN,       /* the name of a plugin of kind `plugin_kind`        */
  M3RET_KEY_WEIGHTS       /* "name:weight,..." with weight >= 0 (sampler mix)  */
} M3retKeyType;

typedef struct _M3retKeySpec M3retKeySpec;

/**
 * M3retKeySpec:
 * @name: key as written in the pipeline file
 * @type: value type
 * @default_value: textual default, as it would be written in the file;
 *   NULL makes the key mandatory
 * @min, @max: inclusive numeric range (per element for lists)
 * @n_values: for lists, the exact number of elements; 0 allows any number >= 1
 * @choices: for %M3RET_KEY_ENUM, the allowed words separated by '|'
 * @plugin_kind: for %M3RET_KEY_PLUGIN, an #M3retPluginKind
 * @help: one line for `m3ret plugins NAME` and the docs
 * @offset: where m3ret_config_fill() writes the value in the declarer's
 *   settings struct, or %M3RET_KEY_NO_FIELD; set by the *_FIELD macros
 */
struct _M3retKeySpec {
  const gchar *name;
  M3retKeyType type;
  const gchar *default_value;
  gdouble min;
  gdouble max;
  guint n_values;
  const gchar *choices;
  gint plugin_kind;
  const gchar *help;
  gssize offset;
};

/* A %M3RET_KEY_WEIGHTS value as m3ret_config_fill() writes it: @n names
 * (NULL-terminated) and their weights, owned by the config. */
typedef struct {
  const gchar *const *names;
  const gdouble *values;
  guint n;
} M3retKeyWeights;

#define M3RET_KEY_NO_FIELD ((gssize) -1)

#define M3RET_KEY_UNBOUNDED G_MAXDOUBLE

/* Declaration helpers; a table of keys ends with M3RET_KEY_END.
 *
 * The *_SPEC forms declare a key that code reads by name; the *_FIELD forms
 * also bind it to member @m of settings struct @S, which
 * m3ret_config_fill() writes: INT as gint64, DOUBLE as gdouble, BOOL as
 * gboolean, STRING and PLUGIN as const gchar * (owned by the config), ENUM
 * as the gint position of the word in @choices (declare a C enum in the same
 * order), INT_LIST and DOUBLE_LIST of @count elements as gint64[@count] and
 * gdouble[@count], WEIGHTS as #M3retKeyWeights.  A member of the wrong size
 * fails to compile. */
#define M3RET_KEY_SPEC_(n, t, def, lo, hi, count, choices, kind, h, off) \
  { (n), (t), (def), (lo), (hi), (count), (choices), (kind), (h), (off) }
#define M3RET_KEY_INT_SPEC(n, def, lo, hi, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_INT, def, lo, hi, 0, NULL, 0, h, M3RET_KEY_NO_FIELD)
#define M3RET_KEY_DOUBLE_SPEC(n, def, lo, hi, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_DOUBLE, def, lo, hi, 0, NULL, 0, h, M3RET_KEY_NO_FIELD)
#define M3RET_KEY_BOOL_SPEC(n, def, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_BOOL, def, 0, 1, 0, NULL, 0, h, M3RET_KEY_NO_FIELD)
#define M3RET_KEY_STRING_SPEC(n, def, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_STRING, def, 0, 0, 0, NULL, 0, h, M3RET_KEY_NO_FIELD)
#define M3RET_KEY_ENUM_SPEC(n, def, choices, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_ENUM, def, 0, 0, 0, choices, 0, h, M3RET_KEY_NO_FIELD)
#define M3RET_KEY_INT_LIST_SPEC(n, def, count, lo, hi, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_INT_LIST, def, lo, hi, count, NULL, 0, h, M3RET_KEY_NO_FIELD)
#define M3RET_KEY_DOUBLE_LIST_SPEC(n, def, count, lo, hi, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_DOUBLE_LIST, def, lo, hi, count, NULL, 0, h, M3RET_KEY_NO_FIELD)
#define M3RET_KEY_PLUGIN_SPEC(n, def, kind, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_PLUGIN, def, 0, 0, 0, NULL, kind, h, M3RET_KEY_NO_FIELD)
#define M3RET_KEY_WEIGHTS_SPEC(n, def, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_WEIGHTS, def, 0, M3RET_KEY_UNBOUNDED, 0, NULL, 0, h, M3RET_KEY_NO_FIELD)
#define M3RET_KEY_END { NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, M3RET_KEY_NO_FIELD }

/* The offset of @S.@m, which must be @size bytes (a compile error if not). */
#define M3RET_KEY_OFFSET_(S, m, size) \
  ((gssize) G_STRUCT_OFFSET (S, m) + 0 * (gssize) sizeof (char[sizeof (((S *) 0)->m) == (size) ? 1 : -1]))

#define M3RET_KEY_INT_FIELD(S, m, n, def, lo, hi, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_INT, def, lo, hi, 0, NULL, 0, h, M3RET_KEY_OFFSET_ (S, m, sizeof (gint64)))
#define M3RET_KEY_DOUBLE_FIELD(S, m, n, def, lo, hi, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_DOUBLE, def, lo, hi, 0, NULL, 0, h, M3RET_KEY_OFFSET_ (S, m, sizeof (gdouble)))
#define M3RET_KEY_BOOL_FIELD(S, m, n, def, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_BOOL, def, 0, 1, 0, NULL, 0, h, M3RET_KEY_OFFSET_ (S, m, sizeof (gboolean)))
#define M3RET_KEY_STRING_FIELD(S, m, n, def, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_STRING, def, 0, 0, 0, NULL, 0, h, M3RET_KEY_OFFSET_ (S, m, sizeof (gpointer)))
#define M3RET_KEY_ENUM_FIELD(S, m, n, def, choices, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_ENUM, def, 0, 0, 0, choices, 0, h, M3RET_KEY_OFFSET_ (S, m, sizeof (gint)))
#define M3RET_KEY_INT_LIST_FIELD(S, m, n, def, count, lo, hi, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_INT_LIST, def, lo, hi, count, NULL, 0, h, \
                   M3RET_KEY_OFFSET_ (S, m, (count) * sizeof (gint64)))
#define M3RET_KEY_DOUBLE_LIST_FIELD(S, m, n, def, count, lo, hi, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_DOUBLE_LIST, def, lo, hi, count, NULL, 0, h, \
                   M3RET_KEY_OFFSET_ (S, m, (count) * sizeof (gdouble)))
#define M3RET_KEY_PLUGIN_FIELD(S, m, n, def, kind, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_PLUGIN, def, 0, 0, 0, NULL, kind, h, M3RET_KEY_OFFSET_ (S, m, sizeof (gpointer)))
#define M3RET_KEY_WEIGHTS_FIELD(S, m, n, def, h) \
  M3RET_KEY_SPEC_ (n, M3RET_KEY_WEIGHTS, def, 0, M3RET_KEY_UNBOUNDED, 0, NULL, 0, h, \
                   M3RET_KEY_OFFSET_ (S, m, sizeof (M3retKeyWeights)))

const gchar *m3ret_key_type_name (M3retKeyType type);

/* What people read about a key (`m3ret plugins NAME`, messages, the docs).
 * Returns: (transfer full) the numeric range: "[lo, hi]", ">= lo",
 * "<= hi" or "any number"; an integer key's bounds as integers. */
gchar *m3ret_key_describe_range (const M3retKeySpec *spec);
/* Returns: (transfer full) every value @spec accepts: its range (and the
 * count of a list), its choices, true|false, "text", ... */
gchar *m3ret_key_describe_allowed (const M3retKeySpec *spec);
/* Returns: (transfer none) the default as a pipeline file writes it, "\"\""
 * for the empty string and "(required)" when there is none. */
const gchar *m3ret_key_describe_default (const M3retKeySpec *spec);

G_END_DECLS

#endif /* M3RET_KEYS_H */
