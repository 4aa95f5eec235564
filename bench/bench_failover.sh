#!/usr/bin/env bash
# Coordinator failover with real meshd processes on loopback
# (docs/benchmarks.md, "Coordinator failover (issue 3)").  Starts N nodes
# (default 10) with the synthetic renderer (1 slot each), node 1 with
# --role stable so that it coordinates; submits a long job; once frames are
# flowing, kills the coordinator with SIGKILL at a recorded wall-clock ms and
# reads from the survivors' logs (all stamps are wall-clock ms):
#   - detection: the first "membership: n1 is suspected" anywhere, and the
#     new coordinator's own;
#   - the new coordinator's claim ("coordinator: NAME, epoch E (this node)");
#   - its "coordinator: first assignment of epoch E".
# Target (issue 3): the first assignment of the new epoch <= 3 s after
# detection.  Each run starts a fresh mesh; RUNS runs, medians printed.
#
# Usage: bash bench/bench_failover.sh [N]
# Environment: RUNS (3), FRAME_MS (500, the fake's time per frame),
#   FRAMES (2000), BASE_PORT (24000), RM_BUILD (build dir, default $root/build;
#   built with tools/build.sh unless RM_NO_BUILD=1), KEEP=1 keeps the logs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10}
runs=${RUNS:-3}
frame_ms=${FRAME_MS:-500}
frames=${FRAMES:-2000}
base=${BASE_PORT:-24000}
build=${RM_BUILD:-$root/build}
[ "$n" -ge 3 ] || { echo "N must be at least 3" >&2; exit 2; }
[ "${RM_NO_BUILD:-0}" = 1 ] || bash "$root/tools/build.sh" "$build" >/dev/null
meshctl="$build/tools/meshctl"
meshd="$build/node/meshd"
if [ ! -x "$meshd" ] || [ ! -x "$meshctl" ]; then echo "no meshd/meshctl in $build" >&2; exit 2; fi

w=$(mktemp -d /tmp/rm-bench-failover.XXXXXX)
pids=()
# Each meshd runs in its own session (setsid): cleanup kills the whole
# group, the fake Blender processes included.
stop_mesh() {
  local p
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_mesh
  if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $w" >&2; else rm -rf "$w"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n 4096 || true

export MESH_HOME="$w/client" MESH_TIMEOUT_MS=5000
export RM_FAKE_FRAME_MS=$frame_ms
"$meshctl" init --name bench >/dev/null
printf 'BLENDER-v304RENDERHEAD-bench' >"$w/scene.blend"
now() { date +%s%3N; }

# ctl PORTBASE I ARGS...: meshctl against node I of the mesh at PORTBASE.
ctl() {
  local pb=$1 i=$2
  shift 2
  timeout 30 "$meshctl" --mesh "tcp://127.0.0.1:$((pb + 2 * i))" "$@"
}

# until_ok SECONDS WHAT CMD...: retries CMD every 0.3 s.
until_ok() {
  local limit=$1 what=$2 start
  start=$(now)
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ $(($(now) - start)) -lt $((limit * 1000)) ] || { echo "timeout ($limit s): $what" >&2; return 1; }
    sleep 0.3
  done
}

all_alive() { # PB: node 1 sees every node alive
  [ "$(ctl "$1" 1 nodes --json | python3 -c '
import json, sys
print(sum(x["state"] == "alive" for x in json.load(sys.stdin)["nodes"]))')" = "$n" ]
}
all_follow_n1() { # PB: every node follows n1
  local i
  for i in $(seq 1 "$n"); do
    [ "$(ctl "$1" "$i" status --json | python3 -c '
import json, sys; print(json.load(sys.stdin)["coordinator"])')" = n1 ] || return 1
  done
}
frames_done() { # PB I JOB
  ctl "$1" "$2" jobs --json | python3 -c '
import json, sys
print([j["frames_done"] for j in json.load(sys.stdin)["jobs"] if j["job_id"] == sys.argv[1]][0])' "$3"
}

: >"$w/results"
for run in $(seq 1 "$runs"); do
  pb=$((base + (run - 1) * (2 * n + 10)))
  d="$w/run$run"
  mkdir -p "$d"
  for i in $(seq 1 "$n"); do
    "$meshctl" invite --role node --name "n$i" >"$d/n$i.token" 2>/dev/null
    extra=()
    if [ "$i" = 1 ]; then extra=(--role stable); else extra=(--join "tcp://127.0.0.1:$((pb + 2))"); fi
    setsid "$meshd" --home "$d/n$i" --token "$d/n$i.token" --listen "tcp://127.0.0.1:$((pb + 2 * i))" \
      --slots 1 --blender "$root/tools/fake_blender.py" "${extra[@]}" >"$d/n$i.log" 2>&1 &
    pids+=($!)
    [ "$i" = 1 ] && sleep 0.5
  done
  until_ok 60 "run $run: n1 sees $n nodes alive" all_alive "$pb"
  until_ok 30 "run $run: every node follows n1" all_follow_n1 "$pb"

  # Through n2, so that the submission does not depend on the victim.
  job=$(MESH_TIMEOUT_MS=20000 ctl "$pb" 2 submit "$w/scene.blend" --frames "1-$frames" --chunk 1 --no-scan --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["job_id"])')
  # Frames flowing: every slot has finished a frame or two on average.
  deadline=$(($(now) + 60000))
  while :; do
    fd=$(frames_done "$pb" 2 "$job" 2>/dev/null || echo 0)
    [ "$fd" -ge $((2 * n)) ] && break
    [ "$(now)" -lt "$deadline" ] || { echo "run $run: frames not flowing ($fd done)" >&2; exit 1; }
    sleep 0.2
  done

  t_kill=$(now)
  kill -KILL "${pids[0]}"
  { wait "${pids[0]}"; } 2>/dev/null || true
  echo "==== killed n1 (SIGKILL) at $t_kill" >>"$d/n1.log"

  # Wait for the new epoch's first assignment in a survivor's log, then a
  # little more for any other claim.
  deadline=$(($(now) + 30000))
  until python3 - "$d" "$n" "$t_kill" <<'PY'
import re, sys
d, n, t0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(2, n + 1):
    for m in re.finditer(r"first assignment of epoch \d+ .* at (\d+)", open(f"{d}/n{i}.log").read()):
        if int(m.group(1)) >= t0:
            sys.exit(0)
sys.exit(1)
PY
  do
    [ "$(now)" -lt "$deadline" ] || { echo "run $run: no first assignment 30 s after the kill" >&2; break; }
    sleep 0.2
  done
  sleep 3
  fd_after=$(frames_done "$pb" 2 "$job" 2>/dev/null || echo "?")
  stop_mesh

  python3 - "$d" "$n" "$t_kill" "$run" "$fd" "$fd_after" >>"$w/results" <<'PY'
import re, sys
d, n, t0, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fd, fd_after = sys.argv[5], sys.argv[6]
logs = {f"n{i}": open(f"{d}/n{i}.log").read() for i in range(2, n + 1)}
def stamps(text, pattern):
    return [int(m.group(1)) for m in re.finditer(pattern, text) if int(m.group(1)) >= t0]
susp = {k: min(stamps(t, r"membership: n1 is suspected .* at (\d+)") or [None]) for k, t in logs.items()}
dead = {k: min(stamps(t, r"membership: n1 is dead .* at (\d+)") or [None]) for k, t in logs.items()}
claims = [(ts, k, m.group(1)) for k, t in logs.items()
          for m in re.finditer(r"coordinator: (\S+), epoch (\d+) \(this node\) at (\d+)", t)
          for ts in [int(m.group(3))] if ts >= t0 and m.group(1) == k]
firsts = sorted((ts, k) for k, t in logs.items()
                for ts in stamps(t, r"coordinator: first assignment of epoch \d+ .* at (\d+)"))
got = [v for v in susp.values() if v is not None]
if not firsts or not got:
    print(f"run {run}: FAILED: suspected by {len(got)} nodes, first assignments {firsts}")
    sys.exit(0)
fa, coord = firsts[0]
claim = min(ts for ts, k, _ in claims if k == coord) if any(k == coord for _, k, _ in claims) else None
sc = susp[coord]
any_s = min(got)
# fields: run coord detect_any detect_coord claim_after_detect first_after_detect kill_to_first
#         n_suspecting n_dead claims
print("RUN", run, coord, any_s - t0, (sc - t0) if sc else -1,
      (claim - sc) if (claim and sc) else -1, (fa - sc) if sc else -1, fa - t0,
      len(got), sum(v is not None for v in dead.values()),
      ",".join(f"{k}@{ts - t0}" for ts, k, _ in sorted(claims)), fd, fd_after)
PY
  tail -1 "$w/results" | awk -v n="$n" '$1 == "RUN" {
    printf "run %s: new coordinator %s; suspected %d ms after the kill (by %s: %d ms); claim %d ms and first assignment %d ms after its suspicion; kill -> first assignment %d ms; claims after the kill: %s; frames done %s at the kill, %s 3 s after the first assignment\n",
      $2, $3, $4, $3, $5, $6, $7, $8, $11, $12, $13 } $1 != "RUN" { print }'
done

python3 - "$w/results" "$n" "$frame_ms" "$runs" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("RUN")]
n, frame_ms, runs = sys.argv[2], sys.argv[3], int(sys.argv[4])
print(f"\n{n} nodes, {frame_ms} ms frames, 1 slot each; {len(rows)}/{runs} runs complete")
if not rows:
    sys.exit(1)
cols = [("detection: kill -> first suspicion anywhere", 3),
        ("detection: kill -> suspected by the new coordinator", 4),
        ("new coordinator: own suspicion -> claim", 5),
        ("new coordinator: own suspicion -> first assignment", 6),
        ("kill -> first assignment of the new epoch", 7)]
for name, c in cols:
    xs = [int(r[c]) for r in rows]
    print(f"{name:55s} median {statistics.median(xs) / 1000:6.2f} s  (runs: "
          + ", ".join(f"{x / 1000:.2f}" for x in xs) + ")")
med = statistics.median(int(r[6]) for r in rows) / 1000
print(f"target (issue 3): first assignment <= 3 s after detection: "
      f"{'met' if med <= 3 else 'NOT met'} (median {med:.2f} s)")
PY
