/* test-manifest.c — `m3ret manifest DIR --out M.csv`, run as a program
 * ($M3RET_BIN) on a tree written here: PNG, JPEG (grey and colour), NIfTI,
 * an FFV1 video, and DICOM written by pydicom (tests/write-dicom-tree.py:
 * a CT series alone in its folder, a CT and an MR series side by side,
 * two ultrasound stills of one series); beside them a symbolic link loop,
 * a link out of the tree, a dangling link, a FIFO and hidden and unread
 * files.  Tests run as root in CI, where chmod 000 does not make a file
 * unreadable: the unreadable entries are the dangling link and the FIFO
 * (which must never be opened: a read would block), and a mode-000 file
 * too when the suite runs as another user.  Then `m3ret embed` reads the
 * manifest written.  Needs python3-pydicom; exits 77 without it. */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <png.h>

#include "m3ret-check.h"
#include "test-modality-fixtures.h"

#define SERIES_HEAD "1.2.826.0.1.3680043.8.498.10"
#define SERIES_CT "1.2.826.0.1.3680043.8.498.20"
#define SERIES_MR "1.2.826.0.1.3680043.8.498.30"

static gchar *tmp;  /* tmp/tree is walked, tmp/out receives the manifests */
static gchar *tree;
static gchar *outdir;

static gchar *
in_tree (const gchar *rel)
{
  return g_build_filename (tree, rel, NULL);
}

static void
write_tree (void)
{
  g_autofree gchar *script = m3ret_check_srcfile ("write-dicom-tree.py");
  const gchar *argv[] = { "/usr/bin/python3", script, tree, NULL };
  g_autofree gchar *err = NULL;
  gint status = -1;
  ck_assert (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                           NULL, &err, &status, NULL));
  ck_assert_msg (g_spawn_check_wait_status (status, NULL), "pydicom failed: %s", err);

  const gchar *dirs[] = { "knee", "head/mri", "pelvis", "chest/scans" };
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++) {
    g_autofree gchar *d = in_tree (dirs[i]);
    ck_assert (g_mkdir_with_parents (d, 0755) == 0);
  }
  guint16 grey[16 * 16];
  guint8 g8[16 * 16], rgb[16 * 16 * 3];
  for (guint i = 0; i < 256; i++) {
    grey[i] = (guint16) (i * 200);
    g8[i] = (guint8) i;
    rgb[3 * i] = (guint8) i, rgb[3 * i + 1] = 255 - (guint8) i, rgb[3 * i + 2] = 90;
  }
  g_autofree gchar *png = in_tree ("knee/knee-xray.png");
  fx_write_png (png, 16, 16, 16, PNG_COLOR_TYPE_GRAY, grey);
  g_autofree gchar *jpg = in_tree ("knee/grey.jpg");
  fx_write_jpeg (jpg, 16, 16, 1, g8, 90, 1);
  g_autofree gchar *cjpg = in_tree ("pelvis/endoscopy-still.jpg");
  fx_write_jpeg (cjpg, 16, 16, 3, rgb, 90, 1);
  gdouble vox[8 * 8 * 4];
  for (guint i = 0; i < G_N_ELEMENTS (vox); i++)
    vox[i] = i;
  g_autofree gchar *nii = in_tree ("head/mri/brain-t1w.nii.gz");
  fx_write_nifti (nii, 8, 8, 4, 1, 4 /* NIFTI_TYPE_INT16 */, vox, 1, 1, 1, 0, 0, NULL);
  g_autofree gchar *ct = in_tree ("chest/scans/lung.nii.gz");
  fx_write_nifti (ct, 8, 8, 4, 1, 4, vox, 1, 1, 1, 0, 0, NULL);
  g_autofree gchar *clip = in_tree ("pelvis/clip.mkv");
  ck_assert_msg (fx_write_video (clip, "ffv1", 16, 16, 6, 30), "no FFV1 encoder");

  /* What is not data, or not to be followed. */
  g_autofree gchar *loop = in_tree ("head/loop");
  ck_assert (symlink ("..", loop) == 0);
  g_autofree gchar *self = in_tree ("pelvis/self");
  ck_assert (symlink ("self", self) == 0);
  g_autofree gchar *dangling = in_tree ("knee/gone.png");
  ck_assert (symlink ("nowhere.png", dangling) == 0);
  g_autofree gchar *outside_target = g_build_filename (tmp, "outside.png", NULL);
  fx_write_png (outside_target, 16, 16, 16, PNG_COLOR_TYPE_GRAY, grey);
  g_autofree gchar *outside = in_tree ("knee/outside.png");
  ck_assert (symlink (outside_target, outside) == 0);
  g_autofree gchar *alias = in_tree ("knee/alias.png");
  ck_assert (symlink ("knee-xray.png", alias) == 0);
  g_autofree gchar *fifo = in_tree ("pelvis/pipe");
  ck_assert (mkfifo (fifo, 0644) == 0);
  g_autofree gchar *hidden = in_tree ("knee/.hidden.png");
  fx_write_png (hidden, 16, 16, 16, PNG_COLOR_TYPE_GRAY, grey);
  g_autofree gchar *text = in_tree ("readme.txt");
  ck_assert (g_file_set_contents (text, "not an image\n", -1, NULL));
}

static void
setup (void)
{
  tmp = m3ret_check_tmpdir ();
  tree = g_build_filename (tmp, "tree", NULL);
  outdir = g_build_filename (tmp, "out", NULL);
  ck_assert (g_mkdir (tree, 0755) == 0 && g_mkdir (outdir, 0755) == 0);
  write_tree ();
}

static void
teardown (void)
{
  m3ret_check_rmtree (tmp);
  g_free (tmp);
  g_free (tree);
  g_free (outdir);
}

/* The manifest's rows without its header: "path,modality,label[,split]". */
static gchar **
rows_of (const gchar *path, const gchar *header)
{
  gchar *text = NULL;
  ck_assert (g_file_get_contents (path, &text, NULL, NULL));
  ck_assert_msg (g_str_has_prefix (text, header), "header of %s: %s", path, text);
  gchar **lines = g_strsplit (text + strlen (header), "\n", -1);
  g_free (text);
  guint n = g_strv_length (lines);
  ck_assert (n > 0 && *lines[n - 1] == '\0'); /* ends with a newline */
  g_free (lines[n - 1]);
  lines[n - 1] = NULL;
  return lines;
}

static gboolean
has_row (gchar **rows, const gchar *row)
{
  return g_strv_contains ((const gchar *const *) rows, row);
}

static const gchar *const folder_rows[] = {
  /* paths from tmp/out: one level up, then the tree */
  "../tree/abdomen/us/still-0.dcm,ultrasound,abdomen",
  "../tree/abdomen/us/still-1.dcm,ultrasound,abdomen",
  "../tree/chest/mixed#" SERIES_CT ",ct,chest",
  "../tree/chest/mixed#" SERIES_MR ",mri,chest",
  "../tree/chest/scans/lung.nii.gz,ct,chest",
  "../tree/head/ct-series,ct,head",
  "../tree/head/mri/brain-t1w.nii.gz,mri,head",
  "../tree/knee/grey.jpg,xray,knee",
  "../tree/knee/knee-xray.png,xray,knee",
  "../tree/pelvis/clip.mkv,endoscopy,pelvis",
  "../tree/pelvis/endoscopy-still.jpg,endoscopy,pelvis",
};

START_TEST (test_manifest_tree_labels_by_folder)
{
  g_autofree gchar *out = g_build_filename (outdir, "m.csv", NULL);
  M3retCheckRun run = m3ret_check_m3ret (TRUE, "manifest", tree, "--out", out, "--labels",
                                         "folder", NULL);
  ck_assert_msg (run.status == 0, "%s", run.err);
  g_auto (GStrv) rows = rows_of (out, "path,modality,label\n");
  for (guint i = 0; i < G_N_ELEMENTS (folder_rows); i++)
    ck_assert_msg (has_row (rows, folder_rows[i]), "no row %s in:\n%s", folder_rows[i],
                   g_strjoinv ("\n", rows));
  ck_assert_uint_eq (g_strv_length (rows), G_N_ELEMENTS (folder_rows));

  /* The summary: counts, every skipped entry with its reason. */
  const gchar *said[] = {
    "11 rows (18 files) written to",
    "  ct           head                          1      4",
    "  mri          chest                         1      3",
    "  ultrasound   abdomen                       2      2",
    "head/loop: the folder . is walked already",
    "pelvis/self: symbolic link loop",
    "knee/gone.png: dangling symbolic link (no such file)",
    "knee/outside.png: symbolic link out of the folder walked",
    /* reached first by the link, kept by its own name */
    "knee/alias.png: the same file as knee/knee-xray.png (a link), listed once",
    "pelvis/pipe: a FIFO, not a file to read",
    "knee/.hidden.png: hidden file",
    "readme.txt: no modality plugin recognises this file",
    "chest/mixed/notes.txt: no modality plugin recognises this file",
    "skipped: 9\n",
    "ambiguous probes: 3\n",
    "    knee/grey.jpg: probed as xray, but the scores are close (xray 60, ultrasound 40)",
    "    chest/scans/lung.nii.gz: probed as ct, but the scores are close (ct 60, mri 40)",
  };
  for (guint i = 0; i < G_N_ELEMENTS (said); i++)
    ck_assert_msg (strstr (run.out, said[i]) != NULL, "summary lacks '%s':\n%s", said[i],
                   run.out);
  m3ret_check_run_clear (&run);

  /* The manifest beside the files it lists: paths from there. */
  g_autofree gchar *inside = in_tree ("manifest.csv");
  run = m3ret_check_m3ret (TRUE, "manifest", tree, "--out", inside, NULL);
  ck_assert_msg (run.status == 0, "%s", run.err);
  g_auto (GStrv) near = rows_of (inside, "path,modality,label\n");
  ck_assert (has_row (near, "head/ct-series,ct,"));
  ck_assert (has_row (near, "chest/mixed#" SERIES_MR ",mri,"));
  m3ret_check_run_clear (&run);
  /* Run again: the old manifest is no data, and is replaced. */
  run = m3ret_check_m3ret (TRUE, "manifest", tree, "--out", inside, NULL);
  ck_assert_msg (run.status == 0, "%s", run.err);
  ck_assert (strstr (run.out, "manifest.csv: the --out manifest itself, replaced by this one"));
  m3ret_check_run_clear (&run);
}
END_TEST

START_TEST (test_manifest_dicom_labels_and_split)
{
  g_autofree gchar *a = g_build_filename (outdir, "a.csv", NULL);
  g_autofree gchar *b = g_build_filename (outdir, "b.csv", NULL);
  const gchar *outs[] = { a, b };
  for (guint k = 0; k < 2; k++) {
    M3retCheckRun run = m3ret_check_m3ret (TRUE, "manifest", tree, "--out", outs[k], "--labels",
                                           "dicom:BodyPartExamined", "--split", "query=0.5",
                                           "--seed", "11", NULL);
    ck_assert_msg (run.status == 0, "%s", run.err);
    ck_assert (strstr (run.out, "split: ") && strstr (run.out, "seed 11"));
    m3ret_check_run_clear (&run);
  }
  /* One seed, one draw: byte for byte. */
  gchar *ta = NULL, *tb = NULL;
  ck_assert (g_file_get_contents (a, &ta, NULL, NULL) && g_file_get_contents (b, &tb, NULL, NULL));
  ck_assert_str_eq (ta, tb);
  g_free (ta);
  g_free (tb);
  g_auto (GStrv) rows = rows_of (a, "path,modality,label,split\n");
  ck_assert_uint_eq (g_strv_length (rows), G_N_ELEMENTS (folder_rows));
  gint us_split = -1;
  guint query = 0;
  for (guint i = 0; rows[i]; i++) {
    g_auto (GStrv) f = g_strsplit (rows[i], ",", -1);
    ck_assert_uint_eq (g_strv_length (f), 4);
    gboolean is_query = g_str_equal (f[3], "query");
    ck_assert (is_query || g_str_equal (f[3], "database"));
    query += is_query;
    /* DICOM rows carry the attribute; the others have none. */
    const gchar *want = strstr (f[0], "/us/")          ? "ABDOMEN"
                        : strstr (f[0], "chest/mixed") ? "CHEST"
                        : strstr (f[0], "ct-series")   ? "HEAD"
                                                       : "";
    ck_assert_msg (g_str_equal (f[2], want), "%s: label '%s', not '%s'", f[0], f[2], want);
    /* The two stills of one series fall on one side. */
    if (strstr (f[0], "/us/")) {
      if (us_split >= 0)
        ck_assert_int_eq (us_split, is_query);
      us_split = is_query;
    }
  }
  ck_assert (query > 0 && query < g_strv_length (rows));

  /* Across seeds the draw moves, series still whole. */
  gboolean moved = FALSE;
  for (guint seed = 0; seed < 8 && !moved; seed++) {
    g_autofree gchar *s = g_strdup_printf ("%u", seed);
    M3retCheckRun run = m3ret_check_m3ret (TRUE, "manifest", tree, "--out", b, "--split",
                                           "query=0.5", "--seed", s, NULL);
    ck_assert_msg (run.status == 0, "%s", run.err);
    m3ret_check_run_clear (&run);
    g_auto (GStrv) other = rows_of (b, "path,modality,label,split\n");
    for (guint i = 0; other[i]; i++)
      moved |= !has_row (rows, other[i]) && !strstr (other[i], "/us/");
  }
  ck_assert_msg (moved, "eight seeds drew one split");
}
END_TEST

START_TEST (test_manifest_then_embed)
{
  g_autofree gchar *out = g_build_filename (outdir, "m.csv", NULL);
  M3retCheckRun run = m3ret_check_m3ret (TRUE, "manifest", tree, "--out", out, "--labels",
                                         "folder", NULL);
  ck_assert_msg (run.status == 0, "%s", run.err);
  m3ret_check_run_clear (&run);
  g_autofree gchar *ini = g_build_filename (outdir, "p.ini", NULL);
  ck_assert (g_file_set_contents (
    ini, "[pipeline]\nthreads=1\n[input]\nsize=16\ndepth=4\ntubelet=2,8,8\n[encoder]\n"
         "preset=micro\n[objective]\nplugin=mae\n[data]\nloader_threads=0\n", -1, NULL));
  g_autofree gchar *npy = g_build_filename (outdir, "e.npy", NULL);
  run = m3ret_check_m3ret (TRUE, "embed", ini, "--checkpoint", "random", "--manifest", out,
                           "--out", npy, NULL);
  ck_assert_msg (run.status == 0, "%s", run.err);
  m3ret_check_run_clear (&run);
  g_autofree gchar *sidecar = g_build_filename (outdir, "e.csv", NULL);
  g_auto (GStrv) embedded = rows_of (sidecar, "path,modality,label\n");
  ck_assert_uint_eq (g_strv_length (embedded), G_N_ELEMENTS (folder_rows));
}
END_TEST

/* Exit status and the one line on stderr; nothing written. */
static void
assert_refused (gint status, const gchar *reason, const gchar *first, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  va_list ap;
  va_start (ap, first);
  for (const gchar *a = first; a != NULL; a = va_arg (ap, const gchar *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  while (args->len < 9)
    g_ptr_array_add (args, NULL);
  gchar **v = (gchar **) args->pdata;
  M3retCheckRun run = m3ret_check_m3ret (TRUE, "manifest", v[0], v[1], v[2], v[3], v[4], v[5],
                                         v[6], v[7], v[8], NULL);
  ck_assert_msg (run.status == status, "status %d, not %d: %s", run.status, status, run.err);
  ck_assert_msg (g_str_has_prefix (run.err, "m3ret: error: ") && strstr (run.err, reason),
                 "stderr lacks '%s': %s", reason, run.err);
  ck_assert_uint_eq (m3ret_check_count_lines (run.err), 1);
  m3ret_check_run_clear (&run);
  g_autoptr (GDir) d = g_dir_open (outdir, 0, NULL);
  ck_assert_ptr_null (g_dir_read_name (d));
}

START_TEST (test_manifest_refuses)
{
  g_autofree gchar *out = g_build_filename (outdir, "m.csv", NULL);
  g_autofree gchar *missing = g_build_filename (tmp, "no-such-dir", NULL);
  g_autofree gchar *file = in_tree ("readme.txt");
  g_autofree gchar *no_folder = g_build_filename (tmp, "nope", "m.csv", NULL);
  g_autofree gchar *under_file = g_build_filename (file, "m.csv", NULL);
  g_autofree gchar *data = in_tree ("knee/knee-xray.png");
  assert_refused (1, "no-such-dir: no such folder", missing, "--out", out, NULL);
  assert_refused (1, "readme.txt: not a folder", file, "--out", out, NULL);
  assert_refused (1, "nope", tree, "--out", no_folder, NULL);
  assert_refused (1, "m.csv", tree, "--out", under_file, NULL);
  assert_refused (1, "refusing to write", tree, "--out", data, NULL);
  assert_refused (2, "--out M.csv is required", tree, NULL);
  assert_refused (2, "give the folder to walk", "--out", out, NULL);
  assert_refused (2, "--labels 'colour'", tree, "--out", out, "--labels", "colour", NULL);
  assert_refused (1, "'NoSuchKeyword' is not a keyword of the DICOM dictionary", tree, "--out",
                  out, "--labels", "dicom:NoSuchKeyword", NULL);
  assert_refused (1, "reads DICOM attributes only", tree, "--out", out, "--labels", "exif:Make",
                  NULL);
  assert_refused (2, "--split 'query=1.5'", tree, "--out", out, "--split", "query=1.5", NULL);
  assert_refused (2, "--split 'db=0.2'", tree, "--out", out, "--split", "db=0.2", NULL);
  assert_refused (2, "--seed draws the --split", tree, "--out", out, "--seed", "3", NULL);
  assert_refused (2, "--seed 'x'", tree, "--out", out, "--split", "query=0.2", "--seed", "x",
                  NULL);
  /* The input the manifest overwrites is untouched. */
  gchar *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (data, &bytes, &len, NULL) && g_str_has_prefix (bytes, "\x89PNG"));
  g_free (bytes);
}
END_TEST

START_TEST (test_manifest_unreadable_file)
{
  /* Only another user than root is refused a mode-000 file. */
  if (geteuid () == 0) {
    g_print ("test_manifest_unreadable_file: as root a mode-000 file reads; the dangling link "
             "and the FIFO of the other tests are the unreadable entries here\n");
    return;
  }
  g_autofree gchar *locked = in_tree ("knee/locked.png");
  guint16 grey[4 * 4] = { 0 };
  fx_write_png (locked, 4, 4, 16, PNG_COLOR_TYPE_GRAY, grey);
  ck_assert (g_chmod (locked, 0) == 0);
  g_autofree gchar *out = g_build_filename (outdir, "m.csv", NULL);
  M3retCheckRun run = m3ret_check_m3ret (TRUE, "manifest", tree, "--out", out, NULL);
  ck_assert_msg (run.status == 0, "%s", run.err);
  ck_assert_msg (strstr (run.out, "knee/locked.png: permission denied"), "%s", run.out);
  m3ret_check_run_clear (&run);
  g_chmod (locked, 0644);
}
END_TEST

static Suite *
manifest_suite (void)
{
  Suite *s = suite_create ("manifest");
  TCase *tc = tcase_create ("manifest");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_manifest_tree_labels_by_folder);
  tcase_add_test (tc, test_manifest_dicom_labels_and_split);
  tcase_add_test (tc, test_manifest_then_embed);
  tcase_add_test (tc, test_manifest_refuses);
  tcase_add_test (tc, test_manifest_unreadable_file);
  suite_add_tcase (s, tc);
  return s;
}

static gboolean
have_pydicom (void)
{
  const gchar *argv[] = { "/usr/bin/python3", "-c", "import pydicom, numpy", NULL };
  gint status = -1;
  if (g_spawn_sync (NULL, (gchar **) argv, NULL,
                    G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL,
                    NULL, &status, NULL)
      && g_spawn_check_wait_status (status, NULL))
    return TRUE;
  g_print ("test-manifest: SKIPPED: /usr/bin/python3 with pydicom and numpy (python3-pydicom) "
           "writes the DICOM fixtures, and is absent\n");
  return FALSE;
}

int main (void);

int
main (void)
{
  if (!have_pydicom ())
    return 77;
  static const M3retCheckMain how = { .suite = manifest_suite };
  return m3ret_check_main (&how);
}
