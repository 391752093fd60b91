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
#              JITTER=0 (each pause uniform in THINK_MS * [1-J, 1+J]; with 0
#                every worker keeps the phase it started in, so a campaign's
#                equal-length trials finish in waves)
#              HEARTBEATS=1 (per epoch)  PORT=50161  OUT=dir for JSON results
#              SERVER_ARGS="--sync normal" (extra convrnn-server flags)
#              SERVER=path (another convrnn-server build, e.g. the old one, to
#                compare side by side with the same driver)
#              CAMPAIGN=file (default bench/load/campaign.json)
#              PREFILL=N: first complete N trials of the campaign in a closed
#                loop (200 workers, 1 epoch), unmeasured, then measure on it
#                (e.g. a TPE campaign with 10,000 finished trials)
#              READERS=N dashboard-style readers polling once a second
#              STAGES=1: print the server's stage timings (util/stage_stats.h)
#                of the measured window (reset by SIGUSR1 after the warm-up)
#              RSS_EVERY=S: print the server's resident memory, and the
#                latency of the calls of each S seconds, every S seconds (soak)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$repo/$build ;; esac
server_bin=${SERVER:-$build/server/convrnn-server}
driver=$build/bench/load/convrnn_load_driver
for f in "$server_bin" "$driver"; do
  [[ -x $f ]] || { echo "run_load_bench.sh: $f not built (ninja -C $build convrnn-server convrnn_load_driver)" >&2; exit 2; }
done

WORKERS=${WORKERS:-"100 1000"}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
THINK_MS=${THINK_MS:-0}
JITTER=${JITTER:-0}
HEARTBEATS=${HEARTBEATS:-1}
SERVER_ARGS=${SERVER_ARGS:-}
PORT=${PORT:-50161}
CAMPAIGN=${CAMPAIGN:-$repo/bench/load/campaign.json}
PREFILL=${PREFILL:-0}
READERS=${READERS:-0}
RSS_EVERY=${RSS_EVERY:-0}
[[ ${STAGES:-0} == 1 ]] && export CONVRNN_STAGE_STATS=1
work=$(mktemp -d /tmp/convrnn-load.XXXXXX)
OUT=${OUT:-$work}
mkdir -p "$OUT"
server_pid=
rss_pid=
cleanup() {
  [[ -n $rss_pid ]] && kill "$rss_pid" 2>/dev/null
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
echo "# duration ${DURATION}s after ${WARMUP}s warm-up, think ${THINK_MS} ms (jitter ${JITTER}), ${HEARTBEATS} heartbeat(s) per epoch, server flags: ${SERVER_ARGS:-none}"
echo "# server $server_bin; campaign $(basename "$CAMPAIGN"), prefill $PREFILL, readers $READERS; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $WORKERS; do
  db=$work/load-$n.db
  # shellcheck disable=SC2086  # SERVER_ARGS is a list of flags
  "$server_bin" --db "$db" --listen "127.0.0.1:$PORT" $SERVER_ARGS 2>"$work/server-$n.log" &
  server_pid=$!
  sleep 1
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server-$n.log" >&2; exit 1; }
  campaign_args=(--campaign "$CAMPAIGN")
  if (( PREFILL > 0 )); then
    t0=$(date +%s)
    "$driver" --server "127.0.0.1:$PORT" --workers 200 --campaign "$CAMPAIGN" --no-stop \
      --duration-s 600 --warmup-s 0 --think-ms 0 --epochs 1 --heartbeats-per-epoch 0 \
      --until-completed "$PREFILL" > "$work/prefill-$n.txt"
    echo "prefill: $(grep -o 'trials completed [0-9]*' "$work/prefill-$n.txt") in $(( $(date +%s) - t0 )) s"
    campaign_args=(--campaign-id 1)  # the fresh database's first campaign
  fi
  if (( RSS_EVERY > 0 )); then
    ( while kill -0 "$server_pid" 2>/dev/null; do
        echo "rss $(date -u +%T) $(awk '/VmRSS/ { print $2, $3 }' "/proc/$server_pid/status")"
        sleep "$RSS_EVERY"
      done ) &
    rss_pid=$!
  fi
  # The server's stage timings start afresh when the measured window does
  # (SIGUSR1), so a prefill or the warm-up is not in them.
  [[ ${STAGES:-0} == 1 ]] && { sleep "$WARMUP"; kill -USR1 "$server_pid" 2>/dev/null; } &
  cpu0=$(cpu_seconds "$server_pid")
  echo
  echo "## $n simulated workers"
  "$driver" --server "127.0.0.1:$PORT" --workers "$n" "${campaign_args[@]}" --readers "$READERS" \
    --duration-s "$DURATION" --warmup-s "$WARMUP" --think-ms "$THINK_MS" --think-jitter "$JITTER" \
    --heartbeats-per-epoch "$HEARTBEATS" --report-every-s "$RSS_EVERY" --json "$OUT/load-$n.json"
  cpu1=$(cpu_seconds "$server_pid")
  awk -v a="$cpu0" -v b="$cpu1" -v t="$DURATION" -v w="$WARMUP" \
    'BEGIN { printf "server CPU: %.1f s over the run (%.2f cores on average)\n", b - a, (b - a) / (t + w) }'
  ls -l "$db"* | awk '{ s += $5 } END { printf "database files: %.1f MB\n", s / 1e6 }'
  kill -TERM "$server_pid"; wait "$server_pid" || true
  server_pid=
  if [[ -n $rss_pid ]]; then kill "$rss_pid" 2>/dev/null || true; wait "$rss_pid" 2>/dev/null || true; rss_pid=; fi
  [[ ${STAGES:-0} == 1 ]] && sed -n '/stage timings since/,/stopped/p' "$work/server-$n.log" | grep -v stopped
done
