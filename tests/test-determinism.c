/* test-determinism.c — same seed, backend and thread count give the same
 * bytes: two `m3ret train` runs (MAE, then SimDINO, cpu backend on two
 * threads with two loader threads) write byte-identical checkpoint files,
 * and `m3ret embed` with the result writes byte-identical .npy files.
 * The runs use different output folders, so nothing of the place or the
 * time may leak into a file. */
#include "config.h"

#include <string.h>

#include "m3ret-check.h"

static gchar *dir; /* one synthetic set for the whole suite */

static const gchar *pipeline_text =
  "[pipeline]\nbackend=cpu\nthreads=2\nseed=11\n"
  "[input]\nsize=32\ndepth=8\ntubelet=2,8,8\n"
  "[encoder]\npreset=micro\n"
  "[objective]\nplugin=%s\n%s"
  "[data]\ntrain=data/manifest.csv\nloader_threads=2\n"
  "[train]\nbatch=6\nsteps=5\nlr=1e-2\nwarmup=1\ncheckpoint_every=2\n"
  "[retriever]\nplugin=flat\n";

static void
make_dataset (void)
{
  dir = m3ret_check_synth_dataset (2, 7);
}

static void
remove_dataset (void)
{
  m3ret_check_rmtree (dir);
  g_clear_pointer (&dir, g_free);
}

static void
assert_same_bytes (const gchar *a, const gchar *b)
{
  g_autofree gchar *x = NULL, *y = NULL;
  gsize nx = 0, ny = 0;
  ck_assert_msg (g_file_get_contents (a, &x, &nx, NULL), "%s missing", a);
  ck_assert_msg (g_file_get_contents (b, &y, &ny, NULL), "%s missing", b);
  ck_assert_msg (nx == ny, "%s is %zu bytes, %s %zu", a, nx, b, ny);
  gsize i = 0;
  while (i < nx && x[i] == y[i])
    i++;
  ck_assert_msg (i == nx, "%s and %s first differ at byte %zu of %zu", a, b, i, nx);
}

/* Trains twice into different folders; returns (transfer full) the first
 * run's checkpoint after checking the second is the same file. */
static gchar *
train_twice (const gchar *objective, const gchar *keys)
{
  g_autofree gchar *ini = g_strdup_printf ("%s/%s.ini", dir, objective);
  g_autofree gchar *text = g_strdup_printf (pipeline_text, objective, keys);
  ck_assert (g_file_set_contents (ini, text, -1, NULL));
  gchar *paths[2];
  for (gint run = 0; run < 2; run++) {
    g_autofree gchar *out = g_strdup_printf ("%s/%s-run%d", dir, objective, run);
    M3retCheckRun r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--quiet", NULL);
    ck_assert_msg (r.status == 0, "train %s: %s", objective, r.err);
    m3ret_check_run_clear (&r);
    paths[run] = g_build_filename (out, "checkpoint.safetensors", NULL);
  }
  assert_same_bytes (paths[0], paths[1]);
  g_free (paths[1]);
  return paths[0];
}

START_TEST (test_mae_checkpoint_and_embeddings)
{
  g_autofree gchar *ckpt = train_twice ("mae", "mask_ratio=0.75\n");
  g_autofree gchar *ini = g_strdup_printf ("%s/mae.ini", dir);
  g_autofree gchar *manifest = g_build_filename (dir, "data", "database.csv", NULL);
  gchar *npy[2];
  for (gint run = 0; run < 2; run++) {
    npy[run] = g_strdup_printf ("%s/embed%d.npy", dir, run);
    M3retCheckRun r = m3ret_check_m3ret (TRUE, "embed", ini, "--checkpoint", ckpt, "--manifest",
                                         manifest, "--out", npy[run], NULL);
    ck_assert_msg (r.status == 0, "embed: %s", r.err);
    m3ret_check_run_clear (&r);
  }
  assert_same_bytes (npy[0], npy[1]);
  g_free (npy[0]);
  g_free (npy[1]);
  g_autofree gchar *csv0 = g_strdup_printf ("%s/embed0.csv", dir);
  g_autofree gchar *csv1 = g_strdup_printf ("%s/embed1.csv", dir);
  assert_same_bytes (csv0, csv1);
}
END_TEST

START_TEST (test_simdino_checkpoint)
{
  g_autofree gchar *ckpt = train_twice ("simdino", "head_hidden=48\nhead_out=24\nlocal_crops=2\n");
  /* The SimDINO file holds the teacher too: its bytes matched as well. */
  g_autoptr (M3retSafetensors) f = m3ret_safetensors_open (ckpt, NULL);
  ck_assert (f != NULL);
  ck_assert_str_eq (m3ret_safetensors_get_metadata (f, "m3ret.step"), "5");
}
END_TEST

static Suite *
determinism_suite (void)
{
  Suite *s = suite_create ("determinism");
  TCase *tc = tcase_create ("determinism");
  tcase_set_timeout (tc, 300);
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  tcase_add_test (tc, test_mae_checkpoint_and_embeddings);
  tcase_add_test (tc, test_simdino_checkpoint);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = determinism_suite)
