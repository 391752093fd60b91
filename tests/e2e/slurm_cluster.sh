#!/bin/bash
# A one-node Slurm cluster for the e2e test (tests/e2e/slurm_e2e_test.cc):
# munged, slurmctld and slurmd as root with their state, logs and sockets in
# DIR, on free loopback ports. Debian's slurm-wlm and munge.
#   cluster.sh start DIR CTLD_PORT SLURMD_PORT   prints `export SLURM_CONF=...`
#   cluster.sh stop DIR
# Exit 3 with the reason on stderr when Slurm cannot start here.
set -euo pipefail
action=${1:?start|stop}
dir=${2:?DIR}
host=$(hostname -s)
why() { echo "slurm cluster: $*" >&2; exit 3; }
stop() {
  local pids=()
  for pidfile in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munge-run/munged.pid; do
    [ -s "$pidfile" ] && pids+=("$(cat "$pidfile")")
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  kill "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    local alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ ${#alive[@]} -gt 0 ] || return 0
    sleep 0.2
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
}
if [ "$action" = stop ]; then stop; exit 0; fi
ctld_port=${3:?CTLD_PORT}
slurmd_port=${4:?SLURMD_PORT}
for b in munged mungekey slurmctld slurmd sbatch; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || why "$b missing (make deps installs slurmctld slurmd slurm-client munge)"
done
[ "$(id -u)" = 0 ] || why "needs root (slurmd runs jobs as their users)"
mkdir -p "$dir"/{munge,munge-run,state,spool,log}
chmod 755 "$dir"
touch "$dir/log/munged.log" && chown munge:munge "$dir/log/munged.log"
chown munge:munge "$dir/munge" "$dir/munge-run" && chmod 700 "$dir/munge" && chmod 755 "$dir/munge-run"
/usr/sbin/mungekey --create --keyfile="$dir/munge/munge.key" --force 2>/dev/null ||
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$dir/munge/munge.key" && chmod 400 "$dir/munge/munge.key"
runuser -u munge -- /usr/sbin/munged --key-file="$dir/munge/munge.key" \
  --socket="$dir/munge-run/munge.socket" --pid-file="$dir/munge-run/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" \
  || why "munged did not start: $(tail -3 "$dir/log/munged.log" 2>/dev/null)"
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat > "$dir/slurm.conf" <<CONF
ClusterName=convrnn-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge-run/munge.socket
CryptoType=crypto/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
JobRequeue=1
KillWait=10
MinJobAge=600
SchedulerParameters=defer_batch
# The test node has fewer cores than the jobs ask for in all: oversubscribe.
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF="$dir/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF" -i || why "slurmctld did not start: $(tail -5 "$dir/log/slurmctld.log" 2>/dev/null)"
/usr/sbin/slurmd -f "$SLURM_CONF" || why "slurmd did not start: $(tail -5 "$dir/log/slurmd.log" 2>/dev/null)"
for _ in $(seq 1 60); do
  if sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 1
done
why "node never became idle: $(sinfo -N 2>&1 | tail -2); slurmd log: $(tail -5 "$dir/log/slurmd.log" 2>/dev/null)"
