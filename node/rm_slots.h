/*  rm_slots: the node's render slots and the loop that feeds them.

    Owns one rm_blender slot actor per render slot, hands each free slot
    the next task of rm_jobs_next_task, and turns slot events into job state:
    a rendered file is chunked into the store, then recorded done; a failed
    frame counts an attempt; a job-fatal failure fails the job.  Runs inside
    the node actor (its pollable pipes are added to the node's poller). */
#ifndef RM_SLOTS_H
#define RM_SLOTS_H

#include <czmq.h>
#include <stdbool.h>

#include "rm_config.h"
#include "rm_jobs.h"
#include "rm_store.h"

typedef struct _rm_slots_t rm_slots_t;

/*  Starts config->slots slots, or none when Blender is unusable
    (blender_ok false): jobs then wait for a node that can render. */
rm_slots_t *rm_slots_new(const rm_config_t *config, const char *node_name, bool blender_ok,
                         rm_jobs_t *jobs, rm_store_t *store, const char *projects_dir,
                         rm_err_t *err);
void rm_slots_destroy(rm_slots_t **self_p);

/*  Adds every slot pipe to poller. */
void rm_slots_poll_on(rm_slots_t *self, zpoller_t *poller);

/*  If `which` is a slot pipe, handles one event from it and returns true. */
bool rm_slots_handle(rm_slots_t *self, void *which);

/*  Gives free slots work.  Call after anything that may create work. */
void rm_slots_schedule(rm_slots_t *self);

/*  Stores the outputs rendered since the last call (chunks + journal, with
    fsyncs) and records their frames done.  Called after rm_slots_schedule,
    so this disk work overlaps the next renders instead of delaying them. */
void rm_slots_flush(rm_slots_t *self);

/*  Stops the renders of a cancelled job. */
void rm_slots_cancel(rm_slots_t *self, const char *job_id);

size_t rm_slots_count(rm_slots_t *self);
size_t rm_slots_busy(rm_slots_t *self);
/*  "job:frame ..." of the renders in flight, into buf. */
void rm_slots_describe(rm_slots_t *self, char *buf, size_t size);
/*  Mean render time per frame (ms) over recent frames, 0 if unknown. */
uint64_t rm_slots_ms_per_frame(rm_slots_t *self);

/*  Materializes a job's project (once per manifest) and returns its
    directory in dir: PROJECTS/<manifest hex>. */
int rm_slots_project_dir(rm_slots_t *self, const rm_job_spec_t *spec, char *dir, size_t size,
                         rm_err_t *err);

#endif
