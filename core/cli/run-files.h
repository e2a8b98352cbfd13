/* run-files.h — what one command reads and writes, kept apart.
 *
 * No m3ret command writes over a file it reads in the same run.  A command
 * lists every input (pipeline, manifests and the files they name,
 * checkpoints, indexes, embeddings and their sidecars, query files) and
 * every output, each with the name the user knows it by ("--manifest",
 * "the sidecar of --out"), and calls m3ret_run_files_check() before any
 * work.  Two names are one file when they are the same file on disk after
 * symbolic links and ".." are resolved (a hard link counts too), or, for an
 * output that does not exist yet, when their canonical paths are equal.
 * The same check refuses, before any work, an output that cannot be
 * written: a folder, or in a folder that is missing or read-only.
 */
#ifndef M3RET_CLI_RUN_FILES_H
#define M3RET_CLI_RUN_FILES_H

#include <glib.h>

#include "m3ret-manifest.h"

G_BEGIN_DECLS

typedef struct _M3retRunFiles M3retRunFiles;

/* Returns: (transfer full) an empty list. */
M3retRunFiles *m3ret_run_files_new (void);
void m3ret_run_files_free (M3retRunFiles *files);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retRunFiles, m3ret_run_files_free)

/* @role names how the user gave the file ("--checkpoint", "[data] train
 * manifest", "sidecar of --out E.npy"); an output's @option is the option
 * to change to avoid the clash ("--out").  Strings are copied; a NULL or
 * empty @path is ignored. */
void m3ret_run_files_add_input (M3retRunFiles *files, const gchar *path, const gchar *role);
void m3ret_run_files_add_output (M3retRunFiles *files, const gchar *path, const gchar *role,
                                 const gchar *option);

/* Outputs may lie in folders the command creates (train --out): their
 * nearest existing folder must be writable, not their own. */
void m3ret_run_files_set_creates_folders (M3retRunFiles *files, gboolean creates);

/* Every file @manifest lists, as inputs of @role ("a file listed in --manifest"). */
void m3ret_run_files_add_manifest_entries (M3retRunFiles *files, const M3retManifest *manifest,
                                           const gchar *role);

/* TRUE when @a and @b name one existing file (the rule above). */
gboolean m3ret_run_files_same_file (const gchar *a, const gchar *b);

/* FALSE with G_FILE_ERROR_EXIST when an output is one of the inputs, or two
 * outputs are one file; the message names the output first, then what it
 * would overwrite ("OUT: refusing to write ... over the --manifest this
 * command reads").  FALSE with another G_FILE_ERROR when an output cannot
 * be written (ISDIR, NOENT, NOTDIR, ACCES). */
gboolean m3ret_run_files_check (const M3retRunFiles *files, GError **error);

G_END_DECLS

#endif /* M3RET_CLI_RUN_FILES_H */
