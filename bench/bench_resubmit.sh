#!/usr/bin/env bash
# Re-submitting a large .blend after a small change sends only the chunks
# around the change (issue 9 benchmark: a 200 MiB .blend, 1 MiB changed
# inside it, at most 2 MiB sent).  One meshd on loopback with the
# synthetic renderer; the "scene" is incompressible random data behind a
# .blend header (meshctl --no-scan: the fake renderer never reads it).  The
# change overwrites CHANGE_MIB at the middle (same length), then inserts
# CHANGE_MIB at a quarter (the file grows): FastCDC's cut points move only
# near each edit.  Prints what each submit sent.
# Usage: bash bench/bench_resubmit.sh [SIZE_MIB] [CHANGE_MIB]   # default 200 1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size_mib=${1:-200}
change_mib=${2:-1}
export RM_BUILD_DIR="$root/build" RM_SOURCE_DIR="$root"
[ "${RM_NO_BUILD:-0}" = 1 ] || bash "$root/tools/build.sh" "$RM_BUILD_DIR" >/dev/null
source "$root/tests/e2e/lib.sh"
export RM_FAKE_FRAME_MS=20 RM_FAKE_START_MS=50

blend="$T/proj/shot.blend"
mkdir -p "$T/proj"
{ printf 'BLENDER-v304RENDERHEAD'; head -c $((size_mib * 1024 * 1024)) /dev/urandom; } >"$blend"

free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
start_node n1 "$port" --slots 1 --blender "$root/tools/fake_blender.py"

sent() { # LABEL: submits the scene, prints what was sent
  local t0 t1
  t0=$(date +%s%N)
  "$MESHCTL" submit "$blend" --frames 1 --no-scan --json >"$T/out.json" || fail "submit: $(cat "$T/out.json")"
  t1=$(date +%s%N)
  python3 - "$1" "$T/out.json" "$(((t1 - t0) / 1000000))" <<'PY'
import json, sys
label, path, ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(path))
print("%-34s %6d of %6d chunks sent, %8.2f MiB, %6d ms" % (
    label, r["chunks_sent"], r["chunks_total"], r["bytes_sent"] / 2**20, ms))
PY
}

sent "first submit ($size_mib MiB)"
sent "same file again"
python3 - "$blend" "$change_mib" <<'PY'
import os, sys
path, mib = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(os.path.getsize(path) // 2)
    f.write(os.urandom(mib * 2**20))
PY
sent "$change_mib MiB overwritten in the middle"
python3 - "$blend" "$change_mib" <<'PY'
import os, sys
path, mib = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
at = len(data) // 4
open(path, "wb").write(data[:at] + os.urandom(mib * 2**20) + data[at:])
PY
sent "$change_mib MiB inserted at a quarter"
stop_node n1
