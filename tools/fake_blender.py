#!/bin/sh
''''exec "$(test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)" "$0" "$@" # '''
# The line above is both shell and Python (in Python, a string literal).
# Why not `#!/usr/bin/env python3`: on machines with pyenv the
# first python3 on PATH is a bash shim that costs ~120 ms per start, more
# than the start-up this script is meant to emulate, so /usr/bin/python3 is
# preferred and PATH's python3 is the fallback.  `exec` keeps the pid, which
# the slot and the "ready" event rely on.
"""fake_blender.py: a synthetic Blender for rendermesh benchmarks and tests.

Use it wherever meshd expects Blender:

    meshd --blender /path/to/tools/fake_blender.py ...

It answers `--version` like Blender, and when started the way a render slot
starts Blender with node/render/blender_driver.py (see rm_blender_args_new
in node/render/rm_blender_args.c):

    fake_blender.py -b --factory-startup [-t N] (--disable-autoexec |
        --enable-autoexec) FILE.blend --python-exit-code 2 --python DRIVER -- \
        --result-fd 3 --blend FILE.blend --settings JSON (--serve | --frames 1,2)

it does NOT run DRIVER: it emulates the driver's protocol itself (JSON lines
on --result-fd, commands on stdin in --serve mode; see blender_driver.py) so
that nodes cost almost nothing but sleep time.  Each frame sleeps a fixed
time, prints Cycles-like progress lines on stdout, and writes a real, tiny
PNG whose pixels depend on the frame number (so outputs of different frames
hash differently, as real renders do) at out_dir/frame_####.EXT.

Environment (all optional):
    RM_FAKE_FRAME_MS     render time per frame in ms (default 100)
    RM_FAKE_JITTER_MS    adds 0..J ms per frame, reproducible per frame (0)
    RM_FAKE_START_MS     start-up time before "ready" in ms (default 50)
    RM_FAKE_PNG_PAD      pad each PNG with this many bytes in a private
                         ancillary chunk, for realistic output sizes (0)
    RM_FAKE_FAIL_FRAMES  comma-separated frames reported "failed"
    RM_FAKE_CRASH_FRAMES comma-separated frames on which the process dies of
                         SIGSEGV, as a crashing Blender would
    RM_FAKE_CAPS         what it answers meshd's capability query (e.g.
                         "denoise"); default: nothing
    RM_FAKE_GPUS         GPU devices it pretends to have, e.g. "CUDA:2,OPTIX:2";
                         without it any GPU device is a "node" fatal, as on a
                         machine without GPUs
    RM_FAKE_PASSES       comma-separated pass names (e.g. "normal,depth"): each
                         frame is written, as the real driver writes it, into
                         a folder of its own, out_dir/FRAME/, the image plus
                         passes/NAME_####.exr per pass (as File Output
                         nodes would), and reported with "dir" and "files";
                         default: the image alone, in out_dir
    RM_FAKE_GATE         a directory through which a test sets the pace: a
                         rendered frame is written and reported only once
                         GATE/open exists, or after it took a token (renamed
                         a file GATE/token.* away: one token, one frame);
                         until then it stays "rendering".  See
                         tests/e2e/mesh_lib.sh (mesh_gate_*).
    RM_DRIVER_FORCE_ONESHOT  as for the real driver: "1" makes --serve exit 1
                         before "ready", "hang" makes it hang

What it checks like the real pair (Blender + driver) does, so that failure
paths can be exercised too: the .blend must exist and start with a Blender,
gzip or zstd magic (else an "Error: ..." line on stdout and a "job" fatal);
the scene must be "" or "Scene", the camera "" or "Camera"; engine, device
and format must be known names.  The scene's range is always 1-250; that
is also what `--python-expr` answers when it is meshctl's RM_RANGE query,
and what its emulation of meshctl's scan (tools/scan_blend.py: no
dependencies, no denoising) reports (MESH_BLENDER=fake_blender.py meshctl
submit).

Only the Python standard library is used.
"""

import json
import os
import random
import resource
import shutil
import signal
import struct
import sys
import time
import zlib

VERSION = "3.4.1"
VERSION_LINE = "Blender %s (fake: rendermesh synthetic renderer)" % VERSION
SCENE = "Scene"
CAMERA = "Camera"
FRAME_RANGE = (1, 250)
DEFAULT_SAMPLES = 16

ENGINES = ("CYCLES", "BLENDER_EEVEE", "BLENDER_WORKBENCH")
# Blender's own extensions for these formats (render.use_file_extension).
EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "OPEN_EXR": ".exr", "TIFF": ".tif"}
GPU_TYPES = ("CUDA", "OPTIX", "HIP", "METAL", "ONEAPI")
BLEND_MAGICS = (b"BLENDER", b"\x1f\x8b", b"\x28\xb5\x2f\xfd")


class Fatal(Exception):
    """No frame of the job can render with these inputs (as in the driver)."""

    def __init__(self, reason, scope="job"):
        super().__init__(reason)
        self.scope = scope


class Usage(Exception):
    """An argument this fake does not understand: fail loudly, never guess."""


def env_ms(name, default):
    try:
        return max(0, int(os.environ.get(name, default)))
    except ValueError:
        return default


def env_frames(name):
    text = os.environ.get(name, "")
    return {int(f) for f in text.split(",") if f.strip().lstrip("-").isdigit()}


def say(text):
    """Blender's stdout goes to a pipe that the slot parses for progress and
    "Error:" lines: every line must arrive at once."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------
# Arguments


def parse_blender_args(argv):
    """Blender's own options, up to "--"; what follows belongs to the script."""
    opts = {"version": False, "background": False, "blend": None, "python": None,
            "python_expr": None, "threads": 0, "script_args": []}
    takes_value = {"-t", "--threads", "--python-exit-code", "--python", "-P",
                   "--python-expr"}
    flags = {"-b", "--background", "--factory-startup", "--disable-autoexec",
             "-Y", "--enable-autoexec", "-y", "-noaudio", "--debug-exit-on-error"}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            opts["script_args"] = argv[i + 1:]
            break
        if a in ("--version", "-v"):
            opts["version"] = True
        elif a in flags:
            opts["background"] |= a in ("-b", "--background")
        elif a in takes_value:
            if i + 1 >= len(argv):
                raise Usage("option %s needs a value" % a)
            value = argv[i + 1]
            if a in ("-t", "--threads"):
                opts["threads"] = int(value)
            elif a in ("--python", "-P"):
                opts["python"] = value
            elif a == "--python-expr":
                opts["python_expr"] = value
            i += 1
        elif not a.startswith("-") and opts["blend"] is None:
            opts["blend"] = a
        else:
            raise Usage("unsupported argument %r" % a)
        i += 1
    return opts


def parse_driver_args(argv):
    """The driver's options, exactly as blender_driver.py parses them."""
    args = {"result_fd": None, "blend": None, "settings": "{}", "serve": False,
            "frames": None}
    i = 0
    while i < len(argv):
        opt = argv[i]
        if opt == "--serve":
            args["serve"] = True
            i += 1
            continue
        if i + 1 >= len(argv):
            raise Fatal("driver: option %s needs a value" % opt, "node")
        value = argv[i + 1]
        if opt == "--result-fd":
            args["result_fd"] = int(value)
        elif opt == "--blend":
            args["blend"] = value
        elif opt == "--settings":
            args["settings"] = value
        elif opt == "--frames":
            args["frames"] = [int(f) for f in value.split(",") if f.strip()]
        else:
            raise Fatal("driver: unknown option %s" % opt, "node")
        i += 2
    if args["result_fd"] is None:
        raise Fatal("driver: --result-fd is required", "node")
    if not args["serve"] and not args["frames"]:
        raise Fatal("driver: give --serve or --frames", "node")
    return args


# --------------------------------------------------------------------------
# The emulated scene


def check_blend(path):
    """Blender prints an "Error:" line naming the file when it cannot read it
    (the slot takes the reason from it), then the driver finds the default
    scene loaded instead and gives up: both are emulated."""
    if path is None:
        return
    try:
        with open(path, "rb") as f:
            head = f.read(7)
    except OSError as exc:
        say("Error: Cannot read file '%s': %s" % (path, exc.strerror))
        raise Fatal("cannot read %s: %s" % (
            path, "not a readable .blend" if os.path.exists(path) else "no such file"))
    if not head.startswith(BLEND_MAGICS):
        say("Error: File format is not supported in file '%s'" % path)
        raise Fatal("cannot read %s: not a readable .blend" % path)
    say("Read blend: \"%s\"" % path)


def fake_gpus():
    """{"CUDA": 2, ...} from RM_FAKE_GPUS="CUDA:2,OPTIX:2"."""
    gpus = {}
    for item in os.environ.get("RM_FAKE_GPUS", "").split(","):
        kind, _, count = item.strip().partition(":")
        if kind:
            gpus[kind.upper()] = int(count) if count.isdigit() else 1
    return gpus


def apply_settings(settings):
    """Validates settings like the driver's apply_settings; returns what the
    renderer needs (extension and samples)."""
    scene = settings.get("scene") or ""
    if scene and scene != SCENE:
        raise Fatal('no scene "%s" in the file; scenes: "%s"' % (scene, SCENE))
    camera = settings.get("camera") or ""
    if camera and camera != CAMERA:
        raise Fatal('camera "%s" does not exist in scene "%s"; cameras: "%s"'
                    % (camera, SCENE, CAMERA))
    engine = (settings.get("engine") or "CYCLES").upper()
    if engine not in ENGINES:
        raise Fatal("unknown engine %s (%s)" % (engine, ", ".join(ENGINES)))
    device = (settings.get("device") or "CPU").upper()
    if engine == "CYCLES" and device != "CPU":
        if device not in GPU_TYPES:
            raise Fatal("unknown device %s (CPU, %s)" % (device, ", ".join(GPU_TYPES)))
        count = fake_gpus().get(device, 0)
        if not count:
            raise Fatal("no %s device found by Blender's Cycles" % device, "node")
        index = settings.get("gpu_index")
        if index is not None and index >= 0 and index >= count:
            raise Fatal("%s device %d not found (%d present)" % (device, index, count), "node")
        say("rendermesh driver: rendering on fake %s device(s)" % device)
    fmt = (settings.get("format") or "PNG").upper()
    if fmt not in EXTENSIONS:
        raise Fatal("unknown format %s (%s)" % (fmt, ", ".join(EXTENSIONS)))
    for key in ("samples", "percent", "res_x", "res_y"):
        int(settings.get(key) or 0)  # a bad number is a "bad setting" fatal
    return {"ext": EXTENSIONS[fmt], "samples": int(settings.get("samples") or 0)
            or DEFAULT_SAMPLES}


# --------------------------------------------------------------------------
# Output


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def frame_png(frame, pad=0):
    """An 8x8 RGB PNG: the frame number's 24 low bits pick the base colour,
    so every frame below 2^24 gets different bytes."""
    size = 8
    r, g, b = frame & 0xFF, (frame >> 8) & 0xFF, (frame >> 16) & 0xFF
    rows = b""
    for y in range(size):
        row = bytearray([0])  # filter type: none
        for x in range(size):
            row += bytes(((r + 16 * x) & 0xFF, (g + 16 * y) & 0xFF, (b + 8 * (x ^ y)) & 0xFF))
        rows += bytes(row)
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    chunks = [png_chunk(b"IHDR", ihdr), png_chunk(b"IDAT", zlib.compress(rows, 9))]
    if pad > 0:
        # rmPd: lower-case first letter = ancillary, so decoders skip it.
        chunks.append(png_chunk(b"rmPd", random.Random(frame).randbytes(pad)))
    chunks.append(png_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def clock(ms):
    """Blender's "MM:SS.hh"."""
    return "%02d:%02d.%02d" % (ms // 60000, ms // 1000 % 60, ms // 10 % 100)


class Reporter:
    def __init__(self, fd):
        self.fd = fd

    def emit(self, **event):
        data = (json.dumps(event) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]


def pass_gate(frame):
    """RM_FAKE_GATE: waits until the test lets this frame finish."""
    gate = os.environ.get("RM_FAKE_GATE", "")
    if not gate:
        return
    while not os.path.exists(os.path.join(gate, "open")):
        try:
            tokens = sorted(n for n in os.listdir(gate) if n.startswith("token."))
        except OSError:
            tokens = []
        for name in tokens:
            try:  # rename is atomic: of two takers, one gets the token
                os.rename(os.path.join(gate, name),
                          os.path.join(gate, "used.%s.%d.%d" % (name[6:], os.getpid(), frame)))
                return
            except OSError:
                continue
        time.sleep(0.05)


class Renderer:
    def __init__(self, reporter, out_dir, ext, samples):
        self.reporter = reporter
        self.out_dir = out_dir
        self.ext = ext
        self.samples = samples
        self.frame_ms = env_ms("RM_FAKE_FRAME_MS", 100)
        self.jitter_ms = env_ms("RM_FAKE_JITTER_MS", 0)
        self.pad = env_ms("RM_FAKE_PNG_PAD", 0)
        self.fail = env_frames("RM_FAKE_FAIL_FRAMES")
        self.crash = env_frames("RM_FAKE_CRASH_FRAMES")
        self.passes = [p.strip() for p in os.environ.get("RM_FAKE_PASSES", "").split(",")
                       if p.strip()]

    def output_path(self, frame):
        # Without out_dir the file's own output path; the factory default is "/tmp/".
        name = ("frame_%04d" if self.out_dir else "%04d") % frame + self.ext
        return os.path.abspath(os.path.join(self.out_dir or "/tmp", name))

    def sleep_with_progress(self, frame, total_ms):
        """About 4 Cycles-like lines per frame: the slot reads "Sample k/N"
        and Time/Remaining from them for progress and ETA."""
        prefix = "Fra:%d Mem:10.05M (Peak 10.43M) | Time:%s | %sMem:0.91M, Peak:0.91M" \
                 " | %s, ViewLayer | %s"
        start = time.monotonic()
        steps = min(4, self.samples)
        say(prefix % (frame, clock(0), "", SCENE, "Sample 0/%d" % self.samples))
        for k in range(1, steps + 1):
            target = start + total_ms * k / steps / 1000.0
            time.sleep(max(0.0, target - time.monotonic()))
            elapsed = int((time.monotonic() - start) * 1000)
            sample = self.samples * k // steps
            remaining = "Remaining:%s | " % clock(max(0, total_ms - elapsed)) \
                if k < steps else ""
            say(prefix % (frame, clock(elapsed), remaining, SCENE,
                          "Sample %d/%d" % (sample, self.samples)))
        say(prefix % (frame, clock(int((time.monotonic() - start) * 1000)), "", SCENE,
                      "Finished"))

    def render(self, frame, out_dir=None):
        try:
            if out_dir and out_dir != self.out_dir:
                os.makedirs(out_dir, exist_ok=True)
                self.out_dir = out_dir
            folder = ""
            if self.passes and self.out_dir:
                # As the driver's frame_dir: a fresh folder per frame.
                folder = os.path.join(self.out_dir, str(frame))
                if os.path.isdir(folder) and not os.path.islink(folder):
                    shutil.rmtree(folder)
                os.makedirs(os.path.join(folder, "passes"))
                path = os.path.join(folder, "frame_%04d%s" % (frame, self.ext))
            else:
                path = self.output_path(frame)
            if os.path.exists(path):
                os.unlink(path)  # as the driver: a stale file must not pass
            start = time.monotonic()
            total_ms = self.frame_ms + random.Random(frame).randint(0, self.jitter_ms)
            self.sleep_with_progress(frame, total_ms)
            pass_gate(frame)
            if frame in self.crash:
                say("Writing: /tmp/blender.crash.txt")
                # No core file in the project dir for a crash on purpose.
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
                os.kill(os.getpid(), signal.SIGSEGV)
            if frame in self.fail:
                raise RuntimeError("fake: frame %d fails (RM_FAKE_FAIL_FRAMES)" % frame)
            with open(path, "wb") as f:
                f.write(frame_png(frame, self.pad))
            files = [os.path.basename(path)]
            for name in self.passes if folder else []:
                rel = os.path.join("passes", "%s_%04d.exr" % (name, frame))
                with open(os.path.join(folder, rel), "wb") as f:
                    f.write(("fake %s pass of frame %d\n" % (name, frame)).encode())
                files.append(rel)
            render_ms = int((time.monotonic() - start) * 1000)
            say("Saved: '%s'" % path)
            say(" Time: %s (Saving: 00:00.00)" % clock(render_ms))
        except Exception as exc:  # one bad frame must not end the process
            reason = str(exc).strip() or exc.__class__.__name__
            self.reporter.emit(event="failed", frame=frame, reason=reason)
            return
        if folder:
            self.reporter.emit(event="done", frame=frame, file=path, render_ms=render_ms,
                               dir=folder, files="\n".join(sorted(files)))
        else:
            self.reporter.emit(event="done", frame=frame, file=path, render_ms=render_ms)


def serve(renderer):
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            name = cmd.get("cmd")
        except (ValueError, AttributeError):
            print("rendermesh driver: ignoring bad command %r" % line[:200], file=sys.stderr)
            continue
        if name == "quit":
            return
        if name == "render" and isinstance(cmd.get("frame"), int):
            renderer.render(cmd["frame"], cmd.get("out_dir"))
        else:
            print("rendermesh driver: ignoring command %r" % line[:200], file=sys.stderr)


# --------------------------------------------------------------------------
# Process


def die_with_node():
    """As the driver: a meshd killed with SIGKILL must not leave us behind."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1 and not os.environ.get("RM_SANDBOXED"):
        os._exit(1)


def forced_failure():
    mode = os.environ.get("RM_DRIVER_FORCE_ONESHOT", "")
    if mode == "hang":
        while True:
            time.sleep(3600)
    if mode:
        print("rendermesh driver: RM_DRIVER_FORCE_ONESHOT set, cannot serve", file=sys.stderr)
        sys.exit(1)


def run_driver(opts):
    die_with_node()
    reporter = Reporter(2)
    try:
        args = parse_driver_args(opts["script_args"])
        reporter = Reporter(args["result_fd"])
        time.sleep(env_ms("RM_FAKE_START_MS", 50) / 1000.0)
        check_blend(args["blend"] or opts["blend"])
        try:
            settings = json.loads(args["settings"])
        except ValueError as exc:
            raise Fatal("driver: bad --settings: %s" % exc, "node")
        scene = apply_settings(settings)
        out_dir = settings.get("out_dir") or ""
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
        if args["serve"]:
            forced_failure()
        reporter.emit(event="ready", blender=VERSION, scene=SCENE, frames=list(FRAME_RANGE),
                      pid=os.getpid(), tempdir=os.environ.get("TMPDIR", "/tmp") + "/")
    except Fatal as exc:
        reporter.emit(event="fatal", reason=str(exc), scope=exc.scope)
        return 3
    except (ValueError, TypeError, AttributeError) as exc:
        reporter.emit(event="fatal", reason="bad setting: %s" % exc, scope="job")
        return 3
    renderer = Renderer(reporter, out_dir, scene["ext"], scene["samples"])
    if args["serve"]:
        serve(renderer)
    else:
        for frame in args["frames"]:
            renderer.render(frame)
    return 0


def scan(opts):
    """meshctl submit's scan (tools/scan_blend.py): the fake scene has the
    range 1-250, one scene "Scene", no denoising and no dependencies."""
    args = opts["script_args"]
    if not args:
        print("fake_blender: scan_blend.py needs OUTFILE", file=sys.stderr)
        return 2
    try:
        check_blend(opts["blend"])
    except Fatal:
        return 2
    lines = ["blend\t%s" % os.path.abspath(opts["blend"]),
             "range\t%d\t%d\t1" % FRAME_RANGE, "denoise\t0"]
    if len(args) > 1 and args[1] not in ("", "Scene"):
        lines.append("noscene\tScene")
    with open(args[0], "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


def main(argv):
    try:
        opts = parse_blender_args(argv)
    except (Usage, ValueError) as exc:
        print("fake_blender: %s" % exc, file=sys.stderr)
        return 1
    if opts["version"]:
        say(VERSION_LINE)
        say("\tbuild type: fake (tools/fake_blender.py)")
        return 0
    say("%s" % VERSION_LINE)
    if opts["python_expr"] is not None and "RM_CAPS" in opts["python_expr"]:
        # meshd asks what this Blender can do (rm_blender_probe_caps).
        say("RM_CAPS %s" % os.environ.get("RM_FAKE_CAPS", ""))
        return 0
    if opts["python_expr"] is not None:
        # meshctl submit without --frames reads the scene's range this way
        # (tools/rm_submit.c scene_range); any other expression is refused.
        if "RM_RANGE" not in opts["python_expr"]:
            print("fake_blender: only meshctl's RM_RANGE --python-expr is emulated",
                  file=sys.stderr)
            return 1
        check_blend(opts["blend"])
        say("RM_RANGE %d %d 1" % FRAME_RANGE)
        return 0
    if opts["python"] is not None and os.path.basename(opts["python"]) == "scan_blend.py":
        return scan(opts)
    if opts["python"] is None:
        print("fake_blender: only runs as a render slot's Blender (--python DRIVER -- ...)",
              file=sys.stderr)
        return 1
    rc = run_driver(opts)
    say("\nBlender quit")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
