/* test-backends.c — cross-backend conformance, after ggml's test-backend-ops.
 *
 * Targets: every backend plugin of the build tree with its defaults, the
 * cpu backend again with two threads and with its AVX2 and generic kernel
 * tables (simd=), and torch on device=cuda.  A target
 * whose score declines (no GPU) is skipped with a printed line, never
 * failed — unless M3RET_TEST_REQUIRE names it ("torch:cuda"; the GPU check
 * script sets it so a silent skip cannot pass for a pass).
 *
 * Three kinds of check:
 * 1. ops: every entry of the backend table runs on fresh random inputs of
 *    odd shapes, through one sub-allocated block (pointers inside a block,
 *    as the core's arena makes them), on the target and on the reference
 *    (cpu, one thread); every output is compared by normalised error
 *    NMSE = Σ(a−b)² / Σb².  Outputs start as NaN, so an entry with beta 0
 *    must ignore what was there; gradients start random, so backward
 *    entries must add.  attention_fwd also runs without probs, against
 *    its own probs path, on token counts that cross the flash blocks.
 * 2. gradients: for each differentiable case the target's backward entries
 *    are checked against central finite differences of its own forward
 *    entries (loss Σ out ⊙ R, in double on the host).
 * 3. whole steps: a small transformer block built from m3ret-ops.h
 *    (linear → layernorm → attention → gelu → linear → mse), forward,
 *    backward and one AdamW update, on the reference and on the target:
 *    same loss, same gradient of every parameter, same updated parameters;
 *    and one training step of a micro ViT with each objective plugin (mae,
 *    simdino; skipped while a plugin is not built): same loss, same
 *    gradient of every parameter.
 *
 * Tolerances (float32 throughout, different summation orders): NMSE ≤ 1e-9
 * per buffer for single entries and the block; ≤ 1e-8 per parameter for
 * the ViT steps (floored at 1e-6 of the mean squared gradient); loss
 * relative 1e-5; finite differences: relative error ≤ 2e-3 (eps 2e-3).
 *
 * Environment: M3RET_TEST_TARGETS=a,b keeps only those targets;
 * M3RET_TEST_REQUIRE=a,b fails when one of those declines.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "backend-step.h"
#include "finite-diff.h"
#include "m3ret-check.h"
#include "m3ret-ops.h"
#include "m3ret-rng.h"

/* ---------------------------------------------------------------- targets */

typedef struct {
  const gchar *backend;
  const gchar *label;        /* "torch:cuda" */
  const gchar *settings[4];  /* extra [pipeline] keys, "key=value", NULL-terminated */
  gint threads;
  gboolean declined;         /* its score said no: skipped (found once, in main) */
} Target;

static M3retRegistry *registry;
static GPtrArray *targets; /* Target*, built once from the registry */

/* (transfer full) a device of the target, or NULL with @error
 * (M3RET_PLUGIN_ERROR_DECLINED when its score says no). */
static M3retDevice *
open_device (const Target *t, GError **error)
{
  return m3ret_device_new_by_name (registry, t->backend, t->threads, t->settings, error);
}

static gboolean
target_required (const Target *t)
{
  const gchar *required = g_getenv ("M3RET_TEST_REQUIRE");
  if (required == NULL)
    return FALSE;
  g_auto (GStrv) names = g_strsplit (required, ",", -1);
  return g_strv_contains ((const gchar *const *) names, t->label);
}

/* The target's device, or NULL for a target that declined. */
static M3retDevice *
open_target (const Target *t)
{
  if (t->declined)
    return NULL;
  g_autoptr (GError) error = NULL;
  M3retDevice *device = open_device (t, &error);
  ck_assert_msg (device != NULL, "%s: cannot open: %s", t->label, error ? error->message : "");
  return device;
}

/* Asks every target once whether it is usable here; prints each skip.
 * FALSE when a required target declined or one fails in another way. */
static gboolean
probe_targets (void)
{
  gboolean ok = TRUE;
  for (guint i = 0; i < targets->len; i++) {
    Target *t = targets->pdata[i];
    g_autoptr (GError) error = NULL;
    M3retDevice *device = open_device (t, &error);
    if (device != NULL) {
      g_print ("target %s: testing\n", t->label);
      m3ret_device_free (device);
    } else if (g_error_matches (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_DECLINED)) {
      t->declined = TRUE;
      g_print ("target %s: SKIP: %s\n", t->label, error->message);
      if (target_required (t)) {
        g_printerr ("%s is required (M3RET_TEST_REQUIRE) but declined\n", t->label);
        ok = FALSE;
      }
    } else {
      g_printerr ("target %s: cannot open: %s\n", t->label, error->message);
      ok = FALSE;
    }
  }
  return ok;
}

static M3retDevice *
open_reference (void)
{
  static const Target reference = { .backend = "cpu", .label = "cpu", .threads = 1 };
  g_autoptr (GError) error = NULL;
  M3retDevice *device = open_device (&reference, &error);
  ck_assert_msg (device != NULL, "reference cpu backend: %s", error ? error->message : "");
  return device;
}

/* M3RET_TEST_TARGETS ("torch:cuda,cpu:2threads") keeps only those. */
static gboolean
target_selected (const gchar *label)
{
  const gchar *only = g_getenv ("M3RET_TEST_TARGETS");
  if (only == NULL || *only == '\0')
    return TRUE;
  g_auto (GStrv) names = g_strsplit (only, ",", -1);
  return g_strv_contains ((const gchar *const *) names, label);
}

static void
build_targets (void)
{
  targets = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *backends = m3ret_registry_list (registry, M3RET_PLUGIN_BACKEND);
  for (guint i = 0; i < backends->len; i++) {
    const gchar *name = m3ret_plugin_get_desc (backends->pdata[i])->name;
    Target *t = g_new0 (Target, 1);
    t->backend = name;
    t->threads = 1;
    if (strcmp (name, "cpu") == 0) {
      /* the reference (its best kernels, one thread) against itself split
       * over two threads, and against each narrower kernel table forced by
       * simd= (declined, so skipped, where the CPU lacks AVX2) */
      t->label = "cpu:2threads";
      t->threads = 2;
      static const gchar *const variants[][2] = { { "cpu:avx2", "simd=avx2" },
                                                  { "cpu:generic", "simd=generic" } };
      for (guint v = 0; v < G_N_ELEMENTS (variants); v++) {
        Target *tv = g_new0 (Target, 1);
        tv->backend = name;
        tv->threads = 1;
        tv->label = variants[v][0];
        tv->settings[0] = variants[v][1];
        g_ptr_array_add (targets, tv);
      }
    } else if (strcmp (name, "torch") == 0) {
      t->label = "torch:cpu";
      t->settings[0] = "device=cpu";
      g_ptr_array_add (targets, t);
      t = g_new0 (Target, 1);
      t->backend = name;
      t->threads = 1;
      t->label = "torch:cuda";
      t->settings[0] = "device=cuda";
    } else {
      t->label = name;
    }
    g_ptr_array_add (targets, t);
  }
  g_ptr_array_unref (backends);
  for (guint i = targets->len; i-- > 0;)
    if (!target_selected (((Target *) targets->pdata[i])->label))
      g_ptr_array_remove_index (targets, i);
}

/* ------------------------------------------------------------------ shapes */

typedef struct {
  gint rows, cols;           /* row ops */
  gint m, n, k, pad;         /* gemm; pad: extra leading-dimension columns */
  gint batch, tokens, heads, hd;
  gint outer, inner;         /* reduce_mid */
  gint p;                    /* logdet width */
  gsize len, period;         /* elementwise; period divides len */
  gint src_rows;             /* gather source rows */
  gboolean large;            /* sizes past the threading thresholds */
} Dims;

/* Odd, mostly prime sizes: small ones for finite differences, large ones
 * to cross the cpu backend's threading grains and exercise real kernels. */
static void
draw_dims (Dims *d, M3retRng *rng, gboolean large)
{
  memset (d, 0, sizeof *d);
  d->large = large;
  gint s = large ? 16 : 1;
  d->rows = s * (1 + (gint) m3ret_rng_below (rng, 5)) + 2;
  d->cols = 5 + 2 * (gint) m3ret_rng_below (rng, 4) + (large ? 120 : 0);
  d->m = 3 + (gint) m3ret_rng_below (rng, 5) + (large ? 150 : 0);
  d->n = 3 + 2 * (gint) m3ret_rng_below (rng, 3) + (large ? 90 : 0);
  d->k = 2 + (gint) m3ret_rng_below (rng, 5) + (large ? 200 : 0);
  d->pad = (gint) m3ret_rng_below (rng, 3);
  d->batch = 1 + (gint) m3ret_rng_below (rng, 2) + (large ? 2 : 0);
  d->tokens = 2 + (gint) m3ret_rng_below (rng, 4) + (large ? 45 : 0);
  d->heads = 1 + (gint) m3ret_rng_below (rng, 3);
  d->hd = 2 + (gint) m3ret_rng_below (rng, 3) + (large ? 14 : 0);
  d->outer = 1 + (gint) m3ret_rng_below (rng, 3) + (large ? 6 : 0);
  d->inner = 2 + (gint) m3ret_rng_below (rng, 4) + (large ? 30 : 0);
  d->p = 3 + (gint) m3ret_rng_below (rng, 4) + (large ? 60 : 0);
  d->period = 3 + 2 * (gsize) m3ret_rng_below (rng, 3) + (large ? 254 : 0);
  d->len = d->period * (2 + m3ret_rng_below (rng, 4) + (large ? 90 : 0));
  d->src_rows = 3 + (gint) m3ret_rng_below (rng, 5) + (large ? 60 : 0);
}

/* ------------------------------------------------------------ case layout */

#define MAX_BUFS 12

typedef enum {
  ROLE_IN,    /* read only: random, not compared */
  ROLE_DIFF,  /* read only, differentiated by finite differences */
  ROLE_OUT,   /* written: starts as NaN, compared */
  ROLE_ACC,   /* read and written (beta 1, in-place): starts random, compared */
  ROLE_GRAD   /* accumulates a gradient: starts random, compared */
} Role;

typedef enum {
  FILL_UNIFORM, /* [−1, 1) */
  FILL_POSITIVE,/* [0.05, 1) */
  FILL_MASK,    /* 0 or 1, first row 1 */
  FILL_SPD,     /* range×range, diagonally dominant: positive definite, not symmetric */
  FILL_INDEX    /* gint32 in [0, range) */
} Fill;

typedef struct {
  gsize count;
  Role role;
  Fill fill;
  gint range;
  gint grad_of; /* ROLE_GRAD: the ROLE_DIFF buffer it is the gradient of */
} Buf;

typedef struct {
  Buf buf[MAX_BUFS];
  gint n;
  gint loss;  /* forward output that the gradient check weighs, −1: none */
  gint dout;  /* the buffer holding d loss / d out (R), −1: none */
} Layout;

static gint
add (Layout *l, gsize count, Role role, Fill fill)
{
  g_assert (l->n < MAX_BUFS);
  l->buf[l->n] = (Buf) { MAX (count, 1), role, fill, 0, -1 };
  return l->n++;
}

static gint
add_index (Layout *l, gsize count, gint range)
{
  gint i = add (l, count, ROLE_IN, FILL_INDEX);
  l->buf[i].range = range;
  return i;
}

static gint
add_grad (Layout *l, gint of)
{
  gint i = add (l, l->buf[of].count, ROLE_GRAD, FILL_UNIFORM);
  l->buf[i].grad_of = of;
  return i;
}

/* What a case's functions see: the table, its context, the buffers. */
typedef struct {
  const M3retBackendVTable *vt;
  gpointer self;
  gpointer mem[MAX_BUFS];
  const Dims *d;
} Run;

#define F(i) ((float *) r->mem[i])
#define I(i) ((const gint32 *) r->mem[i])

typedef struct {
  const gchar *name;
  /* buffers in a fixed order: the run functions index them by position */
  void (*layout) (const Dims *d, Layout *l);
  void (*forward) (Run *r);
  /* NULL: no gradient check */
  void (*backward) (Run *r);
  gdouble max_nmse;
} OpCase;

/* ---- gemm: C = α·op(A)·op(B), four transpositions, padded A and B ---- */

static const gfloat GEMM_ALPHA = 0.75f;

static void
gemm_layout (const Dims *d, Layout *l, gboolean ta, gboolean tb)
{
  /* stored shapes: A m×k (k×m when ta), B k×n (n×k when tb) */
  gsize a = (gsize) (ta ? d->k : d->m) * ((ta ? d->m : d->k) + d->pad);
  gsize b = (gsize) (tb ? d->n : d->k) * ((tb ? d->k : d->n) + d->pad);
  add (l, a, ROLE_DIFF, FILL_UNIFORM);                   /* 0 A */
  add (l, b, ROLE_DIFF, FILL_UNIFORM);                   /* 1 B */
  l->loss = add (l, (gsize) d->m * d->n, ROLE_OUT, FILL_UNIFORM); /* 2 C */
  l->dout = add (l, (gsize) d->m * d->n, ROLE_IN, FILL_UNIFORM);  /* 3 dC */
  add_grad (l, 0);                                       /* 4 dA */
  add_grad (l, 1);                                       /* 5 dB */
}

static void
gemm_forward (Run *r, gboolean ta, gboolean tb)
{
  const Dims *d = r->d;
  gint lda = (ta ? d->m : d->k) + d->pad, ldb = (tb ? d->k : d->n) + d->pad;
  r->vt->gemm (r->self, ta, tb, d->m, d->n, d->k, GEMM_ALPHA, F (0), lda, F (1), ldb, 0.0f, F (2),
               d->n);
}

static void
gemm_backward (Run *r, gboolean ta, gboolean tb)
{
  const Dims *d = r->d;
  gint lda = (ta ? d->m : d->k) + d->pad, ldb = (tb ? d->k : d->n) + d->pad, ldc = d->n;
  /* dA += α·dC·op(B)ᵀ (stored transposed when ta) */
  if (!ta)
    r->vt->gemm (r->self, FALSE, !tb, d->m, d->k, d->n, GEMM_ALPHA, F (3), ldc, F (1), ldb, 1.0f,
                 F (4), lda);
  else
    r->vt->gemm (r->self, tb, TRUE, d->k, d->m, d->n, GEMM_ALPHA, F (1), ldb, F (3), ldc, 1.0f,
                 F (4), lda);
  /* dB += α·op(A)ᵀ·dC (stored transposed when tb) */
  if (!tb)
    r->vt->gemm (r->self, !ta, FALSE, d->k, d->n, d->m, GEMM_ALPHA, F (0), lda, F (3), ldc, 1.0f,
                 F (5), ldb);
  else
    r->vt->gemm (r->self, TRUE, ta, d->n, d->k, d->m, GEMM_ALPHA, F (3), ldc, F (0), lda, 1.0f,
                 F (5), ldb);
}

static void l_gemm_nn (const Dims *d, Layout *l) { gemm_layout (d, l, FALSE, FALSE); }
static void l_gemm_nt (const Dims *d, Layout *l) { gemm_layout (d, l, FALSE, TRUE); }
static void l_gemm_tn (const Dims *d, Layout *l) { gemm_layout (d, l, TRUE, FALSE); }
static void l_gemm_tt (const Dims *d, Layout *l) { gemm_layout (d, l, TRUE, TRUE); }
static void f_gemm_nn (Run *r) { gemm_forward (r, FALSE, FALSE); }
static void f_gemm_nt (Run *r) { gemm_forward (r, FALSE, TRUE); }
static void f_gemm_tn (Run *r) { gemm_forward (r, TRUE, FALSE); }
static void f_gemm_tt (Run *r) { gemm_forward (r, TRUE, TRUE); }
static void b_gemm_nn (Run *r) { gemm_backward (r, FALSE, FALSE); }
static void b_gemm_nt (Run *r) { gemm_backward (r, FALSE, TRUE); }
static void b_gemm_tn (Run *r) { gemm_backward (r, TRUE, FALSE); }
static void b_gemm_tt (Run *r) { gemm_backward (r, TRUE, TRUE); }

/* C (padded) = 0.5·A·Bᵀ + C */
static void
l_gemm_beta (const Dims *d, Layout *l)
{
  add (l, (gsize) d->m * d->k, ROLE_IN, FILL_UNIFORM);
  add (l, (gsize) d->n * d->k, ROLE_IN, FILL_UNIFORM);
  add (l, (gsize) d->m * (d->n + d->pad), ROLE_ACC, FILL_UNIFORM);
}

static void
f_gemm_beta (Run *r)
{
  const Dims *d = r->d;
  r->vt->gemm (r->self, FALSE, TRUE, d->m, d->n, d->k, 0.5f, F (0), d->k, F (1), d->k, 1.0f, F (2),
               d->n + d->pad);
}

/* out = x·wᵀ + bias, WRITTEN over what out held: linear_fwd where the
 * backend has it, else the core's fallback (bias rows, then gemm β = 1) */
static void
l_linear (const Dims *d, Layout *l)
{
  add (l, (gsize) d->m * d->k, ROLE_IN, FILL_UNIFORM);           /* 0 x */
  add (l, (gsize) d->n * d->k, ROLE_IN, FILL_UNIFORM);           /* 1 w */
  add (l, (gsize) d->n, ROLE_IN, FILL_UNIFORM);                  /* 2 bias */
  l->loss = add (l, (gsize) d->m * d->n, ROLE_OUT, FILL_UNIFORM); /* 3 out */
}

static void
f_linear (Run *r)
{
  const Dims *d = r->d;
  if (r->vt->linear_fwd != NULL) {
    r->vt->linear_fwd (r->self, d->m, d->n, d->k, F (0), F (1), F (2), F (3));
    return;
  }
  r->vt->copy2d (r->self, d->m, d->n, F (2), 0, 0.0f, F (3), d->n);
  r->vt->gemm (r->self, FALSE, TRUE, d->m, d->n, d->k, 1.0f, F (0), d->k, F (1), d->k, 1.0f, F (3),
               d->n);
}

/* ---- elementwise ---- */

static void
l_fill (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_OUT, FILL_UNIFORM);
}

static void
f_fill (Run *r)
{
  r->vt->fill (r->self, F (0), r->d->len, -0.375f);
}

/* out = 1.25·x (b = 0 over NaN);  dx += 1.25·dout */
static void
l_axpby (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_DIFF, FILL_UNIFORM);
  l->loss = add (l, d->len, ROLE_OUT, FILL_UNIFORM);
  l->dout = add (l, d->len, ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);
}

static void f_axpby (Run *r) { r->vt->axpby (r->self, r->d->len, 1.25f, F (0), 0.0f, F (1)); }
static void b_axpby (Run *r) { r->vt->axpby (r->self, r->d->len, 1.25f, F (2), 1.0f, F (3)); }

/* y = −0.5·x + 0.75·y */
static void
l_axpby_blend (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_IN, FILL_UNIFORM);
  add (l, d->len, ROLE_ACC, FILL_UNIFORM);
}

static void f_axpby_blend (Run *r) { r->vt->axpby (r->self, r->d->len, -0.5f, F (0), 0.75f, F (1)); }

/* out = x + y[i mod ny];  dx += dout (axpby), dy += Σ_period dout (reduce_period) */
static void
l_add_bcast (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_DIFF, FILL_UNIFORM);
  add (l, d->period, ROLE_DIFF, FILL_UNIFORM);
  l->loss = add (l, d->len, ROLE_OUT, FILL_UNIFORM);
  l->dout = add (l, d->len, ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);
  add_grad (l, 1);
}

static void
f_add_bcast (Run *r)
{
  r->vt->add_bcast (r->self, r->d->len, F (0), r->d->period, F (1), F (2));
}

static void
b_add_bcast (Run *r)
{
  r->vt->axpby (r->self, r->d->len, 1.0f, F (3), 1.0f, F (4));
  r->vt->reduce_period (r->self, r->d->len, F (3), r->d->period, 1.0f, F (5));
}

/* x += y[i mod ny] in place (out aliases x) */
static void
l_add_bcast_inplace (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_ACC, FILL_UNIFORM);
  add (l, d->period, ROLE_IN, FILL_UNIFORM);
}

static void
f_add_bcast_inplace (Run *r)
{
  r->vt->add_bcast (r->self, r->d->len, F (0), r->d->period, F (1), F (0));
}

/* out = Σ_period x, beta 0 over NaN */
static void
l_reduce_period (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_IN, FILL_UNIFORM);
  add (l, d->period, ROLE_OUT, FILL_UNIFORM);
}

static void
f_reduce_period (Run *r)
{
  r->vt->reduce_period (r->self, r->d->len, F (0), r->d->period, 0.0f, F (1));
}

/* out = x·y;  dx += dout·y, dy += dout·x */
static void
l_mul (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_DIFF, FILL_UNIFORM);
  add (l, d->len, ROLE_DIFF, FILL_UNIFORM);
  l->loss = add (l, d->len, ROLE_OUT, FILL_UNIFORM);
  l->dout = add (l, d->len, ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);
  add_grad (l, 1);
}

static void f_mul (Run *r) { r->vt->mul (r->self, r->d->len, F (0), F (1), 0.0f, F (2)); }

static void
b_mul (Run *r)
{
  r->vt->mul (r->self, r->d->len, F (3), F (1), 1.0f, F (4));
  r->vt->mul (r->self, r->d->len, F (3), F (0), 1.0f, F (5));
}

/* out = s·x;  dx += s·dout, ds += Σ dout·x (mul into scratch, sum_fwd beta 1) */
static void
l_scale_by (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_DIFF, FILL_UNIFORM);  /* 0 x */
  add (l, 1, ROLE_DIFF, FILL_UNIFORM);       /* 1 s */
  l->loss = add (l, d->len, ROLE_OUT, FILL_UNIFORM);
  l->dout = add (l, d->len, ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);                           /* 4 */
  add_grad (l, 1);                           /* 5 */
  add (l, d->len, ROLE_OUT, FILL_UNIFORM);   /* 6 scratch */
}

static void f_scale_by (Run *r) { r->vt->scale_by (r->self, r->d->len, F (0), F (1), 0.0f, F (2)); }

static void
b_scale_by (Run *r)
{
  r->vt->scale_by (r->self, r->d->len, F (3), F (1), 1.0f, F (4));
  r->vt->mul (r->self, r->d->len, F (3), F (0), 0.0f, F (6));
  r->vt->sum_fwd (r->self, r->d->len, F (6), 1.0f, F (5));
}

static void
l_unary (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_DIFF, FILL_UNIFORM);
  l->loss = add (l, d->len, ROLE_OUT, FILL_UNIFORM);
  l->dout = add (l, d->len, ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);
}

static void f_gelu (Run *r) { r->vt->gelu_fwd (r->self, r->d->len, F (0), F (1)); }
static void b_gelu (Run *r) { r->vt->gelu_bwd (r->self, r->d->len, F (0), F (2), F (3)); }

/* out = Σx;  dx += dout[0] through add_bcast with out aliasing x */
static void
l_sum (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_DIFF, FILL_UNIFORM);
  l->loss = add (l, 1, ROLE_OUT, FILL_UNIFORM);
  l->dout = add (l, 1, ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);
}

static void f_sum (Run *r) { r->vt->sum_fwd (r->self, r->d->len, F (0), 0.0f, F (1)); }
static void b_sum (Run *r) { r->vt->add_bcast (r->self, r->d->len, F (3), 1, F (2), F (3)); }

static void
l_sum_beta (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_IN, FILL_UNIFORM);
  add (l, 1, ROLE_ACC, FILL_UNIFORM);
}

static void f_sum_beta (Run *r) { r->vt->sum_fwd (r->self, r->d->len, F (0), 1.0f, F (1)); }

/* Σ x², a host double, uploaded for comparison */
static void
l_sumsq (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_IN, FILL_UNIFORM);
  add (l, 1, ROLE_OUT, FILL_UNIFORM);
}

static void
f_sumsq (Run *r)
{
  float v = (float) r->vt->sumsq (r->self, r->d->len, F (0));
  r->vt->upload (r->self, F (1), &v, sizeof v);
}

/* ---- rows ---- */

static void
l_layernorm (const Dims *d, Layout *l)
{
  gsize n = (gsize) d->rows * d->cols;
  add (l, n, ROLE_DIFF, FILL_UNIFORM);          /* 0 x */
  add (l, d->cols, ROLE_DIFF, FILL_UNIFORM);    /* 1 gamma */
  add (l, d->cols, ROLE_DIFF, FILL_UNIFORM);    /* 2 beta */
  l->loss = add (l, n, ROLE_OUT, FILL_UNIFORM); /* 3 out */
  add (l, d->rows, ROLE_OUT, FILL_UNIFORM);     /* 4 mean */
  add (l, d->rows, ROLE_OUT, FILL_UNIFORM);     /* 5 rstd */
  l->dout = add (l, n, ROLE_IN, FILL_UNIFORM);  /* 6 dout */
  add_grad (l, 0);                              /* 7 */
  add_grad (l, 1);                              /* 8 */
  add_grad (l, 2);                              /* 9 */
}

static void
f_layernorm (Run *r)
{
  r->vt->layernorm_fwd (r->self, r->d->rows, r->d->cols, 1e-5f, F (0), F (1), F (2), F (3), F (4),
                        F (5));
}

static void
b_layernorm (Run *r)
{
  r->vt->layernorm_bwd (r->self, r->d->rows, r->d->cols, F (0), F (1), F (4), F (5), F (6), F (7),
                        F (8), F (9));
}

/* layernorm_bwd with dx only, then with the parameters only (NULLs) */
static void
l_layernorm_split (const Dims *d, Layout *l)
{
  l_layernorm (d, l);
}

static void
b_layernorm_split (Run *r)
{
  r->vt->layernorm_bwd (r->self, r->d->rows, r->d->cols, F (0), F (1), F (4), F (5), F (6), F (7),
                        NULL, NULL);
  r->vt->layernorm_bwd (r->self, r->d->rows, r->d->cols, F (0), F (1), F (4), F (5), F (6), NULL,
                        F (8), NULL);
  r->vt->layernorm_bwd (r->self, r->d->rows, r->d->cols, F (0), F (1), F (4), F (5), F (6), NULL,
                        NULL, F (9));
}

/* ---- fused entries: a backend without one runs the separate entries
 * here, so a target lacking it is still compared with cpu's fused one ---- */

/* sum = x + y, out = layernorm(sum); the backward through layernorm_bwd
 * and the add checks the saved sum, mean and rstd against differences */
static void
l_add_layernorm (const Dims *d, Layout *l)
{
  gsize n = (gsize) d->rows * d->cols;
  add (l, n, ROLE_DIFF, FILL_UNIFORM);          /* 0 x */
  add (l, n, ROLE_DIFF, FILL_UNIFORM);          /* 1 y */
  add (l, d->cols, ROLE_IN, FILL_UNIFORM);      /* 2 gamma */
  add (l, d->cols, ROLE_IN, FILL_UNIFORM);      /* 3 beta */
  add (l, n, ROLE_OUT, FILL_UNIFORM);           /* 4 sum */
  l->loss = add (l, n, ROLE_OUT, FILL_UNIFORM); /* 5 out */
  add (l, d->rows, ROLE_OUT, FILL_UNIFORM);     /* 6 mean */
  add (l, d->rows, ROLE_OUT, FILL_UNIFORM);     /* 7 rstd */
  l->dout = add (l, n, ROLE_IN, FILL_UNIFORM);  /* 8 dout */
  add_grad (l, 0);                              /* 9 */
  add_grad (l, 1);                              /* 10 */
  add (l, n, ROLE_OUT, FILL_UNIFORM);           /* 11 d sum */
}

static void
f_add_layernorm (Run *r)
{
  gint rows = r->d->rows, cols = r->d->cols;
  if (r->vt->add_layernorm_fwd != NULL) {
    r->vt->add_layernorm_fwd (r->self, rows, cols, 1e-5f, F (0), F (1), F (2), F (3), F (4), F (5),
                              F (6), F (7));
    return;
  }
  gsize n = (gsize) rows * cols;
  r->vt->add_bcast (r->self, n, F (0), n, F (1), F (4));
  r->vt->layernorm_fwd (r->self, rows, cols, 1e-5f, F (4), F (2), F (3), F (5), F (6), F (7));
}

static void
b_add_layernorm (Run *r)
{
  gsize n = (gsize) r->d->rows * r->d->cols;
  r->vt->fill (r->self, F (11), n, 0.0f);
  r->vt->layernorm_bwd (r->self, r->d->rows, r->d->cols, F (4), F (2), F (6), F (7), F (8), F (11),
                        NULL, NULL);
  r->vt->axpby (r->self, n, 1.0f, F (11), 1.0f, F (9));
  r->vt->axpby (r->self, n, 1.0f, F (11), 1.0f, F (10));
}

/* out = GELU(x + bias) over rows; bias_gelu_bwd in place on a copy of
 * dout, as the core calls it */
static void
l_bias_gelu (const Dims *d, Layout *l)
{
  gsize n = (gsize) d->rows * d->cols;
  add (l, n, ROLE_DIFF, FILL_UNIFORM);          /* 0 x */
  add (l, d->cols, ROLE_DIFF, FILL_UNIFORM);    /* 1 bias */
  add (l, n, ROLE_OUT, FILL_UNIFORM);           /* 2 x + bias */
  l->loss = add (l, n, ROLE_OUT, FILL_UNIFORM); /* 3 out */
  l->dout = add (l, n, ROLE_IN, FILL_UNIFORM);  /* 4 dout */
  add_grad (l, 0);                              /* 5 */
  add_grad (l, 1);                              /* 6 */
  add (l, n, ROLE_OUT, FILL_UNIFORM);           /* 7 d pre-activation */
}

static void
f_bias_gelu (Run *r)
{
  gsize n = (gsize) r->d->rows * r->d->cols;
  r->vt->add_bcast (r->self, n, F (0), (gsize) r->d->cols, F (1), F (2));
  r->vt->gelu_fwd (r->self, n, F (2), F (3));
}

static void
b_bias_gelu (Run *r)
{
  gint rows = r->d->rows, cols = r->d->cols;
  gsize n = (gsize) rows * cols;
  if (r->vt->bias_gelu_bwd != NULL) {
    r->vt->copy2d (r->self, rows, cols, F (4), cols, 0.0f, F (7), cols);
    r->vt->bias_gelu_bwd (r->self, rows, cols, F (2), F (7), F (7), F (6));
  } else {
    r->vt->fill (r->self, F (7), n, 0.0f);
    r->vt->gelu_bwd (r->self, n, F (2), F (4), F (7));
    r->vt->reduce_period (r->self, n, F (7), (gsize) cols, 1.0f, F (6));
  }
  r->vt->axpby (r->self, n, 1.0f, F (7), 1.0f, F (5));
}

static void
l_rowwise (const Dims *d, Layout *l)
{
  gsize n = (gsize) d->rows * d->cols;
  add (l, n, ROLE_DIFF, FILL_UNIFORM);
  l->loss = add (l, n, ROLE_OUT, FILL_UNIFORM);
  l->dout = add (l, n, ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);
}

static void f_softmax (Run *r) { r->vt->softmax_fwd (r->self, r->d->rows, r->d->cols, F (0), F (1)); }
static void b_softmax (Run *r) { r->vt->softmax_bwd (r->self, r->d->rows, r->d->cols, F (1), F (2), F (3)); }
static void f_l2norm (Run *r) { r->vt->l2norm_fwd (r->self, r->d->rows, r->d->cols, 1e-6f, F (0), F (1)); }
static void b_l2norm (Run *r) { r->vt->l2norm_bwd (r->self, r->d->rows, r->d->cols, 1e-6f, F (0), F (2), F (3)); }

/* out = x[idx];  dx[idx] += dout (repeated indices) */
static void
l_gather (const Dims *d, Layout *l)
{
  add (l, (gsize) d->src_rows * d->cols, ROLE_DIFF, FILL_UNIFORM);
  add_index (l, (gsize) d->rows, d->src_rows);
  l->loss = add (l, (gsize) d->rows * d->cols, ROLE_OUT, FILL_UNIFORM);
  l->dout = add (l, (gsize) d->rows * d->cols, ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);
}

static void
f_gather (Run *r)
{
  r->vt->gather_rows (r->self, r->d->rows, r->d->cols, F (0), I (1), F (2));
}

static void
b_gather (Run *r)
{
  r->vt->scatter_add_rows (r->self, r->d->rows, r->d->cols, F (3), I (1), F (4));
}

/* dst[:, :cols] = src[:, :cols] between padded matrices;  dsrc += ddst */
static void
l_copy2d (const Dims *d, Layout *l)
{
  add (l, (gsize) d->rows * (d->cols + d->pad + 1), ROLE_DIFF, FILL_UNIFORM);
  /* padding keeps its random start, so dst is ACC rather than OUT */
  l->loss = add (l, (gsize) d->rows * (d->cols + 2), ROLE_ACC, FILL_UNIFORM);
  l->dout = add (l, (gsize) d->rows * (d->cols + 2), ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);
}

static void
f_copy2d (Run *r)
{
  const Dims *d = r->d;
  r->vt->copy2d (r->self, d->rows, d->cols, F (0), d->cols + d->pad + 1, 0.0f, F (1), d->cols + 2);
}

static void
b_copy2d (Run *r)
{
  const Dims *d = r->d;
  r->vt->copy2d (r->self, d->rows, d->cols, F (2), d->cols + 2, 1.0f, F (3), d->cols + d->pad + 1);
}

/* out[b] = 0.6·Σ_n x[b, n];  dx[b, n] += 0.6·dout[b] */
static void
l_reduce_mid (const Dims *d, Layout *l)
{
  add (l, (gsize) d->outer * d->inner * d->cols, ROLE_DIFF, FILL_UNIFORM);
  l->loss = add (l, (gsize) d->outer * d->cols, ROLE_OUT, FILL_UNIFORM);
  l->dout = add (l, (gsize) d->outer * d->cols, ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);
}

static void
f_reduce_mid (Run *r)
{
  const Dims *d = r->d;
  r->vt->reduce_mid (r->self, d->outer, d->inner, d->cols, 0.6f, F (0), 0.0f, F (1));
}

static void
b_reduce_mid (Run *r)
{
  const Dims *d = r->d;
  r->vt->expand_mid (r->self, d->outer, d->inner, d->cols, 0.6f, F (2), F (3));
}

static void
l_reduce_mid_beta (const Dims *d, Layout *l)
{
  add (l, (gsize) d->outer * d->inner * d->cols, ROLE_IN, FILL_UNIFORM);
  add (l, (gsize) d->outer * d->cols, ROLE_ACC, FILL_UNIFORM);
}

static void
f_reduce_mid_beta (Run *r)
{
  const Dims *d = r->d;
  r->vt->reduce_mid (r->self, d->outer, d->inner, d->cols, -1.5f, F (0), 1.0f, F (1));
}

/* ---- attention ---- */

static M3retAttentionShape
attention_shape (const Dims *d)
{
  M3retAttentionShape s = { d->batch, d->tokens, d->heads * d->hd, d->heads,
                            (gfloat) (1.0 / sqrt ((double) d->hd)) };
  return s;
}

static void
l_attention (const Dims *d, Layout *l)
{
  gsize rows = (gsize) d->batch * d->tokens, dim = (gsize) d->heads * d->hd;
  add (l, rows * 3 * dim, ROLE_DIFF, FILL_UNIFORM);                                   /* 0 qkv */
  add (l, (gsize) d->batch * d->heads * d->tokens * d->tokens, ROLE_OUT, FILL_UNIFORM); /* 1 P */
  l->loss = add (l, rows * dim, ROLE_OUT, FILL_UNIFORM);                              /* 2 out */
  l->dout = add (l, rows * dim, ROLE_IN, FILL_UNIFORM);                               /* 3 */
  add_grad (l, 0);                                                                    /* 4 */
}

static void
f_attention (Run *r)
{
  M3retAttentionShape s = attention_shape (r->d);
  r->vt->attention_fwd (r->self, &s, F (0), F (1), F (2));
}

static void
b_attention (Run *r)
{
  M3retAttentionShape s = attention_shape (r->d);
  r->vt->attention_bwd (r->self, &s, F (0), F (1), F (3), F (4));
}

/* ---- losses ---- */

static void
mse_layout (const Dims *d, Layout *l, gboolean masked)
{
  gsize n = (gsize) d->rows * d->cols;
  add (l, n, ROLE_DIFF, FILL_UNIFORM);                      /* 0 x */
  add (l, n, ROLE_DIFF, FILL_UNIFORM);                      /* 1 y */
  add (l, (gsize) d->rows, ROLE_IN, masked ? FILL_MASK : FILL_POSITIVE); /* 2 mask */
  l->loss = add (l, 1, ROLE_OUT, FILL_UNIFORM);             /* 3 */
  l->dout = add (l, 1, ROLE_IN, FILL_UNIFORM);              /* 4 */
  add_grad (l, 0);                                          /* 5 */
  add_grad (l, 1);                                          /* 6 */
}

static void l_mse (const Dims *d, Layout *l) { mse_layout (d, l, FALSE); }
static void l_mse_masked (const Dims *d, Layout *l) { mse_layout (d, l, TRUE); }

static void f_mse (Run *r) { r->vt->mse_fwd (r->self, r->d->rows, r->d->cols, F (0), F (1), NULL, F (3)); }
static void b_mse (Run *r) { r->vt->mse_bwd (r->self, r->d->rows, r->d->cols, F (0), F (1), NULL, F (4), F (5), F (6)); }
static void f_mse_masked (Run *r) { r->vt->mse_fwd (r->self, r->d->rows, r->d->cols, F (0), F (1), F (2), F (3)); }

static void
b_mse_masked (Run *r)
{
  /* dy alone, then dx alone: each may be NULL */
  r->vt->mse_bwd (r->self, r->d->rows, r->d->cols, F (0), F (1), F (2), F (4), NULL, F (6));
  r->vt->mse_bwd (r->self, r->d->rows, r->d->cols, F (0), F (1), F (2), F (4), F (5), NULL);
}

static const gfloat LOGDET_C = 0.7f;

static void
l_logdet (const Dims *d, Layout *l)
{
  add (l, (gsize) d->rows * d->p, ROLE_DIFF, FILL_UNIFORM);  /* 0 z */
  l->loss = add (l, 1, ROLE_OUT, FILL_UNIFORM);              /* 1 */
  add (l, (gsize) d->p * d->p, ROLE_OUT, FILL_UNIFORM);      /* 2 inv */
  l->dout = add (l, 1, ROLE_IN, FILL_UNIFORM);               /* 3 */
  add_grad (l, 0);                                           /* 4 */
}

static void
f_logdet (Run *r)
{
  r->vt->logdet_fwd (r->self, r->d->rows, r->d->p, LOGDET_C, F (0), F (1), F (2));
}

static void
b_logdet (Run *r)
{
  r->vt->logdet_bwd (r->self, r->d->rows, r->d->p, LOGDET_C, F (0), F (2), F (3), F (4));
}

/* ---- general ops (ABI minor 5, optional entries) ---- */

static void
l_unary_positive (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_DIFF, FILL_POSITIVE);
  l->loss = add (l, d->len, ROLE_OUT, FILL_UNIFORM);
  l->dout = add (l, d->len, ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);
}

/* exp's backward is the core's mul by the output */
static void f_exp (Run *r) { ck_assert (r->vt->exp_fwd (r->self, r->d->len, F (0), F (1), NULL)); }
static void b_exp (Run *r) { r->vt->mul (r->self, r->d->len, F (2), F (1), 1.0f, F (3)); }
static void f_log (Run *r) { ck_assert (r->vt->log_fwd (r->self, r->d->len, F (0), F (1), NULL)); }
static void b_log (Run *r) { ck_assert (r->vt->log_bwd (r->self, r->d->len, F (0), F (2), F (3), NULL)); }

/* out[r] = log Σ_c exp x[r,c] (rows values) */
static void
l_logsumexp (const Dims *d, Layout *l)
{
  add (l, (gsize) d->rows * d->cols, ROLE_DIFF, FILL_UNIFORM);
  l->loss = add (l, (gsize) d->rows, ROLE_OUT, FILL_UNIFORM);
  l->dout = add (l, (gsize) d->rows, ROLE_IN, FILL_UNIFORM);
  add_grad (l, 0);
}

static void
f_logsumexp (Run *r)
{
  ck_assert (r->vt->logsumexp_fwd (r->self, r->d->rows, r->d->cols, F (0), F (1), NULL));
}

static void
b_logsumexp (Run *r)
{
  ck_assert (
      r->vt->logsumexp_bwd (r->self, r->d->rows, r->d->cols, F (0), F (1), F (2), F (3), NULL));
}

/* ---- general linear algebra (ABI minor 6, optional) ---- */

/* logdet of (A + Aᵀ)/2; the backward is the core's scale_by of the inverse */
static void
l_cholesky_logdet (const Dims *d, Layout *l)
{
  gint a = add (l, (gsize) d->p * d->p, ROLE_DIFF, FILL_SPD); /* 0 A */
  l->buf[a].range = d->p;
  l->loss = add (l, 1, ROLE_OUT, FILL_UNIFORM);               /* 1 */
  add (l, (gsize) d->p * d->p, ROLE_OUT, FILL_UNIFORM);       /* 2 inv */
  l->dout = add (l, 1, ROLE_IN, FILL_UNIFORM);                /* 3 */
  add_grad (l, 0);                                            /* 4 */
}

static void
f_cholesky_logdet (Run *r)
{
  g_autoptr (GError) error = NULL;
  ck_assert_msg (r->vt->cholesky_logdet_fwd (r->self, r->d->p, F (0), F (1), F (2), &error), "%s",
                 error ? error->message : "");
}

static void
b_cholesky_logdet (Run *r)
{
  r->vt->scale_by (r->self, (gsize) r->d->p * r->d->p, F (2), F (3), 1.0f, F (4));
}

/* ---- optimiser ---- */

static void
l_adamw (const Dims *d, Layout *l)
{
  add (l, d->len, ROLE_ACC, FILL_UNIFORM);   /* param */
  add (l, d->len, ROLE_IN, FILL_UNIFORM);    /* grad */
  add (l, d->len, ROLE_ACC, FILL_UNIFORM);   /* m */
  add (l, d->len, ROLE_ACC, FILL_POSITIVE);  /* v */
}

static void
f_adamw (Run *r)
{
  r->vt->adamw (r->self, r->d->len, F (0), F (1), F (2), F (3), 1e-2f, 0.9f, 0.95f, 1e-8f, 0.05f, 3);
}

#define NMSE 1e-9

static const OpCase op_cases[] = {
  { "gemm_nn", l_gemm_nn, f_gemm_nn, b_gemm_nn, NMSE },
  { "gemm_nt", l_gemm_nt, f_gemm_nt, b_gemm_nt, NMSE },
  { "gemm_tn", l_gemm_tn, f_gemm_tn, b_gemm_tn, NMSE },
  { "gemm_tt", l_gemm_tt, f_gemm_tt, b_gemm_tt, NMSE },
  { "gemm_beta1_padded_c", l_gemm_beta, f_gemm_beta, NULL, NMSE },
  { "fill", l_fill, f_fill, NULL, NMSE },
  { "axpby", l_axpby, f_axpby, b_axpby, NMSE },
  { "axpby_blend", l_axpby_blend, f_axpby_blend, NULL, NMSE },
  { "add_bcast/reduce_period", l_add_bcast, f_add_bcast, b_add_bcast, NMSE },
  { "add_bcast_in_place", l_add_bcast_inplace, f_add_bcast_inplace, NULL, NMSE },
  { "reduce_period_beta0", l_reduce_period, f_reduce_period, NULL, NMSE },
  { "mul", l_mul, f_mul, b_mul, NMSE },
  { "scale_by", l_scale_by, f_scale_by, b_scale_by, NMSE },
  { "gelu", l_unary, f_gelu, b_gelu, NMSE },
  { "sum/add_bcast_alias", l_sum, f_sum, b_sum, NMSE },
  { "sum_beta1", l_sum_beta, f_sum_beta, NULL, NMSE },
  { "sumsq", l_sumsq, f_sumsq, NULL, NMSE },
  { "layernorm", l_layernorm, f_layernorm, b_layernorm, NMSE },
  { "layernorm_null_grads", l_layernorm_split, f_layernorm, b_layernorm_split, NMSE },
  { "softmax", l_rowwise, f_softmax, b_softmax, NMSE },
  { "l2norm", l_rowwise, f_l2norm, b_l2norm, NMSE },
  { "gather_rows/scatter_add_rows", l_gather, f_gather, b_gather, NMSE },
  { "copy2d", l_copy2d, f_copy2d, b_copy2d, NMSE },
  { "reduce_mid/expand_mid", l_reduce_mid, f_reduce_mid, b_reduce_mid, NMSE },
  { "reduce_mid_beta1", l_reduce_mid_beta, f_reduce_mid_beta, NULL, NMSE },
  { "attention", l_attention, f_attention, b_attention, NMSE },
  { "mse", l_mse, f_mse, b_mse, NMSE },
  { "mse_masked", l_mse_masked, f_mse_masked, b_mse_masked, NMSE },
  { "logdet", l_logdet, f_logdet, b_logdet, NMSE },
  { "adamw", l_adamw, f_adamw, NULL, NMSE },
  { "add_layernorm (fused)", l_add_layernorm, f_add_layernorm, b_add_layernorm, NMSE },
  { "bias_gelu_bwd (fused)", l_bias_gelu, f_bias_gelu, b_bias_gelu, NMSE },
  { "linear_fwd (fused)", l_linear, f_linear, NULL, NMSE },
  /* ABI minor 5 */
  { "exp_fwd", l_unary, f_exp, b_exp, NMSE },
  { "log_fwd/log_bwd", l_unary_positive, f_log, b_log, NMSE },
  { "logsumexp_fwd/logsumexp_bwd", l_logsumexp, f_logsumexp, b_logsumexp, NMSE },
  /* general linear algebra (ABI minor 6) */
  { "cholesky_logdet_fwd", l_cholesky_logdet, f_cholesky_logdet, b_cholesky_logdet, NMSE },
};

/* --------------------------------------------------------------- harness */

/* One case's buffers on one device: a single block, sub-allocated at
 * 64-byte steps, and the host copies of what each buffer starts as. */
typedef struct {
  M3retDevice *device;
  const M3retBackendVTable *vt;
  gpointer self;
  gpointer block;
  Run run;
} Placed;

static gsize
buf_bytes (const Buf *b)
{
  return (b->count * sizeof (float) + 63) & ~(gsize) 63;
}

static void
place (Placed *p, M3retDevice *device, const Layout *l, const Dims *d)
{
  g_autoptr (GError) error = NULL;
  gsize total = 0;
  for (gint i = 0; i < l->n; i++)
    total += buf_bytes (&l->buf[i]);
  p->device = device;
  p->vt = m3ret_device_get_vtable (device);
  p->self = m3ret_device_get_context (device);
  p->block = m3ret_device_alloc (device, total, &error);
  ck_assert_msg (p->block != NULL, "alloc: %s", error ? error->message : "");
  p->run.vt = p->vt;
  p->run.self = p->self;
  p->run.d = d;
  gsize offset = 0;
  for (gint i = 0; i < l->n; i++) {
    p->run.mem[i] = (char *) p->block + offset;
    offset += buf_bytes (&l->buf[i]);
  }
}

static void
unplace (Placed *p)
{
  m3ret_device_free_mem (p->device, p->block);
}

/* Host start values of every buffer (floats, or gint32 for indices). */
static float **
draw_start (const Layout *l, M3retRng *rng)
{
  float **host = g_new0 (float *, l->n);
  for (gint i = 0; i < l->n; i++) {
    const Buf *b = &l->buf[i];
    host[i] = g_new (float, b->count);
    switch (b->fill) {
    case FILL_INDEX:
      for (gsize e = 0; e < b->count; e++)
        ((gint32 *) host[i])[e] = (gint32) m3ret_rng_below (rng, (guint64) b->range);
      break;
    case FILL_MASK:
      for (gsize e = 0; e < b->count; e++)
        host[i][e] = (e == 0 || m3ret_rng_below (rng, 3) != 0) ? 1.0f : 0.0f;
      break;
    case FILL_POSITIVE:
      m3ret_rng_fill_uniform (rng, host[i], b->count, 0.05f, 1.0f);
      break;
    case FILL_SPD:
      m3ret_rng_fill_uniform (rng, host[i], b->count, -0.5f, 0.5f);
      for (gint e = 0; e < b->range; e++)
        host[i][(gsize) e * b->range + e] += (gfloat) b->range;
      break;
    case FILL_UNIFORM:
      m3ret_rng_fill_uniform (rng, host[i], b->count, -1.0f, 1.0f);
      break;
    }
    if (b->role == ROLE_OUT)
      for (gsize e = 0; e < b->count; e++)
        host[i][e] = NAN;
  }
  return host;
}

static void
free_start (const Layout *l, float **host)
{
  for (gint i = 0; i < l->n; i++)
    g_free (host[i]);
  g_free (host);
}

static void
upload_all (Placed *p, const Layout *l, float **host)
{
  for (gint i = 0; i < l->n; i++)
    m3ret_device_upload (p->device, p->run.mem[i], host[i], l->buf[i].count * sizeof (float));
}

static float *
download (Placed *p, const Layout *l, gint i)
{
  float *out = g_new (float, l->buf[i].count);
  m3ret_device_download (p->device, out, p->run.mem[i], l->buf[i].count * sizeof (float));
  return out;
}

static gboolean
compared (const Buf *b)
{
  return b->role == ROLE_OUT || b->role == ROLE_ACC || b->role == ROLE_GRAD;
}

/* Σ(a−b)²/Σb², in double; NaN anywhere makes it infinite. */
static gdouble
nmse (const float *a, const float *b, gsize n)
{
  gdouble num = 0, den = 0;
  for (gsize i = 0; i < n; i++) {
    if (isnan (a[i]) || isnan (b[i]))
      return INFINITY;
    gdouble e = (gdouble) a[i] - b[i];
    num += e * e;
    den += (gdouble) b[i] * b[i];
  }
  return den > 0 ? num / den : num;
}

/* Runs @c's forward then backward on the target and on the reference from
 * the same start; compares every written buffer. */
static void
compare_case (const Target *t, M3retDevice *target, M3retDevice *reference, const OpCase *c,
              const Dims *d, const Layout *l, float **start)
{
  Placed pt, pr;
  place (&pt, target, l, d);
  place (&pr, reference, l, d);
  upload_all (&pt, l, start);
  upload_all (&pr, l, start);
  c->forward (&pt.run);
  c->forward (&pr.run);
  if (c->backward != NULL) {
    c->backward (&pt.run);
    c->backward (&pr.run);
  }
  m3ret_device_synchronize (target);
  for (gint i = 0; i < l->n; i++) {
    if (!compared (&l->buf[i]))
      continue;
    float *got = download (&pt, l, i), *want = download (&pr, l, i);
    gdouble err = nmse (got, want, l->buf[i].count);
    ck_assert_msg (err <= c->max_nmse,
                   "%s: %s%s buffer %d (%" G_GSIZE_FORMAT " values): NMSE %g > %g against cpu",
                   t->label, c->name, d->large ? " (large)" : "", i, l->buf[i].count, err,
                   c->max_nmse);
    g_free (got);
    g_free (want);
  }
  unplace (&pt);
  unplace (&pr);
}

/* Σ out ⊙ R after the forward from @host (which the caller perturbed) */
static gdouble
weighted_loss (Placed *p, const OpCase *c, const Layout *l, float **host)
{
  upload_all (p, l, host);
  c->forward (&p->run);
  float *out = download (p, l, l->loss);
  gdouble loss = 0;
  for (gsize e = 0; e < l->buf[l->loss].count; e++)
    loss += (gdouble) out[e] * host[l->dout][e];
  g_free (out);
  return loss;
}

/* The loss the finite differences take: the forward from the perturbed start. */
typedef struct {
  Placed *p;
  const OpCase *c;
  const Layout *l;
  float **start;
} WeightedLoss;

static gdouble
weighted_loss_of (gpointer user_data)
{
  WeightedLoss *w = user_data;
  return weighted_loss (w->p, w->c, w->l, w->start);
}

/* The target's backward entries against central differences of its own
 * forward entries, for every ROLE_DIFF buffer. */
static void
check_gradients (const Target *t, M3retDevice *target, const OpCase *c, const Dims *d,
                 const Layout *l, float **start)
{
  Placed p;
  place (&p, target, l, d);
  upload_all (&p, l, start);
  c->forward (&p.run);
  c->backward (&p.run);
  /* every gradient first: the finite differences rewrite every buffer */
  float *after_all[MAX_BUFS] = { NULL };
  for (gint g = 0; g < l->n; g++)
    if (l->buf[g].role == ROLE_GRAD)
      after_all[g] = download (&p, l, g);
  for (gint g = 0; g < l->n; g++) {
    if (l->buf[g].role != ROLE_GRAD)
      continue;
    gint x = l->buf[g].grad_of;
    float *after = after_all[g];
    /* every entry; the gradient buffer accumulates onto its start */
    g_autofree gchar *what = g_strdup_printf ("%s: %s", t->label, c->name);
    g_autofree gchar *name = g_strdup_printf ("buffer %d (gradient buffer %d)", x, g);
    WeightedLoss w = { &p, c, l, start };
    const M3retCheckGrad spec = { .what = what, .loss = weighted_loss_of, .user_data = &w,
                                  .step = 2e-3f, .rule = M3RET_CHECK_GRAD_NORM, .tol = 2e-3 };
    const M3retCheckGradTensor buf = { .name = name, .values = start[x], .n = l->buf[x].count,
                                       .grad = after, .grad_before = start[g] };
    m3ret_check_gradient (&spec, &buf, 1);
    g_free (after);
  }
  unplace (&p);
}

START_TEST (test_op)
{
  const OpCase *c = &op_cases[_i];
  M3retDevice *reference = open_reference ();
  for (guint ti = 0; ti < targets->len; ti++) {
    const Target *t = targets->pdata[ti];
    M3retDevice *target = open_target (t);
    if (target == NULL)
      continue;
    /* fresh inputs for every target; the seed says which case and target */
    M3retRng rng;
    m3ret_rng_init (&rng, 7000 + (guint64) _i * 31 + ti, 0);
    for (gint large = 0; large <= 1; large++) {
      Dims d;
      Layout l = { .loss = -1, .dout = -1 };
      draw_dims (&d, &rng, large);
      c->layout (&d, &l);
      float **start = draw_start (&l, &rng);
      compare_case (t, target, reference, c, &d, &l, start);
      if (c->backward != NULL && !large)
        check_gradients (t, target, c, &d, &l, start);
      free_start (&l, start);
    }
    m3ret_device_free (target);
  }
  m3ret_device_free (reference);
}
END_TEST

/* attention_fwd without probs (ABI minor 2: nothing will run backward) on
 * each target against the same target with probs and against the
 * reference with probs.  Token counts that are not multiples of the cpu
 * backend's flash blocks (128 queries × 512 keys): one token, small odd
 * ones, 65, 513 (five query blocks, two key blocks: the CT case) and 1030
 * (three key blocks); inputs spread over [−3, 3] so the running max
 * moves. */
static float *
attention_out (M3retDevice *device, const M3retAttentionShape *s, const float *qkv_host,
               gboolean with_probs)
{
  const M3retBackendVTable *vt = m3ret_device_get_vtable (device);
  gsize n_qkv = (gsize) s->batch * s->tokens * 3 * s->dim;
  gsize n_out = (gsize) s->batch * s->tokens * s->dim;
  gsize n_p = with_probs ? (gsize) s->batch * s->heads * s->tokens * s->tokens : 0;
  g_autoptr (GError) error = NULL;
  float *mem = m3ret_device_alloc (device, sizeof (float) * (n_qkv + n_out + n_p), &error);
  ck_assert_msg (mem != NULL, "alloc: %s", error ? error->message : "");
  float *out = g_new (float, n_out);
  for (gsize i = 0; i < n_out; i++)
    out[i] = NAN; /* every output must be written */
  m3ret_device_upload (device, mem, qkv_host, sizeof (float) * n_qkv);
  m3ret_device_upload (device, mem + n_qkv, out, sizeof (float) * n_out);
  vt->attention_fwd (m3ret_device_get_context (device), s, mem,
                     with_probs ? mem + n_qkv + n_out : NULL, mem + n_qkv);
  m3ret_device_download (device, out, mem + n_qkv, sizeof (float) * n_out);
  m3ret_device_free_mem (device, mem);
  return out;
}

START_TEST (test_attention_without_probs)
{
  static const gint shapes[][4] = { /* batch, tokens, heads, head dim */
    { 2, 1, 2, 3 }, { 3, 7, 3, 5 }, { 2, 65, 3, 64 }, { 2, 513, 2, 16 }, { 1, 1030, 1, 4 },
  };
  M3retDevice *reference = open_reference ();
  for (guint ti = 0; ti < targets->len; ti++) {
    const Target *t = targets->pdata[ti];
    M3retDevice *target = open_target (t);
    if (target == NULL)
      continue;
    M3retRng rng;
    m3ret_rng_init (&rng, 8100 + ti, 0);
    for (guint i = 0; i < G_N_ELEMENTS (shapes); i++) {
      const gint *sh = shapes[i];
      M3retAttentionShape s = { sh[0], sh[1], sh[2] * sh[3], sh[2],
                                (gfloat) (1.0 / sqrt ((double) sh[3])) };
      gsize n_qkv = (gsize) s.batch * s.tokens * 3 * s.dim, n_out = n_qkv / 3;
      float *qkv = g_new (float, n_qkv);
      m3ret_rng_fill_uniform (&rng, qkv, n_qkv, -3.0f, 3.0f);
      float *lean = attention_out (target, &s, qkv, FALSE);
      float *full = attention_out (target, &s, qkv, TRUE);
      float *want = attention_out (reference, &s, qkv, TRUE);
      gdouble own = nmse (lean, full, n_out), ref = nmse (lean, want, n_out);
      ck_assert_msg (own <= NMSE && ref <= NMSE,
                     "%s: attention without probs, %d×%d tokens, %d heads of %d: NMSE %g against "
                     "its probs path, %g against cpu", t->label, s.batch, s.tokens, s.heads,
                     sh[3], own, ref);
      g_free (qkv);
      g_free (lean);
      g_free (full);
      g_free (want);
    }
    m3ret_device_free (target);
  }
  m3ret_device_free (reference);
}
END_TEST

/* ------------------------------------------------- a whole training step */

/* A pre-norm transformer block and a regression head on random tokens:
 *   h = x·W1ᵀ + b1;  a = attention(LN(h)·Wqkvᵀ + bqkv);  u = GELU(a·W2ᵀ + b2)
 *   loss = mse(u·W3ᵀ + b3, y, mask)
 * Parameters get a forward, a backward and one AdamW step each. */
enum { P_W1, P_B1, P_LNW, P_LNB, P_WQKV, P_BQKV, P_W2, P_B2, P_W3, P_B3, N_PARAMS };

typedef struct {
  gint batch, tokens, in, dim, heads, out;
} BlockDims;

static void
block_param_shape (const BlockDims *bd, gint which, gint *ndim, gint64 shape[2])
{
  const gint64 table[N_PARAMS][2] = {
    { bd->dim, bd->in }, { bd->dim, 0 }, { bd->dim, 0 }, { bd->dim, 0 },
    { 3 * bd->dim, bd->dim }, { 3 * bd->dim, 0 }, { bd->dim, bd->dim }, { bd->dim, 0 },
    { bd->out, bd->dim }, { bd->out, 0 }
  };
  shape[0] = table[which][0];
  shape[1] = table[which][1];
  *ndim = table[which][1] == 0 ? 1 : 2;
}

typedef struct {
  gfloat loss;
  float *grad[N_PARAMS];
  float *updated[N_PARAMS];
  gsize numel[N_PARAMS];
} StepResult;

static void
block_step (M3retDevice *device, const BlockDims *bd, guint64 seed, StepResult *res)
{
  M3retRng rng;
  m3ret_rng_init (&rng, seed, 0);
  g_autoptr (GError) error = NULL;
  M3retTensor *p[N_PARAMS];
  for (gint i = 0; i < N_PARAMS; i++) {
    gint nd;
    gint64 shape[2];
    block_param_shape (bd, i, &nd, shape);
    p[i] = m3ret_tensor_new (device, nd, shape, TRUE, &error);
    ck_assert_msg (p[i] != NULL, "%s", error ? error->message : "");
    float *host = g_new (float, p[i]->numel);
    m3ret_rng_fill_uniform (&rng, host, p[i]->numel, -0.6f, 0.6f);
    if (i == P_LNW)
      for (gsize e = 0; e < p[i]->numel; e++)
        host[e] += 1.0f;
    m3ret_tensor_upload (p[i], host);
    g_free (host);
  }
  gsize n_x = (gsize) bd->batch * bd->tokens * bd->in, n_y = (gsize) bd->batch * bd->tokens * bd->out;
  float *x = g_new (float, n_x), *y = g_new (float, n_y);
  float *mask = g_new (float, bd->batch * bd->tokens);
  m3ret_rng_fill_uniform (&rng, x, n_x, -1.0f, 1.0f);
  m3ret_rng_fill_uniform (&rng, y, n_y, -1.0f, 1.0f);
  for (gint i = 0; i < bd->batch * bd->tokens; i++)
    mask[i] = (i % 3 != 1) ? 1.0f : 0.0f;

  M3retGraph *g = m3ret_graph_new (device);
  gint64 xs[3] = { bd->batch, bd->tokens, bd->in }, ys[3] = { bd->batch, bd->tokens, bd->out };
  gint64 ms[1] = { (gint64) bd->batch * bd->tokens };
  M3retTensor *tx = m3ret_graph_from_host (g, 3, xs, x, FALSE);
  M3retTensor *ty = m3ret_graph_from_host (g, 3, ys, y, FALSE);
  M3retTensor *tm = m3ret_graph_from_host (g, 1, ms, mask, FALSE);
  M3retTensor *h = m3ret_op_linear (g, tx, p[P_W1], p[P_B1]);
  M3retTensor *n = m3ret_op_layernorm (g, h, p[P_LNW], p[P_LNB], 1e-6f);
  M3retTensor *qkv = m3ret_op_linear (g, n, p[P_WQKV], p[P_BQKV]);
  M3retTensor *a = m3ret_op_attention (g, qkv, bd->heads);
  M3retTensor *u = m3ret_op_linear_gelu (g, m3ret_op_add (g, a, h), p[P_W2], p[P_B2]);
  M3retTensor *pred = m3ret_op_linear (g, u, p[P_W3], p[P_B3]);
  M3retTensor *loss = m3ret_op_mse (g, pred, ty, tm);
  ck_assert_msg (m3ret_graph_backward (g, loss, &error), "%s", error ? error->message : "");
  res->loss = m3ret_tensor_item (loss);

  /* one AdamW step per parameter through the backend entry */
  const M3retBackendVTable *vt = m3ret_device_get_vtable (device);
  for (gint i = 0; i < N_PARAMS; i++) {
    res->numel[i] = p[i]->numel;
    res->grad[i] = g_new (float, p[i]->numel);
    m3ret_tensor_download_grad (p[i], res->grad[i]);
    /* a second-moment history keeps the first update away from lr·sign(g),
     * which rounding decides for gradients that are zero in exact
     * arithmetic (the key bias: softmax ignores a shift of every key) */
    M3retTensor *m = m3ret_graph_zeros (g, p[i]->ndim, p[i]->shape);
    M3retTensor *v = m3ret_graph_new_tensor (g, p[i]->ndim, p[i]->shape);
    vt->fill (m3ret_device_get_context (device), v->data, v->numel, 0.01f);
    vt->adamw (m3ret_device_get_context (device), p[i]->numel, p[i]->data, p[i]->grad, m->data,
               v->data, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.05f, 1);
    res->updated[i] = m3ret_tensor_to_host (p[i]);
  }
  m3ret_graph_free (g);
  for (gint i = 0; i < N_PARAMS; i++)
    m3ret_tensor_free (p[i]);
  g_free (x);
  g_free (y);
  g_free (mask);
}

static void
step_result_clear (StepResult *r)
{
  for (gint i = 0; i < N_PARAMS; i++) {
    g_free (r->grad[i]);
    g_free (r->updated[i]);
  }
}

START_TEST (test_block_step)
{
  static const gchar *const names[N_PARAMS] = { "w1", "b1", "ln.weight", "ln.bias", "qkv.weight",
                                                "qkv.bias", "w2", "b2", "w3", "b3" };
  const BlockDims bd = { 3, 7, 11, 12, 3, 5 };
  M3retDevice *reference = open_reference ();
  StepResult want = { 0 };
  block_step (reference, &bd, 4242, &want);
  ck_assert (isfinite (want.loss) && want.loss > 0);
  for (guint ti = 0; ti < targets->len; ti++) {
    const Target *t = targets->pdata[ti];
    M3retDevice *target = open_target (t);
    if (target == NULL)
      continue;
    StepResult got = { 0 };
    block_step (target, &bd, 4242, &got);
    ck_assert_msg (fabsf (got.loss - want.loss) <= 1e-5f * fabsf (want.loss),
                   "%s: block loss %.9g, cpu %.9g", t->label, got.loss, want.loss);
    for (gint i = 0; i < N_PARAMS; i++) {
      gdouble eg = nmse (got.grad[i], want.grad[i], want.numel[i]);
      ck_assert_msg (eg <= 1e-9, "%s: gradient of %s: NMSE %g against cpu", t->label, names[i], eg);
      gdouble eu = nmse (got.updated[i], want.updated[i], want.numel[i]);
      ck_assert_msg (eu <= 1e-9, "%s: %s after AdamW: NMSE %g against cpu", t->label, names[i], eu);
    }
    step_result_clear (&got);
    m3ret_device_free (target);
  }
  step_result_clear (&want);
  m3ret_device_free (reference);
}
END_TEST

/* dtype=bfloat16 rounds the operands of every matrix product to 8
 * significant bits: the same block step lands near float32's, within
 * what that rounding allows (and nowhere near when a product is wrong). */
START_TEST (test_bf16_block_step)
{
  if (m3ret_registry_lookup (registry, M3RET_PLUGIN_BACKEND, "torch") == NULL) {
    g_print ("SKIP bfloat16: the torch backend is not built\n");
    return;
  }
  const BlockDims bd = { 3, 7, 11, 12, 3, 5 };
  M3retDevice *reference = open_reference ();
  StepResult want = { 0 };
  block_step (reference, &bd, 4243, &want);
  const Target bf16[] = {
    { .backend = "torch", .label = "torch:cpu:bf16", .settings = { "device=cpu", "dtype=bfloat16" },
      .threads = 1 },
    { .backend = "torch", .label = "torch:cuda:bf16",
      .settings = { "device=cuda", "dtype=bfloat16" }, .threads = 1 },
  };
  for (guint ti = 0; ti < G_N_ELEMENTS (bf16); ti++) {
    const Target *t = &bf16[ti];
    if (!target_selected (t->label))
      continue;
    g_autoptr (GError) error = NULL;
    M3retDevice *target = open_device (t, &error);
    if (target == NULL) {
      ck_assert (g_error_matches (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_DECLINED));
      g_print ("SKIP %s: %s\n", t->label, error->message);
      continue;
    }
    StepResult got = { 0 };
    block_step (target, &bd, 4243, &got);
    ck_assert_msg (fabsf (got.loss - want.loss) <= 2e-2f * fabsf (want.loss),
                   "%s: block loss %.6g, cpu float32 %.6g", t->label, got.loss, want.loss);
    gdouble worst = 0;
    for (gint i = 0; i < N_PARAMS; i++)
      worst = MAX (worst, nmse (got.grad[i], want.grad[i], want.numel[i]));
    ck_assert_msg (worst <= 5e-3, "%s: worst gradient NMSE %g against cpu float32", t->label,
                   worst);
    g_print ("%s: loss %.6g (cpu float32 %.6g), worst gradient NMSE %.2g\n", t->label, got.loss,
             want.loss, worst);
    step_result_clear (&got);
    m3ret_device_free (target);
  }
  step_result_clear (&want);
  m3ret_device_free (reference);
}
END_TEST

/* ------------------------------------- a micro ViT step of each objective */

/* Σ(a−b)² / max(Σb², floor): @floor, a small fraction of the whole
 * model's squared gradient norm, keeps tensors whose gradient is zero in
 * exact arithmetic (the key bias: softmax ignores a common shift) from
 * comparing rounding noise with rounding noise. */
static gdouble
nmse_floor (const float *a, const float *b, gsize n, gdouble floor)
{
  gdouble num = 0, den = 0;
  for (gsize i = 0; i < n; i++) {
    if (isnan (a[i]) || isnan (b[i]))
      return INFINITY;
    num += ((gdouble) a[i] - b[i]) * ((gdouble) a[i] - b[i]);
    den += (gdouble) b[i] * b[i];
  }
  return num / MAX (den, floor);
}

typedef struct {
  gfloat loss;
  GPtrArray *grads; /* float*, one per parameter (NULL for buffers) */
  gdouble grad_sumsq;
} ModelGrads;

static gboolean
model_grads (M3retDevice *device, const BackendStepSpec *spec, ModelGrads *out, GError **error)
{
  BackendStep *step = backend_step_new (registry, device, spec, error);
  if (step == NULL)
    return FALSE;
  gboolean ok = backend_step_run (step, FALSE, &out->loss, error);
  M3retParams *params = backend_step_get_params (step);
  out->grads = g_ptr_array_new_with_free_func (g_free);
  out->grad_sumsq = 0;
  for (guint i = 0; ok && i < m3ret_params_get_n (params); i++) {
    M3retTensor *t = m3ret_params_get_tensor (params, i);
    float *g = NULL;
    if (m3ret_params_is_trainable (params, i)) {
      g = g_new (float, t->numel);
      m3ret_tensor_download_grad (t, g);
      for (gsize e = 0; e < t->numel; e++)
        out->grad_sumsq += (gdouble) g[e] * g[e];
    }
    g_ptr_array_add (out->grads, g);
  }
  backend_step_free (step);
  return ok;
}

static void
objective_step (const gchar *objective)
{
  if (m3ret_registry_lookup (registry, M3RET_PLUGIN_OBJECTIVE, objective) == NULL) {
    g_print ("SKIP %s step: the objective plugin is not in the build tree\n", objective);
    return;
  }
  const BackendStepSpec spec = { objective, "micro", 32, { 2, 8, 8 }, 3, 2024 };
  g_autoptr (GError) error = NULL;
  M3retDevice *reference = open_reference ();
  ModelGrads want = { 0 };
  ck_assert_msg (model_grads (reference, &spec, &want, &error), "%s on cpu: %s", objective,
                 error ? error->message : "");
  ck_assert_msg (isfinite (want.loss), "%s on cpu: loss %g", objective, want.loss);
  /* names, for messages: a collection made the same way on the reference */
  BackendStep *names = backend_step_new (registry, reference, &spec, &error);
  ck_assert_msg (names != NULL, "%s", error ? error->message : "");
  M3retParams *params = backend_step_get_params (names);
  for (guint ti = 0; ti < targets->len; ti++) {
    const Target *t = targets->pdata[ti];
    M3retDevice *target = open_target (t);
    if (target == NULL)
      continue;
    ModelGrads got = { 0 };
    ck_assert_msg (model_grads (target, &spec, &got, &error), "%s on %s: %s", objective, t->label,
                   error ? error->message : "");
    ck_assert_msg (fabsf (got.loss - want.loss) <= 1e-5f * MAX (fabsf (want.loss), 1e-3f),
                   "%s on %s: loss %.9g, cpu %.9g", objective, t->label, got.loss, want.loss);
    ck_assert_uint_eq (got.grads->len, want.grads->len);
    gdouble worst = 0;
    const gchar *worst_name = "";
    guint n_compared = 0;
    for (guint i = 0; i < want.grads->len; i++) {
      if (want.grads->pdata[i] == NULL)
        continue;
      gsize n = m3ret_params_get_tensor (params, i)->numel;
      gdouble err = nmse_floor (got.grads->pdata[i], want.grads->pdata[i], n,
                                1e-6 * want.grad_sumsq / n);
      ck_assert_msg (err <= 1e-8, "%s on %s: gradient of %s: NMSE %g against cpu", objective,
                     t->label, m3ret_params_get_name (params, i), err);
      if (err >= worst) {
        worst = err;
        worst_name = m3ret_params_get_name (params, i);
      }
      n_compared++;
    }
    g_print ("%s step on %s: loss %.7g (cpu %.7g), %u gradients, worst NMSE %.2g (%s)\n",
             objective, t->label, got.loss, want.loss, n_compared, worst, worst_name);
    g_ptr_array_unref (got.grads);
    m3ret_device_free (target);
  }
  backend_step_free (names);
  g_ptr_array_unref (want.grads);
  m3ret_device_free (reference);
}

START_TEST (test_mae_step)
{
  objective_step ("mae");
}
END_TEST

START_TEST (test_simdino_step)
{
  objective_step ("simdino");
}
END_TEST

/* ------------------------------------------------------------- the probe */

/* torch with device=cuda either opens or declines with a message naming
 * CUDA; it never fails another way and never crashes. */
START_TEST (test_cuda_probe)
{
  if (m3ret_registry_lookup (registry, M3RET_PLUGIN_BACKEND, "torch") == NULL) {
    g_print ("SKIP probe: the torch backend is not built (configure found no libtorch)\n");
    return;
  }
  const Target cuda = { .backend = "torch", .label = "torch:cuda", .settings = { "device=cuda" },
                        .threads = 1 };
  g_autoptr (GError) error = NULL;
  M3retDevice *device = open_device (&cuda, &error);
  if (device == NULL) {
    ck_assert (g_error_matches (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_DECLINED));
    ck_assert_msg (strstr (error->message, "no CUDA device") != NULL, "%s", error->message);
    g_print ("probe: %s\n", error->message);
  } else {
    m3ret_device_free (device);
  }
  /* an index past the devices there are is declined too */
  const Target far = { .backend = "torch", .label = "torch:cuda63",
                      .settings = { "device=cuda", "device_index=63" }, .threads = 1 };
  g_clear_error (&error);
  device = open_device (&far, &error);
  ck_assert_ptr_null (device);
  ck_assert (g_error_matches (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_DECLINED));
}
END_TEST

/* ------------------------------------------------------ failures as errors */

/* A libtorch exception inside an entry that returns void (gemm with a
 * negative inner dimension: libtorch refuses the shape) is kept
 * by the backend and stops the graph's next op with libtorch's message;
 * the backend goes on working.  A matrix that is not positive definite
 * fails m3ret_op_logdet on every backend with an error. */
START_TEST (test_failures_reach_the_graph)
{
  for (guint t = 0; t < targets->len; t++) {
    const Target *target = targets->pdata[t];
    g_autoptr (GError) error = NULL;
    M3retDevice *device = open_device (target, &error);
    if (device == NULL)
      continue; /* declined: reported by the probe */
    M3retGraph *g = m3ret_graph_new (device);
    gint64 shape[2] = { 2, 2 };
    float indefinite[4] = { 1, 2, 2, 1 };
    M3retTensor *a = m3ret_graph_from_host (g, 2, shape, indefinite, FALSE);
    ck_assert_ptr_null (m3ret_op_logdet (g, a));
    ck_assert (!m3ret_graph_check (g, &error));
    ck_assert_msg (strstr (error->message, "positive definite") != NULL, "%s on %s",
                   error->message, target->label);
    g_clear_error (&error);
    m3ret_graph_reset (g);
    if (g_strcmp0 (target->backend, "torch") == 0) {
      const M3retBackendVTable *vt = m3ret_device_get_vtable (device);
      M3retTensor *x = m3ret_graph_from_host (g, 2, shape, indefinite, FALSE);
      M3retTensor *y = m3ret_graph_new_tensor (g, 2, shape);
      vt->gemm (m3ret_device_get_context (device), FALSE, FALSE, 2, 2, -3, 1.0f, x->data, 2,
                x->data, 2, 0.0f, y->data, 2);
      ck_assert_ptr_null (m3ret_op_exp (g, x));
      ck_assert (!m3ret_graph_check (g, &error));
      ck_assert_msg (strstr (error->message, "torch backend: gemm failed") != NULL, "%s",
                     error->message);
      g_print ("%s: a void entry's failure: %s\n", target->label, error->message);
      g_clear_error (&error);
      m3ret_graph_reset (g);
      /* the record was taken: the next step runs */
      ck_assert_ptr_nonnull (m3ret_op_exp (g, m3ret_graph_from_host (g, 2, shape, indefinite,
                                                                     FALSE)));
      ck_assert (m3ret_graph_check (g, NULL));
    }
    m3ret_graph_free (g);
    m3ret_device_free (device);
  }
}
END_TEST

static Suite *
backends_suite (void)
{
  Suite *s = suite_create ("backends");
  TCase *tc = tcase_create ("conformance");
  tcase_set_timeout (tc, 300);
  tcase_add_loop_test (tc, test_op, 0, G_N_ELEMENTS (op_cases));
  tcase_add_test (tc, test_attention_without_probs);
  tcase_add_test (tc, test_block_step);
  tcase_add_test (tc, test_bf16_block_step);
  tcase_add_test (tc, test_mae_step);
  tcase_add_test (tc, test_simdino_step);
  tcase_add_test (tc, test_cuda_probe);
  tcase_add_test (tc, test_failures_reach_the_graph);
  suite_add_tcase (s, tc);
  return s;
}

/* The targets, built and probed before the suite: a required target that
 * declines, or one that fails to open, fails the run without it. */
static gboolean
backends_setup (void)
{
  build_targets ();
  return probe_targets ();
}

static void
backends_teardown (void)
{
  g_ptr_array_unref (targets);
}

/* One process for every case: a process that has loaded libtorch spends
 * seconds in its static destructors at exit, which Check's fork per test
 * would pay 30 times over.  CK_FORK=yes in the environment still wins. */
M3RET_CHECK_MAIN (.suite = backends_suite, .one_process = TRUE, .registry = &registry,
                  .setup = backends_setup, .teardown = backends_teardown)
