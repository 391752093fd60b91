#!/usr/bin/env bash
# Dashboard benchmark (docs/performance.md, "Dashboard"):
#   1. the campaign page of a 10,000-trial campaign in headless Chromium,
#      cold (first view after a server start) and warm, with the API's times;
#   2. LeaseTrial latency under load, without and with 10 dashboard viewers
#      polling (bench/dashboard/viewers.py) the running and the large campaign.
#
# Usage: bench/dashboard/run_dashboard_bench.sh [BUILD_DIR]   (default: build)
# Environment: TRIALS=10000 WORKERS=100 DURATION=20 VIEWERS=10 PORT=50171
#              THINK_MS=20 (each simulated worker's pause between calls; 20 ms
#              keeps 2 cores busy, 1000 with WORKERS=1000 is the fleet of
#              issue 15 at one call a second)  JITTER=0 (see run_load_bench.sh)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$repo/$build ;; esac
TRIALS=${TRIALS:-10000}
WORKERS=${WORKERS:-100}
DURATION=${DURATION:-20}
VIEWERS=${VIEWERS:-10}
THINK_MS=${THINK_MS:-20}
JITTER=${JITTER:-0}
PORT=${PORT:-50171}
HTTP=$((PORT + 1))
work=$(mktemp -d /tmp/convrnn-dash.XXXXXX)
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"; wait "$server_pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
echo bench-token > "$work/token"

start_server() {
  "$build/server/convrnn-server" --db "$work/dash.db" --listen "127.0.0.1:$PORT" \
    --http "127.0.0.1:$HTTP" --token-file "$work/token" --sync normal 2>"$work/server.log" &
  server_pid=$!
  sleep 1.5
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$build/bench/dashboard/populate_campaign" --db "$work/dash.db" --trials "$TRIALS" >/dev/null
start_server
echo "## campaign page, $TRIALS trials (ms; cold = first view after the start)"
/usr/bin/python3 "$repo/tests/e2e/dashboard_browser.py" perf --url "http://127.0.0.1:$HTTP" \
  --token bench-token --token-file "$work/token" --client "$build/client/convrnn" \
  --server "127.0.0.1:$PORT" --campaign 1 --screenshots "$work/shots"
echo

load() {  # $1: viewers (0 = none)
  local viewers_pid=
  if [[ $1 -gt 0 ]]; then
    /usr/bin/python3 "$repo/bench/dashboard/viewers.py" "http://127.0.0.1:$HTTP" bench-token \
      "$((DURATION + 8))" "$1" 1 2 >"$work/viewers.json" &
    viewers_pid=$!
  fi
  "$build/bench/load/convrnn_load_driver" --server "127.0.0.1:$PORT" --token-file "$work/token" \
    --workers "$WORKERS" --duration-s "$DURATION" --warmup-s 3 --think-ms "$THINK_MS" --think-jitter "$JITTER" \
    --json "$work/load-$1.json" >/dev/null
  [[ -n $viewers_pid ]] && wait "$viewers_pid"
  /usr/bin/python3 - "$work/load-$1.json" "$1" "$work/viewers.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lease = r["methods"]["LeaseTrial"]
v = json.load(open(sys.argv[3])) if sys.argv[2] != "0" else {}
print(f"viewers={sys.argv[2]:>2}  LeaseTrial p50={lease['p50_ms']:.2f} ms p99={lease['p99_ms']:.2f} ms "
      f"max={lease['max_ms']:.1f} ms  all RPCs p99={r['all']['p99_ms']:.2f} ms, {r['all']['per_s']:.0f}/s"
      f"  viewers: {v}")
PY
}
"$build/client/convrnn" --server "127.0.0.1:$PORT" --token-file "$work/token" \
  launch "$repo/bench/load/campaign.json" >/dev/null
echo "## LeaseTrial latency, $WORKERS simulated workers, think ${THINK_MS} ms (jitter $JITTER), ${DURATION}s"
load 0
load "$VIEWERS"
