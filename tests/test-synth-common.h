/* test-synth-common.h — running `m3ret synth` and reading its manifests, for the synth suites. */
#ifndef TEST_SYNTH_COMMON_H
#define TEST_SYNTH_COMMON_H

#include <glib.h>

/* Runs $M3RET_BIN synth ARGS... (NULL-terminated); @out/@err (nullable) get
 * its output. Returns: its exit status, or -1 when it died of a signal. */
gint synth_spawn (gchar **out, gchar **err, const gchar *first_arg, ...) G_GNUC_NULL_TERMINATED;

/* Returns: (transfer full) the rows of a CSV file, each a GStrv of its
 * fields; row 0 is the header. Fails the test when the file is unreadable. */
GPtrArray *synth_read_csv (const gchar *path);

/* Returns: (transfer full) DIR/NAME's bytes; fails the test when unreadable. */
GBytes *synth_read_file (const gchar *dir, const gchar *name);

#endif
