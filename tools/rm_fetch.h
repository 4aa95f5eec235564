/*  rm_fetch: bringing a job's rendered files home.

    Each done frame carries `output`, the hash of a manifest chunk listing
    every file Blender wrote for that frame, with paths relative to the
    frame's output folder (frame_0001.png, passes/normal_0001.exr), and
    `file`, the main image's path in it; an older one-file manifest is the
    same thing with one file.  We CHUNK_GET every frame's manifest
    (pipelined), then plan: a file already in DIR whose chunks all verify
    is kept (fetching again is idempotent); one that differs is a conflict,
    and any conflict stops the fetch before anything is written, unless
    `overwrite`.  A symlink in the way of a destination, or a file where a
    folder must go, is always refused: nothing is written through a link.
    Then each missing file's chunks come (pipelined), each verified against
    its hash, written through a temporary name in the destination's folder
    and renamed, so DIR never holds a partial file under a final name. */
#ifndef RM_FETCH_H
#define RM_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_client.h"
#include "rm_manifest.h"

#define RM_FETCH_WINDOW 16

typedef struct {
    uint32_t frames_done; /* frames of the job with an output */
    uint32_t files;       /* files of those outputs */
    uint32_t fetched;     /* files written now */
    uint32_t present;     /* already in DIR and verified */
    uint32_t replaced;    /* of fetched: different files replaced (overwrite) */
    uint32_t not_done;    /* frames without output (yet) */
    uint64_t bytes;       /* bytes written now */
    uint32_t stored;      /* frames stored in S3 (the job's out_url) */
    char out_url[RM_MAX_PATH + 1];
} rm_fetch_stats_t;

/*  Fetches into dir (created if needed).  RM_EINVAL when files in dir
    differ from the job's and !overwrite (the message names the first ones
    and the job), or a symlink or file is in the way. */
int rm_fetch_job(rm_client_t *client, const char *job_id, const char *dir, bool overwrite,
                 rm_fetch_stats_t *st, rm_err_t *err);

/*  One done frame and its decoded output manifest. */
typedef struct {
    const rm_frame_info_t *frame; /* points into the job reply */
    rm_manifest_t manifest;
} rm_fetch_out_t;

/*  The output manifests of every done frame of `job` (*outs malloc'd, free
    with rm_fetch_outs_free); *not_done counts the frames without output. */
int rm_fetch_manifests(rm_client_t *client, const rm_job_reply_t *job, rm_fetch_out_t **outs,
                       size_t *n, uint32_t *not_done, rm_err_t *err);
void rm_fetch_outs_free(rm_fetch_out_t *outs, size_t n);

/*  A frame's main file name is one that can be written into DIR: a safe
    relative path (no absolute, ".", ".." or empty components), no control
    characters, no component starting with '.'. */
bool rm_fetch_name_ok(const char *name);

#endif
