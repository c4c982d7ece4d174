#!/usr/bin/env bash
# Regenerates data/eval/tinystories-{calibration,heldout}.txt: stories sampled from
# TinyStories-656K-f32 with tessera's own sampler (temperature 1.0, top-k 40, top-p 0.95,
# min-p 0.05), one fixed seed per story. Calibration uses seeds 1..N, held-out seeds
# 100001..100000+N, so `tessera imatrix` never sees the held-out stories.
# Usage: scripts/make-eval-text.sh [TESSERA_BINARY] [STORIES_PER_FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
tessera="${1:-build/tessera}"
num_stories="${2:-200}"
model=../shared/models/TinyStories-656K-f32.gguf
out_dir=data/eval

make_file() {  # $1 = first seed, $2 = output file
  local first_seed=$1 out=$2
  : >"$out.tmp"
  for ((i = 0; i < num_stories; ++i)); do
    "$tessera" generate -m "$model" -p "" -n 500 --temp 1.0 --top-k 40 --top-p 0.95 --min-p 0.05 \
      --seed $((first_seed + i)) -t 1 --json |
      python3 -c 'import json,sys; t=json.load(sys.stdin)["text"]; print(t.replace("<|end_story|>","").strip())' >>"$out.tmp"
  done
  mv "$out.tmp" "$out"
}

make_file 1 "$out_dir/tinystories-calibration.txt"
make_file 100001 "$out_dir/tinystories-heldout.txt"
wc -c "$out_dir"/tinystories-*.txt
