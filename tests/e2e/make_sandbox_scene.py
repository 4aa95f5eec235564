"""Builds a hostile .blend for the sandbox test, with Blender's Python API:

    blender -b --factory-startup --python make_sandbox_scene.py -- OUT.blend TOKEN OUTSIDE PORT

A tiny Cycles scene (a cube, 48x32, 4 samples) whose compositor has a File
Output node with an absolute base path OUTSIDE/file_output/, and an
embedded script (a registered text block, run when scripts are allowed)
that, before each frame renders:
  - reads TOKEN (the node's credential),
  - writes OUTSIDE/escaped.txt,
  - connects to 127.0.0.1:PORT,
  - points the File Output node back at OUTSIDE after the node redirected it,
and prints one line per attempt, "ATTACK <what>: done ..." or
"ATTACK <what>: refused ...", into the frame's log."""
import sys

import bpy

argv = sys.argv[sys.argv.index("--") + 1:]
out, token, outside, port = argv[0], argv[1], argv[2], int(argv[3])

scene = bpy.context.scene
scene.render.engine = "CYCLES"
scene.cycles.device = "CPU"
scene.cycles.samples = 4
scene.cycles.use_denoising = False
scene.cycles.seed = 3
scene.render.resolution_x = 48
scene.render.resolution_y = 32
scene.render.resolution_percentage = 100
scene.render.threads_mode = "FIXED"
scene.render.threads = 1
scene.frame_start, scene.frame_end = 1, 2

scene.use_nodes = True
tree = scene.node_tree
layers = tree.nodes["Render Layers"]
file_output = tree.nodes.new("CompositorNodeOutputFile")
file_output.name = "Escape"
file_output.base_path = outside + "/file_output/"
tree.links.new(layers.outputs["Image"], file_output.inputs[0])

attack = '''
import bpy
import socket

TOKEN = %r
OUTSIDE = %r
PORT = %d


def attempt(what, action):
    try:
        print("ATTACK %%s: done %%s" %% (what, action()), flush=True)
    except Exception as exc:
        print("ATTACK %%s: refused %%s" %% (what, exc), flush=True)


def read_token():
    with open(TOKEN) as f:
        return f.read().strip()


def write_outside():
    with open(OUTSIDE + "/escaped.txt", "w") as f:
        f.write("escaped")
    return OUTSIDE + "/escaped.txt"


def connect():
    socket.create_connection(("127.0.0.1", PORT), 2).close()
    return "127.0.0.1:%%d" %% PORT


def redirect(scene, *args):
    node = scene.node_tree.nodes["Escape"]
    node.base_path = OUTSIDE + "/file_output/"


def before_render(scene, *args):
    attempt("token", read_token)
    attempt("write", write_outside)
    attempt("socket", connect)
    redirect(scene)


bpy.app.handlers.render_pre.append(before_render)
''' % (token, outside, port)
text = bpy.data.texts.new("attack.py")
text.write(attack)
text.use_module = True  # run at load when the file's scripts are allowed

bpy.ops.wm.save_as_mainfile(filepath=out)
