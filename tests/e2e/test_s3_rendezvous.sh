#!/usr/bin/env bash
# S3 rendezvous (meshd --join s3://BUCKET/PREFIX/) against moto with SigV4
# checking: nodes that know only the bucket and their join tokens find
# each other; each writes its signed entry (PREFIX/NAME, checked with
# awscli); an entry that is not a node of this mesh is ignored and said
# so; a node that stops deletes its entry.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3_lib.sh"
s3_start
s3 create-bucket --bucket meshes >/dev/null || fail "create-bucket"
# A writer of the bucket who is not in the mesh.
echo "RENDERMESH please connect to tcp://203.0.113.9:7700" >"$T/junk"
s3 put-object --bucket meshes --key prod/intruder --body "$T/junk" >/dev/null || fail "aws put"

mesh_init
free_port p1
free_port p2
FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
start_node n1 "$p1" --join s3://meshes/prod/ --blender "$FAKE"
start_node n2 "$p2" --join s3://meshes/prod/ --blender "$FAKE"

both=""
for _ in $(seq 1 300); do
  "$MESHCTL" --mesh "tcp://127.0.0.1:$p2" nodes --json >"$T/nodes.json" 2>/dev/null || true
  both=$(python3 -c 'import json,sys; n=json.load(open(sys.argv[1]))["nodes"]; print(" ".join(sorted(x["name"] for x in n if x["state"] == "alive")))' "$T/nodes.json" 2>/dev/null || true)
  [ "$both" = "n1 n2" ] && break
  sleep 0.1
done
[ "$both" = "n1 n2" ] || fail "n2 does not see n1 through the rendezvous: '$both'"
grep -q "rendezvous: asked 1 node(s) found in s3://meshes/prod/" "$T/n1.log" "$T/n2.log" ||
  fail "no node says it joined through the rendezvous"
pass "two nodes that know only the bucket found each other"

s3 list-objects-v2 --bucket meshes --output json >"$T/list.json"
python3 -c 'import json,sys; k=sorted(o["Key"] for o in json.load(open(sys.argv[1]))["Contents"]); assert k == ["prod/intruder", "prod/n1", "prod/n2"], k' "$T/list.json" ||
  fail "the bucket holds: $(cat "$T/list.json")"
grep -q "rendezvous: ignored the entry prod/intruder in s3://meshes/prod/: malformed" "$T/n1.log" "$T/n2.log" ||
  fail "the intruder's entry was not said to be ignored: $(grep -h rendezvous "$T"/n*.log)"
if grep -q "203.0.113.9" "$T/n1.log" "$T/n2.log"; then fail "a node tried the intruder's address"; fi
pass "each node wrote its entry; the intruder's was ignored and said so"

stop_node n2
s3 list-objects-v2 --bucket meshes --output json >"$T/list.json"
python3 -c 'import json,sys; k=sorted(o["Key"] for o in json.load(open(sys.argv[1]))["Contents"]); assert k == ["prod/intruder", "prod/n1"], k' "$T/list.json" ||
  fail "after n2 stopped the bucket holds: $(cat "$T/list.json")"
pass "a node that stops deletes its entry"
