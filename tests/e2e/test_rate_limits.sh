#!/usr/bin/env bash
# Per-node rate limits (meshd.conf upload_limit_mbps, download_limit_mbps),
# as a real link would set them: a submission is acknowledged once a second
# node holds the project, fetched from the first.  A 4 MB project goes
# between two nodes on loopback in well under a second; with n1's upload
# limited to 8 Mbit/s (1 MB/s) it takes about 3.75 s (the limit saves up a
# quarter second), and likewise with n2's download limited to 8 Mbit/s.
# Over a link slower than the node's wait for a second node
# (submit_wait_s), the wait follows the copy.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
export RM_FAKE_FRAME_MS=20 RM_FAKE_START_MS=50

project() { # NAME: a 4 MiB project of incompressible data
  mkdir -p "$T/$1"
  printf 'BLENDER-v304RENDERHEAD-%s' "$1" >"$T/$1/scene.blend"
  head -c $((4 * 1024 * 1024)) /dev/urandom >"$T/$1/data.bin"
}

# ms to have PROJECT acknowledged: n1 holds it, and n2 has fetched it.
submit_ms() {
  local t0 t1
  t0=$(date +%s%N)
  MESH_TIMEOUT_MS=${WAIT_MS:-20000} "$MESHCTL" submit "$T/$1/scene.blend" --attach "$T/$1/data.bin" \
    --frames 1 --no-scan --json >"$T/$1.submit" 2>&1 || fail "submit $1: $(cat "$T/$1.submit")"
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

start_pair() { # N1_CONF N2_CONF
  free_port port1
  free_port port2
  export MESH_ADDR="tcp://127.0.0.1:$port1"
  rm -rf "$T/n1" "$T/n2"
  mkdir -p "$T/n1" "$T/n2"
  echo "$1" >"$T/n1/meshd.conf"
  echo "$2" >"$T/n2/meshd.conf"
  start_node n1 "$port1" --slots 1 --blender "$FAKE"
  start_node n2 "$port2" --slots 1 --blender "$FAKE" --join "tcp://127.0.0.1:$port1"
  for _ in $(seq 1 100); do
    [ "$("$MESHCTL" nodes --json | python3 -c 'import json,sys
print(sum(n["state"] == "alive" for n in json.load(sys.stdin)["nodes"]))')" = 2 ] && return 0
    sleep 0.1
  done
  fail "n1 and n2 never both alive"
}

mesh_init
start_pair "" ""
project free
free_ms=$(submit_ms free)
[ "$free_ms" -lt 3000 ] || fail "4 MiB between two nodes with no limit took $free_ms ms"
pass "no limit: 4 MiB held by two nodes in $free_ms ms"
stop_node n1
stop_node n2

start_pair "upload_limit_mbps = 8" ""
grep -q "chunk traffic limited: upload 8 Mbit/s" "$T/n1.log" || fail "n1 does not say its limit"
project up
up_ms=$(submit_ms up)
[ "$up_ms" -ge 3200 ] && [ "$up_ms" -le 9000 ] ||
  fail "n1's upload at 8 Mbit/s: 4 MiB held by two nodes in $up_ms ms, not ~3,900"
pass "n1's upload limited to 8 Mbit/s: $up_ms ms (4.19 MB at 1 MB/s, a quarter second saved up)"
stop_node n1
stop_node n2

start_pair "" "download_limit_mbps = 8"
project down
down_ms=$(submit_ms down)
[ "$down_ms" -ge 3200 ] && [ "$down_ms" -le 9000 ] ||
  fail "n2's download at 8 Mbit/s: 4 MiB held by two nodes in $down_ms ms, not ~3,900"
pass "n2's download limited to 8 Mbit/s: $down_ms ms"
stop_node n1
stop_node n2

# A slow link longer than the node's wait for a second node (submit_wait_s
# = 2, the copy ~4 s) and than meshctl's waits (1 s): the node's wait
# follows the copy, meshctl asks again while the node answers, and the
# submission is acknowledged.
start_pair "upload_limit_mbps = 8
submit_wait_s = 2" ""
project slow
slow_ms=$(WAIT_MS=1000 submit_ms slow) # meshctl's own waits are shorter still
[ "$slow_ms" -ge 3200 ] || fail "acknowledged in $slow_ms ms: before n2 could hold the project"
pass "a copy (~4 s) longer than submit_wait_s (2 s): acknowledged in $slow_ms ms, the wait following it"
