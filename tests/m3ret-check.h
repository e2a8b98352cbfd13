/* m3ret-check.h — the small helper library every Check suite uses.
 *
 * As GStreamer's gstcheck: a g_warning or g_critical that a test did not
 * announce fails it, and plugins come from the build tree only
 * (M3RET_PLUGIN_PATH set by `make check`, install dir disabled).
 */
#ifndef M3RET_CHECK_H
#define M3RET_CHECK_H

#include <check.h>

#include "m3ret.h"

/* Makes warnings and criticals fatal and pins the plugin path. Call first. */
void m3ret_check_init (void);

/* The next @n warnings/criticals whose message contains @substring are
 * expected (a test of g_return_if_fail paths); checked by
 * m3ret_check_expected_done(). */
void m3ret_check_expect_log (const gchar *substring, guint n);
void m3ret_check_expected_done (void);

/* Returns: (transfer full) a registry scanned along the pinned path. */
M3retRegistry *m3ret_check_registry (void);

/* Runs @suite and returns the process exit status. */
int m3ret_check_run (Suite *suite);

/* Every suite's main(), written by M3RET_CHECK_MAIN:
 *   1. with @one_process, CK_FORK=no unless the environment sets CK_FORK
 *      (a forked child's exit runs every loaded plugin's static
 *      destructors; libtorch's take about a second);
 *   2. m3ret_check_init(): an unexpected warning or critical fails the
 *      test, plugins come from the build tree only;
 *   3. with @registry, *@registry = m3ret_check_registry() (every
 *      build-tree plugin must load);
 *   4. @setup, if any: FALSE ends the run with a failure, the suite unrun;
 *   5. m3ret_check_run (@suite ());
 *   6. @teardown, if any (also after a failed @setup), then the registry
 *      is freed.
 * The fields are named at the use, e.g.
 *   M3RET_CHECK_MAIN (.suite = ops_suite, .one_process = TRUE, .registry = &registry)
 */
typedef struct {
  Suite *(*suite) (void);
  gboolean one_process;
  M3retRegistry **registry;
  gboolean (*setup) (void);
  void (*teardown) (void);
} M3retCheckMain;

/* Returns: the process exit status. */
int m3ret_check_main (const M3retCheckMain *how);

#define M3RET_CHECK_MAIN(...)                                                                  \
  int main (void);                                                                             \
  int main (void)                                                                              \
  {                                                                                            \
    static const M3retCheckMain m3ret_check_main_how = { __VA_ARGS__ };                        \
    return m3ret_check_main (&m3ret_check_main_how);                                           \
  }

/* Returns: (transfer full) a fresh temporary folder; remove with m3ret_check_rmtree(). */
gchar *m3ret_check_tmpdir (void);
void m3ret_check_rmtree (const gchar *path);

/* What a run of the m3ret command gave. */
typedef struct {
  gint status; /* exit status; the test fails if it died of a signal */
  gchar *out;
  gchar *err;
} M3retCheckRun;

/* Runs $M3RET_BIN with the NULL-terminated arguments.  With
 * @pinned_plugins it sees the build tree's plugins (as `make check` pins
 * them); without, no plugin folder but the --plugin-path ones given. */
M3retCheckRun m3ret_check_m3ret (gboolean pinned_plugins, const gchar *first, ...) G_GNUC_NULL_TERMINATED;
void m3ret_check_run_clear (M3retCheckRun *run);

/* Returns: (transfer full) a fresh temporary folder holding `m3ret synth`'s
 * set in data/ (32² images, 8 frames, @per_class files per class, @seed);
 * remove with m3ret_check_rmtree(). */
gchar *m3ret_check_synth_dataset (gint per_class, guint seed);

/* Number of '\n' in @text. */
guint m3ret_check_count_lines (const gchar *text);

/* Path of a file in the source tree's tests/ folder. (transfer full) */
gchar *m3ret_check_srcfile (const gchar *name);

#endif
