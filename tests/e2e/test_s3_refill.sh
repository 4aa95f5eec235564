#!/usr/bin/env bash
# S3 as the source of last resort for a project (issue 9 point 4): a
# project submitted from S3 is read by one node and swarms to the other;
# then both lose their disks' chunks (as reclaimed spot instances do)
# while the job is unfinished.  No member holds the project any more, so
# a node reads it from S3 again on its own, and every frame renders and
# is fetched.  Moto with SigV4 checking; awscli put the project there.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3_lib.sh"
s3_start
s3 create-bucket --bucket projects >/dev/null || fail "create-bucket projects"

FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
export RM_FAKE_START_MS=50

mkdir -p "$T/proj/textures"
printf 'BLENDER-v304RENDERHEAD-refill' >"$T/proj/shot.blend"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$T/proj/textures/plate.bin"
for f in shot.blend textures/plate.bin; do
  s3 put-object --bucket projects --key "$f" --body "$T/proj/$f" >/dev/null || fail "aws put $f"
done

free_port port1
free_port port2
export MESH_ADDR="tcp://127.0.0.1:$port1"
mesh_init
start_pair() {
  start_node n1 "$port1" --slots 1 --blender "$FAKE"
  start_node n2 "$port2" --slots 1 --blender "$FAKE" --join "tcp://127.0.0.1:$port1"
  for _ in $(seq 1 100); do
    [ "$("$MESHCTL" nodes --json | python3 -c 'import json,sys
print(sum(n["state"] == "alive" for n in json.load(sys.stdin)["nodes"]))')" = 2 ] && return
    sleep 0.2
  done
  fail "the two nodes did not see each other"
}

# Frames that take an hour: the job stays unfinished while the disks go.
RM_FAKE_FRAME_MS=3600000 start_pair
"$MESHCTL" submit s3://projects/shot.blend --attach s3://projects/textures/ --frames 1-3 \
  --json >"$T/submit.json" 2>&1 || fail "submit s3://: $(cat "$T/submit.json")"
job=$(json job_id <"$T/submit.json")
grep -q "importing s3://projects/shot.blend" "$T/n1.log" || fail "n1 did not import the project"
# Acknowledged: n2 holds the project too, fetched from n1 (not from S3).
grep -q "reading it from s3://" "$T/n2.log" && fail "n2 read S3 while n1 held the project"
pass "a project in S3 read by n1 and fetched by n2 from it"

# Both lose the project's chunks, their copies of it and their S3 cache;
# the job records stay, and so does the manifest (a node learning a job
# fetches that first, and it names the objects; it is not in S3).
manifest=$(json manifest <"$T/submit.json")
[ ${#manifest} = 64 ] || fail "submit --json has no manifest: $(cat "$T/submit.json")"
stop_node n1
stop_node n2
for n in n1 n2; do
  python3 "$RM_SOURCE_DIR/tests/e2e/store_tool.py" keep-only "$T/$n/chunks" "$manifest"
  rm -rf "$T/$n/projects" "$T/$n/imports-cache"
done
RM_FAKE_FRAME_MS=50 start_pair
for _ in $(seq 1 300); do
  "$MESHCTL" job "$job" --json >"$T/job.json" 2>/dev/null && [ "$(json state <"$T/job.json")" = done ] && break
  sleep 0.2
done
[ "$(json state <"$T/job.json")" = done ] || fail "the job did not finish: $(cat "$T/job.json"); $(grep -h "project" "$T/n1.log" "$T/n2.log" | tail -5)"
grep -h "no member holds all of its project: reading it from s3://projects/ again" "$T/n1.log" "$T/n2.log" >/dev/null ||
  fail "no node said it read the project from S3 again: $(grep -h project "$T/n1.log" "$T/n2.log" | tail -5)"
"$MESHCTL" fetch "$job" "$T/frames" >/dev/null || fail "fetch"
[ "$(find "$T/frames" -name 'frame_*' | wc -l)" = 3 ] || fail "fetched: $(ls "$T/frames")"
pass "both nodes lost the project's chunks: it was read from S3 again and all 3 frames rendered"
