/*  rm_swim_private: the membership engine's state, shared by the three
    files of the engine; not for its callers, who use rm_swim.h.

        rm_swim.c        inputs and outputs (create, receive, tick, join,
                         leave, metadata, queries), membership state changes
                         and their gossip;
        rm_swim_probe.c  failure detection: the probe cycle, indirect probes,
                         PING_REQs served for others, the Local Health
                         Multiplier, the liveness of no-inbound members;
        rm_swim_sync.c   push-pull: full state exchanges at join, on a timer,
                         with dead members (reconnect) and with strangers.

    rm_swim_probe.h and rm_swim_sync.h declare what those two files offer
    the engine; rm_swim__* (two underscores, as libuv's uv__) are defined in
    rm_swim.c and lent to the two others.  The static inline helpers below
    are the engine's view of its member table. */
#ifndef RM_SWIM_PRIVATE_H
#define RM_SWIM_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_swim.h"
#include "rm_swim_bcast.h"
#include "rm_swim_fifo.h"
#include "rm_swim_members.h"
#include "rm_swim_order.h"
#include "rm_swim_probe.h"
#include "rm_swim_rng.h"
#include "rm_swim_suspects.h"
#include "rm_swim_sync.h"
#include "rm_swim_wire.h"

struct _rm_swim_t {
    rm_swim_config_t cfg;
    rm_swim_rng_t *rng;
    int64_t now;
    bool leaving;
    uint64_t seq; /* last sequence number of our PINGs */

    rm_swim_members_t *members; /* member 0 is this node */
    rm_swim_suspects_t *suspects;
    rm_swim_bcast_t *bq; /* updates waiting to be piggybacked */
    int64_t next_gossip, next_heartbeat;
    rm_swim_fifo_t *out, *events;
    rm_swim_stats_t stats;

    /* rm_swim_probe.c */
    unsigned health; /* Local Health Multiplier score */
    rm_swim_order_t *order;
    rm_swim_probe_t probe;
    int64_t next_probe;
    rm_swim_probe_relay_t *relays;
    uint32_t nrelays, caprelays;
    char **nat; /* names of no-inbound members, to watch for their heartbeats */
    uint32_t nnat, capnat;

    /* rm_swim_sync.c */
    int64_t next_pp, next_reconnect, next_join;
    int64_t next_unknown_pp; /* rate limit of push-pulls with unknown senders */
    int64_t pp_drawn;        /* the push-pull interval next_pp was drawn over */
    char *join_addr;         /* until a join push-pull is answered */
};

/* ------------------------------------------------------------------ */
/* The member table, as the engine sees it                              */
/* ------------------------------------------------------------------ */

static inline rm_swim_members_entry_t *rm_swim__member(const rm_swim_t *s, int64_t idx)
{
    return rm_swim_members_at(s->members, (uint32_t)idx);
}

static inline const char *rm_swim__name(const rm_swim_t *s, int64_t idx)
{
    return rm_swim_members_name(s->members, (uint32_t)idx);
}

static inline const char *rm_swim__addr(const rm_swim_t *s, int64_t idx)
{
    return rm_swim_members_addr(s->members, (uint32_t)idx);
}

static inline const char *rm_swim__self(const rm_swim_t *s)
{
    return rm_swim__name(s, 0);
}

static inline int64_t rm_swim__find(const rm_swim_t *s, const char *name)
{
    return rm_swim_members_find(s->members, name);
}

static inline uint32_t rm_swim__count(const rm_swim_t *s)
{
    return rm_swim_members_count(s->members);
}

static inline bool rm_swim__no_inbound(const rm_swim_members_entry_t *m)
{
    return (m->flags & RM_SWIM_WIRE_NO_INBOUND) != 0;
}

static inline bool rm_swim__live(const rm_swim_members_entry_t *m)
{
    return m->state == RM_SWIM_ALIVE || m->state == RM_SWIM_SUSPECT;
}

static inline int64_t rm_swim__earlier(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ------------------------------------------------------------------ */
/* rm_swim.c, lent to rm_swim_probe.c and rm_swim_sync.c                */
/* ------------------------------------------------------------------ */

/*  Builds and queues one message to `to` (to_idx: the member, or -1),
    with the queued updates that fit piggybacked.  Returns their number, or
    -1. */
int rm_swim__send(rm_swim_t *s, const char *to, int64_t to_idx, rm_swim_wire_kind_t kind,
                  const void *body);

/*  `from` suspects `name` at incarnation inc. */
void rm_swim__suspect(rm_swim_t *s, const char *name, uint64_t inc, const char *from);

/*  One state of a push-pull from `sender` (memberlist's mergeState). */
void rm_swim__merge(rm_swim_t *s, const rm_swim_wire_update_t *u, const char *sender, bool join);

/*  Queues an event about member idx for the caller. */
void rm_swim__event(rm_swim_t *s, rm_swim_event_kind_t kind, uint32_t idx);

/*  May we start talking to member i?  Never to a no-inbound one. */
bool rm_swim__reachable(const rm_swim_t *s, uint32_t i);

/*  Reachable and alive: may help with an indirect probe or push-pull. */
bool rm_swim__can_help(const rm_swim_t *s, uint32_t i);

/*  Up to k distinct random members passing `ok`, never `except`
    (memberlist's kRandomNodes: at most 3n draws). */
uint32_t rm_swim__pick(rm_swim_t *s, uint32_t k, bool (*ok)(const rm_swim_t *, uint32_t),
                       int64_t except, uint32_t *out);

#endif
