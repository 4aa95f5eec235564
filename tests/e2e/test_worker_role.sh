#!/usr/bin/env bash
# Workers (issue 8, point 1: a stolen credential of an exposed machine
# cannot take the mesh over).  n1 holds a worker's credential and says it
# is stable, which with its smaller name would make it the best candidate;
# n2 is a node.  n2 coordinates, and n1 renders the frames n2 gives it.
# n1's credential in a thief's hands: its ASSIGN is refused.  With n2
# stopped, no one coordinates (n1 never claims) and a job waits; n2 back,
# the job renders.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"
ATTACK="$RM_BUILD_DIR/tests/rm_attack"

mesh_setup 2
MESH_ROLE[1]=worker
mkdir -p "$T/n1"
echo "role = stable" >"$T/n1/meshd.conf"
mesh_start 1
mesh_start 2
t=$(mesh_wait_members 30 "1 2" 2)
coord=$(mesh_wait_coordinator 15 "1 2")
[ "${coord% *}" = n2 ] || fail "the coordinator is '$coord', not n2"
role=$(mesh_ctl 2 nodes --json | mesh_py "print([n['role'] for n in d['nodes'] if n['name'] == 'n1'][0])")
[ "$role" = worker ] || fail "n2 lists n1 with role '$role', not worker"
pass "n1 (worker, stable, smaller name) and n2 alive (${t} s); n2 coordinates ($coord); nodes shows n1 as worker"

mesh_gate_open "1 2"
job=$(mesh_submit 1 --frames 1-6)
mesh_wait_job 60 "$job" "1 2" "j['state'] == 'done'" >/dev/null
by_n1=$(mesh_ctl 2 job "$job" --json | mesh_py "print(sum(f['node'] == 'n1' for f in d['frames']))")
[ "$by_n1" -gt 0 ] || fail "n1 rendered none of the 6 frames"
pass "job $job done; worker n1 rendered $by_n1 of its 6 frames, given by n2"

epoch=${coord#* }
out=$(netns_exec 1 "$ATTACK" "$T/n1.token" "$(mesh_addr 2)" assign "$job" 1 n1 "$epoch") ||
  fail "rm_attack assign: $out"
case "$out" in *"ERROR ESTALE"*"a worker may not coordinate"*) ;;
*) fail "n2 answered the worker's ASSIGN: $out" ;; esac
pass "an ASSIGN sent with n1's worker credential is refused: '$out'"

mesh_kill 2
_n2_gone() { ! mesh_members 1 | grep -q '^n2 alive'; }
mesh_until 30 "n1 sees n2 gone" _n2_gone >/dev/null
sleep 3 # time enough for an election round
coord=$(mesh_ctl 1 status --json | mesh_py 'print(d["coordinator"])')
[ -z "$coord" ] || fail "with n2 gone, n1 follows coordinator '$coord'"
grep -q "coordinator: n1" "$T/n1.log" && fail "n1 claimed to coordinate"
pass "n2 killed: nobody coordinates, n1 never claimed"

mesh_start 2
mesh_wait_members 30 "1 2" 2 >/dev/null
coord2=$(mesh_wait_coordinator 20 "1 2")
[ "${coord2% *}" = n2 ] || fail "after n2's restart the coordinator is '$coord2'"
job2=$(mesh_submit 1 --frames 1-2)
mesh_wait_job 60 "$job2" "1 2" "j['state'] == 'done'" >/dev/null
pass "n2 back: it coordinates again ($coord2), job $job2 renders"
