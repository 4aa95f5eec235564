#!/usr/bin/env bash
# Spot instances are reclaimed several at a time, with their disks.  Four
# nodes render a 24-frame job; only the coordinator and one other node
# finish frames, until some finished frame has both its copies on those two
# (each output is on its renderer and one copy picked among the others).
# Both are then killed at once and their homes deleted.  The survivors
# elect a coordinator, find that no live node holds those outputs (HAVE),
# and put the frames back to pending at the next generation, saying why in
# `meshctl job`; a `meshctl fetch` started right after the kill keeps
# waiting (its node answers "ask again" while it looks for copies) and
# ends with every frame, the lost ones rendered again on the survivors.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"

N=4
FRAMES=24
HOSTS="1 2 3 4"
mesh_setup $N
for i in $HOSTS; do
  # The coordinator's audit 3 s after a node is dead (60 s by default).
  mkdir -p "$T/n$i" && echo "repair_after_s = 3" >>"$T/n$i/meshd.conf"
  mesh_start "$i"
done
t=$(mesh_wait_members 30 "$HOSTS" $N)
pass "$N nodes alive on every host (${t} s)"
coord=$(mesh_wait_coordinator 15 "$HOSTS")
c=$(mesh_host "${coord% *}")
k=$((c % N + 1))
survivors=$(mesh_others "$HOSTS" "$c" "$k")
s1=$(echo "$survivors" | cut -d' ' -f1)
pass "n$c coordinates; n$c and n$k will be reclaimed, $(mesh_names "$survivors") stay"

job=$(mesh_submit "$s1" --frames "1-$FRAMES")
pass "job $job submitted through n$s1"

# Frames done so far and whether a survivor's store holds each output.
frames_json() {
  mesh_ctl "$s1" job "$job" --json >"$T/frames.json" 2>/dev/null
}
# The done frames by how many survivors hold their output: "COPIES FRAME
# HASH" lines.
copies_on_survivors() {
  python3 - "$T/frames.json" "$RM_SOURCE_DIR/tests/e2e" "$T" $survivors <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[2])
from store_tool import holds
j = json.load(open(sys.argv[1]))
t, hosts = sys.argv[3], sys.argv[4:]
for f in j["frames"]:
    if f["state"] != "done" or not f.get("output"):
        continue
    h = f["output"]
    held = sum(holds("%s/n%s/chunks" % (t, i), h) for i in hosts)
    print(held, f["frame"], h)
EOF
}

# One frame at a time on each of the two, until a finished frame has no
# copy on a survivor and another has one only (a third of them each, on
# average).
[ -d "$T/n$s1/chunks" ] || fail "no store at $T/n$s1/chunks: the layout this test reads changed"
done_two=0
: >"$T/lost"
: >"$T/single"
while [ ! -s "$T/lost" ] || [ ! -s "$T/single" ]; do
  [ "$done_two" -lt 14 ] || skip "14 frames done on n$c and n$k, and not one lost and one single"
  mesh_gate_allow "$c" 1
  mesh_gate_allow "$k" 1
  done_two=$((done_two + 2))
  mesh_wait_job 60 "$job" "$s1" "j['frames_done'] >= $done_two" >/dev/null
  sleep 0.5 # the copies are made before the frame counts done; the record spreads after
  frames_json || fail "meshctl job $job through n$s1 failed"
  copies_on_survivors >"$T/copies" || fail "cannot read $T/frames.json"
  awk '$1 == 0 { print $2, $3 }' "$T/copies" >"$T/lost"
  awk '$1 == 1 { print $2, $3 }' "$T/copies" >"$T/single"
done
lost=$(cut -d' ' -f1 "$T/lost" | tr '\n' ' ')
single=$(cut -d' ' -f1 "$T/single" | tr '\n' ' ')
pass "$done_two frames done on n$c and n$k; frames ${lost}have no copy outside them, frames ${single}one"

mesh_kill "$c"
mesh_kill "$k"
rm -rf "${T:?}/n$c" "${T:?}/n$k"
mesh_say "killed n$c (the coordinator) and n$k at once, their homes deleted"

# Fetching now: the node looks for copies on members that are gone.
fetch_dir="$T/fetch-early"
# (errexit holds in the subshell: the status is caught, so it is written.)
(rc=0
MESH_CTL_TIMEOUT_MS=5000 MESH_CTL_LIMIT=300 mesh_ctl "$s1" fetch "$job" "$fetch_dir" --json \
  >"$T/fetch-early.out" 2>"$T/fetch-early.err" || rc=$?
echo $rc >"$T/fetch-early.rc") &
fetch_pid=$!

coord2=$(mesh_wait_coordinator 30 "$survivors" "n$c")
c2=$(mesh_host "${coord2% *}")
pass "n$c2 coordinates the survivors"

# Gates still closed: the lost frames wait, pending, saying why.
_reopened() {
  frames_json || return 1
  python3 - "$T/frames.json" $lost <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
want = {int(x) for x in sys.argv[2:]}
got = {f["frame"] for f in j["frames"]
       if f["frame"] in want and f["state"] != "done" and f["error"].startswith("output lost")}
sys.exit(0 if got == want else 1)
EOF
}
t=$(mesh_until 30 "frames $lost back to pending with 'output lost'" _reopened)
why=$(python3 -c "import json, sys
j = json.load(open(sys.argv[1]))
print([f['error'] for f in j['frames'] if f['frame'] == int(sys.argv[2])][0])" \
  "$T/frames.json" "${lost%% *}")
pass "lost frames pending again ${t} s after the coordinator: '$why'"
[ -f "$T/fetch-early.rc" ] && fail "the fetch started at the kill ended before the frames were rendered: $(cat "$T/fetch-early.err")"
pass "the fetch started at the kill is still waiting"

mesh_gate_open "$survivors"
mesh_wait_job 120 "$job" "$survivors" "j['state'] == 'done' and j['frames_done'] == $FRAMES" \
  >/dev/null
pass "job done again on $(mesh_names "$survivors")"
for f in $lost; do
  mesh_log_has "$c2" "$job" "frame $f: output lost" ||
    fail "n$c2's job log does not say frame $f was lost: $(cat "$T/joblog.$c2")"
done
pass "n$c2's job log: $(grep -m1 'output lost' "$T/joblog.$c2" | cut -d' ' -f3-)"
frames_json || fail "meshctl job $job through n$s1 failed"
python3 - "$T/frames.json" "$c" "$k" $lost <<'EOF' || fail "re-rendered frames: $(cat "$T/frames.json")"
import json, sys
j = json.load(open(sys.argv[1]))
gone = {"n" + sys.argv[2], "n" + sys.argv[3]}
for f in j["frames"]:
    if f["frame"] in {int(x) for x in sys.argv[4:]}:
        assert f["state"] == "done" and f["node"] not in gone, f
EOF
pass "every lost frame was rendered again by a survivor"

# store_holds I HASH: nI's store holds the chunk (a file or a pack record).
store_holds() { python3 "$RM_SOURCE_DIR/tests/e2e/store_tool.py" holds "$T/n$1/chunks" "$2"; }

# Outputs left on one survivor get their second copy back.
_two_copies() {
  local f h i
  while read -r f h; do
    for i in $survivors; do
      store_holds "$i" "$h" || return 1
    done
  done <"$T/single"
}
t=$(mesh_until 30 "outputs of frames ${single}on both survivors" _two_copies)
pass "frames ${single}had one copy left: both survivors hold them again (${t} s)"

wait "$fetch_pid"
[ "$(cat "$T/fetch-early.rc")" = 0 ] ||
  fail "the fetch started at the kill failed: $(cat "$T/fetch-early.err") $(cat "$T/fetch-early.out")"
# It fetches the frames done when it started: those of n$c and n$k.
[ "$(find "$fetch_dir" -name 'frame_*.png' | wc -l)" = "$done_two" ] ||
  fail "the early fetch wrote $(ls "$fetch_dir" | wc -l) files, not $done_two"
pass "the fetch started at the kill brought the $done_two frames done then ($(grep -c . "$T/fetch-early.err") lines on stderr)"

mesh_check_frames "$s1" "$job" 1 "$FRAMES"
pass "fetch through n$s1: frame_0001..frame_$(printf %04d $FRAMES).png, each once, all PNGs"

for i in $survivors; do mesh_term "$i"; done
for i in $survivors; do
  mesh_wait_exit "$i" 20
  [ "$MESH_RC" = 0 ] || fail "n$i exited with status $MESH_RC after SIGTERM"
done
pass "survivors stopped cleanly; test took $((SECONDS - MESH_T0)) s"
mesh_keep
