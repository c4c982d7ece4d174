#!/usr/bin/env bash
# Starts `tessera serve` on a free loopback port, runs `tessera bench-serve` at each request rate
# and prints one Markdown table row per rate (the docs/performance.md "Serving benchmark" table).
#
#   scripts/bench-serve-sweep.sh [RATE...]            default rates: 0.5 1 2 4 8 inf
#
# Environment: TESSERA (build/tessera), MODEL (/tmp/bench-smollm-135m-Q8_0.gguf), THREADS (2),
# NUM_PROMPTS (64), INPUT_LEN (128), OUTPUT_LEN (64), SEED (0), SERVE_ARGS (extra serve flags),
# OUT_DIR (where the JSON results go; default a temporary directory).
set -euo pipefail
tessera=${TESSERA:-build/tessera}
model=${MODEL:-/tmp/bench-smollm-135m-Q8_0.gguf}
threads=${THREADS:-2}
num_prompts=${NUM_PROMPTS:-64}
input_len=${INPUT_LEN:-128}
output_len=${OUTPUT_LEN:-64}
seed=${SEED:-0}
out_dir=${OUT_DIR:-$(mktemp -d)}
rates=("$@")
((${#rates[@]})) || rates=(0.5 1 2 4 8 inf)
mkdir -p "$out_dir"
rm -f "$out_dir/serve.log"  # a reused OUT_DIR's old log would name the old server's port

# shellcheck disable=SC2086  # SERVE_ARGS is a list of flags
"$tessera" serve -m "$model" -t "$threads" --port 0 ${SERVE_ARGS:-} >"$out_dir/serve.log" 2>&1 &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 300); do
  url=$(grep -o 'http://[0-9.]*:[0-9]*' "$out_dir/serve.log" 2>/dev/null | head -1 || true)
  [ -n "$url" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$out_dir/serve.log" >&2; exit 1; }
  sleep 1
done
[ -n "$url" ] || { echo "bench-serve-sweep: the server did not start" >&2; exit 1; }
echo "server: $url ($model, -t $threads); results in $out_dir" >&2

for rate in "${rates[@]}"; do
  "$tessera" bench-serve --base-url "$url" --num-prompts "$num_prompts" --request-rate "$rate" \
    --input-len "$input_len" --output-len "$output_len" --seed "$seed" -o json >"$out_dir/rate-$rate.json"
done

python3 - "$out_dir" "${rates[@]}" <<'EOF'
import json, sys
out_dir, rates = sys.argv[1], sys.argv[2:]
print("| rate (req/s) | ok / failed | duration (s) | req/s | output tok/s | TTFT mean / median / p99 (ms) "
      "| TPOT median / p99 (ms) | ITL median / p99 (ms) | E2E median / p99 (ms) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for rate in rates:
    r = json.load(open(f"{out_dir}/rate-{rate}.json"))
    print(f"| {rate} | {r['completed']} / {r['failed']} | {r['duration']:.1f} | {r['request_throughput']:.2f} "
          f"| {r['output_throughput']:.1f} | {r['mean_ttft_ms']:.0f} / {r['median_ttft_ms']:.0f} / {r['p99_ttft_ms']:.0f} "
          f"| {r['median_tpot_ms']:.1f} / {r['p99_tpot_ms']:.1f} | {r['median_itl_ms']:.1f} / {r['p99_itl_ms']:.1f} "
          f"| {r['median_e2el_ms']:.0f} / {r['p99_e2el_ms']:.0f} |")
EOF
