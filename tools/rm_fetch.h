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
    Then each missing file's chunks come (rm_fetch_file.h).

    The node asked fetches from the other members what it lacks.  It
    answers RM_EAGAIN while it does (we ask again after RM_FETCH_AGAIN_MS)
    and RM_ENOTFOUND when no live member holds the chunk: the frame's
    output is lost, and the mesh renders the frame again (JOB_INFO shows it
    pending, then done with a new output).  We re-read JOB_INFO every
    RM_FETCH_POLL_MS until it is done again and fetch the new output; a
    frame that is in S3 is not waited for (counted in stored_only).  The
    fetch fails for a lost frame only when its job is canceled, failed or
    removed, so it will not be rendered again.  JOB_INFO is re-read the
    same way while anything is left, so the files of an output that has
    since been replaced are not written. */
#ifndef RM_FETCH_H
#define RM_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_client.h"
#include "rm_manifest.h"

#define RM_FETCH_WINDOW 16
#define RM_FETCH_AGAIN_MS 1000 /* after RM_EAGAIN: the node is fetching it */
#define RM_FETCH_POLL_MS 2000  /* JOB_INFO while frames are lost or anything is left */

typedef struct {
    uint32_t frames_done; /* frames of the job with an output */
    uint32_t files;       /* files of those outputs */
    uint32_t fetched;     /* files written now */
    uint32_t present;     /* already in DIR and verified */
    uint32_t replaced;    /* of fetched: different files replaced (overwrite) */
    uint32_t not_done;    /* frames without output (yet) */
    uint32_t again;       /* of frames_done: fetched after being rendered again */
    uint32_t stored_only; /* of frames_done: lost on the mesh, in S3 only: not fetched */
    uint64_t bytes;       /* bytes written now */
    uint32_t stored;      /* frames stored in S3 (the job's out_url) */
    char out_url[RM_MAX_PATH + 1];
} rm_fetch_stats_t;

/*  Fetches every frame done now into dir (created if needed), waiting for
    lost ones to be rendered again; notes go to stderr.  RM_EINVAL when
    files in dir differ from the job's and !overwrite (the message names
    the first ones and the job), or a symlink or file is in the way;
    RM_ECANCELED when a frame's output is lost and its job will not render
    it again. */
int rm_fetch_job(rm_client_t *client, const char *job_id, const char *dir, bool overwrite,
                 rm_fetch_stats_t *st, rm_err_t *err);

/*  One done frame and its decoded output manifest. */
typedef struct {
    const rm_frame_info_t *frame; /* points into the job reply */
    rm_manifest_t manifest;       /* empty when error is set */
    char *error; /* why its manifest could not be had now (lost, still being fetched); NULL */
} rm_fetch_out_t;

/*  The output manifests of every done frame of `job` (*outs malloc'd, free
    with rm_fetch_outs_free); *not_done counts the frames without output.
    A frame whose manifest is lost or still being fetched by the node (asked
    again once) is listed with its error set, not a failure. */
int rm_fetch_manifests(rm_client_t *client, const rm_job_reply_t *job, rm_fetch_out_t **outs,
                       size_t *n, uint32_t *not_done, rm_err_t *err);
void rm_fetch_outs_free(rm_fetch_out_t *outs, size_t n);

/*  A frame's main file name is one that can be written into DIR: a safe
    relative path (no absolute, ".", ".." or empty components), no control
    characters, no component starting with '.'. */
bool rm_fetch_name_ok(const char *name);

#endif
