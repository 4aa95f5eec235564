"""Compares two PNGs pixel by pixel (decoded, so the compression does not
matter), for tests that hold the mesh's frames against Blender's own.

    python3 pngdiff.py A.png B.png  ->  {"pixels": N, "differ": K, "max": M, "magenta": P}

Exit 0 when every pixel is equal, 1 otherwise.  `magenta` counts A's pixels
of Blender's missing-texture colour."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngstat import read_png  # noqa: E402


def main():
    a, ca = read_png(sys.argv[1])
    b, cb = read_png(sys.argv[2])
    differ = biggest = pixels = magenta = 0
    same_shape = len(a) == len(b) and all(len(x) // ca == len(y) // cb for x, y in zip(a, b))
    if same_shape:
        for ra, rb in zip(a, b):
            for i in range(len(ra) // ca):
                pa, pb = ra[i * ca:i * ca + 3], rb[i * cb:i * cb + 3]
                d = max(abs(x - y) for x, y in zip(pa, pb))
                pixels += 1
                differ += d > 0
                biggest = max(biggest, d)
                magenta += pa[0] > pa[1] + 40 and pa[2] > pa[1] + 40
    print(json.dumps({"pixels": pixels, "differ": differ if same_shape else -1,
                      "max": biggest, "magenta": magenta}))
    sys.exit(0 if same_shape and differ == 0 else 1)


main()
