#!/usr/bin/env bash
# Runs every libFuzzer target of a `-DCONVRNN_FUZZ=ON` build, one at a time
# (the machine is shared), for SECONDS each, under nice -n 19:
#   fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
# Each target starts from fuzz/corpus/<name> and fuzz/regressions/<name>;
# new coverage goes to BUILD_DIR/fuzz-corpus/<name>, crashes, hangs and
# out-of-memory inputs to BUILD_DIR/fuzz-artifacts/ (copy each one into
# fuzz/regressions/<name>/ once fixed: CTest replays them on every build).
# Exit status 1 when any target found something. CI runs every target for
# 20 s (.ci/run: `make fuzz FUZZ_SECONDS=20`).
set -uo pipefail
build=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(campaign spec neural proto)
src=$(cd "$(dirname "$0")" && pwd)
status=0
for name in "${targets[@]}"; do
  work="$build/fuzz-corpus/$name"
  artifacts="$build/fuzz-artifacts/$name"
  mkdir -p "$work" "$artifacts"
  echo "== fuzz_$name: ${seconds}s"
  # -timeout: a hang is an input taking over 10 s; -rss_limit_mb: an OOM
  # is over 2 GiB; -max_len: campaigns are at most 1 MiB, 64 KiB explores well.
  if ! nice -n 19 "$build/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$work" "$src/corpus/$name" "$src/regressions/$name" \
      2> "$build/fuzz-$name.log"; then
    status=1
    echo "fuzz_$name: FOUND a failure, see $build/fuzz-$name.log and $artifacts/"
    # The sanitizer's report and the input's path, for a CI log read later.
    tail -n 40 "$build/fuzz-$name.log"
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "$build/fuzz-$name.log" | tail -3
done
exit $status
