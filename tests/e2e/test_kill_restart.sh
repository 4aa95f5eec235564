#!/usr/bin/env bash
# meshd killed with SIGKILL mid-job and restarted: the job and its finished
# frames survive (not rendered again) and the job completes.  The renderer
# is tools/fake_blender.py behind a gate (RM_FAKE_GATE) that the test opens:
# exactly 3 frames finish before the kill, so the job is mid-way whatever
# the machine's pace.  (test_blender_orphan.sh kills a real Blender's node.)
source "$(dirname "$0")/lib.sh"

FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
export MESH_BLENDER="$FAKE" # meshctl scans the fake scene with it too
FRAMES=12
BEFORE=3
export RM_FAKE_GATE="$T/gate" RM_FAKE_FRAME_MS=100
mkdir -p "$RM_FAKE_GATE"
scene="$T/scene.blend"
printf 'BLENDER-v304RENDERHEAD-not-a-real-scene' >"$scene"
free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
no_sandbox n1
start_node n1 "$port" --slots 1 --blender "$FAKE"

job=$("$MESHCTL" submit "$scene" --frames "1-$FRAMES" --json | json job_id)
for k in $(seq 1 $BEFORE); do : >"$RM_FAKE_GATE/token.$k"; done
for _ in $(seq 1 300); do
  done_now=$("$MESHCTL" jobs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["frames_done"])')
  [ "$done_now" -ge $BEFORE ] && break
  sleep 0.1
done
[ "$done_now" = $BEFORE ] || fail "$done_now frames done after 30 s; the gate lets $BEFORE finish"
pgrep -f "blender.*$T" >/dev/null || fail "the node renders no frame at the kill"
kill_node n1
# Its renderer dies with it (PR_SET_PDEATHSIG): no orphan goes on writing
# frames into the job the restarted node renders again.
for _ in $(seq 1 50); do
  pgrep -f "blender.*$T" >/dev/null || break
  sleep 0.1
done
pgrep -f "blender.*$T" >/dev/null && fail "the renderer outlived the SIGKILLed meshd"
pass "killed meshd with $done_now frames done; its renderer died too"

before=$(grep -c "done on n1" "$T/n1/jobs/$job/job.log")
: >"$RM_FAKE_GATE/open"
start_node n1 "$port" --slots 1 --blender "$FAKE"
"$MESHCTL" wait "$job" >/dev/null || fail "the job did not complete after the restart"
"$MESHCTL" fetch "$job" "$T/frames" >/dev/null
[ "$(ls "$T/frames" | wc -l)" = $FRAMES ] || fail "expected $FRAMES frames: $(ls "$T/frames")"
for f in "$T"/frames/*; do is_png "$f" || fail "$f is not a PNG"; done
# No frame was recorded done twice: the ones finished before the kill were
# not rendered again.  (The job log is written just after the journal, so a
# kill between the two may leave one frame without its line.)
dups=$(grep -o "frame [0-9]* done on n1" "$T/n1/jobs/$job/job.log" | sort | uniq -d)
[ -z "$dups" ] || fail "frames recorded done twice: $dups"
total=$(grep -c "done on n1" "$T/n1/jobs/$job/job.log")
[ "$total" -ge $((FRAMES - 1)) ] || fail "only $total frames logged done (before kill: $before)"
# The gate's tokens: exactly BEFORE frames passed it before the kill.
[ "$(find "$RM_FAKE_GATE" -name 'used.*' | wc -l)" = $BEFORE ] ||
  fail "tokens used: $(ls "$RM_FAKE_GATE")"
pass "job completed after restart; $before frames kept, each frame done once"
stop_node n1
