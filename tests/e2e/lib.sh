# Shared helpers of the end-to-end tests: real meshd processes on real
# sockets, real meshctl, real Blender.  Sourced by tests/e2e/test_*.sh.
set -euo pipefail

: "${RM_BUILD_DIR:?run through ctest, or set RM_BUILD_DIR}"
: "${RM_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
MESHCTL="$RM_BUILD_DIR/tools/meshctl"
MESHD="$RM_BUILD_DIR/node/meshd"
T=$(mktemp -d /tmp/rm-e2e.XXXXXX)
export MESH_HOME="$T/client"
export MESH_TIMEOUT_MS=${MESH_TIMEOUT_MS:-3000}
declare -A NODE_PID=()
# A command start_node puts before meshd (it must exec meshd, keeping its pid).
NODE_WRAP=()

cleanup() {
  local rc=$?
  for name in "${!NODE_PID[@]}"; do
    kill -KILL "${NODE_PID[$name]}" 2>/dev/null || true
  done
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    for log in "$T"/*.log; do
      [ -f "$log" ] && { echo "---- $log (tail)"; tail -n 40 "$log"; }
    done
  fi
  mountpoint -q "$T/full" 2>/dev/null && umount "$T/full"
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

pass() {
  echo "ok: $*"
}

# skip REASON: this test cannot run here.  Exit status 77 is ctest's
# SKIP_RETURN_CODE (tests/CMakeLists.txt): reported as skipped, never passed.
# On stderr too: from inside $(...) stdout would be lost.
skip() {
  echo "skipped: $*" >&2
  exit 77
}

need_root() {
  [ "$(id -u)" = 0 ] || skip "needs root${1:+ ($1)}"
}

need_blender() {
  command -v blender >/dev/null 2>&1 || skip "needs Blender on PATH"
}

# free_port VAR: sets VAR to a port P such that P and P+1 (the door) are
# below the ephemeral range, free to bind now, and held by no other test on
# this machine: this shell keeps a lock on each (flock on
# /tmp/rm-test-ports/PORT.lock, as the unit tests' rm_test_ports) until it
# exits, so two test runs at once never pick the same port.
free_port() {
  local _fp_var=$1 _fp_p _fp_a _fp_b
  mkdir -p /tmp/rm-test-ports && chmod 1777 /tmp/rm-test-ports 2>/dev/null || true
  for _ in $(seq 1 200); do
    _fp_p=$((20000 + RANDOM % 12000))
    exec {_fp_a}>>"/tmp/rm-test-ports/$_fp_p.lock" {_fp_b}>>"/tmp/rm-test-ports/$((_fp_p + 1)).lock"
    if flock -n "$_fp_a" && flock -n "$_fp_b" && python3 -c '
import socket, sys
for q in sys.argv[1:]:
    s = socket.socket(); s.bind(("127.0.0.1", int(q))); s.close()' "$_fp_p" $((_fp_p + 1)) 2>/dev/null; then
      printf -v "$_fp_var" %s "$_fp_p"
      return 0
    fi
    exec {_fp_a}>&- {_fp_b}>&-
  done
  fail "no free pair of ports in 200 tries"
}

# The test scene: 24 frames, tiny and fast, generated once per build dir.
sample_scene() {
  local dir="$RM_BUILD_DIR/test-scene"
  need_blender
  if [ ! -f "$dir/scene.blend" ]; then
    mkdir -p "$dir"
    blender -b --factory-startup --python "$RM_SOURCE_DIR/tools/make_sample_scene.py" -- \
      "$dir/scene.tmp.blend" --frames 24 --res 64x36 --samples 2 >"$dir/make.log" 2>&1 ||
      fail "cannot generate the sample scene (see $dir/make.log)"
    mv "$dir/scene.tmp.blend" "$dir/scene.blend"
  fi
  echo "$dir/scene.blend"
}

# textured_project DIR FRAMES: DIR/shot.blend (64x36, 2 samples) whose
# floor is textured by //textures/green.png, a 16x16 PNG written here.
textured_project() {
  local dir=$1 frames=$2
  need_blender
  mkdir -p "$dir/textures"
  python3 - "$dir/textures/green.png" <<'PY'
import struct, sys, zlib
w = h = 16
raw = b"".join(b"\x00" + b"\x10\xe0\x10" * w for _ in range(h))
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
PY
  blender -b --factory-startup --python "$RM_SOURCE_DIR/tools/make_sample_scene.py" -- \
    "$dir/shot.blend" --frames "$frames" --res 64x36 --samples 2 \
    --texture "$dir/textures/green.png" >"$dir.make.log" 2>&1 ||
    fail "cannot make the textured scene (see $dir.make.log)"
}

mesh_init() {
  "$MESHCTL" init --name tester >/dev/null
}

# no_sandbox NAME: node NAME runs Blender without its sandbox (meshd.conf
# sandbox = false).  For tests whose fake renderer writes to the test's own
# folders (the RM_FAKE_GATE tokens), which a sandboxed Blender cannot.
no_sandbox() {
  mkdir -p "$T/$1"
  echo "sandbox = false" >>"$T/$1/meshd.conf"
}

# start_node NAME PORT [meshd flags...]: starts a node and waits for its door.
start_node() {
  local name=$1 port=$2
  shift 2
  if [ ! -f "$T/$name/identity.token" ]; then
    "$MESHCTL" invite --role node --name "$name" >"$T/$name.token"
  fi
  mkdir -p "$T/$name"
  local token_args=()
  [ -f "$T/$name.token" ] && token_args=(--token "$T/$name.token")
  "${NODE_WRAP[@]}" "$MESHD" --home "$T/$name" "${token_args[@]}" --listen "tcp://127.0.0.1:$port" "$@" \
    >>"$T/$name.log" 2>&1 &
  NODE_PID[$name]=$!
  rm -f "$T/$name.token.used"
  local i
  # A node answers once it has asked its Blender what it is and can do:
  # seconds on a loaded machine.
  for i in $(seq 1 600); do
    if MESH_TIMEOUT_MS=500 "$MESHCTL" --mesh "tcp://127.0.0.1:$port" status >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "${NODE_PID[$name]}" 2>/dev/null || fail "meshd $name exited at start"
    sleep 0.1
  done
  fail "meshd $name did not answer within 60 s"
}

# stop_node NAME: SIGTERM, and the node must exit cleanly (status 0; under
# the sanitizers a leak or an error would make it non-zero).
stop_node() {
  local name=$1 rc=0
  kill -TERM "${NODE_PID[$name]}"
  wait "${NODE_PID[$name]}" || rc=$?
  unset "NODE_PID[$name]"
  [ $rc -eq 0 ] || fail "meshd $name exited with status $rc after SIGTERM"
}

kill_node() {
  local name=$1
  kill -KILL "${NODE_PID[$name]}"
  wait "${NODE_PID[$name]}" 2>/dev/null || true
  unset "NODE_PID[$name]"
}

# json FIELD < json: prints a top-level field of meshctl's --json output.
json() {
  python3 -c 'import json,sys; v=json.load(sys.stdin); print(v[sys.argv[1]] if not isinstance(v[sys.argv[1]],(dict,list)) else json.dumps(v[sys.argv[1]]))' "$1"
}

is_png() {
  [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]
}
