/* device.c — a backend plugin's table and context held together. */
#include "config.h"

#include "m3ret-device.h"
#include "m3ret-registry.h"

struct _M3retDevice {
  const M3retBackendVTable *vt;
  gpointer ctx;
  gchar *name;
  gint threads;
  guint abi_minor; /* of the backend plugin: what its entries accept */
};

M3retDevice *
m3ret_device_new (const M3retPlugin *plugin, M3retConfig *config, gint threads, GError **error)
{
  g_return_val_if_fail (plugin != NULL, NULL);
  const M3retPluginDesc *desc = m3ret_plugin_get_desc (plugin);
  g_return_val_if_fail (desc->kind == M3RET_PLUGIN_BACKEND, NULL);
  const M3retBackendVTable *vt = m3ret_plugin_get_vtable (plugin);
  if (vt->score != NULL) {
    GError *local = NULL;
    if (vt->score (config, &local) == 0) {
      g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_DECLINED,
                   "backend '%s' is not usable here: %s", desc->name,
                   local ? local->message : "it declined");
      g_clear_error (&local);
      return NULL;
    }
  }
  gpointer ctx = vt->create (config, (guint) MAX (1, threads), error);
  if (ctx == NULL)
    return NULL;
  M3retDevice *device = g_new0 (M3retDevice, 1);
  device->vt = vt;
  device->ctx = ctx;
  device->name = g_strdup (desc->name);
  device->abi_minor = desc->abi_minor;
  device->threads = MAX (1, threads);
  return device;
}

void
m3ret_device_free (M3retDevice *device)
{
  if (device == NULL)
    return;
  device->vt->destroy (device->ctx);
  g_free (device->name);
  g_free (device);
}

const M3retBackendVTable *
m3ret_device_get_vtable (const M3retDevice *device)
{
  return device->vt;
}

gpointer
m3ret_device_get_context (const M3retDevice *device)
{
  return device->ctx;
}

const gchar *
m3ret_device_get_name (const M3retDevice *device)
{
  return device->name;
}

gint
m3ret_device_get_threads (const M3retDevice *device)
{
  return device->threads;
}

guint
m3ret_device_get_abi_minor (const M3retDevice *device)
{
  return device->abi_minor;
}

gpointer
m3ret_device_alloc (M3retDevice *device, gsize nbytes, GError **error)
{
  return device->vt->alloc (device->ctx, nbytes, error);
}

void
m3ret_device_free_mem (M3retDevice *device, gpointer mem)
{
  if (mem != NULL)
    device->vt->free (device->ctx, mem);
}

void
m3ret_device_upload (M3retDevice *device, gpointer dst, gconstpointer src, gsize nbytes)
{
  device->vt->upload (device->ctx, dst, src, nbytes);
}

void
m3ret_device_download (M3retDevice *device, gpointer dst, gconstpointer src, gsize nbytes)
{
  device->vt->download (device->ctx, dst, src, nbytes);
}

void
m3ret_device_synchronize (M3retDevice *device)
{
  if (device->vt->synchronize != NULL)
    device->vt->synchronize (device->ctx);
}

gboolean
m3ret_device_take_error (M3retDevice *device, GError **error)
{
  if (device->abi_minor < 6 || device->vt->take_error == NULL)
    return TRUE;
  GError *failure = NULL;
  if (device->vt->take_error (device->ctx, &failure)) {
    g_clear_error (&failure);
    return TRUE;
  }
  if (failure == NULL)
    failure = g_error_new (M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED,
                           "backend '%s' reported a failure without a message",
                           m3ret_device_get_name (device));
  g_propagate_error (error, failure);
  return FALSE;
}
