/*  rm_election: who coordinates the mesh, decided from the membership view,
    with epochs that fence older coordinators.

    Every node runs the same rule over what gossip tells it:
    - candidates are alive members (not suspect, dead, left or draining)
      that accept connections (a no-inbound node cannot be reached by the
      workers it would command) and whose credential may coordinate (a
      member known to hold a worker's credential is none, and its claims
      are not followed: a stolen worker credential cannot take over);
    - the best candidate is the first by (role stable before node, name);
    - the best candidate, if it is not already the coordinator with the
      highest claim, claims the next epoch: one above the highest epoch any
      member has gossiped;
    - any other node that was acting steps down (this is also the hand-over
      when a better node, e.g. a stable one, appears);
    - the coordinator is the alive member whose claim is the highest, epochs
      compared as (number, name), so two claims of the same number made on
      two sides of a partition are still ordered.
    Each node gossips the highest epoch it has seen and whether it acts.  A
    worker refuses work stamped with an epoch lower than the highest it has
    seen (issue 3: assignments carry it).  At most one coordinator acts per
    epoch: a claim is made only by the node named in it. */
#ifndef RM_ELECTION_H
#define RM_ELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Epochs are stamped into frame records as the high 32 bits of a stamp
    (rm_job_record.h, RM_STAMP): they stop there, and a gossiped epoch above it is
    refused (rm_member's metadata descriptor). */
#define RM_EPOCH_MAX 0xffffffffu

typedef struct {
    const char *name;
    bool alive;      /* alive in the membership view (not suspect/dead/left) */
    bool stable;     /* role stable */
    bool no_inbound; /* cannot accept connections */
    bool draining;
    uint64_t epoch; /* the highest epoch it has gossiped */
    bool acting;    /* it claims to coordinate in that epoch */
    bool worker;    /* its credential may not coordinate (role worker) */
} rm_election_member_t;

typedef struct {
    uint64_t epoch;        /* highest epoch seen anywhere, our claim included */
    bool acting;           /* this node coordinates in `epoch` */
    char coordinator[257]; /* who coordinates, "" if nobody does yet */
    uint64_t coordinator_epoch;
} rm_election_t;

/*  members[0] is this node.  Updates *e; returns true if this node started
    or stopped acting. */
bool rm_election_update(rm_election_t *e, const rm_election_member_t *members, size_t count);

#endif
