"""What a .blend needs, read with the artist's own Blender (meshctl submit).

    blender -b --factory-startup --disable-autoexec FILE --python-exit-code 2 \
        --python tools/scan_blend.py -- OUTFILE [SCENE]

Writes to OUTFILE (not stdout, which Blender shares) one record a line,
fields separated by tabs, with backslash, tab and newline escaped as \\\\,
\\t and \\n:

    blend   PATH                      the file as Blender opened it
    range   FIRST LAST STEP           the scene's frame range
    noscene NAME...                   the scene asked for does not exist
    denoise 0|1                       the scene renders with denoising
    dep     KIND USER PATH EXISTS REQUIRED ABSOLUTE

One `dep` per file or folder the file uses: KIND is library, image,
movieclip, sound, font, volume, cachefile, strip, cache, text or path (a
path Blender lists that no other kind covers); USER the datablock that
uses it; PATH absolute and normalised lexically, as Blender resolves "//"
paths (no symlink resolved); EXISTS 1 if it is on disk; REQUIRED 0 for
disk caches and text files, which a render may do without; ABSOLUTE 1 when
the .blend stores the path as absolute (not "//"), so that Blender on
another machine looks for it on that machine's disk.  Packed data needs no
file and is left out.
"""

import os
import re
import sys

import bpy


def esc(value):
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


class Out:
    def __init__(self, path):
        self.lines = []
        self.path = path
        self.seen = set()

    def put(self, *fields):
        self.lines.append("\t".join(esc(f) for f in fields))

    def dep(self, kind, user, path, required=True, raw=None):
        """raw: the path as the .blend stores it (None: relative)."""
        key = (kind, user, path)
        if not path or key in self.seen:
            return
        self.seen.add(key)
        stored_absolute = raw is not None and not raw.startswith("//")
        self.put("dep", kind, user, path, 1 if os.path.exists(path) else 0, 1 if required else 0,
                 1 if stored_absolute else 0)

    def write(self):
        with open(self.path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("\n".join(self.lines) + "\n")


def lib_dir(lib):
    """The folder that "//" means inside `lib` (None: the main file)."""
    if lib is None:
        return os.path.dirname(bpy.data.filepath)
    return os.path.dirname(absolute(lib.filepath, lib.parent))


def absolute(path, lib=None):
    """Blender's own rule (BLI_path_abs + BLI_path_normalize): "//" is the
    folder of the file holding the datablock, ".." is removed lexically."""
    if path.startswith("//"):
        path = os.path.join(lib_dir(lib), path[2:])
    return os.path.normpath(path) if path else path


def id_name(idb):
    lib = getattr(idb, "library", None)
    return "%s '%s'%s" % (idb.__class__.__name__, idb.name,
                          " (from %s)" % lib.filepath if lib else "")


def sequence_files(path):
    """Every file on disk of the numbered sequence `path` belongs to
    (frame number: the last run of digits before the extension)."""
    head, tail = os.path.split(path)
    m = re.match(r"^(.*?)(\d+)(\D*)$", tail)
    if not m:
        return [path]
    prefix, digits, suffix = m.groups()
    pattern = re.compile(re.escape(prefix) + r"\d+" + re.escape(suffix) + "$")
    found = sorted(os.path.join(head, name) for name in
                   (os.listdir(head) if os.path.isdir(head) else []) if pattern.match(name))
    return found or [path]


def udim_files(image, path):
    out = []
    for tile in image.tiles:
        n = tile.number
        p = path.replace("<UDIM>", str(n))
        p = p.replace("<UVTILE>", "u%d_v%d" % ((n - 1001) % 10 + 1, (n - 1001) // 10 + 1))
        out.append(p)
    return out


def packed(idb):
    return bool(getattr(idb, "packed_file", None)) or bool(getattr(idb, "packed_files", None))


def scan_images(out):
    for img in bpy.data.images:
        if img.source not in ("FILE", "SEQUENCE", "MOVIE", "TILED") or packed(img):
            continue
        path = absolute(img.filepath, img.library)
        if not path:
            continue
        if img.source == "SEQUENCE":
            files = sequence_files(path)
        elif img.source == "TILED":
            files = udim_files(img, path)
        else:
            files = [path]
        for f in files:
            out.dep("image", id_name(img), f, raw=img.filepath)


def scan_simple(out):
    for lib in bpy.data.libraries:  # indirect libraries are listed too
        if not packed(lib):
            out.dep("library", "Library '%s'" % lib.name, absolute(lib.filepath, lib.parent),
                    raw=lib.filepath)
    for clip in bpy.data.movieclips:
        path = absolute(clip.filepath, clip.library)
        for f in (sequence_files(path) if clip.source == "SEQUENCE" else [path]):
            out.dep("movieclip", id_name(clip), f, raw=clip.filepath)
    for snd in bpy.data.sounds:
        if not packed(snd):
            out.dep("sound", id_name(snd), absolute(snd.filepath, snd.library), raw=snd.filepath)
    for font in bpy.data.fonts:
        if font.filepath != "<builtin>" and not packed(font):
            out.dep("font", id_name(font), absolute(font.filepath, font.library),
                    raw=font.filepath)
    for vol in bpy.data.volumes:
        if not packed(vol):
            path = absolute(vol.filepath, vol.library)
            for f in (sequence_files(path) if vol.is_sequence else [path]):
                out.dep("volume", id_name(vol), f, raw=vol.filepath)
    for cache in bpy.data.cache_files:
        path = absolute(cache.filepath, cache.library)
        for f in (sequence_files(path) if cache.is_sequence else [path]):
            out.dep("cachefile", id_name(cache), f, raw=cache.filepath)


def scan_strips(out):
    for scene in bpy.data.scenes:
        ed = scene.sequence_editor
        for strip in (ed.sequences_all if ed else []):
            if strip.type == "IMAGE":
                base = absolute(strip.directory, scene.library)
                for elem in strip.elements:
                    out.dep("strip", "strip '%s'" % strip.name, os.path.join(base, elem.filename),
                            raw=strip.directory)
            elif strip.type == "MOVIE":
                out.dep("strip", "strip '%s'" % strip.name,
                        absolute(strip.filepath, scene.library), raw=strip.filepath)


def scan_caches(out):
    """Baked disk caches: taken along when they are there; a render
    without them simulates again, so they are not required."""
    for obj in bpy.data.objects:
        for mod in obj.modifiers:
            if mod.type == "FLUID" and mod.fluid_type == "DOMAIN":
                out.dep("cache", id_name(obj),
                        absolute(mod.domain_settings.cache_directory, obj.library), False)
            cache = getattr(mod, "point_cache", None)
            if cache and cache.use_disk_cache:
                if cache.use_external:
                    path = absolute(cache.filepath, obj.library)
                else:
                    blend = bpy.data.filepath if obj.library is None else \
                        absolute(obj.library.filepath, obj.library.parent)
                    stem = os.path.splitext(os.path.basename(blend))[0]
                    path = os.path.join(os.path.dirname(blend), "blendcache_" + stem)
                out.dep("cache", id_name(obj), path, False)


def scan_texts(out):
    """External text files: a render runs none of them unless scripts are
    allowed, so they go along when they are there."""
    for text in bpy.data.texts:
        if text.filepath and not text.is_in_memory:
            out.dep("text", id_name(text), absolute(text.filepath, text.library), False,
                    raw=text.filepath)


def scan_rest(out):
    """Whatever Blender itself lists and no rule above covered (a file
    with an extension is required; a folder is not)."""
    covered = {key[2] for key in out.seen}
    for path in bpy.utils.blend_paths(absolute=True, packed=False):
        path = os.path.normpath(path)
        if path in covered or "<UDIM>" in path or "<UVTILE>" in path:
            continue
        out.dep("path", "a path Blender lists", path, os.path.splitext(path)[1] != "")


def denoises(scene):
    """Cycles denoises a render when the scene asks for it and at least one
    rendered view layer does (3.4: ViewLayer.cycles.use_denoising); the
    compositor's Denoise node needs the same library."""
    if scene.render.engine == "CYCLES" and scene.cycles.use_denoising:
        for layer in scene.view_layers:
            if layer.use and getattr(layer.cycles, "use_denoising", True):
                return True
    if scene.use_nodes and scene.node_tree and scene.render.use_compositing:
        for node in scene.node_tree.nodes:
            if node.type == "DENOISE" and not node.mute:
                return True
    return False


def main():
    argv = sys.argv[sys.argv.index("--") + 1:]
    out = Out(argv[0])
    name = argv[1] if len(argv) > 1 else ""
    if not bpy.data.filepath:  # Blender fell back to its startup file
        out.put("unreadable")
        out.write()
        return
    out.put("blend", bpy.data.filepath)
    scene = bpy.data.scenes.get(name) if name else bpy.context.scene
    if scene is None:
        out.put("noscene", *[s.name for s in bpy.data.scenes])
    else:
        out.put("range", scene.frame_start, scene.frame_end, scene.frame_step)
        out.put("denoise", 1 if denoises(scene) else 0)
    scan_simple(out)
    scan_images(out)
    scan_strips(out)
    scan_caches(out)
    scan_texts(out)
    scan_rest(out)
    out.write()


main()
