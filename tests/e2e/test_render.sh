#!/usr/bin/env bash
# One node renders a real Blender job submitted with meshctl over CURVE;
# the frames come back named like Blender's; a second submit of the same
# project sends no chunk again; status, jobs, nodes, logs answer.
source "$(dirname "$0")/lib.sh"

scene=$(sample_scene)
free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
start_node n1 "$port" --slots 1

out=$("$MESHCTL" submit "$scene" --frames 1-4 --json)
job=$(echo "$out" | json job_id)
[ "$(echo "$out" | json frames)" = 4 ] || fail "submit: expected 4 frames: $out"
first_bytes=$(echo "$out" | json bytes_sent)
[ "$first_bytes" -gt 0 ] || fail "first submit sent no bytes: $out"
pass "submitted job $job ($first_bytes bytes)"

"$MESHCTL" wait "$job" >"$T/wait.out" || fail "wait: $(cat "$T/wait.out")"
grep -q "4/4" "$T/wait.out" || fail "wait output lacks 4/4: $(cat "$T/wait.out")"
pass "wait reports the job done"

"$MESHCTL" fetch "$job" "$T/frames" || fail "fetch failed"
for f in 1 2 3 4; do
  file="$T/frames/frame_000$f.png"
  [ -f "$file" ] || fail "missing $file"
  is_png "$file" || fail "$file is not a PNG"
done
[ "$(ls "$T/frames" | wc -l)" = 4 ] || fail "expected exactly 4 files: $(ls "$T/frames")"
pass "fetched 4 PNG frames named frame_000N.png"

# The same project again: every chunk is on the node already.
out2=$("$MESHCTL" submit "$scene" --frames 5-6 --json)
[ "$(echo "$out2" | json chunks_sent)" = 0 ] || fail "second submit sent chunks: $out2"
[ "$(echo "$out2" | json bytes_sent)" = 0 ] || fail "second submit sent bytes: $out2"
job2=$(echo "$out2" | json job_id)
pass "second submit sent 0 bytes"

# --out waits and fetches in one go.
"$MESHCTL" wait "$job2" >/dev/null
"$MESHCTL" fetch "$job2" "$T/frames2"
[ -f "$T/frames2/frame_0005.png" ] && [ -f "$T/frames2/frame_0006.png" ] || fail "job 2 frames"

"$MESHCTL" status --json | json blender_ok | grep -q True || fail "status: blender not ok"
"$MESHCTL" jobs --json >"$T/jobs.json"
python3 - "$T/jobs.json" "$job" <<'PY' || fail "jobs --json: $(cat "$T/jobs.json")"
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
j = [x for x in jobs if x["job_id"] == sys.argv[2]][0]
assert j["state"] == "done" and j["frames_done"] == 4, j
PY
"$MESHCTL" nodes --json >"$T/nodes.json"
python3 - "$T/nodes.json" <<'PY' || fail "nodes --json: $(cat "$T/nodes.json")"
import json, sys
nodes = json.load(open(sys.argv[1]))["nodes"]
assert nodes[0]["name"] == "n1" and nodes[0]["state"] == "alive" and nodes[0]["slots"] == 1, nodes
PY
"$MESHCTL" logs "$job" 2 >"$T/frame2.log" || fail "logs JOB 2 failed"
grep -q "Fra:2" "$T/frame2.log" || fail "the frame log lacks Blender's output: $(head "$T/frame2.log")"
"$MESHCTL" logs "$job" | grep -q "frame 3 done" || fail "job log lacks 'frame 3 done'"
pass "status, jobs, nodes and logs answer"

# Without --frames the scene's own range (1-24) is read with Blender; cancel
# reaches the node and the job ends cancelled.  512 samples a frame (256
# times the sample scene's): far more work than the moment the cancel takes.
out3=$("$MESHCTL" submit "$scene" --samples 512 --json)
[ "$(echo "$out3" | json frames)" = 24 ] || fail "submit without --frames: $out3"
job3=$(echo "$out3" | json job_id)
"$MESHCTL" cancel "$job3" >/dev/null || fail "cancel failed"
rc=0
"$MESHCTL" wait "$job3" >"$T/wait3.out" 2>&1 || rc=$?
[ $rc = 1 ] || fail "wait on a cancelled job exited $rc: $(cat "$T/wait3.out")"
"$MESHCTL" jobs --json | python3 -c '
import json, sys
j = [x for x in json.load(sys.stdin)["jobs"] if x["job_id"] == sys.argv[1]][0]
assert j["state"] == "canceled" and j["frames_done"] < 24, j' "$job3" || fail "job not cancelled"
pass "no --frames renders the scene's range; cancel stops the job"

stop_node n1
pass "node stopped cleanly"
