#!/usr/bin/env bash
# Removing jobs (issue 8, point 5), with the real binaries on two hosts.
# bob's job A renders; his job B is still rendering.  carol, another
# artist, may not remove A; bob may not remove B before he cancels it.
# With n2 stopped, bob removes A through n1: n1 deletes its record, frames
# and logs.  n2 comes back holding A, offers it, gets the signed removal
# back and deletes it too; A never comes back to n1.  An admin removes B
# once cancelled; a second removal says so.  With no job left, n1 deletes
# the project folder they shared, and (its chunk grace set to 0) every
# chunk of its store: project, frames, logs.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"

mesh_setup 2
mkdir -p "$T/n1"
echo "chunk_grace_minutes = 0" >"$T/n1/meshd.conf"
mesh_start 1
mesh_start 2
t=$(mesh_wait_members 30 "1 2" 2)
pass "2 nodes alive (${t} s)"
mesh_artists bob carol
# refused WHO HOST TEXT ARGS...: meshctl exits 1 saying TEXT.
refused() {
  local who=$1 i=$2 text=$3 rc=0
  shift 3
  mesh_as "$who" "$i" "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ $rc = 1 ] || fail "$who: meshctl $*: exit $rc, $(cat "$T/out" "$T/err")"
  grep -qF -- "$text" "$T/err" || fail "$who: meshctl $* said: $(cat "$T/err")"
}

mesh_gate_open "1 2"
a=$(MESH_HOME="$T/bob" mesh_submit 1 --frames 1-2)
mesh_wait_job 60 "$a" "1 2" "j['state'] == 'done'" >/dev/null
mesh_gate_close "1 2"
b=$(MESH_HOME="$T/bob" mesh_submit 1 --frames 1)
pass "bob's job $a rendered; his job $b is waiting"

refused carol 1 "artist 'carol' may not remove job $a of 'bob': only its submitter or an admin may" rm "$a"
refused bob 2 "job $b is still" rm "$b"
grep -q "refused: artist 'carol' removing a job: artist 'carol' may not remove job $a" "$T/n1.log" ||
  fail "n1 does not log carol's refusal"
pass "carol may not remove bob's job; bob may not remove a job still rendering"

mesh_term 2
mesh_wait_exit 2 30
out=$(mesh_as bob 1 rm "$a") || fail "bob: meshctl rm $a: $out"
[ "$out" = "job $a: removed" ] || fail "meshctl rm said: $out"
mesh_ctl 1 jobs --json | grep -q "$a" && fail "n1 still lists $a"
[ -e "$T/n1/jobs/$a" ] && fail "n1 keeps $T/n1/jobs/$a"
grep -q "job $a removed by artist 'bob'" "$T/n1.log" || fail "n1 does not log the removal"
pass "with n2 away, bob removes $a through n1: gone from its list and its disk"

mesh_start 2
mesh_wait_members 30 "1 2" 2 >/dev/null
[ -e "$T/n2/jobs/$a" ] || mesh_say "n2 deleted $a before this test looked"
mesh_until 60 "n2 deletes $a on its return" \
  grep -q "job $a removed by artist 'bob' through n1" "$T/n2.log" >/dev/null
[ -e "$T/n2/jobs/$a" ] && fail "n2 keeps $T/n2/jobs/$a"
sleep 2
mesh_ctl 1 jobs --json | grep -q "$a" && fail "$a came back to n1 with n2"
pass "n2 came back holding $a and deleted it on the removal n1 answered with; n1 did not take it back"

mesh_ctl 1 cancel "$b" >/dev/null
mesh_wait_job 20 "$b" "1 2" "j['state'] == 'canceled'" >/dev/null
out=$(mesh_ctl 2 rm "$b") || fail "admin: meshctl rm $b: $out"
[ "$out" = "job $b: removed" ] || fail "meshctl rm said: $out"
out=$(mesh_ctl 2 rm "$b") || fail "admin: meshctl rm $b again: $out"
[ "$out" = "job $b: already removed" ] || fail "meshctl rm again said: $out"
mesh_until 20 "n1 deletes $b" grep -q "job $b removed by admin 'tester' through n2" "$T/n1.log" >/dev/null
mesh_until 20 "n1 deletes the project folder" \
  bash -c "[ -z \"\$(ls -A '$T/n1/projects')\" ]" >/dev/null
pass "the admin removes bob's cancelled job $b on both nodes (again: 'already removed'); n1's project folder is gone"

# chunks I: the chunk files in nI's store (its tmp/ aside).
chunks() { find "$T/n$1/chunks" -mindepth 2 -type f -not -path "$T/n$1/chunks/tmp/*" | wc -l; }
[ "$(chunks 1)" -gt 0 ] || mesh_say "n1 collected its chunks before this test looked"
mesh_until 30 "n1 collects its chunks" bash -c "[ \$(find '$T/n1/chunks' -mindepth 2 -type f -not -path '$T/n1/chunks/tmp/*' | wc -l) = 0 ]" >/dev/null
grep -q "store: [0-9]* chunk(s) nothing refers to deleted" "$T/n1.log" || fail "n1 does not log the collection"
[ "$(chunks 2)" -gt 0 ] || fail "n2, with the default grace of a day, kept no chunk"
pass "n1 deleted every chunk no job refers to; n2 keeps them for its day of grace"
