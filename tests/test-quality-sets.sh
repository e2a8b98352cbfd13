#!/bin/sh
# test-quality-sets.sh — the real-data benchmark's sets (examples/quality/
# brain-sets.py on Debian's mricron-data): built twice to the same bytes,
# the counts it reports, query and database from opposite sides with the
# same labels, and every item a NIfTI volume m3ret reads as MRI.
set -eu

templates=/usr/share/mricron/templates
python=/usr/bin/python3
if [ ! -r "$templates/ch2.nii.gz" ] || ! "$python" -c 'import nibabel' 2>/dev/null; then
  echo "SKIP: mricron-data or python3-nibabel is not installed (setup.sh installs both)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
script="$M3RET_TEST_SRCDIR/../examples/quality/brain-sets.py"
"$python" "$script" "$tmp/a" >"$tmp/a.txt"
"$python" "$script" "$tmp/b" >/dev/null
grep -q "^structure: 192 queries (left), 192 database items (right), 24 labels$" "$tmp/a.txt" ||
  { cat "$tmp/a.txt"; echo "FAIL: structure counts"; exit 1; }
grep -q "^level: 112 queries (left), 112 database items (right), 14 labels$" "$tmp/a.txt" ||
  { cat "$tmp/a.txt"; echo "FAIL: level counts"; exit 1; }
# deterministic: the same package gives the same files (gzip headers carry no time from nibabel)
cube=$(sed -n 2p "$tmp/a/structure-query.csv" | cut -d, -f1)
for f in structure-query.csv level-database.csv "$cube" level/band03_R_2.nii.gz; do
  cmp -s "$tmp/a/$f" "$tmp/b/$f" || { echo "FAIL: $f differs between two builds"; exit 1; }
done
for task in structure level; do
  # queries from the left, the database from the right, one label set
  if tail -n +2 "$tmp/a/$task-query.csv" | grep -v "_L_[0-9]*\.nii\.gz,mri," | grep -q .; then
    echo "FAIL: a $task query is not from the left"; exit 1
  fi
  if tail -n +2 "$tmp/a/$task-database.csv" | grep -v "_R_[0-9]*\.nii\.gz,mri," | grep -q .; then
    echo "FAIL: a $task database item is not from the right"; exit 1
  fi
  tail -n +2 "$tmp/a/$task-query.csv" | cut -d, -f3 | sort -u >"$tmp/ql"
  tail -n +2 "$tmp/a/$task-database.csv" | cut -d, -f3 | sort -u >"$tmp/dl"
  cmp -s "$tmp/ql" "$tmp/dl" || { echo "FAIL: $task query and database labels differ"; exit 1; }
done
"$M3RET_BIN" inspect -m mri "$tmp/a/$cube" "$tmp/a/level/band00_R_0.nii.gz" \
  >"$tmp/inspect.txt" 2>&1 || { cat "$tmp/inspect.txt"; echo "FAIL: inspect"; exit 1; }
grep -q "^  modality *mri" "$tmp/inspect.txt" || { cat "$tmp/inspect.txt"; echo "FAIL: not read as MRI"; exit 1; }
grep -qF "dims        24 × 24 × 24 " "$tmp/inspect.txt" ||
  { cat "$tmp/inspect.txt"; echo "FAIL: the cube is not 24 mm"; exit 1; }
echo "PASS: brain sets built, deterministic, side-disjoint, readable"
