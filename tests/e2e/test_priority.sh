#!/usr/bin/env bash
# Priorities act at once.  One node, one slot, a synthetic Blender whose
# frames take 1.5 s (tools/fake_blender.py):
# - a job of higher priority that arrives while a lower job renders takes
#   the worker's look-ahead: its frames render right after the frame in
#   progress, before the lower job's queued frame;
# - with --preempt, the lower job's frame in progress is stopped, goes back
#   to pending without counting an attempt, and is rendered later.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
export MESH_BLENDER="$FAKE" # meshctl scans the fake scene with it too
export RM_FAKE_FRAME_MS=1500 RM_FAKE_START_MS=50
scene="$T/scene.blend"
printf 'BLENDER-v304RENDERHEAD-not-a-real-scene' >"$scene"

free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
NODE=n1
start_node n1 "$port" --slots 1 --blender "$FAKE"

submit() { # FRAMES [flags] -> job id
  local frames=$1
  shift
  "$MESHCTL" submit "$scene" --frames "$frames" --json "$@" | json job_id
}
field() { "$MESHCTL" job "$1" --json | json "$2"; }
until_field() { # JOB FIELD MIN
  for _ in $(seq 1 200); do
    [ "$(field "$1" "$2")" -ge "$3" ] && return 0
    sleep 0.1
  done
  fail "job $1: $2 did not reach $3: $("$MESHCTL" job "$1")"
}
# starts_after PATTERN: the jobs of the first two tasks the slot started
# after the first log line matching PATTERN, on one line.  (No `| head`:
# under pipefail, a writer cut off by head fails the line.)
starts_after() {
  python3 - "$T/$NODE.log" "$1" <<'PY'
import re, sys
lines = open(sys.argv[1], errors="replace").read().splitlines()
at = next((i for i, l in enumerate(lines) if re.search(sys.argv[2], l)), None)
if at is None:
    sys.exit("no log line matches " + sys.argv[2])
jobs = []
task = re.compile(r"slot 0: (?:started Blender pid \d+ \(\w+\) for job (\w+)|job (\w+): \d+ frame\(s\))")
for l in lines[at + 1:]:
    m = task.search(l)
    if m:
        jobs.append(m.group(1) or m.group(2))
print(" ".join(jobs[:2]))
PY
}
until_log() { # PATTERN: waits for it in the node's log
  for _ in $(seq 1 100); do
    grep -q "$1" "$T/$NODE.log" && return 0
    sleep 0.1
  done
  fail "no '$1' in $NODE's log"
}
# frame_of JOB FRAME -> "STATE ATTEMPTS"
frame_of() {
  "$MESHCTL" job "$1" --json | python3 -c '
import json, sys
f = [f for f in json.load(sys.stdin)["frames"] if f["frame"] == int(sys.argv[1])][0]
print(f["state"], f["attempts"])' "$2"
}

# 1. Look-ahead taken back.
low=$(submit 1-6 --priority 0) || fail "submit low"
until_field "$low" frames_done 1 # the worker holds a frame and its look-ahead
high=$(submit 1-2 --priority 5) || fail "submit high"
"$MESHCTL" wait "$high" >/dev/null || fail "high job: $("$MESHCTL" job "$high")"
order=$(starts_after "job $high .* accepted")
[ "$order" = "$high $high" ] ||
  fail "tasks started after the high job arrived: $order (the low job's look-ahead went first)"
grep -q "queued frame(s) taken back on n1" "$T/n1/jobs/$low/job.log" ||
  fail "no take-back in the low job's log: $(cat "$T/n1/jobs/$low/job.log")"
pass "the high job's frames started before the low job's look-ahead"
"$MESHCTL" wait "$low" >/dev/null || fail "low job: $("$MESHCTL" job "$low")"
pass "the low job completed afterwards"

# 2. Preemption: the running low frame stops and renders later, no attempt.
# A node of its own with 5 s frames, so that the preempting job surely
# arrives while a low frame renders.
stop_node n1
free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
NODE=n2
RM_FAKE_FRAME_MS=5000 start_node n2 "$port" --slots 1 --blender "$FAKE"
low=$(submit 1-2 --priority 0) || fail "submit low 2"
grep -q "started Blender pid .* for job $low" "$T/n2.log" ||
  until_log "started Blender pid .* for job $low"
high=$(submit 1 --priority 5 --preempt) || fail "submit preempting job"
"$MESHCTL" wait "$high" >/dev/null || fail "preempting job: $("$MESHCTL" job "$high")"
running=$(sed -n "s/.* frame \([0-9]*\) stopped on n2: preempted by job $high.*/\1/p" \
  "$T/n2/jobs/$low/job.log")
[ -n "$running" ] || fail "no preemption in the low job's log: $(cat "$T/n2/jobs/$low/job.log")"
order=$(starts_after "job $low: preempted by job $high")
[ "${order%% *}" = "$high" ] || fail "tasks started after the preemption: $order"
pass "the running low frame $running was stopped for the preempting job"
"$MESHCTL" wait "$low" >/dev/null || fail "low job 2: $("$MESHCTL" job "$low")"
[ "$(frame_of "$low" "$running")" = "done 0" ] ||
  fail "preempted frame $running: $(frame_of "$low" "$running") (want done, 0 attempts)"
pass "the preempted frame rendered later, without an attempt counted"

stop_node n2
pass "nodes stopped cleanly"
