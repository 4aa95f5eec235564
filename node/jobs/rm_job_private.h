/*  What rm_job.c, rm_job_report.c and rm_job_replica.c share: the job's
    state and the steps of a merge.  Nothing outside node/jobs/rm_job*.c
    includes it. */
#ifndef RM_JOB_PRIVATE_H
#define RM_JOB_PRIVATE_H

#include "rm_job.h"
#include "rm_job_journal.h"
#include "rm_job_record.h"

struct _rm_job_t {
    rm_job_record_t rec;
    rm_job_journal_t *journal; /* NULL only while an adopted job is built */
    uint64_t version;
    uint64_t *progress; /* per frame index, percent while assigned */
    /* Local changes not yet taken by rm_job_take_changes (merges are not
       local: they came from a peer, which spreads them itself). */
    uint8_t *dirty;       /* per frame index */
    uint32_t *dirty_list; /* indexes of the dirty frames */
    uint32_t ndirty;
    bool dirty_job; /* a job-level field changed */
    bool merging;   /* changes being applied come from a peer */
    /* Frames per state and frames with a failure anywhere, kept up to date
       by apply_entry (set by recount after bulk changes): the scheduler
       asks these per assignment, so they must not cost a scan. */
    uint64_t counts[4];
    uint64_t with_failures;
    bool counted;
    uint64_t digest_version; /* rm_job_digest's cache */
    rm_hash_t digest, digest_entry;
    rm_job_dirty_fn *on_dirty;
    void *on_dirty_arg;
    /* A done frame went back to live (reopened here or by a merge): the
       job is unfinished again, and finishes anew when it is done. */
    bool reopened;
    /* A merge left finished_at set on a job not finished here (a peer saw
       it finish before a frame was reopened, or a node sent a time of its
       own making): the job's finish is stamped anew when it finishes, so
       a forged time long past cannot have every node retire it at once. */
    bool early_finish;
    rm_job_dirty_fn *on_reopen;
    void *on_reopen_arg;
    const rm_job_trust_t *trust; /* signs our changes, checks merges; NULL: neither */
};

/*  Applies a merge's batch (checked, journalled, compacted); *changed if it
    changed anything. */
int rm_job_apply_merge(rm_job_t *job, rm_job_record_batch_t *b, bool *changed, rm_err_t *err);
/*  Merges a whole record in. */
int rm_job_merge_in(rm_job_t *job, const rm_job_record_t *in, bool *changed, rm_err_t *err);
/*  After a merge: records finished_at if the last frame became done. */
void rm_job_finish_if_done(rm_job_t *job);
bool rm_job_all_done(const rm_job_t *job);
char *rm_job_strdup_or_empty(const char *s);

#endif
