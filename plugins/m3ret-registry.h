/* m3ret-registry.h — finding, checking and loading plugins.
 *
 * The registry scans a search path (--plugin-path dirs, then
 * M3RET_PLUGIN_PATH, then the install directory), opens every m3ret-*.so,
 * checks its descriptor and keeps it loaded for the life of the process.
 * A plugin that cannot be used is recorded as a failure with a precise
 * GError and skipped; it never takes the program down.
 */
#ifndef M3RET_REGISTRY_H
#define M3RET_REGISTRY_H

#include "m3ret-plugin.h"

G_BEGIN_DECLS

#define M3RET_PLUGIN_ERROR (m3ret_plugin_error_quark ())
GQuark m3ret_plugin_error_quark (void);

typedef enum {
  M3RET_PLUGIN_ERROR_CANNOT_OPEN,     /* dlopen failed (missing symbol, not an ELF, ...) */
  M3RET_PLUGIN_ERROR_NO_DESCRIPTOR,   /* no m3ret_plugin_NAME_get_desc, or it returned NULL */
  M3RET_PLUGIN_ERROR_ABI_MISMATCH,    /* other major, or plugin minor newer than the core */
  M3RET_PLUGIN_ERROR_MISSING_ENTRY,   /* a mandatory descriptor field or vtable entry is NULL */
  M3RET_PLUGIN_ERROR_INIT_FAILED,     /* the plugin's init() refused */
  M3RET_PLUGIN_ERROR_DUPLICATE_NAME,  /* a plugin of that name was already registered */
  M3RET_PLUGIN_ERROR_BAD_DESCRIPTOR,  /* unknown kind, malformed name or keys */
  M3RET_PLUGIN_ERROR_NOT_FOUND,       /* lookup of a name nobody registered */
  M3RET_PLUGIN_ERROR_DECLINED         /* the plugin's probe/score says "not usable here" */
} M3retPluginError;

typedef struct _M3retRegistry M3retRegistry;
typedef struct _M3retPlugin M3retPlugin;

/* A plugin that was found but could not be registered. */
typedef struct {
  gchar *filename;
  GError *error;
} M3retPluginFailure;

/* Environment variables: the user's extra plugin folders (':'-separated),
 * and an override of the install directory ("" disables it; tests use that
 * to stay hermetic). */
#define M3RET_PLUGIN_PATH_ENV        "M3RET_PLUGIN_PATH"
#define M3RET_PLUGIN_SYSTEM_PATH_ENV "M3RET_PLUGIN_SYSTEM_PATH"

/* Returns: (transfer full) an empty registry; free with m3ret_registry_free(). */
M3retRegistry *m3ret_registry_new (void);
void m3ret_registry_free (M3retRegistry *registry);

/* Returns: (transfer full) the folders scanned, in order: @extra_dirs
 * (may be NULL; each ':'-separated too), M3RET_PLUGIN_PATH, then the
 * install dir, all absolute: an empty entry is skipped (it never means the
 * current folder), a relative one is resolved against the current folder.
 * g_strfreev() it. */
gchar **m3ret_registry_search_path (const gchar *const *extra_dirs);

/* Loads every plugin found along m3ret_registry_search_path(@extra_dirs).
 * Failures are recorded (m3ret_registry_get_failures()), never fatal.
 * Returns the number of plugins registered by this call. */
guint m3ret_registry_scan (M3retRegistry *registry, const gchar *const *extra_dirs);

/* Loads one shared object, by its absolute path (a relative @filename is
 * resolved against the current folder; the dynamic linker never searches).
 * Returns: (transfer none) the plugin, or NULL with @error set (domain
 * M3RET_PLUGIN_ERROR); the failure is recorded too. */
const M3retPlugin *m3ret_registry_load_file (M3retRegistry *registry, const gchar *filename,
                                             GError **error);

/* Registers a descriptor linked into the program (tests, static builds). */
const M3retPlugin *m3ret_registry_add_static (M3retRegistry *registry, const M3retPluginDesc *desc,
                                              GError **error);

/* Returns: (transfer none) the plugin of @kind called @name, or NULL.  A
 * modality's name is matched without regard to case when no plugin has
 * exactly that name. */
const M3retPlugin *m3ret_registry_lookup (M3retRegistry *registry, M3retPluginKind kind,
                                          const gchar *name);

/* Returns: (transfer none) the plugin loaded from the file @filename names
 * (compared as files, not as strings), or NULL when none was; then
 * @failure (optional) receives the recorded error when loading it was
 * tried and failed (a duplicate name, say), else NULL. */
const M3retPlugin *m3ret_registry_lookup_file (M3retRegistry *registry, const gchar *filename,
                                               const GError **failure);

/* Like lookup, but NULL comes with a NOT_FOUND error that says "did you
 * mean ..." when a registered name is close. */
const M3retPlugin *m3ret_registry_require (M3retRegistry *registry, M3retPluginKind kind,
                                           const gchar *name, GError **error);

/* Returns: (transfer container) plugins of @kind (or all when @kind is
 * M3RET_PLUGIN_N_KINDS), sorted by kind then name. g_ptr_array_unref() it. */
GPtrArray *m3ret_registry_list (M3retRegistry *registry, M3retPluginKind kind);

/* Returns: (transfer none) array of M3retPluginFailure*, in discovery order. */
const GPtrArray *m3ret_registry_get_failures (M3retRegistry *registry);

const M3retPluginDesc *m3ret_plugin_get_desc (const M3retPlugin *plugin);
/* The file it came from, or "(static)". */
const gchar *m3ret_plugin_get_filename (const M3retPlugin *plugin);
/* The vtable, cast to the kind's table by the caller who checked the kind. */
gconstpointer m3ret_plugin_get_vtable (const M3retPlugin *plugin);

/* Returns: (transfer full) the candidate closest to @word by edit distance
 * when it is close enough to be a likely typo, else NULL. */
gchar *m3ret_suggest (const gchar *word, const gchar *const *candidates);

G_END_DECLS

#endif /* M3RET_REGISTRY_H */
