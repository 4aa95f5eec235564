#!/usr/bin/env bash
# storage/rm_s3 against moto_server with SigV4 checking, cross-checked with
# an independent client (awscli): what one stores the other reads byte for
# byte; create-only writes leave a stored object untouched; ranged reads,
# listings across pages, deletes; a wrong secret or key id gets an error
# naming the bucket and the cause; connection errors are retried (3
# attempts) before they are said; with no keys anywhere, the instance
# role's, through IMDSv2.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3_lib.sh"

TOOL="$RM_BUILD_DIR/tests/rm_s3_tool"
s3_start
s3 create-bucket --bucket frames >/dev/null || fail "create-bucket"

head -c 300000 /dev/urandom >"$T/frame.png"
out=$("$TOOL" put frames shots/sh010/frame_0001.png "$T/frame.png") || fail "put: $out"
[[ "$out" == stored\ \"* ]] || fail "put said: $out"
etag=${out#stored }
s3 get-object --bucket frames --key shots/sh010/frame_0001.png "$T/by-aws.png" >/dev/null ||
  fail "awscli cannot read what rm_s3 stored"
cmp -s "$T/frame.png" "$T/by-aws.png" || fail "awscli reads other bytes than rm_s3 stored"
pass "rm_s3 PUT, awscli GET: byte-identical ($etag)"

head -c 123457 /dev/urandom >"$T/tex.exr"
s3 put-object --bucket frames --key textures/wood.exr --body "$T/tex.exr" >/dev/null || fail "aws put"
"$TOOL" get frames textures/wood.exr "$T/by-rm.exr" || fail "rm_s3 cannot read what awscli stored"
cmp -s "$T/tex.exr" "$T/by-rm.exr" || fail "rm_s3 reads other bytes than awscli stored"
"$TOOL" get frames textures/wood.exr "$T/part" 1000 5000 || fail "ranged get"
cmp -s <(head -c 6000 "$T/tex.exr" | tail -c 5000) "$T/part" || fail "ranged get: wrong bytes"
read -r size tag <<<"$("$TOOL" head frames textures/wood.exr)"
[ "$size" = 123457 ] || fail "head says size $size"
[ "$tag" = "$(s3 head-object --bucket frames --key textures/wood.exr --query ETag --output text)" ] ||
  fail "head's ETag $tag differs from awscli's"
pass "awscli PUT, rm_s3 GET (whole and ranged) and HEAD agree"

# A second render of a stored frame: create-only leaves the object alone.
head -c 300000 /dev/urandom >"$T/again.png"
out=$("$TOOL" put frames shots/sh010/frame_0001.png "$T/again.png" create-only) || fail "$out"
[ "$out" = existed ] || fail "create-only over an existing object said: $out"
after=$(s3 head-object --bucket frames --key shots/sh010/frame_0001.png --query ETag --output text)
[ "$after" = "$etag" ] || fail "create-only changed the object: ETag $etag -> $after"
out=$("$TOOL" put frames shots/sh010/frame_0002.png "$T/again.png" create-only) || fail "$out"
[[ "$out" == stored* ]] || fail "create-only of a new key said: $out"
pass "create-only PUT: an existing frame untouched (same ETag), a new one stored"

# A multipart upload: 12 MiB in parts of 5 MiB; awscli reads it back.
head -c $((12 * 1024 * 1024 + 17)) /dev/urandom >"$T/big.exr"
stored=$("$TOOL" putmp frames renders/big.exr "$T/big.exr") || fail "multipart: $stored"
[[ "$stored" == stored\ \"*-3\" ]] || fail "a 3-part upload's ETag: $stored"
s3 get-object --bucket frames --key renders/big.exr "$T/big.back" >/dev/null || fail "aws get big"
cmp -s "$T/big.exr" "$T/big.back" || fail "awscli reads other bytes than the multipart upload stored"
big_etag=$(s3 head-object --bucket frames --key renders/big.exr --query ETag --output text)
out=$("$TOOL" putmp frames renders/big.exr "$T/tex.exr" create-only) || fail "$out"
[ "$out" = existed ] || fail "create-only multipart over an existing object said: $out"
[ "$(s3 head-object --bucket frames --key renders/big.exr --query ETag --output text)" = "$big_etag" ] ||
  fail "create-only multipart changed the object"
left=$(s3 list-multipart-uploads --bucket frames --query 'length(Uploads || `[]`)' --output text)
[ "$left" = 0 ] || fail "$left multipart upload(s) left behind"
pass "multipart: 12 MiB in 3 parts byte-identical ($stored); create-only kept it; no upload left"

# Listing across pages: 25 keys, 10 a page.
mkdir -p "$T/many"
for i in $(seq 1 25); do printf '%d' "$i" >"$T/many/$i"; done
(cd "$T/many" && aws --endpoint-url "$S3_ENDPOINT" s3 cp --recursive --quiet . s3://frames/many/) ||
  fail "aws s3 cp"
# Prefixes without "/" here: moto 5.2.1 checks signatures against the
# decoded query (moto/iam/access_control.py builds its request from the
# decoded path), so any client that encodes "/" in a query value as SigV4
# requires (%2F) is refused; awscli's list-objects-v2 --prefix a/ is too.
"$TOOL" list frames many 10 >"$T/listing" || fail "list"
n=$(wc -l <"$T/listing")
[ "$n" = 25 ] || fail "rm_s3 lists $n keys under many, 25 there"
grep -qx "many/25 2" "$T/listing" || fail "a key or its size is missing"
[ "$(sort -u "$T/listing" | wc -l)" = 25 ] || fail "a key listed twice"
[ "$("$TOOL" list frames shots | wc -l)" = 2 ] || fail "listing with another prefix"
pages=$(grep -c "list-type=2&max-keys=10&prefix=many HTTP" "$T/moto.log" || true)
[ "$pages" = 3 ] || fail "$pages listing requests for 25 keys at 10 a page"
pass "listing follows continuation tokens (25 keys, 3 pages of 10)"

"$TOOL" delete frames textures/wood.exr || fail "delete"
rc=0
"$TOOL" head frames textures/wood.exr 2>/dev/null || rc=$?
[ $rc = 2 ] || fail "HEAD of a deleted object: exit $rc, not 2 (not found)"
"$TOOL" delete frames textures/wood.exr || fail "deleting a missing key is not an error"
pass "delete, then HEAD says not found"

rc=0
AWS_SECRET_ACCESS_KEY=not-the-secret "$TOOL" put frames x "$T/frame.png" 2>"$T/err" || rc=$?
[ $rc = 1 ] || fail "a wrong secret: exit $rc"
grep -q "s3://frames/x: 403 SignatureDoesNotMatch" "$T/err" && grep -q "check the secret access key" "$T/err" ||
  fail "a wrong secret's error: $(cat "$T/err")"
grep -q "not-the-secret" "$T/err" && fail "the secret appears in the error"
rc=0
AWS_ACCESS_KEY_ID=AKIANOBODY "$TOOL" get frames x "$T/x" 2>"$T/err" || rc=$?
grep -q "403 InvalidAccessKeyId" "$T/err" || fail "an unknown key id's error: $(cat "$T/err")"
rc=0
"$TOOL" put nosuchbucket x "$T/frame.png" 2>"$T/err" || rc=$?
grep -q "s3://nosuchbucket/x: 404 NoSuchBucket" "$T/err" || fail "a missing bucket: $(cat "$T/err")"
pass "errors name the bucket and the cause: $(head -c 120 "$T/err")..."

# Nothing listens: connection errors are retried (3 attempts), then said.
free_port dead
rc=0
AWS_ENDPOINT_URL_S3="http://127.0.0.1:$dead" RM_S3_RETRY_UNIT_MS=10 "$TOOL" head frames x 2>"$T/err" || rc=$?
grep -q "(3 attempt(s))" "$T/err" || fail "a dead endpoint: $(cat "$T/err")"
pass "a dead endpoint: $(cat "$T/err")"

# A session token is sent and signed: moto checks it (and refuses one it
# did not issue) only if the signature over it held.
rc=0
AWS_SESSION_TOKEN=not-issued-here "$TOOL" put frames x "$T/frame.png" 2>"$T/err" || rc=$?
grep -q "400 InvalidToken" "$T/err" || fail "a session token: $(cat "$T/err")"
pass "a session token goes with each request"

# No keys anywhere: the instance role, through IMDSv2 (tests/e2e/fake_imds.py
# plays the metadata service: moto has none with roles).  moto refuses
# session tokens it did not issue, so the role's keys here are long-term
# ones, without a Token.
free_port imds_port
/usr/bin/python3 "$RM_SOURCE_DIR/tests/e2e/fake_imds.py" "$imds_port" render-node \
  "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$T/imds.log" &
NODE_PID[imds]=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$imds_port") 2>/dev/null && break; sleep 0.1; done
role_env=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_REGION -u AWS_DEFAULT_REGION
  "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$imds_port")
out=$("${role_env[@]}" "$TOOL" put frames from-role.png "$T/frame.png") || fail "with the role: $out"
[[ "$out" == stored* ]] || fail "with the role: $out"
grep -q "^PUT /latest/api/token token" "$T/imds.log" || fail "no IMDSv2 token asked: $(cat "$T/imds.log")"
grep -q "no-token" "$T/imds.log" && fail "a metadata request without the token: $(cat "$T/imds.log")"
grep -q "GET /latest/meta-data/placement/region token" "$T/imds.log" ||
  fail "the region was not asked of the instance"
pass "credentials and region of the instance role (IMDSv2, token on every request)"

kill "${NODE_PID[imds]}"
unset 'NODE_PID[imds]'
rc=0
"${role_env[@]}" RM_S3_RETRY_UNIT_MS=10 "$TOOL" head frames x 2>"$T/err" || rc=$?
grep -q "no instance metadata service at http://127.0.0.1:$imds_port" "$T/err" ||
  fail "no metadata service: $(cat "$T/err")"
/usr/bin/python3 "$RM_SOURCE_DIR/tests/e2e/fake_imds.py" "$imds_port" "" x x "$T/imds2.log" &
NODE_PID[imds]=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$imds_port") 2>/dev/null && break; sleep 0.1; done
"${role_env[@]}" "$TOOL" head frames x 2>"$T/err" || true
grep -q "this instance has no IAM role" "$T/err" || fail "no role: $(cat "$T/err")"
pass "no metadata service, no role: each said ($(head -c 90 "$T/err")...)"
