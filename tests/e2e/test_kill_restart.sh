#!/usr/bin/env bash
# meshd killed with SIGKILL mid-job and restarted: the job and its finished
# frames survive (not rendered again) and the job completes.
source "$(dirname "$0")/lib.sh"

scene=$(sample_scene)
port=$(free_port)
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
start_node n1 "$port" --slots 1

job=$("$MESHCTL" submit "$scene" --frames 1-12 --samples 64 --resolution 160x90 --json | json job_id)
for _ in $(seq 1 300); do
  done_now=$("$MESHCTL" jobs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["frames_done"])')
  [ "$done_now" -ge 3 ] && break
  sleep 0.1
done
[ "$done_now" -ge 3 ] || fail "fewer than 3 frames done after 30 s"
[ "$done_now" -lt 12 ] || fail "the job finished before the kill; make frames slower"
kill_node n1
# Its Blender dies with it (PR_SET_PDEATHSIG in the driver): no orphan goes
# on writing frames into the job the restarted node renders again.
for _ in $(seq 1 50); do
  pgrep -f "blender.*$T" >/dev/null || break
  sleep 0.1
done
pgrep -f "blender.*$T" >/dev/null && fail "Blender outlived the SIGKILLed meshd"
pass "killed meshd with $done_now frames done; its Blender died too"

before=$(grep -c "done on n1" "$T/n1/jobs/$job/job.log")
start_node n1 "$port" --slots 1
"$MESHCTL" wait "$job" >/dev/null || fail "the job did not complete after the restart"
"$MESHCTL" fetch "$job" "$T/frames" >/dev/null
[ "$(ls "$T/frames" | wc -l)" = 12 ] || fail "expected 12 frames: $(ls "$T/frames")"
for f in "$T"/frames/*; do is_png "$f" || fail "$f is not a PNG"; done
# No frame was recorded done twice: the ones finished before the kill were
# not rendered again.  (The job log is written just after the journal, so a
# kill between the two may leave one frame without its line.)
dups=$(grep -o "frame [0-9]* done on n1" "$T/n1/jobs/$job/job.log" | sort | uniq -d)
[ -z "$dups" ] || fail "frames recorded done twice: $dups"
total=$(grep -c "done on n1" "$T/n1/jobs/$job/job.log")
[ "$total" -ge 11 ] || fail "only $total frames logged done (before kill: $before)"
pass "job completed after restart; $before frames kept, each frame done once"
stop_node n1
