#!/usr/bin/env bash
# Logs and state from any node.  Three rendering nodes and one without
# Blender on loopback, tools/fake_blender.py as the renderer:
# - each frame's Blender log travels with its output: `meshctl logs JOB N`
#   through any node prints that frame's log (and only that frame's), also
#   after the node that rendered it was killed;
# - a failed frame has no stored log: a node that did not try it asks the
#   node that did, and says clearly when that node is gone;
# - once the job is done, `meshctl nodes` on every node shows no node
#   rendering it.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
export MESH_BLENDER="$FAKE" # meshctl scans the fake scene with it too
export RM_FAKE_FRAME_MS=150 RM_FAKE_START_MS=50 RM_FAKE_FAIL_FRAMES=99
scene="$T/scene.blend"
printf 'BLENDER-v304RENDERHEAD-not-a-real-scene' >"$scene"

declare -A PORT=()
addr() { echo "tcp://127.0.0.1:${PORT[$1]}"; }
ctl() {
  local n=$1
  shift
  "$MESHCTL" --mesh "$(addr "$n")" "$@"
}
mesh_init
for n in n1 n2 n3 n4; do free_port "PORT[$n]"; done
start_node n1 "${PORT[n1]}" --blender "$FAKE"
for n in n2 n3; do start_node "$n" "${PORT[$n]}" --blender "$FAKE" --join "$(addr n1)"; done
start_node n4 "${PORT[n4]}" --blender /nonexistent/blender --join "$(addr n1)"

alive() { # NODE -> how many members NODE sees alive
  ctl "$1" nodes --json 2>/dev/null | python3 -c '
import json, sys
print(sum(n["state"] == "alive" for n in json.load(sys.stdin)["nodes"]))'
}
for _ in $(seq 1 150); do
  ok=1
  for n in n1 n2 n3 n4; do [ "$(alive "$n")" = 4 ] || ok=0; done
  [ $ok = 1 ] && break
  sleep 0.2
done
[ $ok = 1 ] || fail "the four nodes did not see each other"
pass "four nodes joined"

job=$(ctl n1 submit "$scene" --frames 1-9 --json | json job_id) || fail "submit"
ctl n1 wait "$job" >/dev/null || fail "job: $(ctl n1 job "$job")"
frames_by() { # JOB NODE -> frames NODE rendered
  ctl n4 job "$1" --json | python3 -c '
import json, sys
print(" ".join(str(f["frame"]) for f in json.load(sys.stdin)["frames"] if f["node"] == sys.argv[1]))' "$2"
}

# Every frame's log through every node: its own frame's lines only.
for f in $(seq 1 9); do
  for n in n1 n2 n3 n4; do
    out=$(ctl "$n" logs "$job" "$f" 2>&1) || fail "logs $f through $n: $out"
    grep -q "Saved: '.*frame_$(printf %04d "$f").png'" <<<"$out" ||
      fail "logs $f through $n lack the frame's save line: $out"
    [ "$(grep -c "Saved: " <<<"$out")" = 1 ] || fail "logs $f through $n hold other frames: $out"
  done
done
pass "each frame's log through every node (n4 renders nothing)"

# Nobody renders the finished job, by every node's view of every node.
none_rendering() {
  for n in n1 n2 n3 n4; do
    ctl "$n" nodes --json | python3 -c '
import json, sys
sys.exit(1 if any(sys.argv[1] in m["rendering"] for m in json.load(sys.stdin)["nodes"]) else 0)' "$1" ||
      return 1
  done
}
for _ in $(seq 1 50); do none_rendering "$job" && break; sleep 0.2; done
none_rendering "$job" || fail "a finished job is still shown rendering: $(ctl n4 nodes)"
pass "meshctl nodes shows nobody rendering the finished job"

# The renderer of frame 1 is killed: its log is still served everywhere.
victim=""
for n in n1 n2 n3; do
  for f in $(frames_by "$job" "$n"); do [ "$f" = 1 ] && victim=$n; done
done
[ -n "$victim" ] || fail "nobody rendered frame 1"
kill_node "$victim"
state_of() { # NODE SEEN -> SEEN's state in NODE's view
  ctl "$1" nodes --json | python3 -c '
import json, sys
print([m["state"] for m in json.load(sys.stdin)["nodes"] if m["name"] == sys.argv[1]][0])' "$2"
}
# Once the survivors suspect it, they fetch from the copy at once (a fetch
# from a node just killed would first wait for its time-out).
for n in n1 n2 n3 n4; do
  [ "$n" = "$victim" ] && continue
  for _ in $(seq 1 100); do
    [ "$(state_of "$n" "$victim")" != alive ] && break
    sleep 0.1
  done
  out=$(ctl "$n" logs "$job" 1 2>&1) || fail "logs 1 through $n after $victim died: $out"
  grep -q "Saved: '.*frame_0001.png'" <<<"$out" || fail "logs 1 through $n: $out"
done
pass "frame 1's log through every survivor after its renderer $victim was killed"

# A failed frame: through n4 (which tried nothing) the log comes from the
# node that tried it; once that node is gone, n4 says where the log is.
failed=$(ctl n4 submit "$scene" --frames 99 --json | json job_id) || fail "submit failing job"
ctl n4 wait "$failed" >/dev/null 2>&1 && fail "the failing job succeeded"
node=$(ctl n4 job "$failed" --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["frames"][0]["node"])')
[ -n "$node" ] && [ "$node" != n4 ] || fail "failed frame on '$node'"
out=$(ctl n4 logs "$failed" 99 2>&1) || fail "logs of the failed frame through n4: $out"
grep -q "Fra:99" <<<"$out" || fail "the failed frame's log through n4: $out"
pass "the failed frame's log through n4, from $node"
kill_node "$node"
for _ in $(seq 1 60); do
  out=$(ctl n4 logs "$failed" 99 2>&1) || true
  grep -q "which is gone" <<<"$out" && break
  sleep 0.3
done
grep -q "is on $node, which is gone" <<<"$out" || fail "after $node died, n4 says: $out"
pass "with $node gone, n4 says: $out"

# The last renderer is killed while it renders: its last gossip said so,
# but a member that is not alive renders nothing.
last=""
for n in n1 n2 n3; do [ -n "${NODE_PID[$n]:-}" ] && last=$n; done
long=$(ctl n4 submit "$scene" --frames 1-1000 --json | json job_id) || fail "submit long job"
for _ in $(seq 1 100); do
  ctl n4 nodes --json | grep -q "$long" && break
  sleep 0.1
done
ctl n4 nodes --json | grep -q "$long" || fail "$last does not render $long: $(ctl n4 nodes)"
kill_node "$last"
ctl n4 cancel "$long" >/dev/null || fail "cancel $long"
for _ in $(seq 1 50); do
  ctl n4 nodes --json | grep -q "$long" || break
  sleep 0.2
done
ctl n4 nodes --json | grep -q "$long" && fail "n4 still shows $long rendering: $(ctl n4 nodes)"
pass "a renderer killed mid-frame is not shown rendering: $(ctl n4 nodes | grep "$last" || true)"

stop_node n4
pass "nodes stopped cleanly"
