/*  rm_outputs: a rendered frame made durable before it counts done, and
    the copies this node keeps for others.

    A frame's output (its files as one manifest in the store) is durable
    - with an S3 output (the job's out_url), once every file is in S3
      (rm_uploads: create-only writes; an object already there is left
      as it is); while S3 cannot be reached the frame waits on this disk
      and is tried again with backoff (the job's log says why); a failure
      that will not pass fails the frame on this node with the reason;
    - otherwise, once another member holds a copy (REPLICATE, answered OK
      once it has fetched output and log; a member is picked by rendezvous
      hash of job, frame and name, so copies spread); alone in the mesh,
      at once.
    Only then is the frame journalled done (rm_job_frame_done, fsync), with
    the grant it was rendered under.  A frame another node finished first
    is not recorded twice: the first output is the job's.

    The frames waiting here are still this worker's: its reports list them
    (rm_outputs_at), so the coordinator does not give them to another. */
#ifndef RM_OUTPUTS_H
#define RM_OUTPUTS_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_grants.h"
#include "rm_job.h"
#include "rm_jobs.h"
#include "rm_member.h"
#include "rm_uploads.h"
#include "rm_work_parts.h"
#include "rm_xfer.h"

#define RM_OUTPUTS_REPLICATE_MS 10000 /* a replica that does not answer: ask another */

typedef struct _rm_outputs_t rm_outputs_t;

/*  From the node's parts: its name, jobs, member, xfer, S3 uploader (NULL:
    none, s3_why says why) and max_attempts (a frame's failures before it
    fails the job).  grants: the worker's, read and dropped here. */
rm_outputs_t *rm_outputs_new(const rm_work_parts_t *parts, rm_grants_t *grants, rm_err_t *err);
void rm_outputs_destroy(rm_outputs_t **self_p);

/*  A frame rendered here: made durable, then recorded done. */
void rm_outputs_add(rm_outputs_t *self, rm_job_t *job, uint64_t frame,
                    const rm_frame_output_t *out);

/*  Frames waiting to be durable, each as (job id, frame). */
size_t rm_outputs_count(const rm_outputs_t *self);
const char *rm_outputs_at(const rm_outputs_t *self, size_t i, uint64_t *frame);

/*  The output and log manifests of the i-th frame waiting (the store's
    collector keeps them: an S3 outage may outlast its grace). */
void rm_outputs_hashes_at(const rm_outputs_t *self, size_t i, rm_hash_t *output, rm_hash_t *log);

/*  This node can write frames to S3 (jobs with an S3 output are for it). */
bool rm_outputs_can_s3(const rm_outputs_t *self);

/*  Handing back (drain): frames waiting for S3 are given up (released to
    pending, not counted as attempts), so the node can leave. */
void rm_outputs_release_uploads(rm_outputs_t *self);

/*  Copies served to others and not answered yet. */
size_t rm_outputs_serving(const rm_outputs_t *self);

/*  REPLICATE in (refused with EAGAIN while `leaving`), OK/ERROR answers to
    ours.  Returns false for other messages. */
bool rm_outputs_handle(rm_outputs_t *self, const char *from, const rm_msg_t *msg, bool leaving);

/*  An event of the uploader (its actor is readable). */
void rm_outputs_upload_event(rm_outputs_t *self);

/*  Replicas that did not answer: the next one is asked. */
void rm_outputs_tick(rm_outputs_t *self, int64_t now);
int64_t rm_outputs_wakeup(const rm_outputs_t *self, int64_t at);

#endif
