/* test-pipeline.c — pipeline files: a good one, and every kind of error. */
#include "config.h"

#include "m3ret-check.h"
#include "plugins/test-plugins.h"

/* Test plugins of every kind but backends, registered statically; the
 * backend is the real cpu plugin of the build tree. */

static const M3retKeySpec objective_keys[] = {
  M3RET_KEY_DOUBLE_SPEC ("mask_ratio", "0.75", 0, 0.99, "fraction of tokens masked"),
  M3RET_KEY_BOOL_SPEC ("norm_pix", "true", "normalise targets"),
  M3RET_KEY_END
};
M3RET_PLUGIN_DEFINE (tobj, M3RET_PLUGIN_OBJECTIVE, "1.0", "test objective", "MIT", objective_keys,
                     NULL, &test_objective_vtable)

static const M3retKeySpec retriever_keys[] = {
  M3RET_KEY_INT_SPEC ("M", "16", 2, 128, "graph degree"),
  M3RET_KEY_END
};
M3RET_PLUGIN_DEFINE (tret, M3RET_PLUGIN_RETRIEVER, "1.0", "test retriever", "MIT", retriever_keys,
                     NULL, &test_retriever_vtable)

static const M3retKeySpec required_keys[] = {
  M3RET_KEY_STRING_SPEC ("codebook", NULL, "a key without default"),
  M3RET_KEY_END
};
M3RET_PLUGIN_DEFINE (tretreq, M3RET_PLUGIN_RETRIEVER, "1.0", "needs a key", "MIT", required_keys,
                     NULL, &test_retriever_vtable)

static const M3retKeySpec modality_keys[] = {
  M3RET_KEY_DOUBLE_LIST_SPEC ("window", "-1000,1000", 2, -4000, 4000, "HU window"),
  M3RET_KEY_END
};
M3RET_PLUGIN_DEFINE (tct, M3RET_PLUGIN_MODALITY, "1.0", "test ct", "MIT", modality_keys, NULL,
                     &test_modality_vtable)
M3RET_PLUGIN_DEFINE (txray, M3RET_PLUGIN_MODALITY, "1.0", "test xray", "MIT", NULL, NULL,
                     &test_modality_vtable)

static M3retRegistry *
test_registry (void)
{
  M3retRegistry *r = m3ret_registry_new ();
  g_autofree gchar *cpu = g_build_filename (g_getenv ("M3RET_TEST_BUILDDIR"), "..", "backends", ".libs",
                                            "m3ret-cpu." G_MODULE_SUFFIX, NULL);
  GError *load_error = NULL;
  ck_assert_msg (m3ret_registry_load_file (r, cpu, &load_error) != NULL, "%s",
                 load_error ? load_error->message : "");
  const M3retPluginDesc *descs[] = {
    m3ret_plugin_tobj_get_desc (), m3ret_plugin_tret_get_desc (),
    m3ret_plugin_tretreq_get_desc (), m3ret_plugin_tct_get_desc (), m3ret_plugin_txray_get_desc (),
  };
  for (guint i = 0; i < G_N_ELEMENTS (descs); i++) {
    GError *error = NULL;
    ck_assert_msg (m3ret_registry_add_static (r, descs[i], &error) != NULL, "%s",
                   error ? error->message : "");
  }
  return r;
}

#define HEAD "[pipeline]\nbackend=cpu\n[objective]\nplugin=tobj\n[retriever]\nplugin=tret\n"

static const gchar *good_text =
  "# a complete pipeline\n"
  "[pipeline]\n"
  "backend=cpu\n"
  "threads=2\n"
  "seed=7\n"
  "\n"
  "[input]\n"
  "size=64\n"
  "depth=16\n"
  "tubelet=2,8,8\n"
  "[encoder]\n"
  "preset=micro\n"
  "[objective]\n"
  "plugin=tobj\n"
  "mask_ratio=0.5\n"
  "[data]\n"
  "train=data/manifest.csv\n"
  "weights=tct:2,txray:1\n"
  "[modality tct]\n"
  "window=-160,240\n"
  "[train]\n"
  "batch=8\n"
  "lr=1e-3\n"
  "[retriever]\n"
  "plugin=tret\n"
  "M=32\n";

START_TEST (test_good)
{
  M3retRegistry *r = test_registry ();
  GError *error = NULL;
  M3retPipeline *p = m3ret_pipeline_load_data (r, good_text, -1, "good.ini", "/base", &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  M3retConfig *pipe = m3ret_pipeline_get_config (p, "pipeline");
  ck_assert_int_eq (m3ret_config_get_int (pipe, "seed"), 7);
  ck_assert_str_eq (m3ret_plugin_get_desc (m3ret_pipeline_get_plugin (p, M3RET_PLUGIN_BACKEND))->name,
                    "cpu");
  guint n = 0;
  const gint64 *tub = m3ret_config_get_ints (m3ret_pipeline_get_config (p, "input"), "tubelet", &n);
  ck_assert_uint_eq (n, 3);
  ck_assert_int_eq (tub[0], 2);
  ck_assert_int_eq (tub[2], 8);
  M3retConfig *obj = m3ret_pipeline_get_config (p, "objective");
  ck_assert_double_eq (m3ret_config_get_double (obj, "mask_ratio"), 0.5);
  ck_assert (m3ret_config_get_bool (obj, "norm_pix"));
  ck_assert (m3ret_config_is_default (obj, "norm_pix"));
  ck_assert (!m3ret_config_is_default (obj, "mask_ratio"));
  const gdouble *w = m3ret_config_get_doubles (m3ret_pipeline_get_modality_config (p, "tct"), "window", &n);
  ck_assert_uint_eq (n, 2);
  ck_assert_double_eq (w[0], -160);
  ck_assert_double_eq (w[1], 240);
  /* Modalities without a group get their defaults. */
  ck_assert (m3ret_pipeline_get_modality_config (p, "txray") != NULL);
  const gdouble *weights;
  const gchar *const *names =
    m3ret_config_get_weights (m3ret_pipeline_get_config (p, "data"), "weights", &weights, &n);
  ck_assert_uint_eq (n, 2);
  ck_assert_str_eq (names[0], "tct");
  ck_assert_double_eq (weights[0], 2.0);
  ck_assert_int_eq (m3ret_config_get_int (m3ret_pipeline_get_config (p, "train"), "steps"), 2000);
  ck_assert_double_eq (m3ret_config_get_double (m3ret_pipeline_get_config (p, "train"), "lr"), 1e-3);
  /* Defaults are listed once, each as group.key=value. */
  const GPtrArray *defaulted = m3ret_pipeline_get_defaulted (p);
  gboolean saw_steps = FALSE;
  for (guint i = 0; i < defaulted->len; i++)
    saw_steps |= g_strcmp0 (defaulted->pdata[i], "train.steps=2000") == 0;
  ck_assert (saw_steps);
  g_autofree gchar *abs = m3ret_pipeline_resolve_path (p, "data/manifest.csv");
  ck_assert_str_eq (abs, "/base/data/manifest.csv");
  ck_assert (strstr (m3ret_pipeline_get_text (p), "window=-160,240") != NULL);
  m3ret_pipeline_free (p);
  m3ret_registry_free (r);
}
END_TEST

/* Loads @text, expects failure with @code, and a message holding each of the
 * NULL-terminated fragments. */
static void
expect_error (const gchar *text, gint code, ...)
{
  M3retRegistry *r = test_registry ();
  GError *error = NULL;
  M3retPipeline *p = m3ret_pipeline_load_data (r, text, -1, "bad.ini", NULL, &error);
  ck_assert_msg (p == NULL, "loaded although it should fail: %s", text);
  ck_assert (error != NULL);
  ck_assert_msg (error->domain == M3RET_CONFIG_ERROR && error->code == code,
                 "expected code %d, got %d: %s", code, error->code, error->message);
  ck_assert_msg (strchr (error->message, '\n') == NULL, "not one line: %s", error->message);
  va_list args;
  va_start (args, code);
  for (const gchar *frag = va_arg (args, const gchar *); frag; frag = va_arg (args, const gchar *))
    ck_assert_msg (strstr (error->message, frag) != NULL, "'%s' not in: %s", frag, error->message);
  va_end (args);
  g_error_free (error);
  m3ret_registry_free (r);
}

START_TEST (test_unknown_key)
{
  expect_error (HEAD "[modality tct]\nwindw=-1,1\n", M3RET_CONFIG_ERROR_UNKNOWN_KEY,
                "bad.ini:8:", "windw", "did you mean 'window'", NULL);
  expect_error (HEAD "[train]\nbatch=4\nfoo=1\n", M3RET_CONFIG_ERROR_UNKNOWN_KEY, "bad.ini:9:",
                "'foo'", NULL);
  /* A key of another plugin than the one selected is unknown too. */
  expect_error ("[pipeline]\nbackend=cpu\nmask_ratio=0.5\n[objective]\nplugin=tobj\n[retriever]\nplugin=tret\n",
                M3RET_CONFIG_ERROR_UNKNOWN_KEY, "bad.ini:3:", "mask_ratio", NULL);
}
END_TEST

START_TEST (test_unknown_group)
{
  expect_error (HEAD "[trian]\nbatch=4\n", M3RET_CONFIG_ERROR_UNKNOWN_GROUP, "bad.ini:7:", "[trian]",
                "did you mean [train]", NULL);
  expect_error (HEAD "[whatever]\n", M3RET_CONFIG_ERROR_UNKNOWN_GROUP, "[whatever]", NULL);
}
END_TEST

START_TEST (test_bad_values)
{
  expect_error (HEAD "[train]\nbatch=abc\n", M3RET_CONFIG_ERROR_BAD_VALUE, "bad.ini:8:", "batch",
                "abc", "whole number", NULL);
  expect_error (HEAD "[train]\nbatch=0\n", M3RET_CONFIG_ERROR_OUT_OF_RANGE, "batch=0",
                "[1, 65536]", NULL);
  expect_error (HEAD "[train]\nlr=nan\n", M3RET_CONFIG_ERROR_BAD_VALUE, "lr", NULL);
  expect_error (HEAD "[train]\nbatch=3.5\n", M3RET_CONFIG_ERROR_BAD_VALUE, "batch", NULL);
  expect_error (HEAD "[encoder]\npreset=huge\n", M3RET_CONFIG_ERROR_BAD_VALUE, "preset='huge'",
                "micro|tiny|small|base", NULL);
  expect_error (HEAD "[objective2]\n", M3RET_CONFIG_ERROR_UNKNOWN_GROUP, NULL);
  expect_error ("[pipeline]\nbackend=cpu\n[objective]\nplugin=tobj\nnorm_pix=maybe\n[retriever]\nplugin=tret\n",
                M3RET_CONFIG_ERROR_BAD_VALUE, "bad.ini:5:", "norm_pix", "true or false", NULL);
  expect_error (HEAD "[input]\ntubelet=2,8\n", M3RET_CONFIG_ERROR_OUT_OF_RANGE, "tubelet",
                "needs 3", NULL);
  expect_error (HEAD "[input]\nsize=60\n", M3RET_CONFIG_ERROR_OUT_OF_RANGE, "tubelet=2,8,8",
                "must divide", NULL);
  expect_error (HEAD "[modality tct]\nwindow=-5000,0\n", M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                "window", "[-4000, 4000]", NULL);
  expect_error (HEAD "[data]\nweights=tct:-1\n", M3RET_CONFIG_ERROR_OUT_OF_RANGE, "weights", NULL);
  expect_error (HEAD "[data]\nweights=tct\n", M3RET_CONFIG_ERROR_BAD_VALUE, "NAME:WEIGHT", NULL);
  /* the read-out's blocks and cells */
  expect_error (HEAD "[encoder]\npreset=micro\nreadout_block=3\n", M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                "readout_block", "past the last block of preset=micro (2 blocks)", NULL);
  expect_error (HEAD "[encoder]\npreset=micro\nreadout_block=1\nreadout_mean=2\n",
                M3RET_CONFIG_ERROR_OUT_OF_RANGE, "readout_mean", "cannot end at block 1", NULL);
  expect_error (HEAD "[encoder]\npool=grid\npool_cells=3\n", M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                "pool_cells", "does not divide the 8×8 token grid", NULL);
}
END_TEST

/* Relations between core keys a run would fail or waste itself on. */
START_TEST (test_run_length)
{
  expect_error (HEAD "[train]\nsteps=0\n", M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                "bad.ini:8: [train] steps=0 is out of range: allowed [1, 1000000000]", NULL);
  expect_error (HEAD "[train]\nsteps=5\nwarmup=6\n", M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                "bad.ini:9: [train] warmup=6: longer than the run (steps=5)",
                "make warmup at most 5", NULL);
  /* the default warm-up (200) is named at the group's line */
  expect_error (HEAD "[train]\nsteps=100\n", M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                "bad.ini:7: [train] warmup=200 (the default): longer than the run (steps=100)", NULL);
  /* an override is checked the same way, naming where it came from */
  M3retRegistry *r = test_registry ();
  g_autoptr (GError) error = NULL;
  g_autoptr (M3retPipeline) p =
    m3ret_pipeline_load_data (r, HEAD "[train]\nwarmup=10\n", -1, "run.ini", NULL, &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  ck_assert (m3ret_pipeline_check_run_length (p, 10, "--steps", NULL));
  ck_assert (!m3ret_pipeline_check_run_length (p, 9, "--steps", &error));
  ck_assert_str_eq (error->message, "run.ini:8: [train] warmup=10: longer than the run (--steps 9): "
                    "the learning rate would never reach its peak; lower warmup or give --steps 10 "
                    "or more");
  g_clear_error (&error);
  ck_assert (!m3ret_pipeline_check_run_length (p, 0, "--steps", &error));
  ck_assert_str_eq (error->message, "--steps 0: a run needs at least 1 step");
  g_clear_pointer (&p, m3ret_pipeline_free);
  m3ret_registry_free (r);
}
END_TEST

/* A plugin's own refusal names the file and line of the key: where the
 * file set it, the group's line for a default, no line when the file has
 * no such group, and no file for a config made from defaults alone. */
START_TEST (test_key_error_location)
{
  M3retRegistry *r = test_registry ();
  GError *error = NULL;
  M3retPipeline *p = m3ret_pipeline_load_data (r, good_text, -1, "good.ini", "/base", &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  M3retConfig *ct = m3ret_pipeline_get_modality_config (p, "tct");
  ck_assert_str_eq (m3ret_config_get_source (ct), "good.ini");
  ck_assert_uint_eq (m3ret_config_get_line (ct, "window"), 20);
  m3ret_config_key_error (ct, &error, M3RET_CONFIG_ERROR_BAD_VALUE, "window", "give %s",
                          "low,high");
  ck_assert (g_error_matches (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_BAD_VALUE));
  ck_assert_str_eq (error->message, "good.ini:20: [modality tct] window=-160,240: give low,high");
  g_clear_error (&error);
  M3retConfig *train = m3ret_pipeline_get_config (p, "train");
  ck_assert_uint_eq (m3ret_config_get_line (train, "steps"), 21);
  m3ret_config_key_error (train, &error, M3RET_CONFIG_ERROR_OUT_OF_RANGE, "steps", "too many");
  ck_assert_str_eq (error->message, "good.ini:21: [train] steps=2000 (the default): too many");
  g_clear_error (&error);
  /* [modality txray] is not in the file: its defaults have the file, no line */
  M3retConfig *xray = m3ret_pipeline_get_modality_config (p, "txray");
  ck_assert_uint_eq (m3ret_config_get_line (xray, "anything"), 0);
  m3ret_config_key_error (xray, &error, M3RET_CONFIG_ERROR_BAD_VALUE, "gain", "no good");
  ck_assert_str_eq (error->message, "good.ini: [modality txray] gain: no good");
  g_clear_error (&error);
  m3ret_pipeline_free (p);
  m3ret_registry_free (r);
  g_autoptr (M3retConfig) c = m3ret_config_new_defaults ("test", modality_keys, NULL);
  ck_assert_ptr_null (m3ret_config_get_source (c));
  m3ret_config_key_error (c, &error, M3RET_CONFIG_ERROR_BAD_VALUE, "window", "reason");
  ck_assert_str_eq (error->message, "[test] window=-1000,1000 (the default): reason");
  g_clear_error (&error);
}
END_TEST

START_TEST (test_unknown_plugins)
{
  expect_error ("[pipeline]\nbackend=cpx\n[objective]\nplugin=tobj\n[retriever]\nplugin=tret\n",
                M3RET_CONFIG_ERROR_UNKNOWN_PLUGIN, "bad.ini:2:", "'cpx'", "did you mean 'cpu'", NULL);
  expect_error (HEAD "[modality mri]\n", M3RET_CONFIG_ERROR_UNKNOWN_PLUGIN, "bad.ini:7:", "mri", NULL);
  expect_error (HEAD "[data]\nweights=txra:1\n", M3RET_CONFIG_ERROR_UNKNOWN_PLUGIN, "bad.ini:8:",
                "did you mean 'txray'", NULL);
  /* The default objective (mae) is not registered here. */
  expect_error ("[retriever]\nplugin=tret\n", M3RET_CONFIG_ERROR_UNKNOWN_PLUGIN, "'mae'", NULL);
}
END_TEST

START_TEST (test_syntax)
{
  expect_error (HEAD "[train]\nbatch=4\n[train]\nsteps=3\n", M3RET_CONFIG_ERROR_PARSE, "bad.ini:9:",
                "[train] appears again (first at line 7)", NULL);
  expect_error (HEAD "[train]\nbatch=4\nbatch=5\n", M3RET_CONFIG_ERROR_PARSE, "bad.ini:9:",
                "batch is set again", NULL);
  expect_error (HEAD "this line is not a key\n", M3RET_CONFIG_ERROR_PARSE, "bad.ini", NULL);
  expect_error ("[pipeline]\nbackend=cpu\n[objective]\nplugin=tobj\n[retriever]\nplugin=tretreq\n",
                M3RET_CONFIG_ERROR_MISSING_KEY, "codebook", NULL);
}
END_TEST

START_TEST (test_file_errors)
{
  M3retRegistry *r = test_registry ();
  GError *error = NULL;
  ck_assert (m3ret_pipeline_load (r, "/nonexistent/p.ini", &error) == NULL);
  ck_assert (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT));
  ck_assert (strstr (error->message, "/nonexistent/p.ini") != NULL);
  g_clear_error (&error);
  /* Binary junk is refused, not half-parsed. */
  const gchar junk[] = "[pipeline]\nbackend=cpu\0\x01\x02";
  ck_assert (m3ret_pipeline_load_data (r, junk, sizeof junk, "junk.ini", NULL, &error) == NULL);
  ck_assert (g_error_matches (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_PARSE));
  g_clear_error (&error);
  m3ret_registry_free (r);
}
END_TEST

START_TEST (test_config_misuse)
{
  g_autoptr (M3retConfig) c = m3ret_config_new_defaults ("test", modality_keys, NULL);
  ck_assert (c != NULL);
  m3ret_check_expect_log ("never declared", 1);
  ck_assert_int_eq (m3ret_config_get_int (c, "nothing"), 0);
  m3ret_check_expected_done ();
  m3ret_check_expect_log ("not read as one", 1);
  ck_assert_int_eq (m3ret_config_get_int (c, "window"), 0);
  m3ret_check_expected_done ();
  /* Declaring a key twice is refused. */
  GError *error = NULL;
  ck_assert (!m3ret_config_add_keys (c, modality_keys, &error));
  ck_assert (error != NULL);
  g_error_free (error);
}
END_TEST

/* The core groups arrive typed, with enums as enums, from one fill. */
START_TEST (test_settings)
{
  M3retRegistry *r = test_registry ();
  GError *error = NULL;
  M3retPipeline *p = m3ret_pipeline_load_data (r, good_text, -1, "good.ini", "/base", &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  const M3retSettings *s = m3ret_pipeline_get_settings (p);
  ck_assert_str_eq (s->pipeline.backend, "cpu");
  ck_assert_int_eq (s->pipeline.seed, 7);
  ck_assert_int_eq (s->input.tubelet[0], 2);
  ck_assert_int_eq (s->input.tubelet[2], 8);
  ck_assert_int_eq (s->encoder.pool, M3RET_POOL_CLS);
  ck_assert_int_eq (s->data.weights.n, 2);
  ck_assert_str_eq (s->data.weights.names[0], "tct");
  ck_assert_double_eq (s->data.weights.values[0], 2.0);
  ck_assert_int_eq (s->data.on_error, M3RET_ON_ERROR_FAIL);
  ck_assert_int_eq (s->train.steps, 2000);
  ck_assert_double_eq (s->train.lr, 1e-3);
  m3ret_pipeline_free (p);

  static const gchar text[] = "[pipeline]\nbackend=cpu\n[encoder]\npreset=small\npool=mean\n"
                              "[data]\non_error=skip\n"
                              "[objective]\nplugin=tobj\n[retriever]\nplugin=tret\n";
  p = m3ret_pipeline_load_data (r, text, -1, "enums.ini", "/base", &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  s = m3ret_pipeline_get_settings (p);
  ck_assert_int_eq (s->encoder.preset, M3RET_PRESET_SMALL);
  ck_assert_str_eq (m3ret_vit_preset_name (s->encoder.preset), "small");
  ck_assert_int_eq (s->encoder.pool, M3RET_POOL_MEAN);
  ck_assert_int_eq (s->data.on_error, M3RET_ON_ERROR_SKIP);
  m3ret_pipeline_free (p);
  m3ret_registry_free (r);
}
END_TEST

/* A plugin's own struct, filled through its *_FIELD declarations; keys
 * declared with *_SPEC are left alone. */
typedef struct {
  gint64 n;
  gdouble x;
  gboolean on;
  const gchar *name;
  gint mode;
  gint64 grid[2];
  gdouble pair[2];
  M3retKeyWeights mix;
  gint untouched;
} FieldSettings;

static const M3retKeySpec field_keys[] = {
  M3RET_KEY_INT_FIELD (FieldSettings, n, "n", "3", 1, 10, ""),
  M3RET_KEY_DOUBLE_FIELD (FieldSettings, x, "x", "0.5", 0, 1, ""),
  M3RET_KEY_BOOL_FIELD (FieldSettings, on, "on", "true", ""),
  M3RET_KEY_STRING_FIELD (FieldSettings, name, "name", "abc", ""),
  M3RET_KEY_ENUM_FIELD (FieldSettings, mode, "mode", "b", "a|b|c", ""),
  M3RET_KEY_INT_LIST_FIELD (FieldSettings, grid, "grid", "4,5", 2, 1, 9, ""),
  M3RET_KEY_DOUBLE_LIST_FIELD (FieldSettings, pair, "pair", "0.25,0.75", 2, 0, 1, ""),
  M3RET_KEY_WEIGHTS_FIELD (FieldSettings, mix, "mix", "p:1,q:3", ""),
  M3RET_KEY_INT_SPEC ("by_name", "1", 0, 9, ""),
  M3RET_KEY_END
};

START_TEST (test_config_fill)
{
  GError *error = NULL;
  g_autoptr (M3retConfig) c = m3ret_config_new_defaults ("f", field_keys, &error);
  ck_assert_msg (c != NULL, "%s", error ? error->message : "");
  ck_assert (m3ret_config_set (c, "mode", "c", NULL));
  FieldSettings f = { .untouched = 42 };
  ck_assert_msg (m3ret_config_fill (c, field_keys, &f, &error), "%s",
                 error ? error->message : "");
  ck_assert_int_eq (f.n, 3);
  ck_assert_double_eq (f.x, 0.5);
  ck_assert (f.on);
  ck_assert_str_eq (f.name, "abc");
  ck_assert_int_eq (f.mode, 2);
  ck_assert_int_eq (f.grid[0], 4);
  ck_assert_int_eq (f.grid[1], 5);
  ck_assert_double_eq (f.pair[1], 0.75);
  ck_assert_uint_eq (f.mix.n, 2);
  ck_assert_str_eq (f.mix.names[1], "q");
  ck_assert_double_eq (f.mix.values[1], 3.0);
  ck_assert_int_eq (f.untouched, 42);
  ck_assert_int_eq (field_keys[8].offset, M3RET_KEY_NO_FIELD);

  /* A bound key the config never declared is the declarer's bug, said so. */
  g_autoptr (M3retConfig) other = m3ret_config_new_defaults ("o", modality_keys, NULL);
  ck_assert (!m3ret_config_fill (other, field_keys, &f, &error));
  ck_assert (error != NULL && strstr (error->message, "never declared") != NULL);
  g_clear_error (&error);
}
END_TEST

static Suite *
pipeline_suite (void)
{
  Suite *s = suite_create ("pipeline");
  TCase *tc = tcase_create ("validate");
  tcase_add_test (tc, test_good);
  tcase_add_test (tc, test_unknown_key);
  tcase_add_test (tc, test_unknown_group);
  tcase_add_test (tc, test_bad_values);
  tcase_add_test (tc, test_run_length);
  tcase_add_test (tc, test_key_error_location);
  tcase_add_test (tc, test_unknown_plugins);
  tcase_add_test (tc, test_syntax);
  tcase_add_test (tc, test_file_errors);
  tcase_add_test (tc, test_config_misuse);
  tcase_add_test (tc, test_settings);
  tcase_add_test (tc, test_config_fill);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = pipeline_suite)
