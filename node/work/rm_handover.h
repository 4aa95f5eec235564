/*  rm_handover: a leaving node's finished frames stay in the mesh.

    Each done frame's output is on two nodes (its renderer and the member
    REPLICATE picked).  When both leave (one drained while the other gets
    SIGTERM, or two drains), the frame would leave with them although every
    node counts it done.  So before a node leaves (drain, drain --now,
    SIGTERM's hand-back), it walks the jobs' done frames whose output
    manifest is in its store (outputs it rendered and copies it keeps for
    others) and sends each one REPLICATE (output and, if held here, its
    log) to a member that is alive and not draining, chosen by the same
    rendezvous hash as the first copy (so the member that already has it
    usually ranks first and answers at once: REPLICATE is idempotent).  At
    most RM_HANDOVER_IN_FLIGHT wait for their OK; a refusal (a draining
    member refuses REPLICATE) or silence for RM_HANDOVER_WAIT_MS tries the
    next member.  With no such member left (the last node leaving) the
    frame leaves with the node, and the node logs it.

    Frames that become done while the hand-over runs (frames this node
    still finishes while draining; a copy it served just before it started
    draining, whose done record arrives a moment later) are found by
    walking again: the hand-over is complete only after a walk, at least
    RM_HANDOVER_SETTLE_MS after the node had nothing left in hand, finds
    nothing new. */
#ifndef RM_HANDOVER_H
#define RM_HANDOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_jobs.h"
#include "rm_member.h"
#include "rm_store.h"

#define RM_HANDOVER_IN_FLIGHT 16  /* REPLICATEs waiting for an answer */
#define RM_HANDOVER_WAIT_MS 4000  /* a member that does not answer: ask the next */
#define RM_HANDOVER_TRIES 4       /* members asked per frame before giving up */
#define RM_HANDOVER_SETTLE_MS 500 /* walks apart; the last one this long after settling */

typedef struct _rm_handover_t rm_handover_t;

/*  jobs, store and member are borrowed: the node's own. */
rm_handover_t *rm_handover_new(const char *name, rm_jobs_t *jobs, rm_store_t *store,
                               rm_member_t *member);
void rm_handover_destroy(rm_handover_t **self_p);

/*  Starts the hand-over (once; later calls do nothing): as soon as the
    node drains, so that SIGTERM's bounded wait is spent in parallel with
    the copies of the frames still in hand. */
void rm_handover_start(rm_handover_t *self, int64_t now);
/*  Sends, times out, walks again.  settled: the node has nothing left in
    hand (rm_work_drained), so no frame of its own becomes done any more;
    the hand-over completes only once settled. */
void rm_handover_tick(rm_handover_t *self, int64_t now, bool settled);
int64_t rm_handover_wakeup(const rm_handover_t *self, int64_t now);
/*  Started, and every frame held here is handed over or has no member
    left to take it. */
bool rm_handover_done(const rm_handover_t *self);
/*  OK/ERROR answering one of our REPLICATEs; false for other messages. */
bool rm_handover_handle(rm_handover_t *self, const char *from, const rm_msg_t *msg);
/*  Logs the frames not handed over yet (the node leaves anyway: SIGTERM's
    time bound). */
void rm_handover_report(rm_handover_t *self);

/*  Which member gets the copy of (job_id, frame): among peers alive, with
    an address, not draining and not in tried (rm_handover_name_id of the
    members asked before), the one with the highest rendezvous score (the
    key rm_work's first copy uses).  The index in peers, or -1 when there
    is none. */
int rm_handover_pick(const rm_member_peer_t *peers, size_t count, const char *job_id,
                     uint64_t frame, const uint64_t *tried, size_t ntried);
/*  A member's name as 8 bytes, for the tried list. */
uint64_t rm_handover_name_id(const char *name);

#endif
