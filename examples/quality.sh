#!/bin/sh
# quality.sh — the retrieval-quality benchmark (`make quality`): the
# real-data sets of examples/quality/brain-sets.py (Colin27 T1 MRI and its
# AAL atlas, from Debian's mricron-data; MRI is never shown in training)
# and the synthetic set's query/database split, each scored for raw pixels,
# random init and every example recipe trained as the demo trains it (on
# the synthetic set without MRI).  Prints one Markdown table per task,
# overall Precision@10 / mAP@10 and the similarity AUC.
#
#   examples/quality.sh [WORKDIR]       (m3ret from $M3RET, else from PATH)
#
# CPU budget on 2 cores: about 30 s per recipe to train (150 steps each of
# mae-micro and simdino-micro), a few seconds per evaluation.
set -eu

m3ret=${M3RET:-m3ret}
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-quality-run}
recipes=${RECIPES:-mae-micro simdino-micro}
python=${PYTHON3:-/usr/bin/python3}
mkdir -p "$work"

"$python" "$here/quality/brain-sets.py" "$work/brain" >"$work/brain-sets.txt"
cat "$work/brain-sets.txt"
"$m3ret" synth --out "$work/data" --per-class 8 --seed 0 >/dev/null

for r in $recipes; do
  cp "$here/$r.ini" "$work/$r.ini"
  if [ ! -f "$work/run-$r/checkpoint.safetensors" ]; then
    start=$(date +%s)
    "$m3ret" train "$work/$r.ini" --out "$work/run-$r" --quiet
    echo "$r: trained in $(( $(date +%s) - start )) s"
  fi
done

# "P@10 / mAP@10" of column $2 (1 raw, 2 random, 3 trained) and the AUC
cell() {
  awk -v col="$2" '/^against the baselines/ { on = 1; next }
    on && $1 == "all" { i = 2 + 3 * (col - 1); p = $i " / " $(i + 2) }
    on && /^similarity AUC/ { print p " (AUC " $(2 + col) ")"; exit }' "$1"
}

for task in synthetic structure level; do
  case $task in
    synthetic) q="$work/data/query.csv" d="$work/data/database.csv" ;;
    *) q="$work/brain/$task-query.csv" d="$work/brain/$task-database.csv" ;;
  esac
  header="| task | raw pixels | random init |"
  rule="|---|---|---|"
  row=""
  first=yes
  for r in $recipes; do
    out="$work/eval-$task-$r.txt"
    "$m3ret" eval "$work/$r.ini" --checkpoint "$work/run-$r/checkpoint.safetensors" \
      --query "$q" --database "$d" --json "$work/eval-$task-$r.json" >"$out"
    if [ $first = yes ]; then
      row="| $task | $(cell "$out" 1) | $(cell "$out" 2) |"
      first=no
    fi
    header="$header $r |"
    rule="$rule---|"
    row="$row $(cell "$out" 3) |"
  done
  printf '\n%s\n%s\n%s\n' "$header" "$rule" "$row"
done
