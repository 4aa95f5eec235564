#!/usr/bin/env bash
# Bounds and quotas per submitter (issue 8, point 5), with the real
# binaries on two hosts.  n1 allows artists priorities within ±10, at most
# 64 samples, and 3 submissions a minute from one person; n2 at most 2
# unfinished jobs per person in the mesh.  The artist bob is refused a
# priority of 50 and 128 samples (the admin is not refused the priority),
# his 4th submission within a minute to n1, and through n2 any job while
# he has 3 unfinished: each refusal names the limit and its setting, and
# is logged on the node.  carol, another artist, still submits.  bob sets
# his waiting job's priority within his bounds (a negative one too), not
# beyond, and carol may not set it; the admin's priority 500 reaches n2.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"

mesh_setup 2
mkdir -p "$T/n1" "$T/n2"
printf 'artist_max_priority = 10\nmax_samples = 64\nquota_submits = 3\n' >"$T/n1/meshd.conf"
printf 'quota_jobs = 2\n' >"$T/n2/meshd.conf"
mesh_start 1
mesh_start 2
t=$(mesh_wait_members 30 "1 2" 2)
pass "2 nodes alive (${t} s)"
mesh_artists bob carol

# refused WHO HOST TEXT ARGS...: submit exits 1 and says TEXT.
refused() {
  local who=$1 i=$2 text=$3 rc=0
  shift 3
  MESH_HOME="$T/$who" MESH_CTL_TIMEOUT_MS=20000 mesh_ctl "$i" submit "$(mesh_scene)" \
    --resolution "$MESH_RES" --chunk 1 "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ $rc = 1 ] || fail "$who submitting $* through n$i: exit $rc, $(cat "$T/out" "$T/err")"
  grep -qF -- "$text" "$T/err" || fail "$who submitting $* through n$i said: $(cat "$T/err")"
}

refused bob 1 "--priority 50 is outside -10..10 for artists (artist_max_priority in meshd.conf)" \
  --samples 16 --priority 50
refused bob 1 "--samples 128 is above this node's limit of 64 (max_samples in meshd.conf)" \
  --samples 128
grep -q "from bob refused: --priority 50 is outside" "$T/n1.log" || fail "n1 does not log the refusal"
job=$(mesh_submit 1 --priority 50)
pass "bob is refused --priority 50 and --samples 128, each naming its setting; the admin's --priority 50 job $job is taken"

for k in 1 2 3; do bjob[$k]=$(MESH_HOME="$T/bob" mesh_submit 1); done
refused bob 1 "'bob' submitted 3 jobs to this node in the last minute, its quota (quota_submits in meshd.conf)"
MESH_HOME="$T/carol" mesh_submit 1 >/dev/null
pass "bob's 4th submission within a minute to n1 is refused; carol's is taken"

refused bob 2 "'bob' has 2 unfinished jobs in the mesh, its quota (quota_jobs in meshd.conf)"
grep -q "from bob refused: 'bob' has 2 unfinished jobs" "$T/n2.log" || fail "n2 does not log the refusal"
pass "through n2, bob is refused while he has 3 unfinished jobs (n2 allows 2)"

job=${bjob[1]}
out=$(MESH_HOME="$T/bob" mesh_ctl 1 priority "$job" 5) || fail "bob: priority 5: $out"
[ "$out" = "job $job: priority 5" ] || fail "meshctl priority said: $out"
MESH_HOME="$T/bob" mesh_ctl 1 priority "$job" -- -3 >/dev/null || fail "bob: priority -3 refused"
rc=0
MESH_HOME="$T/bob" mesh_ctl 1 priority "$job" 50 >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -qF -- "--priority 50 is outside -10..10 for artists" "$T/err" ||
  fail "bob: priority 50: exit $rc, $(cat "$T/err")"
rc=0
MESH_HOME="$T/carol" mesh_ctl 1 priority "$job" 3 >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -qF "artist 'carol' may not manage other people's jobs" "$T/err" ||
  fail "carol: priority of bob's job: exit $rc, $(cat "$T/err")"
mesh_ctl 1 priority "$job" 500 >/dev/null || fail "admin: priority 500 refused"
mesh_wait_job 20 "$job" "1 2" "j['priority'] == 500" >/dev/null
grep -q "job $job: priority set to 500 by admin 'tester'" "$T/n1.log" || fail "n1 does not log the change"
pass "bob sets his job's priority to 5 and -3, not 50; carol may not; the admin's 500 shows on n2"
