#!/usr/bin/env bash
# Coordinator load benchmark (docs/performance.md, "Coordinator load").
#
# For each worker count: starts a fresh convrnn-server on 127.0.0.1 with its
# database in a temporary directory, launches bench/load/campaign.json
# (max_trials 1,000,000, max_parallel 2,000), runs the load driver's
# simulated workers for DURATION seconds after WARMUP, stops the campaign and
# the server, and prints the driver's table plus the server's CPU use.
#
# Usage: bench/load/run_load_bench.sh [BUILD_DIR]        (default: build)
# Environment: WORKERS="100 1000"  DURATION=30  WARMUP=5  THINK_MS=0
#              HEARTBEATS=1 (per epoch)  PORT=50161  OUT=dir for JSON results
#              SERVER_ARGS="--sync normal" (extra convrnn-server flags)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$repo/$build ;; esac
server_bin=$build/server/convrnn-server
driver=$build/bench/load/convrnn_load_driver
for f in "$server_bin" "$driver"; do
  [[ -x $f ]] || { echo "run_load_bench.sh: $f not built (ninja -C $build convrnn-server convrnn_load_driver)" >&2; exit 2; }
done

WORKERS=${WORKERS:-"100 1000"}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
THINK_MS=${THINK_MS:-0}
HEARTBEATS=${HEARTBEATS:-1}
SERVER_ARGS=${SERVER_ARGS:-}
PORT=${PORT:-50161}
work=$(mktemp -d /tmp/convrnn-load.XXXXXX)
OUT=${OUT:-$work}
mkdir -p "$OUT"
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"; wait "$server_pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cpu_seconds() {  # utime + stime of a process, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# duration ${DURATION}s after ${WARMUP}s warm-up, think ${THINK_MS} ms, ${HEARTBEATS} heartbeat(s) per epoch, server flags: ${SERVER_ARGS:-none}"
for n in $WORKERS; do
  db=$work/load-$n.db
  # shellcheck disable=SC2086  # SERVER_ARGS is a list of flags
  "$server_bin" --db "$db" --listen "127.0.0.1:$PORT" $SERVER_ARGS 2>"$work/server-$n.log" &
  server_pid=$!
  sleep 1
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server-$n.log" >&2; exit 1; }
  cpu0=$(cpu_seconds "$server_pid")
  echo
  echo "## $n simulated workers"
  "$driver" --server "127.0.0.1:$PORT" --workers "$n" --campaign "$repo/bench/load/campaign.json" \
    --duration-s "$DURATION" --warmup-s "$WARMUP" --think-ms "$THINK_MS" \
    --heartbeats-per-epoch "$HEARTBEATS" --json "$OUT/load-$n.json"
  cpu1=$(cpu_seconds "$server_pid")
  awk -v a="$cpu0" -v b="$cpu1" -v t="$DURATION" -v w="$WARMUP" \
    'BEGIN { printf "server CPU: %.1f s over the run (%.2f cores on average)\n", b - a, (b - a) / (t + w) }'
  ls -l "$db"* | awk '{ s += $5 } END { printf "database files: %.1f MB\n", s / 1e6 }'
  kill -TERM "$server_pid"; wait "$server_pid" || true
  server_pid=
done
