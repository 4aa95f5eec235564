#!/usr/bin/env bash
# A node without Blender says so at start and in `meshctl nodes`, renders
# nothing, and keeps what it is given.
source "$(dirname "$0")/lib.sh"

scene=$(sample_scene)
free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
start_node n1 "$port" --blender /nonexistent/blender
grep -q "will not render" "$T/n1.log" || fail "meshd did not say it cannot render"
"$MESHCTL" nodes >"$T/nodes.txt"
grep -q "not found" "$T/nodes.txt" || fail "meshctl nodes hides it: $(cat "$T/nodes.txt")"
"$MESHCTL" nodes --json | python3 -c '
import json, sys
n = json.load(sys.stdin)["nodes"][0]
assert n["blender_ok"] is False and "not found" in n["blender"], n'
pass "missing Blender reported at start and in meshctl nodes"

job=$("$MESHCTL" submit "$scene" --frames 1-2 --json | json job_id)
sleep 1
"$MESHCTL" jobs --json | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
assert j["state"] == "queued" and j["frames_done"] == 0, j'
stop_node n1
# Restarted with Blender: the job kept on disk renders.
start_node n1 "$port" --blender blender
"$MESHCTL" wait "$job" >/dev/null || fail "the queued job did not complete"
pass "the job waits, survives a restart and renders once Blender is there"
stop_node n1
