#!/usr/bin/env bash
# Bad input gets a clear error naming the problem, and loses nothing.
source "$(dirname "$0")/lib.sh"

scene=$(sample_scene)
free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
start_node n1 "$port" --slots 1

expect_exit() { # CODE TEXT command...
  local code=$1 text=$2 rc=0
  shift 2
  "$@" >"$T/out.txt" 2>&1 || rc=$?
  [ "$rc" = "$code" ] || fail "$* exited $rc, expected $code: $(cat "$T/out.txt")"
  grep -qi -- "$text" "$T/out.txt" || fail "$*: output lacks '$text': $(cat "$T/out.txt")"
}

expect_exit 2 "no such file" "$MESHCTL" submit "$T/missing.blend" --frames 1
head -c 4096 /dev/urandom >"$T/random.blend"
expect_exit 2 "not a .blend" "$MESHCTL" submit "$T/random.blend" --frames 1
expect_exit 2 "empty" "$MESHCTL" submit "$scene" --frames ""
expect_exit 2 "reversed" "$MESHCTL" submit "$scene" --frames 10-1
expect_exit 2 "engine" "$MESHCTL" submit "$scene" --frames 1 --engine POVRAY
pass "missing file, non-.blend, empty and reversed ranges, bad engine refused (exit 2)"

# meshd's options are spelled in full, as meshctl's are: an abbreviation
# that getopt_long would take today could mean another option tomorrow.
expect_exit 2 "unknown option --hom" "$MESHD" --hom "$T/n9"
expect_exit 2 "unknown option --task-tim" "$MESHD" --home "$T/n9" --task-tim 30
expect_exit 2 "not a number" "$MESHD" --home="$T/n9" --slots=many
[ ! -e "$T/n9" ] || fail "meshd refused its options but made its home"
pass "meshd refuses abbreviated options and bad values, naming them (exit 2)"

# Embedded Python runs only where the node's owner allowed it.
expect_exit 1 "does not run Python" "$MESHCTL" submit "$scene" --frames 1 --allow-scripts
pass "a job asking to run the .blend's scripts is refused by default"

# A file that starts like a .blend but is cut short: Blender cannot read it.
# meshctl's own Blender says so before anything is sent; past it
# (--no-scan), the node's Blender fails the job.
head -c 3000 "$scene" >"$T/truncated.blend"
expect_exit 2 "cannot read" "$MESHCTL" submit "$T/truncated.blend" --frames 1-2
expect_exit 1 "cannot read" "$MESHCTL" submit "$T/truncated.blend" --frames 1-2 --no-scan --wait
pass "a corrupt .blend is refused by meshctl, and fails its job with 'cannot read' on the node"

expect_exit 2 "Nope" "$MESHCTL" submit "$scene" --frames 1 --scene Nope
grep -q "Alt" "$T/out.txt" || fail "meshctl should list the scenes: $(cat "$T/out.txt")"
expect_exit 1 "Nope" "$MESHCTL" submit "$scene" --frames 1 --scene Nope --no-scan --wait
grep -q "Alt" "$T/out.txt" || fail "the error should list the scenes: $(cat "$T/out.txt")"
expect_exit 1 "NoCam" "$MESHCTL" submit "$scene" --frames 1 --camera NoCam --wait
grep -q "SideCam" "$T/out.txt" || fail "the error should list the cameras: $(cat "$T/out.txt")"
pass "an unknown scene is refused by meshctl; unknown scene and camera fail the job, listing what exists"

# The node still renders good jobs after all that, with a chosen camera.
"$MESHCTL" submit "$scene" --frames 1 --camera SideCam --out "$T/ok" >/dev/null ||
  fail "a good job after bad ones"
[ -f "$T/ok/frame_0001.png" ] || fail "no frame after bad jobs"
"$MESHCTL" jobs --json | python3 -c '
import json, sys
jobs = json.load(sys.stdin)["jobs"]
assert len(jobs) == 4, jobs
assert sorted(j["state"] for j in jobs) == ["done", "failed", "failed", "failed"], jobs'
pass "every accepted job is still listed with its state"
stop_node n1
