#!/usr/bin/env bash
# Failure detection and convergence with real meshd processes on loopback
# (docs/benchmarks.md).  Starts N nodes (default 100) with the synthetic
# renderer, all joining node 1; measures the time until every node knows
# every other as alive; kills one node with SIGKILL and measures, from each
# node's log, when it suspected and when it declared the victim dead.
# Target (issue 3): a crash known to every node within 5 s at 100 nodes.
# Usage: bash bench/bench_membership.sh [N] [BASE_PORT]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100}
base=${2:-21000}
build="$root/build"
bash "$root/tools/build.sh" "$build" >/dev/null
meshctl="$build/tools/meshctl"
meshd="$build/node/meshd"
w=$(mktemp -d /tmp/rm-bench-members.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$w"
}
trap cleanup EXIT
export MESH_HOME="$w/client"
"$meshctl" init --name bench >/dev/null
ulimit -n 4096 || true

addr() { echo "tcp://127.0.0.1:$((base + 2 * $1))"; }
for i in $(seq 1 "$n"); do
  "$meshctl" invite --role node --name "n$i" >"$w/n$i.token" 2>/dev/null
  join=()
  [ "$i" -gt 1 ] && join=(--join "$(addr 1)")
  "$meshd" --home "$w/n$i" --token "$w/n$i.token" --listen "$(addr "$i")" \
    --blender "$root/tools/fake_blender.py" "${join[@]}" >"$w/n$i.log" 2>&1 &
  pids+=($!)
  [ "$i" = 1 ] && sleep 0.5
done
t_started=$(date +%s%3N)

# Convergence: every node logged every other as alive.
while :; do
  complete=$(python3 - "$w" "$n" <<'PY'
import re, sys
w, n = sys.argv[1], int(sys.argv[2])
done = 0
for i in range(1, n + 1):
    try:
        names = set(re.findall(r"membership: (\S+) is alive", open(f"{w}/n{i}.log").read()))
    except OSError:
        names = set()
    done += len(names) >= n - 1
print(done)
PY
)
  [ "$complete" = "$n" ] && break
  [ $(($(date +%s%3N) - t_started)) -gt 120000 ] && { echo "no convergence in 120 s ($complete/$n complete)"; exit 1; }
  sleep 0.5
done
t_converged=$(python3 - "$w" "$n" <<'PY'
import glob, re, sys
last = 0
for f in glob.glob(sys.argv[1] + "/n*.log"):
    for m in re.finditer(r"is alive .* at (\d+)", open(f).read()):
        last = max(last, int(m.group(1)))
print(last)
PY
)
echo "nodes: $n; all know all as alive $(( (t_converged - t_started) )) ms after the last node started"
sleep 3

victim=$((n / 2))
t_kill=$(date +%s%3N)
kill -KILL "${pids[$((victim - 1))]}"
sleep 25
python3 - "$w" "$n" "$victim" "$t_kill" <<'PY'
import re, sys
w, n, victim, t0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
susp, dead = [], []
for i in range(1, n + 1):
    if i == victim:
        continue
    text = open(f"{w}/n{i}.log").read()
    s = [int(m) for m in re.findall(rf"n{victim} is suspected .* at (\d+)", text) if int(m) >= t0]
    d = [int(m) for m in re.findall(rf"n{victim} is dead .* at (\d+)", text) if int(m) >= t0]
    susp.append(min(s) - t0 if s else None)
    dead.append(min(d) - t0 if d else None)
def report(name, xs):
    got = sorted(x for x in xs if x is not None)
    missing = len(xs) - len(got)
    if not got:
        print(f"{name}: no node noticed"); return
    pct = lambda p: got[min(len(got) - 1, int(p * len(got)))] / 1000
    print(f"{name}: 50 % {pct(0.5):.2f} s, 99 % {pct(0.99):.2f} s, all {got[-1] / 1000:.2f} s"
          + (f", {missing} nodes never" if missing else ""))
print(f"n{victim} killed with SIGKILL:")
report("  suspected by", susp)
report("  declared dead by", dead)
PY
