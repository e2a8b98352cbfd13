/* cli.h — private: what the m3ret subcommands share. */
#ifndef M3RET_CLI_H
#define M3RET_CLI_H

#include "m3ret.h"

/* Exit statuses of every command. */
enum { M3RET_EXIT_OK = 0, M3RET_EXIT_FAILURE = 1, M3RET_EXIT_USAGE = 2 };

typedef struct {
  gchar **plugin_paths; /* --plugin-path, repeatable */
  gboolean verbose;
} CliCommon;

/* Options every command accepts; point them at @common. */
void cli_add_common_options (GOptionContext *ctx, CliCommon *common);

/* Parses @argv for command @name; prints usage errors itself. */
gboolean cli_parse (GOptionContext *ctx, const gchar *name, gint *argc, gchar ***argv);

/* Returns: (transfer full) a registry scanned along the search path. Plugins
 * that failed to load are reported on stderr, one line each. */
M3retRegistry *cli_registry (const CliCommon *common);

/* Prints "m3ret: error: MESSAGE" and returns M3RET_EXIT_FAILURE. */
gint cli_fail (const GError *error);
gint cli_failf (const gchar *format, ...) G_GNUC_PRINTF (1, 2);

/* Prints what on_error=skip left out ("m3ret COMMAND: skipped N files ..."
 * and one line per reason); nothing when @skips is NULL or empty. */
void cli_report_skips (const gchar *command, M3retSkips *skips);

/* Prints each notice of @manifest (rows listed twice, probes between close
 * scores; m3ret-manifest.h) as "m3ret: warning: NOTICE" on stderr. */
void cli_report_notices (const M3retManifest *manifest);

gint cmd_plugins (gint argc, gchar **argv);
gint cmd_validate (gint argc, gchar **argv);
gint cmd_train (gint argc, gchar **argv);
gint cmd_embed (gint argc, gchar **argv);
gint cmd_eval (gint argc, gchar **argv);
gint cmd_query (gint argc, gchar **argv);
gint cmd_inspect (gint argc, gchar **argv);
gint cmd_index (gint argc, gchar **argv);
gint cmd_synth (gint argc, gchar **argv);

#endif
