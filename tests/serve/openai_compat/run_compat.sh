#!/bin/sh
# Runs compat_test.mjs (official `openai` npm client) against a fresh `tessera serve`.
# Usage: run_compat.sh TESSERA_BINARY MODEL SOURCE_DIR WORK_DIR [SCRIPT [SERVER_ARGS...]]
# (SCRIPT defaults to compat_test.mjs; SERVER_ARGS go to `tessera serve`, e.g. --chat-template FILE.)
# Exit 77 (ctest SKIP) when npm cannot install the client (no network); node_modules lives in WORK_DIR.
set -u
bin=$1 model=$2 src=$3 work=$4
script=${5:-compat_test.mjs}
[ $# -ge 5 ] && shift 5 || shift $#
mkdir -p "$work" && cp "$src/package.json" "$src/$script" "$work/" && cd "$work" || exit 1
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node/npm not installed"; exit 77
fi
if [ ! -f node_modules/openai/package.json ]; then
  if ! npm install --no-audit --no-fund --loglevel=error --fetch-retries=1 --fetch-timeout=30000 >npm.log 2>&1; then
    tail -5 npm.log; echo "SKIP: npm install failed (no network?)"; exit 77
  fi
fi
log="$work/server-$$.log"
# The previous run's log names its port: remove it first, or the loop below could read that stale
# port before the new server truncates the file (a flake seen under load: ECONNREFUSED).
rm -f "$log"
"$bin" serve -m "$model" --port 0 -t 1 "$@" >"$log" 2>&1 &
pid=$!
port=""
i=0
while [ -z "$port" ] && [ $i -lt 300 ]; do
  port=$(sed -n 's/.*on http:\/\/[^:]*:\([0-9][0-9]*\).*/\1/p' "$log" 2>/dev/null)
  kill -0 $pid 2>/dev/null || break
  [ -z "$port" ] && sleep 0.1
  i=$((i + 1))
done
if [ -z "$port" ]; then cat "$log"; kill $pid 2>/dev/null; echo "FAIL: server did not start"; exit 1; fi
node "$script" "http://127.0.0.1:$port/v1"
rc=$?
kill -TERM $pid
wait $pid
server_rc=$?
[ $server_rc -ne 0 ] && { cat "$log"; echo "FAIL: server exit status $server_rc"; exit 1; }
exit $rc
