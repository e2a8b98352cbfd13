/* test-retrieval-files.c — atomic writing, CRC-32, the sidecar CSV, E.npy + E.csv pairs. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "m3ret-check.h"
#include "m3ret-embeddings.h"
#include "m3ret-fileio.h"
#include "m3ret-npy.h"

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

/* Names in @dir, sorted and joined by spaces: what a failure left behind. */
static gchar *
listing (const gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_dir_close (d);
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (gchar **) names->pdata);
}

START_TEST (test_atomic_write)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "out.bin", NULL);
  GError *error = NULL;
  ck_assert (m3ret_file_write_atomic (path, "first", -1, &error));
  ck_assert (m3ret_file_write_atomic (path, "second version", -1, &error));
  g_autofree gchar *text = NULL;
  ck_assert (g_file_get_contents (path, &text, NULL, NULL));
  ck_assert_str_eq (text, "second version");
  g_autofree gchar *names = listing (dir);
  ck_assert_str_eq (names, "out.bin");
  /* Streaming, larger than the internal buffer, in uneven pieces. */
  M3retAtomicFile *f = m3ret_atomic_file_new (path, &error);
  ck_assert (f != NULL);
  g_autofree guint8 *big = g_malloc (3 << 20);
  for (gsize i = 0; i < (3u << 20); i++)
    big[i] = (guint8) (i * 7);
  ck_assert (m3ret_atomic_file_write (f, big, 1000, &error));
  ck_assert (m3ret_atomic_file_write (f, big + 1000, (2u << 20) - 1000, &error));
  ck_assert (m3ret_atomic_file_write (f, big + (2u << 20), 1u << 20, &error));
  ck_assert_uint_eq (m3ret_atomic_file_tell (f), 3u << 20);
  /* Before commit the destination still holds the old content. */
  g_clear_pointer (&text, g_free);
  ck_assert (g_file_get_contents (path, &text, NULL, NULL));
  ck_assert_str_eq (text, "second version");
  ck_assert (m3ret_atomic_file_commit (f, &error));
  gsize len = 0;
  g_autofree gchar *back = NULL;
  ck_assert (g_file_get_contents (path, &back, &len, NULL));
  ck_assert_uint_eq (len, 3u << 20);
  ck_assert (memcmp (back, big, len) == 0);
  m3ret_check_rmtree (dir);
}
END_TEST

START_TEST (test_atomic_failures_leave_nothing)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "keep.txt", NULL);
  GError *error = NULL;
  ck_assert (m3ret_file_write_atomic (path, "old", -1, &error));
  /* Abort: the old file stays, the temporary goes. */
  M3retAtomicFile *f = m3ret_atomic_file_new (path, &error);
  ck_assert (m3ret_atomic_file_write (f, "new", 3, &error));
  m3ret_atomic_file_abort (f);
  m3ret_atomic_file_abort (NULL);
  g_autofree gchar *text = NULL;
  ck_assert (g_file_get_contents (path, &text, NULL, NULL));
  ck_assert_str_eq (text, "old");
  g_autofree gchar *names = listing (dir);
  ck_assert_str_eq (names, "keep.txt");
  /* A folder that does not exist, and a destination that is a folder. */
  g_autofree gchar *nowhere = g_build_filename (dir, "missing", "x.bin", NULL);
  ck_assert (!m3ret_file_write_atomic (nowhere, "x", -1, &error));
  ck_assert (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT));
  ck_assert (strstr (error->message, nowhere) != NULL);
  g_clear_error (&error);
  g_autofree gchar *sub = g_build_filename (dir, "sub", NULL);
  ck_assert (g_mkdir (sub, 0755) == 0);
  ck_assert (!m3ret_file_write_atomic (sub, "x", -1, &error));
  ck_assert (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR));
  g_clear_error (&error);
  g_autofree gchar *after = listing (dir);
  ck_assert_str_eq (after, "keep.txt sub");
  m3ret_check_rmtree (dir);
}
END_TEST

START_TEST (test_crc32)
{
  /* The standard check value of CRC-32/ISO-HDLC (zlib, PNG). */
  ck_assert_uint_eq (m3ret_crc32_update (0, "123456789", 9), 0xCBF43926u);
  ck_assert_uint_eq (m3ret_crc32_update (0, "", 0), 0);
  /* Chunked equals whole, across the 8-byte fast path. */
  guint8 data[1000];
  for (guint i = 0; i < sizeof data; i++)
    data[i] = (guint8) (i * 31 + 7);
  guint32 whole = m3ret_crc32_update (0, data, sizeof data);
  guint32 parts = m3ret_crc32_update (m3ret_crc32_update (0, data, 333), data + 333, 667);
  ck_assert_uint_eq (whole, parts);
  data[500] ^= 1;
  ck_assert_uint_ne (whole, m3ret_crc32_update (0, data, sizeof data));
}
END_TEST

START_TEST (test_sidecar_round_trip)
{
  g_autoptr (M3retItems) items = m3ret_items_new (4);
  m3ret_items_set (items, 0, "xray/a.png", "xray", "lung");
  m3ret_items_set (items, 1, "dir, with comma/b.png", "ct", "say \"hi\"");
  m3ret_items_set (items, 2, "line\nbreak.png", "", "");
  m3ret_items_set (items, 3, " spaced .png", "mri", "knee");
  gsize len = 0;
  g_autofree gchar *csv = m3ret_items_to_csv (items, &len);
  ck_assert (g_str_has_prefix (csv, "path,modality,label\nxray/a.png,xray,lung\n"));
  ck_assert (strstr (csv, "\"dir, with comma/b.png\",ct,\"say \"\"hi\"\"\"\n") != NULL);
  GError *error = NULL;
  g_autoptr (M3retItems) back = m3ret_items_parse_csv (csv, len, "s.csv", &error);
  ck_assert_msg (back != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (back->n, 4);
  for (guint i = 0; i < 4; i++) {
    ck_assert_str_eq (back->paths[i], items->paths[i]);
    ck_assert_str_eq (back->modalities[i], items->modalities[i]);
    ck_assert_str_eq (back->labels[i], items->labels[i]);
  }
  ck_assert (back->paths[4] == NULL);
  /* CRLF endings and no final newline are accepted. */
  const gchar *crlf = "path,modality,label\r\na.png,xray,x\r\nb.png,ct,y";
  g_autoptr (M3retItems) c = m3ret_items_parse_csv (crlf, strlen (crlf), "c.csv", &error);
  ck_assert_msg (c != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (c->n, 2);
  ck_assert_str_eq (c->labels[1], "y");
}
END_TEST

static void
expect_csv_refused (const gchar *text, const gchar *fragment)
{
  GError *error = NULL;
  M3retItems *items = m3ret_items_parse_csv (text, strlen (text), "bad.csv", &error);
  ck_assert_msg (items == NULL, "accepted: %s", text);
  ck_assert (error->domain == M3RET_FORMAT_ERROR);
  ck_assert_msg (strstr (error->message, fragment) != NULL, "'%s' not in '%s'", fragment,
                 error->message);
  ck_assert (g_str_has_prefix (error->message, "bad.csv:"));
  g_error_free (error);
}

START_TEST (test_sidecar_malformed)
{
  expect_csv_refused ("path,label,modality\na,b,c\n", "header");
  expect_csv_refused ("", "header");
  expect_csv_refused ("path,modality,label\na,b\n", "bad.csv:2: 2 fields");
  expect_csv_refused ("path,modality,label\na,b,c\nd,e,f,g\n", "bad.csv:3: 4 fields");
  expect_csv_refused ("path,modality,label\n\"a,b,c\n", "unterminated");
  expect_csv_refused ("path,modality,label\na\"x,b,c\n", "quote inside");
  expect_csv_refused ("path,modality,label\n\"a\"x,b,c\n", "after a closing quote");
  expect_csv_refused ("path,modality,label\n,b,c\n", "empty path");
  expect_csv_refused ("path,modality,label\na,\xff\xfe,c\n", "UTF-8");
}
END_TEST

START_TEST (test_embeddings_pair)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *npy = g_build_filename (dir, "e.npy", NULL);
  g_autofree gchar *csv = m3ret_embeddings_sidecar_path (npy);
  g_autofree gchar *expect_csv = g_build_filename (dir, "e.csv", NULL);
  ck_assert_str_eq (csv, expect_csv);
  g_autofree gchar *other = m3ret_embeddings_sidecar_path ("x/emb.bin");
  ck_assert_str_eq (other, "x/emb.bin.csv");
  g_autoptr (M3retEmbeddings) e = m3ret_embeddings_new (3, 2);
  for (guint i = 0; i < 6; i++)
    e->data[i] = (gfloat) i;
  for (guint i = 0; i < 3; i++) {
    g_autofree gchar *path = g_strdup_printf ("f%u.png", i);
    m3ret_items_set (e->items, i, path, "xray", i == 1 ? "b" : "a");
  }
  GError *error = NULL;
  ck_assert (m3ret_embeddings_save (e, npy, &error));
  g_autoptr (M3retEmbeddings) back = m3ret_embeddings_load (npy, TRUE, &error);
  ck_assert_msg (back != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (back->n_rows, 3);
  ck_assert_uint_eq (back->dim, 2);
  ck_assert (memcmp (back->data, e->data, 6 * sizeof (gfloat)) == 0);
  ck_assert_str_eq (back->items->labels[1], "b");
  /* A sidecar with another row count is refused, naming both files. */
  g_autoptr (M3retItems) two = m3ret_items_new (2);
  m3ret_items_set (two, 0, "a", NULL, NULL);
  m3ret_items_set (two, 1, "b", NULL, NULL);
  ck_assert (m3ret_items_write (two, csv, &error));
  ck_assert (m3ret_embeddings_load (npy, FALSE, &error) == NULL);
  ck_assert (g_error_matches (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH));
  ck_assert (strstr (error->message, csv) != NULL && strstr (error->message, npy) != NULL);
  g_clear_error (&error);
  /* No sidecar: fine unless items are needed. */
  g_unlink (csv);
  g_autoptr (M3retEmbeddings) bare = m3ret_embeddings_load (npy, FALSE, &error);
  ck_assert (bare != NULL && bare->items == NULL);
  ck_assert (m3ret_embeddings_load (npy, TRUE, &error) == NULL);
  ck_assert (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT));
  g_clear_error (&error);
  m3ret_check_rmtree (dir);
}
END_TEST

static Suite *
files_suite (void)
{
  Suite *s = suite_create ("retrieval-files");
  TCase *tc = tcase_create ("files");
  tcase_add_test (tc, test_atomic_write);
  tcase_add_test (tc, test_atomic_failures_leave_nothing);
  tcase_add_test (tc, test_crc32);
  tcase_add_test (tc, test_sidecar_round_trip);
  tcase_add_test (tc, test_sidecar_malformed);
  tcase_add_test (tc, test_embeddings_pair);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = files_suite)
