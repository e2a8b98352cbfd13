/* sgemm-avx512.c — the cpu backend's sgemm for CPUs with AVX-512
 * (cpu-sgemm.h says why it exists).
 *
 * Goto's blocking, on one thread.  B is packed kc × nc at a time into
 * panels 32 columns wide (two ZMM vectors), zero-padded at the right
 * edge; each 12 × 32 block of C is accumulated in 24 ZMM registers over
 * kc steps while A's values are broadcast straight from where A lies: a
 * row-major A gives 12 rows read in step, a transposed one 12 consecutive
 * floats per step, so A is never packed except for its last rows when m
 * is not a multiple of 12.  A panel of B (kc × 32 floats, 32 KiB at
 * kc = 256) stays in L1 while every 12-row block of A in an L2-sized
 * stripe of MC rows passes over it.  A linear layer's bias is added as
 * the first pass stores each block.  For a product the pool splits along
 * its rows, B can instead be packed whole, once, its panels shared out
 * between the threads (cpu_sgemm_avx512_pack / _packed).
 */
#include "config.h"

#include <stdlib.h>

#include "cpu-sgemm.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#define MR 12   /* rows of a block of C */
#define NR 32   /* columns of a block of C: two ZMM vectors */
#define KC 256  /* depth of one pass */
#define NC 1024 /* columns of B packed at once: KC × NC floats, 1 MiB */
#define MC 96   /* rows of A per stripe: MC × KC floats, 96 KiB, in L2 */
#define PACK_FLOATS ((gsize) KC * NC + (gsize) KC * MR)

#define AVX512 __attribute__ ((target ("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define INLINE inline __attribute__ ((always_inline))

/* One packing buffer per thread, freed when the thread ends. */
static GPrivate pack_key = G_PRIVATE_INIT (free);

static float *
pack_buffer (void)
{
  float *buf = g_private_get (&pack_key);
  if (buf == NULL) {
    gpointer mem = NULL;
    if (posix_memalign (&mem, 64, PACK_FLOATS * sizeof (float)) != 0)
      return NULL;
    buf = mem;
    g_private_set (&pack_key, buf);
  }
  return buf;
}

static INLINE AVX512 __mmask16
first_lanes (gint n)
{
  return n >= 16 ? (__mmask16) 0xffff : n <= 0 ? 0 : (__mmask16) ((1u << n) - 1);
}

/* r[q] ← column q of the 16 × 16 block whose rows are r[0..15]. */
static INLINE AVX512 void
transpose16 (__m512 r[16])
{
  __m512 t[16], u[16];
  for (gint i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps (r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps (r[2 * i], r[2 * i + 1]);
  }
  /* u[4i + c], lane L: column 4L + c of rows 4i .. 4i + 3 */
  for (gint i = 0; i < 4; i++) {
    __m512d t0 = _mm512_castps_pd (t[4 * i]), t1 = _mm512_castps_pd (t[4 * i + 1]);
    __m512d t2 = _mm512_castps_pd (t[4 * i + 2]), t3 = _mm512_castps_pd (t[4 * i + 3]);
    u[4 * i] = _mm512_castpd_ps (_mm512_unpacklo_pd (t0, t2));
    u[4 * i + 1] = _mm512_castpd_ps (_mm512_unpackhi_pd (t0, t2));
    u[4 * i + 2] = _mm512_castpd_ps (_mm512_unpacklo_pd (t1, t3));
    u[4 * i + 3] = _mm512_castpd_ps (_mm512_unpackhi_pd (t1, t3));
  }
  for (gint c = 0; c < 4; c++) {
    __m512 v = _mm512_shuffle_f32x4 (u[c], u[4 + c], 0x88);
    __m512 w = _mm512_shuffle_f32x4 (u[c], u[4 + c], 0xdd);
    __m512 v2 = _mm512_shuffle_f32x4 (u[8 + c], u[12 + c], 0x88);
    __m512 w2 = _mm512_shuffle_f32x4 (u[8 + c], u[12 + c], 0xdd);
    r[c] = _mm512_shuffle_f32x4 (v, v2, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4 (w, w2, 0x88);
    r[8 + c] = _mm512_shuffle_f32x4 (v, v2, 0xdd);
    r[12 + c] = _mm512_shuffle_f32x4 (w, w2, 0xdd);
  }
}

/* Packs op(B)[pc .. pc+kc, jc .. jc+nc) into panels of kc × NR floats. */
static AVX512 void
pack_b (gboolean trans_b, const float *b, gint ldb, gint pc, gint kc, gint jc, gint nc,
        float *bp)
{
  for (gint jr = 0; jr < nc; jr += NR, bp += (gsize) kc * NR) {
    gint w = MIN (NR, nc - jr);
    if (!trans_b) {
      __mmask16 m0 = first_lanes (w), m1 = first_lanes (w - 16);
      const float *src = b + (gsize) pc * ldb + jc + jr;
      for (gint p = 0; p < kc; p++, src += ldb) {
        _mm512_store_ps (bp + p * NR, _mm512_maskz_loadu_ps (m0, src));
        _mm512_store_ps (bp + p * NR + 16, _mm512_maskz_loadu_ps (m1, src + 16));
      }
      continue;
    }
    /* B stored n × k: 16 × 16 blocks of (column, depth) transposed. */
    for (gint half = 0; half < NR; half += 16)
      for (gint p0 = 0; p0 < kc; p0 += 16) {
        __m512 r[16];
        __mmask16 pm = first_lanes (kc - p0);
        for (gint t = 0; t < 16; t++)
          r[t] = half + t < w ? _mm512_maskz_loadu_ps (
                                  pm, b + (gsize) (jc + jr + half + t) * ldb + pc + p0)
                              : _mm512_setzero_ps ();
        transpose16 (r);
        gint depth = MIN (16, kc - p0);
        for (gint q = 0; q < depth; q++)
          _mm512_store_ps (bp + (gsize) (p0 + q) * NR + half, r[q]);
      }
  }
}

/* C[0 .. mr, cols of m0|m1] = alpha · Σ_p A(i, p) B(p, ·) + beta · C
 * (+ @bias, when not NULL, on every row), with A(i, p) at a[i·rs + p·cs]
 * and the panel of B at @bp. */
static INLINE AVX512 void
block (gint kc, const float *a, gssize rs, gssize cs, const float *bp, float *c, gint ldc,
       gint mr, __mmask16 m0, __mmask16 m1, gfloat alpha, gfloat beta, const float *bias)
{
  __m512 acc[MR][2];
  for (gint i = 0; i < MR; i++)
    acc[i][0] = acc[i][1] = _mm512_setzero_ps ();
  for (gint p = 0; p < kc; p++, a += cs, bp += NR) {
    __m512 b0 = _mm512_load_ps (bp), b1 = _mm512_load_ps (bp + 16);
#pragma GCC unroll 12
    for (gint i = 0; i < MR; i++) {
      __m512 ai = _mm512_set1_ps (a[i * rs]);
      acc[i][0] = _mm512_fmadd_ps (ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps (ai, b1, acc[i][1]);
    }
  }
  __m512 va = _mm512_set1_ps (alpha), vb = _mm512_set1_ps (beta);
  __m512 bias0 = _mm512_setzero_ps (), bias1 = _mm512_setzero_ps ();
  if (bias != NULL) {
    bias0 = _mm512_maskz_loadu_ps (m0, bias);
    bias1 = _mm512_maskz_loadu_ps (m1, bias + 16);
  }
  for (gint i = 0; i < mr; i++, c += ldc) {
    __m512 r0 = _mm512_fmadd_ps (acc[i][0], va, bias0);
    __m512 r1 = _mm512_fmadd_ps (acc[i][1], va, bias1);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps (vb, _mm512_maskz_loadu_ps (m0, c), r0);
      r1 = _mm512_fmadd_ps (vb, _mm512_maskz_loadu_ps (m1, c + 16), r1);
    }
    _mm512_mask_storeu_ps (c, m0, r0);
    _mm512_mask_storeu_ps (c + 16, m1, r1);
  }
}

/* The two ways A lies, each with one stride a compile-time 1. */
static AVX512 void
block_rows (gint kc, const float *a, gssize lda, const float *bp, float *c, gint ldc, gint mr,
            __mmask16 m0, __mmask16 m1, gfloat alpha, gfloat beta, const float *bias)
{
  block (kc, a, lda, 1, bp, c, ldc, mr, m0, m1, alpha, beta, bias);
}

static AVX512 void
block_cols (gint kc, const float *a, gssize lda, const float *bp, float *c, gint ldc, gint mr,
            __mmask16 m0, __mmask16 m1, gfloat alpha, gfloat beta, const float *bias)
{
  block (kc, a, 1, lda, bp, c, ldc, mr, m0, m1, alpha, beta, bias);
}

/* The last @mr (< MR) rows of op(A)[·, pc .. pc+kc) as kc × MR, zero-padded. */
static void
pack_a_tail (gboolean trans_a, const float *a, gint lda, gint row0, gint mr, gint pc, gint kc,
             float *ap)
{
  for (gint p = 0; p < kc; p++)
    for (gint i = 0; i < MR; i++)
      ap[p * MR + i] = i >= mr ? 0.0f
                       : trans_a ? a[(gsize) (pc + p) * lda + row0 + i]
                                 : a[(gsize) (row0 + i) * lda + pc + p];
}

/* C = beta·C (+ bias): what is left when the product is zero. */
static void
scale_c (gint m, gint n, gfloat beta, const float *bias, float *c, gint ldc)
{
  for (gint i = 0; i < m; i++)
    for (gint j = 0; j < n; j++) {
      float *x = c + (gsize) i * ldc + j;
      *x = (beta == 0.0f ? 0.0f : beta * *x) + (bias != NULL ? bias[j] : 0.0f);
    }
}

/* One pass, depth pc .. pc+kc, over C[0 .. m, 0 .. nc) (@c at the block's
 * first column; @bias likewise, NULL for none) from the packed panels at
 * @bp; @tail holds KC × MR floats for A's short last block. */
static AVX512 void
run_pass (gboolean trans_a, const float *a, gint lda, gint m, gint pc, gint kc, gint nc,
          const float *bp, gfloat alpha, gfloat beta, const float *bias, float *c, gint ldc,
          float *tail)
{
  gint tail_row = m - m % MR; /* first row of the short block, if any */
  if (tail_row < m)
    pack_a_tail (trans_a, a, lda, tail_row, m - tail_row, pc, kc, tail);
  for (gint ic = 0; ic < m; ic += MC) {
    gint ic_end = MIN (m, ic + MC);
    for (gint jr = 0; jr < nc; jr += NR) {
      const float *panel = bp + (gsize) (jr / NR) * kc * NR;
      __mmask16 m0 = first_lanes (nc - jr), m1 = first_lanes (nc - jr - 16);
      const float *bias_j = bias != NULL ? bias + jr : NULL;
      for (gint ir = ic; ir < ic_end; ir += MR) {
        float *cij = c + jr + (gsize) ir * ldc;
        if (ir >= tail_row)
          block_cols (kc, tail, MR, panel, cij, ldc, m - ir, m0, m1, alpha, beta, bias_j);
        else if (trans_a)
          block_cols (kc, a + (gsize) pc * lda + ir, lda, panel, cij, ldc, MR, m0, m1, alpha,
                      beta, bias_j);
        else
          block_rows (kc, a + (gsize) ir * lda + pc, lda, panel, cij, ldc, MR, m0, m1, alpha,
                      beta, bias_j);
      }
    }
  }
}

/* Both entry points: B packed here one pass at a time (@packed NULL), or
 * read from the whole of op(B) packed beforehand (cpu_sgemm_avx512_pack).
 * NC columns at a time either way, so a pass over them (KC × NC floats of
 * B) stays in L2. */
static AVX512 gboolean
run_sgemm (gboolean trans_a, gboolean trans_b, gint m, gint n, gint k, gfloat alpha,
           const float *a, gint lda, const float *b, gint ldb, const float *packed, gfloat beta,
           const float *bias, float *c, gint ldc)
{
  if (m <= 0 || n <= 0)
    return TRUE;
  if (k <= 0 || alpha == 0.0f) {
    scale_c (m, n, beta, bias, c, ldc);
    return TRUE;
  }
  float *bp = pack_buffer ();
  if (bp == NULL)
    return FALSE;
  gint panels = cpu_sgemm_avx512_panels (n);
  for (gint jc = 0; jc < n; jc += NC) {
    gint nc = MIN (NC, n - jc);
    for (gint pc = 0; pc < k; pc += KC) {
      gint kc = MIN (KC, k - pc);
      const float *pass = bp;
      if (packed != NULL)
        pass = packed + (gsize) pc * panels * NR + (gsize) (jc / NR) * kc * NR;
      else
        pack_b (trans_b, b, ldb, pc, kc, jc, nc, bp);
      /* the first pass scales C and adds the bias; the others add on */
      run_pass (trans_a, a, lda, m, pc, kc, nc, pass, alpha, pc == 0 ? beta : 1.0f,
                pc == 0 && bias != NULL ? bias + jc : NULL, c + jc, ldc, bp + (gsize) KC * NC);
    }
  }
  return TRUE;
}

AVX512 gboolean
cpu_sgemm_avx512 (gboolean trans_a, gboolean trans_b, gint m, gint n, gint k, gfloat alpha,
                  const float *a, gint lda, const float *b, gint ldb, gfloat beta,
                  const float *bias, float *c, gint ldc)
{
  return run_sgemm (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, NULL, beta, bias, c, ldc);
}

gsize
cpu_sgemm_avx512_packed_floats (gint n, gint k)
{
  return (gsize) cpu_sgemm_avx512_panels (n) * NR * (gsize) MAX (k, 0);
}

gint
cpu_sgemm_avx512_panels (gint n)
{
  return (n + NR - 1) / NR;
}

/* The whole of op(B) is laid out pass after pass; pass pc starts at
 * pc · panels · NR floats, its panel t kc · NR floats after that. */
AVX512 void
cpu_sgemm_avx512_pack (gboolean trans_b, const float *b, gint ldb, gint n, gint k, gint panel_lo,
                       gint panel_hi, float *packed)
{
  gint panels = cpu_sgemm_avx512_panels (n);
  gint col_lo = panel_lo * NR, col_hi = MIN (n, panel_hi * NR);
  if (col_lo >= col_hi)
    return;
  for (gint pc = 0; pc < k; pc += KC) {
    gint kc = MIN (KC, k - pc);
    float *pass = packed + (gsize) pc * panels * NR;
    pack_b (trans_b, b, ldb, pc, kc, col_lo, col_hi - col_lo, pass + (gsize) panel_lo * kc * NR);
  }
}

AVX512 gboolean
cpu_sgemm_avx512_packed (gboolean trans_a, gint m, gint n, gint k, gfloat alpha, const float *a,
                         gint lda, const float *packed, gfloat beta, const float *bias, float *c,
                         gint ldc)
{
  return run_sgemm (trans_a, FALSE, m, n, k, alpha, a, lda, NULL, 0, packed, beta, bias, c, ldc);
}

#else /* not x86-64 with GCC: cpu_sgemm_have_avx512() is FALSE */

gboolean
cpu_sgemm_avx512 (gboolean trans_a, gboolean trans_b, gint m, gint n, gint k, gfloat alpha,
                  const float *a, gint lda, const float *b, gint ldb, gfloat beta,
                  const float *bias, float *c, gint ldc)
{
  return FALSE;
}

gsize
cpu_sgemm_avx512_packed_floats (gint n, gint k)
{
  return 0;
}

gint
cpu_sgemm_avx512_panels (gint n)
{
  return 0;
}

void
cpu_sgemm_avx512_pack (gboolean trans_b, const float *b, gint ldb, gint n, gint k, gint panel_lo,
                       gint panel_hi, float *packed)
{
}

gboolean
cpu_sgemm_avx512_packed (gboolean trans_a, gint m, gint n, gint k, gfloat alpha, const float *a,
                         gint lda, const float *packed, gfloat beta, const float *bias, float *c,
                         gint ldc)
{
  return FALSE;
}

#endif
