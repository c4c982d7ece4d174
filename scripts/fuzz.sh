#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, build-fuzz/) and runs each for SECONDS
# (default 30). Exits non-zero on the first crash, leak, sanitizer finding or hang (an input
# running over 30 s: generous, because a starved shared machine trips shorter limits); the input
# that did it lands in build-fuzz/artifacts/<target>/. Seeds are rebuilt from ../shared each run;
# what a run learns stays in build-fuzz/corpus/<target>/ for the next one.
#   scripts/fuzz.sh [SECONDS] [TARGET...]   targets: gguf tokenizer serve jinja tool_calls grammar (default: all built)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_FUZZ=ON \
  -DTESSERA_BUILD_TESTS=OFF -DTESSERA_SANITIZE=address,undefined >/dev/null
cmake --build build-fuzz -j"$jobs" --target tessera_fuzz_all
rm -rf build-fuzz/seeds
build-fuzz/fuzz/tessera_fuzz_seeds build-fuzz/seeds

targets=("$@")
if ((${#targets[@]} == 0)); then
  for binary in build-fuzz/fuzz/tessera_fuzz_*; do
    name=${binary##*/tessera_fuzz_}
    [ "$name" = seeds ] || targets+=("$name")
  done
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for name in "${targets[@]}"; do
  case $name in
    tokenizer) options=(-max_len=512) ;;  # long texts only slow it down; short ones reach every path
    *) options=() ;;
  esac
  mkdir -p "build-fuzz/corpus/$name" "build-fuzz/artifacts/$name"
  echo "== fuzz $name for ${seconds}s"
  log="build-fuzz/artifacts/$name/last-run.log"
  rc=0
  build-fuzz/fuzz/tessera_fuzz_"$name" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$name/" "${options[@]}" \
    "build-fuzz/corpus/$name" "build-fuzz/seeds/$name" >"$log" 2>&1 || rc=$?
  grep -E "^stat::number_of_executed_units|^Done|ERROR|SUMMARY|Test unit written" "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log"
    echo "fuzz $name: FAILED with status $rc (input in build-fuzz/artifacts/$name/)"
    exit 1
  fi
done
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crashes"
