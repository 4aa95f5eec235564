/*  rm_job: one job a node holds: its record in memory (rm_job_record), the
    journal every change goes through first (rm_job_journal), its state
    changes, and the merges of other nodes' copies (rm_job_merge).

    A change is journalled, then applied.  A frame done or failed here, a
    job cancelled or failed, is fsync'd first; assignments, give-backs,
    releases and merges are written without an fsync (a lost one is
    re-derived, or brought back by digests).  On load every assigned frame
    is pending again: the renders in flight died with the process.

    Local changes are not all merges: a failed attempt raises attempts, so
    it wins over the assignment it failed; but rm_job_frame_release, cancel,
    job failure and the restart rule put assigned frames back to pending
    without raising anything, and a merge with an older copy brings the
    assignment back.  Only a newer assignment (or the frame's end)
    overrides it: see docs/architecture.md for what the coordinator does. */
#ifndef RM_JOB_H
#define RM_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_job_proof.h"
#include "rm_job_record.h"

typedef struct _rm_job_t rm_job_t;

/*  A new job from spec (its frame ranges validated and expanded), written
    under ROOT/<id>: durable when this returns. */
rm_job_t *rm_job_new(const char *root, const rm_job_spec_t *spec, rm_err_t *err);

/*  The job in ROOT/<job_id>: its snapshot and journal, then the restart
    rule; written back as one snapshot in the current format. */
rm_job_t *rm_job_load(const char *root, const char *job_id, rm_err_t *err);

/*  A job this node did not know, from a peer's record (decoded by
    rm_job_record_decode_peer): every frame pending merged with the record,
    then written like rm_job_new.  RM_EPROTO if its frames do not match
    its spec. */
rm_job_t *rm_job_adopt(const char *root, const rm_job_record_t *rec, const rm_job_trust_t *trust,
                       rm_err_t *err);

/*  How the job signs this node's assignments and done records, and checks
    those a merge brings (rm_job_proof.h): a merge that brings one that
    does not verify changes nothing (RM_EAUTH).  NULL (the default):
    nothing signed, nothing checked. */
void rm_job_set_trust(rm_job_t *job, const rm_job_trust_t *trust);

void rm_job_destroy(rm_job_t **self_p);

/*  Assigns the given frames (pending or assigned; not done or failed) to
    node with the coordinator's stamp (RM_STAMP).  Journalled without
    fsync, best effort: an assignment lost in a crash is re-derived, every
    assigned frame being pending after a restart. */
int rm_job_assign(rm_job_t *job, const uint64_t *frames, uint32_t n, const char *node,
                  uint64_t epoch, rm_err_t *err);

/*  What a render left: every file Blender wrote for the frame, as one
    manifest (the main image `file` and, e.g., passes/normal_0001.exr). */
typedef struct {
    rm_hash_t output; /* manifest of the frame's files, paths relative to its folder */
    uint64_t size;    /* bytes of all of them */
    const char *file; /* the main image's path in the manifest */
    uint64_t render_ms;
    const char *warning; /* what Blender reported (missing files); NULL or "": none */
    rm_hash_t log;       /* one-file manifest of the render's log; zero: none */
} rm_frame_output_t;

/*  Records a rendered frame (journal + fsync), signed with the grant it
    was rendered under (NULL: unsigned, which peers that check refuse). */
int rm_job_frame_done(rm_job_t *job, uint64_t frame, const rm_frame_output_t *out, const char *node,
                      const rm_job_grant_t *grant, rm_err_t *err);

/*  Records a failed attempt on the frame's node, the one it was assigned
    to (journal + fsync): attempts + 1, "node: reason" appended to the
    frame's error (the latest 4000 bytes are kept), node added to failed_on
    (if non-empty; the first RM_MAX_FAILED_ON names are kept).  The frame
    goes back to pending, or fails for good after max_attempts, which fails
    the job.  A done or failed frame is left as it is (returns 0).  The
    Flamenco rules (a node that failed a frame never gets it again, ...)
    are the caller's: see rm_job_record_failed_on. */
int rm_job_frame_failed(rm_job_t *job, uint64_t frame, const char *reason, uint64_t max_attempts,
                        rm_err_t *err);

/*  Puts an assigned frame back to pending without counting an attempt (its
    renderer went away, or its output could not be stored yet).  Journalled
    (best effort: a lost entry only loses the reason text, as at restart
    the frame is pending anyway). */
void rm_job_frame_release(rm_job_t *job, uint64_t frame, const char *reason);

/*  The coordinator takes a frame back (its worker is gone): pending,
    stamped so that the merge rule prefers it to the assignment it undoes
    on every node.  Journalled without fsync. */
void rm_job_frame_reissue(rm_job_t *job, uint64_t frame, uint64_t stamp, const char *reason);

/*  A done frame whose output no live node holds any more: pending again
    at the next generation (rm_job_merge.h: it wins over the done record
    on every node), output cleared, `reason` as its error, journalled
    (fsync) and spread; the job is unfinished until it is rendered again.
    Nothing happens (0) unless the frame is done with `output` (rendered
    again already, or another output won) in a job neither cancelled nor
    failed. */
int rm_job_frame_reopen(rm_job_t *job, uint64_t frame, const rm_hash_t *output, const char *reason,
                        rm_err_t *err);

/*  Fails the whole job (the .blend, scene or camera is unusable). */
int rm_job_fail(rm_job_t *job, const char *reason, rm_err_t *err);

/*  Sets the job's priority after submission (journal + fsync): it spreads
    like a cancel.  With a signed order (rm_job_order.h) the setting is the
    order's, at its time, checked as a peer's would be (rm_job_proof_check_order);
    RM_ESTALE if a setting as late is already held.  Without one (NULL or
    empty: tests, nodes without trust) it is stamped now, later than any
    setting held, and peers that check orders refuse it. */
int rm_job_set_priority(rm_job_t *job, int64_t priority, const rm_bin_t *order, rm_err_t *err);

/*  The priority it runs at: the latest set, else its spec's. */
int64_t rm_job_priority(const rm_job_t *job);
/*  Cancels the job (journal + fsync).  `order`: the signed cancel, checked
    as a peer's would be; NULL or empty for a cancel this node makes on its
    own (a removal of the job), which peers that check orders refuse. */
int rm_job_cancel(rm_job_t *job, const rm_bin_t *order, rm_err_t *err);

/*  Live progress of an assigned frame (not persisted). */
void rm_job_frame_progress(rm_job_t *job, uint64_t frame, uint64_t percent);

const char *rm_job_id(const rm_job_t *job);
const rm_job_spec_t *rm_job_spec(const rm_job_t *job);
const char *rm_job_state(const rm_job_t *job);   /* queued|rendering|done|failed|canceled */
bool rm_job_finished(const rm_job_t *job);       /* done, failed or canceled */
int64_t rm_job_finished_at(const rm_job_t *job); /* unix ms it finished; 0: not (known) */
uint64_t rm_job_version(const rm_job_t *job);
const rm_frame_rec_t *rm_job_frame(const rm_job_t *job, uint64_t frame);
/*  Directory of the job: ROOT/<id> (outputs in out/, logs in logs/). */
const char *rm_job_dir(const rm_job_t *job);
/*  Called (if set) when the job gets changes to spread where it had none
    (rm_job_has_changes turns true): rm_jobs keeps the jobs to flush. */
typedef void(rm_job_dirty_fn)(void *arg, rm_job_t *job);
void rm_job_on_dirty(rm_job_t *job, rm_job_dirty_fn *fn, void *arg);
/*  Called (if set) when a done frame goes back to live (reopened here or
    by a merge): a finished job is unfinished again. */
void rm_job_on_reopen(rm_job_t *job, rm_job_dirty_fn *fn, void *arg);

/*  Appends a line to the job's own log (ROOT/<id>/job.log). */
void rm_job_log(rm_job_t *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*  Frames of the job in a state (kept up to date, no scan). */
uint64_t rm_job_count(const rm_job_t *job, rm_frame_state_t state);

/*  Frames of the job that failed at least once on `node` (Flamenco
    blocklists a node for a job after 3). */
uint64_t rm_job_failures_on(const rm_job_t *job, const char *node);

/*  Frame records in frame order, for the scheduler. */
size_t rm_job_frame_count(const rm_job_t *job);
const rm_frame_rec_t *rm_job_frame_at(const rm_job_t *job, size_t index);

/*  Encodes the job's full record (spec, job flags, every frame) into *buf
    (malloc'd; free it) and *len: the bytes of its snapshot, which
    rm_jobs_merge takes.  Two nodes holding the same state export the same
    bytes.  A job with many frames can exceed RM_MAX_MSG_SIZE: send
    rm_job_take_changes deltas then. */
int rm_job_export(const rm_job_t *job, uint8_t **buf, size_t *len, rm_err_t *err);

/*  BLAKE2b-256 of rm_job_export's bytes (cached per version): two nodes
    with the same digest hold the same record. */
int rm_job_digest(rm_job_t *job, rm_hash_t *out, rm_err_t *err);

/*  BLAKE2b-256 of (job id, digest), cached with it: XORed over every job
    held, it tells two nodes whether they differ at all (JOB_DIGEST's
    summary). */
int rm_job_digest_entry(rm_job_t *job, rm_hash_t *out, rm_err_t *err);

/*  Merges a peer's record of this job by the merge rule: RM_EINVAL if its
    spec differs (rm_job_merge_check_spec), RM_EPROTO if its frames do.
    Every changed frame and flag is journalled (written, not fsync'd: the
    change is durable where it was made, and digests bring back what a
    power loss here loses) before it changes in memory.  *changed is true
    if our state changed (version + 1): gossip it on. */
int rm_job_apply_record(rm_job_t *job, const rm_job_record_t *rec, bool *changed, rm_err_t *err);

/*  Spreading changes.  Every change made here (not by a merge, not read
    from disk) marks its frame, or the job, as changed until
    rm_job_take_changes takes them: the changed frame records encoded for
    JOB_DELTA into *buf (malloc'd; NULL, 0 when no frame changed), and
    *job_level true when a job-level field changed (creation, cancel,
    failure, start/finish): send the whole record then.  Changes a node
    merged in are not marked: the node they came from spreads them, and
    digests (rm_job_digest) catch whatever a message lost. */
bool rm_job_has_changes(const rm_job_t *job);
int rm_job_take_changes(rm_job_t *job, uint8_t **buf, size_t *len, bool *job_level, rm_err_t *err);

/*  Merges a peer's JOB_DELTA (what its rm_job_take_changes gave) by the
    merge rule, journalled as rm_job_apply_record.  Malformed input, a
    frame the job lacks or a bad record is RM_EPROTO and changes nothing. */
int rm_job_apply_changes(rm_job_t *job, const uint8_t *buf, size_t len, bool *changed,
                         rm_err_t *err);

/*  Wire views (free with rm_codec_free on the matching descriptor). */
int rm_job_summary(const rm_job_t *job, rm_job_summary_t *out, rm_err_t *err);
int rm_job_info(const rm_job_t *job, rm_job_reply_t *out, rm_err_t *err);

#endif
