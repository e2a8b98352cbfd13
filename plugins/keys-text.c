/* keys-text.c — a key's default and allowed values as people read them:
 * `m3ret plugins NAME`, the messages of a value out of range, and the
 * tables of docs/PIPELINE.md all print them from here. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-keys.h"
#include "m3ret-plugin.h"

static gboolean
is_integer_type (M3retKeyType type)
{
  return type == M3RET_KEY_INT || type == M3RET_KEY_INT_LIST;
}

/* Integer keys print their bounds as integers (seed's 4294967295, not
 * 4.29497e+09); real ones as %g. */
static gchar *
bound_text (const M3retKeySpec *spec, gdouble value)
{
  if (is_integer_type (spec->type) && fabs (value) < 9.2e18)
    return g_strdup_printf ("%.0f", value);
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  return g_strdup (g_ascii_formatd (buf, sizeof buf, "%g", value));
}

gchar *
m3ret_key_describe_range (const M3retKeySpec *spec)
{
  g_return_val_if_fail (spec != NULL, NULL);
  gboolean has_min = spec->min > -M3RET_KEY_UNBOUNDED, has_max = spec->max < M3RET_KEY_UNBOUNDED;
  g_autofree gchar *lo = bound_text (spec, spec->min), *hi = bound_text (spec, spec->max);
  if (has_min && has_max)
    return g_strdup_printf ("[%s, %s]", lo, hi);
  if (has_min)
    return g_strdup_printf (">= %s", lo);
  if (has_max)
    return g_strdup_printf ("<= %s", hi);
  return g_strdup (is_integer_type (spec->type) ? "any whole number" : "any number");
}

gchar *
m3ret_key_describe_allowed (const M3retKeySpec *spec)
{
  g_return_val_if_fail (spec != NULL, NULL);
  switch (spec->type) {
  case M3RET_KEY_INT:
  case M3RET_KEY_DOUBLE:
    return m3ret_key_describe_range (spec);
  case M3RET_KEY_INT_LIST:
  case M3RET_KEY_DOUBLE_LIST: {
    g_autofree gchar *range = m3ret_key_describe_range (spec);
    if (spec->n_values > 0)
      return g_strdup_printf ("%u values, each %s%s", spec->n_values,
                              *range == '[' ? "in " : "", range);
    return g_strdup_printf ("1 or more values, each %s%s", *range == '[' ? "in " : "", range);
  }
  case M3RET_KEY_BOOL: return g_strdup ("true|false");
  case M3RET_KEY_STRING: return g_strdup ("text");
  case M3RET_KEY_ENUM: return g_strdup (spec->choices ? spec->choices : "");
  case M3RET_KEY_PLUGIN: {
    const gchar *kind = m3ret_plugin_kind_to_string (spec->plugin_kind);
    return g_strdup_printf ("%s %s plugin", strchr ("aeiou", kind[0]) ? "an" : "a", kind);
  }
  case M3RET_KEY_WEIGHTS: return g_strdup ("NAME:W,... with W >= 0");
  }
  return g_strdup ("");
}

const gchar *
m3ret_key_describe_default (const M3retKeySpec *spec)
{
  g_return_val_if_fail (spec != NULL, NULL);
  if (spec->default_value == NULL)
    return "(required)";
  return *spec->default_value ? spec->default_value : "\"\"";
}
