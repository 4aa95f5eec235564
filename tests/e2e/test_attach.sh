#!/usr/bin/env bash
# A project's external files travel with paths relative to the .blend, so a
# texture linked as //textures/green.png resolves on the node: found by the
# local Blender, or named with --attach.  A texture that is not there stops
# the submission; with --allow-missing Blender renders its magenta
# "missing texture" colour.
source "$(dirname "$0")/lib.sh"
need_blender

textured_project "$T/proj" 2
# Move the project: only relative paths can still work.
mv "$T/proj" "$T/moved"

free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
start_node n1 "$port"

"$MESHCTL" submit "$T/moved/shot.blend" --frames 1 --attach "$T/moved/textures" \
  --out "$T/with" >/dev/null || fail "submit with --attach"
with=$(python3 "$(dirname "$0")/pngstat.py" "$T/with/frame_0001.png")
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["green"] > s["pixels"] // 5 and s["magenta"] == 0, s' "$with" ||
  fail "the texture did not resolve: $with"
pass "with --attach the floor is green: $with"

"$MESHCTL" submit "$T/moved/shot.blend" --frames 1 --out "$T/found" >/dev/null ||
  fail "submit without --attach"
found=$(python3 "$(dirname "$0")/pngstat.py" "$T/found/frame_0001.png")
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["green"] > s["pixels"] // 5 and s["magenta"] == 0, s' "$found" ||
  fail "the texture found by the scan did not resolve: $found"
pass "without --attach the local Blender finds the texture: $found"

mv "$T/moved/textures/green.png" "$T/green.png"
rc=0
"$MESHCTL" submit "$T/moved/shot.blend" --frames 1 --out "$T/refused" >"$T/out.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "textures/green.png" "$T/out.txt" && grep -q -- "--allow-missing" "$T/out.txt" ||
  fail "a missing texture exited $rc: $(cat "$T/out.txt")"
[ ! -e "$T/refused" ] || fail "a refused submission fetched something"
"$MESHCTL" submit "$T/moved/shot.blend" --frames 1 --allow-missing --out "$T/without" >/dev/null 2>&1 ||
  fail "submit --allow-missing"
without=$(python3 "$(dirname "$0")/pngstat.py" "$T/without/frame_0001.png")
python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["magenta"] > s["pixels"] // 5 and s["green"] == 0, s' "$without" ||
  fail "without the texture Blender should render magenta: $without"
pass "a missing texture is refused by name; --allow-missing renders the missing-texture magenta: $without"
mv "$T/green.png" "$T/moved/textures/green.png"

# An attached path outside the .blend's folder is refused before anything is sent.
rc=0
"$MESHCTL" submit "$T/moved/shot.blend" --frames 1 --attach "$T/proj.make.log" >"$T/out.txt" 2>&1 || rc=$?
[ $rc = 2 ] || fail "an attachment outside the project exited $rc: $(cat "$T/out.txt")"
pass "an attachment outside the project folder is refused"
stop_node n1
