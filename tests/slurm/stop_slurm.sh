#!/usr/bin/env bash
# Stop the daemons start_slurm.sh STATE_DIR started (by their recorded PIDs, newest first)
# and remove the /etc/slurm config files it wrote.
#
#   tests/slurm/stop_slurm.sh STATE_DIR
set -uo pipefail

state=${1:?usage: stop_slurm.sh STATE_DIR}
[[ -f $state/pids ]] && tac "$state/pids" | while read -r name pid; do
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    echo "stopped $name ($pid)"
done
rm -f "$state/pids"
for conf in /etc/slurm/slurm.conf /etc/slurm/gres.conf; do
    grep -qx "# written by tests/slurm/start_slurm.sh" "$conf" 2>/dev/null && rm -f "$conf"
done
exit 0
