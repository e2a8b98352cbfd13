/* sgemm-avx2.c — the cpu backend's sgemm for CPUs with AVX2 and FMA but
 * no AVX-512 (or told not to use it: simd=avx2), cpu-sgemm.h says why it
 * exists.
 *
 * The AVX-512 kernel's scheme (sgemm-avx512.c) at half the width: B is
 * packed kc × nc at a time into panels 16 columns wide (two YMM vectors),
 * zero-padded at the right edge; each 6 × 16 block of C is accumulated
 * in 12 of the 16 YMM registers over kc steps while A's values are
 * broadcast straight from where A lies, A packed only for its last rows
 * when m is not a multiple of 6.  AVX2 has no mask registers, and masked
 * stores are slow on several CPUs: a block that is cut at the right edge
 * of C goes through a small buffer instead.  The bias is added as the
 * first pass stores each block; B can be packed whole, once, for several
 * threads (cpu_sgemm_avx2_pack / _packed), as with the AVX-512 kernel.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cpu-sgemm.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#define MR 6    /* rows of a block of C */
#define NR 16   /* columns of a block of C: two YMM vectors */
#define KC 256  /* depth of one pass: a panel of B is 16 KiB, in L1 */
#define NC 1024 /* columns of B packed at once: KC × NC floats, 1 MiB */
#define MC 96   /* rows of A per stripe: MC × KC floats, 96 KiB, in L2 */
#define PACK_FLOATS ((gsize) KC * NC + (gsize) KC * MR)

#define AVX2 __attribute__ ((target ("avx2,fma")))
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

/* r[q] ← column q of the 8 × 8 block whose rows are r[0..7]. */
static INLINE AVX2 void
transpose8 (__m256 r[8])
{
  __m256 t[8], u[8];
  for (gint i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_ps (r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps (r[2 * i], r[2 * i + 1]);
  }
  /* u[4i + c], lane L of each 128-bit half h: column 4h + c of rows 4i .. 4i + 3 */
  for (gint i = 0; i < 2; i++) {
    u[4 * i] = _mm256_shuffle_ps (t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps (t[4 * i], t[4 * i + 2], 0xee);
    u[4 * i + 2] = _mm256_shuffle_ps (t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps (t[4 * i + 1], t[4 * i + 3], 0xee);
  }
  for (gint c = 0; c < 4; c++) {
    r[c] = _mm256_permute2f128_ps (u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps (u[c], u[4 + c], 0x31);
  }
}

/* Packs op(B)[pc .. pc+kc, jc .. jc+nc) into panels of kc × NR floats. */
static AVX2 void
pack_b (gboolean trans_b, const float *b, gint ldb, gint pc, gint kc, gint jc, gint nc,
        float *bp)
{
  for (gint jr = 0; jr < nc; jr += NR, bp += (gsize) kc * NR) {
    gint w = MIN (NR, nc - jr);
    if (!trans_b) {
      const float *src = b + (gsize) pc * ldb + jc + jr;
      for (gint p = 0; p < kc; p++, src += ldb) {
        if (w == NR) {
          _mm256_store_ps (bp + p * NR, _mm256_loadu_ps (src));
          _mm256_store_ps (bp + p * NR + 8, _mm256_loadu_ps (src + 8));
        } else {
          for (gint q = 0; q < NR; q++)
            bp[p * NR + q] = q < w ? src[q] : 0.0f;
        }
      }
      continue;
    }
    /* B stored n × k: 8 × 8 blocks of (column, depth) transposed, the
     * last block of depth read one float at a time */
    for (gint half = 0; half < NR; half += 8)
      for (gint p0 = 0; p0 < kc; p0 += 8) {
        __m256 r[8];
        gint depth = MIN (8, kc - p0);
        for (gint t = 0; t < 8; t++) {
          const float *src = b + (gsize) (jc + jr + half + t) * ldb + pc + p0;
          if (half + t >= w)
            r[t] = _mm256_setzero_ps ();
          else if (depth == 8)
            r[t] = _mm256_loadu_ps (src);
          else {
            float row[8] = { 0 };
            memcpy (row, src, sizeof (float) * depth);
            r[t] = _mm256_loadu_ps (row);
          }
        }
        transpose8 (r);
        for (gint q = 0; q < depth; q++)
          _mm256_store_ps (bp + (gsize) (p0 + q) * NR + half, r[q]);
      }
  }
}

/* C[0 .. mr, 0 .. nr) = alpha · Σ_p A(i, p) B(p, ·) + beta · C (+ @bias,
 * when not NULL, on every row), with A(i, p) at a[i·rs + p·cs] and the
 * panel of B at @bp; @nr < NR goes through a buffer, not past C's edge. */
static INLINE AVX2 void
block (gint kc, const float *a, gssize rs, gssize cs, const float *bp, float *c, gint ldc,
       gint mr, gint nr, gfloat alpha, gfloat beta, const float *bias)
{
  __m256 acc[MR][2];
  for (gint i = 0; i < MR; i++)
    acc[i][0] = acc[i][1] = _mm256_setzero_ps ();
  for (gint p = 0; p < kc; p++, a += cs, bp += NR) {
    __m256 b0 = _mm256_load_ps (bp), b1 = _mm256_load_ps (bp + 8);
#pragma GCC unroll 6
    for (gint i = 0; i < MR; i++) {
      __m256 ai = _mm256_broadcast_ss (a + i * rs);
      acc[i][0] = _mm256_fmadd_ps (ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps (ai, b1, acc[i][1]);
    }
  }
  __m256 va = _mm256_set1_ps (alpha), vb = _mm256_set1_ps (beta);
  __m256 bias0 = _mm256_setzero_ps (), bias1 = _mm256_setzero_ps ();
  float edge[NR];
  if (bias != NULL) {
    if (nr == NR) {
      bias0 = _mm256_loadu_ps (bias);
      bias1 = _mm256_loadu_ps (bias + 8);
    } else {
      memset (edge, 0, sizeof edge);
      memcpy (edge, bias, sizeof (float) * nr);
      bias0 = _mm256_loadu_ps (edge);
      bias1 = _mm256_loadu_ps (edge + 8);
    }
  }
  /* unrolled over MR so the accumulators stay in registers: a loop to a
   * run-time @mr made GCC keep them on the stack, stored at every step */
#pragma GCC unroll 6
  for (gint i = 0; i < MR; i++, c += ldc) {
    if (i >= mr)
      break;
    __m256 r0 = _mm256_fmadd_ps (acc[i][0], va, bias0);
    __m256 r1 = _mm256_fmadd_ps (acc[i][1], va, bias1);
    if (nr == NR) {
      if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps (vb, _mm256_loadu_ps (c), r0);
        r1 = _mm256_fmadd_ps (vb, _mm256_loadu_ps (c + 8), r1);
      }
      _mm256_storeu_ps (c, r0);
      _mm256_storeu_ps (c + 8, r1);
      continue;
    }
    if (beta != 0.0f) {
      memset (edge, 0, sizeof edge);
      memcpy (edge, c, sizeof (float) * nr);
      r0 = _mm256_fmadd_ps (vb, _mm256_loadu_ps (edge), r0);
      r1 = _mm256_fmadd_ps (vb, _mm256_loadu_ps (edge + 8), r1);
    }
    _mm256_storeu_ps (edge, r0);
    _mm256_storeu_ps (edge + 8, r1);
    memcpy (c, edge, sizeof (float) * nr);
  }
}

/* The two ways A lies, each with one stride a compile-time 1. */
static AVX2 void
block_rows (gint kc, const float *a, gssize lda, const float *bp, float *c, gint ldc, gint mr,
            gint nr, gfloat alpha, gfloat beta, const float *bias)
{
  block (kc, a, lda, 1, bp, c, ldc, mr, nr, alpha, beta, bias);
}

static AVX2 void
block_cols (gint kc, const float *a, gssize lda, const float *bp, float *c, gint ldc, gint mr,
            gint nr, gfloat alpha, gfloat beta, const float *bias)
{
  block (kc, a, 1, lda, bp, c, ldc, mr, nr, alpha, beta, bias);
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
static AVX2 void
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
      gint nr = MIN (NR, nc - jr);
      const float *bias_j = bias != NULL ? bias + jr : NULL;
      for (gint ir = ic; ir < ic_end; ir += MR) {
        float *cij = c + jr + (gsize) ir * ldc;
        if (ir >= tail_row)
          block_cols (kc, tail, MR, panel, cij, ldc, m - ir, nr, alpha, beta, bias_j);
        else if (trans_a)
          block_cols (kc, a + (gsize) pc * lda + ir, lda, panel, cij, ldc, MR, nr, alpha, beta,
                      bias_j);
        else
          block_rows (kc, a + (gsize) ir * lda + pc, lda, panel, cij, ldc, MR, nr, alpha, beta,
                      bias_j);
      }
    }
  }
}

/* Both entry points: B packed here one pass at a time (@packed NULL), or
 * read from the whole of op(B) packed beforehand (cpu_sgemm_avx2_pack). */
static AVX2 gboolean
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
  gint panels = cpu_sgemm_avx2_panels (n);
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

AVX2 gboolean
cpu_sgemm_avx2 (gboolean trans_a, gboolean trans_b, gint m, gint n, gint k, gfloat alpha,
                const float *a, gint lda, const float *b, gint ldb, gfloat beta,
                const float *bias, float *c, gint ldc)
{
  return run_sgemm (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, NULL, beta, bias, c, ldc);
}

gsize
cpu_sgemm_avx2_packed_floats (gint n, gint k)
{
  return (gsize) cpu_sgemm_avx2_panels (n) * NR * (gsize) MAX (k, 0);
}

gint
cpu_sgemm_avx2_panels (gint n)
{
  return (n + NR - 1) / NR;
}

/* The whole of op(B) is laid out pass after pass, as sgemm-avx512.c does. */
AVX2 void
cpu_sgemm_avx2_pack (gboolean trans_b, const float *b, gint ldb, gint n, gint k, gint panel_lo,
                     gint panel_hi, float *packed)
{
  gint panels = cpu_sgemm_avx2_panels (n);
  gint col_lo = panel_lo * NR, col_hi = MIN (n, panel_hi * NR);
  if (col_lo >= col_hi)
    return;
  for (gint pc = 0; pc < k; pc += KC) {
    gint kc = MIN (KC, k - pc);
    float *pass = packed + (gsize) pc * panels * NR;
    pack_b (trans_b, b, ldb, pc, kc, col_lo, col_hi - col_lo, pass + (gsize) panel_lo * kc * NR);
  }
}

AVX2 gboolean
cpu_sgemm_avx2_packed (gboolean trans_a, gint m, gint n, gint k, gfloat alpha, const float *a,
                       gint lda, const float *packed, gfloat beta, const float *bias, float *c,
                       gint ldc)
{
  return run_sgemm (trans_a, FALSE, m, n, k, alpha, a, lda, NULL, 0, packed, beta, bias, c, ldc);
}

#else /* not x86-64 with GCC: cpu_sgemm_have_avx2() is FALSE */

gboolean
cpu_sgemm_avx2 (gboolean trans_a, gboolean trans_b, gint m, gint n, gint k, gfloat alpha,
                const float *a, gint lda, const float *b, gint ldb, gfloat beta,
                const float *bias, float *c, gint ldc)
{
  return FALSE;
}

gsize
cpu_sgemm_avx2_packed_floats (gint n, gint k)
{
  return 0;
}

gint
cpu_sgemm_avx2_panels (gint n)
{
  return 0;
}

void
cpu_sgemm_avx2_pack (gboolean trans_b, const float *b, gint ldb, gint n, gint k, gint panel_lo,
                     gint panel_hi, float *packed)
{
}

gboolean
cpu_sgemm_avx2_packed (gboolean trans_a, gint m, gint n, gint k, gfloat alpha, const float *a,
                       gint lda, const float *packed, gfloat beta, const float *bias, float *c,
                       gint ldc)
{
  return FALSE;
}

#endif
