/* cpu.c — the `cpu` backend plugin: host memory, sgemm, own threads.
 *
 * Products run on the backend's own AVX-512 kernel where the CPU has
 * it, its AVX2 + FMA kernel where it has those, OpenBLAS elsewhere
 * (cpu-sgemm.h); `simd=` caps the kernel as it picks the other loops'
 * table, and M3RET_CPU_SGEMM can cap it further.
 *
 * Threads: `threads=` of [pipeline] workers run every loop, each chunk
 * calling its product single-threaded (openblas_set_num_threads(1) at
 * create), so OpenBLAS's pool and ours never compete for the cores.
 * OpenBLAS's thread count is process-wide state; a process holds one cpu
 * context at a time in practice.
 */
#include "config.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "cpu-private.h"
#include "kernels.h"

/* simd= as written, by CpuSimd, for messages. */
static const gchar *const simd_names[] = { "auto", "avx512", "avx2", "generic" };

/* cpu_keys as m3ret_config_fill() writes them. */
typedef struct {
  CpuSimd simd;
} CpuSettings;

static const M3retKeySpec cpu_keys[] = {
  M3RET_KEY_ENUM_FIELD (CpuSettings, simd, "simd", "auto", "auto|avx512|avx2|generic",
                        "instruction set of the hot loops (auto: the best this CPU has)"),
  M3RET_KEY_END
};

/* The kernel table for @config, or NULL with @error: a forced `simd=`
 * this CPU cannot run makes the backend unusable here, not a crash. */
static const CpuKernels *
kernels_for (const M3retConfig *config, GError **error)
{
  CpuSettings set = { CPU_SIMD_AUTO };
  if (config != NULL && !m3ret_config_fill (config, cpu_keys, &set, error))
    return NULL;
  const CpuKernels *kernels = cpu_kernels_pick (set.simd);
  if (kernels == NULL)
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED,
                 "cpu: simd=%s needs instructions this CPU does not have", simd_names[set.simd]);
  return kernels;
}

/* The widest sgemm kernel the loops' table allows: simd=avx2 (or an
 * AVX2-only CPU) runs the AVX2 sgemm, simd=generic OpenBLAS. */
static CpuSgemmKernel
sgemm_ceiling (const CpuKernels *kernels)
{
  if (strcmp (kernels->name, "avx512") == 0)
    return CPU_SGEMM_AVX512;
  if (strcmp (kernels->name, "avx2") == 0)
    return CPU_SGEMM_AVX2;
  return CPU_SGEMM_OPENBLAS;
}

guint
cpu_score (const M3retConfig *config, GError **error)
{
  return kernels_for (config, error) != NULL ? 1 : 0;
}

gpointer
cpu_create (const M3retConfig *config, guint threads, GError **error)
{
  gint n_threads = (gint) CLAMP (threads, 1, 256);
  const CpuKernels *kernels = kernels_for (config, error);
  if (kernels == NULL)
    return NULL;
  openblas_set_num_threads (1);
  Cpu *cpu = g_new0 (Cpu, 1);
  cpu->kernels = kernels;
  cpu->n_threads = n_threads;
  cpu->sgemm = cpu_sgemm_default_kernel (sgemm_ceiling (kernels));
  g_debug ("sgemm: %s; other loops: %s", cpu_sgemm_kernel_name (cpu->sgemm), kernels->name);
  cpu->pool = cpu_pool_new (n_threads);
  cpu->scratch = g_new0 (gpointer, n_threads);
  cpu->scratch_size = g_new0 (gsize, n_threads);
  return cpu;
}

void
cpu_destroy (gpointer self)
{
  Cpu *cpu = self;
  if (cpu == NULL)
    return;
  cpu_pool_free (cpu->pool);
  for (gint i = 0; i < cpu->n_threads; i++)
    free (cpu->scratch[i]);
  g_free (cpu->scratch);
  g_free (cpu->scratch_size);
  g_free (cpu->ones);
  free (cpu->packed);
  g_clear_error (&cpu->failure);
  g_free (cpu);
}

gpointer
cpu_scratch (Cpu *cpu, gint tid, gsize nbytes)
{
  if (cpu->scratch_size[tid] < nbytes) {
    free (cpu->scratch[tid]);
    cpu->scratch[tid] = NULL;
    cpu->scratch_size[tid] = 0;
    gpointer mem = NULL;
    if (posix_memalign (&mem, 64, nbytes) != 0)
      return NULL;
    cpu->scratch[tid] = mem;
    cpu->scratch_size[tid] = nbytes;
  }
  return cpu->scratch[tid];
}

gpointer
cpu_alloc (gpointer self, gsize nbytes, GError **error)
{
  gpointer mem = NULL;
  if (posix_memalign (&mem, 64, MAX (nbytes, 64)) != 0) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_NO_MEMORY,
                 "cpu backend: cannot allocate %" G_GSIZE_FORMAT " bytes", nbytes);
    return NULL;
  }
  return mem;
}

void
cpu_free (gpointer self, gpointer mem)
{
  free (mem);
}

void
cpu_copy (gpointer self, gpointer dst, gconstpointer src, gsize nbytes)
{
  if (nbytes > 0)
    memcpy (dst, src, nbytes);
}

M3RET_PLUGIN_DEFINE (cpu, M3RET_PLUGIN_BACKEND, "0.1.0",
                     "float32 on the CPU: own AVX-512 or AVX2 sgemm (else OpenBLAS), "
                     "AVX-512/AVX2/generic loops picked at run time, own threads",
                     "LGPL-2.1-or-later", cpu_keys, NULL, &cpu_vtable)
