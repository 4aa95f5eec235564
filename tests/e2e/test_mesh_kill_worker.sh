#!/usr/bin/env bash
# Five nodes on five hosts render a 24-frame job, one frame per task; a
# worker (not the coordinator) is killed with SIGKILL in the middle of a
# frame.  Its Blender dies with it, the coordinator gives its frame back,
# the others render it and the job completes: every frame exactly once in
# a fetch, the job done on every surviving node.  Then a second job is
# cancelled through one node and stops on every node.
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

workers=$(mesh_others "$HOSTS" "$c")
r=$(mesh_wait_rendering 30 "$workers")
read -r k what <<<"$r"
frame=${what%% *}
frame=${frame#*:}
done_then=$(mesh_job "$c" "$job" frames_done) || fail "n$c does not know job $job"
[ "$done_then" -lt "$FRAMES" ] || fail "the job finished before the kill"
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
grep -q "^$frame n$k\$" "$T/done_by" && [ "$(grep -c "^$frame " "$T/done_by")" = 1 ] &&
  mesh_say "note: n$k had finished frame $frame just before the kill"
pass "frames by node: $(mesh_by_node "$job")"

# A cancel through one node reaches every node: a second job, cancelled
# through the coordinator while it renders, stops everywhere.
# (200 frames: far more than the mesh renders before the checks end.)
job2=$(mesh_submit "$other" --frames 1-200)
mesh_wait_rendering 30 "$survivors" >/dev/null
mesh_ctl "$c" cancel "$job2" >/dev/null || fail "cancel of $job2 through n$c failed"
t=$(mesh_wait_job 20 "$job2" "$survivors" "j['state'] == 'canceled'")
t2=$(mesh_wait_none_rendering 20 "$job2" "$survivors")
sleep 2
for i in $survivors; do
  d=$(mesh_job "$i" "$job2" frames_done) || fail "n$i does not know job $job2"
  [ "$d" -lt 100 ] || fail "n$i: job $job2 went on rendering after the cancel ($d frames)"
done
pass "job $job2 cancelled through n$c: canceled on every survivor (${t} s), no node renders it (${t2} s)"

for i in $survivors; do mesh_term "$i"; done
for i in $survivors; do
  mesh_wait_exit "$i" 20
  rc=$MESH_RC
  [ "$rc" = 0 ] || fail "n$i exited with status $rc after SIGTERM"
done
pass "survivors stopped cleanly; test took $((SECONDS - MESH_T0)) s"
mesh_keep
