"""A studio's project layout, made with Blender's Python API (test_deps.sh).

    blender -b --factory-startup --python tests/e2e/make_studio.py -- ROOT

ROOT/assets/lib/base.blend     object "Pedestal" (plain material)
ROOT/assets/tex/wood.png       a texture
ROOT/assets/lib/sign.blend     object "Sign" textured with //../tex/sign.png
ROOT/assets/tex/poster.png     a texture the shot names by an absolute path
ROOT/assets/props.blend        collection "Props": object "Crate" textured with
                               //tex/wood.png, and "Pedestal" linked from
                               //lib/base.blend (an indirect library for shots)
ROOT/maps_store/ground.png     reached through the symlinked folder
ROOT/shots/sh010/maps -> ../../maps_store
ROOT/shots/sh010/seq/flash.000N.png   an image sequence, N = 1..3
ROOT/shots/sh010/udim/skin.100N.png   UDIM tiles 1001 and 1002
ROOT/shots/sh010/sh010.blend   links "Props" from //../../assets/props.blend,
                               a floor textured with //maps/ground.png, a
                               card showing //seq/flash.0001.png (sequence),
                               the tiled image //udim/skin.<UDIM>.png (kept by
                               a fake user, not rendered), Cycles, 2 frames,
                               48x27, denoising off; and, stored as absolute
                               paths (as files made without "relative paths"
                               are): "Sign" linked from ROOT/assets/lib/sign.blend
                               and a "Poster" textured with ROOT/assets/tex/poster.png
"""

import os
import sys

import bpy

ROOT = os.path.abspath(sys.argv[sys.argv.index("--") + 1])


def empty():
    bpy.ops.wm.read_factory_settings(use_empty=True)


def save(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=path, relative_remap=True)


def write_png(path, rgb, size=8):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img = bpy.data.images.new(os.path.basename(path), size, size)
    px = []
    for i in range(size * size):
        shade = 0.6 + 0.4 * ((i // size + i % size) % 2)
        px += [rgb[0] * shade, rgb[1] * shade, rgb[2] * shade, 1.0]
    img.pixels = px
    img.filepath_raw = path
    img.file_format = "PNG"
    img.save()
    bpy.data.images.remove(img)


def material(name, image=None, rgba=(0.8, 0.8, 0.8, 1), sequence=0):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = rgba
    if image:
        tex = nodes.new("ShaderNodeTexImage")
        tex.image = bpy.data.images.load(image)
        if sequence:
            tex.image.source = "SEQUENCE"
            tex.image_user.frame_duration = sequence
            tex.image_user.frame_start = 1
            tex.image_user.use_auto_refresh = True
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


def mesh(kind, name, location, mat, **kw):
    getattr(bpy.ops.mesh, "primitive_%s_add" % kind)(location=location, **kw)
    obj = bpy.context.active_object
    obj.name = name
    obj.data.materials.append(mat)
    return obj


def make_base():
    empty()
    mesh("cube", "Pedestal", (0, 0, -0.5), material("Stone", rgba=(0.2, 0.4, 0.9, 1)), size=1)
    save(os.path.join(ROOT, "assets/lib/base.blend"))


def make_sign():
    empty()
    mesh("cube", "Sign", (-2.0, 0.2, 0.4), material("SignPaint", os.path.join(
        ROOT, "assets/tex/sign.png")), size=0.8)
    save(os.path.join(ROOT, "assets/lib/sign.blend"))


def make_props():
    empty()
    scene = bpy.context.scene
    props = bpy.data.collections.new("Props")
    scene.collection.children.link(props)
    crate = mesh("cube", "Crate", (0, 0, 0.5), material("Wood", os.path.join(
        ROOT, "assets/tex/wood.png")), size=1)
    scene.collection.objects.unlink(crate)
    props.objects.link(crate)
    with bpy.data.libraries.load(os.path.join(ROOT, "assets/lib/base.blend"), link=True,
                                 relative=True) as (src, dst):
        dst.objects = ["Pedestal"]
    props.objects.link(dst.objects[0])
    save(os.path.join(ROOT, "assets/props.blend"))


def make_shot():
    empty()
    scene = bpy.context.scene
    shot = os.path.join(ROOT, "shots/sh010")
    with bpy.data.libraries.load(os.path.join(ROOT, "assets/props.blend"), link=True,
                                 relative=True) as (src, dst):
        dst.collections = ["Props"]
    scene.collection.children.link(dst.collections[0])
    mesh("plane", "Floor", (0, 0, -1), material("Ground", os.path.join(
        shot, "maps/ground.png")), size=8)
    card = mesh("plane", "Card", (2, 1, 0.5), material("Flash", os.path.join(
        shot, "seq/flash.0001.png"), sequence=3), size=1.5)
    card.rotation_euler = (1.3, 0, 0.4)
    skin = bpy.data.images.load(os.path.join(shot, "udim/skin.1001.png"))
    skin.source = "TILED"  # Blender finds tile 1002 beside it
    skin.use_fake_user = True
    world = bpy.data.worlds.new("World")
    world.color = (0.05, 0.05, 0.05)
    scene.world = world
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.data.energy = 4
    sun.rotation_euler = (0.7, 0.2, 0.5)
    scene.collection.objects.link(sun)
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    cam.location = (5, -6, 4)
    cam.rotation_euler = (1.05, 0, 0.7)
    cam.keyframe_insert("location", frame=1)
    cam.location = (6, -5, 4)
    cam.keyframe_insert("location", frame=2)
    scene.frame_start, scene.frame_end = 1, 2
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 2
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = False
    scene.render.resolution_x, scene.render.resolution_y = 48, 27
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = "//render/frame_####"
    save(os.path.join(shot, "sh010.blend"))
    # Absolute paths: only a file saved once keeps them absolute.
    with bpy.data.libraries.load(os.path.join(ROOT, "assets/lib/sign.blend"), link=True,
                                 relative=False) as (src, dst):
        dst.objects = ["Sign"]
    scene.collection.objects.link(dst.objects[0])
    poster = mesh("plane", "Poster", (1.6, -2.2, 0.2), material("PosterPaint", os.path.join(
        ROOT, "assets/tex/poster.png")), size=1.2)
    poster.rotation_euler = (1.2, 0, 0.7)
    bpy.ops.wm.save_mainfile(relative_remap=False)


write_png(os.path.join(ROOT, "assets/tex/wood.png"), (0.6, 0.35, 0.1))
write_png(os.path.join(ROOT, "maps_store/ground.png"), (0.1, 0.6, 0.2))
write_png(os.path.join(ROOT, "assets/tex/sign.png"), (0.9, 0.9, 0.1))
write_png(os.path.join(ROOT, "assets/tex/poster.png"), (0.1, 0.5, 0.8))
os.makedirs(os.path.join(ROOT, "shots/sh010"), exist_ok=True)
if not os.path.islink(os.path.join(ROOT, "shots/sh010/maps")):
    os.symlink("../../maps_store", os.path.join(ROOT, "shots/sh010/maps"))
for n, rgb in ((1, (1, 0, 0)), (2, (0, 1, 0)), (3, (0, 0, 1))):
    write_png(os.path.join(ROOT, "shots/sh010/seq/flash.%04d.png" % n), rgb)
for n in (1001, 1002):
    write_png(os.path.join(ROOT, "shots/sh010/udim/skin.%d.png" % n), (0.5, 0.5, 0.5))
make_base()
make_sign()
make_props()
make_shot()
