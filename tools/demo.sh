#!/usr/bin/env bash
# The README's demo: installs what is missing, builds, creates a fresh mesh
# identity, starts a local mesh of three nodes on loopback (they find each
# other by gossip and elect a coordinator), generates the sample scene with
# Blender's Python API, submits it with meshctl, waits with a progress
# display, fetches the frames and prints where they are and which node
# rendered what.
#
#   bash tools/demo.sh            # 24 frames, 320x180, 16 samples, 3 nodes
#   DEMO_PORT=7800 DEMO_NODES=2 bash tools/demo.sh
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
nodes=${DEMO_NODES:-3}
for pidfile in "$demo"/n*/meshd.pid "$demo"/node/meshd.pid; do
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
done
sleep 1
rm -rf "$demo"
mkdir -p "$demo/scene"
export MESH_HOME="$demo/client" MESH_ADDR="tcp://127.0.0.1:$port"

echo "== creating the mesh identity and $nodes node tokens"
"$meshctl" init --name "demo-user"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
# A local mesh: node i listens on port + 2i (the door takes the port after).
for i in $(seq 1 "$nodes"); do
  addr="tcp://127.0.0.1:$((port + 2 * (i - 1)))"
  mkdir -p "$demo/n$i"
  "$meshctl" invite --role node --name "n$i" > "$demo/n$i.token"
  join=()
  [ "$i" -gt 1 ] && join=(--join "$MESH_ADDR")
  echo "== starting meshd n$i on $addr (log: $demo/n$i/meshd.log)"
  "$meshd" --home "$demo/n$i" --token "$demo/n$i.token" --listen "$addr" "${join[@]}" \
    --slots 1 >"$demo/n$i/meshd.log" 2>&1 &
  pids+=($!)
  echo "$!" > "$demo/n$i/meshd.pid"
  for _ in $(seq 1 100); do
    MESH_TIMEOUT_MS=500 "$meshctl" --mesh "$addr" status >/dev/null 2>&1 && break
    kill -0 "$!" 2>/dev/null || { cat "$demo/n$i/meshd.log"; exit 1; }
    sleep 0.1
  done
  rm -f "$demo/n$i.token" # the node keeps its own copy (0600) in its home
done
for _ in $(seq 1 100); do # every node alive, as n1 sees the mesh
  [ "$("$meshctl" nodes --json 2>/dev/null | grep -o '"state":"alive"' | wc -l)" = "$nodes" ] && break
  sleep 0.2
done

echo "== generating the sample scene (24 frames, 320x180, 16 samples)"
blender -b --factory-startup --python tools/make_sample_scene.py -- \
  "$demo/scene/sample.blend" --frames 24 --res 320x180 --samples 16 >"$demo/scene/make.log" 2>&1

echo "== submitting to n1; every node renders part of it"
"$meshctl" submit "$demo/scene/sample.blend" --frames 1-24 --json > "$demo/submit.json"
job=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["job_id"])' "$demo/submit.json")
"$meshctl" wait "$job"
"$meshctl" fetch "$job" "$demo/frames"

echo
"$meshctl" nodes
echo
"$meshctl" status
echo
"$meshctl" job "$job" | head -8
echo
echo "The frames are in: $demo/frames"
ls "$demo/frames" | head -3
echo "... ($(ls "$demo/frames" | wc -l) files)"
