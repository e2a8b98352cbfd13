/* config.c — parsing and holding the typed values of one pipeline group. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <string.h>

#include "config-private.h"
#include "m3ret-config.h"
#include "m3ret-plugin.h"

G_DEFINE_QUARK (m3ret-config-error-quark, m3ret_config_error)

typedef struct {
  const M3retKeySpec *spec;
  gboolean set;
  gboolean is_default;
  gchar *text;
  gint64 i;
  gdouble d;
  GArray *ints;    /* gint64 */
  GArray *doubles; /* gdouble (lists and weights) */
  GStrv names;     /* weights */
  guint line;      /* where the pipeline file set it; 0: default or not from a file */
} Value;

struct _M3retConfig {
  gint ref_count;
  gchar *group;
  gchar *source;          /* the file the values came from, or NULL */
  guint group_line;       /* the line of its [group] header there; 0: none */
  GPtrArray *values;      /* Value*, declaration order, owned */
  GHashTable *by_name;    /* name → Value*, borrowed */
};

static void
value_clear (Value *v)
{
  g_clear_pointer (&v->text, g_free);
  g_clear_pointer (&v->ints, g_array_unref);
  g_clear_pointer (&v->doubles, g_array_unref);
  g_clear_pointer (&v->names, g_strfreev);
  v->set = FALSE;
}

static void
value_free (Value *v)
{
  value_clear (v);
  g_free (v);
}

M3retConfig *
m3ret_config_new (const gchar *group)
{
  M3retConfig *config = g_new0 (M3retConfig, 1);
  config->ref_count = 1;
  config->group = g_strdup (group);
  config->values = g_ptr_array_new_with_free_func ((GDestroyNotify) value_free);
  config->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  return config;
}

M3retConfig *
m3ret_config_ref (M3retConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_atomic_int_inc (&config->ref_count);
  return config;
}

void
m3ret_config_unref (M3retConfig *config)
{
  if (config == NULL || !g_atomic_int_dec_and_test (&config->ref_count))
    return;
  g_hash_table_unref (config->by_name);
  g_ptr_array_unref (config->values);
  g_free (config->group);
  g_free (config->source);
  g_free (config);
}

gboolean
m3ret_config_add_keys (M3retConfig *config, const M3retKeySpec *keys, GError **error)
{
  g_return_val_if_fail (config != NULL, FALSE);
  for (const M3retKeySpec *k = keys; k != NULL && k->name != NULL; k++) {
    if (g_hash_table_contains (config->by_name, k->name)) {
      g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_PARSE,
                   "[%s] key '%s' is declared twice (by the core and a plugin?)",
                   config->group, k->name);
      return FALSE;
    }
    Value *v = g_new0 (Value, 1);
    v->spec = k;
    g_ptr_array_add (config->values, v);
    g_hash_table_insert (config->by_name, (gpointer) k->name, v);
  }
  return TRUE;
}

static gboolean
range_is_bounded (const M3retKeySpec *s)
{
  return s->min > -M3RET_KEY_UNBOUNDED || s->max < M3RET_KEY_UNBOUNDED;
}

static gboolean
parse_number (const M3retKeySpec *s, const gchar *group, const gchar *item, gboolean integer,
              gdouble *out, GError **error)
{
  g_autofree gchar *t = g_strstrip (g_strdup (item));
  gchar *end = NULL;
  errno = 0;
  gdouble d;
  if (integer) {
    gint64 i = g_ascii_strtoll (t, &end, 10);
    d = (gdouble) i;
  } else {
    d = g_ascii_strtod (t, &end);
  }
  if (*t == '\0' || end == NULL || *end != '\0' || errno == ERANGE || !isfinite (d)) {
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_BAD_VALUE,
                 "[%s] %s='%s' is not %s", group, s->name, t,
                 integer ? "a whole number" : "a finite number");
    return FALSE;
  }
  if (range_is_bounded (s) && (d < s->min || d > s->max)) {
    g_autofree gchar *range = m3ret_key_describe_range (s);
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                 "[%s] %s=%s is out of range: allowed %s", group, s->name, t, range);
    return FALSE;
  }
  *out = d;
  return TRUE;
}

static gboolean
choice_is_allowed (const gchar *choices, const gchar *word)
{
  g_auto (GStrv) allowed = g_strsplit (choices, "|", -1);
  return g_strv_contains ((const gchar *const *) allowed, word);
}

static gboolean
parse_list (const M3retKeySpec *s, const gchar *group, const gchar *text, Value *v,
            GError **error)
{
  gboolean integer = s->type == M3RET_KEY_INT_LIST;
  g_auto (GStrv) items = g_strsplit (text, ",", -1);
  guint n = g_strv_length (items);
  if ((s->n_values > 0 && n != s->n_values) || n == 0) {
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                 "[%s] %s='%s' needs %u comma-separated values, got %u", group, s->name, text,
                 s->n_values ? s->n_values : 1, n);
    return FALSE;
  }
  GArray *arr = integer ? g_array_sized_new (FALSE, FALSE, sizeof (gint64), n)
                        : g_array_sized_new (FALSE, FALSE, sizeof (gdouble), n);
  for (guint i = 0; i < n; i++) {
    gdouble d;
    if (!parse_number (s, group, items[i], integer, &d, error)) {
      g_array_unref (arr);
      return FALSE;
    }
    if (integer) {
      gint64 x = (gint64) d;
      g_array_append_val (arr, x);
    } else {
      g_array_append_val (arr, d);
    }
  }
  if (integer)
    v->ints = arr;
  else
    v->doubles = arr;
  return TRUE;
}

static gboolean
parse_weights (const M3retKeySpec *s, const gchar *group, const gchar *text, Value *v,
               GError **error)
{
  g_auto (GStrv) items = g_strsplit (text, ",", -1);
  GPtrArray *names = g_ptr_array_new ();
  GArray *weights = g_array_new (FALSE, FALSE, sizeof (gdouble));
  for (gchar **it = items; *it != NULL; it++) {
    g_strstrip (*it);
    if (**it == '\0' && text[strspn (text, " \t")] == '\0')
      break; /* the empty string: no weights given */
    gchar *colon = strchr (*it, ':');
    gdouble w = 1.0;
    if (colon == NULL || colon == *it) {
      g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_BAD_VALUE,
                   "[%s] %s: '%s' is not NAME:WEIGHT", group, s->name, *it);
      goto fail;
    }
    *colon = '\0';
    if (!parse_number (s, group, colon + 1, FALSE, &w, error))
      goto fail;
    if (w < 0) {
      g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                   "[%s] %s: weight of '%s' is %g; weights are >= 0", group, s->name, *it, w);
      goto fail;
    }
    g_ptr_array_add (names, g_strstrip (g_strdup (*it)));
    g_array_append_val (weights, w);
  }
  g_ptr_array_add (names, NULL);
  v->names = (GStrv) g_ptr_array_free (names, FALSE);
  v->doubles = weights;
  return TRUE;
fail:
  g_ptr_array_set_free_func (names, g_free);
  g_ptr_array_unref (names);
  g_array_unref (weights);
  return FALSE;
}

static gboolean
parse_value (const M3retKeySpec *s, const gchar *group, const gchar *text, Value *v,
             GError **error)
{
  gdouble d;
  switch (s->type) {
  case M3RET_KEY_INT:
    if (!parse_number (s, group, text, TRUE, &d, error))
      return FALSE;
    v->i = (gint64) d;
    v->d = d;
    return TRUE;
  case M3RET_KEY_DOUBLE:
    if (!parse_number (s, group, text, FALSE, &d, error))
      return FALSE;
    v->d = d;
    return TRUE;
  case M3RET_KEY_BOOL:
    if (g_ascii_strcasecmp (text, "true") == 0 || strcmp (text, "1") == 0)
      v->i = TRUE;
    else if (g_ascii_strcasecmp (text, "false") == 0 || strcmp (text, "0") == 0)
      v->i = FALSE;
    else {
      g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_BAD_VALUE,
                   "[%s] %s='%s' is not a boolean: allowed true or false", group, s->name, text);
      return FALSE;
    }
    return TRUE;
  case M3RET_KEY_ENUM:
    if (!choice_is_allowed (s->choices, text)) {
      g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_BAD_VALUE,
                   "[%s] %s='%s' is not allowed: choose one of %s", group, s->name, text,
                   s->choices);
      return FALSE;
    }
    return TRUE;
  case M3RET_KEY_STRING:
  case M3RET_KEY_PLUGIN: /* resolved against the registry by the pipeline */
    return TRUE;
  case M3RET_KEY_INT_LIST:
  case M3RET_KEY_DOUBLE_LIST:
    return parse_list (s, group, text, v, error);
  case M3RET_KEY_WEIGHTS:
    return parse_weights (s, group, text, v, error);
  }
  g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_BAD_VALUE,
               "[%s] %s has an unknown type", group, s->name);
  return FALSE;
}

static gboolean
assign (M3retConfig *config, Value *v, const gchar *text, gboolean is_default, GError **error)
{
  Value parsed = { .spec = v->spec };
  g_autofree gchar *stripped = g_strstrip (g_strdup (text));
  if (!parse_value (v->spec, config->group, stripped, &parsed, error)) {
    value_clear (&parsed);
    return FALSE;
  }
  value_clear (v);
  *v = parsed;
  v->text = g_steal_pointer (&stripped);
  v->set = TRUE;
  v->is_default = is_default;
  return TRUE;
}

gboolean
m3ret_config_set (M3retConfig *config, const gchar *key, const gchar *text, GError **error)
{
  g_return_val_if_fail (config != NULL && key != NULL && text != NULL, FALSE);
  Value *v = g_hash_table_lookup (config->by_name, key);
  if (v == NULL) {
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_UNKNOWN_KEY,
                 "[%s] has no key '%s'", config->group, key);
    return FALSE;
  }
  return assign (config, v, text, FALSE, error);
}

gboolean
m3ret_config_fill_defaults (M3retConfig *config, GPtrArray *defaulted, GError **error)
{
  g_return_val_if_fail (config != NULL, FALSE);
  for (guint i = 0; i < config->values->len; i++) {
    Value *v = g_ptr_array_index (config->values, i);
    if (v->set)
      continue;
    if (v->spec->default_value == NULL) {
      g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_MISSING_KEY,
                   "[%s] needs %s= (%s)", config->group, v->spec->name, v->spec->help);
      return FALSE;
    }
    GError *local = NULL;
    if (!assign (config, v, v->spec->default_value, TRUE, &local)) {
      /* A default that fails its own declaration is the declarer's bug. */
      g_propagate_prefixed_error (error, local, "bad default in declaration: ");
      return FALSE;
    }
    if (defaulted != NULL)
      g_ptr_array_add (defaulted, (gpointer) v->spec->name);
  }
  return TRUE;
}

M3retConfig *
m3ret_config_new_defaults (const gchar *group, const M3retKeySpec *keys, GError **error)
{
  M3retConfig *config = m3ret_config_new (group);
  if (!m3ret_config_add_keys (config, keys, error) ||
      !m3ret_config_fill_defaults (config, NULL, error)) {
    m3ret_config_unref (config);
    return NULL;
  }
  return config;
}

const gchar *
m3ret_config_get_group (const M3retConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return config->group;
}

gboolean
m3ret_config_has_key (const M3retConfig *config, const gchar *key)
{
  g_return_val_if_fail (config != NULL && key != NULL, FALSE);
  return g_hash_table_contains (config->by_name, key);
}

const M3retKeySpec *
m3ret_config_get_spec (const M3retConfig *config, const gchar *key)
{
  g_return_val_if_fail (config != NULL && key != NULL, NULL);
  Value *v = g_hash_table_lookup (config->by_name, key);
  return v ? v->spec : NULL;
}

/* The value of @key if it exists, is set and has one of the types given. */
static const Value *
lookup_typed (const M3retConfig *config, const gchar *key, M3retKeyType t1, M3retKeyType t2,
              M3retKeyType t3)
{
  g_return_val_if_fail (config != NULL && key != NULL, NULL);
  const Value *v = g_hash_table_lookup (config->by_name, key);
  if (v == NULL) {
    g_critical ("[%s] key '%s' was never declared", config->group, key);
    return NULL;
  }
  if (v->spec->type != t1 && v->spec->type != t2 && v->spec->type != t3) {
    g_critical ("[%s] key '%s' is a %s, not read as one", config->group, key,
                m3ret_key_type_name (v->spec->type));
    return NULL;
  }
  if (!v->set) {
    g_critical ("[%s] key '%s' read before defaults were filled", config->group, key);
    return NULL;
  }
  return v;
}

const gchar *
m3ret_config_get_text (const M3retConfig *config, const gchar *key)
{
  g_return_val_if_fail (config != NULL && key != NULL, NULL);
  const Value *v = g_hash_table_lookup (config->by_name, key);
  return v && v->set ? v->text : NULL;
}

gboolean
m3ret_config_is_default (const M3retConfig *config, const gchar *key)
{
  g_return_val_if_fail (config != NULL && key != NULL, FALSE);
  const Value *v = g_hash_table_lookup (config->by_name, key);
  return v != NULL && v->set && v->is_default;
}

gint64
m3ret_config_get_int (const M3retConfig *config, const gchar *key)
{
  const Value *v = lookup_typed (config, key, M3RET_KEY_INT, M3RET_KEY_INT, M3RET_KEY_INT);
  return v ? v->i : 0;
}

gdouble
m3ret_config_get_double (const M3retConfig *config, const gchar *key)
{
  /* An int key read as double is harmless and convenient. */
  const Value *v = lookup_typed (config, key, M3RET_KEY_DOUBLE, M3RET_KEY_INT, M3RET_KEY_DOUBLE);
  return v ? v->d : 0.0;
}

gboolean
m3ret_config_get_bool (const M3retConfig *config, const gchar *key)
{
  const Value *v = lookup_typed (config, key, M3RET_KEY_BOOL, M3RET_KEY_BOOL, M3RET_KEY_BOOL);
  return v ? (gboolean) v->i : FALSE;
}

const gchar *
m3ret_config_get_string (const M3retConfig *config, const gchar *key)
{
  const Value *v = lookup_typed (config, key, M3RET_KEY_STRING, M3RET_KEY_ENUM, M3RET_KEY_PLUGIN);
  return v ? v->text : NULL;
}

const gint64 *
m3ret_config_get_ints (const M3retConfig *config, const gchar *key, guint *n_values)
{
  const Value *v =
    lookup_typed (config, key, M3RET_KEY_INT_LIST, M3RET_KEY_INT_LIST, M3RET_KEY_INT_LIST);
  if (n_values)
    *n_values = v ? v->ints->len : 0;
  return v ? (const gint64 *) v->ints->data : NULL;
}

const gdouble *
m3ret_config_get_doubles (const M3retConfig *config, const gchar *key, guint *n_values)
{
  const Value *v = lookup_typed (config, key, M3RET_KEY_DOUBLE_LIST, M3RET_KEY_DOUBLE_LIST,
                                 M3RET_KEY_DOUBLE_LIST);
  if (n_values)
    *n_values = v ? v->doubles->len : 0;
  return v ? (const gdouble *) v->doubles->data : NULL;
}

const gchar *const *
m3ret_config_get_weights (const M3retConfig *config, const gchar *key, const gdouble **weights,
                          guint *n_values)
{
  const Value *v = lookup_typed (config, key, M3RET_KEY_WEIGHTS, M3RET_KEY_WEIGHTS,
                                 M3RET_KEY_WEIGHTS);
  if (weights)
    *weights = v ? (const gdouble *) v->doubles->data : NULL;
  if (n_values)
    *n_values = v ? v->doubles->len : 0;
  return v ? (const gchar *const *) v->names : NULL;
}

gchar **
m3ret_config_dump (const M3retConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; i < config->values->len; i++) {
    const Value *v = g_ptr_array_index (config->values, i);
    if (v->set)
      g_ptr_array_add (out, g_strdup_printf ("%s=%s", v->spec->name, v->text));
  }
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);
}

GPtrArray *
m3ret_config_list_keys (const M3retConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; i < config->values->len; i++)
    g_ptr_array_add (out, (gpointer) ((Value *) g_ptr_array_index (config->values, i))->spec);
  return out;
}

void
m3ret_config_set_origin (M3retConfig *config, const gchar *source, guint group_line)
{
  g_return_if_fail (config != NULL);
  g_free (config->source);
  config->source = g_strdup (source);
  config->group_line = group_line;
}

void
m3ret_config_set_line (M3retConfig *config, const gchar *key, guint line)
{
  g_return_if_fail (config != NULL && key != NULL);
  Value *v = g_hash_table_lookup (config->by_name, key);
  g_return_if_fail (v != NULL);
  v->line = line;
}

const gchar *
m3ret_config_get_source (const M3retConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return config->source;
}

guint
m3ret_config_get_line (const M3retConfig *config, const gchar *key)
{
  g_return_val_if_fail (config != NULL, 0);
  const Value *v = key != NULL ? g_hash_table_lookup (config->by_name, key) : NULL;
  return v != NULL && v->line > 0 ? v->line : config->group_line;
}

/* "FILE:LINE: ", "FILE: " or "" for @key (NULL: the group). (transfer full) */
static gchar *
where (const M3retConfig *config, const gchar *key)
{
  if (config->source == NULL)
    return g_strdup ("");
  guint line = m3ret_config_get_line (config, key);
  return line > 0 ? g_strdup_printf ("%s:%u: ", config->source, line)
                  : g_strdup_printf ("%s: ", config->source);
}

/* "[group] key=value" (with " (the default)" when it was not written). (transfer full) */
static gchar *
describe_key (const M3retConfig *config, const gchar *key)
{
  const Value *v = g_hash_table_lookup (config->by_name, key);
  if (v == NULL || !v->set)
    return g_strdup_printf ("[%s] %s", config->group, key);
  return g_strdup_printf ("[%s] %s=%s%s", config->group, key, v->text,
                          v->is_default ? " (the default)" : "");
}

void
m3ret_config_key_error (const M3retConfig *config, GError **error, gint code, const gchar *key,
                        const gchar *format, ...)
{
  g_return_if_fail (config != NULL && key != NULL && format != NULL);
  va_list args;
  va_start (args, format);
  g_autofree gchar *reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_autofree gchar *at = where (config, key);
  g_autofree gchar *what = describe_key (config, key);
  g_set_error (error, M3RET_CONFIG_ERROR, code, "%s%s: %s", at, what, reason);
}

void
m3ret_config_locate_error (const M3retConfig *config, const gchar *key, GError *error)
{
  g_return_if_fail (config != NULL && error != NULL);
  if (config->source == NULL)
    return;
  gsize n = strlen (config->source);
  if (strncmp (error->message, config->source, n) == 0 && error->message[n] == ':')
    return; /* m3ret_config_key_error() or the plugin itself named the place */
  g_autofree gchar *at = where (config, key);
  g_autofree gchar *what = key != NULL ? describe_key (config, key) : NULL;
  g_autofree gchar *old = error->message;
  error->message = what != NULL ? g_strdup_printf ("%s%s: %s", at, what, old)
                                : g_strdup_printf ("%s%s", at, old);
}

/* The position of @word in "a|b|c"; parsing already checked it is there. */
static gint
choice_index (const gchar *choices, const gchar *word)
{
  g_auto (GStrv) allowed = g_strsplit (choices, "|", -1);
  for (gint i = 0; allowed[i] != NULL; i++)
    if (strcmp (allowed[i], word) == 0)
      return i;
  return -1;
}

gboolean
m3ret_config_fill (const M3retConfig *config, const M3retKeySpec *keys, gpointer settings,
                   GError **error)
{
  g_return_val_if_fail (config != NULL && keys != NULL && settings != NULL, FALSE);
  for (const M3retKeySpec *k = keys; k->name != NULL; k++) {
    if (k->offset < 0)
      continue;
    const Value *v = g_hash_table_lookup (config->by_name, k->name);
    if (v == NULL || !v->set) {
      g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_MISSING_KEY,
                   "[%s] %s was %s before its settings were filled", config->group, k->name,
                   v == NULL ? "never declared" : "not given a value");
      return FALSE;
    }
    gpointer field = (guint8 *) settings + k->offset;
    switch (k->type) {
    case M3RET_KEY_INT:
      *(gint64 *) field = v->i;
      break;
    case M3RET_KEY_DOUBLE:
      *(gdouble *) field = v->d;
      break;
    case M3RET_KEY_BOOL:
      *(gboolean *) field = (gboolean) v->i;
      break;
    case M3RET_KEY_STRING:
    case M3RET_KEY_PLUGIN:
      *(const gchar **) field = v->text;
      break;
    case M3RET_KEY_ENUM:
      *(gint *) field = choice_index (k->choices, v->text);
      break;
    case M3RET_KEY_INT_LIST:
      memcpy (field, v->ints->data, (gsize) k->n_values * sizeof (gint64));
      break;
    case M3RET_KEY_DOUBLE_LIST:
      memcpy (field, v->doubles->data, (gsize) k->n_values * sizeof (gdouble));
      break;
    case M3RET_KEY_WEIGHTS: {
      M3retKeyWeights *w = field;
      w->names = (const gchar *const *) v->names;
      w->values = (const gdouble *) v->doubles->data;
      w->n = v->doubles->len;
      break;
    }
    }
  }
  return TRUE;
}
