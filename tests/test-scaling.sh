#!/bin/sh
# test-scaling.sh — examples/scaling.py end to end on a tiny grid (micro,
# one training-set size, two run lengths): one CSV row per run with the
# floors beside it, longer runs seeing more images, and a PNG that decodes.
set -eu

python=/usr/bin/python3
if ! "$python" -c 'import matplotlib, PIL' 2>/dev/null; then
  echo "SKIP: python3-matplotlib is not installed (setup.sh installs it)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
script="$M3RET_TEST_SRCDIR/../examples/scaling.py"
M3RET="$M3RET_BIN" "$python" "$script" --sizes 2 --steps 2,4 --work "$tmp/w" >"$tmp/out.txt" 2>&1 ||
  { cat "$tmp/out.txt"; echo "FAIL: scaling.py"; exit 1; }
"$python" - "$tmp/w" <<'PY' || { cat "$tmp/out.txt"; exit 1; }
import csv, sys
from PIL import Image
work = sys.argv[1]
rows = list(csv.DictReader(open(work + '/scaling.csv')))
assert len(rows) == 2, 'FAIL: %d rows, want 2' % len(rows)
assert [r['steps'] for r in rows] == ['2', '4'], rows
assert int(rows[1]['images_seen']) == 2 * int(rows[0]['images_seen']), rows
for r in rows:
    for k in ('map10', 'raw_map10', 'random_map10'):
        assert 0.0 <= float(r[k]) <= 1.0, (k, r)
    assert float(r['train_cpu_s']) > 0, r
    assert r['raw_map10'] == rows[0]['raw_map10'], 'FAIL: the raw floor moved between runs'
image = Image.open(work + '/scaling.png')
image.load()
assert image.size[0] > 300 and image.size[1] > 200, image.size
PY
# a bad list is refused with the reason
if M3RET="$M3RET_BIN" "$python" "$script" --steps 0 --work "$tmp/x" >"$tmp/bad.txt" 2>&1; then
  echo "FAIL: --steps 0 accepted"; exit 1
fi
grep -q "at least 1" "$tmp/bad.txt" || { cat "$tmp/bad.txt"; echo "FAIL: no reason given"; exit 1; }
echo "PASS: scaling grid trained, evaluated, tabulated and drawn"
