/*  rm_jobs: the jobs a node holds, ROOT/<id> for each, in submission
    order.  Every node holds every job: a job is created here (a
    submission) or adopted from a peer's record, and peers' records of the
    jobs held here merge into them by the merge rule (rm_job_merge).

    The modules below it, one concern each:
      rm_job_record   the record in memory and in bytes (snapshot, journal
                      entries, JOB_SYNC and JOB_DELTA payloads, formats);
      rm_job_journal  the record on disk: snapshot + fsync'd journal, replay;
      rm_job_merge    the merge rule between two records (a CRDT);
      rm_job          one job: its state changes, merges, views. */
#ifndef RM_JOBS_H
#define RM_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_job.h"
#include "rm_msg.h"
#include "rm_tombstones.h"

typedef struct _rm_jobs_t rm_jobs_t;

/*  Opens ROOT (created 0700) and loads every job in it; a job that cannot
    be loaded is skipped, with a line on stderr. */
rm_jobs_t *rm_jobs_new(const char *root, rm_err_t *err);
void rm_jobs_destroy(rm_jobs_t **self_p);

/*  Creates a job from spec (frames expanded).  The job is durable when this
    returns 0.  A job with the same id and manifest already present is not an
    error (*created = false): submission is idempotent. */
int rm_jobs_create(rm_jobs_t *self, const rm_job_spec_t *spec, rm_job_t **job, bool *created,
                   rm_err_t *err);

rm_job_t *rm_jobs_find(rm_jobs_t *self, const char *job_id);

/*  A job with changes to spread (rm_job_has_changes), taken out of the set
    of such jobs; NULL when none has any.  Spreading is then not a scan of
    every job. */
rm_job_t *rm_jobs_take_dirty(rm_jobs_t *self);
size_t rm_jobs_count(rm_jobs_t *self);
rm_job_t *rm_jobs_at(rm_jobs_t *self, size_t index); /* in submission order */

/*  The unfinished jobs, in submission order: what the loop's scans (the
    scheduler, priorities, a worker's report) look at, so that finished
    jobs cost them nothing.  Valid until the table next changes (a job
    created, adopted, removed or reopened); a job that finishes meanwhile stays in
    it until the next call. */
rm_job_t *const *rm_jobs_active(rm_jobs_t *self, size_t *count);

/*  Merges an exported record (rm_job_export) into the table by the merge
    rule.  Input is decoded with bounds; anything malformed (truncated,
    trailing bytes, another format version, frames that do not match the
    spec, failed_on unsorted) is RM_EPROTO; a spec that differs from ours is
    RM_EINVAL.  An unknown job is created, durably, as by rm_jobs_create; a
    known one merges it as rm_job_apply_record.  *job is the job (NULL on
    error); *changed is true if our state changed (version + 1): gossip it
    on.  The job's spec is NOT checked against this node's policy
    (allow_scripts, engines): the caller must, before rendering a job it
    did not accept itself.  An unknown job is created only if the check set
    with rm_jobs_set_adopt_check accepts its spec (the submitter's
    signature). */
typedef int(rm_jobs_spec_check_fn)(void *arg, const rm_job_spec_t *spec, rm_err_t *err);
void rm_jobs_set_adopt_check(rm_jobs_t *self, rm_jobs_spec_check_fn *check, void *arg);

/*  Every job held and every job to come signs and checks frame records
    with trust (rm_job_set_trust); trust must outlive the table. */
void rm_jobs_set_trust(rm_jobs_t *self, const rm_job_trust_t *trust);

const rm_job_trust_t *rm_jobs_trust(rm_jobs_t *self); /* NULL until set */

int rm_jobs_merge(rm_jobs_t *self, const uint8_t *buf, size_t len, rm_job_t **job, bool *changed,
                  rm_err_t *err);

/*  Removal (issue 8, point 5).  A job removed by `meshctl rm` is deleted
    here (record, outputs, logs) and its signed removal kept as a
    tombstone (rm_tombstones.h): a peer's record of it is refused
    (RM_ENOTFOUND "job J was removed"), and rm_jobs_removal gives the
    removal to answer that peer with.  Who may remove a job is the
    caller's to check.  A NULL removal deletes without a tombstone. */
int rm_jobs_remove(rm_jobs_t *self, const char *job_id, int64_t removed_at, const rm_bin_t *removal,
                   rm_err_t *err);
const rm_bin_t *rm_jobs_removal(rm_jobs_t *self, const char *job_id);

/*  Finished jobs are deleted retain_ms after they finished (0: kept
    forever), and a peer's record of one finished longer ago is refused,
    so every node forgets the same jobs without a message. */
void rm_jobs_set_retention(rm_jobs_t *self, int64_t retain_ms);

/*  Deletes the jobs past retention (and forgets tombstones as old); calls
    fn (if not NULL) with each id.  The number deleted. */
typedef void(rm_jobs_expired_fn)(void *arg, const char *job_id);
size_t rm_jobs_expire(rm_jobs_t *self, int64_t now_ms, rm_jobs_expired_fn *fn, void *arg);

#endif
