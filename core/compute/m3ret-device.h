/* m3ret-device.h — a loaded compute backend: its table plus its context.
 *
 * Everything that computes (tensors, the graph, the optimiser) goes through
 * an M3retDevice, so the same model code runs on every backend plugin.
 */
#ifndef M3RET_DEVICE_H
#define M3RET_DEVICE_H

#include <glib.h>

#include "m3ret-plugin.h"
#include "m3ret-registry.h"
#include "m3ret-pipeline.h"

G_BEGIN_DECLS

typedef struct _M3retDevice M3retDevice;

/* Creates a context of backend @plugin for @config (the [pipeline] group,
 * with the plugin's keys).  A backend whose score says "not usable here"
 * gives M3RET_PLUGIN_ERROR_DECLINED.
 * Returns: (transfer full) the device, or NULL with @error set. */
M3retDevice *m3ret_device_new (const M3retPlugin *plugin, M3retConfig *config, GError **error);

/* The backend and [pipeline] config a validated pipeline chose.
 * Returns: (transfer full) */
M3retDevice *m3ret_device_new_for_pipeline (const M3retPipeline *pipeline, GError **error);

/* For tests and benchmarks: backend @name of @registry with `threads=@threads`
 * and every other [pipeline] key at its default.  Returns: (transfer full) */
M3retDevice *m3ret_device_new_by_name (M3retRegistry *registry, const gchar *name, gint threads,
                                       GError **error);

/* Frees the context; accepts NULL.  Free every tensor, graph and optimiser
 * of the device first. */
void m3ret_device_free (M3retDevice *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retDevice, m3ret_device_free)

/* (transfer none) */
const M3retBackendVTable *m3ret_device_get_vtable (const M3retDevice *device);
gpointer m3ret_device_get_context (const M3retDevice *device);
const gchar *m3ret_device_get_name (const M3retDevice *device);
/* The `threads=` value the device was created with. */
gint m3ret_device_get_threads (const M3retDevice *device);
/* The plugin ABI minor the backend was built against: entries whose
 * contract grew later (attention_fwd without probs, minor 2) are used the
 * new way only with backends at least that new. */
guint m3ret_device_get_abi_minor (const M3retDevice *device);

/* Backend memory: (transfer full) free with m3ret_device_free_mem(). */
gpointer m3ret_device_alloc (M3retDevice *device, gsize nbytes, GError **error);
void m3ret_device_free_mem (M3retDevice *device, gpointer mem);
void m3ret_device_upload (M3retDevice *device, gpointer dst, gconstpointer src, gsize nbytes);
void m3ret_device_download (M3retDevice *device, gpointer dst, gconstpointer src, gsize nbytes);
/* Waits for queued work (no-op on synchronous backends). */
void m3ret_device_synchronize (M3retDevice *device);

G_END_DECLS

#endif /* M3RET_DEVICE_H */
