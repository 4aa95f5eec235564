#!/usr/bin/env bash
# A mesh holding many jobs (issue 8, point 5): N nodes (default 5) on
# loopback, each starting with the same FINISHED one-frame jobs (default
# 10,000) and QUEUED waiting ones (default 1,000; bench/make_jobs.c), with
# the synthetic renderer held at its gate (a slot renders one frame and
# waits: the queue stays).  After the mesh settles (30 s), for S seconds
# (default 600) it reads each meshd's CPU time, times `meshctl status`
# every 2 s on a node in turn, and counts membership suspicions.
# Targets: idle CPU < 2 % of a core per node, status < 50 ms, no node
# suspected.
# Usage: bash bench/bench_jobs.sh [FINISHED] [QUEUED] [SECONDS] [N] [BASE_PORT]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
finished=${1:-10000}
queued=${2:-1000}
secs=${3:-600}
n=${4:-5}
base=${5:-24000}
build="$root/build"
bash "$root/tools/build.sh" "$build" >/dev/null
meshctl="$build/tools/meshctl"
meshd="$build/node/meshd"
w=$(mktemp -d /tmp/rm-bench-jobs.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$w"
}
trap cleanup EXIT
export MESH_HOME="$w/client"
"$meshctl" init --name bench >/dev/null
"$build/bench/make_jobs" "$w/template" "$finished" "$queued"
rm -rf "$w/template/src"
mkdir -p "$w/gate"

addr() { echo "tcp://127.0.0.1:$((base + 2 * $1))"; }
for i in $(seq 1 "$n"); do
  "$meshctl" invite --role node --name "n$i" >"$w/n$i.token" 2>/dev/null
  cp -a "$w/template" "$w/n$i"
  printf 'sandbox = false\nquota_jobs = 0\nquota_submits = 0\n' >"$w/n$i/meshd.conf"
  join=()
  [ "$i" -gt 1 ] && join=(--join "$(addr 1)")
  RM_FAKE_GATE="$w/gate" "$meshd" --home "$w/n$i" --token "$w/n$i.token" --listen "$(addr "$i")" \
    --blender "$root/tools/fake_blender.py" "${join[@]}" >"$w/n$i.log" 2>&1 &
  pids+=($!)
  [ "$i" = 1 ] && sleep 1
done
sleep 30

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now_ms() { date +%s%3N; }
declare -a t0
for i in $(seq 1 "$n"); do t0[$i]=$(ticks "${pids[$((i - 1))]}"); done
start=$(now_ms)
: >"$w/status.ms"
k=0
while [ $(($(now_ms) - start)) -lt $((secs * 1000)) ]; do
  i=$((k % n + 1))
  k=$((k + 1))
  a=$(now_ms)
  if MESH_TIMEOUT_MS=5000 "$meshctl" --mesh "$(addr "$i")" status >/dev/null 2>&1; then
    echo $(($(now_ms) - a)) >>"$w/status.ms"
  else
    echo fail >>"$w/status.ms"
  fi
  sleep 2
done
elapsed=$(($(now_ms) - start))
hz=$(getconf CLK_TCK)
echo "$n nodes, $finished finished + $queued queued jobs each, ${secs} s measured"
for i in $(seq 1 "$n"); do
  used=$(($(ticks "${pids[$((i - 1))]}") - t0[i]))
  awk -v u="$used" -v hz="$hz" -v ms="$elapsed" -v i="$i" \
    'BEGIN { printf "  n%d: %.2f %% of a core\n", i, 100 * u / hz / (ms / 1000) }'
done
sort -n "$w/status.ms" | awk '
  /fail/ { f++; next }
  { v[n++] = $1 }
  END { printf "  meshctl status: %d calls, median %d ms, p95 %d ms, max %d ms, %d failed\n",
        n + f, v[int(n / 2)], v[int(n * 0.95)], v[n - 1], f }'
suspicions=$(cat "$w"/n*.log | { grep -E " is (suspected|dead) .* at [0-9]+$" || true; } |
  awk -v t="$start" '$NF + 0 >= t { c++ } END { print c + 0 }')
echo "  membership: $suspicions suspicion(s) or death(s) during the measurement"
