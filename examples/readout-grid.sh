#!/bin/sh
# readout-grid.sh — what each read-out choice is worth for one checkpoint:
# `m3ret eval` over [encoder] pool × [retriever] whiten, each beside the
# raw-pixel and random-init baselines (post-processed the same way), as a
# Markdown table of overall Precision@10 / mAP@10 and the similarity AUC.
#
#   examples/readout-grid.sh PIPELINE.ini CHECKPOINT QUERY.csv DATABASE.csv
#                                    (m3ret from $M3RET, else from PATH)
# Environment: POOLS (default "cls mean cls+mean gem grid"), WHITEN (default
# "none center pca:16 pca:32").
set -eu

if [ $# -ne 4 ]; then
  echo "usage: $0 PIPELINE.ini CHECKPOINT QUERY.csv DATABASE.csv" >&2
  exit 2
fi
m3ret=${M3RET:-m3ret}
ini=$1 ckpt=$2 query=$3 database=$4
for f in "$ini" "$ckpt" "$query" "$database"; do
  [ -r "$f" ] || { echo "$0: cannot read $f" >&2; exit 1; }
done
grep -q '^\[retriever\]' "$ini" || { echo "$0: $ini has no [retriever] group to vary" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$(dirname "$ini")/.readout-grid.ini"' EXIT

# the overall figure "P@10 / mAP@10" of column $2 of the baselines table
column_of() {
  awk -v col="$2" '/^against the baselines/ { on = 1; next }
    on && $1 == "all" { i = 2 + 3 * (col - 1); print $i " / " $(i + 2); exit }' "$1"
}
auc_of() {
  awk -v col="$2" '/^similarity AUC/ { print $(2 + col); exit }' "$1"
}

echo "| pool | whiten | raw P@10 / mAP@10 | random | trained | AUC raw / random / trained |"
echo "|---|---|---|---|---|---|"
for pool in ${POOLS:-cls mean cls+mean gem grid}; do
  for w in ${WHITEN:-none center pca:16 pca:32}; do
    kind=${w%%:*}
    dim=0
    [ "$kind" = "$w" ] || dim=${w#*:}
    # the pipeline with this pool and whitening (the file's own lines dropped)
    awk -v pool="$pool" -v kind="$kind" -v dim="$dim" '
      /^\[/ { group = $0 }
      group == "[encoder]" && /^pool=/ { next }
      group == "[retriever]" && /^whiten(_dim)?=/ { next }
      { print }
      $0 == "[encoder]" { print "pool=" pool }
      $0 == "[retriever]" { print "whiten=" kind; print "whiten_dim=" dim }' "$ini" >"$tmp/p.ini"
    grep -q '^pool=' "$tmp/p.ini" || printf '[encoder]\npool=%s\n' "$pool" >>"$tmp/p.ini"
    # relative paths in the pipeline resolve against its own folder
    cp "$tmp/p.ini" "$(dirname "$ini")/.readout-grid.ini"
    if ! "$m3ret" eval "$(dirname "$ini")/.readout-grid.ini" --checkpoint "$ckpt" \
        --query "$query" --database "$database" >"$tmp/out.txt" 2>"$tmp/err.txt"; then
      echo "| $pool | $w | failed: $(tail -1 "$tmp/err.txt") | | | |"
      continue
    fi
    echo "| $pool | $w | $(column_of "$tmp/out.txt" 1) | $(column_of "$tmp/out.txt" 2) |" \
         "$(column_of "$tmp/out.txt" 3) | $(auc_of "$tmp/out.txt" 1) / $(auc_of "$tmp/out.txt" 2) /" \
         "$(auc_of "$tmp/out.txt" 3) |"
  done
done
rm -f "$(dirname "$ini")/.readout-grid.ini"
