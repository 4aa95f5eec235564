#!/usr/bin/env bash
# An attacker who knows mesh.pub holds N door connections (default 20,000)
# for S seconds (default 60) against one meshd on loopback (bench/
# door_flood.c: CURVE handshakes completed, then silence, from 127.1.x.y,
# 32 per address).  Meanwhile `meshctl status` is timed every 0.5 s (a
# client that knows the node and one at first contact, in turn); the
# node's RSS is read before, at its peak, and 15 s after the flood ends.
# Targets (issue 8): the real client served within 1 s throughout; RSS back
# within 20 % of the baseline.
# Usage: bash bench/bench_door.sh [N] [SECONDS] [PORT]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-20000}
secs=${2:-60}
port=${3:-23000}
build="$root/build"
bash "$root/tools/build.sh" "$build" >/dev/null
meshctl="$build/tools/meshctl"
meshd="$build/node/meshd"
flood="$build/bench/door_flood"
w=$(mktemp -d /tmp/rm-bench-door.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$w"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
export MESH_HOME="$w/client"
"$meshctl" init --name bench >/dev/null
"$meshctl" invite --role node --name n1 >"$w/n1.token" 2>/dev/null
mkdir -p "$w/n1"
echo "sandbox = false" >"$w/n1/meshd.conf"
"$meshd" --home "$w/n1" --token "$w/n1.token" --listen "tcp://127.0.0.1:$port" \
  --blender "$root/tools/fake_blender.py" >"$w/n1.log" 2>&1 &
node=$!
pids+=("$node")
sleep 3

now_ms() { date +%s%3N; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$node/status"; }
# The node's own memory (heap, stacks): RSS less the shared libraries' pages
# it has touched, which the flood touches more of and which are not its to
# give back.
anon_kb() { awk '/^RssAnon/ {print $2}' "/proc/$node/status"; }
# One status call: its milliseconds, or "fail".
status_ms() {
  local t0 t1
  t0=$(now_ms)
  if MESH_TIMEOUT_MS=5000 "$meshctl" --mesh "tcp://127.0.0.1:$port" status >/dev/null 2>&1; then
    t1=$(now_ms)
    echo $((t1 - t0))
  else
    echo fail
  fi
}
for _ in $(seq 10); do status_ms >/dev/null; done
base=$(rss_kb)
base_anon=$(anon_kb)
base_ms=$(status_ms)

# The attacker is another machine: here it gets the last core (BENCH_PIN=0:
# it shares all of them with the node and the client).
pin=""
cores=$(nproc)
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$cores" -ge 2 ]; then
  pin="taskset -c $((cores - 1))"
  taskset -pc "0-$((cores - 2))" "$node" >/dev/null
fi
# Each flood socket costs two descriptors: 6,000 per process.
fpids=()
for first in $(seq 0 6000 $((n - 1))); do
  count=$((n - first < 6000 ? n - first : 6000))
  $pin "$flood" "$MESH_HOME/mesh.pub" 127.0.0.1 $((port + 1)) "$count" "$secs" "$first" \
    >>"$w/flood.out" 2>&1 &
  fpids+=($!)
  pids+=($!)
done
fpid=${fpids[0]}
peak=$base
# Two clients take turns: one that has met the node (it remembers the
# node's WELCOME in known-nodes/ and goes straight to the main socket), and
# one at first contact (known-nodes/ removed before each call: through the
# door, like any new client).
declare -A calls=([known]=0 [first]=0) slow=([known]=0 [first]=0) failed=([known]=0 [first]=0)
declare -A worst=([known]=0 [first]=0) timeline=([known]="" [first]="")
start=$SECONDS
end=$((SECONDS + secs))
turn=0
while [ $SECONDS -lt $end ] && kill -0 "$fpid" 2>/dev/null; do
  kind=known
  if [ $((turn % 2)) = 1 ]; then
    kind=first
    rm -rf "$MESH_HOME/known-nodes"
  fi
  turn=$((turn + 1))
  ms=$(status_ms)
  timeline[$kind]+="$((SECONDS - start))s:$ms "
  calls[$kind]=$((calls[$kind] + 1))
  if [ "$ms" = fail ]; then
    failed[$kind]=$((failed[$kind] + 1))
  else
    [ "$ms" -gt 1000 ] && slow[$kind]=$((slow[$kind] + 1))
    [ "$ms" -gt "${worst[$kind]}" ] && worst[$kind]=$ms
  fi
  r=$(rss_kb)
  [ "$r" -gt "$peak" ] && peak=$r
  sleep 0.5
done
ps -o pid,pcpu,rss,comm -p "$node" "${fpids[@]}" >"$w/ps.out" 2>/dev/null || true
# CPU of the node and of the attacker, over the flood so far.
ps -o pid,pcpu,rss,comm -p "$node" "${fpids[@]}" >"$w/ps.out" 2>/dev/null || true
for p in "${fpids[@]}"; do wait "$p" || true; done
sleep 15
after=$(rss_kb)
after_anon=$(anon_kb)
after_ms=$(status_ms)
cut=$(grep -c "door: closed" "$w/n1.log" || true)
refused=$(grep -c "connections open from it" "$w/n1.log" || true)
echo "door flood: $(grep -c connecting "$w/flood.out") process(es): $(grep connecting "$w/flood.out" | tr '\n' ' ')"
printf '| N | seconds | client | status calls | worst | > 1 s | failed | RSS before | peak | 15 s after | after / before |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for kind in known first; do
  printf '| %s | %s | %s | %s | %s ms | %s | %s | %s MB | %s MB | %s MB | %s |\n' "$n" "$secs" \
    "$kind" "${calls[$kind]}" "${worst[$kind]}" "${slow[$kind]}" "${failed[$kind]}" \
    $((base / 1024)) $((peak / 1024)) $((after / 1024)) \
    "$(awk -v a="$after" -v b="$base" 'BEGIN {printf "%.2f", a / b}')"
done
cat "$w/ps.out"
grep "turned away\|closed\|refused" "$w/n1.log" | tail -3 || true
echo "node memory (RssAnon): $((base_anon / 1024)) MB before, $((after_anon / 1024)) MB 15 s after ($(awk -v a="$after_anon" -v b="$base_anon" 'BEGIN {printf "%.2f", a / b}') x); attacker pinned: ${pin:-no}"
echo "known client (seconds into the flood: ms): ${timeline[known]}"
echo "first contact: ${timeline[first]}"
echo "status before: ${base_ms} ms, after: ${after_ms} ms; node log: $cut sweep line(s) cutting held connections, $refused per-address refusal line(s) (rate-limited)"
