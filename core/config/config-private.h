/* config-private.h — what the core tells a config about where its values
 * came from, and how it puts that place in front of an error. */
#ifndef M3RET_CONFIG_PRIVATE_H
#define M3RET_CONFIG_PRIVATE_H

#include "m3ret-config.h"

G_BEGIN_DECLS

/* The pipeline file the values come from and the line of the [group]
 * header in it (0: the file has no such group). */
void m3ret_config_set_origin (M3retConfig *config, const gchar *source, guint group_line);
/* The line of @key, after m3ret_config_set() gave it its value. */
void m3ret_config_set_line (M3retConfig *config, const gchar *key, guint line);

/* Makes @error, from code that was handed @config (a plugin's create()),
 * begin with the place to edit: "FILE:LINE: [GROUP] KEY=VALUE: " for @key,
 * "FILE[:LINE]: " of the group for NULL.  Nothing when the message already
 * begins with the file (m3ret_config_key_error() wrote it) or when @config
 * came from no file. */
void m3ret_config_locate_error (const M3retConfig *config, const gchar *key, GError *error);

/* Returns: (transfer full) "KEY=VALUE" for each key that has a value, in
 * declaration order, the text as written or the default: the config
 * written out whole (an index keeps its retriever's), never read by name. */
gchar **m3ret_config_dump (const M3retConfig *config);

G_END_DECLS

#endif
