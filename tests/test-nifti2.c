/* test-nifti2.c — NIfTI-2 volumes for CT and MRI: files written here in
 * both byte orders, plain and gzip, read exactly as the same volume stored
 * as NIfTI-1; broken NIfTI-2 headers refused before any allocation; and the
 * NIfTI-2 file Debian ships with nibabel (package python3-nibabel,
 * example_nifti2.nii.gz) read voxel for voxel as nibabel decodes it.
 * Without nibabel that last test is left out and the suite exits 77. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "m3ret-check.h"
#include "m3ret-modalities.h"
#include "m3ret-readers.h"
#include "test-modality-fixtures.h"

/* Last: nifti1.h redefines DT_UNKNOWN, which <dirent.h> (via Check) declares. */
#include <nifti1_io.h>

#define NIBABEL_NIFTI2 "/usr/lib/python3/dist-packages/nibabel/tests/data/example_nifti2.nii.gz"

static M3retRegistry *registry;
static M3retModalities *set;
static gchar *tmp;
static M3retLimits limits;

static void
setup (void)
{
  registry = m3ret_check_registry ();
  GError *error = NULL;
  set = m3ret_modalities_new (registry, NULL, &error);
  ck_assert_msg (set != NULL, "%s", error ? error->message : "");
  tmp = m3ret_check_tmpdir ();
  m3ret_limits_init_default (&limits);
}

static void
teardown (void)
{
  m3ret_modalities_free (set);
  m3ret_registry_free (registry);
  m3ret_check_rmtree (tmp);
  g_free (tmp);
}

static M3retVolume *
read_ok (const gchar *path, guint64 volume, M3retReadersNiftiInfo *info)
{
  GError *error = NULL;
  M3retVolume *v = m3ret_readers_nifti_read (path, volume, &limits, info, &error);
  ck_assert_msg (v != NULL, "%s", error ? error->message : "");
  return v;
}

static void
assert_same_volume (const M3retVolume *a, const M3retVolume *b, const gchar *what)
{
  ck_assert_msg (a->width == b->width && a->height == b->height && a->depth == b->depth
                   && a->channels == b->channels, "%s: other dims", what);
  for (gint k = 0; k < 3; k++)
    ck_assert_msg (a->spacing[k] == b->spacing[k], "%s: spacing %d %g vs %g", what, k,
                   a->spacing[k], b->spacing[k]);
  gsize n = (gsize) a->width * a->height * a->depth * a->channels;
  ck_assert_msg (memcmp (a->data, b->data, n * sizeof (gfloat)) == 0, "%s: other voxels", what);
}

START_TEST (test_nifti2_reads_as_nifti1)
{
  /* 4D, int16 with scl (HU = 2·raw − 1000), mirrored left-right by the sform. */
  enum { NX = 6, NY = 5, NZ = 4, NT = 2 };
  gdouble raw[NX * NY * NZ * NT];
  for (guint i = 0; i < G_N_ELEMENTS (raw); i++)
    raw[i] = (gdouble) ((i * 37) % 1500);
  const gdouble las[12] = { -1.5, 0, 0, 10, 0, 2, 0, -5, 0, 0, 2.5, 3 };
  g_autofree gchar *one = g_build_filename (tmp, "one.nii", NULL);
  fx_write_nifti (one, NX, NY, NZ, NT, NIFTI_TYPE_INT16, raw, 1.5, 2, 2.5, 2, -1000, las);
  M3retReadersNiftiInfo i1;
  g_autoptr (M3retVolume) ref = read_ok (one, 1, &i1);
  ck_assert_str_eq (i1.orientation, "LAS");

  const struct {
    const gchar *name;
    gboolean big_endian;
    const gchar *format;
  } variants[] = {
    { "le.nii", FALSE, "NIfTI-2" },
    { "be.nii", TRUE, "NIfTI-2" },
    { "le.nii.gz", FALSE, "NIfTI-2 (gzip)" },
    { "be.nii.gz", TRUE, "NIfTI-2 (gzip)" },
  };
  for (guint v = 0; v < G_N_ELEMENTS (variants); v++) {
    g_autofree gchar *path = g_build_filename (tmp, variants[v].name, NULL);
    fx_write_nifti2 (path, NX, NY, NZ, NT, NIFTI_TYPE_INT16, raw, 1.5, 2, 2.5, 2, -1000, las,
                     variants[v].big_endian);
    M3retReadersNiftiInfo i2;
    g_autoptr (M3retVolume) vol = read_ok (path, 1, &i2);
    assert_same_volume (vol, ref, variants[v].name);
    ck_assert_str_eq (i2.orientation, "LAS");
    ck_assert_uint_eq (i2.n_volumes, NT);
    ck_assert (i2.slope == 2 && i2.inter == -1000);
    /* Exactly the stored values, scaled and turned to RAS (x reversed). */
    for (guint z = 0; z < NZ; z++)
      for (guint y = 0; y < NY; y++)
        for (guint x = 0; x < NX; x++) {
          gdouble stored = raw[NX * NY * NZ + (z * NY + y) * NX + (NX - 1 - x)];
          ck_assert_float_eq (vol->data[(z * NY + y) * NX + x], (gfloat) (2 * stored - 1000));
        }
    guint score = 0;
    ck_assert_str_eq (m3ret_modalities_probe (set, path, &score, NULL, NULL), "ct");
    ck_assert_uint_eq (score, 60);
    M3retInspectInfo info;
    GError *error = NULL;
    ck_assert_msg (m3ret_modalities_inspect (set, "ct", path, &info, &error), "%s",
                   error ? error->message : "");
    ck_assert_str_eq (info.format, variants[v].format);
    ck_assert_uint_eq (info.frames, NT);
    m3ret_inspect_info_clear (&info);
  }
}
END_TEST

START_TEST (test_nifti2_datatypes_mri)
{
  const gint types[] = { NIFTI_TYPE_UINT8, NIFTI_TYPE_UINT16, NIFTI_TYPE_INT32,
                         NIFTI_TYPE_FLOAT32, NIFTI_TYPE_FLOAT64 };
  gdouble v[4 * 4 * 3];
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = i * 5;
  for (guint k = 0; k < G_N_ELEMENTS (types); k++) {
    g_autofree gchar *name = g_strdup_printf ("t1w-%d.nii", types[k]);
    g_autofree gchar *path = g_build_filename (tmp, name, NULL);
    fx_write_nifti2 (path, 4, 4, 3, 1, types[k], v, 1, 1, 1, 0, 0, NULL, k % 2 == 1);
    /* The path says t1w: MRI, as for NIfTI-1. */
    ck_assert_str_eq (m3ret_modalities_probe (set, path, NULL, NULL, NULL), "mri");
    M3retReadersNiftiInfo info;
    g_autoptr (M3retVolume) vol = read_ok (path, 0, &info);
    ck_assert_int_eq (info.datatype, types[k]);
    ck_assert_ptr_null (info.orientation_from); /* no qform, no sform: as stored */
    for (guint i = 0; i < G_N_ELEMENTS (v); i++)
      ck_assert_float_eq (vol->data[i], (gfloat) v[i]);
  }
}
END_TEST

/* Overwrites @len bytes at @offset of @path. */
static void
patch (const gchar *path, gsize offset, const void *bytes, gsize len)
{
  gchar *data = NULL;
  gsize size = 0;
  ck_assert (g_file_get_contents (path, &data, &size, NULL));
  ck_assert (offset + len <= size);
  memcpy (data + offset, bytes, len);
  ck_assert (g_file_set_contents (path, data, (gssize) size, NULL));
  g_free (data);
}

static void
assert_refused (const gchar *path, gint code, const gchar *reason)
{
  GError *error = NULL;
  M3retVolume *v = m3ret_readers_nifti_read (path, 0, &limits, NULL, &error);
  ck_assert_msg (v == NULL, "%s read although it is bad", path);
  ck_assert_msg (error != NULL && error->domain == M3RET_DATA_ERROR && error->code == code,
                 "%s: %s", path, error ? error->message : "no error");
  ck_assert_msg (strstr (error->message, path) && strstr (error->message, reason),
                 "message '%s' lacks the file or '%s'", error->message, reason);
  g_error_free (error);
}

START_TEST (test_nifti2_bad_headers)
{
  gdouble v[4 * 4 * 2] = { 0 };
  const struct {
    const gchar *name;
    gsize offset;
    gint64 value;
    gint code;
    const gchar *reason;
  } cases[] = {
    /* dim[1..3] = 2^20 each: 2^60 voxels, refused by max_voxels before any allocation */
    { "huge.nii", 16 + 8, 1 << 20, M3RET_DATA_ERROR_TOO_LARGE, "voxels" },
    { "negative.nii", 16 + 16, -4, M3RET_DATA_ERROR_CORRUPT, "dimension 2 has size -4" },
    { "ndim.nii", 16, 9, M3RET_DATA_ERROR_CORRUPT, "9 dimensions" },
    { "offset.nii", 168, 100, M3RET_DATA_ERROR_CORRUPT, "vox_offset 100" },
    { "long.nii", 16 + 24, 1000, M3RET_DATA_ERROR_CORRUPT, "file is shorter" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    g_autofree gchar *path = g_build_filename (tmp, cases[c].name, NULL);
    fx_write_nifti2 (path, 4, 4, 2, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, NULL, FALSE);
    gint64 value = GINT64_TO_LE (cases[c].value);
    patch (path, cases[c].offset, &value, sizeof value);
    if (g_str_equal (cases[c].name, "huge.nii")) { /* all three axes */
      patch (path, 16 + 16, &value, sizeof value);
      patch (path, 16 + 24, &value, sizeof value);
    }
    assert_refused (path, cases[c].code, cases[c].reason);
  }
  /* A compressed NIfTI-2 cut short: the voxels are missing. */
  g_autofree gchar *cut = g_build_filename (tmp, "cut.nii.gz", NULL);
  g_autofree gchar *whole = g_build_filename (tmp, "whole.nii", NULL);
  fx_write_nifti2 (whole, 4, 4, 2, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, NULL, FALSE);
  gchar *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (whole, &bytes, &len, NULL));
  znzFile zf = znzopen (cut, "wb", 1);
  ck_assert (!znz_isnull (zf) && znzwrite (bytes, 1, 560, zf) == 560);
  znzclose (zf);
  g_free (bytes);
  assert_refused (cut, M3RET_DATA_ERROR_CORRUPT, "truncated");
}
END_TEST

/* Runs python3 with nibabel: the canonical (RAS) volume 0 of the Debian file
 * as native float32 in z, y, x order into @ref, its spacing into @spacing. */
static gboolean
nibabel_reference (const gchar *ref, const gchar *spacing)
{
  g_autofree gchar *script = g_strdup_printf (
    "import nibabel, numpy\n"
    "img = nibabel.as_closest_canonical(nibabel.load('%s'))\n"
    "vol = numpy.asarray(img.get_fdata(dtype=numpy.float64))[..., 0]\n"
    "numpy.ascontiguousarray(vol.transpose(2, 1, 0), dtype=numpy.float32).tofile('%s')\n"
    "open('%s', 'w').write(' '.join(repr(float(z)) for z in img.header.get_zooms()[:3]) + ' '"
    " + ' '.join(str(n) for n in vol.shape))\n",
    NIBABEL_NIFTI2, ref, spacing);
  const gchar *argv[] = { "/usr/bin/python3", "-c", script, NULL };
  g_autofree gchar *out = NULL, *err = NULL;
  gint status = -1;
  GError *error = NULL;
  ck_assert_msg (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                               &err, &status, &error), "%s", error ? error->message : "");
  ck_assert_msg (g_spawn_check_wait_status (status, NULL), "nibabel failed: %s", err);
  return TRUE;
}

START_TEST (test_nifti2_debian_file_as_nibabel)
{
  g_autofree gchar *ref = g_build_filename (tmp, "ref.f32", NULL);
  g_autofree gchar *meta = g_build_filename (tmp, "ref.txt", NULL);
  ck_assert (nibabel_reference (ref, meta));
  gchar *want = NULL, *text = NULL;
  gsize want_len = 0;
  ck_assert (g_file_get_contents (ref, &want, &want_len, NULL));
  ck_assert (g_file_get_contents (meta, &text, NULL, NULL));
  gdouble zoom[3];
  guint shape[3];
  ck_assert_int_eq (sscanf (text, "%lf %lf %lf %u %u %u", &zoom[0], &zoom[1], &zoom[2],
                            &shape[0], &shape[1], &shape[2]), 6);
  M3retReadersNiftiInfo info;
  g_autoptr (M3retVolume) vol = read_ok (NIBABEL_NIFTI2, 0, &info);
  ck_assert_uint_eq (vol->width, shape[0]);
  ck_assert_uint_eq (vol->height, shape[1]);
  ck_assert_uint_eq (vol->depth, shape[2]);
  ck_assert_uint_eq (info.n_volumes, 2);
  for (gint k = 0; k < 3; k++) /* nibabel keeps the header's doubles; nifticlib's rules |pixdim| */
    ck_assert_msg (fabs (vol->spacing[k] - zoom[k]) < 1e-6, "spacing %d: %g vs nibabel %g", k,
                   vol->spacing[k], zoom[k]);
  gsize n = (gsize) vol->width * vol->height * vol->depth;
  ck_assert_uint_eq (want_len, n * sizeof (gfloat));
  const gfloat *w = (const gfloat *) want;
  for (gsize i = 0; i < n; i++)
    ck_assert_msg (vol->data[i] == w[i], "voxel %" G_GSIZE_FORMAT ": %g vs "
                   "nibabel %g", i, vol->data[i], w[i]);
  g_free (want);
  g_free (text);

  /* `m3ret inspect` names the version. */
  M3retCheckRun run = m3ret_check_m3ret (TRUE, "inspect", NIBABEL_NIFTI2, NULL);
  ck_assert_msg (run.status == 0, "%s", run.err);
  ck_assert_msg (strstr (run.out, "format      NIfTI-2 (gzip)") != NULL, "%s", run.out);
  ck_assert_msg (strstr (run.out, "LAS (stored, from the qform), read as RAS") != NULL, "%s",
                 run.out);
  m3ret_check_run_clear (&run);
}
END_TEST

static gboolean
have_nibabel (void)
{
  const gchar *argv[] = { "/usr/bin/python3", "-c", "import nibabel, numpy", NULL };
  gint status = -1;
  return g_file_test (NIBABEL_NIFTI2, G_FILE_TEST_IS_REGULAR)
         && g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL
                          | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL)
         && g_spawn_check_wait_status (status, NULL);
}

static gboolean nibabel_present;

static Suite *
nifti2_suite (void)
{
  Suite *s = suite_create ("nifti2");
  TCase *files = tcase_create ("written");
  tcase_add_checked_fixture (files, setup, teardown);
  tcase_add_test (files, test_nifti2_reads_as_nifti1);
  tcase_add_test (files, test_nifti2_datatypes_mri);
  tcase_add_test (files, test_nifti2_bad_headers);
  suite_add_tcase (s, files);
  if (nibabel_present) {
    TCase *real = tcase_create ("debian");
    tcase_add_checked_fixture (real, setup, teardown);
    tcase_set_timeout (real, 60);
    tcase_add_test (real, test_nifti2_debian_file_as_nibabel);
    suite_add_tcase (s, real);
  }
  return s;
}

int main (void);

int
main (void)
{
  nibabel_present = have_nibabel ();
  static const M3retCheckMain how = { .suite = nifti2_suite };
  int status = m3ret_check_main (&how);
  if (status == 0 && !nibabel_present) {
    g_print ("test-nifti2: SKIPPED the Debian file: python3-nibabel (%s) or its numpy is "
             "absent\n", NIBABEL_NIFTI2);
    return 77;
  }
  return status;
}
