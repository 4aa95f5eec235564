"""rendermesh's Blender driver: renders frames inside a kept-alive Blender.

Run by a render slot (node/rm_blender.c) as

    blender -b --factory-startup (--disable-autoexec | --enable-autoexec) FILE.blend \
        --python-exit-code 2 --python blender_driver.py -- \
        --result-fd N --blend FILE.blend --settings JSON (--serve | --frames 1,2,3)

The driver is passed with --python, so it runs even when the file's own
scripts stay off.  It reports on the file descriptor --result-fd, one JSON
object per line, flushed at once; everything Blender prints goes to
stdout/stderr, which the slot appends to the task's log:

    {"event":"ready","blender":"3.4.1","scene":"Scene","frames":[1,24],
     "pid":123,"tempdir":"/tmp/blender_x/"}
    {"event":"done","frame":N,"file":"/out/frame_0001.png","render_ms":250}
    {"event":"failed","frame":N,"reason":"..."}
    {"event":"fatal","reason":"...","scope":"job"|"node"}   then exit 3

"fatal" means no frame of this job can render here: scope "job" when the job
itself is broken (unreadable file, no such scene or camera, bad setting),
"node" when this machine lacks something (no GPU of the requested type).

--serve reads commands on stdin, one JSON object per line:
    {"cmd":"render","frame":N[,"out_dir":"/dir"]}     {"cmd":"quit"}
and exits at "quit" or end of input.  --frames renders the listed frames and
exits: the one-process-per-task fallback.

Settings (JSON object; "" or 0 keeps the file's value): scene, camera,
samples, percent, res_x, res_y, engine, device, format, out_dir, gpu_index
(-1 or absent = every device of the type).

For tests: RM_DRIVER_FORCE_ONESHOT=1 makes --serve exit with status 1 before
"ready", and =hang makes it wait forever, as a driver that cannot serve would.
"""

import json
import os
import sys
import time

import bpy

ENGINES = ("CYCLES", "BLENDER_EEVEE", "BLENDER_WORKBENCH")
FORMATS = ("PNG", "JPEG", "OPEN_EXR", "OPEN_EXR_MULTILAYER", "TIFF")
GPU_TYPES = ("CUDA", "OPTIX", "HIP", "METAL", "ONEAPI")


class Fatal(Exception):
    """No frame of the job can render with these inputs."""

    def __init__(self, reason, scope="job"):
        super().__init__(reason)
        self.scope = scope


class Reporter:
    """Writes events to the result fd, one flushed JSON line each."""

    def __init__(self, fd):
        self.fd = fd

    def emit(self, **event):
        data = (json.dumps(event) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]


def parse_args(argv):
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


def check_loaded(blend):
    """Blender may carry on with its default scene when a file fails to load;
    rendering the default cube instead of the job would be worse than failing."""
    if not blend:
        return
    loaded = bpy.data.filepath
    if not loaded or os.path.realpath(loaded) != os.path.realpath(blend):
        why = "not a readable .blend" if os.path.exists(blend) else "no such file"
        raise Fatal("cannot read %s: %s" % (blend, why))


def names(items):
    return ", ".join('"%s"' % n for n in items) or "none"


def resolve_scene(name):
    if not name:
        return bpy.context.scene
    scene = bpy.data.scenes.get(name)
    if scene is None:
        raise Fatal('no scene "%s" in the file; scenes: %s'
                    % (name, names(s.name for s in bpy.data.scenes)))
    return scene


def resolve_camera(scene, name):
    cameras = [o.name for o in scene.objects if o.type == "CAMERA"]
    if not name:
        if scene.camera is None:
            raise Fatal('scene "%s" has no active camera; cameras: %s'
                        % (scene.name, names(cameras)))
        return None
    obj = scene.objects.get(name)
    if obj is None or obj.type != "CAMERA":
        what = "is not a camera" if obj is not None else "does not exist"
        raise Fatal('camera "%s" %s in scene "%s"; cameras: %s'
                    % (name, what, scene.name, names(cameras)))
    scene.camera = obj
    return obj


def setup_gpu(scene, device, gpu_index):
    prefs = bpy.context.preferences.addons["cycles"].preferences
    try:
        prefs.compute_device_type = device
    except TypeError:
        raise Fatal("this Blender's Cycles does not support %s" % device, "node")
    prefs.get_devices()
    found = [d for d in prefs.devices if d.type == device]
    if not found:
        raise Fatal("no %s device found by Blender's Cycles" % device, "node")
    if gpu_index is not None and gpu_index >= 0:
        if gpu_index >= len(found):
            raise Fatal("%s device %d not found (%d present)"
                        % (device, gpu_index, len(found)), "node")
        found = [found[gpu_index]]
    for d in prefs.devices:
        d.use = d in found
    scene.cycles.device = "GPU"
    print("rendermesh driver: rendering on %s" % names(d.name for d in found))


def setup_cycles(scene, settings):
    device = (settings.get("device") or "CPU").upper()
    if device == "CPU":
        scene.cycles.device = "CPU"
    elif device in GPU_TYPES:
        setup_gpu(scene, device, settings.get("gpu_index"))
    else:
        raise Fatal("unknown device %s (CPU, %s)" % (device, ", ".join(GPU_TYPES)))
    if settings.get("samples"):
        scene.cycles.samples = int(settings["samples"])
    # Debian's build has no OpenImageDenoise: a denoised frame fails outright.
    if not getattr(bpy.app.build_options, "openimagedenoise", False):
        scene.cycles.use_denoising = False


def apply_settings(scene, settings):
    engine = (settings.get("engine") or "").upper()
    if engine:
        if engine not in ENGINES:
            raise Fatal("unknown engine %s (%s)" % (engine, ", ".join(ENGINES)))
        scene.render.engine = engine
    if scene.render.engine == "CYCLES":
        setup_cycles(scene, settings)
    elif scene.render.engine == "BLENDER_EEVEE" and settings.get("samples"):
        scene.eevee.taa_render_samples = int(settings["samples"])
    render = scene.render
    for key, attr in (("percent", "resolution_percentage"), ("res_x", "resolution_x"),
                      ("res_y", "resolution_y")):
        if settings.get(key):
            setattr(render, attr, int(settings[key]))
    fmt = (settings.get("format") or "").upper()
    if fmt:
        if fmt not in FORMATS:
            raise Fatal("unknown format %s (%s)" % (fmt, ", ".join(FORMATS)))
        render.image_settings.file_format = fmt
    render.use_file_extension = True
    render.use_overwrite = True
    render.use_placeholder = False


class Renderer:
    def __init__(self, reporter, scene, camera, out_dir):
        self.reporter = reporter
        self.scene = scene
        self.camera = camera
        self.out_dir = out_dir
        self.pattern = scene.render.filepath  # the file's own, used without out_dir

    def output_path(self, frame):
        """A still render (write_still) does not expand "####" in 3.4, so the
        frame's own file name goes into render.filepath."""
        render = self.scene.render
        render.filepath = os.path.join(self.out_dir, "frame_####") if self.out_dir \
            else self.pattern
        path = bpy.path.abspath(render.frame_path(frame=frame))
        render.filepath = path
        return path

    def render(self, frame, out_dir=None):
        scene = self.scene
        try:
            if out_dir and out_dir != self.out_dir:
                os.makedirs(out_dir, exist_ok=True)
                self.out_dir = out_dir
            scene.frame_set(frame)
            # Camera markers switch scene.camera on frame change; the job's
            # choice wins.
            if self.camera is not None:
                scene.camera = self.camera
            path = self.output_path(frame)
            if os.path.exists(path):
                os.unlink(path)  # a stale file must not pass for this render
            start = time.monotonic()
            bpy.ops.render.render(write_still=True, scene=scene.name)
            render_ms = int((time.monotonic() - start) * 1000)
            if not os.path.isfile(path) or os.path.getsize(path) == 0:
                raise RuntimeError("Blender wrote no output file %s" % path)
        except Exception as exc:  # one bad frame must not end the process
            reason = str(exc).strip() or exc.__class__.__name__
            self.reporter.emit(event="failed", frame=frame, reason=reason)
            return
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
            print("rendermesh driver: ignoring bad command %r" % line[:200],
                  file=sys.stderr)
            continue
        if name == "quit":
            return
        if name == "render" and isinstance(cmd.get("frame"), int):
            renderer.render(cmd["frame"], cmd.get("out_dir"))
        else:
            print("rendermesh driver: ignoring command %r" % line[:200], file=sys.stderr)


def forced_failure():
    mode = os.environ.get("RM_DRIVER_FORCE_ONESHOT", "")
    if mode == "hang":
        while True:
            time.sleep(3600)
    if mode:
        print("rendermesh driver: RM_DRIVER_FORCE_ONESHOT set, cannot serve",
              file=sys.stderr)
        sys.exit(1)


def start(reporter, args):
    check_loaded(args["blend"])
    try:
        settings = json.loads(args["settings"])
    except ValueError as exc:
        raise Fatal("driver: bad --settings: %s" % exc, "node")
    scene = resolve_scene(settings.get("scene") or "")
    camera = resolve_camera(scene, settings.get("camera") or "")
    apply_settings(scene, settings)
    out_dir = settings.get("out_dir") or ""
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    if args["serve"]:
        forced_failure()
    reporter.emit(event="ready", blender=bpy.app.version_string, scene=scene.name,
                  frames=[scene.frame_start, scene.frame_end], pid=os.getpid(),
                  tempdir=bpy.app.tempdir)
    return Renderer(reporter, scene, camera, out_dir)


def die_with_node():
    """Ask Linux to kill this Blender when the slot that started it dies.

    A meshd killed with SIGKILL cannot stop its Blender; an orphan would go
    on writing frames into the job the restarted node renders again."""
    try:
        import ctypes
        import signal
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the node died before prctl took effect
        os._exit(1)


def main():
    die_with_node()
    # Blender's stdout goes to a pipe: without this our prints arrive late.
    sys.stdout.reconfigure(line_buffering=True)
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    reporter = Reporter(2)
    try:
        args = parse_args(argv)
        reporter = Reporter(args["result_fd"])
        renderer = start(reporter, args)
    except Fatal as exc:
        reporter.emit(event="fatal", reason=str(exc), scope=exc.scope)
        sys.exit(3)
    except (ValueError, TypeError, AttributeError) as exc:  # bad settings value
        reporter.emit(event="fatal", reason="bad setting: %s" % exc, scope="job")
        sys.exit(3)
    if args["serve"]:
        serve(renderer)
    else:
        for frame in args["frames"]:
            renderer.render(frame)


main()
