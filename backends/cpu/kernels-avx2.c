/* kernels-avx2.c — the hot loops compiled for AVX2 + FMA (picked at run
 * time: the rest of the backend stays baseline x86-64). */
#include "config.h"

#include <glib.h>
#include <math.h>

#include "kernels.h"

#ifdef CPU_HAVE_X86_KERNELS
#pragma GCC target("avx2,fma")
#include "kernel-loops.h"

CPU_KERNELS_TABLE (avx2);
#endif
