/*  rm_prio: priorities that act at once, on the worker's side.

    The coordinator serves jobs by priority (rm_sched), but a worker holds
    work it got before a higher-priority job arrived: a queued task (its
    look-ahead, RM_WORK_LOOKAHEAD) and the frames its slots render.  Every
    node holds every job, so the worker itself sees the new job and gives
    back what it outranks (rm_work): queued tasks at once, and, when the new
    job was submitted with `preempt`, a running task, whose frames go back
    to pending without counting an attempt.  The coordinator then serves
    the higher job first to the slot that freed.

    No I/O of its own: rm_work calls it every few hundred ms. */
#ifndef RM_PRIO_H
#define RM_PRIO_H

#include <stdbool.h>

#include "rm_jobs.h"
#include "rm_slots.h"

/*  Whether this worker could render the job now (its project is here, its
    policy allows it). */
typedef bool(rm_prio_ready_fn)(void *arg, rm_job_t *job);

/*  The unfinished job of the highest priority strictly above `job`'s that
    has pending frames and is ready here (ready NULL: every job is), or
    NULL.  preempting: only jobs submitted with `preempt`.  Ties go to the
    earlier submission, as the coordinator serves them. */
rm_job_t *rm_prio_outranking(rm_jobs_t *jobs, const rm_job_t *job, bool preempting,
                             rm_prio_ready_fn *ready, void *arg);

/*  Removes from queue (*n tasks, in order) each task whose job is
    outranked, or gone: its frames are released here (pending at once; the
    coordinator re-stamps them when the worker's report omits them) and
    the job's log says why.  Returns how many tasks were removed. */
size_t rm_prio_take_back(rm_jobs_t *jobs, rm_task_t *queue, size_t *n, rm_prio_ready_fn *ready,
                         void *arg, const char *node);

/*  Stops the task of the first slot whose job a job submitted with
    `preempt` outranks, one with pending frames or one of whose tasks waits
    in queue (*n tasks) for a slot (rm_slots_stop: the stopped frames go
    back to pending without an attempt).  True if one was stopped. */
bool rm_prio_preempt(rm_jobs_t *jobs, rm_slots_t *slots, const rm_task_t *queue, size_t n,
                     rm_prio_ready_fn *ready, void *arg);

#endif
