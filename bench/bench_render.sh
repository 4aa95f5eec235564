#!/usr/bin/env bash
# Renders the sample scene's 24 frames three ways on this machine and prints
# the ratios (docs/benchmarks.md):
#   1. plain `blender -b scene.blend -a`                 (the baseline)
#   2. one Blender process per frame (`-f N` 24 times)   (what Flamenco/Brenda do)
#   3. through the mesh: meshctl submit --out (end to end: chunking, upload,
#      render on a running meshd with 1 slot, fetch of every frame)
# Usage: bash bench/bench_render.sh [RES] [SAMPLES]   (default 320x180 4: ~0.15 s frames here)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
res=${1:-320x180}
samples=${2:-4}
build="$root/build"
bash "$root/tools/build.sh" "$build" >/dev/null
meshctl="$build/tools/meshctl"
meshd="$build/node/meshd"
w=$(mktemp -d /tmp/rm-bench.XXXXXX)
node_pid=""
trap '[ -n "$node_pid" ] && kill $node_pid 2>/dev/null; rm -rf "$w"' EXIT

blender -b --factory-startup --python "$root/tools/make_sample_scene.py" -- \
  "$w/scene.blend" --frames 24 --res "$res" --samples "$samples" >"$w/make.log" 2>&1

now() { date +%s.%N; }
runs=${BENCH_RUNS:-3}

export MESH_HOME="$w/client" MESH_ADDR="tcp://127.0.0.1:${BENCH_PORT:-7790}"
"$meshctl" init --name bench >/dev/null
"$meshctl" invite --role node --name bench-node >"$w/node.token"
"$meshd" --home "$w/node" --token "$w/node.token" --listen "$MESH_ADDR" --slots 1 \
  >"$w/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 1 100); do
  MESH_TIMEOUT_MS=500 "$meshctl" status >/dev/null 2>&1 && break
  sleep 0.1
done

# The three ways alternate within each run so drift in machine load hits
# them alike; the median of the runs is reported.
: >"$w/times"
for run in $(seq 1 "$runs"); do
  rm -rf "$w/a" "$w/f" "$w/m"
  t0=$(now)
  blender -b "$w/scene.blend" -o "$w/a/frame_####" -F PNG -s 1 -e 24 -a >"$w/a.log" 2>&1
  t1=$(now)
  for f in $(seq 1 24); do
    blender -b "$w/scene.blend" -o "$w/f/frame_####" -F PNG -f "$f" >>"$w/f.log" 2>&1
  done
  t2=$(now)
  # A new job id each run: the node renders every frame again.
  "$meshctl" submit "$w/scene.blend" --frames 1-24 --out "$w/m" >"$w/m.log" 2>&1
  t3=$(now)
  echo "$t0 $t1 $t2 $t3" >>"$w/times"
done

n_a=$(ls "$w/a" | wc -l); n_f=$(ls "$w/f" | wc -l); n_m=$(ls "$w/m" | wc -l)
[ "$n_a" = 24 ] && [ "$n_f" = 24 ] && [ "$n_m" = 24 ] ||
  { echo "missing frames: -a $n_a, per-frame $n_f, mesh $n_m" >&2; exit 1; }

python3 - "$w/times" "$res" "$samples" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
anim = statistics.median(r[1] - r[0] for r in rows)
per_frame = statistics.median(r[2] - r[1] for r in rows)
mesh = statistics.median(r[3] - r[2] for r in rows)
print(f"scene: 24 frames, {sys.argv[2]}, {sys.argv[3]} samples; median of {len(rows)} runs")
for i, r in enumerate(rows, 1):
    print(f"  run {i}: -a {r[1] - r[0]:.2f} s, per frame {r[2] - r[1]:.2f} s, mesh {r[3] - r[2]:.2f} s")
print(f"blender -a                 {anim:7.2f} s   1.00 x")
print(f"one process per frame      {per_frame:7.2f} s   {per_frame / anim:.2f} x")
print(f"mesh (submit --out)        {mesh:7.2f} s   {mesh / anim:.2f} x   "
      f"(target <= 1.05 x; {per_frame / mesh:.2f} x faster than per-frame, target >= 5)")
PY
