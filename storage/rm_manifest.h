/*  rm_manifest: the list of files of a project (or of one rendered frame)
    and the chunks that make each of them.

    A manifest is itself stored as a chunk (msgpack via rm_codec), so a job
    names its whole project by one hash and two nodes holding the same
    manifest hash hold the same bytes.  Paths are relative, '/'-separated,
    and may not be absolute, contain "..", "." or empty components, or NUL:
    a decoder refuses them so a hostile manifest cannot write outside the
    job's folder. */
#ifndef RM_MANIFEST_H
#define RM_MANIFEST_H

#include "rm_codec.h"
#include "rm_msg.h"
#include "rm_store.h"

#define RM_MANIFEST_MAX_FILES 100000
#define RM_MANIFEST_MAX_CHUNKS_PER_FILE (1u << 20) /* 256 GiB at 256 KiB */

typedef struct {
    char *path;    /* relative to the project root */
    uint64_t mode; /* permission bits (0644, 0755) */
    uint64_t size; /* bytes */
    RM_LIST(rm_hash_t) chunks;
} rm_manifest_file_t;

typedef struct {
    uint64_t version; /* 1 */
    RM_LIST(rm_manifest_file_t) files;
} rm_manifest_t;

extern const rm_struct_desc_t rm_manifest_desc;

/*  Builds a manifest of the files and folders (recursively) in `paths`,
    each stored under its path below the folder `root`.  Paths are taken
    lexically, as Blender resolves "//../x" (rm_tree.h): ".." is removed
    without resolving symlinks, so the tree on a node looks like the one
    Blender sees here, and contents are read through symlinks.  A path
    outside root is refused (RM_EINVAL, naming it and the root).  Chunks go
    into `store` if it is not NULL; `sink` (if not NULL) is called for each
    new chunk instead/as well, so a client without a store can keep them in
    memory.  Files are listed sorted by path so the same tree always gives
    the same manifest hash. */
typedef int (*rm_chunk_sink_fn)(void *arg, const rm_hash_t *hash, const uint8_t *data, size_t len,
                                rm_err_t *err);
int rm_manifest_build(const char *root, const char *const *paths, size_t npaths, rm_store_t *store,
                      rm_chunk_sink_fn sink, void *sink_arg, rm_manifest_t *manifest,
                      rm_err_t *err);

/*  Encodes manifest, stores it as a chunk (store and/or sink) and returns its
    hash.  A manifest larger than RM_MAX_CHUNK_SIZE is refused (RM_EINVAL). */
int rm_manifest_store(const rm_manifest_t *manifest, rm_store_t *store, rm_chunk_sink_fn sink,
                      void *sink_arg, rm_hash_t *hash, rm_err_t *err);

/*  Loads and decodes (and validates paths of) the manifest chunk `hash`. */
int rm_manifest_load(rm_store_t *store, const rm_hash_t *hash, rm_manifest_t *manifest,
                     rm_err_t *err);
int rm_manifest_decode(const uint8_t *data, size_t len, rm_manifest_t *manifest, rm_err_t *err);

/*  Appends to *missing (malloc'd, *nmissing updated) each distinct chunk of
    the manifest the store does not have, at most `max` in all. */
int rm_manifest_missing(const rm_manifest_t *manifest, rm_store_t *store, rm_hash_t **missing,
                        uint32_t *nmissing, uint32_t max, rm_err_t *err);

/*  Lists (malloc'd) the manifest's distinct chunks in listing order: files
    in order, each file's chunks in order, a repeated chunk where it first
    appears (the bit order of a CHUNK_MAP_REPLY). */
int rm_manifest_chunks(const rm_manifest_t *manifest, rm_hash_t **chunks, uint32_t *nchunks,
                       rm_err_t *err);

/*  Writes every file of the manifest under dir (created 0700), from chunks
    in store, verifying sizes; writes each file to a temporary name and
    renames it, so a half-written tree is never mistaken for a complete one.
    Files that already exist with the right size are rewritten anyway. */
int rm_manifest_materialize(const rm_manifest_t *manifest, rm_store_t *store, const char *dir,
                            rm_err_t *err);

/*  Chunks and stores one file (a rendered frame) as a one-file manifest
    named `name`; returns the manifest's hash and the file size. */
int rm_manifest_store_file(rm_store_t *store, const char *path, const char *name, rm_hash_t *hash,
                           uint64_t *size, rm_err_t *err);

/*  Chunks and stores the files a render wrote, dir/names[i] stored as
    names[i] (relative, checked like any manifest path, no duplicates),
    as one manifest listed in name order; a symbolic link is refused (its
    target is not the render's).  *size is the bytes of all of them. */
int rm_manifest_store_files(rm_store_t *store, const char *dir, const char *const *names, size_t n,
                            rm_hash_t *hash, uint64_t *size, rm_err_t *err);

void rm_manifest_free(rm_manifest_t *manifest);

#endif
