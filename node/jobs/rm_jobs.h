/*  rm_jobs: the jobs a node holds, their frames' states, and their durable
    record on disk; the record is a state-based CRDT, so copies held by
    different nodes merge in any order to the same result.

    A job's record is a snapshot (ROOT/<id>/job.state, replaced atomically)
    plus a journal of changes (ROOT/<id>/job.journal, appended and fsync'd
    before the change is acted on).  On load every assigned frame is pending
    again: the renders in flight died with the process.

    MERGE RULE (rm_jobs_merge, rm_job_merge_frame; docs/architecture.md, "Job
    state").  Per frame, records are totally ordered and two records merge to
    the greater one, except attempts and failed_on, merged on their own:
      1. class: live (pending, assigned) < failed < done;
      2. two live records: more attempts wins (a retry is newer than the
         assignment it retries), then the higher stamp (epoch field: the
         coordinator stamps every assignment and give-back with
         RM_STAMP(epoch, sequence), so its latest decision wins), then
         assigned > pending, then the greater node name;
         two done records: the smaller output hash wins (frames are
         idempotent: either output is valid);
      3. still equal: the higher epoch, the greater node name, the greater
         output hash, size, render_ms, file, error (so that the result never
         depends on the order of the arguments);
      4. attempts = max of both; failed_on = union, sorted, capped to its
         first RM_MAX_FAILED_ON names.
    The winner's epoch, node, output, size, file, render_ms and error are
    kept together.  Per job: canceled = OR; error = the smallest non-empty
    reason (strcmp); started_at = min of the non-zero; finished_at = max;
    spec.submitted_at = min of the non-zero (one job submitted through two
    nodes).  Every other spec field is immutable: merging a record whose
    spec differs (another manifest, ranges, settings) is RM_EINVAL.

    Local changes are not all merges: a failed attempt raises attempts, so
    it wins over the assignment it failed; but rm_job_frame_release, cancel,
    job failure and the restart rule put assigned frames back to pending
    without raising anything, and a merge with an older copy brings the
    assignment back.  Only a newer assignment (or the frame's end)
    overrides it: see docs/architecture.md for what the coordinator does. */
#ifndef RM_JOBS_H
#define RM_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_msg.h"

typedef enum {
    RM_FRAME_PENDING = 0,
    RM_FRAME_ASSIGNED = 1,
    RM_FRAME_DONE = 2,
    RM_FRAME_FAILED = 3,
} rm_frame_state_t;

/*  A coordinator decision's stamp: epochs order coordinators, the
    sequence orders one coordinator's decisions. */
#define RM_STAMP(epoch, seq) (((uint64_t)(epoch) << 32) | ((uint64_t)(seq)&0xffffffffu))
#define RM_STAMP_EPOCH(stamp) ((stamp) >> 32)

/*  Nodes kept per frame in failed_on. */
#define RM_MAX_FAILED_ON 64

typedef struct {
    uint64_t frame;
    uint64_t state; /* rm_frame_state_t */
    uint64_t epoch; /* stamp of the coordinator decision: RM_STAMP(epoch, seq) */
    char *node;     /* assigned to / rendered by */
    uint64_t attempts;
    uint64_t render_ms;
    rm_hash_t output; /* one-file manifest of the output */
    uint64_t size;
    char *file;  /* output file name, frame_0001.png */
    char *error; /* last failure reason */
    /* Nodes on which the frame failed: sorted (strcmp), distinct, non-empty
       names of at most RM_MAX_NAME bytes, at most RM_MAX_FAILED_ON. */
    RM_LIST(char *) failed_on;
    /* Appended to format 2 (absent in older records): kept with the output. */
    char *warning; /* what Blender reported while rendering it (missing files) */
    rm_hash_t log; /* one-file manifest of the Blender log of its last render */
} rm_frame_rec_t;

/*  Codec descriptor of a frame record (a journal entry's payload, and the
    unit rm_job_merge_frame takes from the wire). */
extern const rm_struct_desc_t rm_frame_rec_desc;

typedef struct _rm_jobs_t rm_jobs_t;
typedef struct _rm_job_t rm_job_t;

/*  Opens ROOT (created 0700) and loads every job in it. */
rm_jobs_t *rm_jobs_new(const char *root, rm_err_t *err);
void rm_jobs_destroy(rm_jobs_t **self_p);

/*  Creates a job from spec (frames expanded).  The job is durable when this
    returns 0.  A job with the same id and manifest already present is not an
    error (*created = false): submission is idempotent. */
int rm_jobs_create(rm_jobs_t *self, const rm_job_spec_t *spec, rm_job_t **job, bool *created,
                   rm_err_t *err);

rm_job_t *rm_jobs_find(rm_jobs_t *self, const char *job_id);
size_t rm_jobs_count(rm_jobs_t *self);
rm_job_t *rm_jobs_at(rm_jobs_t *self, size_t index); /* in submission order */

/*  Picks the next frames to render: the runnable job with the highest
    priority (then the oldest), up to spec.chunk consecutive pending frames
    of it.  Marks them assigned to `node` in `epoch`, journalled with one
    fsync (best effort: an assignment lost in a crash is re-derived, every
    assigned frame being pending after a restart).  Returns the count
    (0: nothing to do). */
uint32_t rm_jobs_next_task(rm_jobs_t *self, const char *node, uint64_t epoch, rm_job_t **job,
                           uint64_t *frames, uint32_t max);

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

/*  Records a rendered frame (journal + fsync). */
int rm_job_frame_done(rm_job_t *job, uint64_t frame, const rm_frame_output_t *out, const char *node,
                      rm_err_t *err);

/*  Records a failed attempt on `node` (journal + fsync): attempts + 1,
    "node: reason" appended to the frame's error (the latest 4000 bytes are
    kept), node added to failed_on (if non-empty; the first RM_MAX_FAILED_ON names are
    kept).  The frame goes back to pending, or fails for good after
    max_attempts, which fails the job.  A done or failed frame is left as it
    is (returns 0).  The Flamenco rules (a node that failed a frame never
    gets it again, ...) are the caller's: see rm_frame_failed_on. */
int rm_job_frame_failed_on(rm_job_t *job, uint64_t frame, const char *node, const char *reason,
                           uint64_t max_attempts, rm_err_t *err);

/*  rm_job_frame_failed_on with the frame's own node (the one it was
    assigned to). */
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

/*  Fails the whole job (the .blend, scene or camera is unusable). */
int rm_job_fail(rm_job_t *job, const char *reason, rm_err_t *err);
int rm_job_cancel(rm_job_t *job, rm_err_t *err);

/*  Live progress of an assigned frame (not persisted). */
void rm_job_frame_progress(rm_job_t *job, uint64_t frame, uint64_t percent);

const char *rm_job_id(const rm_job_t *job);
const rm_job_spec_t *rm_job_spec(const rm_job_t *job);
const char *rm_job_state(const rm_job_t *job); /* queued|rendering|done|failed|canceled */
bool rm_job_finished(const rm_job_t *job);     /* done, failed or canceled */
uint64_t rm_job_version(const rm_job_t *job);
const rm_frame_rec_t *rm_job_frame(const rm_job_t *job, uint64_t frame);
/*  Directory of the job: ROOT/<id> (outputs in out/, logs in logs/). */
const char *rm_job_dir(const rm_job_t *job);
/*  Appends a line to the job's own log (ROOT/<id>/job.log). */
void rm_job_log(rm_job_t *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*  Decodes a job snapshot (journal_entry false; format 1 or 2) or one
    journal entry (format 2) and frees it.  The node reads these from its
    own disk, where damage must give an error and never a crash: this is
    the fuzz target's way in. */
int rm_jobs_check_record(const uint8_t *data, size_t len, bool journal_entry, rm_err_t *err);

/*  True if `node` is in the frame's failed_on. */
bool rm_frame_failed_on(const rm_frame_rec_t *frame, const char *node);

/*  Frames of the job in a state (kept up to date, no scan). */
uint64_t rm_job_count(const rm_job_t *job, rm_frame_state_t state);

/*  Frames of the job that failed at least once on `node` (Flamenco
    blocklists a node for a job after 3). */
uint64_t rm_job_failures_on(const rm_job_t *job, const char *node);

/*  The order of the merge rule above (steps 1-3: attempts count only
    between live records, failed_on not at all): < 0, 0 or > 0 as a is
    below, equal to or above b.  A merge never lowers a record in it. */
int rm_frame_rec_cmp(const rm_frame_rec_t *a, const rm_frame_rec_t *b);

/*  Encodes the job's full record (spec, job flags, every frame) into *buf
    (malloc'd; free it) and *len: the bytes of its snapshot, which
    rm_jobs_merge takes.  Two nodes holding the same state export the same
    bytes.  A job with many frames can exceed RM_MAX_MSG_SIZE: send
    rm_job_merge_frame deltas then. */
int rm_job_export(const rm_job_t *job, uint8_t **buf, size_t *len, rm_err_t *err);

/*  Merges an exported record into the table by the merge rule.  Input is
    decoded with bounds; anything malformed (truncated, trailing bytes,
    another format version, frames that do not match the spec, failed_on
    unsorted) is RM_EPROTO; a spec that differs from ours is RM_EINVAL.
    An unknown job is created, durably, as by rm_jobs_create; for a known
    one every changed frame and flag is journalled (written, not fsync'd:
    the change is durable where it was made, and digests bring back what a
    power loss here loses) before it changes in memory.  *job is the job (NULL on error); *changed
   is true if our state changed (version + 1): gossip it on.  The job's spec is NOT checked against
   this node's policy (allow_scripts, engines): the caller must, before rendering a job it did not
   accept itself. */
int rm_jobs_merge(rm_jobs_t *self, const uint8_t *buf, size_t len, rm_job_t **job, bool *changed,
                  rm_err_t *err);

/*  Merges one frame record (e.g. a journal entry gossiped as a delta) into
    the job by the same rule; journalled before it is applied.  RM_EPROTO
    for a frame the job lacks or a malformed failed_on. */
int rm_job_merge_frame(rm_job_t *job, const rm_frame_rec_t *rec, bool *changed, rm_err_t *err);

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

/*  Merges a JOB_DELTA's frame records (one journal write, as a merge).
    Malformed input, a frame the job lacks or a bad record is RM_EPROTO and
    changes nothing. */
int rm_job_merge_frames(rm_job_t *job, const uint8_t *buf, size_t len, bool *changed,
                        rm_err_t *err);

/*  BLAKE2b-256 of rm_job_export's bytes (cached per version): two nodes
    with the same digest hold the same record. */
int rm_job_digest(rm_job_t *job, rm_hash_t *out, rm_err_t *err);

/*  Frame records in frame order, for the scheduler. */
size_t rm_job_frame_count(const rm_job_t *job);
const rm_frame_rec_t *rm_job_frame_at(const rm_job_t *job, size_t index);

/*  Assigns the given frames (pending or assigned; not done or failed) to
    node in epoch; journalled without fsync like rm_jobs_next_task. */
int rm_job_assign(rm_job_t *job, const uint64_t *frames, uint32_t n, const char *node,
                  uint64_t epoch, rm_err_t *err);

/*  Wire views (free with rm_codec_free on the matching descriptor). */
int rm_job_summary(const rm_job_t *job, rm_job_summary_t *out, rm_err_t *err);
int rm_job_info(const rm_job_t *job, rm_job_reply_t *out, rm_err_t *err);

#endif
