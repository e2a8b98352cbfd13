/* fuzz-common.h — what every fuzz target shares.
 *
 * A target is one LLVMFuzzerTestOneInput() that feeds its bytes to one
 * reader.  Built with clang -fsanitize=fuzzer it is a libFuzzer fuzzer
 * (`make fuzz`); linked with replay.c it is a plain program that replays
 * the corpus and the regression inputs under `make check`.
 *
 * Beyond "no crash, no leak", every target checks the readers' contract:
 * a refusal comes with a GError whose message names the input.
 */
#ifndef M3RET_FUZZ_COMMON_H
#define M3RET_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "m3ret.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Once per process: criticals and warnings abort (they mean a bug, not bad
 * input). Safe to call on every input. */
void fuzz_init (void);

/* Writes @data to a file named @name in the process's own temporary folder
 * (for readers that take a path) and returns its path, valid until the next
 * call.  The folder is removed at exit. */
const gchar *fuzz_temp_file (const uint8_t *data, size_t size, const gchar *name);

/* The reader's contract: @ok, or a GError whose message contains @name.
 * Aborts otherwise; frees @error. */
void fuzz_check_result (gboolean ok, GError *error, const gchar *name);

/* Limits small enough to keep the fuzzer fast (the limit checks themselves
 * are fuzzed): a megapixel, a million voxels, 64 frames, 16 MB. */
const M3retLimits *fuzz_limits (void);

/* The plugins on $M3RET_PLUGIN_PATH, scanned once and kept. */
M3retRegistry *fuzz_registry (void);

#endif /* M3RET_FUZZ_COMMON_H */
