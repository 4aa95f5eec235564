"""rendermesh's Blender driver: renders frames inside a kept-alive Blender.

Run by a render slot (node/render/rm_blender.c, its command line from
rm_blender_args.c) as

    blender -b --factory-startup (--disable-autoexec | --enable-autoexec) FILE.blend \
        --python-exit-code 2 --python blender_driver.py -- \
        --result-fd N --blend FILE.blend --settings JSON (--serve | --frames 1,2,3)

The driver is passed with --python, so it runs even when the file's own
scripts stay off.  It reports on the file descriptor --result-fd, one JSON
object per line, flushed at once; everything Blender prints goes to
stdout/stderr, which the slot appends to the task's log:

    {"event":"ready","blender":"3.4.1","scene":"Scene","frames":[1,24],
     "pid":123,"tempdir":"/tmp/blender_x/"}
    {"event":"done","frame":N,"file":"/out/7/frame_0007.png","render_ms":250,
     "dir":"/out/7","files":"frame_0007.png\npasses/normal_0007.exr",
     "warning":"missing files: tex/wood.png"}
    {"event":"failed","frame":N,"reason":"..."}
    {"event":"fatal","reason":"...","scope":"job"|"node"}   then exit 3

Each frame renders into a fresh folder of its own, OUT_DIR/FRAME: the main
image as frame_####.ext and every other file Blender writes for it
(compositor File Output nodes, both views of a stereo render): "files"
lists them all, relative to "dir", one per line.  File Output paths are
redirected into that folder: a path inside the .blend's folder keeps its
relative place (//passes/ -> passes/), an absolute one or one outside keeps
only its last component (/mnt/renders/passes/ -> passes/), so a .blend
cannot make the node write anywhere else.  "warning" names files the scene
uses that are missing here (Blender would render without them).

"fatal" means no frame of this job can render here: scope "job" when the job
itself is broken (unreadable file, no such scene or camera, bad setting),
"node" when this machine lacks something (no GPU of the requested type).

--serve reads commands on stdin, one JSON object per line:
    {"cmd":"render","frame":N[,"out_dir":"/dir"]}     {"cmd":"quit"}
and exits at "quit" or end of input.  --frames renders the listed frames and
exits: the one-process-per-task fallback.

Settings (JSON object; "" or 0 keeps the file's value): scene, camera,
samples, percent, res_x, res_y, engine, device, format, out_dir, gpu_index
(-1 or absent = every device of the type), no_denoise (true: render without
denoising where the file asks for it; otherwise a scene that denoises on a
Blender without OpenImageDenoise is refused, as plain Blender refuses it),
source_root (the folder on the submitting machine that the project was
taken from: paths the .blend stores as absolute below it are read from the
project, Blender's working directory, instead).

For tests: RM_DRIVER_FORCE_ONESHOT=1 makes --serve exit with status 1 before
"ready", and =hang makes it wait forever, as a driver that cannot serve would.
"""

import json
import os
import shutil
import sys
import time

import bpy

ENGINES = ("CYCLES", "BLENDER_EEVEE", "BLENDER_WORKBENCH")
# Blender's still-image formats; a movie format cannot be split into frames.
FORMATS = ("PNG", "JPEG", "OPEN_EXR", "OPEN_EXR_MULTILAYER", "TIFF", "BMP", "IRIS",
           "JPEG2000", "TARGA", "TARGA_RAW", "CINEON", "DPX", "HDR", "WEBP")
MOVIE_FORMATS = ("FFMPEG", "AVI_JPEG", "AVI_RAW")
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
    # As `blender -S`: the scene becomes the window's.  A scene that is not
    # would keep its animation at the first frame it was evaluated at.
    window = bpy.context.window
    if window is None and bpy.context.window_manager.windows:
        window = bpy.context.window_manager.windows[0]
    if window is not None:
        window.scene = scene
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
    setup_denoising(scene, settings.get("no_denoise", False))


def can_denoise():
    """OpenImageDenoise is a build option of Cycles (not of bpy.app)."""
    try:
        import _cycles
        return bool(_cycles.with_openimagedenoise)
    except (ImportError, AttributeError):
        return False


def uses_denoising(scene):
    return scene.cycles.use_denoising and any(
        layer.use and layer.cycles.use_denoising for layer in scene.view_layers)


def setup_denoising(scene, no_denoise):
    """Never silently: a scene that denoises renders denoised, or not at all
    here (plain Blender fails each frame without OpenImageDenoise), unless
    the submitter said --no-denoise."""
    if not uses_denoising(scene):
        return
    if no_denoise:
        scene.cycles.use_denoising = False
        print("rendermesh driver: denoising off for this job (--no-denoise)")
        return
    if not can_denoise():
        raise Fatal('scene "%s" uses denoising and this Blender has no OpenImageDenoise '
                    "(submit with --no-denoise to render without it)" % scene.name, "node")


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
    elif render.image_settings.file_format in MOVIE_FORMATS:
        raise Fatal('scene "%s" renders to a movie (%s); frames are rendered on many '
                    "nodes: choose an image format (--format)"
                    % (scene.name, render.image_settings.file_format))
    render.use_file_extension = True
    render.use_overwrite = True
    render.use_placeholder = False


def inside(rel):
    return rel not in ("", ".") and not os.path.isabs(rel) and \
        rel.split(os.sep)[0] != ".."


def redirected(path):
    """Where a File Output path goes inside a frame's folder: relative to
    the .blend's folder if it stays inside it, else its last component
    (kept as a folder when it names one)."""
    trailing = path.endswith(("/", "\\"))
    if path.startswith("//"):
        rel = os.path.normpath(path[2:].replace("\\", "/")) if path[2:] else ""
        if inside(rel):
            return rel + ("/" if trailing else "")
    last = os.path.basename(os.path.normpath(path.replace("\\", "/"))) if path else ""
    if last in ("", ".", "..", "/"):
        return ""
    return last + ("/" if trailing else "")


def safe_subpath(path):
    """A File Output slot's name, kept below its base path."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts)


def file_output_nodes(tree, seen=None):
    seen = set() if seen is None else seen
    if tree is None or tree.name in seen:
        return
    seen.add(tree.name)
    for node in tree.nodes:
        if node.type == "OUTPUT_FILE":
            yield node
        elif node.type == "GROUP" and node.node_tree is not None:
            yield from file_output_nodes(node.node_tree, seen)


def project_path(raw, source_root, project_dir):
    """The project copy of a path the .blend stores as absolute, when it
    lies below the folder the project was taken from on the submitting
    machine (its "source_root"); None otherwise."""
    if not raw or raw.startswith("//") or not os.path.isabs(raw) or not source_root:
        return None
    rel = os.path.relpath(os.path.normpath(raw), os.path.normpath(source_root))
    if rel != "." and not inside(rel):
        return None
    new = os.path.normpath(os.path.join(project_dir, rel))
    if not os.path.isdir(os.path.dirname(new)):
        return None  # not taken along (e.g. an optional cache): leave it alone
    return new + ("/" if raw.endswith(("/", "\\")) else "")


def path_holders():
    """(datablock, attribute) for every local path a render may read."""
    for coll, attr in ((bpy.data.images, "filepath"), (bpy.data.movieclips, "filepath"),
                       (bpy.data.sounds, "filepath"), (bpy.data.fonts, "filepath"),
                       (bpy.data.volumes, "filepath"), (bpy.data.cache_files, "filepath")):
        for block in coll:
            if block.library is None:
                yield block, attr
    for scene in bpy.data.scenes:
        ed = scene.sequence_editor if scene.library is None else None
        for strip in (ed.sequences_all if ed else []):
            if strip.type == "IMAGE":
                yield strip, "directory"
            elif strip.type == "MOVIE":
                yield strip, "filepath"
    for obj in bpy.data.objects:
        if obj.library is not None:
            continue
        for mod in obj.modifiers:
            if mod.type == "FLUID" and mod.fluid_type == "DOMAIN":
                yield mod.domain_settings, "cache_directory"
            cache = getattr(mod, "point_cache", None)
            if cache is not None and cache.use_external:
                yield cache, "filepath"


def remap_absolute(source_root, project_dir):
    """Paths the artist's .blend stores as absolute point into the artist's
    machine; the files were taken along into the project, below the same
    root.  Point Blender at those copies (libraries first, reloaded, since
    their linked data was read at load), so the node renders what the
    artist's Blender renders.  Returns how many paths were changed."""
    changed = 0
    for _ in range(len(bpy.data.libraries) + 1):  # a reloaded library may bring new ones
        again = False
        for lib in list(bpy.data.libraries):
            new = project_path(lib.filepath, source_root, project_dir)
            if new and new != lib.filepath:
                lib.filepath = new
                lib.reload()
                changed += 1
                again = True
        if not again:
            break
    for holder, attr in path_holders():
        try:
            new = project_path(getattr(holder, attr), source_root, project_dir)
            if new and new != getattr(holder, attr):
                setattr(holder, attr, new)
                changed += 1
        except (AttributeError, TypeError, ValueError) as exc:  # read-only in an odd file
            print("rendermesh driver: cannot remap a path of %r: %s" % (holder, exc))
    return changed


def missing_files(project_dir):
    """Files the file uses that are not here: Blender renders without them
    (a missing object, a magenta texture) and says nothing in the log."""
    missing = []
    try:
        paths = bpy.utils.blend_paths(absolute=True, packed=False, local=False)
    except Exception:  # an old or odd file: no check rather than no render
        paths = []
    for path in sorted(set(paths)):
        if "<UDIM>" in path or "<UVTILE>" in path:
            import glob
            pattern = path.replace("<UDIM>", "[0-9]" * 4).replace("<UVTILE>", "u*_v*")
            if glob.glob(pattern):
                continue
        elif os.path.exists(path):
            continue
        rel = os.path.relpath(path, project_dir) if project_dir else path
        missing.append(rel if inside(rel) else path)
    for coll in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.collections,
                 bpy.data.node_groups, bpy.data.images):
        for block in coll:
            if getattr(block, "is_missing", False):
                lib = block.library.filepath if block.library else "?"
                missing.append("%s '%s' from %s" % (block.__class__.__name__, block.name, lib))
    return missing


class Renderer:
    def __init__(self, reporter, scene, camera, out_dir, warning):
        self.reporter = reporter
        self.scene = scene
        self.camera = camera
        self.out_dir = out_dir
        self.warning = warning
        self.pattern = scene.render.filepath  # the file's own, used without out_dir
        self.file_outputs = [(node, node.base_path, [s.path for s in node.file_slots])
                             for node in file_output_nodes(scene.node_tree)
                             if scene.use_nodes]

    def frame_dir(self, frame):
        """A fresh folder per frame: whatever is in it after the render was
        written for this frame."""
        path = os.path.join(self.out_dir, str(frame))
        if os.path.lexists(path):
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) \
                else os.unlink(path)
        os.makedirs(path)
        return path

    def redirect_file_outputs(self, folder):
        for node, base, slots in self.file_outputs:
            node.base_path = os.path.join(folder, redirected(base))
            if node.format.file_format != "OPEN_EXR_MULTILAYER":
                for slot, path in zip(node.file_slots, slots):
                    slot.path = safe_subpath(path)

    def output_path(self, frame, folder):
        """A still render (write_still) does not expand "####" in 3.4, so the
        frame's own file name goes into render.filepath."""
        render = self.scene.render
        render.filepath = os.path.join(folder, "frame_####") if folder else self.pattern
        path = bpy.path.abspath(render.frame_path(frame=frame))
        render.filepath = path
        return path

    @staticmethod
    def written(folder):
        files = []
        for root, dirs, names in os.walk(folder):
            dirs.sort()
            for name in sorted(names):
                full = os.path.join(root, name)
                if os.path.isfile(full) and not os.path.islink(full):
                    files.append(os.path.relpath(full, folder))
        return files

    def main_file(self, path, folder, files):
        """The image `blender -f` writes; with stereo views written as
        separate files, the first of them (frame_0001_L.png)."""
        if os.path.isfile(path) and os.path.getsize(path) > 0:
            return path
        stem, ext = os.path.splitext(os.path.basename(path))
        views = [f for f in files if "/" not in f and f.startswith(stem) and f.endswith(ext)]
        if views:
            return os.path.join(folder, views[0])
        raise RuntimeError("Blender wrote no output file %s" % path)

    def render(self, frame, out_dir=None):
        scene = self.scene
        try:
            if out_dir and out_dir != self.out_dir:
                os.makedirs(out_dir, exist_ok=True)
                self.out_dir = out_dir
            folder = self.frame_dir(frame) if self.out_dir else ""
            if folder:
                self.redirect_file_outputs(folder)
            scene.frame_set(frame)
            # Camera markers switch scene.camera on frame change; the job's
            # choice wins.
            if self.camera is not None:
                scene.camera = self.camera
            path = self.output_path(frame, folder)
            if not folder and os.path.exists(path):
                os.unlink(path)  # a stale file must not pass for this render
            start = time.monotonic()
            bpy.ops.render.render(write_still=True, scene=scene.name)
            render_ms = int((time.monotonic() - start) * 1000)
            files = self.written(folder) if folder else [os.path.basename(path)]
            path = self.main_file(path, folder, files)
        except Exception as exc:  # one bad frame must not end the process
            reason = str(exc).strip() or exc.__class__.__name__
            self.reporter.emit(event="failed", frame=frame, reason=reason)
            return
        self.reporter.emit(event="done", frame=frame, file=path, render_ms=render_ms,
                           dir=folder or os.path.dirname(path), files="\n".join(files),
                           warning=self.warning)


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
    source_root = settings.get("source_root") or ""
    changed = remap_absolute(source_root, os.getcwd())
    if changed:
        print("rendermesh driver: %d path%s stored as absolute in the .blend, below %s on the "
              "submitting machine, now read from the project" % (
                  changed, "" if changed == 1 else "s", source_root))
    scene = resolve_scene(settings.get("scene") or "")
    camera = resolve_camera(scene, settings.get("camera") or "")
    apply_settings(scene, settings)
    out_dir = settings.get("out_dir") or ""
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    if args["serve"]:
        forced_failure()
    missing = missing_files(os.getcwd())
    warning = ""
    if missing:
        warning = "missing files: " + ", ".join(missing[:20]) + (
            " (and %d more)" % (len(missing) - 20) if len(missing) > 20 else "")
        print("rendermesh driver: %s" % warning)
    reporter.emit(event="ready", blender=bpy.app.version_string, scene=scene.name,
                  frames=[scene.frame_start, scene.frame_end], pid=os.getpid(),
                  tempdir=bpy.app.tempdir)
    return Renderer(reporter, scene, camera, out_dir, warning)


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
    # The node died before prctl took effect; in the node's sandbox our
    # parent is the sandbox's init (pid 1), and bwrap kills us with the node.
    if os.getppid() == 1 and not os.environ.get("RM_SANDBOXED"):
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
