/*  rm_submit: turning `meshctl submit` options into a job, and the
    submit conversation with a node:

        SUBMIT -> NEED {hashes} -> CHUNK_PUT each (16 in flight, each must
        come back CHUNK_OK) -> SUBMIT again ... -> ACCEPTED

    SUBMIT is idempotent by job id (chosen here, 16 hex characters from
    randombytes), so a SUBMIT whose reply is lost is simply sent again. */
#ifndef RM_SUBMIT_H
#define RM_SUBMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_cli.h"
#include "rm_client.h"
#include "rm_deps.h"
#include "rm_msg.h"
#include "rm_project.h"
#include "rm_scan.h"

#define RM_SUBMIT_WINDOW 16 /* CHUNK_PUTs in flight */
#define RM_SUBMIT_RETRIES 3 /* SUBMITs sent again after a timeout */

typedef struct {
    rm_job_spec_t spec;  /* heap strings, free with rm_submit_req_free */
    const char *blend;   /* the .blend, as given */
    bool s3;             /* it is an s3:// URL: the node reads the project (rm_import) */
    char *blend_abs;     /* absolute, lexical */
    const char **attach; /* --attach paths (point into the command line) */
    size_t nattach;
    const char *out; /* --out DIR or NULL (--out s3://... is spec.out_url) */
    bool wait;       /* --wait or --out */
    bool scanned;    /* the local Blender read the file (not --no-scan) */
    rm_scan_t scan;  /* what it found */
    rm_deps_t deps;  /* the project's root and files */
} rm_submit_req_t;

/*  Validates everything the user gave, before any network: the file is a
    .blend (magic "BLENDER", gzip or zstd), frames parse, enums and numbers
    are in range, attached paths exist; then asks the local Blender once
    (rm_scan, unless --no-scan) for the frame range, the files the .blend
    uses (missing ones refused unless --allow-missing: rm_deps) and whether
    it denoises (then spec.requires holds "denoise", or --no-denoise sets
    spec.no_denoise).  An s3:// .blend is read by the node, not here: its
    URL and those of --attach are checked, and --frames is required.
    --out s3://BUCKET/PREFIX/ sets spec.out_url.  RM_EINVAL with a message
    naming the option or file.  The job id is left empty (see
    rm_submit_new_id). */
int rm_submit_req_parse(const rm_args_t *args, rm_submit_req_t *req, rm_err_t *err);
void rm_submit_req_free(rm_submit_req_t *req);

/*  Checks the first bytes of a .blend. */
int rm_submit_check_blend(const char *path, rm_err_t *err);

/*  A fresh job id: 16 lowercase hex characters (out: 17 bytes). */
void rm_submit_new_id(char out[17]);

typedef struct {
    uint64_t frames_total; /* from ACCEPTED */
    uint32_t chunks_sent;
    uint64_t bytes_sent;
    uint32_t chunks_total; /* distinct chunks of the project, manifest included */
    uint32_t rounds;       /* SUBMITs answered NEED */
} rm_submit_stats_t;

/*  Runs the submit conversation for `spec` (whose manifest must be the
    project's; project NULL: one the node imported from S3, and a NEED is
    an error) until the node accepts the job.  Failures: the node refused
    (rm_client_refused), RM_ETIMEOUT, or the project changed on disk. */
int rm_submit_run(rm_client_t *client, rm_project_t *project, const rm_job_spec_t *spec,
                  rm_submit_stats_t *stats, rm_err_t *err);

#endif
