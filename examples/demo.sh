#!/bin/sh
# demo.sh — the end-to-end demo on the bundled default: synthesise a labelled
# multi-modality dataset, pretrain a micro ViT briefly with MAE, then embed,
# index and evaluate retrieval against the raw-pixel and random-init
# baselines, and draw a
# montage of query results.
#
#   examples/demo.sh [--short] [WORKDIR]      (m3ret from $M3RET, else from PATH)
#
# --short: the same steps on 2 files per class, 3 training steps of batch 4:
# a run for checkers (valgrind memcheck: `make demo-valgrind`), not for figures.
set -eu

per_class=8
train_steps=""
short=no
if [ "${1:-}" = --short ]; then
  short=yes
  per_class=2
  train_steps="--steps 3"
  shift
fi
m3ret=${M3RET:-m3ret}
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-demo-run}
mkdir -p "$work"
ini="$work/pipeline.ini"
if [ "$short" = yes ]; then
  # the warm-up must fit the 3 steps
  sed -e 's/^batch=.*/batch=4/' -e 's/^warmup=.*/warmup=1/' "$here/mae-micro.ini" > "$ini"
else
  cp "$here/mae-micro.ini" "$ini"
fi

step() { printf '\n== %s\n' "$*"; }

step "1/5 synthetic dataset (X-ray, ultrasound, endoscopy, CT, MRI) -> $work/data"
"$m3ret" synth --out "$work/data" --per-class "$per_class" --seed 0

step "2/5 MAE pretraining of a micro ViT (MRI left out: it is the unseen modality)"
# shellcheck disable=SC2086  # $train_steps is empty or two words
"$m3ret" train "$ini" --out "$work/run" $train_steps

step "3/5 retrieval: trained encoder against raw pixels and random init"
"$m3ret" eval "$ini" --checkpoint "$work/run/checkpoint.safetensors" \
  --query "$work/data/query.csv" --database "$work/data/database.csv" -k 1,5,10 \
  --json "$work/eval.json"

step "4/5 embed and index the database"
"$m3ret" embed "$ini" --checkpoint "$work/run/checkpoint.safetensors" \
  --manifest "$work/data/database.csv" --out "$work/database.npy"
"$m3ret" index "$ini" --embeddings "$work/database.npy" --out "$work/database.index"

step "5/5 the 5 most similar cases of one query per modality"
"$m3ret" query "$ini" --checkpoint "$work/run/checkpoint.safetensors" \
  --index "$work/database.index" -k 5 --montage "$work/montage.png" \
  "$work/data/xray/chest_000.png" "$work/data/ct/knee_000.nii.gz" \
  "$work/data/mri/head_000.nii.gz" "$work/data/endoscopy/colon_000.mp4"

printf '\nDone. In %s: run/loss.png (loss curve), eval.json, montage.png\n' "$work"
