"""Generate rendermesh's bundled sample scene with Blender's Python API.

    blender -b --factory-startup --python tools/make_sample_scene.py -- \
        OUT.blend [--frames 24] [--res 320x180] [--samples 16]

The scene is small on purpose: a rotating, bobbing monkey with a coloured
material on a floor, a sun light and a camera orbiting it, rendered with Cycles
on the CPU with denoising off (Debian's Blender has no OpenImageDenoise).  Tests
rely on the names: scene "Scene" with cameras "Camera" (active) and "SideCam",
plus a second scene "Alt" with its own camera "AltCam".
"""

import argparse
import math
import os
import sys

import bpy


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    parser = argparse.ArgumentParser(prog="make_sample_scene.py")
    parser.add_argument("out", help="path of the .blend to write")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--res", default="320x180", help="WIDTHxHEIGHT")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--texture", help="image for the floor, linked by a path relative "
                        "to OUT.blend (not packed): tests that --attach resolves it")
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.res.lower().split("x"))
    except ValueError:
        parser.error("--res must look like 320x180")
    if width < 4 or height < 4 or args.frames < 1 or args.samples < 1:
        parser.error("frames, samples and resolution must be positive")
    return args, width, height


def clear_file():
    """Start from an empty file, whatever the startup file held."""
    bpy.ops.wm.read_factory_settings(use_empty=True)


def make_material(name, rgba):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes.get("Principled BSDF")
    bsdf.inputs["Base Color"].default_value = rgba
    bsdf.inputs["Roughness"].default_value = 0.4
    return mat


def set_render(scene, frames, width, height, samples):
    scene.frame_start = 1
    scene.frame_end = frames
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = False
    scene.cycles.max_bounces = 4
    scene.render.resolution_x = width
    scene.render.resolution_y = height
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = "//render/frame_####"


def add_camera(scene, name, location):
    data = bpy.data.cameras.new(name)
    cam = bpy.data.objects.new(name, data)
    scene.collection.objects.link(cam)
    cam.location = location
    return cam


def look_at(obj, target):
    con = obj.constraints.new("TRACK_TO")
    con.target = target
    con.track_axis = "TRACK_NEGATIVE_Z"
    con.up_axis = "UP_Y"


def make_texture_material(path):
    """A floor material reading an external image, so the .blend depends on
    a file beside it, as a real project's textures do."""
    mat = bpy.data.materials.new("FloorTexture")
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = bpy.data.images.load(os.path.abspath(path))
    links.new(tex.outputs["Color"], nodes["Principled BSDF"].inputs["Base Color"])
    return mat


def build_main(scene, frames, texture=None):
    bpy.ops.mesh.primitive_plane_add(size=12, location=(0, 0, -1))
    floor = bpy.context.active_object
    if texture:
        floor.data.materials.append(make_texture_material(texture))
    else:
        floor.data.materials.append(make_material("Floor", (0.8, 0.8, 0.75, 1)))

    bpy.ops.mesh.primitive_monkey_add(size=1.4, location=(0, 0, 0.2))
    hero = bpy.context.active_object
    hero.name = "Hero"
    bpy.ops.object.shade_smooth()
    hero.data.materials.append(make_material("HeroRed", (0.8, 0.15, 0.1, 1)))
    # Rotation and a bob, so every frame differs.
    for frame, angle, z in ((1, 0.0, 0.2), (frames, 2 * math.pi, 0.6)):
        hero.rotation_euler = (0, 0, angle)
        hero.location.z = z
        hero.keyframe_insert("rotation_euler", frame=frame)
        hero.keyframe_insert("location", frame=frame)

    sun_data = bpy.data.lights.new("Sun", "SUN")
    sun_data.energy = 4
    sun = bpy.data.objects.new("Sun", sun_data)
    scene.collection.objects.link(sun)
    sun.rotation_euler = (math.radians(40), math.radians(10), math.radians(30))

    # The main camera orbits the monkey: parented to an empty that turns.
    pivot = bpy.data.objects.new("CameraPivot", None)
    scene.collection.objects.link(pivot)
    cam = add_camera(scene, "Camera", (0, -6, 2.5))
    cam.parent = pivot
    look_at(cam, hero)
    for frame, angle in ((1, 0.0), (frames, math.radians(90))):
        pivot.rotation_euler = (0, 0, angle)
        pivot.keyframe_insert("rotation_euler", frame=frame)
    scene.camera = cam

    side = add_camera(scene, "SideCam", (6, 0, 1.5))
    look_at(side, hero)


def build_alt(width, height, samples):
    alt = bpy.data.scenes.new("Alt")
    set_render(alt, 1, width, height, samples)
    alt.world = bpy.data.worlds[0]
    bpy.ops.mesh.primitive_cube_add(size=1.5)
    cube = bpy.context.active_object
    bpy.context.scene.collection.objects.unlink(cube)
    alt.collection.objects.link(cube)
    cube.data.materials.append(make_material("AltBlue", (0.1, 0.3, 0.8, 1)))
    light_data = bpy.data.lights.new("AltLight", "POINT")
    light_data.energy = 800
    light = bpy.data.objects.new("AltLight", light_data)
    alt.collection.objects.link(light)
    light.location = (3, -3, 4)
    cam = add_camera(alt, "AltCam", (4, -4, 3))
    look_at(cam, cube)
    alt.camera = cam


def main():
    args, width, height = parse_args()
    clear_file()
    scene = bpy.context.scene
    scene.name = "Scene"
    world = bpy.data.worlds.new("World")
    world.color = (0.05, 0.06, 0.08)
    scene.world = world
    set_render(scene, args.frames, width, height, args.samples)
    build_main(scene, args.frames, args.texture)
    build_alt(width, height, args.samples)
    if bpy.context.window:  # None in background mode
        bpy.context.window.scene = scene
    # relative_remap stores the texture as //textures/..., relative to the .blend.
    bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(args.out), compress=False,
                                relative_remap=True)
    print("make_sample_scene: wrote %s (%d frames, %dx%d, %d samples)"
          % (args.out, args.frames, width, height, args.samples))


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as exc:  # make Blender exit non-zero instead of idling
        print("make_sample_scene: %s" % exc, file=sys.stderr)
        sys.exit(1)
