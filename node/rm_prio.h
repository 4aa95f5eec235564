/*  rm_prio: priorities that act at once, on the worker's side.

    The coordinator serves jobs by priority (rm_sched), but a worker holds
    work it got before a higher-priority job arrived: a queued task (its
    look-ahead, RM_WORK_LOOKAHEAD) and the frames its slots render.  Every
    node holds every job, so the worker itself sees the new job and gives
    back what it outranks (rm_work): queued tasks at once, and, when the new
    job was submitted with `preempt`, a running task, whose frames go back
    to pending without counting an attempt.  The coordinator then serves
    the higher job first to the slot that freed.

    This module only decides which job outranks another; no I/O. */
#ifndef RM_PRIO_H
#define RM_PRIO_H

#include <stdbool.h>

#include "rm_jobs.h"

/*  Whether this worker could render the job now (its project is here, its
    policy allows it). */
typedef bool(rm_prio_ready_fn)(void *arg, rm_job_t *job);

/*  The unfinished job of the highest priority strictly above `job`'s that
    has pending frames and is ready here (ready NULL: every job is), or
    NULL.  preempting: only jobs submitted with `preempt`.  Ties go to the
    earlier submission, as the coordinator serves them. */
rm_job_t *rm_prio_outranking(rm_jobs_t *jobs, const rm_job_t *job, bool preempting,
                             rm_prio_ready_fn *ready, void *arg);

#endif
