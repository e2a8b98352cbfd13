#!/bin/sh
# bench-table.sh PROGRAM... — `make bench`: runs every benchmark program in
# turn, passing its own tables through, then prints one table of issue 8's
# target rows: the M3RET-BENCH lines the programs print (bench-row.h),
# with whether each target is met.  A program that fails is named and the
# others still run; the exit status is then 1.
#
#   M3RET_BENCH_ONLY="bench-compute bench-embed"   run only these programs
#   M3RET_BENCH_CPU_SIMD=avx2   the cpu backend's simd= in bench-compute and
#                               bench-embed (its loops and sgemm kernel)
# Each program reads its own knobs (M3RET_BENCH_THREADS, _ROUNDS, _STEPS, ...).
# The header names the machine as the programs' M3RET-BENCH-MACHINE lines
# say: CPU model, the SIMD level the cpu backend ran and its sgemm kernel.

rows=$(mktemp "${TMPDIR:-/tmp}/m3ret-bench.XXXXXX") || exit 1
trap 'rm -f "$rows"' EXIT
status=0
start=$(date +%s)
for program in "$@"; do
  if [ -n "$M3RET_BENCH_ONLY" ]; then
    case " $M3RET_BENCH_ONLY " in *" $program "*) ;; *) continue ;; esac
  fi
  echo "== $program"
  # the rows go to $rows, everything else to the terminal as it comes
  { ./"$program" || echo "M3RET-BENCH-FAILED $program" >&3; } 3>&1 |
    tee -a "$rows" | grep -v '^M3RET-BENCH'
done
echo
machine=$(awk -F '\t' '$1 == "M3RET-BENCH-MACHINE" && !seen[$2]++ { printf "%s%s", n++ ? "; " : "", $2 }' "$rows")
if [ -z "$machine" ]; then
  machine="$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1), SIMD $(
    if grep -qw avx512f /proc/cpuinfo; then echo avx512
    elif grep -qw avx2 /proc/cpuinfo; then echo avx2; else echo generic; fi)"
fi
echo "== issue 8 targets ($(date -u '+%Y-%m-%d %H:%M UTC'), $(($(date +%s) - start)) s;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); $machine)"
awk -F '\t' '
  /^M3RET-BENCH-FAILED / { failed = failed " " substr($0, 20); next }
  $1 != "M3RET-BENCH" { next }
  {
    op = substr($8, 1, 2); want = substr($8, 3) + 0; ratio = $7 + 0
    met = (op == ">=" ? ratio >= want : ratio <= want) ? "yes" : "no"
    if (!n++) {
      print "| stage | figure | ours | peer | ratio | target | met |"
      print "|---|---|---|---|---|---|---|"
    }
    printf "| %s | %s | %.4g | %.4g (%s) | %.2f | %s | %s |\n", $2, $3, $4, $6, $5, ratio, $8, met
  }
  END {
    if (!n) print "(no target rows)"
    if (failed != "") { print "failed:" failed; exit 1 }
  }' "$rows" || status=1
exit $status
