/* conform-modality.c — the same checks on every modality plugin on the
 * plugin path (the build tree's, or M3RET_PLUGIN_PATH's when the program
 * is run by hand), through its table directly, each instance made from
 * its defaults and given the default [data] limits.
 *
 * One small file is written per format known here (PNG 16-bit grey, 8-bit
 * grey and RGB; NIfTI-1 .nii.gz and .nii; an FFV1 video; PGM and PPM) and
 * every plugin probes them all: a plugin's own file is the one it scores
 * highest.  A plugin that scores none of them is skipped with a line that
 * says so.  For the others:
 *
 * - probe: its score is at most 100, and its own file's format scores
 *   higher than every other format;
 * - read: one call with an evaluation view and two training views (another
 *   size and depth among them) gives each on the canonical grid — C = 3,
 *   H = W = the view's size, T = the view's depth for the layout its
 *   layout() announced (sequence) or its image depth (image) — with finite
 *   values that are not all one value;
 * - inspect (when it has the entry) describes the file: a format, the
 *   stored width and height, at least one channel and frame;
 * - bad input is refused by read (and inspect) with an M3RET_DATA_ERROR
 *   naming the file, @out left NULL, never a crash: an empty file and its
 *   own file cut to 16 bytes and to half, under its own file's extension,
 *   and a file of a format it scores 0, under that format's name and under
 *   its own extension.  The empty and the 16-byte files must be refused;
 *   reading the half file or a file of another format is printed as a
 *   FINDING (its view must then be on the grid and finite), and fails the
 *   test with M3RET_CONFORM_STRICT=1;
 * - views are deterministic: the evaluation view twice, and the training
 *   views from one seed twice, give the same bytes; where the training view
 *   differs from the evaluation view (the plugin augments), another seed
 *   gives other bytes.
 *
 * A plugin is named on stdout as it is checked; no modality at all fails. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <png.h>

#include "m3ret-check.h"
#include "test-modality-fixtures.h"

/* Last: nifti1.h redefines DT_UNKNOWN, which <dirent.h> (via Check) declares. */
#include <nifti1_io.h>

#define SIZE 16
#define DEPTH 4
#define IMAGE_DEPTH 2

static M3retRegistry *registry;
static gchar *tmp;

typedef struct {
  const gchar *file;   /* in tmp */
  const gchar *format; /* the family: formats of one family are one plugin's */
  guint width, height;
  gchar *path;
} Fixture;

static Fixture fixtures[] = {
  { "fixture-grey16.png", "PNG", 20, 16, NULL },
  { "fixture-grey8.png", "PNG", 20, 16, NULL },
  { "fixture-rgb.png", "PNG", 20, 16, NULL },
  { "fixture-volume.nii.gz", "NIfTI-1", 12, 10, NULL },
  { "fixture-volume.nii", "NIfTI-1", 12, 10, NULL },
  { "fixture-clip.mkv", "video", 16, 16, NULL },
  { "fixture-grey.pgm", "Netpbm", 20, 16, NULL },
  { "fixture-colour.ppm", "Netpbm", 20, 16, NULL },
};

static void
write_netpbm (const gchar *path, const gchar *magic, guint w, guint h, guint channels)
{
  GString *s = g_string_new (NULL);
  g_string_printf (s, "%s\n%u %u\n255\n", magic, w, h);
  for (guint i = 0; i < w * h * channels; i++)
    g_string_append_c (s, (gchar) ((i * 7 + i / (w * channels) * 13) % 256));
  ck_assert (g_file_set_contents (path, s->str, (gssize) s->len, NULL));
  g_string_free (s, TRUE);
}

static void
write_fixtures (void)
{
  tmp = m3ret_check_tmpdir ();
  for (guint i = 0; i < G_N_ELEMENTS (fixtures); i++)
    fixtures[i].path = g_build_filename (tmp, fixtures[i].file, NULL);
  guint16 grey[20 * 16], rgb[20 * 16 * 3];
  for (guint i = 0; i < 20 * 16; i++) {
    grey[i] = (guint16) ((i % 20) * 9 + (i / 20) * 5);
    for (guint c = 0; c < 3; c++)
      rgb[i * 3 + c] = (guint16) (((i % 20) * 11 + (i / 20) * 7 + c * 60) % 256);
  }
  guint16 grey16[20 * 16];
  for (guint i = 0; i < 20 * 16; i++)
    grey16[i] = (guint16) (grey[i] * 200);
  fx_write_png (fixtures[0].path, 20, 16, 16, PNG_COLOR_TYPE_GRAY, grey16);
  fx_write_png (fixtures[1].path, 20, 16, 8, PNG_COLOR_TYPE_GRAY, grey);
  fx_write_png (fixtures[2].path, 20, 16, 8, PNG_COLOR_TYPE_RGB, rgb);
  gdouble *vol = g_new (gdouble, 12 * 10 * 6);
  for (guint i = 0; i < 12 * 10 * 6; i++)
    vol[i] = -600.0 + (i % 12) * 40 + (i / 12 % 10) * 25 + (i / 120) * 60;
  fx_write_nifti (fixtures[3].path, 12, 10, 6, 1, NIFTI_TYPE_INT16, vol, 1, 1, 2, 0, 0, NULL);
  fx_write_nifti (fixtures[4].path, 12, 10, 6, 1, NIFTI_TYPE_FLOAT32, vol, 1, 1, 2, 0, 0, NULL);
  g_free (vol);
  ck_assert_msg (fx_write_video (fixtures[5].path, "ffv1", 16, 16, 10, 20), "no FFV1 encoder");
  write_netpbm (fixtures[6].path, "P5", 20, 16, 1);
  write_netpbm (fixtures[7].path, "P6", 20, 16, 3);
}

static void
remove_fixtures (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (fixtures); i++)
    g_clear_pointer (&fixtures[i].path, g_free);
  m3ret_check_rmtree (tmp);
  g_clear_pointer (&tmp, g_free);
}

/* One modality plugin under test. */
typedef struct {
  const M3retPlugin *plugin;
  const gchar *name;
  const M3retModalityVTable *vt;
  gpointer self;
  guint scores[G_N_ELEMENTS (fixtures)];
  gint own; /* index of its own fixture, -1: none scores */
} Subject;

static guint
probe_file (const M3retModalityVTable *vt, const gchar *path)
{
  g_autofree gchar *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (path, &bytes, &len, NULL));
  return vt->probe (path, (const guint8 *) bytes, MIN (len, M3RET_PROBE_HEAD_BYTES));
}

static void
subject_init (Subject *s, const M3retPlugin *plugin)
{
  memset (s, 0, sizeof *s);
  const M3retPluginDesc *desc = m3ret_plugin_get_desc (plugin);
  s->plugin = plugin;
  s->name = desc->name;
  s->vt = desc->vtable;
  g_autofree gchar *group = g_strconcat ("modality ", s->name, NULL);
  GError *error = NULL;
  g_autoptr (M3retConfig) config = m3ret_config_new_defaults (group, desc->keys, &error);
  ck_assert_msg (config != NULL, "%s: %s", s->name, error ? error->message : "");
  s->self = s->vt->create (config, &error);
  ck_assert_msg (s->self != NULL, "%s: create: %s", s->name, error ? error->message : "");
  if (desc->abi_minor >= 1 && s->vt->set_limits != NULL) {
    M3retLimits limits;
    m3ret_limits_init_default (&limits);
    s->vt->set_limits (s->self, &limits);
  }
  s->own = -1;
  for (guint i = 0; i < G_N_ELEMENTS (fixtures); i++) {
    s->scores[i] = probe_file (s->vt, fixtures[i].path);
    if (s->scores[i] > 0 && (s->own < 0 || s->scores[i] > s->scores[s->own]))
      s->own = (gint) i;
  }
}

static void
subject_clear (Subject *s)
{
  s->vt->destroy (s->self);
}

/* Every modality plugin, sorted by name.  (transfer container) */
static GPtrArray *
modalities (void)
{
  GPtrArray *list = m3ret_registry_list (registry, M3RET_PLUGIN_MODALITY);
  ck_assert_msg (list->len > 0, "no modality plugin on the plugin path");
  return list;
}

/* Initialises @s for plugin @p of @list; FALSE (after the note) when no
 * fixture scores. */
static gboolean
subject_for (Subject *s, GPtrArray *list, guint p, const gchar *check)
{
  subject_init (s, list->pdata[p]);
  if (s->own >= 0)
    return TRUE;
  g_print ("conform-modality: %s: SKIPPED (%s): none of the files written here (PNG, NIfTI-1, "
           "FFV1 video, PGM/PPM) scores above 0 with its probe\n", s->name, check);
  subject_clear (s);
  return FALSE;
}

static const Fixture *
own_fixture (const Subject *s)
{
  return &fixtures[s->own];
}

static M3retLayout
layout_of (const Subject *s, const gchar *path)
{
  GError *error = NULL;
  M3retLayout layout = s->vt->layout (s->self, path, &error);
  ck_assert_msg (error == NULL, "%s: layout of %s: %s", s->name, path,
                 error ? error->message : "");
  ck_assert_msg (layout == M3RET_LAYOUT_IMAGE || layout == M3RET_LAYOUT_SEQUENCE,
                 "%s: layout %d", s->name, layout);
  return layout;
}

/* Reads @n views of @path; every sample checked against its view's grid. */
static void
read_views (const Subject *s, const gchar *path, const M3retView *views, guint n,
            M3retSample **out)
{
  M3retLayout layout = layout_of (s, path);
  GError *error = NULL;
  memset (out, 0, n * sizeof *out);
  ck_assert_msg (s->vt->read (s->self, path, views, n, out, &error), "%s: read %s: %s", s->name,
                 path, error ? error->message : "");
  for (guint v = 0; v < n; v++) {
    const M3retSample *x = out[v];
    ck_assert_msg (x != NULL && x->data != NULL, "%s: view %u: no sample", s->name, v);
    guint frames = layout == M3RET_LAYOUT_SEQUENCE ? views[v].depth : views[v].image_depth;
    ck_assert_msg (x->channels == 3 && x->frames == frames && x->height == views[v].size
                   && x->width == views[v].size,
                   "%s: %s view %u: %u×%u×%u×%u, not 3×%u×%u×%u (%s layout)", s->name, path, v,
                   x->channels, x->frames, x->height, x->width, frames, views[v].size,
                   views[v].size, m3ret_layout_to_string (layout));
    gsize n_values = m3ret_sample_n_values (x);
    gboolean varies = FALSE;
    for (gsize i = 0; i < n_values; i++) {
      ck_assert_msg (isfinite (x->data[i]), "%s: %s view %u: value %zu is %g", s->name, path, v,
                     i, x->data[i]);
      varies |= x->data[i] != x->data[0];
    }
    ck_assert_msg (varies, "%s: %s view %u: every value is %g", s->name, path, v, x->data[0]);
  }
}

static void
free_samples (M3retSample **out, guint n)
{
  for (guint v = 0; v < n; v++)
    g_clear_pointer (&out[v], m3ret_sample_free);
}

/* ------------------------------------------------------------ probe */

START_TEST (test_probe_prefers_its_own_format)
{
  g_autoptr (GPtrArray) list = modalities ();
  for (guint p = 0; p < list->len; p++) {
    Subject s;
    if (!subject_for (&s, list, p, "probe"))
      continue;
    const gchar *family = own_fixture (&s)->format;
    GString *line = g_string_new (NULL);
    for (guint i = 0; i < G_N_ELEMENTS (fixtures); i++) {
      ck_assert_msg (s.scores[i] <= 100, "%s: %s scores %u", s.name, fixtures[i].file,
                     s.scores[i]);
      if (strcmp (fixtures[i].format, family) != 0)
        ck_assert_msg (s.scores[i] < s.scores[s.own], "%s: %s (%s) scores %u, its own %s %u",
                       s.name, fixtures[i].file, fixtures[i].format, s.scores[i],
                       own_fixture (&s)->file, s.scores[s.own]);
      g_string_append_printf (line, " %s %u", fixtures[i].file + strlen ("fixture-"),
                              s.scores[i]);
    }
    g_print ("conform-modality: %s: own file %s (%s); scores:%s\n", s.name,
             own_fixture (&s)->file, family, line->str);
    g_string_free (line, TRUE);
    subject_clear (&s);
  }
}
END_TEST

/* ------------------------------------------------------------- read */

START_TEST (test_read_on_the_grid)
{
  g_autoptr (GPtrArray) list = modalities ();
  for (guint p = 0; p < list->len; p++) {
    Subject s;
    if (!subject_for (&s, list, p, "read"))
      continue;
    const gchar *path = own_fixture (&s)->path;
    GRand *rand = g_rand_new_with_seed (3);
    M3retView views[3];
    m3ret_view_init_eval (&views[0], SIZE, DEPTH, IMAGE_DEPTH);
    m3ret_view_init_train (&views[1], SIZE, DEPTH, IMAGE_DEPTH, 0.4, 1.0, rand);
    m3ret_view_init_train (&views[2], SIZE / 2, DEPTH / 2, 1, 0.05, 0.4, rand);
    M3retSample *out[3];
    read_views (&s, path, views, 3, out);
    free_samples (out, 3);
    g_rand_free (rand);
    g_print ("conform-modality: %s: read %s: three views on the grid (%s layout)\n", s.name,
             own_fixture (&s)->file, m3ret_layout_to_string (layout_of (&s, path)));
    subject_clear (&s);
  }
}
END_TEST

START_TEST (test_inspect_describes)
{
  g_autoptr (GPtrArray) list = modalities ();
  for (guint p = 0; p < list->len; p++) {
    Subject s;
    if (!subject_for (&s, list, p, "inspect"))
      continue;
    const Fixture *fx = own_fixture (&s);
    if (s.vt->inspect == NULL) {
      g_print ("conform-modality: %s: no inspect entry\n", s.name);
      subject_clear (&s);
      continue;
    }
    M3retInspectInfo info;
    memset (&info, 0, sizeof info);
    GError *error = NULL;
    ck_assert_msg (s.vt->inspect (s.self, fx->path, &info, &error), "%s: inspect %s: %s", s.name,
                   fx->path, error ? error->message : "");
    ck_assert_msg (info.format != NULL && *info.format != '\0', "%s: inspect: no format", s.name);
    ck_assert_msg (info.width == fx->width && info.height == fx->height,
                   "%s: inspect %s: %u × %u, the file is %u × %u", s.name, fx->file, info.width,
                   info.height, fx->width, fx->height);
    ck_assert_msg (info.channels >= 1 && info.frames >= 1, "%s: inspect %s: %u channels, %"
                   G_GUINT64_FORMAT " frames", s.name, fx->file, info.channels, info.frames);
    g_print ("conform-modality: %s: inspect %s: %s, %u x %u\n", s.name, fx->file, info.format,
             info.width, info.height);
    m3ret_inspect_info_clear (&info);
    subject_clear (&s);
  }
}
END_TEST

/* -------------------------------------------------------- bad input */

/* read (and inspect) of @path must fail with an M3RET_DATA_ERROR naming it. */
static void
assert_refused (const Subject *s, const gchar *path, const gchar *what)
{
  M3retView view;
  m3ret_view_init_eval (&view, SIZE, DEPTH, IMAGE_DEPTH);
  M3retSample *out = NULL;
  GError *error = NULL;
  gboolean ok = s->vt->read (s->self, path, &view, 1, &out, &error);
  if (ok)
    m3ret_sample_free (out);
  ck_assert_msg (!ok, "%s: read %s (%s) although it is bad", s->name, path, what);
  ck_assert_msg (out == NULL, "%s: %s: failed read left a sample", s->name, what);
  ck_assert_msg (error != NULL && error->domain == M3RET_DATA_ERROR,
                 "%s: %s: no M3RET_DATA_ERROR (%s)", s->name, what,
                 error ? error->message : "no error at all");
  ck_assert_msg (strstr (error->message, path) != NULL,
                 "%s: %s: the message does not name the file: %s", s->name, what,
                 error->message);
  g_clear_error (&error);
  if (s->vt->inspect == NULL)
    return;
  M3retInspectInfo info;
  memset (&info, 0, sizeof info);
  ok = s->vt->inspect (s->self, path, &info, &error);
  m3ret_inspect_info_clear (&info);
  ck_assert_msg (!ok, "%s: inspect %s (%s) although it is bad", s->name, path, what);
  ck_assert_msg (error != NULL && strstr (error->message, path) != NULL,
                 "%s: inspect %s: the message does not name the file: %s", s->name, what,
                 error ? error->message : "no error at all");
  g_clear_error (&error);
}

/* Findings: bad input a plugin reads instead of refusing.  By default
 * each is printed as a FINDING line (the views it gave must still be on the
 * grid and finite: no crash, no garbage); with M3RET_CONFORM_STRICT=1 in
 * the environment each fails the test. */
static guint n_findings;

/* Like assert_refused(), but a read that succeeds is a finding (above). */
static void
assert_refused_or_finding (const Subject *s, const gchar *path, const gchar *what)
{
  M3retView view;
  m3ret_view_init_eval (&view, SIZE, DEPTH, IMAGE_DEPTH);
  M3retSample *out = NULL;
  GError *error = NULL;
  if (!s->vt->read (s->self, path, &view, 1, &out, &error)) {
    g_clear_error (&error);
    assert_refused (s, path, what);
    return;
  }
  m3ret_sample_free (out);
  ck_assert_msg (g_strcmp0 (g_getenv ("M3RET_CONFORM_STRICT"), "1") != 0,
                 "%s: read %s (%s) although it is bad", s->name, path, what);
  M3retSample *again[1];
  read_views (s, path, &view, 1, again);
  free_samples (again, 1);
  n_findings++;
  g_print ("conform-modality: %s: FINDING: reads %s (%s) instead of refusing it; its view is on "
           "the grid and finite\n", s->name, path, what);
}

/* "bad-@stem" with @fx's extension (everything from the first dot). */
static gchar *
bad_path (const Fixture *fx, const gchar *stem)
{
  g_autofree gchar *name = g_strconcat ("bad-", stem, strchr (fx->file, '.'), NULL);
  return g_build_filename (tmp, name, NULL);
}

START_TEST (test_bad_input_refused)
{
  g_autoptr (GPtrArray) list = modalities ();
  for (guint p = 0; p < list->len; p++) {
    Subject s;
    if (!subject_for (&s, list, p, "bad input"))
      continue;
    const Fixture *fx = own_fixture (&s);
    g_autofree gchar *bytes = NULL;
    gsize len = 0;
    ck_assert (g_file_get_contents (fx->path, &bytes, &len, NULL));

    g_autofree gchar *empty = bad_path (fx, "empty");
    ck_assert (g_file_set_contents (empty, "", 0, NULL));
    assert_refused (&s, empty, "an empty file");

    const gsize keep[] = { 16, len / 2 };
    guint findings_before = n_findings;
    for (guint k = 0; k < G_N_ELEMENTS (keep); k++) {
      g_autofree gchar *stem = g_strdup_printf ("cut-%zu", keep[k]);
      g_autofree gchar *cut = bad_path (fx, stem);
      fx_truncate_copy (fx->path, cut, keep[k]);
      g_autofree gchar *what = g_strdup_printf ("its own file cut to %zu of %zu bytes", keep[k],
                                                len);
      if (k == 0)
        assert_refused (&s, cut, what);
      else
        assert_refused_or_finding (&s, cut, what);
    }

    /* A file of a format it does not claim: as it is, and under its own extension. */
    guint other = 0;
    for (guint i = 0; i < G_N_ELEMENTS (fixtures); i++) {
      if (s.scores[i] != 0 || strcmp (fixtures[i].format, fx->format) == 0)
        continue;
      assert_refused_or_finding (&s, fixtures[i].path, "a file of another format");
      g_autofree gchar *stem = g_strdup_printf ("other-%u", i);
      g_autofree gchar *renamed = bad_path (fx, stem);
      g_autofree gchar *other_bytes = NULL;
      gsize other_len = 0;
      ck_assert (g_file_get_contents (fixtures[i].path, &other_bytes, &other_len, NULL));
      ck_assert (g_file_set_contents (renamed, other_bytes, (gssize) other_len, NULL));
      assert_refused_or_finding (&s, renamed, "a file of another format under its own extension");
      other++;
    }
    g_print ("conform-modality: %s: bad input: an empty file and its %s cut to 16 bytes refused; "
             "its file cut to %zu bytes and %u files of other formats (as they are and renamed): "
             "%u findings\n", s.name, fx->file, len / 2, other, n_findings - findings_before);
    subject_clear (&s);
  }
}
END_TEST

/* ---------------------------------------------------- determinism */

static gboolean
same_bytes (M3retSample *const *a, M3retSample *const *b, guint n)
{
  for (guint v = 0; v < n; v++)
    if (m3ret_sample_n_values (a[v]) != m3ret_sample_n_values (b[v])
        || memcmp (a[v]->data, b[v]->data, m3ret_sample_n_values (a[v]) * sizeof (gfloat)) != 0)
      return FALSE;
  return TRUE;
}

/* The two training views of one read, from a stream seeded @seed. */
static void
read_train (const Subject *s, const gchar *path, guint32 seed, M3retSample **out)
{
  GRand *rand = g_rand_new_with_seed (seed);
  M3retView views[2];
  m3ret_view_init_train (&views[0], SIZE, DEPTH, IMAGE_DEPTH, 0.4, 1.0, rand);
  m3ret_view_init_train (&views[1], SIZE / 2, DEPTH / 2, IMAGE_DEPTH, 0.05, 0.4, rand);
  read_views (s, path, views, 2, out);
  g_rand_free (rand);
}

START_TEST (test_views_deterministic)
{
  g_autoptr (GPtrArray) list = modalities ();
  for (guint p = 0; p < list->len; p++) {
    Subject s;
    if (!subject_for (&s, list, p, "determinism"))
      continue;
    const gchar *path = own_fixture (&s)->path;
    M3retView eval;
    m3ret_view_init_eval (&eval, SIZE, DEPTH, IMAGE_DEPTH);
    M3retSample *e1[1], *e2[1], *a[2], *b[2], *c[2];
    read_views (&s, path, &eval, 1, e1);
    read_views (&s, path, &eval, 1, e2);
    ck_assert_msg (same_bytes (e1, e2, 1), "%s: the evaluation view differs between reads",
                   s.name);
    read_train (&s, path, 1, a);
    read_train (&s, path, 1, b);
    ck_assert_msg (same_bytes (a, b, 2), "%s: training views from one seed differ", s.name);
    gboolean augments = !same_bytes (a, e1, 1);
    read_train (&s, path, 2, c);
    if (augments)
      ck_assert_msg (!same_bytes (a, c, 2), "%s: training views from seeds 1 and 2 are the same",
                     s.name);
    g_print ("conform-modality: %s: views deterministic for a seed%s\n", s.name,
             augments ? ", another seed augments otherwise"
                      : "; NOTE: its training view is its evaluation view (no augmentation)");
    free_samples (e1, 1);
    free_samples (e2, 1);
    free_samples (a, 2);
    free_samples (b, 2);
    free_samples (c, 2);
    subject_clear (&s);
  }
}
END_TEST

static Suite *
conform_modality_suite (void)
{
  Suite *s = suite_create ("conform-modality");
  TCase *tc = tcase_create ("modality");
  tcase_set_timeout (tc, 60);
  tcase_add_checked_fixture (tc, write_fixtures, remove_fixtures);
  tcase_add_test (tc, test_probe_prefers_its_own_format);
  tcase_add_test (tc, test_read_on_the_grid);
  tcase_add_test (tc, test_inspect_describes);
  tcase_add_test (tc, test_bad_input_refused);
  tcase_add_test (tc, test_views_deterministic);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = conform_modality_suite, .registry = &registry)
