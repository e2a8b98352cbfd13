/* test-dicom.c — the DICOM reader against fixtures made from known pixels.
 *
 * tests/dicom-fixtures.py writes them: base objects with pydicom (not the
 * library m3ret reads with), re-encoded by GDCM's gdcmconv in every
 * compressed transfer syntax, and beside each the values the standard's
 * pixel pipeline gives, computed with numpy.  Lossless syntaxes must match
 * to float rounding, lossy ones within the stated share of the range.
 * Real files Debian ships (python3-pydicom's test files) are read too and
 * compared with pydicom's own decode.
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "m3ret-check.h"
#include "m3ret-readers.h"

#define PYTHON "/usr/bin/python3"
#define PYDICOM_FILES "/usr/lib/python3/dist-packages/pydicom/data/test_files"

static gchar *fixtures; /* made once for the whole run */

static gchar *
fixture (const gchar *name)
{
  return g_build_filename (fixtures, name, NULL);
}

static gboolean
make_fixtures (void)
{
  g_autofree gchar *gdcmconv = g_find_program_in_path ("gdcmconv");
  if (!g_file_test (PYTHON, G_FILE_TEST_IS_EXECUTABLE) || gdcmconv == NULL) {
    g_print ("test-dicom: SKIP: needs " PYTHON " with pydicom and GDCM's gdcmconv (setup.sh "
             "installs python3-pydicom and libgdcm-tools)\n");
    exit (77);
  }
  /* Outside the Check runner: no ck_assert here. */
  fixtures = g_dir_make_tmp ("m3ret-dicom-XXXXXX", NULL);
  if (fixtures == NULL)
    return FALSE;
  g_autofree gchar *script = m3ret_check_srcfile ("dicom-fixtures.py");
  const gchar *argv[] = { PYTHON, script, fixtures, NULL };
  gint status = 0;
  g_autofree gchar *err = NULL;
  GError *error = NULL;
  if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                     &err, &status, &error)
      || !g_spawn_check_wait_status (status, NULL)) {
    g_printerr ("test-dicom: dicom-fixtures.py failed: %s\n", error ? error->message : err);
    g_clear_error (&error);
    return FALSE;
  }
  return TRUE;
}

static void
remove_fixtures (void)
{
  if (fixtures != NULL)
    m3ret_check_rmtree (fixtures);
  g_clear_pointer (&fixtures, g_free);
}

static M3retLimits limits;

static void
setup (void)
{
  m3ret_limits_init_default (&limits);
}

/* Largest |a - b| over @n values, and the range of @b. */
static gdouble
max_error (const gfloat *a, const gfloat *b, gsize n, gdouble *range)
{
  gdouble worst = 0, lo = G_MAXDOUBLE, hi = -G_MAXDOUBLE;
  for (gsize i = 0; i < n; i++) {
    worst = MAX (worst, fabs ((gdouble) a[i] - b[i]));
    lo = MIN (lo, b[i]);
    hi = MAX (hi, b[i]);
  }
  *range = hi > lo ? hi - lo : 1;
  return worst;
}

static void
check_read (gchar **f)
{
  /* read NAME UNITS W H D C TOL SYNTAX SX SY SZ */
  g_autofree gchar *path = fixture (f[1]);
  M3retReadersDicomUnits units =
    strcmp (f[2], "hu") == 0 ? M3RET_READERS_DICOM_MODALITY_UNITS : M3RET_READERS_DICOM_UNIT_RANGE;
  guint w = atoi (f[3]), h = atoi (f[4]), d = atoi (f[5]), c = atoi (f[6]);
  gdouble tol = g_ascii_strtod (f[7], NULL);
  M3retReadersDicomInfo info;
  GError *error = NULL;
  g_autoptr (M3retVolume) vol = m3ret_readers_dicom_read (path, &limits, units, &info, &error);
  ck_assert_msg (vol != NULL, "%s: %s", f[1], error ? error->message : "");
  ck_assert_msg (vol->width == w && vol->height == h && vol->depth == d && vol->channels == c,
                 "%s: %u×%u×%u×%u, want %u×%u×%u×%u", f[1], vol->channels, vol->depth,
                 vol->height, vol->width, c, d, h, w);
  ck_assert_msg (strcmp (info.syntax, f[8]) == 0, "%s: syntax '%s', want '%s'", f[1], info.syntax,
                 f[8]);
  for (guint k = 0; k < 3; k++)
    ck_assert_msg (fabs (vol->spacing[k] - g_ascii_strtod (f[9 + k], NULL)) < 1e-6,
                   "%s: spacing[%u] %g, want %s", f[1], k, vol->spacing[k], f[9 + k]);
  g_autofree gchar *base = g_strdelimit (g_strdup (f[1]), "#", '_');
  g_autofree gchar *name = g_strdup_printf ("%s.%s.f32", base, f[2]);
  g_autofree gchar *want_path = fixture (name);
  g_autofree gchar *want = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (want_path, &want, &len, NULL));
  gsize n = (gsize) w * h * d * c;
  ck_assert_uint_eq (len, n * sizeof (gfloat));
  gdouble range;
  gdouble err = max_error (vol->data, (const gfloat *) want, n, &range);
  /* Lossless: equal but for float rounding of the scaling. */
  gdouble allowed = tol > 0 ? tol * range : 1e-6 * range;
  ck_assert_msg (err <= allowed, "%s (%s): max error %g over a range of %g, allowed %g", f[1],
                 f[2], err, range, allowed);
}

static void
check_plugin (gchar **f)
{
  g_autofree gchar *path = fixture (f[1]);
  GError *error = NULL;
  const gchar *plugin = m3ret_readers_dicom_plugin_of (path, &error);
  ck_assert_msg (plugin != NULL, "%s: %s", f[1], error ? error->message : "");
  ck_assert_str_eq (plugin, f[2]);
}

static void
check_refusal (gchar **f)
{
  g_autofree gchar *path = fixture (f[1]);
  GError *error = NULL;
  g_autoptr (M3retVolume) vol = NULL;
  if (m3ret_readers_dicom_plugin_of (path, &error) != NULL)
    vol = m3ret_readers_dicom_read (path, &limits, M3RET_READERS_DICOM_MODALITY_UNITS, NULL,
                                    &error);
  ck_assert_msg (vol == NULL && error != NULL, "%s was not refused", f[1]);
  ck_assert_msg (g_str_has_prefix (error->message, path), "%s", error->message);
  ck_assert_msg (strstr (error->message, f[2]) != NULL, "%s: '%s' lacks '%s'", f[1],
                 error->message, f[2]);
  g_error_free (error);
}

START_TEST (test_fixture_cases)
{
  g_autofree gchar *list = fixture ("cases.tsv");
  g_autofree gchar *text = NULL;
  ck_assert (g_file_get_contents (list, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = 0;
  for (guint i = 0; lines[i] != NULL; i++) {
    if (lines[i][0] == '\0')
      continue;
    g_auto (GStrv) f = g_strsplit (lines[i], "\t", -1);
    if (strcmp (f[0], "read") == 0 && g_strv_length (f) == 12)
      check_read (f);
    else if (strcmp (f[0], "plugin") == 0 && g_strv_length (f) == 3)
      check_plugin (f);
    else if (strcmp (f[0], "refuse") == 0 && g_strv_length (f) == 3)
      check_refusal (f);
    else
      ck_abort_msg ("cases.tsv:%u: cannot parse '%s'", i + 1, lines[i]);
    n++;
  }
  ck_assert_uint_ge (n, 40);
}
END_TEST

/* Patch the first US element (group, element) of @path to @value. */
static void
patch_us (const gchar *path, guint16 group, guint16 element, guint16 value)
{
  g_autofree gchar *data = NULL;
  gsize len;
  ck_assert (g_file_get_contents (path, &data, &len, NULL));
  const guint8 tag[8] = { group & 0xff, group >> 8, element & 0xff, element >> 8, 'U', 'S', 2, 0 };
  gchar *at = NULL;
  for (gsize i = 0; at == NULL && i + sizeof tag + 2 <= len; i++)
    if (memcmp (data + i, tag, sizeof tag) == 0)
      at = data + i;
  ck_assert (at != NULL);
  at[8] = (gchar) (value & 0xff);
  at[9] = (gchar) (value >> 8);
  ck_assert (g_file_set_contents (path, data, len, NULL));
}

START_TEST (test_limits_before_allocation)
{
  /* A 65535×65535 header over a few bytes of pixels: refused on the header. */
  g_autofree gchar *src = fixture ("dx-8.dcm");
  g_autofree gchar *big = fixture ("big-header.dcm");
  g_autofree gchar *data = NULL;
  gsize len;
  ck_assert (g_file_get_contents (src, &data, &len, NULL));
  ck_assert (g_file_set_contents (big, data, len, NULL));
  patch_us (big, 0x0028, 0x0010, 65535);
  patch_us (big, 0x0028, 0x0011, 65535);
  GError *error = NULL;
  g_autoptr (M3retVolume) vol =
    m3ret_readers_dicom_read (big, &limits, M3RET_READERS_DICOM_UNIT_RANGE, NULL, &error);
  ck_assert (vol == NULL);
  ck_assert_msg (g_error_matches (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE), "%s",
                 error->message);
  ck_assert_msg (strstr (error->message, "max_pixels") != NULL, "%s", error->message);
  g_clear_error (&error);
  /* Within the limits but larger than the pixel data: refused, not read past. */
  patch_us (big, 0x0028, 0x0010, 64);
  patch_us (big, 0x0028, 0x0011, 64);
  g_autoptr (M3retVolume) short_vol =
    m3ret_readers_dicom_read (big, &limits, M3RET_READERS_DICOM_UNIT_RANGE, NULL, &error);
  ck_assert (short_vol == NULL && error != NULL);
  ck_assert_msg (g_str_has_prefix (error->message, big), "%s", error->message);
  g_clear_error (&error);
}
END_TEST

START_TEST (test_truncated_and_damaged)
{
  /* Every cut of a compressed object, and a run of garbage in its pixel
   * data: an error naming the file or some values, never a crash. */
  const gchar *const names[] = { "mr-jpegls.dcm", "mr-j2k-lossless.dcm", "mr-rle.dcm",
                                 "mr-jpeg-lossless.dcm", "mr-deflated.dcm", "us-palette.dcm" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *src = fixture (names[i]);
    g_autofree gchar *data = NULL;
    gsize len;
    ck_assert (g_file_get_contents (src, &data, &len, NULL));
    g_autofree gchar *cut = fixture ("cut.dcm");
    for (gsize at = 64; at < len; at += len / 7) {
      ck_assert (g_file_set_contents (cut, data, at, NULL));
      GError *error = NULL;
      g_autoptr (M3retVolume) vol =
        m3ret_readers_dicom_read (cut, &limits, M3RET_READERS_DICOM_MODALITY_UNITS, NULL, &error);
      ck_assert_msg (vol == NULL, "%s cut at %zu of %zu read", names[i], at, len);
      ck_assert_msg (g_str_has_prefix (error->message, cut), "%s", error->message);
      g_clear_error (&error);
    }
    g_autofree gchar *damaged = g_memdup2 (data, len);
    for (gsize k = len - len / 4; k < len - 16; k++)
      damaged[k] = (gchar) (k * 131);
    ck_assert (g_file_set_contents (cut, damaged, len, NULL));
    GError *error = NULL;
    g_autoptr (M3retVolume) vol =
      m3ret_readers_dicom_read (cut, &limits, M3RET_READERS_DICOM_MODALITY_UNITS, NULL, &error);
    ck_assert (vol != NULL || g_str_has_prefix (error->message, cut));
    g_clear_error (&error);
  }
}
END_TEST

START_TEST (test_decoder_crash_is_an_error)
{
  /* An input on which Debian's GDCM asserts (it aborted this process
   * before GDCM ran in a decoder process of its own): now an error naming
   * the file, and the next file reads with a fresh decoder. */
  g_autofree gchar *bad = m3ret_check_srcfile ("fuzz/regressions/dicom/gdcm-asserts-zspacing.dcm");
  for (guint round = 0; round < 2; round++) {
    GError *error = NULL;
    g_autoptr (M3retVolume) vol =
      m3ret_readers_dicom_read (bad, &limits, M3RET_READERS_DICOM_MODALITY_UNITS, NULL, &error);
    ck_assert (vol == NULL);
    ck_assert_msg (g_str_has_prefix (error->message, bad), "%s", error->message);
    ck_assert_msg (strstr (error->message, "malformed DICOM") != NULL, "%s", error->message);
    g_clear_error (&error);
    g_autofree gchar *good = fixture ("mr-jpegls.dcm");
    g_autoptr (M3retVolume) ok =
      m3ret_readers_dicom_read (good, &limits, M3RET_READERS_DICOM_MODALITY_UNITS, NULL, &error);
    ck_assert_msg (ok != NULL, "%s", error ? error->message : "");
  }
}
END_TEST

START_TEST (test_decoder_missing)
{
  /* A decoder that cannot be started is named, with the way out (each
   * test runs in a process of its own: no decoder was started before). */
  g_setenv ("M3RET_DICOM_DECODER", "/nonexistent/m3ret-dicom-decode", TRUE);
  g_autofree gchar *good = fixture ("ct-s16.dcm");
  GError *error = NULL;
  ck_assert (m3ret_readers_dicom_plugin_of (good, &error) == NULL);
  ck_assert_msg (strstr (error->message, "/nonexistent/m3ret-dicom-decode") != NULL
                   && strstr (error->message, "M3RET_DICOM_DECODER") != NULL,
                 "%s", error->message);
  g_clear_error (&error);
  g_unsetenv ("M3RET_DICOM_DECODER");
}
END_TEST

/* pydicom's decode of a file it reads without extra codecs, as float32;
 * *@n values. */
static gfloat *
pydicom_decode (const gchar *path, gsize *n)
{
  const gchar *code = "import sys, numpy, pydicom\n"
                      "ds = pydicom.dcmread(sys.argv[1])\n"
                      "a = ds.pixel_array.astype(numpy.float64)\n"
                      "a = a * float(ds.get('RescaleSlope', 1)) + float(ds.get('RescaleIntercept', 0))\n"
                      "a.astype('<f4').tofile(sys.argv[2])\n";
  g_autofree gchar *out = fixture ("pydicom.f32");
  const gchar *argv[] = { PYTHON, "-c", code, path, out, NULL };
  gint status;
  gboolean ok = g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                              NULL, NULL, &status, NULL)
                && g_spawn_check_wait_status (status, NULL);
  ck_assert_msg (ok, "pydicom could not decode %s", path);
  gchar *data = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (out, &data, &len, NULL));
  *n = len / sizeof (gfloat);
  return (gfloat *) data;
}

START_TEST (test_debian_files)
{
  /* python3-pydicom's test files: the MR in six transfer syntaxes, a CT. */
  const struct {
    const gchar *name, *plugin, *syntax;
  } files[] = {
    { "CT_small.dcm", "ct", "explicit VR little endian" },
    { "MR_small.dcm", "mri", "explicit VR little endian" },
    { "MR_small_implicit.dcm", "mri", "implicit VR little endian" },
    { "MR_small_bigendian.dcm", "mri", "explicit VR big endian" },
    { "MR_small_RLE.dcm", "mri", "RLE lossless" },
    { "MR_small_jp2klossless.dcm", "mri", "JPEG 2000 lossless" },
    { "MR_small_jpeg_ls_lossless.dcm", "mri", "JPEG-LS lossless" },
  };
  g_autofree gchar *first = g_build_filename (PYDICOM_FILES, files[0].name, NULL);
  if (!g_file_test (first, G_FILE_TEST_EXISTS)) {
    g_print ("test-dicom: python3-pydicom's test files are absent: not compared\n");
    return;
  }
  /* pydicom decodes the uncompressed MR and RLE itself; the JPEG 2000 and
   * JPEG-LS copies must give the same pixels. */
  g_autofree gchar *mr = g_build_filename (PYDICOM_FILES, "MR_small.dcm", NULL);
  gsize n_mr;
  g_autofree gfloat *mr_ref = pydicom_decode (mr, &n_mr);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree gchar *path = g_build_filename (PYDICOM_FILES, files[i].name, NULL);
    GError *error = NULL;
    ck_assert_str_eq (m3ret_readers_dicom_plugin_of (path, &error), files[i].plugin);
    M3retReadersDicomInfo info;
    g_autoptr (M3retVolume) vol =
      m3ret_readers_dicom_read (path, &limits, M3RET_READERS_DICOM_MODALITY_UNITS, &info, &error);
    ck_assert_msg (vol != NULL, "%s: %s", files[i].name, error ? error->message : "");
    ck_assert_str_eq (info.syntax, files[i].syntax);
    gsize n = (gsize) vol->width * vol->height * vol->depth;
    const gboolean compressed = strstr (files[i].syntax, "JPEG") != NULL;
    gsize n_ref = n_mr;
    g_autofree gfloat *ref = compressed ? NULL : pydicom_decode (path, &n_ref);
    const gfloat *want = compressed ? mr_ref : ref;
    ck_assert_uint_eq (n_ref, n);
    for (gsize k = 0; k < n; k++)
      ck_assert_msg (vol->data[k] == want[k], "%s: voxel %zu is %g, pydicom says %g",
                     files[i].name, k, vol->data[k], want[k]);
  }
}
END_TEST

/* What a DICOM header holds about the patient reaches no output. */
START_TEST (test_no_patient_data_in_outputs)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *csv = g_build_filename (dir, "m.csv", NULL);
  g_autofree gchar *text = g_strdup_printf (
    "path,label\n%s/ct-s16.dcm,a\n%s/series-ok,b\n%s/mr-enhanced.dcm,c\n%s/us-rgb-planar0.dcm,d\n"
    "%s/es-ybr-full.dcm,e\n%s/dx-8.dcm,f\n%s/cr-mono1.dcm,g\n%s/mr-j2k-lossy.dcm,h\n",
    fixtures, fixtures, fixtures, fixtures, fixtures, fixtures, fixtures, fixtures);
  ck_assert (g_file_set_contents (csv, text, -1, NULL));
  g_autofree gchar *ini = g_build_filename (dir, "p.ini", NULL);
  ck_assert (g_file_set_contents (ini,
                                  "[pipeline]\nthreads=1\n[input]\nsize=32\ndepth=4\n"
                                  "tubelet=2,8,8\n[encoder]\npreset=micro\n[objective]\n"
                                  "plugin=mae\n[retriever]\nplugin=flat\n",
                                  -1, NULL));
  g_autofree gchar *npy = g_build_filename (dir, "e.npy", NULL);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "embed", ini, "--checkpoint", "random", "--manifest",
                                       csv, "--out", npy, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  g_autofree gchar *sidecar = g_build_filename (dir, "e.csv", NULL);
  g_autofree gchar *rows = NULL;
  ck_assert (g_file_get_contents (sidecar, &rows, NULL, NULL));
  /* Every row read, by the plugin its Modality attribute names. */
  const gchar *const want[] = { "ct", "ct", "mri", "ultrasound", "endoscopy", "xray", "xray",
                                "mri" };
  g_auto (GStrv) lines = g_strsplit (rows, "\n", -1);
  for (guint i = 0; i < G_N_ELEMENTS (want); i++) {
    ck_assert_msg (lines[i + 1] != NULL && strstr (lines[i + 1], want[i]) != NULL,
                   "row %u: '%s' lacks %s", i + 1, lines[i + 1], want[i]);
  }
  M3retCheckRun in = m3ret_check_m3ret (TRUE, "inspect", fixtures, NULL);
  g_autofree gchar *ct = fixture ("ct-s16.dcm");
  M3retCheckRun one = m3ret_check_m3ret (TRUE, "inspect", ct, NULL);
  ck_assert_msg (one.status == 0, "%s", one.err);
  const gchar *const secrets[] = { "Doe", "PID-0042", "CHEST" };
  for (guint k = 0; k < G_N_ELEMENTS (secrets); k++) {
    const gchar *outputs[] = { rows, r.out, r.err, one.out, one.err, in.err };
    for (guint o = 0; o < G_N_ELEMENTS (outputs); o++)
      ck_assert_msg (strstr (outputs[o], secrets[k]) == NULL, "'%s' in output %u: %s",
                     secrets[k], o, outputs[o]);
  }
  m3ret_check_run_clear (&r);
  m3ret_check_run_clear (&in);
  m3ret_check_run_clear (&one);
  m3ret_check_rmtree (dir);
}
END_TEST

static Suite *
dicom_suite (void)
{
  Suite *s = suite_create ("dicom");
  TCase *t = tcase_create ("dicom");
  tcase_set_timeout (t, 120);
  tcase_add_checked_fixture (t, setup, NULL);
  tcase_add_test (t, test_fixture_cases);
  tcase_add_test (t, test_limits_before_allocation);
  tcase_add_test (t, test_truncated_and_damaged);
  tcase_add_test (t, test_decoder_crash_is_an_error);
  tcase_add_test (t, test_decoder_missing);
  tcase_add_test (t, test_debian_files);
  tcase_add_test (t, test_no_patient_data_in_outputs);
  suite_add_tcase (s, t);
  return s;
}

M3RET_CHECK_MAIN (.suite = dicom_suite, .setup = make_fixtures, .teardown = remove_fixtures)
