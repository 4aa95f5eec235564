/*  rm_uploads: rendered frames' files written to S3 (rm_s3_output) by a
    thread of its own, so that the node loop never waits on S3.

    Each upload is tried until it ends: stored (every file is in S3, or
    was already: create-only), or failed for a reason that will not pass
    (a wrong key or secret, a missing permission, no such bucket, a file
    name S3 cannot take here).  While S3 cannot be reached or does not
    serve (connection errors, 5xx, throttling, after rm_s3's own retries)
    the upload waits, its files on this node's disk, and is tried again
    after random × min(2^tries, RM_UPLOADS_BACKOFF_MAX_S) s; the node is
    told each time (WAITING), so the job's log says why its frames wait.
    No credentials at all (none set, and no instance role answering) fail
    at once.

    Stopping waits for the file being sent (curl gives up on a stalled
    transfer after 60 s); uploads not finished are forgotten: their
    frames were never counted done and are rendered again. */
#ifndef RM_UPLOADS_H
#define RM_UPLOADS_H

#include <czmq.h>
#include <stdint.h>

#include "rm_aws_config.h"
#include "rm_error.h"
#include "rm_hash.h"
#include "rm_store.h"

#define RM_UPLOADS_BACKOFF_MAX_S 60

typedef struct _rm_uploads_t rm_uploads_t;

/*  An uploader with these S3 settings (copied, then wiped here), reading
    outputs from store (shared: the store is safe to use from two
    threads); large files are assembled in tmpdir.  unit_ms scales the
    waits between tries (1000; tests use less). */
rm_uploads_t *rm_uploads_new(const rm_aws_settings_t *settings, rm_store_t *store,
                             const char *tmpdir, int unit_ms, rm_err_t *err);
void rm_uploads_destroy(rm_uploads_t **self_p);

/*  The actor to poll: readable when an event waits (rm_uploads_recv). */
zactor_t *rm_uploads_actor(rm_uploads_t *self);

/*  Queues output (a manifest in the store) for s3://bucket/prefix. */
int rm_uploads_add(rm_uploads_t *self, uint64_t id, const char *bucket, const char *prefix,
                   const rm_hash_t *output, rm_err_t *err);

/*  Forgets an upload (its job ended). */
void rm_uploads_drop(rm_uploads_t *self, uint64_t id);

typedef enum {
    RM_UPLOAD_STORED = 1,
    RM_UPLOAD_FAILED,
    RM_UPLOAD_WAITING,
} rm_upload_state_t;

typedef struct {
    uint64_t id;
    rm_upload_state_t state;
    rm_code_t code;   /* FAILED, WAITING: the error's code */
    char text[512];   /* FAILED, WAITING: why */
    uint32_t files;   /* STORED: objects written or found */
    uint32_t existed; /* STORED: of those, there already */
    uint32_t wait_s;  /* WAITING: seconds until the next try */
} rm_upload_event_t;

/*  Reads one event (call when the actor is readable).  -1 if none. */
int rm_uploads_recv(rm_uploads_t *self, rm_upload_event_t *ev);

#endif
