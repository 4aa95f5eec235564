/*  rm_work: the node as a worker of the mesh, and as its coordinator's
    front door.

    Worker side: while this node has free render slots (and every
    RM_WORK_REPORT_MS anyway) it sends WORK_REQ to the coordinator the
    election names, listing what its slots render and which jobs' projects
    it holds; the ASSIGN that comes back starts tasks on the slots, unless
    its epoch is older than one this node has seen (refused: ESTALE).  It
    asks for RM_WORK_LOOKAHEAD task(s) more than it has free slots and
    keeps them queued, so a slot that frees starts at once; a queued task
    is given back as soon as a ready job of higher priority has pending
    frames, and with `preempt` a running one is stopped (rm_prio.h).  A
    rendered frame is recorded done only once another node holds a copy of
    its output (REPLICATE, answered OK once that node has fetched it), so a
    node that dies after rendering loses nothing; alone in the mesh, the
    frame is recorded at once; with an S3 output, once its files are in
    S3 (rm_outputs.h).  A frame that another node finished first is not
    recorded twice: the first output is the job's.

    Coordinator side: a WORK_REQ goes to rm_sched (this node's own goes
    there directly, without the network), and rm_sched's tick runs here.

    Draining (meshctl drain, SIGTERM): no new work; the frames in hand are
    finished (or, handing back, cancelled and left to the coordinator), their
    outputs stored and copied, then rm_work_drained says the node may
    leave (the node hands its finished outputs on first: rm_handover.h).  A
    draining node refuses REPLICATE (EAGAIN): a copy on a leaving node is
    no copy, and the sender asks another member. */
#ifndef RM_WORK_H
#define RM_WORK_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_config.h"
#include "rm_election.h"
#include "rm_jobsync.h"
#include "rm_member.h"
#include "rm_sched.h"
#include "rm_slots.h"
#include "rm_outputs.h"
#include "rm_uploads.h"
#include "rm_work_parts.h"

#define RM_WORK_REPORT_MS 2000
#define RM_WORK_IDLE_ASK_MS 500 /* asking again after an ASSIGN without tasks */
/*  Tasks a worker holds beyond its free slots, so that a slot that frees
    starts its next frame without a round trip to the coordinator. */
#define RM_WORK_LOOKAHEAD 1

typedef struct _rm_work_t rm_work_t;

/*  The worker of the node whose parts are given (kept, not owned). */
rm_work_t *rm_work_new(const rm_work_parts_t *parts, rm_err_t *err);
void rm_work_destroy(rm_work_t **self_p);

/*  Reports, requests, the scheduler's tick, replication time-outs. */
void rm_work_tick(rm_work_t *self, int64_t now);
int64_t rm_work_wakeup(rm_work_t *self, int64_t now);

/*  WORK_REQ, ASSIGN, REPLICATE, and the OK/ERROR answers to ours.  Returns
    false for other messages. */
bool rm_work_handle(rm_work_t *self, const char *from, const rm_cred_t *who, const rm_msg_t *msg);

/*  The frames waiting to be durable (rm_outputs.h), for the collector. */
rm_outputs_t *rm_work_outputs(rm_work_t *self);

/*  The uploader's actor is readable: its event is taken in. */
void rm_work_upload_event(rm_work_t *self);

/*  The membership changed: the scheduler's view of the workers. */
void rm_work_members_changed(rm_work_t *self);

/*  A job ended or was cancelled: its renders here stop. */
void rm_work_job_changed(rm_work_t *self, rm_job_t *job);

void rm_work_drain(rm_work_t *self, bool hand_back);
bool rm_work_draining(const rm_work_t *self);

/*  What this node's Blender can do (rm_caps): the worker asks only for jobs
    whose requirements it meets. */
void rm_work_set_caps(rm_work_t *self, const char *caps);
/*  Draining, and nothing left in hand: the node may leave the mesh. */
bool rm_work_drained(rm_work_t *self);

#endif
