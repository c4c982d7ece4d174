#!/usr/bin/env bash
# Builds with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/) and runs the tests.
# Extra arguments go to ctest (CI runs the fast `-L unit` label).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# -O1 -g1: the sanitizers' usual setting (stack traces with file:line), and far less compile time
# than -O2 -g.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_SANITIZE=address,undefined \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
# With `-L unit` only what those tests need is built (tessera_unit_tests), not the model suites.
target=all
for arg in "$@"; do [ "$arg" = unit ] && target=tessera_unit_tests; done
cmake --build build-asan -j"$jobs" --target "$target"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" "$@"
