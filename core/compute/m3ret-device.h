/* m3ret-device.h — a loaded compute backend: its table plus its context.
 *
 * Everything that computes (tensors, the graph, the optimiser) goes through
 * an M3retDevice, so the same model code runs on every backend plugin.
 */
#ifndef M3RET_DEVICE_H
#define M3RET_DEVICE_H

#include <glib.h>

#include "m3ret-plugin.h"

G_BEGIN_DECLS

/* m3ret-registry.h's; the device needs no more of the registry. */
typedef struct _M3retPlugin M3retPlugin;

typedef struct _M3retDevice M3retDevice;

/* Creates a context of backend @plugin for @config (the group holding the
 * plugin's keys, [pipeline] in a run) that computes on @threads threads
 * (the value the ops read back; @config says the same to the backend).  A
 * backend whose score says "not usable here" gives
 * M3RET_PLUGIN_ERROR_DECLINED.  A pipeline's device comes from
 * m3ret_encoder_device_new(), a test's from m3ret_device_new_by_name()
 * (both m3ret-encoder-context.h).
 * Returns: (transfer full) the device, or NULL with @error set. */
M3retDevice *m3ret_device_new (const M3retPlugin *plugin, M3retConfig *config, gint threads,
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
/* FALSE with @error when one of the backend's void entries failed since
 * the last call (its take_error entry, ABI minor 6; TRUE on backends
 * without one).  Graphs ask before every op; callers that run entries
 * outside a graph (the optimiser step) ask after them. */
gboolean m3ret_device_take_error (M3retDevice *device, GError **error);

G_END_DECLS

#endif /* M3RET_DEVICE_H */
