#!/usr/bin/env bash
# Prints docs/quantization.md's table: for each TinyStories model and recipe, the file size and the
# held-out perplexity with plain rounding and with an importance matrix from the calibration text.
# Usage: scripts/quantization-table.sh [TESSERA_BINARY] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
tessera="${1:-build/tessera}"
threads="${2:-2}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
calibration=data/eval/tinystories-calibration.txt
heldout=data/eval/tinystories-heldout.txt
types="Q8_0 Q6_K Q5_K_M Q5_K_S Q5_1 Q5_0 Q4_K_M Q4_K_S Q4_1 Q4_0 Q3_K_L Q3_K_M Q3_K_S Q2_K"

ppl() {  # prints "PPL +/- error"
  "$tessera" perplexity -m "$1" -f "$heldout" -t "$threads" -o json |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.4f ± %.4f" % (d["ppl"], d["ppl_error"]))'
}
mib() { python3 -c "import os,sys; print('%.3f' % (os.path.getsize(sys.argv[1]) / 1048576))" "$1"; }

for model in TinyStories-656K stories260K; do
  f32=../shared/models/$model-f32.gguf
  "$tessera" imatrix -m "$f32" -f "$calibration" -o "$work/$model.imatrix" -t "$threads" >/dev/null 2>&1
  echo "| $model | F32 | $(mib "$f32") | $(ppl "$f32") | | |"
  for type in $types; do
    "$tessera" quantize "$f32" "$work/plain.gguf" "$type" -t "$threads" >/dev/null 2>&1
    "$tessera" quantize "$f32" "$work/imatrix.gguf" "$type" --imatrix "$work/$model.imatrix" -t "$threads" >/dev/null 2>&1
    plain=$(ppl "$work/plain.gguf")
    weighted=$(ppl "$work/imatrix.gguf")
    better=$(python3 -c "import sys; print('yes' if float(sys.argv[2]) < float(sys.argv[1]) else ('same' if sys.argv[2] == sys.argv[1] else 'NO'))" "${plain%% *}" "${weighted%% *}")
    echo "| $model | $type | $(mib "$work/plain.gguf") | $plain | $weighted | $better |"
  done
done
