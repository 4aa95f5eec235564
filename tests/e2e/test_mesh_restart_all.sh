#!/usr/bin/env bash
# Five nodes on five hosts.  A job is submitted and, the moment meshctl
# says it is accepted, every node is killed with SIGKILL: restarted with
# the same homes, the mesh still knows the job on every node and renders
# it.  Mid-job every node is stopped with SIGTERM (each exits 0): restarted
# again, no finished frame is lost and the job completes, every frame
# exactly once in a fetch.  The gates (mesh_lib.sh) let exactly 4 frames
# finish before the stop: the job is mid-way whatever the machine's pace.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"

N=5
FRAMES=24
HOSTS="1 2 3 4 5"
BEFORE=4
mesh_setup $N
for i in $HOSTS; do mesh_start "$i"; done
t=$(mesh_wait_members 30 "$HOSTS" $N)
pass "$N nodes alive on every host (${t} s)"
mesh_wait_coordinator 15 "$HOSTS" >/dev/null

job=$(mesh_submit 2 --frames "1-$FRAMES")
for i in $HOSTS; do mesh_kill "$i"; done
pass "job $job accepted through n2; every node killed (SIGKILL) at once"

for i in $HOSTS; do mesh_start "$i"; done
t=$(mesh_wait_members 30 "$HOSTS" $N)
pass "all $N nodes restarted and alive on every host (${t} s)"
t=$(mesh_wait_job 30 "$job" "$HOSTS" "True")
pass "every node knows job $job after the restart (${t} s)"

# One frame may finish on each of four nodes, no more.
for i in $(seq 1 $BEFORE); do mesh_gate_allow "$i" 1; done
mesh_wait_job 60 "$job" "1" "j['frames_done'] >= $BEFORE" >/dev/null
done_before=$(mesh_job 1 "$job" frames_done) || fail "n1 does not know job $job"
[ "$done_before" = "$BEFORE" ] || fail "n1 sees $done_before frames done; the gates let $BEFORE finish"
for i in $HOSTS; do mesh_term "$i"; done
for i in $HOSTS; do
  mesh_wait_exit "$i" 20
  rc=$MESH_RC
  [ "$rc" != 124 ] || fail "n$i still runs 20 s after SIGTERM"
  [ "$rc" = 0 ] || fail "n$i exited with status $rc after SIGTERM"
done
pass "every node stopped with SIGTERM and exited 0 ($done_before/$FRAMES frames done as n1 saw it)"

for i in $HOSTS; do mesh_start "$i"; done
t=$(mesh_wait_members 30 "$HOSTS" $N)
pass "all $N nodes restarted again (${t} s)"
now=$(mesh_job 1 "$job" frames_done) || fail "n1 lost job $job"
[ "$now" -ge "$done_before" ] || fail "n1 had $done_before frames done before the stop, $now after"
pass "n1 still has $now >= $done_before frames done"

mesh_gate_open "$HOSTS"
mesh_wait_job 90 "$job" "1 5" "j['state'] == 'done'" >/dev/null
pass "job done on n1 and n5"
mesh_check_agree "$job" "$FRAMES" "$HOSTS"
pass "every node sees the job done with $FRAMES/$FRAMES frames"
mesh_check_frames 3 "$job" 1 "$FRAMES"
pass "fetch through n3: frame_0001..frame_$(printf %04d $FRAMES).png, each once, all PNGs"
pass "frames by node: $(mesh_by_node "$job")"

for i in $HOSTS; do mesh_term "$i"; done
for i in $HOSTS; do
  mesh_wait_exit "$i" 20
  rc=$MESH_RC
  [ "$rc" = 0 ] || fail "n$i exited with status $rc after SIGTERM"
done
pass "all nodes stopped cleanly; test took $((SECONDS - MESH_T0)) s"
mesh_keep
