#!/bin/bash
# Runs a command with the machine's compile and link jobs paused, so that a
# latency benchmark sees the server rather than other builds on a shared
# machine: SIGSTOP to every cc1plus/ld/clang/ninja/libFuzzer process when it
# starts, SIGCONT to the same processes when it ends (also on failure or ^C).
# Tests, Python and everything else keep running. Needs permission to signal
# those processes (root, or the same user).
#   bench/quiet.sh nice -n -15 bench/load/run_load_bench.sh build-srv
set -uo pipefail
pattern='^(cc1|cc1plus|ld|ld.gold|collect2|clang|clang\+\+|clang-14|clang\+\+-14|ninja|fuzz_.*)$'
pids=$(ps -eo pid=,comm= | awk -v p="$pattern" '$2 ~ p { print $1 }' | tr '\n' ' ')
resume() { [[ -n ${pids// /} ]] && kill -CONT $pids 2>/dev/null; }
trap resume EXIT
trap 'exit 130' INT TERM
[[ -n ${pids// /} ]] && kill -STOP $pids 2>/dev/null
echo "# quiet.sh: paused $(wc -w <<< "$pids") build processes; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$@"
