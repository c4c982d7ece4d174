#!/usr/bin/env bash
# Installs what Tessera needs to build and test on Debian 12 (skips packages already present).
set -euo pipefail
# clang + libclang-rt-14-dev (libFuzzer, only "recommended" by clang) build scripts/fuzz.sh.
# libboost-dev: Boost.Asio + Beast (header-only), the HTTP server of `tessera serve`.
# libcpp-httplib-dev (+ pkg-config to find it): the bench-serve client and the server tests' client.
# libbenchmark-dev: the kernel micro-benchmarks in bench/.
# chromium: the browser tests of the chat page and dashboard (tests/web/, driven by playwright-core).
# libopenmpi-dev + openmpi-bin: tensor / pipeline parallelism over MPI and its mpirun tests (docs/distributed.md).
packages=(cmake g++ make libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev clang libclang-rt-14-dev
          pkg-config libcpp-httplib-dev libbenchmark-dev libboost-dev chromium libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${missing[@]}"
fi
# The browser tests' driver (playwright-core, pinned in tests/web/package-lock.json; it uses the
# chromium above and downloads no browser of its own).
if command -v npm >/dev/null && [ ! -d "$(dirname "$0")/../tests/web/node_modules/playwright-core" ]; then
  (cd "$(dirname "$0")/../tests/web" && npm ci --no-audit --no-fund)
fi
