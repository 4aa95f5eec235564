/*  rm_grants: the signed assignments a worker holds until their frames are
    done.  The coordinator signs each frame it assigns (rm_job_proof.h) and
    sends the signatures with the task; the worker's done record carries
    the grant, so that every node can check that the frame was given to
    it.  Kept in memory only: a restarted worker renders nothing it was
    given before. */
#ifndef RM_GRANTS_H
#define RM_GRANTS_H

#include "rm_jobs.h"
#include "rm_msg.h"

typedef struct _rm_grants_t rm_grants_t;

rm_grants_t *rm_grants_new(void);
void rm_grants_destroy(rm_grants_t **self_p);

/*  Keeps the grants of an assigned task from `coordinator` (a task without
    one signature per frame keeps none); a later grant of a frame replaces
    the earlier. */
void rm_grants_take(rm_grants_t *self, const char *coordinator, const rm_bin_t *cred,
                    const rm_task_t *task);

/*  The grant of a frame, NULL if none is held. */
const rm_job_grant_t *rm_grants_find(rm_grants_t *self, const char *job_id, uint64_t frame);
void rm_grants_drop(rm_grants_t *self, const char *job_id, uint64_t frame);

/*  Drops the grants of frames no longer to render: their job is gone or
    finished, or the frame is done or failed. */
void rm_grants_prune(rm_grants_t *self, rm_jobs_t *jobs);

size_t rm_grants_count(rm_grants_t *self);

#endif
