#!/bin/sh
# m3ret-memcheck.sh — the build tree's m3ret under valgrind memcheck: what
# `make demo-valgrind` hands examples/demo.sh as $M3RET.  Exits 99 on any
# invalid read or write, use of uninitialised memory, bad free, or definite
# leak; valgrind says nothing (-q) when all is clean.
#
#   M3RET_MEMCHECK_BIN      the libtool wrapper core/m3ret
#   M3RET_MEMCHECK_LIBTOOL  the build tree's libtool (runs the real binary)
#   M3RET_MEMCHECK_PRELOAD  hwy-timer's .so (see hwy-timer.c: libhwy vs. valgrind)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
LD_PRELOAD="$M3RET_MEMCHECK_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}"
export LD_PRELOAD
exec "$M3RET_MEMCHECK_LIBTOOL" --mode=execute valgrind -q --error-exitcode=99 \
  --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --suppressions="$here/memcheck.supp" \
  "$M3RET_MEMCHECK_BIN" "$@"
