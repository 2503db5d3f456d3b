#!/usr/bin/env bash
# A real Slurm on this one machine, for the fleet tests: munged, slurmctld on the host, and one
# slurmd per machine class, each in its own network namespace with a veth pair and a private address
# (several hosts on one machine). Debian's packages: slurmctld, slurmd, slurm-client, munge.
#
#   scripts/slurm-testbed.sh up DIR     # prints SLURM_CONF=DIR/slurm.conf once the nodes are idle
#   scripts/slurm-testbed.sh down DIR
#
# Nodes: n1 (Feature=spr) and n2 (Feature=zen4), 2 CPUs each, one partition `bench` with
# OverSubscribe=EXCLUSIVE. No accounting, no cgroups (proctrack/linuxproc, task/none).
set -euo pipefail
action=${1:?up or down}
dir=$(realpath -m "${2:?a folder for the testbed}")
conf="$dir/slurm.conf"
nodes=(n1 n2)
features=(spr zen4)
ctl_addr=10.77.0.1

fail() { echo "slurm-testbed: $*" >&2; exit 1; }

down() {
  local pids=()
  for f in "$dir"/run/*.pid; do
    [ -e "$f" ] && pids+=("$(cat "$f")")
  done
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
  # Gone before the next testbed binds the same ports.
  for _ in $(seq 50); do
    kill -0 "${pids[@]}" 2>/dev/null || break
    sleep 0.2
  done
  rm -f "$dir"/run/*.pid
  for i in "${!nodes[@]}"; do
    ip netns del "ladder-${nodes[$i]}" 2>/dev/null || true
    ip link del "lad-${nodes[$i]}" 2>/dev/null || true
  done
  ip addr del "$ctl_addr/32" dev lo 2>/dev/null || true
}

if [ "$action" = down ]; then down; exit 0; fi
[ "$action" = up ] || fail "unknown action $action (up or down)"
[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, slurmd)"
for t in ip slurmctld slurmd sbatch munged; do
  command -v "$t" >/dev/null || fail "$t not found (apt-get install iproute2 slurmctld slurmd slurm-client munge)"
done
down
mkdir -p "$dir"/{run,log,state,spool}

# munge: one key on this host serves every node (they share the file system).
if ! pgrep -x munged >/dev/null; then
  [ -s /etc/munge/munge.key ] || { mungekey -c -f -k /etc/munge/munge.key 2>/dev/null || create-munge-key -f; }
  chown munge:munge /etc/munge/munge.key 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged || fail "munged did not start"
fi

# The controller's address on the host, reached from each namespace through its veth pair.
ip addr add "$ctl_addr/32" dev lo
for i in "${!nodes[@]}"; do
  n=${nodes[$i]}
  k=$((i + 1))
  ip netns add "ladder-$n" || fail "cannot create network namespace ladder-$n"
  ip link add "lad-$n" type veth peer name eth0 netns "ladder-$n" || fail "cannot create the veth pair of $n"
  ip addr add "10.77.$k.1/30" dev "lad-$n"
  ip link set "lad-$n" up
  ip netns exec "ladder-$n" ip link set lo up
  ip netns exec "ladder-$n" ip addr add "10.77.$k.2/30" dev eth0
  ip netns exec "ladder-$n" ip link set eth0 up
  ip netns exec "ladder-$n" ip route add default via "10.77.$k.1"
done

host=$(hostname -s)
{
  echo "ClusterName=ladder-test"
  echo "SlurmctldHost=$host($ctl_addr)"
  echo "SlurmUser=root"
  echo "SlurmdUser=root"
  echo "AuthType=auth/munge"
  echo "StateSaveLocation=$dir/state"
  echo "SlurmdSpoolDir=$dir/spool/%n"
  echo "SlurmctldPidFile=$dir/run/slurmctld.pid"
  echo "SlurmdPidFile=$dir/run/slurmd-%n.pid"
  echo "SlurmctldLogFile=$dir/log/slurmctld.log"
  echo "SlurmdLogFile=$dir/log/slurmd-%n.log"
  echo "ProctrackType=proctrack/linuxproc"
  echo "TaskPlugin=task/none"
  echo "JobAcctGatherType=jobacct_gather/none"
  echo "AccountingStorageType=accounting_storage/none"
  echo "JobCompType=jobcomp/none"
  echo "SelectType=select/cons_tres"
  echo "SelectTypeParameters=CR_Core"
  echo "MpiDefault=none"
  echo "ReturnToService=2"
  echo "MinJobAge=3600"
  echo "MailProg=/bin/true"
  for i in "${!nodes[@]}"; do
    echo "NodeName=${nodes[$i]} NodeAddr=10.77.$((i + 1)).2 CPUs=2 RealMemory=1024 Feature=${features[$i]} State=UNKNOWN"
  done
  echo "PartitionName=bench Nodes=$(IFS=,; echo "${nodes[*]}") Default=YES MaxTime=INFINITE OverSubscribe=EXCLUSIVE State=UP"
} >"$conf"
mkdir -p "$dir"/spool/{n1,n2}

slurmctld -f "$conf" || fail "slurmctld did not start (see $dir/log/slurmctld.log)"
for n in "${nodes[@]}"; do
  # nsenter, not `ip netns exec`: that one mounts a fresh /sys, without the cgroup file systems slurmd needs.
  nsenter --net="/run/netns/ladder-$n" slurmd -f "$conf" -N "$n" || fail "slurmd $n did not start (see $dir/log/slurmd-$n.log)"
done

# Ready when every node is idle.
export SLURM_CONF=$conf
for _ in $(seq 60); do
  idle=$(sinfo -h -N -o '%N %t' 2>/dev/null | awk '$2 == "idle"' | wc -l)
  [ "$idle" -eq "${#nodes[@]}" ] && { echo "SLURM_CONF=$conf"; exit 0; }
  sleep 1
done
sinfo -N -l >&2 || true
tail -n 20 "$dir"/log/*.log >&2 || true
fail "the nodes did not become idle within 60 s"
