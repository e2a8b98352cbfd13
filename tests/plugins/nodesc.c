/* nodesc.c — exports no descriptor function: refused with NO_DESCRIPTOR. */
#include <glib.h>
#include <gmodule.h>

G_MODULE_EXPORT int m3ret_plugin_testnodesc_something_else (void);

int
m3ret_plugin_testnodesc_something_else (void)
{
  return 42;
}
