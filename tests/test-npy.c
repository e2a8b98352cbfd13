/* test-npy.c — float32 N×d .npy: round trips, numpy's header variants, malformed files. */
#include "config.h"

#include <string.h>

#include "m3ret-check.h"
#include "m3ret-fileio.h"
#include "m3ret-npy.h"

/* A .npy as numpy would lay it out: magic, version, header length, header, data. */
static GByteArray *
make_npy (guint major, const gchar *dict, const gfloat *data, gsize n_values)
{
  GByteArray *b = g_byte_array_new ();
  const guint8 magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };
  g_byte_array_append (b, magic, 6);
  guint8 version[2] = { major, 0 };
  g_byte_array_append (b, version, 2);
  GString *header = g_string_new (dict);
  gsize pre = major == 1 ? 10 : 12;
  while ((pre + header->len + 1) % 64 != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');
  guint8 len[4] = { header->len & 0xff, (header->len >> 8) & 0xff, 0, 0 };
  g_byte_array_append (b, len, major == 1 ? 2 : 4);
  g_byte_array_append (b, (const guint8 *) header->str, header->len);
  g_string_free (header, TRUE);
  if (n_values)
    g_byte_array_append (b, (const guint8 *) data, n_values * sizeof (gfloat));
  return b;
}

static void
expect_refused (GByteArray *b, gint code, const gchar *fragment)
{
  gsize rows = 99, cols = 99;
  GError *error = NULL;
  gfloat *out = m3ret_npy_decode_f32 (b->data, b->len, "bad.npy", &rows, &cols, &error);
  ck_assert_msg (out == NULL, "accepted a file that should be refused (%s)", fragment);
  ck_assert_msg (g_error_matches (error, M3RET_FORMAT_ERROR, code), "code %d for '%s': %s",
                 error ? error->code : -1, fragment, error ? error->message : "(none)");
  ck_assert_msg (g_str_has_prefix (error->message, "bad.npy: "), "%s", error->message);
  ck_assert_msg (strstr (error->message, fragment) != NULL, "'%s' not in '%s'", fragment,
                 error->message);
  g_error_free (error);
  g_byte_array_unref (b);
}

START_TEST (test_round_trip)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "e.npy", NULL);
  gfloat data[7 * 5];
  for (guint i = 0; i < G_N_ELEMENTS (data); i++)
    data[i] = (gfloat) i * 0.25f - 3.0f;
  GError *error = NULL;
  ck_assert_msg (m3ret_npy_write_f32 (path, data, 7, 5, &error), "%s", error ? error->message : "");
  gsize rows = 0, cols = 0;
  g_autofree gfloat *back = m3ret_npy_read_f32 (path, &rows, &cols, &error);
  ck_assert_msg (back != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (rows, 7);
  ck_assert_uint_eq (cols, 5);
  ck_assert (memcmp (back, data, sizeof data) == 0);
  /* numpy's layout: data on a 64-byte boundary, version 1.0. */
  g_autofree gchar *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (path, &bytes, &len, NULL));
  ck_assert_uint_eq (len, 128 + sizeof data);
  ck_assert (memcmp (bytes, "\x93NUMPY\x01\x00", 8) == 0);
  ck_assert (strstr (bytes + 10, "'descr': '<f4'") != NULL);
  ck_assert (strstr (bytes + 10, "'shape': (7, 5)") != NULL);
  /* Zero rows are a valid (empty) matrix. */
  ck_assert (m3ret_npy_write_f32 (path, NULL, 0, 3, &error));
  g_autofree gfloat *none = m3ret_npy_read_f32 (path, &rows, &cols, &error);
  ck_assert_msg (none != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (rows, 0);
  ck_assert_uint_eq (cols, 3);
  m3ret_check_rmtree (dir);
}
END_TEST

/* The provenance comment after the header dict: read back by us, and by
 * numpy itself (Debian's python3-numpy, installed by setup.sh), which must
 * still load the array. */
START_TEST (test_comment)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "c.npy", NULL);
  gfloat data[3 * 4];
  for (guint i = 0; i < G_N_ELEMENTS (data); i++)
    data[i] = (gfloat) i - 5.5f;
  const gchar *note = "m3ret weights=sha256:00ff preset=micro size=32 depth=8 tubelet=2,8,8 pool=cls";
  GError *error = NULL;
  M3retAtomicFile *file = m3ret_atomic_file_new (path, &error);
  ck_assert (file != NULL && m3ret_npy_write_f32_to (file, data, 3, 4, note, &error));
  ck_assert (m3ret_atomic_file_commit (file, &error));
  gsize rows = 0, cols = 0;
  g_autofree gchar *comment = NULL;
  g_autofree gfloat *back = m3ret_npy_read_f32_commented (path, &rows, &cols, &comment, &error);
  ck_assert_msg (back != NULL, "%s", error ? error->message : "");
  ck_assert_str_eq (comment, note);
  ck_assert (rows == 3 && cols == 4 && memcmp (back, data, sizeof data) == 0);
  g_autofree gchar *script = g_strdup_printf (
    "import numpy; a = numpy.load('%s'); "
    "assert a.shape == (3, 4) and a.dtype == numpy.float32 and abs(a.sum() - %.1f) < 1e-4; "
    "print('numpy ok')", path, 0.0);
  const gchar *argv[] = { "/usr/bin/python3", "-c", script, NULL };
  g_autofree gchar *out = NULL, *err = NULL;
  gint status = -1;
  ck_assert (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                           &status, &error));
  ck_assert_msg (status == 0 && strstr (out, "numpy ok"), "numpy refused it: %s", err);
  /* A comment that spans lines is not a Python comment: refused. */
  ck_assert (g_file_set_contents (path, "\x93NUMPY\x01\x00\x45\x00{'descr': '<f4', "
                                  "'fortran_order': False, 'shape': (0, 1), } # a\rb   \n", 79,
                                  NULL));
  ck_assert (m3ret_npy_read_f32 (path, &rows, &cols, &error) == NULL);
  ck_assert (strstr (error->message, "spans lines") != NULL);
  g_clear_error (&error);
  m3ret_check_rmtree (dir);
}
END_TEST

START_TEST (test_header_variants)
{
  /* What numpy and other writers legitimately produce. */
  const gchar *dicts[] = {
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
    "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
    "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,3)}",
    "{'descr':'<f4','fortran_order':False,'shape':(2, 3,),}",
  };
  gfloat data[6] = { 1, 2, 3, 4, 5, 6 };
  for (guint major = 1; major <= 3; major++)
    for (guint i = 0; i < G_N_ELEMENTS (dicts); i++) {
      g_autoptr (GByteArray) b = make_npy (major, dicts[i], data, 6);
      gsize rows = 0, cols = 0;
      GError *error = NULL;
      g_autofree gfloat *out = m3ret_npy_decode_f32 (b->data, b->len, "ok.npy", &rows, &cols, &error);
      ck_assert_msg (out != NULL, "v%u '%s': %s", major, dicts[i], error ? error->message : "");
      ck_assert_uint_eq (rows, 2);
      ck_assert_uint_eq (cols, 3);
      ck_assert (memcmp (out, data, sizeof data) == 0);
    }
}
END_TEST

START_TEST (test_malformed)
{
  gfloat data[6] = { 0 };
  const gchar *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  expect_refused (make_npy (1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", data, 6),
                  M3RET_FORMAT_ERROR_UNSUPPORTED, "'<f8'");
  expect_refused (make_npy (1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", data, 6),
                  M3RET_FORMAT_ERROR_UNSUPPORTED, "'>f4'");
  expect_refused (make_npy (1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data, 6),
                  M3RET_FORMAT_ERROR_UNSUPPORTED, "Fortran");
  expect_refused (make_npy (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", data, 6),
                  M3RET_FORMAT_ERROR_UNSUPPORTED, "1 dimensions");
  expect_refused (make_npy (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", data, 6),
                  M3RET_FORMAT_ERROR_UNSUPPORTED, "3 dimensions");
  expect_refused (make_npy (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 0), }", NULL, 0),
                  M3RET_FORMAT_ERROR_UNSUPPORTED, "0 columns");
  expect_refused (make_npy (1, "{'descr': '<f4', 'shape': (2, 3), }", data, 6),
                  M3RET_FORMAT_ERROR_CORRUPT, "lacks 'fortran_order'");
  expect_refused (make_npy (1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", data, 6),
                  M3RET_FORMAT_ERROR_CORRUPT, "twice");
  expect_refused (make_npy (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", data, 6),
                  M3RET_FORMAT_ERROR_CORRUPT, "unexpected header key 'x'");
  expect_refused (make_npy (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", data, 6),
                  M3RET_FORMAT_ERROR_CORRUPT, "whole numbers");
  expect_refused (make_npy (1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }", data, 6),
                  M3RET_FORMAT_ERROR_CORRUPT, "True or False");
  expect_refused (make_npy (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } junk", data, 6),
                  M3RET_FORMAT_ERROR_CORRUPT, "text after");
  expect_refused (make_npy (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 3)}", data, 6),
                  M3RET_FORMAT_ERROR_CORRUPT, "too large");
  expect_refused (make_npy (1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4)}", data, 6),
                  M3RET_FORMAT_ERROR_CORRUPT, "too large");
  /* Data shorter or longer than the shape says. */
  expect_refused (make_npy (1, good, data, 5), M3RET_FORMAT_ERROR_TRUNCATED, "truncated");
  GByteArray *longer = make_npy (1, good, data, 6);
  g_byte_array_append (longer, (const guint8 *) "xx", 2);
  expect_refused (longer, M3RET_FORMAT_ERROR_CORRUPT, "2 bytes after the data");
  /* Broken framing. */
  GByteArray *b = make_npy (1, good, data, 6);
  b->data[0] = 'X';
  expect_refused (b, M3RET_FORMAT_ERROR_FOREIGN, "not a .npy file");
  b = make_npy (1, good, data, 6);
  b->data[6] = 4;
  expect_refused (b, M3RET_FORMAT_ERROR_VERSION, "version 4.0");
  b = make_npy (1, good, data, 6);
  g_byte_array_set_size (b, 40);
  expect_refused (b, M3RET_FORMAT_ERROR_TRUNCATED, "truncated in the header");
  b = make_npy (1, good, data, 6);
  g_byte_array_set_size (b, 8);
  expect_refused (b, M3RET_FORMAT_ERROR_TRUNCATED, "truncated before the header");
  b = make_npy (1, good, data, 6);
  b->data[8] = 54; /* the header now ends inside the dict, not on '\n' */
  expect_refused (b, M3RET_FORMAT_ERROR_CORRUPT, "newline");
  expect_refused (g_byte_array_new (), M3RET_FORMAT_ERROR_TRUNCATED, "empty file");
}
END_TEST

START_TEST (test_read_missing_file)
{
  gsize rows, cols;
  GError *error = NULL;
  ck_assert (m3ret_npy_read_f32 ("/nonexistent/e.npy", &rows, &cols, &error) == NULL);
  ck_assert (error != NULL && error->domain == G_FILE_ERROR);
  ck_assert (strstr (error->message, "/nonexistent/e.npy") != NULL);
  g_error_free (error);
}
END_TEST

static Suite *
npy_suite (void)
{
  Suite *s = suite_create ("npy");
  TCase *tc = tcase_create ("npy");
  tcase_add_test (tc, test_round_trip);
  tcase_add_test (tc, test_comment);
  tcase_add_test (tc, test_header_variants);
  tcase_add_test (tc, test_malformed);
  tcase_add_test (tc, test_read_missing_file);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = npy_suite)
