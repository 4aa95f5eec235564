#!/usr/bin/env bash
# Five nodes on five hosts render a 24-frame job, one frame per task; a
# worker (not the coordinator) is killed with SIGKILL in the middle of a
# frame.  Its renderer dies with it, the coordinator gives its frame back,
# the others render it and the job completes: every frame exactly once in
# a fetch, the job done on every surviving node.  Then a second job is
# cancelled through one node and stops on every node.  The gates
# (mesh_lib.sh) hold every frame until the test lets it finish: 5 frames
# are done at the kill, and the killed worker's frame cannot be.
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
pass "every node follows ${coord% *} (epoch ${coord#* })"

job=$(mesh_submit 1 --frames "1-$FRAMES")
pass "job $job submitted through n1"
# One frame finishes on each node; then each renders its next, held.
for i in $HOSTS; do mesh_gate_allow "$i" 1; done
mesh_wait_job 60 "$job" "$c" "j['frames_done'] >= $N" >/dev/null

workers=$(mesh_others "$HOSTS" "$c")
r=$(mesh_wait_rendering 30 "$workers")
read -r k what <<<"$r"
frame=${what%% *}
frame=${frame#*:}
done_then=$(mesh_job "$c" "$job" frames_done) || fail "n$c does not know job $job"
[ "$done_then" = "$N" ] || fail "$done_then frames done at the kill; the gates let $N finish"
pgrep -f "blender.*$T/n$k/" >/dev/null || fail "n$k renders frame $frame but runs no Blender"
mesh_kill "$k"
killed_at=$SECONDS
mesh_say "killed n$k (SIGKILL) while it rendered frame $frame ($done_then/$FRAMES frames done)"
for _ in $(seq 1 50); do
  pgrep -f "blender.*$T/n$k/" >/dev/null || break
  sleep 0.1
done
pgrep -f "blender.*$T/n$k/" >/dev/null && fail "n$k's Blender outlived its SIGKILLed meshd"
pass "worker n$k killed mid-frame; its Blender died with it"

survivors=$(mesh_others "$HOSTS" "$k")
mesh_gate_open "$survivors"
other=$(mesh_others "$survivors" "$c" | cut -d' ' -f1)
t=$(mesh_wait_job 90 "$job" "$c $other" "j['state'] == 'done'")
pass "job done on n$c and n$other $((SECONDS - killed_at)) s after the kill"
mesh_check_agree "$job" "$FRAMES" "$survivors"
pass "every survivor ($(mesh_names "$survivors")) sees the job done with $FRAMES/$FRAMES frames"

mesh_check_frames "$c" "$job" 1 "$FRAMES"
pass "fetch through n$c: frame_0001..frame_$(printf %04d $FRAMES).png, each once, all PNGs"

# The coordinator reports what happened to the frame of the killed node.
mesh_log_has "$c" "$job" "frame $frame (given back: n$k |also given to )" ||
  fail "n$c's job log does not say frame $frame of n$k was given back: $(cat "$T/joblog.$c")"
pass "n$c's job log: $(grep -E "frame $frame (given back|also given)" "$T/joblog.$c" | head -1 | cut -d' ' -f3-)"
mesh_done_by "$job" >"$T/done_by"
[ "$(cut -d' ' -f1 "$T/done_by" | sort -nu | wc -l)" = "$FRAMES" ] ||
  fail "the nodes' job logs do not account for every frame: $(cat "$T/done_by")"
grep -q "^$frame n$k\$" "$T/done_by" && fail "frame $frame is logged done on the killed n$k"
pass "frames by node: $(mesh_by_node "$job")"

# A cancel through one node reaches every node: a second job, cancelled
# through the coordinator while it renders (held at the gates), stops
# everywhere.  Then the gates open and a third job renders to the end: had
# any node kept a frame of the cancelled job, it would have finished first.
mesh_gate_close "$survivors"
job2=$(mesh_submit "$other" --frames "1-$FRAMES")
mesh_wait_rendering 30 "$survivors" >/dev/null
mesh_ctl "$c" cancel "$job2" >/dev/null || fail "cancel of $job2 through n$c failed"
t=$(mesh_wait_job 20 "$job2" "$survivors" "j['state'] == 'canceled'")
t2=$(mesh_wait_none_rendering 20 "$job2" "$survivors")
mesh_gate_open "$survivors"
job3=$(mesh_submit "$other" --frames 1-8)
mesh_wait_job 60 "$job3" "$survivors" "j['state'] == 'done'" >/dev/null
for i in $survivors; do
  d=$(mesh_job "$i" "$job2" frames_done) || fail "n$i does not know job $job2"
  [ "$d" = 0 ] || fail "n$i: job $job2 went on rendering after the cancel ($d frames)"
done
pass "job $job2 cancelled through n$c: canceled on every survivor (${t} s), no node renders it (${t2} s); job $job3 rendered after it, no frame of $job2"

for i in $survivors; do mesh_term "$i"; done
for i in $survivors; do
  mesh_wait_exit "$i" 20
  rc=$MESH_RC
  [ "$rc" = 0 ] || fail "n$i exited with status $rc after SIGTERM"
done
pass "survivors stopped cleanly; test took $((SECONDS - MESH_T0)) s"
mesh_keep
