/*  rm_swim_probe: the membership engine's failure detection, one of its
    three files (see rm_swim_private.h): our probes of other members, the
    PING_REQs we serve for theirs, the Local Health Multiplier and the
    liveness of no-inbound members.  Internal to the engine. */
#ifndef RM_SWIM_PROBE_H
#define RM_SWIM_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_swim.h"
#include "rm_swim_wire.h"

/*  Our probe of one member, from its PING to its end (ACK or failure). */
typedef struct {
    bool active;
    bool indirect; /* PING_REQs sent */
    char *target;
    uint64_t seq;
    int64_t direct_deadline, end;
    unsigned expected_nacks, nacks;
} rm_swim_probe_t;

/*  A PING_REQ we serve: our PING to its target, answered to its origin. */
typedef struct {
    uint64_t seq; /* of our PING */
    char *origin; /* the prober's address */
    uint64_t origin_seq;
    int64_t deadline; /* of the NACK */
    bool nack;
} rm_swim_probe_relay_t;

/*  Due timers: NACKs of the PING_REQs we serve, then our own probe. */
void rm_swim_probe_tick(rm_swim_t *s);

/*  The earliest of those timers. */
int64_t rm_swim_probe_deadline(const rm_swim_t *s);

/*  Any message from `from` is a sign of life: it answers our probe of it,
    and it is the heartbeat of a no-inbound member. */
void rm_swim_probe_heard(rm_swim_t *s, const char *from);

void rm_swim_probe_on_ping(rm_swim_t *s, const char *from, const char *from_addr,
                           const rm_swim_wire_ping_t *ping);
void rm_swim_probe_on_ack(rm_swim_t *s, uint64_t seq);
void rm_swim_probe_on_nack(rm_swim_t *s, uint64_t seq);
void rm_swim_probe_on_ping_req(rm_swim_t *s, const char *from_addr,
                               const rm_swim_wire_ping_req_t *req);

/*  Watches the no-inbound member `name` for its heartbeats. */
void rm_swim_probe_watch(rm_swim_t *s, const char *name);

/*  Ends our probe in progress (this node leaves). */
void rm_swim_probe_stop(rm_swim_t *s);

/*  Frees the probe's state (the engine is destroyed). */
void rm_swim_probe_free(rm_swim_t *s);

#endif
