/*  rm_sched: the coordinator's scheduler.

    Every node has one; it decides only while the election makes this node
    the coordinator.  Workers pull: a worker with free slots (and every 2 s
    anyway) sends WORK_REQ with what it renders and which jobs' projects it
    holds; the scheduler answers with tasks (RM_MSG_ASSIGN) stamped with its
    epoch.  Pulling weights the mesh by speed on its own (a fast slot asks
    again sooner); on top of that:
    - a task is at most the job's chunk, and less near the end of the job:
      a worker gets its share of the remaining frames by its measured speed
      on this job (render_ms of the frames it finished), so a slow node does
      not end up holding the tail;
    - when nothing is pending, an idle worker gets a copy of the in-flight
      frame expected to finish last, if it would finish it sooner (the first
      output wins; the other is discarded by the merge rule);
    - jobs go by priority, then submission order;
    - the Flamenco rules: a frame never goes back to a node it failed on
      (unless every node that could render it has failed it), a node with 3
      failed frames of a job gets no more of that job, and a frame that
      failed on 3 nodes, or max_attempts times, fails the job with all its
      reasons.
    Frames held by a worker that is no longer alive (suspect counts as
    gone), that stopped reporting, or that no longer lists them, are given
    back: re-stamped pending, which every node's merge accepts over the old
    assignment (rm_job_merge.h, merge rule). */
#ifndef RM_SCHED_H
#define RM_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_jobs.h"

/*  A worker gone quiet for this long loses its frames. */
#define RM_SCHED_SILENT_MS 10000
/*  A frame missing from a worker's report is given back only if it was
    assigned this long before: the ASSIGN may still be on its way. */
#define RM_SCHED_GRACE_MS 3000
/*  A worker's flights are checked against its report at most this often
    (every report when it drains): a dropped frame goes back within
    RM_SCHED_GRACE_MS + RM_SCHED_RECONCILE_MS. */
#define RM_SCHED_RECONCILE_MS 1000
/*  Distinct nodes a frame may fail on, and failed frames a node may have
    in one job, before the job fails / the node is blocklisted for it. */
#define RM_SCHED_MAX_NODE_FAILURES 3

typedef struct _rm_sched_t rm_sched_t;

typedef struct {
    const char *name;
    bool alive;      /* alive in membership: suspect, dead and left are not */
    bool draining;   /* takes no new work */
    bool can_render; /* Blender works there and it has slots */
    uint64_t slots;
    uint64_t ms_per_frame; /* what it gossips (all jobs); 0 = unknown */
} rm_sched_worker_t;

rm_sched_t *rm_sched_new(rm_jobs_t *jobs, uint64_t max_attempts, rm_err_t *err);
void rm_sched_destroy(rm_sched_t **self_p);

/*  Starts or stops deciding.  On start every frame some node holds
    assigned is taken as in flight from now: its worker keeps it while it
    reports it. */
void rm_sched_set_acting(rm_sched_t *self, bool acting, uint64_t epoch, const char *name,
                         int64_t now);
bool rm_sched_acting(const rm_sched_t *self);

/*  The workers as membership sees them now (copied), this node included. */
int rm_sched_set_workers(rm_sched_t *self, const rm_sched_worker_t *workers, size_t count,
                         rm_err_t *err);

/*  A WORK_REQ from `worker`: takes in what it renders, then picks up to
    req->free tasks.  *out is an ASSIGN body to send back (free with
    rm_codec_free(rm_msg_desc(RM_MSG_ASSIGN), out)); it may hold no task.
    RM_EINVAL if this node is not acting. */
int rm_sched_request(rm_sched_t *self, const char *worker, const rm_work_req_t *req, int64_t now,
                     rm_assign_t *out, rm_err_t *err);

/*  Gives back the frames of workers that are gone or silent, and fails
    jobs by the Flamenco rules.  Call every few hundred ms while acting. */
void rm_sched_tick(rm_sched_t *self, int64_t now);

/*  Frames in flight that are still to render (each copy of a duplicated
    frame counts). */
size_t rm_sched_in_flight(rm_sched_t *self);
/*  Assignments made since the start (for benchmarks and logs). */
uint64_t rm_sched_assigned(const rm_sched_t *self);

#endif
