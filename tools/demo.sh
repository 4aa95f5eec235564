#!/usr/bin/env bash
# The README's demo: installs what is missing, builds, creates a fresh mesh
# identity, starts one node on loopback, generates the sample scene with
# Blender's Python API, submits it with meshctl, waits with a progress
# display and prints where the frames are.
#
#   bash tools/demo.sh            # 24 frames, 320x180, 16 samples
#   DEMO_PORT=7800 bash tools/demo.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
port=${DEMO_PORT:-7700}
demo="$root/demo"

bash tools/install_deps.sh
bash tools/build.sh "$root/build"
meshctl="$root/build/tools/meshctl"
meshd="$root/build/node/meshd"

# Fresh keys every time: the old demo mesh (and its node) go away.
if [ -f "$demo/node/meshd.pid" ]; then
  kill "$(cat "$demo/node/meshd.pid")" 2>/dev/null || true
  sleep 1
fi
rm -rf "$demo"
mkdir -p "$demo/scene"
export MESH_HOME="$demo/client" MESH_ADDR="tcp://127.0.0.1:$port"

echo "== creating the mesh identity and a node token"
"$meshctl" init --name "demo-user"
"$meshctl" invite --role node --name demo-node > "$demo/node.token"

echo "== starting meshd on $MESH_ADDR (log: $demo/node/meshd.log)"
mkdir -p "$demo/node"
"$meshd" --home "$demo/node" --token "$demo/node.token" --listen "$MESH_ADDR" \
  --slots 1 >"$demo/node/meshd.log" 2>&1 &
node_pid=$!
echo "$node_pid" > "$demo/node/meshd.pid"
trap 'kill $node_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  MESH_TIMEOUT_MS=500 "$meshctl" status >/dev/null 2>&1 && break
  kill -0 "$node_pid" 2>/dev/null || { cat "$demo/node/meshd.log"; exit 1; }
  sleep 0.1
done
rm -f "$demo/node.token" # the node keeps its own copy (0600) in its home

echo "== generating the sample scene (24 frames, 320x180, 16 samples)"
blender -b --factory-startup --python tools/make_sample_scene.py -- \
  "$demo/scene/sample.blend" --frames 24 --res 320x180 --samples 16 >"$demo/scene/make.log" 2>&1

echo "== submitting"
"$meshctl" submit "$demo/scene/sample.blend" --frames 1-24 --out "$demo/frames"

echo
"$meshctl" nodes
echo
echo "The frames are in: $demo/frames"
ls "$demo/frames" | head -3
echo "... ($(ls "$demo/frames" | wc -l) files)"
