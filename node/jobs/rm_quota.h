/*  rm_quota: what one submitter may ask of the mesh (issue 8, point 5).

    Bounds on a job's settings, by the submitter's role (samples and
    resolution it may ask for; priorities: artists within
    ±artist_max_priority, admins within ±RM_QUOTA_MAX_PRIORITY), and
    quotas per submitter: unfinished jobs in the mesh (every node holds
    every job, so each node counts the same), submissions per minute to
    this node, and bytes of projects held (each distinct project once, by
    its manifest; a project this node does not hold counts nothing here).
    Each refusal names the limit and the setting of meshd.conf that sets
    it. */
#ifndef RM_QUOTA_H
#define RM_QUOTA_H

#include <stdint.h>

#include "rm_config.h"
#include "rm_jobs.h"
#include "rm_store.h"

#define RM_QUOTA_MAX_PRIORITY 1000000
#define RM_QUOTA_WINDOW_MS 60000

typedef struct _rm_quota_t rm_quota_t;

rm_quota_t *rm_quota_new(const rm_config_t *config);
void rm_quota_destroy(rm_quota_t **self_p);

/*  The job's settings against the bounds for `role` (admin | artist):
    RM_EINVAL naming the first that is out of bounds. */
int rm_quota_check_spec(const rm_quota_t *self, const char *role, const rm_job_spec_t *spec,
                        rm_err_t *err);

/*  A priority within the bounds of `role` (as rm_quota_check_spec). */
int rm_quota_check_priority(const rm_quota_t *self, const char *role, int64_t priority,
                            rm_err_t *err);

/*  A new job from `submitter` at now_ms: RM_EAGAIN if it already has
    quota_jobs unfinished jobs in `jobs`, or sent quota_submits in the last
    minute; else 0, and the submission counts. */
int rm_quota_admit(rm_quota_t *self, rm_jobs_t *jobs, const char *submitter, int64_t now_ms,
                   rm_err_t *err);

/*  Bytes of the distinct projects of `submitter`'s jobs in `jobs`
    (finished or not, until removed) and of the project `manifest`, if new:
    RM_EAGAIN naming quota_stored_gb when over it.  A project's size (the
    sum of its files' sizes) is read from its manifest in store once and
    remembered. */
int rm_quota_check_stored(rm_quota_t *self, rm_jobs_t *jobs, rm_store_t *store,
                          const char *submitter, const rm_hash_t *manifest, rm_err_t *err);

#endif
