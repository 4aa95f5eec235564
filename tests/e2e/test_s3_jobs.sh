#!/usr/bin/env bash
# S3 in the product, against moto_server with SigV4 checking and awscli as
# the independent client: a project that awscli put in S3 is rendered
# without passing through meshctl (`submit s3://... --attach s3://...`,
# a texture and a large file read in ranges included); `--out s3://`
# writes each frame, which awscli lists and reads byte-identical to what
# `meshctl fetch` gets from the mesh; a second render of stored frames
# leaves the objects untouched (same ETag); `meshctl job` shows where each
# frame is; S3 taken away mid-job and brought back: the frames wait on the
# node and every one arrives; a wrong secret key gets an error naming the
# bucket and the cause, for the project and for the frames.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3_lib.sh"
need_blender
s3_start
s3 create-bucket --bucket projects >/dev/null || fail "create-bucket projects"
s3 create-bucket --bucket renders >/dev/null || fail "create-bucket renders"

# count_objects BUCKET PREFIX: objects under it, as awscli lists them.
count_objects() {
  s3 list-objects-v2 --bucket "$1" --prefix "$2" --output json |
    python3 -c 'import json, sys; print(len((json.loads(sys.stdin.read() or "{}")).get("Contents", [])))'
}

# The project: a scene whose floor is textured by //textures/green.png,
# and a file over one read range (8 MiB) that travels with it.
textured_project "$T/proj" 3
head -c $((20 * 1024 * 1024 + 12345)) /dev/urandom >"$T/proj/textures/big.bin"
# Top-level prefixes: moto 5.2.1 refuses a listing prefix holding "/"
# (docs/architecture.md, S3), and the node lists "textures" for textures/.
for f in shot.blend textures/green.png textures/big.bin; do
  s3 put-object --bucket projects --key "$f" --body "$T/proj/$f" >/dev/null || fail "aws put $f"
done
rm -rf "$T/proj" # nothing local: the nodes read it from S3

# The node reaches S3 through a proxy the test can stop (an outage) while
# moto keeps its buckets.
free_port proxy_port
python3 "$(dirname "$0")/tcp_proxy.py" "$proxy_port" "$S3_PORT" >"$T/proxy.log" 2>&1 &
NODE_PID[proxy]=$!
NODE_ENDPOINT="http://127.0.0.1:$proxy_port"
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$proxy_port") 2>/dev/null && break; sleep 0.1; done

free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
AWS_ENDPOINT_URL_S3=$NODE_ENDPOINT start_node n1 "$port"
grep -q "S3: credentials from the environment" "$T/n1.log" || fail "the node does not say where its S3 settings come from: $(grep S3 "$T/n1.log")"
if grep -q "$AWS_SECRET_ACCESS_KEY" "$T/n1.log"; then fail "the secret key is in the node's log"; fi

"$MESHCTL" submit s3://projects/shot.blend --attach s3://projects/textures/ --frames 1-3 \
  --out s3://renders/sh010/ --wait --json >"$T/submit.json" 2>"$T/submit.err" ||
  fail "submit s3://: $(cat "$T/submit.err")"
job=$(json job_id <"$T/submit.json")
[ "$(json state <"$T/submit.json")" = done ] || fail "the job did not end done: $(cat "$T/submit.json")"
[ "$(json root <"$T/submit.json")" = s3://projects/ ] || fail "root: $(cat "$T/submit.json")"
[ "$(json project_files <"$T/submit.json")" = 3 ] || fail "project files: $(cat "$T/submit.json")"
[ "$(json chunks_sent <"$T/submit.json")" = 0 ] || fail "meshctl sent chunks of an S3 project"
big=$(find "$T/n1/projects" -path '*/textures/big.bin' | head -1)
[ -n "$big" ] || fail "the node has no textures/big.bin in its project copy"
s3 get-object --bucket projects --key textures/big.bin "$T/big.orig" >/dev/null
cmp -s "$big" "$T/big.orig" || fail "the node's copy of big.bin (read in ranges) differs from S3's"
pass "submit s3:// with --attach s3://: the node read 3 objects (20 MiB in ranges, byte-identical), meshctl sent nothing"

s3 list-objects-v2 --bucket renders --query 'Contents[].Key' --output text | tr '\t' '\n' | sort >"$T/keys"
printf 'sh010/frame_0001.png\nsh010/frame_0002.png\nsh010/frame_0003.png\n' >"$T/want"
cmp -s "$T/keys" "$T/want" || fail "renders holds: $(cat "$T/keys")"
"$MESHCTL" fetch "$job" "$T/fetched" >"$T/fetch.out" || fail "fetch"
grep -q "3 frames stored in s3://renders/sh010/" "$T/fetch.out" || fail "fetch says: $(cat "$T/fetch.out")"
for f in 1 2 3; do
  s3 get-object --bucket renders --key "sh010/frame_000$f.png" "$T/aws_$f.png" >/dev/null || fail "aws get frame $f"
  cmp -s "$T/aws_$f.png" "$T/fetched/frame_000$f.png" || fail "frame $f in S3 differs from the mesh's"
done
stat=$(python3 "$(dirname "$0")/pngstat.py" "$T/aws_1.png")
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["green"] > s["pixels"] // 5 and s["magenta"] == 0, s' "$stat" ||
  fail "the texture from S3 did not resolve: $stat"
pass "--out s3://: awscli lists the 3 frames and reads them byte-identical to meshctl fetch; the texture resolved ($stat)"

"$MESHCTL" job "$job" --json >"$T/job.json" || fail "job --json"
python3 - "$T/job.json" "$job" <<'PY' || fail "job --json: $(cat "$T/job.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["source"] == "s3://projects/", j["source"]
assert j["out_url"] == "s3://renders/sh010/", j["out_url"]
for f in j["frames"]:
    assert f["stored"] == "s3://renders/sh010/frame_%04d.png" % f["frame"], f
PY
"$MESHCTL" job "$job" >"$T/job.txt"
grep -q "stored    frame 1: s3://renders/sh010/frame_0001.png" "$T/job.txt" || fail "job: $(cat "$T/job.txt")"
grep -q "project   s3://projects/shot.blend" "$T/job.txt" || fail "job: $(cat "$T/job.txt")"
pass "meshctl job shows the project's and each frame's place in S3"

etags() {
  s3 list-objects-v2 --bucket renders --prefix sh010 --query 'Contents[].[Key,ETag,LastModified]' --output text
}
etags >"$T/etags.before"
gets_before=$(grep -c "GET /projects/textures/big.bin" "$T/moto.log" || true)
# textures without its slash: the same folder, asked another way (a new import).
"$MESHCTL" submit s3://projects/shot.blend --attach s3://projects/textures --frames 1-3 \
  --out s3://renders/sh010 --wait --json >"$T/again.json" 2>/dev/null || fail "second submit"
[ "$(json state <"$T/again.json")" = done ] || fail "the second job: $(cat "$T/again.json")"
etags >"$T/etags.after"
cmp -s "$T/etags.before" "$T/etags.after" || fail "a second render changed stored frames: $(diff "$T/etags.before" "$T/etags.after")"
again=$(json job_id <"$T/again.json")
"$MESHCTL" logs "$again" >"$T/again.log"
grep -q "were in S3 already (left untouched)" "$T/again.log" || fail "the job's log: $(cat "$T/again.log")"
pass "a second render of stored frames leaves them untouched (same ETag and time), and its log says so"
[ "$(json chunks_sent <"$T/again.json")" = 0 ] && [ "$(json job_id <"$T/again.json")" != "$job" ] ||
  fail "the second submission: $(cat "$T/again.json")"
grep -q "imported s3://projects/shot.blend: 3 file(s), [0-9]* bytes; 3 of them known already" "$T/n1.log" ||
  fail "the second import read objects again: $(grep imported "$T/n1.log")"
[ "$(grep -c "GET /projects/textures/big.bin" "$T/moto.log" || true)" = "$gets_before" ] ||
  fail "the second import read big.bin again"
pass "the same project submitted again is not read from S3 again (the node knows its objects by ETag)"

# S3 away mid-job: the frames wait on the node, then every one arrives.
"$MESHCTL" submit s3://projects/shot.blend --attach s3://projects/textures/ --frames 1-3 \
  --out s3://renders/outage/ --json >"$T/outage.json" 2>/dev/null || fail "submit before the outage"
outage=$(json job_id <"$T/outage.json")
kill "${NODE_PID[proxy]}"
wait "${NODE_PID[proxy]}" 2>/dev/null || true
for _ in $(seq 1 300); do
  grep -q "waits on this node for S3" "$T/n1.log" && break
  sleep 0.1
done
grep -q "waits on this node for S3" "$T/n1.log" || fail "no frame waited for S3"
sleep 3
state=$("$MESHCTL" job "$outage" --json | json state)
[ "$state" != done ] || fail "the job is done while S3 is away"
python3 "$(dirname "$0")/tcp_proxy.py" "$proxy_port" "$S3_PORT" >>"$T/proxy.log" 2>&1 &
NODE_PID[proxy]=$!
"$MESHCTL" wait "$outage" --json >"$T/outage.end" || fail "wait after the outage: $(cat "$T/outage.end")"
[ "$(json state <"$T/outage.end")" = done ] || fail "after the outage: $(cat "$T/outage.end")"
n=$(count_objects renders outage)
[ "$n" = 3 ] || fail "after the outage renders/outage/ holds $n objects"
"$MESHCTL" logs "$outage" >"$T/outage.log"
grep -q "waits on n1 for S3 (try 1," "$T/outage.log" || fail "the job's log does not say its frames waited"
grep -q "reached S3 after [0-9]* failed tries" "$T/outage.log" || fail "the job's log does not say the frames got there"
pass "S3 away mid-job: the frames waited on the node (the job's log says why) and all 3 arrived"

# A wrong secret: the project and the frames both fail, naming bucket and cause.
# The operator also limits the buckets jobs may use: others are refused.
stop_node n1
echo "s3_buckets = projects, renders" >>"$T/n1/meshd.conf"
AWS_ENDPOINT_URL_S3=$NODE_ENDPOINT AWS_SECRET_ACCESS_KEY=wrong-secret start_node n1 "$port"
rc=0
"$MESHCTL" submit s3://payroll/shot.blend --frames 1 >"$T/other.out" 2>&1 || rc=$?
[ $rc != 0 ] && grep -q "s3://payroll/shot.blend: this node reads and writes only the buckets in its s3_buckets (projects, renders)" "$T/other.out" ||
  fail "a project in another bucket: exit $rc: $(cat "$T/other.out")"
rc=0
"$MESHCTL" submit "$(sample_scene)" --frames 1 --out s3://payroll/x/ >"$T/other.out" 2>&1 || rc=$?
[ $rc != 0 ] && grep -q "s3://payroll/x/: this node reads and writes only" "$T/other.out" ||
  fail "frames to another bucket: exit $rc: $(cat "$T/other.out")"
pass "s3_buckets: a project or frames in another bucket are refused by name"
rc=0
"$MESHCTL" submit s3://projects/shot.blend --frames 1 >"$T/bad.out" 2>&1 || rc=$?
[ $rc != 0 ] || fail "a project read with a wrong secret was accepted"
grep -q "s3://projects/shot.blend" "$T/bad.out" && grep -q "SignatureDoesNotMatch" "$T/bad.out" &&
  grep -q "check the secret access key" "$T/bad.out" || fail "the error says: $(cat "$T/bad.out")"
pass "a wrong secret for the project: $(tail -1 "$T/bad.out")"

scene=$(sample_scene)
rc=0
"$MESHCTL" submit "$scene" --frames 1 --out s3://renders/bad/ --wait --json >"$T/badout.json" 2>/dev/null || rc=$?
[ "$(json state <"$T/badout.json")" = failed ] || fail "frames stored with a wrong secret: $(cat "$T/badout.json")"
err=$(json error <"$T/badout.json")
[[ "$err" == *"s3://renders/bad/frame_0001.png"* && "$err" == *SignatureDoesNotMatch* ]] ||
  fail "the job's error: $err"
n=$(count_objects renders bad)
[ "$n" = 0 ] || fail "something was stored with a wrong secret: $n"
pass "a wrong secret for the frames fails the job, naming bucket and cause (exit $rc)"
