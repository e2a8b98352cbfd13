/* test-encoder-context.c — the one builder of a pipeline's encoder: its
 * parts, the checkpoint and init files it refuses, its seeded start. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "m3ret-check.h"
#include "m3ret-checkpoint.h"
#include "m3ret-provenance.h"

static M3retRegistry *registry;
static gchar *tmp;

static void
setup (void)
{
  registry = m3ret_check_registry ();
  tmp = m3ret_check_tmpdir ();
}

static void
teardown (void)
{
  m3ret_check_rmtree (tmp);
  g_clear_pointer (&tmp, g_free);
  g_clear_pointer (&registry, m3ret_registry_free);
}

/* A micro pipeline in @tmp, with @extra appended to [encoder]. */
static M3retPipeline *
load (const gchar *extra)
{
  g_autofree gchar *text = g_strdup_printf ("[pipeline]\nbackend=cpu\nthreads=1\nseed=7\n"
                                            "[input]\nsize=16\ndepth=4\ntubelet=2,8,8\n"
                                            "[encoder]\npreset=micro\npool=mean\n%s",
                                            extra ? extra : "");
  GError *error = NULL;
  M3retPipeline *p = m3ret_pipeline_load_data (registry, text, -1, "test.ini", tmp, &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  return p;
}

static M3retEncoderContext *
build (const M3retPipeline *p, const M3retEncoderContextOptions *options)
{
  GError *error = NULL;
  M3retEncoderContext *c = m3ret_encoder_context_new (registry, p, options, &error);
  ck_assert_msg (c != NULL, "%s", error ? error->message : "");
  return c;
}

START_TEST (test_parts)
{
  g_autoptr (M3retPipeline) p = load (NULL);
  M3retEncoderContextOptions options = { .provenance = TRUE };
  g_autoptr (M3retEncoderContext) c = build (p, &options);
  const M3retVitConfig *vc = m3ret_vit_get_config (m3ret_encoder_context_get_vit (c));
  ck_assert_int_eq (vc->dim, 64);
  ck_assert_int_eq (vc->grid[0], 2);
  ck_assert_int_eq (vc->grid[1], 2);
  ck_assert_int_eq (vc->grid[2], 2);
  ck_assert_int_eq (vc->pool, M3RET_POOL_MEAN);
  M3retDevice *device = m3ret_encoder_context_get_device (c);
  ck_assert_str_eq (m3ret_device_get_name (device), "cpu");
  ck_assert_int_eq (m3ret_device_get_threads (device), 1);
  ck_assert_uint_gt (m3ret_params_get_n (m3ret_encoder_context_get_params (c)), 0);
  ck_assert_ptr_eq (m3ret_vit_get_params (m3ret_encoder_context_get_vit (c)),
                    m3ret_encoder_context_get_params (c));
  const gchar *provenance = m3ret_encoder_context_get_provenance (c);
  ck_assert (m3ret_provenance_is_valid (provenance));
  ck_assert_ptr_nonnull (strstr (provenance, "preset=micro"));
  ck_assert_ptr_nonnull (strstr (provenance, "pool=mean"));
  ck_assert_uint_gt (m3ret_modalities_count (m3ret_encoder_context_get_modalities (c)), 0);
  /* without options: no provenance */
  g_autoptr (M3retEncoderContext) bare = build (p, NULL);
  ck_assert_ptr_null (m3ret_encoder_context_get_provenance (bare));
}
END_TEST

/* Every parameter of @a and @b, bit for bit. */
static gboolean
same_params (const M3retParams *a, const M3retParams *b)
{
  if (m3ret_params_get_n (a) != m3ret_params_get_n (b))
    return FALSE;
  for (guint i = 0; i < m3ret_params_get_n (a); i++) {
    const M3retTensor *ta = m3ret_params_get_tensor (a, i);
    const M3retTensor *tb = m3ret_params_get_tensor (b, i);
    if (strcmp (m3ret_params_get_name (a, i), m3ret_params_get_name (b, i)) != 0
        || ta->numel != tb->numel)
      return FALSE;
    g_autofree gfloat *ha = g_new (gfloat, ta->numel);
    g_autofree gfloat *hb = g_new (gfloat, tb->numel);
    m3ret_tensor_download (ta, ha);
    m3ret_tensor_download (tb, hb);
    if (memcmp (ha, hb, ta->numel * sizeof (gfloat)) != 0)
      return FALSE;
  }
  return TRUE;
}

START_TEST (test_same_seed)
{
  g_autoptr (M3retPipeline) p = load (NULL);
  g_autoptr (M3retEncoderContext) a = build (p, NULL);
  g_autoptr (M3retEncoderContext) b = build (p, NULL);
  ck_assert (same_params (m3ret_encoder_context_get_params (a),
                          m3ret_encoder_context_get_params (b)));
  /* the init stream goes on from the same place for the objective */
  ck_assert_uint_eq (m3ret_rng_next (m3ret_encoder_context_get_init_rng (a)),
                     m3ret_rng_next (m3ret_encoder_context_get_init_rng (b)));
  /* another seed, other weights */
  g_autoptr (M3retPipeline) q = m3ret_pipeline_load_data (
    registry, "[pipeline]\nseed=8\n[input]\nsize=16\ndepth=4\n[encoder]\npreset=micro\npool=mean\n",
    -1, "other.ini", tmp, NULL);
  ck_assert_ptr_nonnull (q);
  g_autoptr (M3retEncoderContext) c = build (q, NULL);
  ck_assert (!same_params (m3ret_encoder_context_get_params (a),
                           m3ret_encoder_context_get_params (c)));
}
END_TEST

START_TEST (test_checkpoint)
{
  g_autoptr (M3retPipeline) p = load (NULL);
  g_autoptr (M3retEncoderContext) a = build (p, NULL);
  /* a checkpoint of these very tensors, its metadata naming @preset */
  g_autofree gchar *tiny = g_build_filename (tmp, "tiny.safetensors", NULL);
  g_autofree gchar *micro = g_build_filename (tmp, "micro.safetensors", NULL);
  const gchar *const paths[] = { tiny, micro };
  const gchar *const presets[] = { "tiny", "micro" };
  for (guint i = 0; i < 2; i++) {
    M3retCheckpointContents contents = {
      .model = m3ret_encoder_context_get_params (a),
      .pipeline_text = m3ret_pipeline_get_text (p),
      .objective = "mae",
      .preset = presets[i],
    };
    GError *error = NULL;
    ck_assert_msg (m3ret_checkpoint_save (paths[i], &contents, &error), "%s",
                   error ? error->message : "");
  }
  g_autoptr (GError) error = NULL;
  M3retEncoderContextOptions options = { .checkpoint = tiny };
  ck_assert_ptr_null (m3ret_encoder_context_new (registry, p, &options, &error));
  ck_assert_ptr_nonnull (error);
  ck_assert_msg (strstr (error->message, tiny) != NULL && strstr (error->message, "tiny") != NULL
                 && strstr (error->message, "preset=micro") != NULL, "%s", error->message);
  /* the same preset loads, and the weights are those written */
  options.checkpoint = micro;
  options.provenance = TRUE;
  g_autoptr (M3retEncoderContext) b = build (p, &options);
  ck_assert (same_params (m3ret_encoder_context_get_params (a),
                          m3ret_encoder_context_get_params (b)));
}
END_TEST

START_TEST (test_init_unreadable)
{
  g_autoptr (M3retPipeline) p = load ("init=missing.safetensors\n");
  g_autoptr (GError) error = NULL;
  ck_assert_ptr_null (m3ret_encoder_context_new (registry, p, NULL, &error));
  ck_assert_ptr_nonnull (error);
  ck_assert_msg (strstr (error->message, "missing.safetensors") != NULL, "%s", error->message);
  /* the line to fix comes first */
  ck_assert_msg (g_str_has_prefix (error->message, "test.ini:"), "%s", error->message);
}
END_TEST

static Suite *
encoder_context_suite (void)
{
  Suite *s = suite_create ("encoder-context");
  TCase *tc = tcase_create ("encoder-context");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_parts);
  tcase_add_test (tc, test_same_seed);
  tcase_add_test (tc, test_checkpoint);
  tcase_add_test (tc, test_init_unreadable);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = encoder_context_suite)
