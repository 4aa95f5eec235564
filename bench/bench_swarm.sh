#!/usr/bin/env bash
# A project reaching every node (issue 9 benchmark: 512 MiB to 8 nodes,
# each node's upload limited to the same rate, against the Kumar-Ross lower
# bound max(F/u_seed, F/d_min, N*F/(u_seed + sum u_i)) and against sending
# from the seed alone, N*F/u_seed).  NODES meshd on loopback, each with
# upload_limit_mbps = MBPS (downloads unlimited); a project of SIZE_MIB of
# incompressible data is submitted to n1 (meshctl's own upload is not
# limited), and every node fetches it to hold the job.  The clock starts
# when n1 holds the whole project and stops when the last node does (each
# node's chunk store is measured every 0.2 s).  N = NODES - 1 receivers.
# Usage: bash bench/bench_swarm.sh [NODES] [SIZE_MIB] [MBPS]   # default 8 64 32
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
nodes=${1:-8}
size_mib=${2:-64}
mbps=${3:-32}
export RM_BUILD_DIR="$root/build" RM_SOURCE_DIR="$root"
[ "${RM_NO_BUILD:-0}" = 1 ] || bash "$root/tools/build.sh" "$RM_BUILD_DIR" >/dev/null
source "$root/tests/e2e/lib.sh"
# Frames that never end while the project spreads: the job stays unfinished, so
# every node keeps fetching its project.
export RM_FAKE_FRAME_MS=3600000 RM_FAKE_START_MS=50
fake="$root/tools/fake_blender.py"

mkdir -p "$T/proj"
blend="$T/proj/shot.blend"
{ printf 'BLENDER-v304RENDERHEAD'; head -c $((size_mib * 1024 * 1024)) /dev/urandom; } >"$blend"
bytes=$(stat -c %s "$blend")

mesh_init
declare -a ports
for i in $(seq 1 "$nodes"); do
  free_port "ports[$i]"
  mkdir -p "$T/n$i"
  echo "upload_limit_mbps = $mbps" >"$T/n$i/meshd.conf"
  join=()
  [ "$i" -gt 1 ] && join=(--join "tcp://127.0.0.1:${ports[1]}")
  start_node "n$i" "${ports[$i]}" --slots 1 --blender "$fake" "${join[@]}"
done
export MESH_ADDR="tcp://127.0.0.1:${ports[1]}"
for _ in $(seq 1 300); do
  alive=$("$MESHCTL" nodes --json | python3 -c 'import json,sys
print(sum(n["state"] == "alive" for n in json.load(sys.stdin)["nodes"]))')
  [ "$alive" = "$nodes" ] && break
  sleep 0.2
done
[ "$alive" = "$nodes" ] || fail "only $alive of $nodes nodes alive"

held() { du -sb "$T/n$1/chunks" 2>/dev/null | cut -f1; } # a chunk being written may vanish under du
base=()
for i in $(seq 1 "$nodes"); do base[$i]=$(held "$i"); done

# Acknowledged once a second node holds the project; the node waits as
# long as chunks move to the members (submit_wait_s counts from the last).
(MESH_TIMEOUT_MS=600000 "$MESHCTL" submit "$blend" --frames 1-64 --no-scan --json \
  >"$T/out.json" 2>&1) &
submit_pid=$!
t_seed=""
declare -A t_done=()
t0=$(date +%s%N)
while [ "${#t_done[@]}" -lt $((nodes - 1)) ]; do
  now=$(date +%s%N)
  [ $(((now - t0) / 1000000000)) -lt 1800 ] || fail "not every node held the project in 30 min"
  if [ -z "$t_seed" ] && [ $(($(held 1) - base[1])) -ge "$bytes" ]; then t_seed=$now; fi
  for i in $(seq 2 "$nodes"); do
    [ -n "${t_done[$i]:-}" ] && continue
    [ $(($(held "$i") - base[i])) -ge "$bytes" ] && t_done[$i]=$now
  done
  sleep 0.2
done
wait "$submit_pid" || fail "submit: $(cat "$T/out.json")"
[ -n "$t_seed" ] || t_seed=$t0
last=0
for i in $(seq 2 "$nodes"); do [ "${t_done[$i]}" -gt "$last" ] && last=${t_done[$i]}; done
python3 - "$bytes" "$nodes" "$mbps" "$t_seed" "$last" "$t0" <<'PY'
import sys
F, nodes, mbps, t_seed, last, t0 = (int(x) for x in sys.argv[1:])
u = mbps * 125000.0                      # bytes/s, every node's upload
n = nodes - 1                            # receivers
bound = max(F / u, n * F / (u + n * u))  # downloads unlimited
seed_only = n * F / u
took = (last - t_seed) / 1e9
print("%.1f MB to %d nodes at %d Mbit/s up each: %.1f s after the seed held it (%.1f s after "
      "submit began)" % (F / 1e6, n, mbps, took, (last - t0) / 1e9))
print("Kumar-Ross bound %.1f s: %.2f x (target <= 1.2); seed alone %.1f s: %.2f x" %
      (bound, took / bound, seed_only, took / seed_only))
PY
