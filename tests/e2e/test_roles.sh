#!/usr/bin/env bash
# Roles for people (issue 8, point 2), with the real binaries on two hosts.
# The mesh's owner (meshctl init: admin) invites two artists, bob and
# carol.  bob's job shows who submitted it and their role.  carol may see
# it but not cancel it or read its logs; neither artist may drain a node;
# each refusal names the right that is missing.  A stolen node credential
# used as a client cannot submit, cancel or drain another node; the drain
# it may carry to a node only makes that meshd exit 75, which a supervisor
# restarts.  bob reads his logs and cancels his own job.  An admin's drain,
# carried by n1 to n2, is logged on n2 with the admin's name, and n2 exits
# 0: stay down.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"

mesh_setup 2
mesh_start 1
mesh_start 2
t=$(mesh_wait_members 30 "1 2" 2)
pass "2 nodes alive (${t} s)"

# People: invitations by role.  The old role name is refused with a hint.
rc=0
"$MESHCTL" invite --role client >"$T/old.token" 2>"$T/old.err" || rc=$?
[ $rc = 2 ] && grep -q "role artist" "$T/old.err" || fail "invite --role client: exit $rc, $(cat "$T/old.err")"
for who in bob carol; do
  "$MESHCTL" invite --role artist --name "$who" --expires 2h >"$T/$who.token" 2>"$T/$who.err" ||
    fail "invite $who: $(cat "$T/$who.err")"
  grep -q "issued a artist credential for '$who', valid until" "$T/$who.err" ||
    fail "invite $who said: $(cat "$T/$who.err")"
  MESH_HOME="$T/$who" "$MESHCTL" init --token "$T/$who.token" >/dev/null ||
    fail "init from $who's invitation"
done
# A thief's home: n1's node token where a person's token goes.
mkdir -p "$T/thief"
cp "$T/n1.token" "$T/thief/client.token"
chmod 600 "$T/thief/client.token"
pass "invitations: --role artist with --expires 2h; --role client refused with a hint"

job=$(MESH_HOME="$T/bob" mesh_submit 1 --frames 1-3)
line=$(mesh_as bob 1 job "$job" | head -1)
case "$line" in *"submitted by artist 'bob'"*) ;; *) fail "meshctl job: $line" ;; esac
role=$(mesh_as carol 2 jobs --json | mesh_py "print([j['submitter_role'] for j in d['jobs'] if j['job_id'] == '$job'][0])")
[ "$role" = artist ] || fail "jobs --json through n2 says submitter_role '$role'"
pass "bob's job $job shows 'submitted by artist 'bob''; jobs --json has submitter_role artist"

# expect_refused WHAT TEXT CMD...: CMD exits 1 and says TEXT on stderr.
expect_refused() {
  local what=$1 text=$2 rc=0
  shift 2
  "$@" >"$T/refused.out" 2>"$T/refused.err" || rc=$?
  [ $rc = 1 ] || fail "$what: exit $rc, $(cat "$T/refused.out" "$T/refused.err")"
  grep -qF "$text" "$T/refused.err" || fail "$what said: $(cat "$T/refused.err")"
}
expect_refused "carol cancelling bob's job" \
  "artist 'carol' may not manage other people's jobs: that needs the admin role (cancel job $job of 'bob')" \
  mesh_as carol 1 cancel "$job"
expect_refused "carol reading bob's logs" "artist 'carol' may not manage other people's jobs" \
  mesh_as carol 2 logs "$job"
mesh_as carol 2 job "$job" >/dev/null || fail "carol cannot see bob's job"
expect_refused "carol draining n2" "artist 'carol' may not drain nodes: that needs the admin role" \
  mesh_as carol 1 drain n2
expect_refused "bob draining n1" "artist 'bob' may not drain nodes" mesh_as bob 1 drain n1
grep -q "refused DRAIN: artist 'carol' may not drain nodes\|refused: artist 'carol' may not drain" "$T/n1.log" ||
  fail "n1 did not log carol's refused drain"
pass "carol sees bob's job but may not cancel it or read its logs; artists may not drain (refusals name the right, n1 logs them)"

expect_refused "a node credential submitting" "node 'n1' may not submit jobs: that needs the admin or artist role" \
  mesh_as thief 2 submit "$(mesh_scene)" --frames 1
expect_refused "a node credential cancelling" "node 'n1' may not manage other people's jobs" \
  mesh_as thief 2 cancel "$job"
expect_refused "a node credential draining another node" "a node carries a drain only to the node it names" \
  mesh_as thief 1 drain n2
pass "a node credential used as a client may not submit, cancel, or drain another node"

mesh_as bob 1 logs "$job" >"$T/bob.log" || fail "bob cannot read his job's log"
grep -q "submitted by bob" "$T/bob.log" || fail "bob's job log: $(cat "$T/bob.log")"
mesh_as bob 2 cancel "$job" >/dev/null || fail "bob cannot cancel his own job"
mesh_wait_job 20 "$job" "1 2" "j['state'] == 'canceled'" >/dev/null
mesh_log_has 2 "$job" "cancelled by artist 'bob'" || fail "n2's job log does not say bob cancelled it"
pass "bob reads his job's log and cancels it; the job log says 'cancelled by artist 'bob''"

# A drain on a node's word alone (a stolen node credential, speaking to the
# node it names): the node drains, but exits 75 so a supervisor restarts it.
mesh_as thief 2 drain n2 >/dev/null 2>&1 || fail "n2 refused to drain at n1's word"
mesh_wait_exit 2 30
[ "$MESH_RC" = 75 ] || fail "n2 drained at a node's word exited $MESH_RC, not 75"
grep -q "drain (finish) asked by node 'n1': leaving the mesh, to be started again" "$T/n2.log" ||
  fail "n2 does not say who asked for the drain"
pass "a drain at a node's word: n2 says node 'n1' asked, and exits 75 (restart)"

mesh_start 2
t=$(mesh_wait_members 30 "1 2" 2)
mesh_ctl 1 drain n2 >"$T/drain.out" 2>&1 || fail "the admin's drain of n2: $(cat "$T/drain.out")"
mesh_wait_exit 2 30
[ "$MESH_RC" = 0 ] || fail "n2 drained by the admin exited $MESH_RC, not 0"
grep -q "drain (finish) asked by admin 'tester' through node 'n1': leaving the mesh to stay down" \
  "$T/n2.log" || fail "n2 does not name the admin who drained it"
grep -q "drain of n2 asked by admin 'tester': carried to it" "$T/n1.log" ||
  fail "n1 does not log the drain it carried"
pass "the admin's drain through n1: n2 names admin 'tester', n1 logs it, n2 exits 0 (stay down)"
