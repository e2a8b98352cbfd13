/* m3ret-plugin.h — the one header a plugin author includes.
 *
 * A plugin is a shared object that exports exactly one descriptor through a
 * function whose name derives from the file name, as GStreamer does:
 * `m3ret-NAME.so` exports `m3ret_plugin_NAME_get_desc` (dashes in NAME
 * become underscores).  M3RET_PLUGIN_DEFINE writes that function for you;
 * because the symbol is unique per plugin, the same object file can also be
 * linked statically and registered with m3ret_registry_add_static().
 *
 * Versioning: a plugin built against ABI major.minor loads into a core with
 * the same major and a minor >= the plugin's.  Entries appended to a vtable
 * bump the minor; the core only reads entries the plugin's minor knows.
 */
#ifndef M3RET_PLUGIN_H
#define M3RET_PLUGIN_H

#include <glib.h>
#include <gmodule.h>

#include "m3ret-keys.h"
#include "m3ret-abi.h"

G_BEGIN_DECLS

typedef enum {
  M3RET_PLUGIN_MODALITY = 0,
  M3RET_PLUGIN_OBJECTIVE,
  M3RET_PLUGIN_BACKEND,
  M3RET_PLUGIN_RETRIEVER,
  M3RET_PLUGIN_N_KINDS
} M3retPluginKind;

typedef struct _M3retPluginDesc M3retPluginDesc;

/**
 * M3retPluginDesc:
 * @abi_major, @abi_minor: the ABI the plugin was compiled against
 *   (M3RET_PLUGIN_DEFINE fills them from m3ret-abi.h)
 * @kind: which of the four kinds the vtable is
 * @name: unique name, [a-z0-9_]+, used in pipeline files (`plugin=NAME`)
 * @version: the plugin's own version string
 * @description: one line for `m3ret plugins`
 * @license: SPDX identifier
 * @keys: the plugin's configuration keys, ended by M3RET_KEY_END; may be NULL
 * @init: optional; called once at load; return FALSE with @error set to
 *   refuse loading (the registry reports it and skips the plugin)
 * @vtable: mandatory; points to the kind's table (M3retModalityVTable,
 *   M3retObjectiveVTable, M3retBackendVTable or M3retRetrieverVTable)
 */
struct _M3retPluginDesc {
  guint16 abi_major;
  guint16 abi_minor;
  M3retPluginKind kind;
  const gchar *name;
  const gchar *version;
  const gchar *description;
  const gchar *license;
  const M3retKeySpec *keys;
  gboolean (*init) (GError **error);
  gconstpointer vtable;
  /*< private >*/
  gpointer _m3ret_reserved[4];
};

#define M3RET_PLUGIN_GET_DESC_SYMBOL(name) m3ret_plugin_##name##_get_desc

/**
 * M3RET_PLUGIN_DEFINE:
 * @name: bare identifier, the plugin name (file m3ret-@name.so)
 *
 * Defines and exports the descriptor function of the plugin.
 */
#define M3RET_PLUGIN_DEFINE(name, kind, version, description, license, keys, init, vtable) \
  G_MODULE_EXPORT const M3retPluginDesc *M3RET_PLUGIN_GET_DESC_SYMBOL (name) (void);     \
  G_MODULE_EXPORT const M3retPluginDesc *M3RET_PLUGIN_GET_DESC_SYMBOL (name) (void)      \
  {                                                                                      \
    static const M3retPluginDesc desc = {                                                \
      M3RET_ABI_MAJOR, M3RET_ABI_MINOR, (kind), #name, (version), (description),         \
      (license), (keys), (init), (vtable), { NULL, NULL, NULL, NULL }                    \
    };                                                                                   \
    return &desc;                                                                        \
  }

const gchar *m3ret_plugin_kind_to_string (M3retPluginKind kind);
gboolean m3ret_plugin_kind_from_string (const gchar *str, M3retPluginKind *kind);

/* Errors of m3ret's own file formats (npy, sidecar CSV, index files); the
 * message always names the file and the reason.  I/O failures themselves
 * are G_FILE_ERROR. */
#define M3RET_FORMAT_ERROR (m3ret_format_error_quark ())
GQuark m3ret_format_error_quark (void);

typedef enum {
  M3RET_FORMAT_ERROR_FOREIGN,    /* not a file of the expected kind (magic, plugin) */
  M3RET_FORMAT_ERROR_VERSION,    /* a version this build does not read */
  M3RET_FORMAT_ERROR_TRUNCATED,  /* shorter than its header says */
  M3RET_FORMAT_ERROR_CORRUPT,    /* checksum mismatch, inconsistent sizes, bad ids */
  M3RET_FORMAT_ERROR_UNSUPPORTED,/* well-formed but not what we accept (dtype, order, rank) */
  M3RET_FORMAT_ERROR_MISMATCH,   /* two files that belong together disagree (rows, dim) */
  M3RET_FORMAT_ERROR_INVALID     /* values we refuse (NaN, empty, bad field) */
} M3retFormatError;

G_END_DECLS

#include "m3ret-modality.h"
#include "m3ret-objective.h"
#include "m3ret-backend.h"
#include "m3ret-retriever.h"

#endif /* M3RET_PLUGIN_H */
