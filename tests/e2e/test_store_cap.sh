#!/usr/bin/env bash
# A node's chunk store under a size cap (store_cap_mb): finished jobs'
# projects go, the least recently finished first, to bring the store under
# the cap; an unfinished job's project and every frame's output stay;
# `meshctl nodes` shows the store's size against its cap; a new job on an
# evicted project gets it sent again and renders.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
export RM_FAKE_FRAME_MS=20 RM_FAKE_START_MS=50

# Four projects of ~1.5 MB each (a .blend header and incompressible data):
# the cap (4 MB) holds two of them besides what must stay.
for p in p1 p2 p3 p4; do
  mkdir -p "$T/$p"
  printf 'BLENDER-v304RENDERHEAD-%s' "$p" >"$T/$p/scene.blend"
  head -c $((1500 * 1024)) /dev/urandom >"$T/$p/data.bin"
done

free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
mkdir -p "$T/n1"
echo "store_cap_mb = 4" >"$T/n1/meshd.conf"
start_node n1 "$port" --slots 1 --blender "$FAKE"

submit() { # PROJECT -> job id (done)
  "$MESHCTL" submit "$T/$1/scene.blend" --attach "$T/$1/data.bin" --frames 1 --no-scan --json \
    >"$T/$1.submit" 2>&1 || fail "submit $1: $(cat "$T/$1.submit")"
  local job
  job=$(json job_id <"$T/$1.submit")
  "$MESHCTL" wait "$job" --json >"$T/$1.wait" || fail "wait $1: $(cat "$T/$1.wait")"
  echo "$job"
}

store_kb() { du -sk "$T/n1/chunks" | cut -f1; }

wait_for() { # SECONDS WHAT COMMAND...
  local limit=$1 what=$2 start_s=$SECONDS
  shift 2
  until "$@"; do
    [ $((SECONDS - start_s)) -lt "$limit" ] || fail "$what: not within $limit s"
    sleep 0.5
  done
}

j1=$(submit p1)
j2=$(submit p2)
j3=$(submit p3)
j4=$(submit p4)
# Three finished projects (and p4's) are over 4 MB: the node collects
# within ~10 s of noticing.
wait_for 40 "n1 evicts projects to stay under its cap" \
  grep -q "store: the projects of [0-9]* finished job(s) evicted" "$T/n1.log"
[ "$(store_kb)" -le 4400 ] || fail "the store holds $(store_kb) KB after eviction (cap 4096 KB)"
pass "over its cap, n1 evicts finished projects ($(store_kb) KB held, cap 4096 KB)"

# The least recently finished went first: p1's project is gone, p4's is
# whole (fetch of the newest job's frame and a re-submit of p4 sends nothing).
"$MESHCTL" fetch "$j1" "$T/f1" >"$T/f1.out" 2>&1 || fail "the frame of an evicted project's job is gone: $(cat "$T/f1.out")"
[ -f "$T/f1/frame_0001.png" ] || fail "no frame for j1"
pass "a job whose project was evicted keeps its frame"

"$MESHCTL" submit "$T/p4/scene.blend" --attach "$T/p4/data.bin" --frames 2 --no-scan --json \
  >"$T/p4b.submit" 2>&1 || fail "resubmit p4: $(cat "$T/p4b.submit")"
sent4=$(json chunks_sent <"$T/p4b.submit")
"$MESHCTL" submit "$T/p1/scene.blend" --attach "$T/p1/data.bin" --frames 2 --no-scan --json \
  >"$T/p1b.submit" 2>&1 || fail "resubmit p1: $(cat "$T/p1b.submit")"
sent1=$(json chunks_sent <"$T/p1b.submit")
[ "$sent4" = 0 ] || fail "the most recent project was evicted ($sent4 chunks sent again)"
[ "$sent1" -gt 0 ] || fail "the oldest project was kept (nothing sent again)"
"$MESHCTL" wait "$(json job_id <"$T/p1b.submit")" >/dev/null || fail "the job on the evicted project failed"
pass "the oldest project went first ($sent1 chunks sent again), the newest stayed, and renders again"

# meshctl nodes shows the store's size against its cap.
"$MESHCTL" nodes --json | python3 -c '
import json, sys
n = json.load(sys.stdin)["nodes"][0]
assert n["store_cap"] == 4 * 1024 * 1024, n
assert 0 < n["store_bytes"] <= 6 * 1024 * 1024, n' || fail "nodes --json: $("$MESHCTL" nodes --json)"
"$MESHCTL" nodes | grep -q " / 4.2 MB" || fail "nodes: $("$MESHCTL" nodes)"
pass "meshctl nodes shows the store's size and cap"
stop_node n1
