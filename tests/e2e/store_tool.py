#!/usr/bin/env python3
"""Looks into a stopped or running node's chunk store from a test, the way
storage/ lays it out: chunk files ROOT/ab/<64 hex> and pack files
ROOT/packs/<16 hex>.pack, each a sequence of records "RMP1", u32 length
(little-endian), SHA-256 (32 bytes), data (storage/rm_packs.h).

  store_tool.py holds STORE HASH      exit 0 if the store holds the chunk
  store_tool.py keep-only STORE HASH  deletes every chunk but HASH (the
                                      node must be stopped)
"""
import glob
import os
import struct
import sys


def records(path):
    """(hash hex, offset, length) of each whole record of a pack."""
    data = open(path, "rb").read()
    off = 0
    while off + 40 <= len(data) and data[off:off + 4] == b"RMP1":
        n = struct.unpack_from("<I", data, off + 4)[0]
        if off + 40 + n > len(data):
            break
        yield data[off + 8:off + 40].hex(), off, 40 + n
        off += 40 + n


def packs(store):
    return glob.glob(os.path.join(store, "packs", "*.pack"))


def holds(store, h):
    if os.path.isfile(os.path.join(store, h[:2], h)):
        return True
    return any(r[0] == h for p in packs(store) for r in records(p))


def keep_only(store, h):
    for path in glob.glob(os.path.join(store, "??", "*")):
        if os.path.basename(path) != h:
            os.remove(path)
    for path in packs(store):
        data = open(path, "rb").read()
        kept = b"".join(data[off:off + n] for rh, off, n in records(path) if rh == h)
        if kept:
            with open(path, "wb") as f:
                f.write(kept)
        else:
            os.remove(path)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("holds", "keep-only"):
        sys.exit(__doc__)
    if sys.argv[1] == "holds":
        sys.exit(0 if holds(sys.argv[2], sys.argv[3]) else 1)
    keep_only(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
