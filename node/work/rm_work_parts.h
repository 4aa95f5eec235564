/*  rm_work_parts: the node's parts that its worker and the worker's outputs
    work with.  None is owned by them: the node builds each once and keeps
    it for its whole life.  One struct, filled from the node's context, so
    that the work side is built from it rather than from a dozen arguments. */
#ifndef RM_WORK_PARTS_H
#define RM_WORK_PARTS_H

#include "rm_config.h"
#include "rm_election.h"
#include "rm_jobs.h"
#include "rm_jobsync.h"
#include "rm_member.h"
#include "rm_sched.h"
#include "rm_slots.h"
#include "rm_uploads.h"
#include "rm_xfer.h"

typedef struct {
    const rm_config_t *config; /* copied where kept: the name, max_attempts, ... */
    rm_jobs_t *jobs;
    rm_slots_t *slots;
    rm_sched_t *sched;
    rm_jobsync_t *jobsync;
    rm_member_t *member;
    rm_xfer_t *xfer;
    const rm_election_t *election; /* read, never written: the node's own */
    rm_uploads_t *uploads;         /* the node's S3 uploader; NULL: none ... */
    const char *s3_why;            /* ... and why (said in a frame's error) */
} rm_work_parts_t;

#endif
