#!/usr/bin/env bash
# A one-machine Slurm for the cluster tests: slurmctld + slurmd as root, no munge
# (auth/none, cred/none), one node "localhost" at 127.0.0.1, everything under DIR.
# Usage: slurm_fixture.sh start DIR   -> prints the SLURM_CONF path; exit 77 when not possible
#        slurm_fixture.sh stop DIR
# Clients (sbatch, srun, squeue) find it through SLURM_CONF=DIR/slurm.conf.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# Every process under slurmd (job steps and what they started), by pid.
descendants() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do echo "$c"; descendants "$c"; done
}

stop() {
  local conf=$dir/slurm.conf
  # Jobs first, so their steps end through Slurm; then the daemons; then whatever of the jobs'
  # processes outlived them (proctrack/linuxproc does not reap orphans when slurmd stops).
  if [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    SLURM_CONF=$conf scancel --quiet --user=root 2>/dev/null || true
    for _ in $(seq 50); do
      [ -z "$(SLURM_CONF=$conf squeue -h -t R,PD,CG 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  local left=""
  [ -f "$dir/slurmd.pid" ] && left=$(descendants "$(cat "$dir/slurmd.pid")")
  for d in slurmd slurmctld; do
    if [ -f "$dir/$d.pid" ]; then
      pid=$(cat "$dir/$d.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$d.pid"
    fi
  done
  for p in $left; do kill -9 "$p" 2>/dev/null || true; done
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
   ! command -v sbatch >/dev/null; then
  echo "slurm fixture: needs root and slurmctld/slurmd/sbatch (Debian slurmctld slurmd slurm-client)" >&2
  exit 77
fi

# Ports from the directory name's hash, so two fixtures on one machine rarely collide.
base=$(( 20000 + $(printf '%s' "$dir" | cksum | cut -d' ' -f1) % 20000 ))
mkdir -p "$dir/state" "$dir/spool"
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat >"$dir/slurm.conf" <<EOF
ClusterName=aha-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/none
CredType=cred/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
MpiDefault=none
KillWait=5
MinJobAge=600
SlurmctldTimeout=10
SlurmdTimeout=30
InactiveLimit=0
NodeName=localhost NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
EOF
export SLURM_CONF=$dir/slurm.conf
stop
slurmctld -c -f "$SLURM_CONF"
slurmd -N localhost -f "$SLURM_CONF"
for _ in $(seq 100); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "$SLURM_CONF"
    exit 0
  fi
  sleep 0.2
done
echo "slurm fixture: the node did not come up; logs in $dir" >&2
tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
stop
exit 1
