#!/usr/bin/env bash
# A studio's layout submits as it is: meshctl asks the local Blender what
# shots/sh010/sh010.blend uses (a library in //../../assets that links
# another library, a texture in it, a texture through a symlinked folder,
# an image sequence, UDIM tiles, a library and a texture named by absolute
# paths), sends them below their common ancestor, and the mesh's frames
# equal plain Blender's pixel for pixel, rendered by a node that cannot see
# the artist's folder (a mount namespace hides it, where root may).  A missing texture is
# refused by name (--allow-missing renders without it), a file outside
# --root is refused, denoising becomes a requirement (or --no-denoise), and
# fetch never overwrites a different file (--job-dir), and is idempotent.
source "$(dirname "$0")/lib.sh"
command -v blender >/dev/null || { echo "skipped: no blender"; exit 77; }
here=$(dirname "$0")
S="$T/studio"
shot="$S/shots/sh010/sh010.blend"
blender -b --factory-startup --python-exit-code 1 --python "$here/make_studio.py" -- "$S" >"$T/make.log" 2>&1 ||
  fail "cannot make the studio layout"
[ -L "$S/shots/sh010/maps" ] || fail "the maps folder should be a symlink"

free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
# The node must find every file in the project, never in the artist's folder.
hidden=0
if unshare --mount --propagation private true 2>/dev/null; then
  NODE_WRAP=(unshare --mount --propagation private
    sh -c 'mount -t tmpfs rm-hidden "$0" && exec "$@"' "$S")
  hidden=1
else
  echo "note: cannot hide the studio from the node (not root): a weaker check"
fi
start_node n1 "$port"
NODE_WRAP=()

# The shot, from inside its own folder (relative paths as an artist types them).
out=$(cd "$S/shots/sh010" && "$MESHCTL" submit sh010.blend --out "$T/mesh" --json 2>"$T/err.txt") ||
  fail "submit of the shot failed: $(cat "$T/err.txt")"
python3 - "$out" "$S" <<'PY' || fail "submit: $out"
import json, sys
o, root = json.loads(sys.argv[1]), sys.argv[2]
assert o["root"] == root and o["blend"] == "shots/sh010/sh010.blend", o
# the .blend, 3 libraries, wood, sign, poster, ground, 3 frames of the
# sequence, 2 UDIM tiles
assert o["project_files"] == 13 and o["missing"] == 0 and o["requires"] == [], o
assert o["state"] == "done" and o["frames_done"] == 2 and o["fetched"] == 2, o
PY
pass "the shot went with its root at the studio: $(echo "$out" | json root)"

# Blender's own frames of the same file.
(cd "$S/shots/sh010" && blender -b --factory-startup sh010.blend -o "$T/ref/frame_####" -f 1..2) \
  >"$T/ref.log" 2>&1 || fail "plain Blender could not render the shot"
for n in 0001 0002; do
  d=$(python3 "$here/pngdiff.py" "$T/mesh/frame_$n.png" "$T/ref/frame_$n.png") ||
    fail "frame $n differs from Blender's own: $d"
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["magenta"] == 0 and d["pixels"] == 48*27, d' "$d" ||
    fail "frame $n: $d"
done
python3 "$here/pngdiff.py" "$T/mesh/frame_0001.png" "$T/mesh/frame_0002.png" >/dev/null &&
  fail "frames 1 and 2 are the same picture: the sequence and the camera did not move"
pass "both frames equal plain Blender's, pixel for pixel, and no texture is missing"
"$MESHCTL" logs "$(echo "$out" | json job_id)" 1 >"$T/log1.txt"
grep -q "2 paths stored as absolute in the .blend, below $S on the submitting machine, now read from the project" "$T/log1.txt" ||
  fail "the driver did not say it read the absolute paths from the project"
[ $hidden = 0 ] || pass "the node never saw the studio's folder: absolute paths were read from the project"

job=$(echo "$out" | json job_id)
 "$MESHCTL" job "$job" --files --json | python3 -c '
import json, sys
fr = json.load(sys.stdin)["frames"]
assert [f["files"][0]["path"] for f in fr] == ["frame_0001.png", "frame_0002.png"], fr
assert all(f["warning"] == "" for f in fr), fr'
"$MESHCTL" job "$job" --files >"$T/job.txt" || fail "meshctl job --files"
grep -q "frame 2: frame_0002.png" "$T/job.txt" || fail "job --files: $(cat "$T/job.txt")"
! grep -q "^warning" "$T/job.txt" || fail "job shows a warning: $(cat "$T/job.txt")"
"$MESHCTL" wait "$job" --strict >/dev/null || fail "wait --strict on a job without warnings"
pass "meshctl job lists each frame's files; wait --strict is 0 without warnings"

# Fetching again is idempotent; into a folder holding another frame_0001.png
# it is refused before anything is written; --job-dir writes beside it.
again=$("$MESHCTL" fetch "$job" "$T/mesh" --json) || fail "second fetch: $again"
[ "$(echo "$again" | json present)" = 2 ] && [ "$(echo "$again" | json fetched)" = 0 ] ||
  fail "second fetch is not idempotent: $again"
mkdir -p "$T/other"
cp "$T/mesh/frame_0002.png" "$T/other/frame_0001.png"
rc=0
"$MESHCTL" fetch "$job" "$T/other" >"$T/out.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "frame_0001.png" "$T/out.txt" && grep -q "$job" "$T/out.txt" ||
  fail "a fetch over a different frame_0001.png exited $rc: $(cat "$T/out.txt")"
[ ! -e "$T/other/frame_0002.png" ] || fail "a refused fetch wrote frame_0002.png"
cmp -s "$T/other/frame_0001.png" "$T/mesh/frame_0002.png" || fail "a refused fetch changed a file"
"$MESHCTL" fetch "$job" "$T/other" --job-dir >/dev/null || fail "fetch --job-dir"
cmp -s "$T/other/$job/frame_0001.png" "$T/mesh/frame_0001.png" || fail "--job-dir fetched wrong"
pass "fetch: idempotent, refuses to overwrite a different file (naming it and the job), --job-dir"

# A file outside --root is refused, naming it and the root.
rc=0
"$MESHCTL" submit "$shot" --root "$S/shots" >"$T/out.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "outside the project root $S/shots" "$T/out.txt" ||
  fail "--root below the assets exited $rc: $(cat "$T/out.txt")"
pass "a library outside --root is refused by name"

# A missing texture, used by a linked library: refused, listed with its user.
mv "$S/assets/tex/wood.png" "$T/wood.png"
rc=0
"$MESHCTL" submit "$shot" >"$T/out.txt" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "$S/assets/tex/wood.png" "$T/out.txt" && grep -q "Image 'wood.png'" "$T/out.txt" ||
  fail "a missing texture exited $rc: $(cat "$T/out.txt")"
out=$("$MESHCTL" submit "$shot" --frames 1 --allow-missing --out "$T/missing" --json 2>"$T/err.txt") ||
  fail "submit --allow-missing: $(cat "$T/err.txt")"
[ "$(echo "$out" | json missing)" = 1 ] || fail "--allow-missing: $out"
d=$(python3 "$here/pngdiff.py" "$T/missing/frame_0001.png" "$T/mesh/frame_0001.png" || true)
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["magenta"] > 0, d' "$d" ||
  fail "without its texture the crate should be magenta: $d"
mjob=$(echo "$out" | json job_id)
rc=0
"$MESHCTL" wait "$mjob" --strict >/dev/null 2>"$T/err.txt" || rc=$?
[ $rc = 4 ] && grep -q "frame 1: .*wood.png" "$T/err.txt" ||
  fail "wait --strict on a frame rendered without its texture exited $rc: $(cat "$T/err.txt")"
"$MESHCTL" job "$mjob" | grep -q "^warning   frame 1: .*wood.png" ||
  fail "meshctl job shows no warning: $("$MESHCTL" job "$mjob")"
mv "$T/wood.png" "$S/assets/tex/wood.png"
pass "a missing texture is refused by name; --allow-missing renders without it, with a warning (wait --strict exits 4)"

# Denoising in the file: the job requires it, or --no-denoise says otherwise.
blender -b --factory-startup "$shot" --python-expr 'import bpy
bpy.context.scene.cycles.use_denoising = True
bpy.ops.wm.save_as_mainfile(filepath=bpy.data.filepath.replace("sh010.blend", "sh010_dn.blend"))' \
  >"$T/dn.log" 2>&1 || fail "cannot make the denoising shot"
out=$("$MESHCTL" submit "$S/shots/sh010/sh010_dn.blend" --frames 1 --priority -5 --json 2>"$T/err.txt") ||
  fail "submit of a denoising scene: $(cat "$T/err.txt")"
[ "$(echo "$out" | json requires)" = '["denoise"]' ] && grep -q "requires nodes whose Blender can denoise" "$T/err.txt" ||
  fail "denoising was not required: $out $(cat "$T/err.txt")"
"$MESHCTL" cancel "$(echo "$out" | json job_id)" >/dev/null
out=$("$MESHCTL" submit "$S/shots/sh010/sh010_dn.blend" --frames 1 --no-denoise --priority -5 --json 2>"$T/err.txt")
[ "$(echo "$out" | json requires)" = '[]' ] && ! grep -q "denoise" "$T/err.txt" ||
  fail "--no-denoise: $out $(cat "$T/err.txt")"
"$MESHCTL" cancel "$(echo "$out" | json job_id)" >/dev/null
pass "a denoising scene requires denoise; --no-denoise does not"
stop_node n1
