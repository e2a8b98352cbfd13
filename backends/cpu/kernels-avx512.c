/* kernels-avx512.c — the hot loops compiled for AVX-512 (F, VL, DQ, BW)
 * with 512-bit vectors (gcc's tuning would otherwise keep 256). */
#include "config.h"

#include <glib.h>
#include <math.h>

#include "kernels.h"

#ifdef CPU_HAVE_X86_KERNELS
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,prefer-vector-width=512")
#include "kernel-loops.h"

CPU_KERNELS_TABLE (avx512);
#endif
