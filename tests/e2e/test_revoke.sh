#!/usr/bin/env bash
# Revocation (issue 8, point 4) with the real binaries on three hosts.
# n2 is down when the admin revokes node n3 through n1: n1 refuses n3 and
# its links to n3 close; n3 drops out of n1's view.  When n2 comes back it
# still admits n3 from its saved roster, until n1 sees n2's revocation
# digest differ and sends it the set: n2 then refuses n3 too.  An artist,
# bob, revoked through n2, is refused through n1 within seconds (passed
# on at once), and still after n1 restarts (kept on disk).  An artist may
# not revoke; a revocation signed by another mesh is refused.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"

mesh_setup 3
for i in 1 2 3; do mesh_start "$i"; done
t=$(mesh_wait_members 30 "1 2 3" 3)
pass "3 nodes alive (${t} s)"
"$MESHCTL" invite --role artist --name bob >"$T/bob.token" 2>/dev/null
MESH_HOME="$T/bob" "$MESHCTL" init --token "$T/bob.token" >/dev/null
as() {
  local who=$1
  shift
  MESH_HOME="$T/$who" mesh_ctl "$@"
}
as bob 1 status >/dev/null || fail "bob cannot reach n1 before any revocation"

# An artist may not revoke, even holding a revocation the mesh key signed.
cp "$MESH_HOME/mesh.key" "$T/bob/mesh.key"
rc=0
as bob 1 revoke n3 >"$T/out" 2>&1 || rc=$?
[ $rc = 1 ] && grep -q "artist 'bob' may not revoke credentials: that needs the admin role" "$T/out" ||
  fail "bob revoking n3: exit $rc, $(cat "$T/out")"
rm "$T/bob/mesh.key"
# A revocation signed by another mesh's key is refused.
mkdir -p "$T/other"
MESH_HOME="$T/other" "$MESHCTL" init --name eve >/dev/null
cp "$MESH_HOME/client.token" "$T/other/client.token"
rc=0
as other 1 revoke n3 >"$T/out" 2>&1 || rc=$?
[ $rc != 0 ] && grep -q "revocation is signed by another mesh" "$T/out" ||
  fail "another mesh's revocation: exit $rc, $(cat "$T/out")"
pass "an artist may not revoke; a revocation signed by another mesh's key is refused"

mesh_kill 2
mesh_ctl 1 revoke n3 >"$T/revoke.out" 2>&1 || fail "meshctl revoke n3: $(cat "$T/revoke.out")"
grep -q "revoked 'n3': every credential of that name issued up to" "$T/revoke.out" ||
  fail "meshctl revoke said: $(cat "$T/revoke.out")"
grep -q "revoked: credentials of 'n3' issued up to .* (from admin 'tester')" "$T/n1.log" ||
  fail "n1 does not log the revocation"
_n3_out() { ! mesh_members "$1" | grep -qx "n3 alive"; }
t=$(mesh_until 30 "n1 no longer seeing n3 alive" _n3_out 1)
grep -q "peer .*: closing the link: the credentials of 'n3' were revoked" "$T/n1.log" ||
  fail "n1 did not close its link to n3"
pass "meshctl revoke n3 through n1: n1 logs it, closes its link, and stops seeing n3 alive (${t} s)"

# n2 was down: it learns of the revocation from n1's digest.
mesh_start 2
_n2_knows() { grep -q "revoked: credentials of 'n3' .* (from node 'n1')" "$T/n2.log"; }
t=$(mesh_until 30 "n2 hearing of n3's revocation" _n2_knows)
t2=$(mesh_until 30 "n2 no longer seeing n3 alive" _n3_out 2)
pass "n2, down during the revocation, hears of it from n1 (${t} s) and stops seeing n3 alive (${t2} s more)"

mesh_ctl 2 revoke bob >/dev/null 2>&1 || fail "meshctl revoke bob through n2"
start_s=$SECONDS
_bob_out() { ! as bob 1 status >/dev/null 2>&1; }
t=$(mesh_until 10 "n1 refusing bob" _bob_out)
grep -q "revoked: credentials of 'bob' .* (from node 'n2')" "$T/n1.log" ||
  fail "n1 did not hear of bob's revocation from n2"
pass "bob revoked through n2 is refused through n1 within $((SECONDS - start_s)) s"

mesh_kill 1
mesh_start 1
t=$(mesh_wait_members 30 "1 2" 2)
grep -q "2 revocation(s) on disk" "$T/n1.log" || fail "n1 did not reload its revocations"
rc=0
MESH_CTL_TIMEOUT_MS=2000 as bob 1 status >"$T/out" 2>&1 || rc=$?
[ $rc = 3 ] && grep -q "refused this client: the credentials of 'bob' were revoked" "$T/out" ||
  fail "bob after n1's restart: exit $rc, $(cat "$T/out")"
_n3_refused() { grep -q "door: refused node 'n3' .*: its credentials were revoked" "$T/n1.log" "$T/n2.log"; }
t=$(mesh_until 40 "n3 refused at a door" _n3_refused)
pass "after n1 restarts it still refuses bob (exit 3, 'the credentials of 'bob' were revoked...') and n3 knocks at doors in vain"
