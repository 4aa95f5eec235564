#!/usr/bin/env bash
# An idle slot gives its memory back: after slot_idle_s without a task the
# kept-alive Blender (which holds the last job's scene) quits, and the next
# job starts a fresh one and still renders.  tools/fake_blender.py stands in
# for Blender: what matters here is the process, not the pixels.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
export MESH_BLENDER="$FAKE" # meshctl scans the fake scene with it too
export RM_FAKE_FRAME_MS=50 RM_FAKE_START_MS=50
scene="$T/scene.blend"
printf 'BLENDER-v304RENDERHEAD-not-a-real-scene' >"$scene"

free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
start_node n1 "$port" --slots 1 --blender "$FAKE" --slot-idle 2
pid=${NODE_PID[n1]}

# The Blender children of meshd (the slot's process; the probe is gone).
blenders() { pgrep -P "$pid" -f fake_blender.py | wc -l; }

"$MESHCTL" submit "$scene" --frames 1-6 --out "$T/out1" >"$T/submit1.out" 2>&1 ||
  fail "first job: $(cat "$T/submit1.out")"
[ "$(ls "$T/out1" | wc -l)" -eq 6 ] || fail "first job: $(ls "$T/out1")"
[ "$(blenders)" -eq 1 ] || fail "no kept-alive Blender right after the job: $(blenders)"
pass "the job rendered; its Blender is kept alive for the next task"

for _ in $(seq 1 60); do
  [ "$(blenders)" -eq 0 ] && break
  sleep 0.1
done
[ "$(blenders)" -eq 0 ] || fail "the idle Blender still runs 6 s after the job"
pass "the idle slot quit its Blender"

"$MESHCTL" submit "$scene" --frames 1-3 --out "$T/out2" >"$T/submit2.out" 2>&1 ||
  fail "second job: $(cat "$T/submit2.out")"
[ "$(ls "$T/out2" | wc -l)" -eq 3 ] || fail "second job: $(ls "$T/out2")"
starts=$(grep -c "started Blender pid" "$T/n1.log" || true)
[ "$starts" -eq 2 ] || fail "expected 2 Blender starts, saw $starts"
pass "the next job started a fresh Blender and rendered"

stop_node n1
pass "node stopped cleanly"
