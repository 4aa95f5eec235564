#!/usr/bin/env bash
# Five nodes on five hosts render a 24-frame job; the coordinator, which
# renders too, is killed with SIGKILL in the middle of a frame.  The others
# elect a new coordinator in a higher epoch; it adopts the job, gives the
# dead node's frame back, and the job completes: every frame exactly once
# in a fetch, the job done on every surviving node.  The gates
# (mesh_lib.sh) hold every frame until the test lets it finish: 5 frames
# are done at the kill, and the coordinator's own frame cannot be.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"

N=5
FRAMES=24
HOSTS="1 2 3 4 5"
mesh_setup $N
for i in $HOSTS; do mesh_start "$i"; done
t=$(mesh_wait_members 30 "$HOSTS" $N)
pass "$N nodes alive on every host (${t} s)"
coord=$(mesh_wait_coordinator 15 "$HOSTS")
c=$(mesh_host "${coord% *}")
epoch1=${coord#* }
pass "every node follows n$c (epoch $epoch1)"

# Submitted through another node than the coordinator: the job must reach it.
entry=$((c % N + 1))
job=$(mesh_submit "$entry" --frames "1-$FRAMES")
pass "job $job submitted through n$entry"
# One frame finishes on each node; then each renders its next, held.
for i in $HOSTS; do mesh_gate_allow "$i" 1; done
mesh_wait_job 60 "$job" "$c" "j['frames_done'] >= $N" >/dev/null

r=$(mesh_wait_rendering 30 "$c")
frame=${r#* }
frame=${frame%% *}
frame=${frame#*:}
done_then=$(mesh_job "$c" "$job" frames_done) || fail "n$c does not know job $job"
[ "$done_then" = "$N" ] || fail "$done_then frames done at the kill; the gates let $N finish"
pgrep -f "blender.*$T/n$c/" >/dev/null || fail "n$c renders frame $frame but runs no Blender"
mesh_kill "$c"
killed_at=$SECONDS
mesh_say "killed coordinator n$c (SIGKILL) while it rendered frame $frame ($done_then/$FRAMES done)"
for _ in $(seq 1 50); do
  pgrep -f "blender.*$T/n$c/" >/dev/null || break
  sleep 0.1
done
pgrep -f "blender.*$T/n$c/" >/dev/null && fail "n$c's Blender outlived its SIGKILLed meshd"

survivors=$(mesh_others "$HOSTS" "$c")
mesh_gate_open "$survivors"
coord2=$(mesh_wait_coordinator 20 "$survivors" "n$c")
c2=$(mesh_host "${coord2% *}")
epoch2=${coord2#* }
[ "$c2" != "$c" ] || fail "the survivors still follow the dead n$c"
[ "$epoch2" -gt "$epoch1" ] || fail "the new coordinator's epoch $epoch2 is not above $epoch1"
pass "n$c2 coordinates in epoch $epoch2 > $epoch1 ($((SECONDS - killed_at)) s after the kill)"

other=$(mesh_others "$survivors" "$c2" | cut -d' ' -f1)
mesh_wait_job 90 "$job" "$c2 $other" "j['state'] == 'done'" >/dev/null
pass "job done on n$c2 and n$other $((SECONDS - killed_at)) s after the kill"
mesh_check_agree "$job" "$FRAMES" "$survivors"
pass "every survivor sees the job done with $FRAMES/$FRAMES frames"

mesh_check_frames "$c2" "$job" 1 "$FRAMES"
pass "fetch through n$c2: frame_0001..frame_$(printf %04d $FRAMES).png, each once, all PNGs"

mesh_log_has "$c2" "$job" "frame $frame (given back: n$c |also given to )" ||
  fail "n$c2's job log does not say frame $frame of n$c was given back: $(cat "$T/joblog.$c2")"
pass "n$c2's job log: $(grep -E "frame $frame (given back|also given)" "$T/joblog.$c2" | head -1 | cut -d' ' -f3-)"
mesh_done_by "$job" >"$T/done_by"
[ "$(cut -d' ' -f1 "$T/done_by" | sort -nu | wc -l)" = "$FRAMES" ] ||
  fail "the nodes' job logs do not account for every frame: $(cat "$T/done_by")"
grep -q "^$frame n$c\$" "$T/done_by" && fail "frame $frame is logged done on the killed n$c"
pass "frames by node: $(mesh_by_node "$job")"

for i in $survivors; do mesh_term "$i"; done
for i in $survivors; do
  mesh_wait_exit "$i" 20
  rc=$MESH_RC
  [ "$rc" = 0 ] || fail "n$i exited with status $rc after SIGTERM"
done
pass "survivors stopped cleanly; test took $((SECONDS - MESH_T0)) s"
mesh_keep
