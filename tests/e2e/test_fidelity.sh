#!/usr/bin/env bash
# A frame is exactly what Blender renders: a production-like file
# (tests/e2e/make_fidelity_scene.py: a scene that is not the active one,
# animated, two view layers, motion blur, multilayer EXR, compositor File
# Output nodes with a relative, an absolute and an escaping path) rendered
# by a mesh of two nodes and by plain `blender -b FILE -S SCENE -f N`,
# compared pixel by pixel (idiff, every channel of every file), and every
# file Blender writes comes back with its relative name.  A scene that
# denoises waits, saying why, on nodes whose Blender lacks
# OpenImageDenoise (as plain Blender refuses it), and renders without
# denoising only when the submitter says --no-denoise.
source "$(dirname "$0")/lib.sh"
command -v idiff >/dev/null || { echo "SKIP: idiff (openimageio-tools) not installed"; exit 77; }

proj="$T/proj"
blender -b --factory-startup --python "$RM_SOURCE_DIR/tests/e2e/make_fidelity_scene.py" -- \
  "$proj/shot.blend" "$T/abs" >"$T/make.out" 2>&1 || fail "cannot make the scene: $(tail "$T/make.out")"

free_port p1
free_port p2
export MESH_ADDR="tcp://127.0.0.1:$p1"
mesh_init
start_node n1 "$p1" --slots 1
start_node n2 "$p2" --slots 1 --join "tcp://127.0.0.1:$p1"

out=$("$MESHCTL" submit "$proj/shot.blend" --scene Shot --frames 1,4 --json) || fail "submit: $out"
job=$(echo "$out" | json job_id)
"$MESHCTL" wait "$job" >"$T/wait.out" || fail "wait: $(cat "$T/wait.out")"
"$MESHCTL" fetch "$job" "$T/got" >/dev/null || fail "fetch failed"
pass "a non-active scene rendered on two nodes and fetched"

# Nothing was written where the .blend points outside the job's folder.
[ ! -e "$T/abs" ] && [ ! -e "$T/escape_0001.png" ] ||
  fail "a node wrote outside its job folder: $(find "$T/abs" "$T"/escape_* 2>/dev/null | head)"
for f in 1 4; do
  n=$(printf %04d $f)
  for name in frame_$n.exr passes/normal_$n.png passes/multi_$n.exr stray/escape_$n.png; do
    [ -f "$T/got/$name" ] || fail "frame $f: $name did not come back: $(cd "$T/got" && find . -type f)"
  done
done
[ "$(cd "$T/got" && find . -type f | wc -l)" = 8 ] ||
  fail "expected 8 files: $(cd "$T/got" && find . -type f)"
pass "every file Blender wrote came back under its relative name (File Output paths redirected)"

# Plain Blender on a copy of the project, for the same frames.
mkdir -p "$T/ref"
cp "$proj/shot.blend" "$T/ref/"
for f in 1 4; do
  (cd "$T/ref" && blender -b shot.blend -S Shot -f $f >>"$T/ref.out" 2>&1) || fail "plain Blender"
done
for f in 1 4; do
  n=$(printf %04d $f)
  for pair in "renders/shot_$n.exr frame_$n.exr" "passes/normal_$n.png passes/normal_$n.png" \
    "passes/multi_$n.exr passes/multi_$n.exr" "../escape_$n.png stray/escape_$n.png"; do
    set -- $pair
    idiff -a "$T/ref/$1" "$T/got/$2" >"$T/idiff.out" 2>&1 ||
      fail "frame $f: $2 differs from Blender's $1: $(tail -4 "$T/idiff.out")"
  done
done
# The animation moved: frame 1 and 4 differ (a frozen scene would not).
! idiff -a "$T/got/frame_0001.exr" "$T/got/frame_0004.exr" >/dev/null 2>&1 ||
  fail "frames 1 and 4 are the same picture: the animation did not play"
pass "every file equals plain Blender's, pixel by pixel, every layer and pass"

# Stereo views written as separate files: both come back.
out=$("$MESHCTL" submit "$proj/shot.blend" --scene Stereo --frames 2 --json) || fail "submit: $out"
sjob=$(echo "$out" | json job_id)
"$MESHCTL" wait "$sjob" >/dev/null || fail "stereo job did not finish"
"$MESHCTL" fetch "$sjob" "$T/stereo" >/dev/null || fail "fetch stereo"
(cd "$T/ref" && blender -b shot.blend -S Stereo -o "$T/ref/st_####" -f 2 >>"$T/ref.out" 2>&1) ||
  fail "plain Blender (stereo)"
for v in L R; do
  idiff "$T/ref/st_0002_$v.png" "$T/stereo/frame_0002_$v.png" >"$T/idiff.out" 2>&1 ||
    fail "stereo view $v: $(tail -3 "$T/idiff.out")"
done
pass "both stereo views came back, equal to Blender's"

# Denoising: kept, or the job waits with the reason; never silently off.
"$MESHCTL" nodes --json >"$T/nodes.json"
caps=$(python3 -c 'import json,sys; print(" ".join(n.get("caps","") for n in json.load(open(sys.argv[1]))["nodes"]))' "$T/nodes.json")
out=$("$MESHCTL" submit "$proj/shot.blend" --scene Denoised --frames 1 --json) || fail "submit: $out"
djob=$(echo "$out" | json job_id)
if [[ " $caps " != *" denoise "* ]]; then
  for i in $(seq 1 50); do
    "$MESHCTL" jobs --json >"$T/jobs.json"
    python3 - "$T/jobs.json" "$djob" <<'PY' && break
import json, sys
j = [x for x in json.load(open(sys.argv[1]))["jobs"] if x["job_id"] == sys.argv[2]][0]
assert j["state"] == "queued" and j["frames_done"] == 0 and j["frames_failed"] == 0, j
assert "OpenImageDenoise" in j.get("waiting", ""), j
PY
    [ "$i" -lt 50 ] || fail "the denoising job does not wait with a reason: $(cat "$T/jobs.json")"
    sleep 0.2
  done
  sleep 3 # a node that took it anyway would have failed or rendered it by now
  "$MESHCTL" job "$djob" --json >"$T/djob.json"
  python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
s = j.get("summary", j)
assert s["frames_done"] == 0 and s["frames_failed"] == 0, s' "$T/djob.json" ||
    fail "a node without OpenImageDenoise rendered or failed the job: $(cat "$T/djob.json")"
  "$MESHCTL" cancel "$djob" >/dev/null
  pass "a denoising scene waits, saying why, where no Blender can denoise"

  out=$("$MESHCTL" submit "$proj/shot.blend" --scene Denoised --frames 1 --no-denoise --json) ||
    fail "submit --no-denoise: $out"
  njob=$(echo "$out" | json job_id)
  "$MESHCTL" wait "$njob" >/dev/null || fail "--no-denoise job did not finish"
  "$MESHCTL" fetch "$njob" "$T/nd" >/dev/null
  (cd "$T/ref" && blender -b shot.blend -S Denoised \
    --python-expr "import bpy; bpy.data.scenes['Denoised'].cycles.use_denoising = False" \
    -o "$T/ref/nd_####" -f 1 >>"$T/ref.out" 2>&1) || fail "plain Blender (denoising off)"
  idiff "$T/ref/nd_0001.png" "$T/nd/frame_0001.png" >"$T/idiff.out" 2>&1 ||
    fail "--no-denoise frame differs: $(tail -3 "$T/idiff.out")"
  pass "--no-denoise renders what Blender renders with denoising off"
else
  "$MESHCTL" wait "$djob" >/dev/null || fail "denoising job failed where nodes can denoise"
  pass "nodes can denoise: the job rendered denoised"
fi

stop_node n2
stop_node n1
