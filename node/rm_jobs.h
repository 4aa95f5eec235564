/*  rm_jobs: the jobs a node holds, their frames' states, and their durable
    record on disk.

    A frame's state only moves up a lattice, so copies merge in any order:
        pending < assigned(epoch, node) < done(output hash)
    and failed(reason) is terminal once a frame has failed on enough
    attempts.  A job's record is a snapshot (ROOT/<id>/job.state, replaced
    atomically) plus a journal of frame changes (ROOT/<id>/job.journal,
    appended and fsync'd before the change is acted on).  A crash loses at
    most an `assigned` mark, which is re-derived: on load every assigned
    frame is pending again.  See docs/architecture.md, "Job state". */
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

typedef struct {
    uint64_t frame;
    uint64_t state; /* rm_frame_state_t */
    uint64_t epoch; /* coordinator epoch of the assignment */
    char *node;     /* assigned to / rendered by */
    uint64_t attempts;
    uint64_t render_ms;
    rm_hash_t output; /* one-file manifest of the output */
    uint64_t size;
    char *file;  /* output file name, frame_0001.png */
    char *error; /* last failure reason */
} rm_frame_rec_t;

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
    of it.  Marks them assigned to `node` in `epoch`.  Returns the count
    (0: nothing to do). */
uint32_t rm_jobs_next_task(rm_jobs_t *self, const char *node, uint64_t epoch, rm_job_t **job,
                           uint64_t *frames, uint32_t max);

/*  Records a rendered frame (journal + fsync). */
int rm_job_frame_done(rm_job_t *job, uint64_t frame, const rm_hash_t *output, uint64_t size,
                      const char *file, uint64_t render_ms, const char *node, rm_err_t *err);

/*  Records a failed attempt.  The frame goes back to pending, or fails for
    good after max_attempts, which fails the job. */
int rm_job_frame_failed(rm_job_t *job, uint64_t frame, const char *reason, uint64_t max_attempts,
                        rm_err_t *err);

/*  Puts an assigned frame back to pending without counting an attempt (its
    renderer went away, or its output could not be stored yet). */
void rm_job_frame_release(rm_job_t *job, uint64_t frame, const char *reason);

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

/*  Decodes a job snapshot (journal_entry false) or one journal entry and
    frees it.  The node reads these from its own disk, where damage must
    give an error and never a crash: this is the fuzz target's way in. */
int rm_jobs_check_record(const uint8_t *data, size_t len, bool journal_entry, rm_err_t *err);

/*  Wire views (free with rm_codec_free on the matching descriptor). */
int rm_job_summary(const rm_job_t *job, rm_job_summary_t *out, rm_err_t *err);
int rm_job_info(const rm_job_t *job, rm_job_reply_t *out, rm_err_t *err);

#endif
