/* hwy-timer.c — lets valgrind run programs that load libhwy (FFmpeg's
 * libavcodec → libjxl → libhwy on Debian 12).
 *
 * libhwy 1.0's static initializer calls hwy::platform::TimerResolution(),
 * which executes RDTSCP unconditionally.  Valgrind's VEX decodes RDTSCP
 * only when the host's CPUID advertises it (leaf 0x80000001, EDX bit 27);
 * hypervisors often hide that bit while the instruction still works, so
 * natively all is well but under valgrind the process dies of SIGILL
 * ("unhandled instruction bytes: 0xF 0x1 0xF9") before main().
 *
 * Preloaded (LD_PRELOAD) under valgrind, this object carries a valgrind
 * function replacement for that one function: it returns a tick count
 * without running RDTSCP.  Only hwy's own benchmarking uses the value.
 * Without valgrind the replacement is an unused symbol and does nothing. */
#include <stdint.h>

#include <valgrind/valgrind.h>

/* Z-encoded names: "libhwy.so.1" is libhwyZdsoZd1; the mangled
 * _ZN3hwy8platform15TimerResolutionEv has its 'Z' doubled. */
uint64_t I_REPLACE_SONAME_FNNAME_ZZ (libhwyZdsoZd1, _ZZN3hwy8platform15TimerResolutionEv) (void);

uint64_t
I_REPLACE_SONAME_FNNAME_ZZ (libhwyZdsoZd1, _ZZN3hwy8platform15TimerResolutionEv) (void)
{
  return 1;
}
