#!/usr/bin/env bash
# Five nodes on five hosts render a 24-frame job.  Mid-job, `meshctl drain`
# (sent to the coordinator, which passes it on) takes a rendering worker
# out: it finishes its frame, leaves, and its meshd exits 0.  Another
# rendering worker gets SIGTERM: it hands its frame back and exits 0 within
# 15 s.  The job completes on the three others; they list both as left.
# Each hands the finished outputs it holds (its own and copies it keeps for
# others) to a member that stays before it leaves, so every frame can still
# be fetched although both are gone.
# The gates (mesh_lib.sh) hold every frame until the test lets it finish:
# the drained worker's frame is still unfinished when it hears of the drain,
# and the terminated worker's frame cannot finish at all.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"

N=5
FRAMES=24
HOSTS="1 2 3 4 5"
TERM_LIMIT_S=15
mesh_setup $N
for i in $HOSTS; do mesh_start "$i"; done
t=$(mesh_wait_members 30 "$HOSTS" $N)
pass "$N nodes alive on every host (${t} s)"
coord=$(mesh_wait_coordinator 15 "$HOSTS")
c=$(mesh_host "${coord% *}")
pass "every node follows n$c (epoch ${coord#* })"

job=$(mesh_submit 1 --frames "1-$FRAMES")
pass "job $job submitted through n1"
# One frame finishes on each node; then each renders its next, held.
for i in $HOSTS; do mesh_gate_allow "$i" 1; done
mesh_wait_job 60 "$job" "$c" "j['frames_done'] >= $N" >/dev/null

# Drain a worker that renders now.
r=$(mesh_wait_rendering 30 "$(mesh_others "$HOSTS" "$c")")
a=${r%% *}
fa=${r#* }
fa=${fa%% *}
fa=${fa#*:}
done_then=$(mesh_job "$c" "$job" frames_done) || fail "n$c does not know job $job"
[ "$done_then" = "$N" ] || fail "$done_then frames done at the drain; the gates let $N finish"
MESH_CTL_LIMIT=90 mesh_ctl "$c" drain "n$a" --wait=60 --json >"$T/drain.out" 2>"$T/drain.err" &
drain_pid=$!
drained_at=$SECONDS
mesh_say "meshctl drain n$a --wait sent through n$c while n$a renders frame $fa ($done_then/$FRAMES done)"
_drain_seen() { mesh_members "$c" | grep -qx "n$a draining"; }
t=$(mesh_until 30 "n$c seeing n$a draining" _drain_seen)
pass "n$c sees n$a draining (${t} s)"

# SIGTERM another worker that renders now: it hands its frame back.
r=$(mesh_wait_rendering 30 "$(mesh_others "$HOSTS" "$c" "$a")")
b=${r%% *}
fb=${r#* }
fb=${fb%% *}
fb=${fb#*:}
mesh_term "$b"
termed_at=$SECONDS
mesh_wait_exit "$b" $TERM_LIMIT_S
rc=$MESH_RC
[ "$rc" != 124 ] || fail "n$b still runs $TERM_LIMIT_S s after SIGTERM"
[ "$rc" = 0 ] || fail "n$b exited with status $rc after SIGTERM"
pass "n$b (rendering frame $fb) got SIGTERM and exited 0 in $((SECONDS - termed_at)) s"
# Now frames may finish: n$a's frame, and the job on the others.
mesh_gate_open "$(mesh_others "$HOSTS" "$b")"

rc=0
wait "$drain_pid" || rc=$?
[ $rc = 0 ] || fail "meshctl drain n$a --wait exited $rc: $(cat "$T/drain.err" "$T/drain.out")"
state=$(json state <"$T/drain.out") || fail "meshctl drain --json: $(cat "$T/drain.out")"
case "$state" in left | gone) ;; *) fail "meshctl drain says n$a is $state: $(cat "$T/drain.out")" ;; esac
pass "meshctl drain n$a --wait: '$(json message <"$T/drain.out")', then $state after $(json waited_ms <"$T/drain.out") ms"
mesh_wait_exit "$a" 30
rc=$MESH_RC
[ "$rc" != 124 ] || fail "n$a still runs $((SECONDS - drained_at)) s after the drain"
[ "$rc" = 0 ] || fail "drained n$a exited with status $rc"
pass "drained n$a exited 0, $((SECONDS - drained_at)) s after the drain"
grep -Eq "frame $fa done on n$a " "$T/n$a/jobs/$job/job.log" ||
  fail "drained n$a did not finish frame $fa: $(cat "$T/n$a/jobs/$job/job.log")"
pass "n$a finished frame $fa before it left"
# Both left: neither took the last copy of a finished frame with it (a
# frame stored on n$a and n$b only would be lost otherwise).
for i in $a $b; do
  grep -q "handed over .* finished frame output(s) to members that stay" "$T/n$i.log" ||
    fail "n$i left without handing its finished frames over: $(grep -i hand "$T/n$i.log")"
done
pass "$(grep -ho "n[0-9]* handed over .*" "$T/n$a.log" "$T/n$b.log" | paste -sd ';' -)"

survivors=$(mesh_others "$HOSTS" "$a" "$b")
other=$(mesh_others "$HOSTS" "$a" "$b" "$c" | cut -d' ' -f1)
mesh_wait_job 90 "$job" "$c $other" "j['state'] == 'done'" >/dev/null
pass "job done on n$c and n$other $((SECONDS - drained_at)) s after the drain"
mesh_check_agree "$job" "$FRAMES" "$survivors"
pass "every remaining node sees the job done with $FRAMES/$FRAMES frames"
mesh_check_frames "$c" "$job" 1 "$FRAMES"
pass "fetch through n$c: frame_0001..frame_$(printf %04d $FRAMES).png, each once, all PNGs"

# What happened, as the mesh tells it.
mesh_log_has "$c" "$job" "frame $fb (given back: n$b |also given to )" ||
  fail "n$c's job log does not say frame $fb of n$b was given back: $(cat "$T/joblog.$c")"
pass "n$c's job log: $(grep -E "frame $fb (given back|also given)" "$T/joblog.$c" | head -1 | cut -d' ' -f3-)"
for i in $survivors; do
  mesh_members "$i" >"$T/members.$i"
  if ! grep -qx "n$a left" "$T/members.$i" || ! grep -qx "n$b left" "$T/members.$i"; then
    fail "n$i does not list n$a and n$b as left: $(cat "$T/members.$i")"
  fi
done
pass "$(mesh_names "$survivors") list n$a and n$b as left"
pass "frames by node: $(mesh_by_node "$job")"

for i in $survivors; do mesh_term "$i"; done
for i in $survivors; do
  mesh_wait_exit "$i" 20
  rc=$MESH_RC
  [ "$rc" = 0 ] || fail "n$i exited with status $rc after SIGTERM"
done
pass "remaining nodes stopped cleanly; test took $((SECONDS - MESH_T0)) s"
mesh_keep
