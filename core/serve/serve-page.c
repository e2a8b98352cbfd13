/* serve-page.c — the web page's files, compiled into the binary
 * (web/serve.gresource.xml; nothing is fetched from elsewhere). */
#include "config.h"

#include <string.h>

#include "serve-resources.h"
#include "serve-server.h"

static const struct {
  const gchar *path, *file, *type;
} files[] = {
  { "/", "index.html", "text/html; charset=utf-8" },
  { "/index.html", "index.html", "text/html; charset=utf-8" },
  { "/app.js", "app.js", "text/javascript; charset=utf-8" },
  { "/style.css", "style.css", "text/css; charset=utf-8" },
};

GBytes *
serve_page_lookup (const gchar *path, const gchar **type)
{
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    if (strcmp (files[i].path, path) != 0)
      continue;
    g_autofree gchar *name = g_strconcat ("/org/m3ret/serve/", files[i].file, NULL);
    GBytes *data = g_resource_lookup_data (serve_get_resource (), name,
                                           G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
    if (data != NULL)
      *type = files[i].type;
    return data;
  }
  return NULL;
}
