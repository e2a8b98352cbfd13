/* m3ret-config.h — typed, validated values of one pipeline group.
 *
 * A plugin receives an M3retConfig holding its keys (as declared in its
 * descriptor) with defaults filled in.  Values were checked against the
 * declaration when the pipeline was loaded, so getters cannot fail; asking
 * for a key that was never declared, or with the wrong type, is a
 * programming error (g_critical, zero returned).
 */
#ifndef M3RET_CONFIG_H
#define M3RET_CONFIG_H

#include <glib.h>

#include "m3ret-keys.h"

G_BEGIN_DECLS

#define M3RET_CONFIG_ERROR (m3ret_config_error_quark ())
GQuark m3ret_config_error_quark (void);

typedef enum {
  M3RET_CONFIG_ERROR_PARSE,          /* not a key file, duplicate group or key */
  M3RET_CONFIG_ERROR_UNKNOWN_GROUP,  /* group nobody declares */
  M3RET_CONFIG_ERROR_UNKNOWN_KEY,    /* key the group does not declare */
  M3RET_CONFIG_ERROR_BAD_VALUE,      /* wrong type or not one of the choices */
  M3RET_CONFIG_ERROR_OUT_OF_RANGE,   /* number outside [min, max] or wrong list length */
  M3RET_CONFIG_ERROR_MISSING_KEY,    /* a mandatory key is absent */
  M3RET_CONFIG_ERROR_UNKNOWN_PLUGIN  /* plugin= names nothing registered */
} M3retConfigError;

typedef struct _M3retConfig M3retConfig;

/* Returns: (transfer full) an empty config for group @group; add the key
 * tables that apply with m3ret_config_add_keys(). */
M3retConfig *m3ret_config_new (const gchar *group);
M3retConfig *m3ret_config_ref (M3retConfig *config);
void m3ret_config_unref (M3retConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retConfig, m3ret_config_unref)

/* Declares more keys (the table must outlive the config: descriptors are
 * static). Returns FALSE if a name is declared twice. */
gboolean m3ret_config_add_keys (M3retConfig *config, const M3retKeySpec *keys, GError **error);

/* Parses @text for @key against its declaration. Errors name the key, the
 * value and what is allowed. */
gboolean m3ret_config_set (M3retConfig *config, const gchar *key, const gchar *text,
                           GError **error);

/* Fills every unset key from its default. Returns FALSE if a mandatory key
 * (no default) is unset. @defaulted (optional) receives the names filled. */
gboolean m3ret_config_fill_defaults (M3retConfig *config, GPtrArray *defaulted, GError **error);

/* Returns: (transfer full) a config of @keys with every default filled; for
 * commands that run a plugin without a pipeline file. */
M3retConfig *m3ret_config_new_defaults (const gchar *group, const M3retKeySpec *keys,
                                        GError **error);

const gchar *m3ret_config_get_group (const M3retConfig *config);
gboolean m3ret_config_has_key (const M3retConfig *config, const gchar *key);
const M3retKeySpec *m3ret_config_get_spec (const M3retConfig *config, const gchar *key);
/* The value as text (as written, or the default); NULL when unset. */
const gchar *m3ret_config_get_text (const M3retConfig *config, const gchar *key);
gboolean m3ret_config_is_default (const M3retConfig *config, const gchar *key);

gint64 m3ret_config_get_int (const M3retConfig *config, const gchar *key);
gdouble m3ret_config_get_double (const M3retConfig *config, const gchar *key);
gboolean m3ret_config_get_bool (const M3retConfig *config, const gchar *key);
/* STRING, ENUM and PLUGIN keys. (transfer none) */
const gchar *m3ret_config_get_string (const M3retConfig *config, const gchar *key);
/* INT_LIST: (transfer none) the values, @n_values receives the count. */
const gint64 *m3ret_config_get_ints (const M3retConfig *config, const gchar *key, guint *n_values);
const gdouble *m3ret_config_get_doubles (const M3retConfig *config, const gchar *key,
                                         guint *n_values);
/* WEIGHTS: (transfer none) names and weights, @n_values receives the count. */
const gchar *const *m3ret_config_get_weights (const M3retConfig *config, const gchar *key,
                                              const gdouble **weights, guint *n_values);

/* Writes the value of every key of @keys declared with a *_FIELD macro into
 * @settings at the key's offset (m3ret-keys.h says which C type each key
 * type lands as).  This is how code reads a group: once, into its own
 * struct, never by name.  Strings, lists and weights stay owned by @config,
 * so @settings is valid while @config is.  Returns: FALSE with @error when a
 * bound key is not in @config or has no value yet (the declarer's bug). */
gboolean m3ret_config_fill (const M3retConfig *config, const M3retKeySpec *keys,
                            gpointer settings, GError **error);

/* The declared keys, in declaration order: (transfer container). */
GPtrArray *m3ret_config_list_keys (const M3retConfig *config);

/* Where the values came from: the pipeline file (NULL for a config made
 * from defaults alone), and the line of @key in it, or of the group's
 * header when @key took its default (0 when the file has no such group). */
const gchar *m3ret_config_get_source (const M3retConfig *config);
guint m3ret_config_get_line (const M3retConfig *config, const gchar *key);

/* For a plugin's create() (or check()) that refuses a value its key table
 * cannot rule out, such as a relation between two keys (name the one to
 * change): sets @error in M3RET_CONFIG_ERROR with @code and the message
 * "FILE:LINE: [GROUP] KEY=VALUE: REASON", the place where the pipeline set
 * @key ("KEY=VALUE (the default)" at the group's line when it was not
 * written), so the user sees the file and line to edit. */
void m3ret_config_key_error (const M3retConfig *config, GError **error, gint code, const gchar *key,
                             const gchar *format, ...) G_GNUC_PRINTF (5, 6);

G_END_DECLS

#endif /* M3RET_CONFIG_H */
