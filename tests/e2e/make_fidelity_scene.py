"""Builds production-like .blend files for the fidelity tests, with
Blender's Python API:

    blender -b --factory-startup --python make_fidelity_scene.py -- OUT.blend ABS_DIR

OUT.blend holds two scenes.  "Layout" is the active one (a still cube).
"Shot" is not active and is what the tests render: a keyframed cube
moving across the frame, a second camera that is not the scene's, two view
layers (the second hides the mover), motion blur, and a compositor with a
File Output node writing the normal pass under //passes/, a second one
with an absolute base path under ABS_DIR (which a node must not write
to), and a multilayer File Output node.  The main output is a multilayer
OpenEXR of every pass of both layers.  Denoising is on in "Denoised", a
copy of "Shot" by linking its objects, so a test can ask for it; "Stereo"
renders both views of a stereo camera as separate files.
Tiny sizes and few samples: the point is which pixels and files come
back, not how nice they look."""
import os
import sys

import bpy

argv = sys.argv[sys.argv.index("--") + 1:]
out, abs_dir = argv[0], argv[1]


def cycles(scene, samples=4):
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.seed = 7
    scene.render.resolution_x = 48
    scene.render.resolution_y = 32
    scene.render.resolution_percentage = 100
    scene.render.threads_mode = "FIXED"
    scene.render.threads = 1


layout = bpy.context.scene
layout.name = "Layout"
cycles(layout)

shot = bpy.data.scenes.new("Shot")
cycles(shot)
shot.frame_start, shot.frame_end = 1, 4
shot.world = bpy.data.worlds.new("sky")
shot.world.color = (0.2, 0.3, 0.4)

def add(scene, name, data):
    obj = bpy.data.objects.new(name, data)
    scene.collection.objects.link(obj)
    return obj

cam = add(shot, "MainCam", bpy.data.cameras.new("MainCam"))
cam.location, cam.rotation_euler = (0, -8, 0), (1.5708, 0, 0)
alt = add(shot, "AltCam", bpy.data.cameras.new("AltCam"))
alt.location, alt.rotation_euler = (0, -6, 2), (1.25, 0, 0)
shot.camera = cam
sun = add(shot, "Sun", bpy.data.lights.new("Sun", "SUN"))
sun.rotation_euler = (0.6, 0.2, 0)

import bmesh  # noqa: E402
mesh = bpy.data.meshes.new("box")
bm = bmesh.new()
bmesh.ops.create_cube(bm, size=1.5)
bm.to_mesh(mesh)
mat = bpy.data.materials.new("red")
mat.diffuse_color = (0.8, 0.1, 0.1, 1)
mat.use_nodes = True
mat.node_tree.nodes["Principled BSDF"].inputs[0].default_value = (0.8, 0.1, 0.1, 1)
mesh.materials.append(mat)
mover = add(shot, "Mover", mesh)
for frame, x in ((1, -3.0), (4, 3.0)):
    mover.location = (x, 0, 0)
    mover.keyframe_insert("location", frame=frame)
ground = add(shot, "Ground", bpy.data.meshes.new("plane"))
bm = bmesh.new()
bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=10)
bm.to_mesh(ground.data)
ground.location = (0, 0, -1)

shot.render.use_motion_blur = True
first = shot.view_layers[0]
first.name = "Beauty"
first.use_pass_normal = True
second = shot.view_layers.new("NoMover")
second.use_pass_z = True
second.layer_collection.collection.objects  # the scene collection
second.layer_collection.exclude = False
# Hide the mover in the second layer: a collection of its own, excluded there.
movers = bpy.data.collections.new("Movers")
shot.collection.children.link(movers)
shot.collection.objects.unlink(mover)
movers.objects.link(mover)
second.layer_collection.children["Movers"].exclude = True

shot.render.image_settings.file_format = "OPEN_EXR_MULTILAYER"
shot.render.image_settings.color_depth = "16"
shot.render.filepath = "//renders/shot_"

shot.use_nodes = True
tree = shot.node_tree
rl = tree.nodes["Render Layers"]
rl.scene = shot
rl.layer = "Beauty"
passes = tree.nodes.new("CompositorNodeOutputFile")
passes.base_path = "//passes/"
passes.format.file_format = "PNG"
passes.file_slots[0].path = "normal_"
tree.links.new(rl.outputs["Normal"], passes.inputs[0])
stray = tree.nodes.new("CompositorNodeOutputFile")
stray.base_path = os.path.join(abs_dir, "stray") + "/"
stray.format.file_format = "PNG"
stray.file_slots[0].path = "../../escape_"
tree.links.new(rl.outputs["Image"], stray.inputs[0])
multi = tree.nodes.new("CompositorNodeOutputFile")
multi.base_path = "//passes/multi_"
multi.format.file_format = "OPEN_EXR_MULTILAYER"
multi.layer_slots.new("normal")
tree.links.new(rl.outputs["Image"], multi.inputs[0])
tree.links.new(rl.outputs["Normal"], multi.inputs[1])

denoised = bpy.data.scenes.new("Denoised")
cycles(denoised)
denoised.cycles.use_denoising = True
denoised.camera = cam
denoised.collection.objects.link(cam)
denoised.collection.objects.link(sun)
denoised.collection.children.link(movers)
denoised.render.image_settings.file_format = "PNG"

stereo = bpy.data.scenes.new("Stereo")
cycles(stereo)
stereo.camera = cam
stereo.collection.objects.link(cam)
stereo.collection.objects.link(sun)
stereo.collection.children.link(movers)
stereo.render.use_multiview = True
stereo.render.views_format = "STEREO_3D"
stereo.render.image_settings.views_format = "INDIVIDUAL"
stereo.render.image_settings.file_format = "PNG"

bpy.context.window.scene = layout
os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
bpy.ops.wm.save_as_mainfile(filepath=out)
