/* test-loader.c — manifests, the weighted sampler and the loader threads. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <png.h>

#include "m3ret-check.h"
#include "m3ret-loader.h"
#include "test-modality-fixtures.h"

#include <nifti1_io.h> /* after GLib: nifti1.h redefines DT_UNKNOWN */

static M3retRegistry *registry;
static M3retModalities *set;
static gchar *tmp;

static void
setup (void)
{
  registry = m3ret_check_registry ();
  set = m3ret_modalities_new (registry, NULL, NULL);
  ck_assert_ptr_nonnull (set);
  tmp = m3ret_check_tmpdir ();
}

static void
teardown (void)
{
  m3ret_modalities_free (set);
  m3ret_registry_free (registry);
  m3ret_check_rmtree (tmp);
  g_free (tmp);
}

/* ---- manifest ---- */

START_TEST (test_manifest_parse)
{
  const gchar *text = "\xef\xbb\xbfpath,modality,label,split\r\n"
                      "a/x1.png,xray,chest,query\r\n"
                      "\n"
                      "\"b,c/us 1.png\",ultrasound,\"ab\"\"domen\",database\n"
                      "/abs/ct.nii.gz,,head,query\n";
  GError *error = NULL;
  g_autoptr (M3retManifest) m = m3ret_manifest_load_data (text, -1, "m.csv", "/data", &error);
  ck_assert_msg (m != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (m3ret_manifest_size (m), 3);
  ck_assert_str_eq (m3ret_manifest_get_path (m, 0), "/data/a/x1.png");
  ck_assert_str_eq (m3ret_manifest_get_written_path (m, 1), "b,c/us 1.png");
  ck_assert_str_eq (m3ret_manifest_get_path (m, 1), "/data/b,c/us 1.png");
  ck_assert_str_eq (m3ret_manifest_get_path (m, 2), "/abs/ct.nii.gz");
  ck_assert_str_eq (m3ret_manifest_get_modality (m, 0), "xray");
  ck_assert_ptr_null (m3ret_manifest_get_modality (m, 2));
  ck_assert_str_eq (m3ret_manifest_get_label (m, 1), "ab\"domen");
  ck_assert_str_eq (m3ret_manifest_get_column (m, 2, "split"), "query");
  ck_assert_ptr_null (m3ret_manifest_get_column (m, 2, "site"));
  g_autoptr (M3retManifest) q = m3ret_manifest_filter (m, "split", "query");
  ck_assert_uint_eq (m3ret_manifest_size (q), 2);
  ck_assert_str_eq (m3ret_manifest_get_label (q, 1), "head");

  /* Only path is required; no label column gives "". */
  g_autoptr (M3retManifest) bare = m3ret_manifest_load_data ("path\nimg.png\n", -1, "b.csv",
                                                              "/d", NULL);
  ck_assert_uint_eq (m3ret_manifest_size (bare), 1);
  ck_assert_str_eq (m3ret_manifest_get_label (bare, 0), "");
}
END_TEST

static void
assert_manifest_error (const gchar *text, const gchar *expect)
{
  GError *error = NULL;
  M3retManifest *m = m3ret_manifest_load_data (text, -1, "bad.csv", "/d", &error);
  ck_assert_ptr_null (m);
  ck_assert (g_error_matches (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST));
  ck_assert_msg (strstr (error->message, expect) != NULL, "'%s' lacks '%s'", error->message,
                 expect);
  g_error_free (error);
}

START_TEST (test_manifest_errors)
{
  assert_manifest_error ("", "empty manifest");
  assert_manifest_error ("file,label\nx.png,a\n", "no 'path' column");
  assert_manifest_error ("path,label\nx.png,a\ny.png\n", "bad.csv:3: 1 fields where the header has 2");
  assert_manifest_error ("path,label\n\"x.png,a\n", "bad.csv:2: a quoted field never ends");
  assert_manifest_error ("path,path\nx,y\n", "appears twice");
  assert_manifest_error ("path,label\n,a\n", "bad.csv:2: empty path");
  GError *error = NULL;
  ck_assert_ptr_null (m3ret_manifest_load ("/nonexistent/m.csv", &error));
  ck_assert (error->domain == G_FILE_ERROR);
  g_error_free (error);
}
END_TEST

/* ---- a small mixed dataset ---- */

static void
write_dataset (gboolean with_bad)
{
  GString *csv = g_string_new ("path,modality,label\n");
  guint16 px[16 * 16];
  for (guint i = 0; i < 4; i++) {
    for (guint k = 0; k < 256; k++)
      px[k] = (guint16) ((k * 251 + i * 4000) % 65536);
    g_autofree gchar *name = g_strdup_printf ("xr%u.png", i);
    g_autofree gchar *path = g_build_filename (tmp, name, NULL);
    fx_write_png (path, 16, 12, 16, PNG_COLOR_TYPE_GRAY, px);
    g_string_append_printf (csv, "%s,,chest\n", name); /* probed: 16-bit grey → xray */
  }
  for (guint i = 0; i < 3; i++) {
    for (guint k = 0; k < 256; k++)
      px[k] = (guint16) ((k * 7 + i * 50) % 256);
    g_autofree gchar *name = g_strdup_printf ("us%u.png", i);
    g_autofree gchar *path = g_build_filename (tmp, name, NULL);
    fx_write_png (path, 16, 16, 8, PNG_COLOR_TYPE_GRAY, px);
    g_string_append_printf (csv, "%s,ultrasound,abdomen\n", name);
  }
  gdouble vox[8 * 8 * 6];
  for (guint i = 0; i < 3; i++) {
    for (guint k = 0; k < G_N_ELEMENTS (vox); k++)
      vox[k] = (gdouble) ((k * 37 + i * 300) % 2000) - 1000;
    g_autofree gchar *name = g_strdup_printf ("ct%u.nii.gz", i);
    g_autofree gchar *path = g_build_filename (tmp, name, NULL);
    fx_write_nifti (path, 8, 8, 6, 1, NIFTI_TYPE_INT16, vox, 1, 1, 2, 0, 0, NULL);
    g_string_append_printf (csv, "%s,ct,head\n", name);
  }
  for (guint i = 0; i < 2; i++) {
    g_autofree gchar *name = g_strdup_printf ("scope%u.mkv", i);
    g_autofree gchar *path = g_build_filename (tmp, name, NULL);
    ck_assert (fx_write_video (path, "ffv1", 16, 16, 10, 30 * i));
    g_string_append_printf (csv, "%s,endoscopy,colon\n", name);
  }
  if (with_bad) {
    g_autofree gchar *path = g_build_filename (tmp, "broken.png", NULL);
    ck_assert (g_file_set_contents (path, "\x89PNG\r\n\x1a\nnot really", -1, NULL));
    g_string_append (csv, "broken.png,xray,chest\n");
  }
  g_autofree gchar *manifest = g_build_filename (tmp, "manifest.csv", NULL);
  ck_assert (g_file_set_contents (manifest, csv->str, -1, NULL));
  g_string_free (csv, TRUE);
}

static M3retManifest *
load_dataset (void)
{
  g_autofree gchar *path = g_build_filename (tmp, "manifest.csv", NULL);
  GError *error = NULL;
  M3retManifest *m = m3ret_manifest_load (path, &error);
  ck_assert_msg (m != NULL, "%s", error ? error->message : "");
  return m;
}

START_TEST (test_manifest_resolve)
{
  write_dataset (FALSE);
  g_autoptr (M3retManifest) m = load_dataset ();
  GError *error = NULL;
  ck_assert_msg (m3ret_manifest_resolve (m, set, &error), "%s", error ? error->message : "");
  ck_assert_str_eq (m3ret_manifest_get_modality (m, 0), "xray");
  ck_assert_int_eq (m3ret_manifest_get_layout (m, 0), M3RET_LAYOUT_IMAGE);
  ck_assert_int_eq (m3ret_manifest_get_layout (m, 7), M3RET_LAYOUT_SEQUENCE);
  ck_assert_int_eq (m3ret_manifest_get_layout (m, 10), M3RET_LAYOUT_SEQUENCE);

  g_autofree gchar *missing = g_strdup_printf ("path,modality\nnot-there.png,xray\n");
  g_autoptr (M3retManifest) m2 = m3ret_manifest_load_data (missing, -1, "m2.csv", tmp, NULL);
  ck_assert (!m3ret_manifest_resolve (m2, set, &error));
  ck_assert (g_error_matches (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO));
  ck_assert (strstr (error->message, "m2.csv:2:") && strstr (error->message, "not-there.png"));
  g_clear_error (&error);

  g_autoptr (M3retManifest) m3 =
    m3ret_manifest_load_data ("path,modality\nxr0.png,dermatology\n", -1, "m3.csv", tmp, NULL);
  ck_assert (!m3ret_manifest_resolve (m3, set, &error));
  ck_assert (g_error_matches (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN));
  ck_assert (strstr (error->message, "dermatology") != NULL);
  g_clear_error (&error);

  g_autofree gchar *notes = g_build_filename (tmp, "notes.txt", NULL);
  ck_assert (g_file_set_contents (notes, "hello", -1, NULL));
  g_autoptr (M3retManifest) m4 = m3ret_manifest_load_data ("path\nnotes.txt\n", -1, "m4.csv", tmp, NULL);
  ck_assert (!m3ret_manifest_resolve (m4, set, &error));
  ck_assert (g_error_matches (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN));
  ck_assert (strstr (error->message, "notes.txt") != NULL);
  g_clear_error (&error);
}
END_TEST

/* ---- loader ---- */

static void
train_options (M3retLoaderOptions *o, guint threads, guint64 seed)
{
  m3ret_loader_options_init (o);
  o->mode = M3RET_LOADER_TRAIN;
  o->batch_size = 3;
  o->threads = threads;
  o->queue_batches = 2;
  o->seed = seed;
  o->n_views = 2;
  m3ret_view_init_train (&o->views[0], 8, 4, 2, 0.4, 1.0, NULL);
  m3ret_view_init_train (&o->views[1], 4, 2, 2, 0.05, 0.4, NULL);
}

/* Concatenation of @n batches' entries and data, to compare runs. */
static GByteArray *
run_loader (M3retManifest *m, const M3retLoaderOptions *o, guint n)
{
  GError *error = NULL;
  g_autoptr (M3retLoader) loader = m3ret_loader_new (m, set, o, &error);
  ck_assert_msg (loader != NULL, "%s", error ? error->message : "");
  GByteArray *all = g_byte_array_new ();
  for (guint b = 0; b < n; b++) {
    g_autoptr (M3retBatch) batch = m3ret_loader_next (loader, &error);
    ck_assert_msg (batch != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq (batch->number, b);
    ck_assert_uint_eq (batch->n, o->batch_size);
    g_byte_array_append (all, (guint8 *) batch->entries, batch->n * sizeof (guint));
    for (guint j = 0; j < batch->n; j++) {
      ck_assert_int_eq (m3ret_manifest_get_layout (m, batch->entries[j]), batch->layout);
      if (o->skips != NULL) /* a bad file never makes it into a batch */
        ck_assert (!m3ret_skips_has (o->skips, m3ret_manifest_get_path (m, batch->entries[j])));
    }
    for (guint v = 0; v < batch->n_views; v++) {
      const M3retBatchView *bv = &batch->views[v];
      ck_assert_uint_eq (bv->frames, batch->layout == M3RET_LAYOUT_IMAGE ? 2 : o->views[v].depth);
      ck_assert_uint_eq (bv->width, o->views[v].size);
      gsize len = (gsize) batch->n * bv->channels * bv->frames * bv->height * bv->width;
      g_byte_array_append (all, (guint8 *) bv->data, len * sizeof (gfloat));
    }
  }
  return all;
}

START_TEST (test_loader_same_for_any_thread_count)
{
  write_dataset (FALSE);
  g_autoptr (M3retManifest) m = load_dataset ();
  M3retLoaderOptions o;
  train_options (&o, 0, 42);
  g_autoptr (GByteArray) ref = run_loader (m, &o, 6);
  for (guint threads = 1; threads <= 3; threads++) {
    train_options (&o, threads, 42);
    g_autoptr (GByteArray) got = run_loader (m, &o, 6);
    ck_assert_uint_eq (got->len, ref->len);
    ck_assert_msg (memcmp (got->data, ref->data, ref->len) == 0, "%u threads differ", threads);
  }
  train_options (&o, 2, 43);
  g_autoptr (GByteArray) other = run_loader (m, &o, 6);
  ck_assert (other->len != ref->len || memcmp (other->data, ref->data, ref->len) != 0);
}
END_TEST

START_TEST (test_loader_weights)
{
  write_dataset (FALSE);
  g_autoptr (M3retManifest) m = load_dataset ();
  const gchar *names[] = { "xray", "ct" };
  const gdouble weights[] = { 1.0, 0.0 };
  M3retLoaderOptions o;
  train_options (&o, 2, 7);
  o.weight_names = names;
  o.weights = weights;
  o.n_weights = 2;
  GError *error = NULL;
  g_autoptr (M3retLoader) loader = m3ret_loader_new (m, set, &o, &error);
  ck_assert_ptr_nonnull (loader);
  for (guint b = 0; b < 5; b++) {
    g_autoptr (M3retBatch) batch = m3ret_loader_next (loader, NULL);
    ck_assert_ptr_nonnull (batch);
    for (guint j = 0; j < batch->n; j++)
      ck_assert_str_eq (m3ret_manifest_get_modality (m, batch->entries[j]), "xray");
  }

  /* Equal weights reach every modality and both layouts over enough batches. */
  train_options (&o, 2, 9);
  g_autoptr (M3retLoader) mixed = m3ret_loader_new (m, set, &o, NULL);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint b = 0; b < 24; b++) {
    g_autoptr (M3retBatch) batch = m3ret_loader_next (mixed, NULL);
    for (guint j = 0; j < batch->n; j++)
      g_hash_table_add (seen, (gpointer) m3ret_manifest_get_modality (m, batch->entries[j]));
  }
  ck_assert_uint_eq (g_hash_table_size (seen), 4);

  const gdouble none[] = { 0.0, 0.0 };
  o.weights = none;
  o.weight_names = names;
  o.n_weights = 2;
  ck_assert_ptr_null (m3ret_loader_new (m, set, &o, &error));
  ck_assert (strstr (error->message, "nothing to sample") != NULL);
  g_clear_error (&error);
}
END_TEST

START_TEST (test_loader_sequential_and_errors)
{
  write_dataset (TRUE);
  g_autoptr (M3retManifest) m = load_dataset ();
  for (guint threads = 0; threads <= 2; threads++) {
    M3retLoaderOptions o;
    m3ret_loader_options_init (&o);
    o.mode = M3RET_LOADER_SEQUENTIAL;
    o.batch_size = 5;
    o.threads = threads;
    o.queue_batches = 1;
    m3ret_view_init_eval (&o.views[0], 8, 4, 2);
    GError *error = NULL;
    g_autoptr (M3retLoader) loader = m3ret_loader_new (m, set, &o, &error);
    ck_assert_msg (loader != NULL, "%s", error ? error->message : "");
    /* Entries 0-6 stills, 7-11 sequences, 12 the broken still. */
    const guint expect_n[] = { 5, 2, 5, 1 };
    guint next_entry = 0, b = 0, failures = 0;
    for (;;) {
      M3retBatch *batch = m3ret_loader_next (loader, &error);
      if (batch == NULL && error == NULL)
        break;
      ck_assert_uint_lt (b, G_N_ELEMENTS (expect_n));
      if (batch == NULL) {
        ck_assert (strstr (error->message, "broken.png") != NULL);
        ck_assert (g_error_matches (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT));
        g_clear_error (&error);
        next_entry += expect_n[b++];
        failures++;
        continue;
      }
      ck_assert_uint_eq (batch->n, expect_n[b]);
      for (guint j = 0; j < batch->n; j++)
        ck_assert_uint_eq (batch->entries[j], next_entry++);
      m3ret_batch_free (batch);
      b++;
    }
    ck_assert_uint_eq (next_entry, 13);
    ck_assert_uint_eq (failures, 1);
  }
}
END_TEST


/* on_error=skip: a missing file is dropped at resolve, a corrupt one left
 * out of its SEQUENTIAL batch or replaced by another draw in TRAIN. */
START_TEST (test_loader_skips_bad_entries)
{
  write_dataset (TRUE);
  g_autofree gchar *path = g_build_filename (tmp, "manifest.csv", NULL);
  g_autofree gchar *csv = NULL;
  ck_assert (g_file_get_contents (path, &csv, NULL, NULL));
  g_autofree gchar *more = g_strconcat (csv, "gone.png,xray,chest\n", NULL);
  ck_assert (g_file_set_contents (path, more, -1, NULL));
  for (guint threads = 0; threads <= 2; threads++) {
    g_autoptr (M3retManifest) m = load_dataset ();
    g_autoptr (M3retSkips) skips = m3ret_skips_new ();
    M3retLoaderOptions o;
    m3ret_loader_options_init (&o);
    o.mode = M3RET_LOADER_SEQUENTIAL;
    o.batch_size = 5;
    o.threads = threads;
    o.queue_batches = 1;
    o.skips = skips;
    m3ret_view_init_eval (&o.views[0], 8, 4, 2);
    GError *error = NULL;
    g_autoptr (M3retLoader) loader = m3ret_loader_new (m, set, &o, &error);
    ck_assert_msg (loader != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq (m3ret_manifest_size (m), 13); /* gone.png dropped */
    guint next_entry = 0;
    M3retBatch *batch;
    while ((batch = m3ret_loader_next (loader, &error)) != NULL) {
      for (guint j = 0; j < batch->n; j++)
        ck_assert_uint_eq (batch->entries[j], next_entry++);
      m3ret_batch_free (batch);
    }
    ck_assert_ptr_null (error);
    ck_assert_uint_eq (next_entry, 12); /* the broken still's batch of one is left out */
    ck_assert_uint_eq (m3ret_skips_count (skips), 2);
    g_autofree gchar *summary = m3ret_skips_summary (skips);
    ck_assert_msg (strstr (summary, "skipped 2 files") &&
                   strstr (summary, "1 missing or unreadable: ") && strstr (summary, "gone.png") &&
                   strstr (summary, "1 corrupt or truncated: ") && strstr (summary, "broken.png"),
                   "%s", summary);
  }

  /* TRAIN: the same batches for any thread count, never the broken file. */
  g_autoptr (GByteArray) ref = NULL;
  for (guint threads = 0; threads <= 2; threads += 2) {
    g_autoptr (M3retManifest) m = load_dataset ();
    g_autoptr (M3retSkips) skips = m3ret_skips_new ();
    M3retLoaderOptions o;
    train_options (&o, threads, 42);
    o.skips = skips;
    g_autoptr (GByteArray) got = run_loader (m, &o, 12);
    guint broken = m3ret_manifest_size (m) - 1;
    ck_assert_str_eq (m3ret_manifest_get_written_path (m, broken), "broken.png");
    ck_assert (m3ret_skips_has (skips, m3ret_manifest_get_path (m, broken)));
    if (ref == NULL) {
      ref = g_steal_pointer (&got);
    } else {
      ck_assert_uint_eq (got->len, ref->len);
      ck_assert_msg (memcmp (got->data, ref->data, ref->len) == 0, "%u threads differ", threads);
    }
  }
}
END_TEST

START_TEST (test_pipeline_options_and_modality_config)
{
  const gchar *text = "[pipeline]\nseed=5\n"
                      "[input]\nsize=16\ndepth=4\ntubelet=2,8,8\n"
                      "[data]\nweights=xray:1,ct:0.5\n"
                      "[train]\nbatch=6\n"
                      "[modality ct]\nwindow=-500,500\nmean=0,0,0\nstd=1,1,1\n";
  GError *error = NULL;
  g_autoptr (M3retPipeline) p =
    m3ret_pipeline_load_data (registry, text, -1, "test.ini", tmp, &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  M3retLoaderOptions o;
  m3ret_loader_options_init_settings (&o, m3ret_pipeline_get_settings (p), M3RET_LOADER_TRAIN);
  ck_assert_uint_eq (o.batch_size, 6);
  ck_assert_uint_eq (o.seed, 5);
  ck_assert_uint_eq (o.n_views, 1);
  ck_assert_int_eq (o.views[0].mode, M3RET_VIEW_TRAIN);
  ck_assert_uint_eq (o.views[0].size, 16);
  ck_assert_uint_eq (o.views[0].depth, 4);
  ck_assert_uint_eq (o.views[0].image_depth, 2);
  ck_assert_uint_eq (o.n_weights, 2);
  ck_assert_str_eq (o.weight_names[1], "ct");
  ck_assert_float_eq_tol (o.weights[1], 0.5, 1e-12);
  m3ret_loader_options_init_settings (&o, m3ret_pipeline_get_settings (p), M3RET_LOADER_SEQUENTIAL);
  ck_assert_int_eq (o.views[0].mode, M3RET_VIEW_EVAL);

  /* The [modality ct] group reaches the plugin: 250 HU in [-500, 500] is 0.75. */
  g_autoptr (M3retModalities) configured = m3ret_modalities_new (registry, p, &error);
  ck_assert_msg (configured != NULL, "%s", error ? error->message : "");
  g_autofree gchar *path = g_build_filename (tmp, "flat.nii.gz", NULL);
  gdouble v[4 * 4 * 2];
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = 250;
  fx_write_nifti (path, 4, 4, 2, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, NULL);
  M3retView view;
  m3ret_view_init_eval (&view, 4, 2, 2);
  M3retSample *s = NULL;
  ck_assert (m3ret_modalities_read (configured, "ct", path, &view, 1, &s, NULL));
  ck_assert_float_eq_tol (s->data[0], 0.75, 1e-5);
  m3ret_sample_free (s);
}
END_TEST

/* ---- round trip through `m3ret synth` ---- */

/* The generator's CT volumes, read here through nifticlib directly, must
 * come out of the ct plugin voxel for voxel (HU window, mean/std) on an
 * evaluation grid of their own size, with the spacing of their header. */
static void
check_synth_ct (M3retManifest *m)
{
  guint checked = 0;
  for (guint i = 0; i < m3ret_manifest_size (m) && checked < 2; i++) {
    if (g_strcmp0 (m3ret_manifest_get_modality (m, i), "ct") != 0)
      continue;
    const gchar *path = m3ret_manifest_get_path (m, i);
    nifti_image *nim = nifti_image_read (path, 1);
    ck_assert_ptr_nonnull (nim);
    ck_assert_int_eq (nim->datatype, NIFTI_TYPE_INT16);
    M3retInspectInfo info;
    ck_assert (m3ret_modalities_inspect (set, "ct", path, &info, NULL));
    for (gint a = 0; a < 3; a++)
      ck_assert_float_eq_tol (info.spacing[a], fabs (nim->pixdim[a + 1]), 1e-5);
    gboolean ras = g_str_has_prefix (info.orientation, "RAS");
    m3ret_inspect_info_clear (&info);
    if (!ras || nim->nx != nim->ny || nim->dx != nim->dy) {
      nifti_image_free (nim);
      continue; /* a voxel-for-voxel comparison needs a square, RAS-stored grid */
    }
    M3retView view;
    m3ret_view_init_eval (&view, nim->nx, nim->nz, 1);
    M3retSample *s = NULL;
    ck_assert (m3ret_modalities_read (set, "ct", path, &view, 1, &s, NULL));
    gdouble slope = nim->scl_slope != 0 ? nim->scl_slope : 1, inter = nim->scl_slope != 0 ? nim->scl_inter : 0;
    gsize n = (gsize) nim->nx * nim->ny * nim->nz;
    for (gsize k = 0; k < n; k++) {
      gdouble hu = ((const gint16 *) nim->data)[k] * slope + inter;
      gdouble expect = (CLAMP ((hu + 1000) / 2000, 0, 1) - 0.5) / 0.25;
      ck_assert_msg (fabs (s->data[k] - expect) < 1e-4, "%s voxel %zu: %g, expected %g", path, k,
                     s->data[k], expect);
    }
    m3ret_sample_free (s);
    nifti_image_free (nim);
    checked++;
  }
  ck_assert_uint_gt (checked, 0);
}

START_TEST (test_synth_round_trip)
{
  /* The generator writes every modality in its real format; every file must
   * probe to the modality its manifest names and read to finite samples
   * that are not flat. */
  const gchar *bin = g_getenv ("M3RET_BIN");
  ck_assert_msg (bin != NULL, "M3RET_BIN is not set (run through make check)");
  g_autofree gchar *out = g_build_filename (tmp, "synth", NULL);
  const gchar *argv[] = { bin, "synth", "--out", out, "--per-class", "1", "--size", "32", NULL };
  gint status;
  g_autofree gchar *err = NULL;
  ck_assert (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                           NULL, &err, &status, NULL));
  ck_assert_msg (g_spawn_check_wait_status (status, NULL), "m3ret synth failed: %s", err);
  g_autofree gchar *path = g_build_filename (out, "manifest.csv", NULL);
  GError *error = NULL;
  g_autoptr (M3retManifest) m = m3ret_manifest_load (path, &error);
  ck_assert_msg (m != NULL, "%s", error ? error->message : "");
  ck_assert_uint_gt (m3ret_manifest_size (m), 0);
  g_autoptr (GHashTable) modalities = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < m3ret_manifest_size (m); i++) {
    const gchar *written = m3ret_manifest_get_modality (m, i);
    const gchar *probed = m3ret_modalities_probe (set, m3ret_manifest_get_path (m, i), NULL,
                                                  NULL, &error);
    ck_assert_msg (probed != NULL, "%s", error ? error->message : "");
    ck_assert_msg (g_strcmp0 (written, probed) == 0, "%s: manifest says %s, probe %s",
                   m3ret_manifest_get_path (m, i), written, probed);
    g_hash_table_add (modalities, (gpointer) written);
  }
  ck_assert_uint_ge (g_hash_table_size (modalities), 4);
  check_synth_ct (m);

  M3retLoaderOptions o;
  m3ret_loader_options_init (&o);
  o.mode = M3RET_LOADER_SEQUENTIAL;
  o.batch_size = 4;
  o.threads = 2;
  m3ret_view_init_eval (&o.views[0], 32, 8, 2);
  g_autoptr (M3retLoader) loader = m3ret_loader_new (m, set, &o, &error);
  ck_assert_msg (loader != NULL, "%s", error ? error->message : "");
  guint seen = 0;
  M3retBatch *batch;
  while ((batch = m3ret_loader_next (loader, &error)) != NULL) {
    const M3retBatchView *bv = &batch->views[0];
    gsize per = (gsize) bv->channels * bv->frames * bv->height * bv->width;
    for (guint j = 0; j < batch->n; j++) {
      const gfloat *d = bv->data + j * per;
      gfloat lo = d[0], hi = d[0];
      for (gsize k = 0; k < per; k++) {
        ck_assert (isfinite (d[k]));
        lo = MIN (lo, d[k]);
        hi = MAX (hi, d[k]);
      }
      ck_assert_msg (hi - lo > 0.1f, "%s reads flat",
                     m3ret_manifest_get_path (m, batch->entries[j]));
      seen++;
    }
    m3ret_batch_free (batch);
  }
  ck_assert_msg (error == NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (seen, m3ret_manifest_size (m));
}
END_TEST

/* ---- names in any case, duplicates, close probes, a forced modality ---- */

static gchar *
notices_of (const M3retManifest *m)
{
  GString *all = g_string_new (NULL);
  for (guint i = 0; i < m3ret_manifest_n_notices (m); i++)
    g_string_append_printf (all, "%s\n", m3ret_manifest_get_notice (m, i));
  return g_string_free (all, FALSE);
}

START_TEST (test_manifest_names_any_case)
{
  guint16 px[16 * 16];
  for (guint k = 0; k < G_N_ELEMENTS (px); k++)
    px[k] = (guint16) (k * 200);
  g_autofree gchar *xr = g_build_filename (tmp, "xr.png", NULL);
  fx_write_png (xr, 16, 16, 16, PNG_COLOR_TYPE_GRAY, px);
  g_autofree gchar *ct = g_build_filename (tmp, "ct.nii.gz", NULL);
  gdouble vox[4 * 4 * 2] = { 0 };
  fx_write_nifti (ct, 4, 4, 2, 1, NIFTI_TYPE_INT16, vox, 1, 1, 1, 0, 0, NULL);
  /* Header names and modality values in any case; the plugin's spelling after resolve. */
  const gchar *text = "Path,MODALITY,Label,Split\nxr.png,XRay,chest,q\nct.nii.gz,CT,head,d\n";
  GError *error = NULL;
  g_autoptr (M3retManifest) m = m3ret_manifest_load_data (text, -1, "case.csv", tmp, &error);
  ck_assert_msg (m != NULL, "%s", error ? error->message : "");
  ck_assert_str_eq (m3ret_manifest_get_label (m, 0), "chest");
  ck_assert_str_eq (m3ret_manifest_get_column (m, 1, "split"), "d");
  ck_assert_str_eq (m3ret_manifest_get_modality (m, 0), "XRay");
  ck_assert_msg (m3ret_manifest_resolve (m, set, &error), "%s", error ? error->message : "");
  ck_assert_str_eq (m3ret_manifest_get_modality (m, 0), "xray");
  ck_assert_str_eq (m3ret_manifest_get_modality (m, 1), "ct");
  ck_assert_uint_eq (m3ret_manifest_n_notices (m), 0);

  /* [data] weights in any case: only X-rays are drawn. */
  const gchar *names[] = { "XRAY", "Ct" };
  const gdouble weights[] = { 1.0, 0.0 };
  M3retLoaderOptions o;
  train_options (&o, 0, 3);
  o.weight_names = names;
  o.weights = weights;
  o.n_weights = 2;
  g_autoptr (M3retLoader) loader = m3ret_loader_new (m, set, &o, &error);
  ck_assert_msg (loader != NULL, "%s", error ? error->message : "");
  for (guint b = 0; b < 3; b++) {
    g_autoptr (M3retBatch) batch = m3ret_loader_next (loader, NULL);
    ck_assert_ptr_nonnull (batch);
    for (guint j = 0; j < batch->n; j++)
      ck_assert_uint_eq (batch->entries[j], 0);
  }

  /* A duplicate column in another case is still a duplicate; an unknown
   * modality lists the valid ones. */
  assert_manifest_error ("path,PATH\nx,y\n", "column 'PATH' appears twice");
  g_autoptr (M3retManifest) bad =
    m3ret_manifest_load_data ("path,modality\nxr.png,Derm\n", -1, "bad.csv", tmp, NULL);
  ck_assert (!m3ret_manifest_resolve (bad, set, &error));
  g_autofree gchar *want = g_strdup_printf ("bad.csv:2: %s/xr.png: unknown modality 'Derm' (valid: "
                                            "ct, endoscopy, mri, ultrasound, xray)", tmp);
  ck_assert_str_eq (error->message, want);
  g_clear_error (&error);
}
END_TEST

START_TEST (test_manifest_duplicates)
{
  guint16 px[16 * 16] = { 0 };
  g_autofree gchar *sub = g_build_filename (tmp, "sub", NULL);
  ck_assert_int_eq (g_mkdir (sub, 0755), 0);
  g_autofree gchar *a = g_build_filename (tmp, "a.png", NULL);
  g_autofree gchar *b = g_build_filename (tmp, "b.png", NULL);
  fx_write_png (a, 16, 16, 16, PNG_COLOR_TYPE_GRAY, px);
  fx_write_png (b, 16, 16, 16, PNG_COLOR_TYPE_GRAY, px);
  g_autofree gchar *link = g_build_filename (tmp, "link.png", NULL);
  ck_assert_int_eq (symlink (b, link), 0);
  /* a.png three times (one spelt through sub/..), b.png through a link, and a
   * file missing twice: each repeat names its line and the first one. */
  const gchar *text = "path,modality\n"
                      "a.png,xray\n"
                      "b.png,xray\n"
                      "\n"
                      "sub/../a.png,xray\n"
                      "link.png,xray\n"
                      "./a.png,\n"
                      "gone.png,xray\n"
                      "sub/../gone.png,xray\n";
  GError *error = NULL;
  g_autoptr (M3retManifest) m = m3ret_manifest_load_data (text, -1, "dup.csv", tmp, &error);
  ck_assert_msg (m != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (m3ret_manifest_size (m), 7); /* warnings, not errors: every row is kept */
  g_autofree gchar *all = notices_of (m);
  ck_assert_str_eq (all,
                    "dup.csv:5: sub/../a.png is listed again (first at line 2); every row is kept, "
                    "so the file counts once per row\n"
                    "dup.csv:6: link.png is listed again (first at line 3); every row is kept, "
                    "so the file counts once per row\n"
                    "dup.csv:7: ./a.png is listed again (first at line 2); every row is kept, "
                    "so the file counts once per row\n"
                    "dup.csv:9: sub/../gone.png is listed again (first at line 8); every row is "
                    "kept, so the file counts once per row\n");
  /* Ten repeats are named one by one, the rest counted in one line. */
  g_autoptr (GString) many = g_string_new ("path\n");
  for (guint i = 0; i < 13; i++)
    g_string_append (many, "a.png\n");
  g_autoptr (M3retManifest) m13 = m3ret_manifest_load_data (many->str, -1, "m13.csv", tmp, NULL);
  ck_assert_uint_eq (m3ret_manifest_size (m13), 13);
  ck_assert_uint_eq (m3ret_manifest_n_notices (m13), 11);
  ck_assert_str_eq (m3ret_manifest_get_notice (m13, 9),
                    "m13.csv:12: a.png is listed again (first at line 2); every row is kept, so "
                    "the file counts once per row");
  ck_assert_str_eq (m3ret_manifest_get_notice (m13, 10),
                    "m13.csv: 2 more rows name a file listed earlier (12 in all); they are kept "
                    "too");
  /* Files named on a command line: no manifest line to give. */
  const gchar *files[] = { a, b, a };
  g_autoptr (M3retManifest) cl = m3ret_manifest_new_for_files (files, 3);
  ck_assert_uint_eq (m3ret_manifest_size (cl), 3);
  ck_assert_str_eq (m3ret_manifest_get_path (cl, 2), a);
  g_autofree gchar *named = g_strdup_printf ("%s is named twice; both are kept", a);
  ck_assert_uint_eq (m3ret_manifest_n_notices (cl), 1);
  ck_assert_str_eq (m3ret_manifest_get_notice (cl, 0), named);
  ck_assert_msg (m3ret_manifest_resolve (cl, set, &error), "%s", error ? error->message : "");
  ck_assert_str_eq (m3ret_manifest_get_modality (cl, 1), "xray");
}
END_TEST

START_TEST (test_manifest_close_probe_and_default)
{
  guint16 px[16 * 16];
  for (guint k = 0; k < G_N_ELEMENTS (px); k++)
    px[k] = (guint16) (k % 256);
  g_autofree gchar *us = g_build_filename (tmp, "grey8.png", NULL);
  g_autofree gchar *xr = g_build_filename (tmp, "grey16.png", NULL);
  fx_write_png (us, 16, 16, 8, PNG_COLOR_TYPE_GRAY, px);
  fx_write_png (xr, 16, 16, 16, PNG_COLOR_TYPE_GRAY, px);
  g_autofree gchar *folder = g_build_filename (tmp, "scans", NULL);
  ck_assert_int_eq (g_mkdir (folder, 0755), 0);
  /* The 8-bit grey PNG is probed between close scores: one notice, however
   * often it is listed; the 16-bit one and a written modality need none. */
  const gchar *text = "path,modality\ngrey8.png,\ngrey16.png,\ngrey8.png,\ngrey8.png,xray\n";
  GError *error = NULL;
  g_autoptr (M3retManifest) m = m3ret_manifest_load_data (text, -1, "p.csv", tmp, &error);
  ck_assert_msg (m != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (m3ret_manifest_n_notices (m), 2); /* the two repeats */
  ck_assert_msg (m3ret_manifest_resolve (m, set, &error), "%s", error ? error->message : "");
  ck_assert_str_eq (m3ret_manifest_get_modality (m, 0), "ultrasound");
  ck_assert_str_eq (m3ret_manifest_get_modality (m, 1), "xray");
  ck_assert_str_eq (m3ret_manifest_get_modality (m, 3), "xray");
  ck_assert_uint_eq (m3ret_manifest_n_notices (m), 3);
  g_autofree gchar *want =
    g_strdup_printf ("p.csv:2: %s/grey8.png: probed as ultrasound, but the scores are close "
                     "(ultrasound 60, xray 40): give -m/--modality NAME or a 'modality' column "
                     "in the manifest to decide", tmp);
  ck_assert_str_eq (m3ret_manifest_get_notice (m, 2), want);
  /* Resolving again (the loader does) adds nothing. */
  ck_assert (m3ret_manifest_resolve (m, set, NULL));
  ck_assert_uint_eq (m3ret_manifest_n_notices (m), 3);

  /* -m: rows without a modality take the one given, in any case; no probe, no notice. */
  g_autoptr (M3retManifest) forced = m3ret_manifest_load_data (text, -1, "p.csv", tmp, NULL);
  ck_assert (m3ret_manifest_set_default_modality (forced, set, "XRay", &error));
  ck_assert_msg (m3ret_manifest_resolve (forced, set, &error), "%s", error ? error->message : "");
  for (guint i = 0; i < 4; i++)
    ck_assert_str_eq (m3ret_manifest_get_modality (forced, i), "xray");
  ck_assert_uint_eq (m3ret_manifest_n_notices (forced), 2);
  g_autoptr (M3retManifest) other = m3ret_manifest_load_data (text, -1, "p.csv", tmp, NULL);
  ck_assert (!m3ret_manifest_set_default_modality (other, set, "derm", &error));
  ck_assert_str_eq (error->message,
                    "unknown modality 'derm' (valid: ct, endoscopy, mri, ultrasound, xray)");
  g_clear_error (&error);

  /* A folder is read as a DICOM series: an empty one is named as such. */
  g_autoptr (M3retManifest) dir =
    m3ret_manifest_load_data ("path\nscans\n", -1, "d.csv", tmp, NULL);
  ck_assert (!m3ret_manifest_resolve (dir, set, &error));
  g_autofree gchar *dir_msg = g_strdup_printf ("d.csv:2: %s: a folder without DICOM image files", folder);
  ck_assert_str_eq (error->message, dir_msg);
  g_clear_error (&error);

  /* The loader resolves: the notice is there before the first batch. */
  g_autoptr (M3retManifest) seq =
    m3ret_manifest_load_data ("path\ngrey8.png\n", -1, "s.csv", tmp, NULL);
  M3retLoaderOptions o;
  m3ret_loader_options_init (&o);
  o.mode = M3RET_LOADER_SEQUENTIAL;
  o.threads = 0;
  m3ret_view_init_eval (&o.views[0], 8, 2, 2);
  g_autoptr (M3retLoader) loader = m3ret_loader_new (seq, set, &o, &error);
  ck_assert_msg (loader != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (m3ret_manifest_n_notices (seq), 1);
  ck_assert (strstr (m3ret_manifest_get_notice (seq, 0), "s.csv:2: ") != NULL);
}
END_TEST

START_TEST (test_pipeline_modality_names_any_case)
{
  /* [modality CT] configures ct and [data] weights=XRay:1 weighs xray. */
  const gchar *text = "[input]\nsize=16\ndepth=4\ntubelet=2,8,8\n"
                      "[data]\nweights=XRay:1,CT:0\n"
                      "[modality CT]\nwindow=-500,500\nmean=0,0,0\nstd=1,1,1\n";
  GError *error = NULL;
  g_autoptr (M3retPipeline) p =
    m3ret_pipeline_load_data (registry, text, -1, "case.ini", tmp, &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  g_autoptr (M3retModalities) configured = m3ret_modalities_new (registry, p, &error);
  ck_assert_msg (configured != NULL, "%s", error ? error->message : "");
  g_autofree gchar *path = g_build_filename (tmp, "flat.nii.gz", NULL);
  gdouble v[4 * 4 * 2];
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    v[i] = 250;
  fx_write_nifti (path, 4, 4, 2, 1, NIFTI_TYPE_INT16, v, 1, 1, 1, 0, 0, NULL);
  M3retView view;
  m3ret_view_init_eval (&view, 4, 2, 2);
  M3retSample *s = NULL;
  ck_assert (m3ret_modalities_read (configured, "ct", path, &view, 1, &s, NULL));
  ck_assert_float_eq_tol (s->data[0], 0.75, 1e-5); /* 250 HU in [-500, 500] */
  m3ret_sample_free (s);
  /* An unknown name is still refused, naming the valid ones. */
  g_autoptr (M3retPipeline) bad =
    m3ret_pipeline_load_data (registry, "[data]\nweights=derm:1\n", -1, "bad.ini", tmp, &error);
  ck_assert_ptr_null (bad);
  ck_assert_msg (strstr (error->message, "ultrasound") != NULL, "%s", error->message);
  g_clear_error (&error);
}
END_TEST

static Suite *
loader_suite (void)
{
  Suite *s = suite_create ("loader");
  TCase *tc = tcase_create ("manifest");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_manifest_parse);
  tcase_add_test (tc, test_manifest_errors);
  tcase_add_test (tc, test_manifest_resolve);
  suite_add_tcase (s, tc);
  TCase *lt = tcase_create ("loader");
  tcase_add_checked_fixture (lt, setup, teardown);
  tcase_add_test (lt, test_loader_same_for_any_thread_count);
  tcase_add_test (lt, test_loader_weights);
  tcase_add_test (lt, test_loader_sequential_and_errors);
  tcase_add_test (lt, test_loader_skips_bad_entries);
  tcase_add_test (lt, test_pipeline_options_and_modality_config);
  tcase_add_test (lt, test_synth_round_trip);
  tcase_add_test (lt, test_manifest_names_any_case);
  tcase_add_test (lt, test_manifest_duplicates);
  tcase_add_test (lt, test_manifest_close_probe_and_default);
  tcase_add_test (lt, test_pipeline_modality_names_any_case);
  suite_add_tcase (s, lt);
  return s;
}

M3RET_CHECK_MAIN (.suite = loader_suite)
