/*  rm_slots: the node's render slots and the loop that feeds them.

    Owns one rm_blender slot actor per render slot, starts the tasks the
    coordinator assigned to this node (rm_slots_take), and turns slot events
    into job state: a rendered file is chunked into the store and handed on
    (rm_slots_on_output); a failed frame counts an attempt on this node; a
    job-fatal failure fails the job.  Runs inside
    the node actor (the slots' pipes are read on the node's loop). */
#ifndef RM_SLOTS_H
#define RM_SLOTS_H

#include <czmq.h>
#include <stdbool.h>

#include "rm_config.h"
#include "rm_jobs.h"
#include "rm_loop.h"
#include "rm_msg.h"
#include "rm_store.h"

typedef struct _rm_slots_t rm_slots_t;

/*  Starts config->slots slots, or none when Blender is unusable
    (blender_ok false): jobs then wait for a node that can render. */
rm_slots_t *rm_slots_new(const rm_config_t *config, const char *node_name, bool blender_ok,
                         rm_jobs_t *jobs, rm_store_t *store, const char *projects_dir,
                         rm_err_t *err);
void rm_slots_destroy(rm_slots_t **self_p);

/*  Reads the slots' events on loop from now on.  0, or -1 out of memory. */
int rm_slots_watch(rm_slots_t *self, rm_loop_t *loop);

/*  Free slots (0 while paused after a full disk). */
size_t rm_slots_free(rm_slots_t *self);

/*  Starts a task assigned to this node on a free slot: the frames of it
    that are still to render (a frame done elsewhere meanwhile is skipped).
    -1 if no slot is free or the task cannot start (its frames are released
    then; a job whose project cannot be used is failed). */
int rm_slots_take(rm_slots_t *self, rm_job_t *job, const uint64_t *frames, uint32_t n,
                  rm_err_t *err);

/*  What the slots render, and rendered frames not yet stored, as tasks for
    WORK_REQ: *tasks is malloc'd, as are each task's job_id and frames. */
int rm_slots_running(rm_slots_t *self, rm_task_t **tasks, uint32_t *count, rm_err_t *err);

/*  A rendered frame, its files stored in the chunk store (manifest
    out->output).  Without this callback the frame is recorded done at
    once; with it, recording it is the callback's (the mesh first has the
    output copied to another node). */
typedef void(rm_slots_output_fn)(void *arg, rm_job_t *job, uint64_t frame,
                                 const rm_frame_output_t *out);
void rm_slots_on_output(rm_slots_t *self, rm_slots_output_fn *fn, void *arg);

/*  Stores the outputs rendered since the last call (chunks + journal, with
    fsyncs) and hands them on (rm_slots_on_output).  Called after new work
    is started, so this disk work overlaps the next renders. */
void rm_slots_flush(rm_slots_t *self);

/*  Quits the Blender of each slot idle for the configured slot_idle_s.
    Call every turn (at least every second). */
void rm_slots_tick(rm_slots_t *self, int64_t now);

/*  The job slot i renders, NULL if it is idle (i < rm_slots_count). */
const char *rm_slots_job_at(rm_slots_t *self, size_t i);

/*  Stops slot i's task (preempted by a higher-priority job): its frames not
    yet rendered go back to pending without counting an attempt. */
void rm_slots_stop(rm_slots_t *self, size_t i, const char *why);

/*  Stops the renders of a cancelled job. */
void rm_slots_cancel(rm_slots_t *self, const char *job_id);

size_t rm_slots_count(rm_slots_t *self);
size_t rm_slots_busy(rm_slots_t *self);
/*  "job:frame ..." of the renders in flight, into buf. */
void rm_slots_describe(rm_slots_t *self, char *buf, size_t size);
/*  Mean render time per frame (ms) over recent frames, 0 if unknown. */
uint64_t rm_slots_ms_per_frame(rm_slots_t *self);

/*  What materializing a job's project would check, without writing: its
    manifest is here, its size within max_project_gb and the free disk
    (RM_EINVAL, RM_ENOSPC naming the job).  0 at once if it is unpacked. */
int rm_slots_project_check(rm_slots_t *self, const rm_job_spec_t *spec, rm_err_t *err);

/*  Materializes a job's project (once per manifest) and returns its
    directory in dir: PROJECTS/<manifest hex>. */
int rm_slots_project_dir(rm_slots_t *self, const rm_job_spec_t *spec, char *dir, size_t size,
                         rm_err_t *err);

#endif
