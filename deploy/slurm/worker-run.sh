#!/bin/bash
# The body of the worker batch scripts (workers-gpu.sbatch, workers-node.sbatch,
# workers-cpu.sbatch): find the server, start one worker step with the job's
# CPUs, and forward the signals Slurm sends to this batch shell, so a
# preempted, cancelled or timed-out task stops its trial (its checkpoint stays
# under CONVRNN_CHECKPOINTS for the retry, which resumes from it).
#   worker-run.sh DEVICES   (cpu | cuda:0 | all)
set -euo pipefail
devices=${1:?usage: worker-run.sh cpu|cuda:0|all}
bin=${CONVRNN_BIN:+$CONVRNN_BIN/}
checkpoints=${CONVRNN_CHECKPOINTS:-$HOME/convrnn-checkpoints}
if [ -n "${CONVRNN_SERVER:-}" ]; then
  server=$CONVRNN_SERVER
else
  address_file=${CONVRNN_ADDRESS_FILE:?set CONVRNN_SERVER=HOST:PORT or CONVRNN_ADDRESS_FILE (server.sbatch writes it)}
  for _ in $(seq 1 "${CONVRNN_WAIT_SERVER_S:-600}"); do [ -s "$address_file" ] && break; sleep 1; done
  [ -s "$address_file" ] || { echo "worker-run.sh: no server address in $address_file" >&2; exit 1; }
  server=$(cat "$address_file")
fi
args=(--server "$server" --devices "$devices" --checkpoint-root "$checkpoints"
      --log-format "${CONVRNN_LOG_FORMAT:-text}")
[ -n "${CONVRNN_TOKEN_FILE:-}" ] && args+=(--token-file "$CONVRNN_TOKEN_FILE")
[ -n "${CONVRNN_TLS_CA:-}" ] && args+=(--tls-ca "$CONVRNN_TLS_CA")
mkdir -p "$checkpoints"
echo "worker-run.sh: task ${SLURM_ARRAY_TASK_ID:-0} of job ${SLURM_JOB_ID:-?} on $(hostname): $devices, ${SLURM_CPUS_PER_TASK:-?} CPUs, server $server"
# Since Slurm 22.05 srun does not inherit --cpus-per-task: pass it, or every
# task shares one core. The worker sizes its threads from the allocation
# (affinity mask, cgroup quota, SLURM_CPUS_PER_TASK).
srun --ntasks=1 --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}" --kill-on-bad-exit=0 \
  "${bin}convrnn-worker" "${args[@]}" &
step=$!
# --signal=B:TERM@120 and scancel reach this shell; srun forwards TERM to the worker.
trap 'kill -TERM "$step" 2>/dev/null' TERM INT USR1
wait "$step" || true
wait "$step"
