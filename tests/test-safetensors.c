/* test-safetensors.c — the checkpoint container: round trip, byte layout, half floats, bad files. */
#include "config.h"

#include <string.h>

#include "m3ret-check.h"
#include "m3ret-fileio.h"
#include "m3ret-safetensors.h"

static gchar *dir;

static void
setup (void)
{
  dir = m3ret_check_tmpdir ();
}

static void
teardown (void)
{
  m3ret_check_rmtree (dir);
  g_clear_pointer (&dir, g_free);
}

static gchar *
path_of (const gchar *name)
{
  return g_build_filename (dir, name, NULL);
}

START_TEST (test_round_trip)
{
  g_autofree gchar *path = path_of ("a.safetensors");
  g_autoptr (M3retSafetensorsWriter) w = m3ret_safetensors_writer_new ();
  const gfloat a[6] = { 1, -2, 3.5f, 0, 1e-30f, -1e30f };
  const gfloat b[1] = { 42 };
  const gint64 sa[2] = { 2, 3 }, sb[1] = { 1 };
  m3ret_safetensors_writer_add (w, "blocks.0.attn.qkv.weight", sa, 2, a);
  m3ret_safetensors_writer_add (w, "cls_token", sb, 1, b);
  m3ret_safetensors_writer_set_metadata (w, "step", "17");
  m3ret_safetensors_writer_set_metadata (w, "pipeline", "[train]\nbatch=4\n\"quoted\"");
  GError *error = NULL;
  ck_assert_msg (m3ret_safetensors_writer_write (w, path, &error), "%s", error ? error->message : "");

  g_autoptr (M3retSafetensors) f = m3ret_safetensors_open (path, &error);
  ck_assert_msg (f != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (m3ret_safetensors_names (f)->len, 2);
  ck_assert_str_eq (m3ret_safetensors_get_metadata (f, "step"), "17");
  ck_assert_str_eq (m3ret_safetensors_get_metadata (f, "pipeline"), "[train]\nbatch=4\n\"quoted\"");
  gint64 shape[8];
  guint nd;
  ck_assert (m3ret_safetensors_get_shape (f, "blocks.0.attn.qkv.weight", shape, &nd));
  ck_assert_uint_eq (nd, 2);
  ck_assert_int_eq (shape[0], 2);
  ck_assert_int_eq (shape[1], 3);
  g_autofree gfloat *ra = m3ret_safetensors_read (f, "blocks.0.attn.qkv.weight", 6, &error);
  ck_assert (ra != NULL);
  ck_assert_mem_eq (ra, a, sizeof a);
  ck_assert (m3ret_safetensors_read (f, "cls_token", 2, &error) == NULL);
  ck_assert (g_error_matches (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH));
  g_clear_error (&error);
  ck_assert (m3ret_safetensors_read (f, "nope", 0, &error) == NULL);
  g_clear_error (&error);

  /* The byte layout of the format: u64 LE header length, JSON, 8-aligned data in name order. */
  g_autofree gchar *bytes = NULL;
  gsize len;
  ck_assert (g_file_get_contents (path, &bytes, &len, NULL));
  guint64 hlen;
  memcpy (&hlen, bytes, 8);
  hlen = GUINT64_FROM_LE (hlen);
  ck_assert_uint_eq (hlen % 8, 0);
  ck_assert_uint_eq (len, 8 + hlen + sizeof a + sizeof b);
  ck_assert (strstr (bytes + 8, "\"dtype\":\"F32\"") != NULL);
  ck_assert_mem_eq (bytes + 8 + hlen, a, sizeof a);
  ck_assert_mem_eq (bytes + 8 + hlen + sizeof a, b, sizeof b);
}
END_TEST

/* Writes a file from a header text and data bytes, as another tool would. */
static gchar *
hand_made (const gchar *name, const gchar *header, gconstpointer data, gsize data_len)
{
  gchar *path = path_of (name);
  gsize hl = strlen (header);
  guint64 le = GUINT64_TO_LE ((guint64) hl);
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  g_byte_array_append (buf, (const guint8 *) &le, 8);
  g_byte_array_append (buf, (const guint8 *) header, hl);
  g_byte_array_append (buf, data, data_len);
  ck_assert (g_file_set_contents (path, (const gchar *) buf->data, buf->len, NULL));
  return path;
}

START_TEST (test_half_precision)
{
  /* F16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800, smallest subnormal 0x0001 = 2^-24.
   * BF16: 1.0 = 0x3f80, -3.0 = 0xc040. */
  const guint16 f16[4] = { GUINT16_TO_LE (0x3c00), GUINT16_TO_LE (0xc000), GUINT16_TO_LE (0x3800),
                           GUINT16_TO_LE (0x0001) };
  const guint16 bf16[2] = { GUINT16_TO_LE (0x3f80), GUINT16_TO_LE (0xc040) };
  guint8 data[12];
  memcpy (data, f16, 8);
  memcpy (data + 8, bf16, 4);
  g_autofree gchar *path = hand_made ("half.safetensors",
    "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,1],\"data_offsets\":[8,12]}}", data, sizeof data);
  GError *error = NULL;
  g_autoptr (M3retSafetensors) f = m3ret_safetensors_open (path, &error);
  ck_assert_msg (f != NULL, "%s", error ? error->message : "");
  g_autofree gfloat *h = m3ret_safetensors_read (f, "h", 4, NULL);
  ck_assert_float_eq (h[0], 1.0f);
  ck_assert_float_eq (h[1], -2.0f);
  ck_assert_float_eq (h[2], 0.5f);
  ck_assert_float_eq (h[3], ldexpf (1.0f, -24));
  g_autofree gfloat *b = m3ret_safetensors_read (f, "b", 2, NULL);
  ck_assert_float_eq (b[0], 1.0f);
  ck_assert_float_eq (b[1], -3.0f);
}
END_TEST

static void
expect_refused (const gchar *name, const gchar *header, gsize data_len, gint code)
{
  g_autofree guint8 *data = g_malloc0 (data_len + 1);
  g_autofree gchar *path = hand_made (name, header, data, data_len);
  GError *error = NULL;
  M3retSafetensors *f = m3ret_safetensors_open (path, &error);
  ck_assert_msg (f == NULL, "%s was accepted", name);
  ck_assert_msg (g_error_matches (error, M3RET_FORMAT_ERROR, code), "%s: code %d: %s", name,
                 error->code, error->message);
  ck_assert (strstr (error->message, path) != NULL);
  g_error_free (error);
}

START_TEST (test_bad_files)
{
  expect_refused ("notjson", "{\"a\": [", 0, M3RET_FORMAT_ERROR_CORRUPT);
  expect_refused ("dtype", "{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
                  M3RET_FORMAT_ERROR_UNSUPPORTED);
  expect_refused ("short", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                  M3RET_FORMAT_ERROR_TRUNCATED);
  expect_refused ("lying", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16,
                  M3RET_FORMAT_ERROR_TRUNCATED);
  expect_refused ("overlap",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                  M3RET_FORMAT_ERROR_CORRUPT);
  expect_refused ("gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
                  M3RET_FORMAT_ERROR_CORRUPT);
  expect_refused ("negshape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                  M3RET_FORMAT_ERROR_CORRUPT);
  expect_refused ("meta", "{\"__metadata__\":{\"step\":3}}", 0, M3RET_FORMAT_ERROR_CORRUPT);
  expect_refused ("array", "[1,2,3]", 0, M3RET_FORMAT_ERROR_FOREIGN);
  /* A header length larger than the file. */
  g_autofree gchar *p = path_of ("huge");
  const guint8 huge[12] = { 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, '{', '}', 0, 0 };
  ck_assert (g_file_set_contents (p, (const gchar *) huge, sizeof huge, NULL));
  GError *error = NULL;
  ck_assert (m3ret_safetensors_open (p, &error) == NULL);
  ck_assert (g_error_matches (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_TRUNCATED));
  g_clear_error (&error);
  ck_assert (m3ret_safetensors_open ("/nonexistent.safetensors", &error) == NULL);
  ck_assert (error->domain == G_FILE_ERROR);
  g_clear_error (&error);
}
END_TEST

START_TEST (test_duplicate_name_leaves_nothing)
{
  g_autofree gchar *path = path_of ("dup.safetensors");
  g_autoptr (M3retSafetensorsWriter) w = m3ret_safetensors_writer_new ();
  const gfloat x = 1;
  const gint64 s = 1;
  m3ret_safetensors_writer_add (w, "x", &s, 1, &x);
  m3ret_safetensors_writer_add (w, "x", &s, 1, &x);
  GError *error = NULL;
  ck_assert (!m3ret_safetensors_writer_write (w, path, &error));
  g_clear_error (&error);
  ck_assert (!g_file_test (path, G_FILE_TEST_EXISTS));
}
END_TEST

static Suite *
safetensors_suite (void)
{
  Suite *s = suite_create ("safetensors");
  TCase *tc = tcase_create ("safetensors");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_round_trip);
  tcase_add_test (tc, test_half_precision);
  tcase_add_test (tc, test_bad_files);
  tcase_add_test (tc, test_duplicate_name_leaves_nothing);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = safetensors_suite)
