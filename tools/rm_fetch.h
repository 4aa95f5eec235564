/*  rm_fetch: bringing a job's rendered frames home.

    Each done frame carries `output`, the hash of a one-file manifest chunk,
    and `file`, its name (frame_0001.png).  We CHUNK_GET every frame's
    manifest (pipelined), then each missing file's chunks (pipelined),
    verify every chunk against its hash, and write DIR/FILE through a
    temporary name and a rename, so DIR never holds a partial frame under
    a final name.  A file already in DIR whose chunks all verify is kept. */
#ifndef RM_FETCH_H
#define RM_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_client.h"

#define RM_FETCH_WINDOW 16

typedef struct {
    uint32_t frames_done; /* frames of the job with an output */
    uint32_t fetched;     /* files written now */
    uint32_t present;     /* already in DIR and verified */
    uint32_t not_done;    /* frames without output (yet) */
    uint64_t bytes;       /* bytes written now */
} rm_fetch_stats_t;

int rm_fetch_job(rm_client_t *client, const char *job_id, const char *dir, rm_fetch_stats_t *st,
                 rm_err_t *err);

/*  A frame's file name is safe to write into DIR: one path component,
    not "." or "..", no control characters, not starting with '.'. */
bool rm_fetch_name_ok(const char *name);

#endif
