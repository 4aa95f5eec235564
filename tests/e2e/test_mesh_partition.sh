#!/usr/bin/env bash
# Six nodes on six hosts render a 24-frame job; in the middle of it the
# network splits into two halves (hosts 1-3 | 4-6): each half sees the
# other die, elects its own coordinator and goes on rendering.  Once healed
# the copies of the job merge: the job completes, every node agrees (done,
# 24/24 frames), the mesh agrees on one coordinator again, and a fetch has
# every frame exactly once.  The gates (mesh_lib.sh) set the pace: 6 frames
# before the cut, 6 more on each side during it, so the job is unfinished
# until the heal whatever the machine's speed.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"

N=6
FRAMES=24
HOSTS="1 2 3 4 5 6"
SIDE_A="1 2 3"
SIDE_B="4 5 6"
mesh_setup $N
for i in $HOSTS; do mesh_start "$i"; done
t=$(mesh_wait_members 30 "$HOSTS" $N)
pass "$N nodes alive on every host (${t} s)"
coord=$(mesh_wait_coordinator 15 "$HOSTS")
pass "every node follows ${coord% *} (epoch ${coord#* })"

job=$(mesh_submit 1 --frames "1-$FRAMES")
pass "job $job submitted through n1"
# Both halves render before the cut: one frame on each node, then held.
for i in $HOSTS; do mesh_gate_allow "$i" 1; done
mesh_wait_job 60 "$job" "$HOSTS" "j['frames_done'] >= $N" >/dev/null
done_then=$(mesh_job 1 "$job" frames_done) || fail "n1 does not know job $job"
[ "$done_then" = "$N" ] || fail "$done_then frames done at the cut; the gates let $N finish"

netns_partition "$SIDE_A" "$SIDE_B"
cut_at=$SECONDS
mesh_say "network cut: {$SIDE_A} | {$SIDE_B} ($done_then/$FRAMES frames done)"
# Side B must notice and follow a coordinator of its own: n1, n2 and n3,
# better candidates than n4, must each be suspected first (8 to 19 s seen
# here).
coord_b=$(mesh_wait_coordinator 40 "$SIDE_B" "${coord% *}")
pass "side B follows ${coord_b% *} (epoch ${coord_b#* }) $((SECONDS - cut_at)) s into the cut"
# Each side renders two frames per node while cut off: 6 more each, so
# 18 at most in all, and the job cannot end before the heal.
for i in $HOSTS; do mesh_gate_allow "$i" 2; done
side=$((N + 6))
t=$(mesh_wait_job 60 "$job" "1 4" "j['frames_done'] >= $side")
done_a=$(mesh_job 1 "$job" frames_done) || done_a="?"
done_b=$(mesh_job 4 "$job" frames_done) || done_b="?"
[ "$done_a" = "$side" ] && [ "$done_b" = "$side" ] ||
  fail "frames done during the cut: side A $done_a, side B $done_b; the gates let each side reach $side"
pass "each side rendered on during the cut: $side/$FRAMES frames done on each ($t s)"
mesh_gate_open "$HOSTS"
netns_heal_all
healed_at=$SECONDS
mesh_say "healed after $((SECONDS - cut_at)) s"

t=$(mesh_wait_members 30 "$HOSTS" $N)
pass "all $N nodes alive on every host again ($t s after the heal)"
mesh_wait_job 90 "$job" "$HOSTS" "j['state'] == 'done' and j['frames_done'] == $FRAMES" >/dev/null
pass "job done with $FRAMES/$FRAMES frames on all $N nodes ($((SECONDS - healed_at)) s after the heal)"
mesh_check_agree "$job" "$FRAMES" "$HOSTS"
coord3=$(mesh_wait_coordinator 20 "$HOSTS")
pass "every node follows ${coord3% *} again (epoch ${coord3#* })"

mesh_check_frames 1 "$job" 1 "$FRAMES"
mesh_check_frames 6 "$job" 1 "$FRAMES"
pass "fetch through n1 and n6: frame_0001..frame_$(printf %04d $FRAMES).png, each once, all PNGs"
# A frame rendered on both sides has two outputs; the merge keeps one, the
# same on every node: both fetches hold the same bytes.
(cd "$T/fetch-$job-n1" && sha256sum ./*) >"$T/sum1"
(cd "$T/fetch-$job-n6" && sha256sum ./*) >"$T/sum6"
diff "$T/sum1" "$T/sum6" >"$T/sumdiff" ||
  fail "n1 and n6 hold different outputs for some frames: $(cat "$T/sumdiff")"
pass "n1 and n6 give the same bytes for every frame"
pass "frames by node: $(mesh_by_node "$job")"
# What side B's coordinator did with side A's frames in flight at the cut
# (reported, not asserted: it depends on what was in flight).
b=$(mesh_host "${coord_b% *}")
mesh_log_has "$b" "$job" "given back: n[123] " || true
mesh_say "n$b's job log: $(grep -Ec "given back: n[123] " "$T/joblog.$b" || true) frame(s) of side A given back, e.g. '$(grep -E "given back: n[123] " "$T/joblog.$b" | head -1 | cut -d' ' -f3-)'"

for i in $HOSTS; do mesh_term "$i"; done
for i in $HOSTS; do
  mesh_wait_exit "$i" 20
  rc=$MESH_RC
  [ "$rc" = 0 ] || fail "n$i exited with status $rc after SIGTERM"
done
pass "all nodes stopped cleanly; test took $((SECONDS - MESH_T0)) s"
mesh_keep
