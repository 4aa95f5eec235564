/*  rm_project: the project a client submits, without its bytes in memory.

    A project is a .blend plus the files and folders it uses, below a root
    folder.  rm_project_new builds its manifest (rm_manifest_build, no
    store) and keeps only the
    manifest and the manifest chunk; projects can be gigabytes.  When the
    node asks for a chunk, rm_project_chunk finds which file holds it (from
    the manifest), re-chunks that file with rm_chunker_next while streaming
    it (once per file, on first need: the chunk offsets are kept), reads the
    chunk back and re-hashes it: a file edited since the manifest was built
    is reported, never sent as something it is not. */
#ifndef RM_PROJECT_H
#define RM_PROJECT_H

#include <stddef.h>
#include <stdint.h>

#include "rm_chunker.h"
#include "rm_error.h"
#include "rm_manifest.h"
#include "rm_msg.h"

typedef struct _rm_project_t rm_project_t;

/*  `paths` (the .blend among them) are stored below `root`; `blend` names
    the .blend, which must be inside root.  `sink` (if not NULL) gets each
    new chunk as it is made, the manifest chunk last (rm_push sends them
    on while the rest is chunked). */
rm_project_t *rm_project_new(const char *root, const char *blend, const char *const *paths,
                             size_t npaths, rm_chunk_sink_fn sink, void *sink_arg, rm_err_t *err);
void rm_project_destroy(rm_project_t **self_p);

const rm_hash_t *rm_project_manifest_hash(const rm_project_t *self);
/*  Path of the .blend inside the manifest. */
const char *rm_project_blend_rel(const rm_project_t *self);
/*  Distinct chunks, the manifest chunk included, and their bytes. */
uint32_t rm_project_chunks_total(const rm_project_t *self);
uint64_t rm_project_bytes_total(const rm_project_t *self);
uint32_t rm_project_files(const rm_project_t *self);

/*  The bytes of chunk `hash` (malloc'd).  RM_ENOTFOUND if the project has
    no such chunk; RM_EINVAL "PATH changed since ..." if the file no longer
    holds it. */
int rm_project_chunk(rm_project_t *self, const rm_hash_t *hash, uint8_t **data, size_t *len,
                     rm_err_t *err);

/*  Streams the file at `path` through the chunker: fn is called for each
    chunk in order with its offset and bytes (valid during the call only).
    Stops at the first fn that fails. */
int rm_chunk_file(const char *path, rm_chunker_fn *fn, void *arg, rm_err_t *err);

#endif
