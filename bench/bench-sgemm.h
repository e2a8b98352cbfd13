/* bench-sgemm.h — the machine's sgemm rate, measured in the benchmark's own
 * run: the ceiling every FLOP figure of `make bench` is read against. */
#ifndef M3RET_BENCH_SGEMM_H
#define M3RET_BENCH_SGEMM_H

#include <glib.h>

#include "m3ret-device.h"

/* FLOP/s of OpenBLAS on @threads threads for an @n³ product: the better
 * of two after one untimed.  Leaves OpenBLAS's thread count at @threads
 * (each backend's create sets it again for itself). */
gdouble bench_sgemm_rate (gint n, gint threads);

/* FLOP/s of @device's own gemm entry for an @n³ product (the cpu backend's
 * kernel, on the device's threads), measured the same way; 0 when its
 * memory cannot be had. */
gdouble bench_backend_sgemm_rate (M3retDevice *device, gint n);

/* The [pipeline] settings a benchmark's cpu devices get: "simd=LEVEL"
 * when M3RET_BENCH_CPU_SIMD=LEVEL (auto, avx512, avx2 or generic) forces
 * the backend's instruction set, else none (NULL). */
const gchar *const *bench_cpu_settings (void);

/* (transfer full) "CPU MODEL, SIMD LEVEL (CPU has: ...), sgemm KERNEL":
 * what a cpu device of this run computes with, the sgemm kernel being
 * the one the backend picks under that simd= (cpu-sgemm.h).  Also
 * printed as the M3RET-BENCH-MACHINE line the `make bench` driver puts
 * in its table header (bench-table.sh). */
gchar *bench_cpu_machine (void);

#endif
