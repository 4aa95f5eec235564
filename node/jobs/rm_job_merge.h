/*  rm_job_merge: the merge rule.  A job's record is a state-based CRDT:
    copies held by different nodes merge, in any order and any number of
    times, to the same result (docs/architecture.md, "Merge rule").

    Per frame, records are totally ordered and two records merge to the
    greater one, except attempts and failed_on, merged on their own:
      0. the higher generation (gen): a frame reopened because no live node
         holds its output any more is pending at gen + 1, above its done
         record of gen;
      1. class: live (pending, assigned) < failed < done;
      2. two live records: more attempts wins (a retry is newer than the
         assignment it retries), then the higher stamp (epoch field: the
         coordinator stamps every assignment and give-back with
         RM_STAMP(epoch, sequence), so its latest decision wins), then
         assigned > pending, then the greater node name;
         two done records: the smaller output hash wins (frames are
         idempotent: either output is valid);
      3. still equal: the higher epoch, the greater node name, the greater
         output hash, size, render_ms, file, error, warning, log, grant_by,
         grant_sig, done_sig (so that the result never depends on the
         order of the arguments);
      4. attempts = max of both; failed_on = union, sorted, capped to its
         first RM_MAX_FAILED_ON names (keeping the smallest makes the cap
         itself associative).
    The winner's gen, epoch, node, output, size, file, render_ms and error
    are kept together.  Per job: canceled = OR, with the smaller signed
    order (a signed one over none); error = the smallest non-empty
    reason (strcmp); started_at = min of the non-zero; finished_at = max;
    spec.submitted_at = min of the non-zero (one job submitted through two
    nodes); signers = union; the priority set after submission = the one
    set latest (priority_at), then the higher, then the smaller order.  A
    CANCEL or PRIORITY entry carries the winning order, which rm_job checks
    (rm_job_proof_check_order) before applying.  Every other spec field is
    immutable: a record whose spec differs (another manifest, ranges,
    settings) does not merge.

    Everything here is pure: records in, a verdict or the journal entries
    that a merge needs out.  rm_job checks the signatures of those entries
    (rm_job_proof), then writes and applies them. */
#ifndef RM_JOB_MERGE_H
#define RM_JOB_MERGE_H

#include <stdbool.h>

#include "rm_job_record.h"

/*  The order of steps 1-3 (attempts count only between live records,
    failed_on not at all): < 0, 0 or > 0 as a is below, equal to or above
    b.  A merge never lowers a record in it. */
int rm_job_merge_cmp(const rm_frame_rec_t *a, const rm_frame_rec_t *b);

/*  True if merging `theirs` into `ours` leaves ours as it is. */
bool rm_job_merge_absorbs(const rm_frame_rec_t *ours, const rm_frame_rec_t *theirs);

/*  *out (zeroed by the caller) = the merge of a and b, deep-copied. */
int rm_job_merge_join(const rm_frame_rec_t *a, const rm_frame_rec_t *b, rm_frame_rec_t *out,
                      rm_err_t *err);

/*  Adds node (if non-empty) to the record's failed_on by the union of
    step 4, so that a local failure keeps the names a merge would. */
int rm_job_merge_add_failed_on(rm_frame_rec_t *rec, const char *node, rm_err_t *err);

/*  RM_EINVAL if `theirs` is not the same job as `ours`: another manifest
    ("taken by another project"), or any spec field but submitted_at. */
int rm_job_merge_check_spec(const rm_job_spec_t *ours, const rm_job_spec_t *theirs, rm_err_t *err);

/*  Adds to *out one entry per frame and per job-level field that merging
    `theirs` (the same job) into `ours` changes; none if ours absorbs it.
    RM_EPROTO if theirs does not hold the same frames as ours. */
int rm_job_merge_record(const rm_job_record_t *ours, const rm_job_record_t *theirs,
                        rm_job_record_batch_t *out, rm_err_t *err);

/*  Likewise for a delta's frame records.  RM_EPROTO for a frame ours
    lacks, an unknown state or a malformed failed_on: apply none of *out. */
int rm_job_merge_delta(const rm_job_record_t *ours, const rm_job_record_delta_t *delta,
                       rm_job_record_batch_t *out, rm_err_t *err);

#endif
