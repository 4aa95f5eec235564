#!/usr/bin/env bash
# tools/fake_blender.py stands in for Blender: a real meshd probes it, keeps
# it alive as a slot's Blender and renders 100 frames of the sample scene
# through it; 100 distinct, valid PNGs come back to meshctl.  This
# guards the fake against drifting from the slot <-> driver contract, which
# the benchmarks with many light nodes rely on.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

FAKE="$RM_SOURCE_DIR/tools/fake_blender.py"
FRAMES=100
SLOTS=2
export RM_FAKE_FRAME_MS=20 RM_FAKE_START_MS=50

# The fake never reads the scene, but meshctl checks the magic and ships
# the file: the real sample scene when Blender is here to make it, else a
# file with a .blend header (enough for the fake, and keeps this test
# independent of Blender).
if command -v blender >/dev/null 2>&1; then
  scene=$(sample_scene)
else
  scene="$T/scene.blend"
  printf 'BLENDER-v304RENDERHEAD-not-a-real-scene' >"$scene"
fi

[ -x "$FAKE" ] || fail "$FAKE is not executable"
version=$("$FAKE" --version) || fail "fake --version failed"
[ "${version%%$'\n'*}" = "Blender 3.4.1 (fake: rendermesh synthetic renderer)" ] ||
  fail "fake --version: $version"

free_port port
export MESH_ADDR="tcp://127.0.0.1:$port"
mesh_init
start_node n1 "$port" --slots "$SLOTS" --blender "$FAKE"
status=$("$MESHCTL" status --json)
[[ "$(echo "$status" | json blender)" == *"fake: rendermesh synthetic renderer"* ]] ||
  fail "status does not show the fake Blender: $status"
pass "meshd probes the fake as Blender 3.4.1"

start=$(date +%s%N)
"$MESHCTL" submit "$scene" --frames "1-$FRAMES" --out "$T/out" >"$T/submit.out" 2>&1 ||
  fail "submit --out: $(cat "$T/submit.out")"
ms=$((($(date +%s%N) - start) / 1000000))

python3 - "$T/out" "$FRAMES" <<'PY' || fail "outputs are wrong (see above)"
import os, struct, sys, zlib
out, n = sys.argv[1], int(sys.argv[2])
names = sorted(os.listdir(out))
want = ["frame_%04d.png" % f for f in range(1, n + 1)]
assert names == want, "expected frame_0001..%04d.png, got %d files: %s" % (n, len(names), names[:5])
seen = set()
for name in names:
    data = open(os.path.join(out, name), "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", name + ": no PNG signature"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):  # every chunk's CRC, then the pixels inflate
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, "%s: bad CRC in %s" % (name, kind)
        ihdr = body if kind == b"IHDR" else ihdr
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    w, h = struct.unpack(">II", ihdr[:8])
    assert len(zlib.decompress(idat)) == h * (1 + 3 * w), name + ": bad pixel data"
    seen.add(data)
assert len(seen) == n, "frames are not distinct: %d different files" % len(seen)
PY
pass "$FRAMES valid, distinct PNGs named frame_####.png in ${ms} ms"

# Kept alive: one Blender per slot for the whole job, no one-shot fallback.
starts=$(grep -c "started Blender pid" "$T/n1.log" || true)
if [ "$starts" -lt 1 ] || [ "$starts" -gt "$SLOTS" ]; then
  fail "expected 1..$SLOTS Blender starts, saw $starts: $(grep "started Blender" "$T/n1.log")"
fi
if grep -q "one-shot" "$T/n1.log"; then
  fail "the slot fell back to one-shot mode"
fi
pass "$starts kept-alive fake Blender(s) rendered the job"

# (How fast is reported, not asserted: speed targets live in bench/.)
stop_node n1
pass "node stopped cleanly"
