#!/usr/bin/env bash
# Start a single-node SLURM (munge, slurmctld, slurmd) for tests, configured in a private folder.
#
#   tests/slurm/start_slurm.sh STATE_DIR
#
# Installs Debian's munge/slurmctld/slurmd/slurm-client when absent (needs root and apt).
# Writes /etc/slurm/slurm.conf (+ gres.conf with two fake GPUs so --gpus requests schedule): the
# default path, because the Snakemake job step drops SLURM_* variables (SLURM_CONF too) before its
# srun. State, spool and logs go to STATE_DIR. Starts the daemons and records the PIDs of the ones
# it started in STATE_DIR/pids. Stop with stop_slurm.sh STATE_DIR.
# Exit 77 (with the reason on stderr) when this machine cannot run it: not root, no apt, or a
# SLURM config that this script did not write.
set -euo pipefail

state=$(realpath -m "${1:?usage: start_slurm.sh STATE_DIR}")
cannot() { echo "cannot start SLURM: $*" >&2; exit 77; }

[[ $(id -u) == 0 ]] || cannot "needs root (to install packages and run slurmd)"
# The daemons, and so the jobs (SLURM's default PropagatePrioProcess=0), run ahead of the other test workers
# on the CPU: a job that ends a few seconds after a status check waits for the next, 10 s later each time.
renice -n -10 $$ >/dev/null 2>&1 || true  # a container may forbid it: then only slower
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || cannot "slurm is not installed and there is no apt-get"
    apt-get update -qq >/dev/null || cannot "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        munge slurmctld slurmd slurm-client >/dev/null 2>&1 || cannot "apt-get install of slurm failed"
fi

conf_dir=/etc/slurm
marker="# written by tests/slurm/start_slurm.sh"
if [[ -f $conf_dir/slurm.conf ]] && ! grep -qx "$marker" "$conf_dir/slurm.conf"; then
    cannot "$conf_dir/slurm.conf exists and was not written by this script; not touching a real SLURM"
fi
mkdir -p "$state"/{spool/ctld,spool/d,log} "$conf_dir"
: > "$state/pids"
host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)

cat > "$conf_dir/slurm.conf" <<EOF
$marker
ClusterName=testcluster
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=$state/spool/ctld
SlurmdSpoolDir=$state/spool/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Keep finished jobs visible to squeue (the status source without accounting) for an hour: the test reads
# every job's state with scontrol after the whole run, which took over 300 s on a loaded machine.
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:fakegpu:2 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
# Two fake GPUs: jobs asking for one get scheduled and see CUDA_VISIBLE_DEVICES=0 or 1, no device behind
# it; two, so that GPU jobs run two at a time, as the CPU jobs do on a 2-core node.
cat > "$conf_dir/gres.conf" <<EOF
$marker
AutoDetect=off
NodeName=$host Name=gpu Type=fakegpu File=/dev/null
NodeName=$host Name=gpu Type=fakegpu File=/dev/zero
EOF

# munge may already serve this machine; only a munged started here is recorded (and later stopped).
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
    echo "munged $(cat /run/munge/munged.pid)" >> "$state/pids"
fi

/usr/sbin/slurmctld -i
for _ in $(seq 100); do [[ -s $state/slurmctld.pid ]] && break; sleep 0.1; done
echo "slurmctld $(cat "$state/slurmctld.pid")" >> "$state/pids"
/usr/sbin/slurmd
for _ in $(seq 100); do [[ -s $state/slurmd.pid ]] && break; sleep 0.1; done
echo "slurmd $(cat "$state/slurmd.pid")" >> "$state/pids"

for _ in $(seq 60); do
    if sinfo -h -o %t 2>/dev/null | grep -qx idle; then
        echo "SLURM up: $(sinfo -h -o '%P %D %t %G')"
        exit 0
    fi
    sleep 0.5
done
echo "SLURM did not become idle; see $state/log" >&2
exit 1
