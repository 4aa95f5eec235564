#!/usr/bin/env bash
# A full disk while storing chunks or frames: a clear error, nothing lost.
source "$(dirname "$0")/lib.sh"
need_root "to mount a small tmpfs"

scene=$(sample_scene)
port=$(free_port)
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
mkdir -p "$T/full"
mount -t tmpfs -o size=48m tmpfs "$T/full"

# The node's home on the small disk.
"$MESHCTL" invite --role node --name n1 >"$T/n1.token"
mkdir -p "$T/full/n1"
ln -s "$T/full/n1" "$T/n1"
start_node n1 "$port" --slots 1

# 1. Chunks: with the disk full, the submission is refused, not acknowledged.
dd if=/dev/zero of="$T/full/filler" bs=1M count=48 2>/dev/null || true
rc=0
"$MESHCTL" submit "$scene" --frames 1-2 >"$T/submit.txt" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "submit on a full disk was accepted"
grep -qi "disk full\|no space" "$T/submit.txt" || fail "unclear error: $(cat "$T/submit.txt")"
[ "$("$MESHCTL" jobs --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')" = 0 ] ||
  fail "a refused submission left a job"
pass "submit on a full disk: clear error, no job"

# 2. Frames: accepted with room, then the disk fills before the render.
rm -f "$T/full/filler"
job=$("$MESHCTL" submit "$scene" --frames 1-3 --json | json job_id)
fallocate -l 47m "$T/full/filler" 2>/dev/null || dd if=/dev/zero of="$T/full/filler" bs=1M count=48 2>/dev/null || true
sleep 4
state=$("$MESHCTL" jobs --json | python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; print(j["state"], j["frames_done"])')
case "$state" in
  failed*) fail "the job failed because of the full disk: $state" ;;
esac
grep -qi "disk full\|no space" "$T/n1.log" || fail "the node did not report the full disk"
pass "full disk while rendering: job not failed ($state), node reports it"

rm -f "$T/full/filler"
"$MESHCTL" wait "$job" >/dev/null || fail "the job did not complete once the disk had room"
"$MESHCTL" fetch "$job" "$T/frames" >/dev/null
[ "$(ls "$T/frames" | wc -l)" = 3 ] || fail "expected 3 frames"
pass "the job completed once space was freed"
stop_node n1
