/* test-pretrained.c — `[encoder] init=`: released ViT weights (timm/MAE/DINO
 * layout, 2-D patch embedding) into the encoder, checked against an encoder
 * holding the inflated weights directly, on cpu and on the torch backend. */
#include "config.h"

#include <math.h>

#include "m3ret-check.h"
#include "m3ret-pretrained.h"

static const gint tubelet[3] = { 2, 8, 8 };

static M3retVit *
micro (M3retDevice *device, M3retParams **params, guint64 seed)
{
  M3retVitConfig cfg;
  ck_assert (m3ret_vit_config_init (&cfg, M3RET_PRESET_MICRO, 16, 2, tubelet, NULL));
  *params = m3ret_params_new (device);
  M3retRng rng;
  m3ret_rng_init (&rng, seed, M3RET_RNG_STREAM_INIT);
  M3retVit *vit = m3ret_vit_new (*params, "", &cfg, &rng, NULL);
  ck_assert (vit != NULL);
  return vit;
}

/* Writes @params as a released checkpoint would hold them: names under
 * "module.", the patch embedding 2-D (@w2, D×3×8×8), a learned 2-D
 * pos_embed of another shape; returns the path. */
static gchar *
write_release (const gchar *dir, M3retParams *params, const gfloat *w2, gint64 dim,
               const gchar *skip)
{
  g_autoptr (M3retSafetensorsWriter) w = m3ret_safetensors_writer_new ();
  for (guint i = 0; i < m3ret_params_get_n (params); i++) {
    const gchar *name = m3ret_params_get_name (params, i);
    if (g_strcmp0 (name, skip) == 0 || g_str_equal (name, "pos_embed"))
      continue;
    g_autofree gchar *key = g_strconcat ("module.", name, NULL);
    if (g_str_equal (name, "patch_embed.proj.weight")) {
      const gint64 shape[4] = { dim, 3, 8, 8 };
      m3ret_safetensors_writer_add (w, key, shape, 4, w2);
      continue;
    }
    M3retTensor *t = m3ret_params_get_tensor (params, i);
    g_autofree gfloat *host = m3ret_tensor_to_host (t);
    m3ret_safetensors_writer_add (w, key, t->shape, (guint) t->ndim, host);
  }
  const gint64 pos_shape[3] = { 1, 5, dim };
  g_autofree gfloat *pos = g_new0 (gfloat, 5 * dim);
  m3ret_safetensors_writer_add (w, "module.pos_embed", pos_shape, 3, pos);
  gchar *path = g_build_filename (dir, skip ? "partial.safetensors" : "release.safetensors", NULL);
  ck_assert (m3ret_safetensors_writer_write (w, path, NULL));
  return path;
}

static gfloat *
embed (M3retDevice *device, M3retVit *vit, const gfloat *x, gint batch)
{
  g_autoptr (M3retGraph) g = m3ret_graph_new (device);
  m3ret_graph_set_grad_enabled (g, FALSE);
  M3retTensor *p = m3ret_vit_patchify (g, vit, x, batch, 2);
  return m3ret_tensor_to_host (m3ret_vit_forward (g, vit, p, NULL, 0));
}

START_TEST (test_import)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  M3retRegistry *registry = m3ret_check_registry ();
  M3retDevice *cpu = m3ret_device_new_by_name (registry, "cpu", 1, NULL, NULL);
  ck_assert (cpu != NULL);
  M3retParams *pa, *pb;
  M3retVit *a = micro (cpu, &pa, 1), *b = micro (cpu, &pb, 2);
  gint64 dim = m3ret_vit_get_config (a)->dim;

  /* A's patch embedding is the inflation of a 2-D one: W[d,c,t] = W2[d,c] / 2. */
  M3retRng rng;
  m3ret_rng_init (&rng, 9, M3RET_RNG_STREAM_USER);
  gsize n2 = (gsize) dim * 3 * 64;
  g_autofree gfloat *w2 = g_new (gfloat, n2);
  m3ret_rng_fill_normal (&rng, w2, n2, 0.0f, 0.05f);
  g_autofree gfloat *w3 = g_new (gfloat, n2 * 2);
  for (gsize dc = 0; dc < (gsize) dim * 3; dc++)
    for (gsize z = 0; z < 2; z++)
      for (gsize j = 0; j < 64; j++)
        w3[(dc * 2 + z) * 64 + j] = w2[dc * 64 + j] / 2.0f;
  m3ret_tensor_upload (m3ret_params_lookup (pa, "patch_embed.proj.weight"), w3);
  g_autofree gchar *release = write_release (dir, pa, w2, dim, NULL);

  guint loaded = 0;
  GError *error = NULL;
  ck_assert_msg (m3ret_pretrained_load (pb, release, &loaded, &error), "%s", error ? error->message : "");
  ck_assert_uint_eq (loaded, m3ret_params_get_n (pa) - 1);
  for (guint i = 0; i < m3ret_params_get_n (pa); i++) {
    M3retTensor *ta = m3ret_params_get_tensor (pa, i), *tb = m3ret_params_get_tensor (pb, i);
    g_autofree gfloat *xa = m3ret_tensor_to_host (ta), *xb = m3ret_tensor_to_host (tb);
    ck_assert_msg (memcmp (xa, xb, ta->numel * sizeof (gfloat)) == 0, "%s differs",
                   m3ret_params_get_name (pa, i));
  }

  /* Same weights, same tokens. */
  gsize nx = 3 * 3 * 2 * 16 * 16;
  g_autofree gfloat *x = g_new (gfloat, nx);
  m3ret_rng_fill_normal (&rng, x, nx, 0.0f, 1.0f);
  g_autofree gfloat *ya = embed (cpu, a, x, 3);
  g_autofree gfloat *yb = embed (cpu, b, x, 3);
  gsize ny = 3 * 5 * dim;
  ck_assert (memcmp (ya, yb, ny * sizeof (gfloat)) == 0);

  /* The torch backend running the same release file gives the same tokens. */
  GError *torch_error = NULL;
  M3retDevice *torch = m3ret_device_new_by_name (registry, "torch", 1, NULL, &torch_error);
  if (torch == NULL) {
    g_print ("SKIP torch comparison: %s\n", torch_error->message);
    g_clear_error (&torch_error);
  } else {
    M3retParams *pc;
    M3retVit *c = micro (torch, &pc, 3);
    ck_assert (m3ret_pretrained_load (pc, release, NULL, NULL));
    g_autofree gfloat *yc = embed (torch, c, x, 3);
    gdouble num = 0, den = 0;
    for (gsize i = 0; i < ny; i++) {
      num += (yc[i] - ya[i]) * (gdouble) (yc[i] - ya[i]);
      den += ya[i] * (gdouble) ya[i];
    }
    ck_assert_msg (num / den < 1e-10, "torch differs: NMSE %g", num / den);
    m3ret_vit_free (c);
    m3ret_params_free (pc);
    m3ret_device_free (torch);
  }

  /* A file without a tensor, and one of another size, are refused by name. */
  g_autofree gchar *partial = write_release (dir, pa, w2, dim, "blocks.1.mlp.fc2.weight");
  ck_assert (!m3ret_pretrained_load (pb, partial, NULL, &error));
  ck_assert (strstr (error->message, "blocks.1.mlp.fc2.weight") && strstr (error->message, partial));
  g_clear_error (&error);
  M3retParams *pt;
  M3retVitConfig tiny_cfg;
  ck_assert (m3ret_vit_config_init (&tiny_cfg, M3RET_PRESET_TINY, 16, 2, tubelet, NULL));
  pt = m3ret_params_new (cpu);
  M3retVit *t = m3ret_vit_new (pt, "", &tiny_cfg, &rng, NULL);
  ck_assert (!m3ret_pretrained_load (pt, release, NULL, &error));
  ck_assert (g_error_matches (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH));
  ck_assert (strstr (error->message, "the encoder expects") != NULL);
  g_clear_error (&error);

  m3ret_vit_free (t);
  m3ret_params_free (pt);
  m3ret_vit_free (a);
  m3ret_vit_free (b);
  m3ret_params_free (pa);
  m3ret_params_free (pb);
  m3ret_device_free (cpu);
  m3ret_registry_free (registry);
  m3ret_check_rmtree (dir);
}
END_TEST

static Suite *
pretrained_suite (void)
{
  Suite *s = suite_create ("pretrained");
  TCase *tc = tcase_create ("pretrained");
  tcase_add_test (tc, test_import);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = pretrained_suite)
