/* kernels-generic.c — the hot loops for any CPU, and the picker. */
#include "config.h"

#include <glib.h>
#include <math.h>

#include "kernels.h"
#include "kernel-loops.h"

CPU_KERNELS_TABLE (generic);

const CpuKernels *
cpu_kernels_pick (CpuSimd simd)
{
  gboolean automatic = simd == CPU_SIMD_AUTO;
#ifdef CPU_HAVE_X86_KERNELS
  __builtin_cpu_init ();
  gboolean avx2 = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
  gboolean avx512 = avx2 && __builtin_cpu_supports ("avx512f")
                    && __builtin_cpu_supports ("avx512vl") && __builtin_cpu_supports ("avx512dq")
                    && __builtin_cpu_supports ("avx512bw");
  if ((automatic || simd == CPU_SIMD_AVX512) && avx512)
    return &cpu_kernels_avx512;
  if ((automatic || simd == CPU_SIMD_AVX2) && avx2)
    return &cpu_kernels_avx2;
#endif
  if (automatic || simd == CPU_SIMD_GENERIC)
    return &cpu_kernels_generic;
  return NULL;
}
