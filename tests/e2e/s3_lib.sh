# shellcheck shell=bash
# S3 for the tests: moto_server with SigV4 checking (../shared/DESIGN-BRIEF.md,
# "moto recipe"), an IAM user allowed everything and its access key, and
# the environment AWS's SDKs and CLI read pointed at it.  Sourced after
# lib.sh.
#
#   s3_start           moto on a free port; exports AWS_ACCESS_KEY_ID,
#                      AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3
#                      and S3_ENDPOINT; skips the test when moto_server or
#                      aws is missing
#   s3 ARGS...         awscli's s3api against it (the independent client)

s3_start() {
  command -v moto_server >/dev/null || skip "moto_server is not installed (pip install 'moto[server]')"
  command -v aws >/dev/null || skip "awscli is not installed"
  free_port S3_PORT
  S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
  # The first 3 requests go unauthenticated: the user, its policy, its key.
  INITIAL_NO_AUTH_ACTION_COUNT=3 moto_server -H 127.0.0.1 -p "$S3_PORT" >"$T/moto.log" 2>&1 &
  S3_PID=$!
  NODE_PID[moto]=$S3_PID # lib.sh's cleanup kills it
  local i
  for i in $(seq 1 300); do
    # A bare TCP probe: every HTTP request counts against the 3.
    (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null && break
    kill -0 "$S3_PID" 2>/dev/null || fail "moto_server exited: $(tail -5 "$T/moto.log")"
    sleep 0.1
  done
  # Nobody's ~/.aws: only what the test sets.
  export HOME="$T/home"
  mkdir -p "$HOME"
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
  aws --endpoint-url "$S3_ENDPOINT" iam create-user --user-name rendermesh >/dev/null ||
    fail "moto: create-user"
  aws --endpoint-url "$S3_ENDPOINT" iam put-user-policy --user-name rendermesh --policy-name all \
    --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}' ||
    fail "moto: put-user-policy"
  local keys
  keys=$(aws --endpoint-url "$S3_ENDPOINT" iam create-access-key --user-name rendermesh \
    --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text) || fail "moto: create-access-key"
  read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY <<<"$keys"
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL_S3="$S3_ENDPOINT"
}

s3() {
  aws --endpoint-url "$S3_ENDPOINT" s3api "$@"
}
