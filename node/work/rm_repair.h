/*  rm_repair: frames whose output no live node holds any more are
    rendered again, without anyone asking.

    Without an S3 output a done frame's output is on two nodes
    (rm_outputs.h); spot instances are reclaimed several at a time with
    their disks, so both can go at once.  An audit finds such frames:
    - the coordinator audits when a member has been gone (dead, left, or
      forgotten; a suspect is not gone yet) for repair_after_s, and when it
      becomes coordinator: every done frame whose renderer has been gone
      that long (a network cut looks like death until it heals: a shorter
      one re-renders nothing);
    - any node audits the frames whose output a client asked it for and no
      member had (rm_repair_output_missing: `meshctl fetch`).
    An audit asks every live member HAVE (which of these outputs do you
    hold whole, manifest and every chunk?) and waits for the answers (a
    member silent for RM_REPAIR_ANSWER_MS holds nothing).  A frame that no
    one holds, this node included, is reopened (rm_job_frame_reopen):
    pending at the next generation, with the reason `meshctl job` shows;
    every node's merge takes it over the done record, and the coordinator
    schedules it like any pending frame.  Cancelled and failed jobs are
    left as they are, and so are jobs with an S3 output: their frames
    count done only once stored in S3.

    The coordinator's audit also counts the copies of the outputs this
    node holds itself: an output left on one node (its other copy went
    with its node) gets a second one, as before it counted done: fetched
    here when another member holds it, else sent to a member that lacks
    it (REPLICATE: that member fetches it from this node).

    An audit asks about at most RM_MAX_HAVE outputs at a time; more are
    asked in the rounds after. */
#ifndef RM_REPAIR_H
#define RM_REPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_election.h"
#include "rm_jobs.h"
#include "rm_member.h"
#include "rm_store.h"
#include "rm_xfer.h"

#define RM_REPAIR_SETTLE_MS 2000  /* a new coordinator audits once membership settled */
#define RM_REPAIR_ANSWER_MS 5000  /* a member that has not answered HAVE holds nothing */
#define RM_REPAIR_MAX_SUSPECTS 64 /* outputs a fetch missed, waiting for an audit */

typedef struct _rm_repair_t rm_repair_t;

/*  name: this node's; repair_after_s: how long a renderer must have been
    gone (as this node saw it) before the coordinator's audit counts its
    frames (a network cut looks like death for a while).  None of the
    parts is owned. */
rm_repair_t *rm_repair_new(const char *name, uint64_t repair_after_s, rm_jobs_t *jobs,
                           rm_member_t *member, rm_store_t *store, rm_xfer_t *xfer,
                           const rm_election_t *election, rm_err_t *err);
void rm_repair_destroy(rm_repair_t **self_p);

/*  A done frame's output (its manifest's hash) that no member could give
    this node: the frames with that output are audited at once. */
void rm_repair_output_missing(rm_repair_t *self, const rm_hash_t *output);

/*  HAVE from another node (answered), HAVE_REPLY or ERROR to ours.  False
    for other messages. */
bool rm_repair_handle(rm_repair_t *self, const char *from, const rm_msg_t *msg);

/*  True if the store holds the output whole: its manifest and every chunk
    the manifest lists. */
bool rm_repair_holds(rm_store_t *store, const rm_hash_t *output);

void rm_repair_tick(rm_repair_t *self, int64_t now);
/*  Milliseconds until rm_repair_tick must run again. */
int64_t rm_repair_wakeup(const rm_repair_t *self, int64_t now);

/*  Frames reopened by this node since it started. */
uint64_t rm_repair_reopened(const rm_repair_t *self);
/*  Second copies made of outputs left on one node. */
uint64_t rm_repair_copied(const rm_repair_t *self);

#endif
