#!/bin/sh
# replay.sh — feeds every seed in fuzz/corpus/TARGET and every input that
# once crashed a reader, fuzz/regressions/TARGET, through ./fuzz-TARGET (the
# fuzz target linked with a plain main()).  Fails when a target fails or a
# corpus folder has no target.
set -u
src="${M3RET_TEST_SRCDIR:-$(dirname "$0")/..}/fuzz"
status=0
for dir in "$src"/corpus/*/; do
  target=$(basename "$dir")
  if [ ! -x "./fuzz-$target" ]; then
    echo "replay: no program fuzz-$target for $dir"
    status=1
    continue
  fi
  files=$(find "$dir" "$src/regressions/$target" -type f 2>/dev/null | sort)
  n=$(echo "$files" | grep -c .)
  # shellcheck disable=SC2086  # corpus names have no spaces (checked below)
  if echo "$files" | grep -q ' '; then
    echo "replay: a file name under $dir has a space"; status=1; continue
  fi
  if ./fuzz-$target $files; then
    echo "replay: fuzz-$target: $n inputs ok"
  else
    echo "replay: fuzz-$target FAILED on one of: $files"
    status=1
  fi
done
exit $status
