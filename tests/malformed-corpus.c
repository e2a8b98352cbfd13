/* malformed-corpus.c — writes the broken data files of malformed-gen.c to
 * a folder, for tests that feed them to something other than the m3ret
 * command (test-serve.py posts each to the server):
 *   malformed-corpus DIR   → DIR/NAME for every image case, DIR/cases.tsv
 *                            ("NAME<TAB>MODALITY" a line), DIR/limits.ini
 *                            (the [data] limits the cases are broken under) */
#include "config.h"

#include <check.h>
#include <stdio.h>

#include "malformed-gen.h"

static const gchar *folder;

/* The fixtures assert with Check, so the writing runs as a Check test. */
START_TEST (write_corpus)
{
  g_autofree gchar *good = g_build_filename (folder, "good", NULL);
  g_mkdir_with_parents (good, 0755);
  MgContext ctx;
  mg_context_init (&ctx, good);
  const gchar *own = ctx.dir; /* the cases are written beside the good files' folder */
  ctx.dir = folder;
  guint n = 0;
  const MgCase *cases = mg_cases (&n);
  g_autoptr (GString) tsv = g_string_new (NULL);
  for (guint i = 0; i < n; i++) {
    if (cases[i].kind != MG_IMAGE)
      continue;
    g_autofree gchar *path = g_build_filename (folder, cases[i].name, NULL);
    cases[i].write (&ctx, path);
    g_string_append_printf (tsv, "%s\t%s\n", cases[i].name,
                            cases[i].modality ? cases[i].modality : "");
  }
  g_autofree gchar *list = g_build_filename (folder, "cases.tsv", NULL);
  g_autofree gchar *limits = g_build_filename (folder, "limits.ini", NULL);
  gboolean ok = g_file_set_contents (list, tsv->str, (gssize) tsv->len, NULL) &&
                g_file_set_contents (limits, "[data]\n" MG_LIMITS, -1, NULL);
  ctx.dir = own;
  mg_context_clear (&ctx);
  ck_assert_msg (ok, "%s: cannot write the case list", folder);
}
END_TEST

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  if (g_mkdir_with_parents (argv[1], 0755) != 0) {
    perror (argv[1]);
    return 1;
  }
  folder = argv[1];
  Suite *suite = suite_create ("malformed-corpus");
  TCase *tc = tcase_create ("write");
  tcase_add_test (tc, write_corpus);
  suite_add_tcase (suite, tc);
  SRunner *runner = srunner_create (suite);
  srunner_set_fork_status (runner, CK_NOFORK);
  srunner_run_all (runner, CK_SILENT);
  gint failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? 0 : 1;
}
