#!/usr/bin/env bash
# Artists' private data (issue 8, point 2's option), with the real binaries
# on two hosts that both set artists_private = true.  bob's job renders.
# carol, another artist, still sees it (jobs, job), but without the hashes
# of its project, frames and logs or their S3 places, and her fetch of it is
# refused naming the setting, through either node.  bob fetches his own
# frames; the admin fetches anyone's.
# shellcheck source=tests/e2e/mesh_lib.sh
source "$(dirname "$0")/mesh_lib.sh"

mesh_setup 2
for i in 1 2; do
  mkdir -p "$T/n$i"
  echo "artists_private = true" >"$T/n$i/meshd.conf"
done
mesh_start 1
mesh_start 2
t=$(mesh_wait_members 30 "1 2" 2)
pass "2 nodes alive with artists_private = true (${t} s)"
mesh_artists bob carol

mesh_gate_open "1 2"
job=$(MESH_HOME="$T/bob" mesh_submit 1 --frames 1-2)
mesh_wait_job 60 "$job" "1 2" "j['state'] == 'done'" >/dev/null
pass "bob's job $job rendered"

for i in 1 2; do
  mesh_as carol "$i" jobs --json | mesh_py "assert '$job' in [j['job_id'] for j in d['jobs']]" ||
    fail "carol does not see bob's job in jobs through n$i"
  mesh_as carol "$i" job "$job" --json >"$T/carol.json" || fail "carol: job $job through n$i"
  mesh_py "
assert d['private'] is True, d['private']
assert all('output' not in f and f['stored'] == '' and f['files'] == [] for f in d['frames']), d['frames']
assert [f['state'] for f in d['frames']] == ['done', 'done']" <"$T/carol.json" ||
    fail "carol's view of bob's job through n$i: $(cat "$T/carol.json")"
  mesh_as carol "$i" job "$job" | grep -q "^private   its project, frames and logs are its submitter's" ||
    fail "meshctl job does not say the job is private"
  rc=0
  mesh_as carol "$i" fetch "$job" "$T/carol-out" >"$T/out" 2>"$T/err" || rc=$?
  [ $rc = 1 ] && grep -qF "job $job is bob's: on this mesh artists fetch only their own jobs' frames (artists_private in meshd.conf)" "$T/err" ||
    fail "carol's fetch through n$i: exit $rc, $(cat "$T/out" "$T/err")"
  [ -z "$(ls -A "$T/carol-out" 2>/dev/null)" ] || fail "carol's fetch wrote $(ls "$T/carol-out")"
done
pass "carol sees bob's job (both frames done) without its hashes or files, and may not fetch it, through either node"

mesh_as bob 2 job "$job" --json | mesh_py "
assert d['private'] is False
assert all(len(f['output']) == 64 for f in d['frames'])" || fail "bob's own view is redacted"
mesh_as bob 2 fetch "$job" "$T/bob-out" >/dev/null || fail "bob cannot fetch his own job"
mesh_ctl 1 fetch "$job" "$T/admin-out" >/dev/null || fail "the admin cannot fetch bob's job"
for d in bob-out admin-out; do
  n=$(find "$T/$d" -name '*.png' | wc -l)
  [ "$n" = 2 ] || fail "$d holds $n frames, not 2"
done
pass "bob fetches his own frames, the admin anyone's (2 frames each)"
