/* kernels-generic.c — the hot loops for any CPU, and the picker. */
#include "config.h"

#include <glib.h>
#include <math.h>

#include "kernels.h"
#include "kernel-loops.h"

CPU_KERNELS_TABLE (generic);

const CpuKernels *
cpu_kernels_pick (const gchar *name)
{
  gboolean automatic = name == NULL || g_strcmp0 (name, "auto") == 0;
#ifdef CPU_HAVE_X86_KERNELS
  __builtin_cpu_init ();
  gboolean avx2 = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
  gboolean avx512 = avx2 && __builtin_cpu_supports ("avx512f")
                    && __builtin_cpu_supports ("avx512vl") && __builtin_cpu_supports ("avx512dq")
                    && __builtin_cpu_supports ("avx512bw");
  if ((automatic || g_strcmp0 (name, "avx512") == 0) && avx512)
    return &cpu_kernels_avx512;
  if ((automatic || g_strcmp0 (name, "avx2") == 0) && avx2)
    return &cpu_kernels_avx2;
#endif
  if (automatic || g_strcmp0 (name, "generic") == 0)
    return &cpu_kernels_generic;
  return NULL;
}
