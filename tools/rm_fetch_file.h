/*  rm_fetch_file: the pieces rm_fetch puts together: frames' output
    manifests asked for many at once, and one output file into DIR.

    A manifest the node answers RM_EAGAIN (it is fetching it from the mesh)
    or RM_ENOTFOUND (no live member holds it) is not a failure: the caller
    decides, per frame.

    A file's chunks are asked for in passes (pipelined, rm_client_pipeline_each).
    A pass asks for every chunk not yet here: those the node answers with
    CHUNK_DATA are checked against their hash and written in order to a
    temporary name in the destination's folder (chunks that arrive before
    their turn wait in memory); those it answers RM_EAGAIN (it is fetching
    them from the mesh) are asked for again by the next pass; one it answers
    RM_ENOTFOUND means no live node holds the file now (the frame's output
    is lost).  Once every chunk is written the file is renamed to its final
    name, so DIR never holds a partial file under a final name.  The
    temporary file is created at the first write and removed when the file
    is abandoned. */
#ifndef RM_FETCH_FILE_H
#define RM_FETCH_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_client.h"
#include "rm_fetch.h"
#include "rm_manifest.h"

#define RM_FETCH_PATH_MAX 4096

typedef enum {
    RM_FETCH_COMPLETE, /* every chunk written: ready to commit */
    RM_FETCH_AGAIN,    /* some chunks are not on the node yet: another pass later */
    RM_FETCH_LOST,     /* a chunk no live node holds */
} rm_fetch_pass_t;

typedef struct {
    const rm_manifest_file_t *mf;
    char path[RM_FETCH_PATH_MAX]; /* the final name */
    char tmp[RM_FETCH_PATH_MAX + 100];
    int fd;            /* the temporary file; -1 before the first write */
    uint8_t **pending; /* chunks that arrived before their turn */
    size_t *pending_len;
    uint32_t next_write; /* index of the next chunk to write */
    uint64_t written;
    uint64_t held;      /* bytes waiting in pending */
    uint32_t *ask;      /* this pass: chunk indexes asked */
    bool again, lost;   /* this pass's outcome */
    char lost_why[256]; /* the node's words for the lost chunk */
} rm_fetch_file_t;

bool rm_fetch_has_output(const rm_frame_info_t *f);                /* done, with an output */
int rm_fetch_unsafe_name(const rm_frame_info_t *f, rm_err_t *err); /* RM_EPROTO, naming it */
void rm_fetch_sleep_ms(int64_t ms);

/*  --- Output manifests ------------------------------------------------------------ */

typedef enum { RM_FETCH_GOT, RM_FETCH_WAIT, RM_FETCH_GONE } rm_fetch_got_t;

typedef struct {
    uint64_t frame;
    rm_hash_t output;
    const char *file;       /* its main file: the manifest must hold it */
    rm_manifest_t manifest; /* RM_FETCH_GOT: the caller's to free */
    rm_fetch_got_t got;     /* RM_FETCH_WAIT: RM_EAGAIN; RM_FETCH_GONE: RM_ENOTFOUND */
    char why[256];          /* the node's words, when not got */
} rm_fetch_mget_t;

/*  Asks for n manifests at once (pipelined); each g[i].got says how it
    went.  Fails on a real error (a bad manifest, another refusal, no
    answer), then every manifest had is freed. */
int rm_fetch_get_manifests(rm_client_t *client, rm_fetch_mget_t *g, size_t n, rm_err_t *err);

/*  --- One file --------------------------------------------------------------------- */

/*  Checks a CHUNK_DATA reply against the hash asked for (RM_EPROTO). */
int rm_fetch_check_chunk(const rm_msg_t *reply, const rm_hash_t *want, rm_err_t *err);

/*  Prepares f to fetch mf into dir/mf->path: creates the folders on the
    way, none of them a symlink. */
int rm_fetch_file_begin(rm_fetch_file_t *f, const char *dir, const rm_manifest_file_t *mf,
                        rm_err_t *err);

/*  One pass; *out says how it went.  Fails on a real error (hash mismatch,
    disk, a refusal other than RM_EAGAIN / RM_ENOTFOUND, no answer). */
int rm_fetch_file_pass(rm_client_t *client, rm_fetch_file_t *f, rm_fetch_pass_t *out,
                       rm_err_t *err);

/*  After RM_FETCH_COMPLETE: closes, checks the size, renames into place. */
int rm_fetch_file_commit(rm_fetch_file_t *f, rm_err_t *err);

/*  Frees f; removes its temporary file if it was not committed. */
void rm_fetch_file_abandon(rm_fetch_file_t *f);

/*  --- Checks against DIR, before anything is written ----------------------------- */

typedef enum { RM_FETCH_NEW, RM_FETCH_PRESENT, RM_FETCH_DIFFERS } rm_fetch_there_t;

/*  What dir/mf->path is now: absent, a file whose chunks all verify, or a
    different file.  A symlink in the way, or a file where a folder must
    go, fails (RM_EINVAL). */
int rm_fetch_classify(const char *dir, const rm_manifest_file_t *mf, rm_fetch_there_t *there,
                      rm_err_t *err);

bool rm_fetch_same_content(const rm_manifest_file_t *a, const rm_manifest_file_t *b);

#endif
