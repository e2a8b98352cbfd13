/* cli.h — private: what the m3ret subcommands share. */
#ifndef M3RET_CLI_H
#define M3RET_CLI_H

#include "m3ret.h"
#include "m3ret-embedder.h"
#include "run-files.h"

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

/* Prints "m3ret: error: COMMAND: MESSAGE (see m3ret COMMAND --help)" and
 * returns M3RET_EXIT_USAGE: a missing or malformed option. */
gint cli_usage_error (const gchar *command, const gchar *format, ...) G_GNUC_PRINTF (2, 3);

/* Usage checks after cli_parse(): each prints the usage error itself and
 * returns FALSE.  @argc counts the command name too, as after parsing. */
gboolean cli_require (const gchar *command, const gchar *value, const gchar *option);
gboolean cli_require_args (const gchar *command, gint argc, gchar **argv, gint min, gint max,
                           const gchar *what);

/* The files every pipeline-driven command reads: the pipeline itself and
 * the released weights its [encoder] init names. */
void cli_add_pipeline_inputs (M3retRunFiles *files, const gchar *pipeline_path,
                              const M3retPipeline *pipeline);

/* Embeddings or an index made by the encoder @have (a provenance line, or
 * NULL: not recorded) are used with the encoder @want.  FALSE with @error
 * naming @path and both identities when they differ, unless @allow (then
 * a note on stderr); a note when @have is NULL. */
gboolean cli_check_provenance (const gchar *command, const gchar *path, const gchar *have,
                               const gchar *want, gboolean allow, GError **error);

/* Returns: (transfer full) the manifest at @path, checked against the
 * pipeline's input limits; a manifest listing nothing is an error. */
M3retManifest *cli_load_manifest (const M3retPipeline *pipeline, const gchar *path,
                                  GError **error);

/* Before embedding @manifest with @embedder: rows without a modality take
 * @modality (-m/--modality; NULL: probe them), every row is resolved, and
 * the manifest's notices (rows listed twice, probes between close scores)
 * are printed once.  FALSE with @error naming the file (and line). */
gboolean cli_resolve_manifest (M3retEmbedder *embedder, M3retManifest *manifest,
                               const gchar *modality, GError **error);

/* Prints "m3ret: error: MESSAGE" and returns M3RET_EXIT_FAILURE. */
gint cli_fail (const GError *error);

/* Data-parallel (collective; one process: @ok itself): whether every rank
 * got through its set-up with @ok.  When one did not, *@report says
 * whether this rank is the lowest that failed, the one that prints its
 * error (the ranks usually fail alike: the message comes once). */
typedef struct _M3retDist M3retDist;
/* With TRUE, cli_report_notices() and cli_report_skips() print nothing:
 * for the ranks other than 0 of a data-parallel command. */
void cli_set_quiet_rank (gboolean quiet);
gboolean cli_ranks_ok (const M3retDist *dist, gboolean ok, gboolean *report);
/* Data-parallel, after a rank failed where the others may wait for it in a
 * collective: prints "m3ret: error: rank R of N: MESSAGE" and ends the
 * whole job (MPI_Abort).  Returns only with one rank. */
void cli_rank_abort (const M3retDist *dist, const GError *error);
gint cli_failf (const gchar *format, ...) G_GNUC_PRINTF (1, 2);

/* Prints what on_error=skip left out ("m3ret COMMAND: skipped N files ..."
 * and one line per reason); nothing when @skips is NULL or empty. */
void cli_report_skips (const gchar *command, M3retSkips *skips);

/* Collective, once every rank has done its share: rank 0's @skips gains
 * what the other ranks left out, so its report covers the whole job
 * (nothing with one process or NULL @skips). */
void cli_gather_skips (const M3retDist *dist, M3retSkips *skips);

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
gint cmd_manifest (gint argc, gchar **argv);
gint cmd_serve (gint argc, gchar **argv);

#endif
