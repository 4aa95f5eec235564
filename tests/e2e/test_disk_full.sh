#!/usr/bin/env bash
# A full disk while storing chunks or frames: a clear error, nothing lost.
# The renderer is tools/fake_blender.py behind a gate (RM_FAKE_GATE): no
# frame is written before the test has filled the disk.
source "$(dirname "$0")/lib.sh"
need_root "to mount a small tmpfs"

FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
export MESH_BLENDER="$FAKE" # meshctl scans the fake scene with it too
export RM_FAKE_GATE="$T/gate" RM_FAKE_FRAME_MS=100
mkdir -p "$RM_FAKE_GATE"
scene="$T/scene.blend"
printf 'BLENDER-v304RENDERHEAD-not-a-real-scene' >"$scene"
free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
mkdir -p "$T/full"
mount -t tmpfs -o size=48m tmpfs "$T/full"

# Fills the small disk to the last block: even a tiny file cannot be written.
fill_disk() {
  dd if=/dev/zero of="$T/full/filler" bs=64k 2>/dev/null || true
  if : >"$T/full/probe" 2>/dev/null && echo x >"$T/full/probe" 2>/dev/null; then
    fail "the disk is not full after filling it"
  fi
  rm -f "$T/full/probe"
}

# The node's home on the small disk.
"$MESHCTL" invite --role node --name n1 >"$T/n1.token"
mkdir -p "$T/full/n1"
ln -s "$T/full/n1" "$T/n1"
no_sandbox n1
start_node n1 "$port" --slots 1 --blender "$FAKE"

# 1. Chunks: with the disk full, the submission is refused, not acknowledged.
fill_disk
rc=0
"$MESHCTL" submit "$scene" --frames 1-2 >"$T/submit.txt" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "submit on a full disk was accepted"
grep -qi "disk full\|no space" "$T/submit.txt" || fail "unclear error: $(cat "$T/submit.txt")"
[ "$("$MESHCTL" jobs --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')" = 0 ] ||
  fail "a refused submission left a job"
pass "submit on a full disk: clear error, no job"

# 2. Frames: accepted with room, then the disk fills before any frame is
# written (the gate is closed until then).
rm -f "$T/full/filler"
job=$("$MESHCTL" submit "$scene" --frames 1-3 --json | json job_id)
fill_disk
seen=$(wc -l <"$T/n1.log") # part 1's report does not count
: >"$RM_FAKE_GATE/open"
reported() { tail -n +"$((seen + 1))" "$T/n1.log" | grep -i "job $job.*disk full"; }
for _ in $(seq 1 300); do
  reported >/dev/null && break
  sleep 0.1
done
reported >/dev/null || fail "the node did not report the full disk within 30 s: $(tail -n +"$((seen + 1))" "$T/n1.log")"
state=$("$MESHCTL" jobs --json | python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; print(j["state"], j["frames_done"])')
case "$state" in
  failed* | done*) fail "the job is $state with the disk full" ;;
esac
pass "full disk while rendering: job not failed ($state), node reports: $(reported | head -1 | cut -d' ' -f4-)"

rm -f "$T/full/filler"
"$MESHCTL" wait "$job" >/dev/null || fail "the job did not complete once the disk had room"
"$MESHCTL" fetch "$job" "$T/frames" >/dev/null
[ "$(ls "$T/frames" | wc -l)" = 3 ] || fail "expected 3 frames"
pass "the job completed once space was freed"
stop_node n1
