#!/usr/bin/env bash
# Blender runs in a sandbox (node/render/rm_sandbox.h).  A hostile .blend
# (tests/e2e/make_sandbox_scene.py), submitted with --allow-scripts to a
# node that allows scripts, tries before each frame to read the node's
# token, write a file outside its output folder, point a File Output node
# at an absolute path, and connect to a socket on the host: each attempt
# fails, and its frames still render, equal to plain Blender's pixel for
# pixel.  The same job on a node with `sandbox = false` succeeds at every
# attempt (the attacks are real).  A node that should sandbox and cannot
# (no bwrap) renders nothing and says why.
source "$(dirname "$0")/lib.sh"
need_blender
command -v bwrap >/dev/null || skip "bwrap (Debian package bubblewrap) not installed"
bwrap --unshare-all --ro-bind / / true 2>/dev/null || skip "bwrap cannot make namespaces here"

outside="$T/outside"
mkdir -p "$outside"
free_port lport
# A listener on the host that notes every connection it gets.  Killed with
# the nodes at exit; its output goes to a file so that it holds no pipe of
# the test's.
python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    open(sys.argv[2], "a").write("connected\n")
    c.close()' "$lport" "$T/connected" >"$T/listener.out" 2>&1 &
NODE_PID[listener]=$!

# make_scene NODE: the hostile scene, aimed at NODE's token.
make_scene() {
  mkdir -p "$T/proj_$1"
  blender -b --factory-startup --python "$RM_SOURCE_DIR/tests/e2e/make_sandbox_scene.py" -- \
    "$T/proj_$1/scene.blend" "$T/$1/identity.token" "$outside" "$lport" >"$T/make_$1.out" 2>&1 ||
    fail "cannot make the scene: $(tail "$T/make_$1.out")"
}

# render_on NODE PORT: submits the scene with scripts allowed, waits and
# fetches into $T/got_NODE; sets job.
render_on() {
  local out
  out=$("$MESHCTL" --mesh "tcp://127.0.0.1:$2" submit "$T/proj_$1/scene.blend" --frames 1-2 \
    --allow-scripts --json) || fail "submit to $1: $out"
  job=$(echo "$out" | json job_id)
  "$MESHCTL" --mesh "tcp://127.0.0.1:$2" wait "$job" >"$T/wait_$1.out" ||
    fail "wait on $1: $(cat "$T/wait_$1.out")"
  "$MESHCTL" --mesh "tcp://127.0.0.1:$2" fetch "$job" "$T/got_$1" >/dev/null || fail "fetch from $1"
  "$MESHCTL" --mesh "tcp://127.0.0.1:$2" logs "$job" 1 >"$T/frame1_$1.log" || fail "logs from $1"
}

free_port p1
free_port p2
free_port p3
mesh_init

# --- the sandboxed node ---------------------------------------------------
mkdir -p "$T/n1"
echo "allow_scripts = true" >"$T/n1/meshd.conf"
start_node n1 "$p1" --slots 1
secret=$(sed -n 2p "$T/n1/identity.token")
[ ${#secret} -gt 40 ] || fail "no token in $T/n1/identity.token"
make_scene n1
render_on n1 "$p1"
log="$T/frame1_n1.log"
for what in token write socket; do
  grep -q "ATTACK $what: refused" "$log" ||
    fail "the $what attempt was not refused in the sandbox: $(grep ATTACK "$log")"
done
grep -qF "${secret:0:40}" "$log" && fail "the frame log holds the node's token"
[ ! -e "$outside/escaped.txt" ] || fail "a sandboxed script wrote $outside/escaped.txt"
[ -z "$(ls -A "$outside")" ] || fail "a sandboxed Blender wrote outside: $(find "$outside")"
[ ! -e "$T/connected" ] || fail "a sandboxed script reached the host's listener"
pass "in the sandbox: token unreadable, nothing written outside, no connection"

# The frames rendered anyway, as plain Blender renders them.
mkdir -p "$T/ref"
cp "$T/proj_n1/scene.blend" "$T/ref/"
for f in 1 2; do
  n=$(printf %04d $f)
  [ -f "$T/got_n1/frame_$n.png" ] || fail "frame $f did not come back: $(ls "$T/got_n1")"
  (cd "$T/ref" && blender -b scene.blend -o "//ref_####" -f $f >>"$T/ref.out" 2>&1) ||
    fail "plain Blender: $(tail "$T/ref.out")"
  python3 "$RM_SOURCE_DIR/tests/e2e/pngdiff.py" "$T/got_n1/frame_$n.png" "$T/ref/ref_$n.png" \
    >"$T/diff.out" || fail "frame $f differs from plain Blender's: $(cat "$T/diff.out")"
done
pass "both frames rendered, equal to plain Blender's pixel for pixel"
stop_node n1

# --- the same attack without the sandbox succeeds ---------------------------
mkdir -p "$T/n2"
printf 'allow_scripts = true\nsandbox = false\n' >"$T/n2/meshd.conf"
start_node n2 "$p2" --slots 1
"$MESHCTL" --mesh "tcp://127.0.0.1:$p2" nodes | grep -q "no sandbox" ||
  fail "meshctl nodes does not say the node has no sandbox: $("$MESHCTL" --mesh "tcp://127.0.0.1:$p2" nodes)"
make_scene n2
render_on n2 "$p2"
log="$T/frame1_n2.log"
for what in token write socket; do
  grep -q "ATTACK $what: done" "$log" ||
    fail "without the sandbox the $what attempt should succeed: $(grep ATTACK "$log")"
done
[ -f "$outside/escaped.txt" ] && [ -s "$T/connected" ] ||
  fail "without the sandbox the script should write and connect"
[ -n "$(find "$outside/file_output" -type f 2>/dev/null)" ] ||
  fail "without the sandbox the File Output node should write to $outside/file_output"
pass "with sandbox = false the same attacks succeed (the test's attacks are real)"
stop_node n2

# --- fail closed: no bwrap, no rendering --------------------------------------
NODE_WRAP=(env PATH=/nonexistent)
start_node n3 "$p3" --slots 1 --blender "$(command -v blender)"
NODE_WRAP=()
"$MESHCTL" --mesh "tcp://127.0.0.1:$p3" nodes --json >"$T/nodes3.json"
python3 - "$T/nodes3.json" <<'PY' || fail "a node without bwrap: $(cat "$T/nodes3.json")"
import json, sys
me = json.load(open(sys.argv[1]))["nodes"][0]
assert not me["blender_ok"], me
assert "cannot run Blender in a sandbox" in me["blender"] and "bwrap" in me["blender"], me
PY
grep -q "will not render: cannot run Blender in a sandbox" "$T/n3.log" ||
  fail "n3's log does not say why it will not render"
pass "a node that cannot sandbox renders nothing and says why"
stop_node n3
