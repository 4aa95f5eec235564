/*  rm_swim_probe: the engine's failure detection (SWIM with Lifeguard).

    Every probe interval one member, the next of a shuffled pass: PING,
    wait the probe timeout for its ACK, then ask indirect_checks other
    members to PING it for us (PING_REQ) and wait until the end of the
    interval; no ACK by then: suspect it.  Any message from the target
    meanwhile counts as its ACK.  We serve the same PING_REQs for others.

    Lifeguard's Local Health Multiplier scales the interval and timeout by
    (score + 1): the score rises when our probes fail without the helpers'
    NACKs (the fault is probably ours) and falls with each probe that
    succeeds, so a slow or overloaded node slows down instead of accusing
    healthy members.

    No-inbound members are never probed: each is suspected when no sign of
    life (message or raised incarnation) reached us for nat_timeout. */
#include "rm_swim_probe.h"

#include <stdlib.h>
#include <string.h>

#include "rm_swim_array.h"
#include "rm_swim_private.h"

static bool can_probe(const rm_swim_t *s, uint32_t i)
{
    return rm_swim__reachable(s, i) && rm_swim__live(rm_swim__member(s, i));
}

/* ------------------------------------------------------------------ */
/* No-inbound members                                                   */
/* ------------------------------------------------------------------ */

void rm_swim_probe_watch(rm_swim_t *s, const char *name)
{
    for (uint32_t i = 0; i < s->nnat; i++)
        if (strcmp(s->nat[i], name) == 0)
            return;
    char *c = strdup(name);
    if (!c || rm_swim_array_grow((void **)&s->nat, &s->capnat, s->nnat + 1, sizeof *s->nat)) {
        free(c);
        return;
    }
    s->nat[s->nnat++] = c;
}

/*  Once per pass: the list forgets members that left it (reaped, or no
    longer no-inbound). */
static void nat_rebuild(rm_swim_t *s)
{
    for (uint32_t i = 0; i < s->nnat; i++)
        free(s->nat[i]);
    s->nnat = 0;
    for (uint32_t i = 1; i < rm_swim__count(s); i++)
        if (rm_swim__no_inbound(rm_swim__member(s, i)))
            rm_swim_probe_watch(s, rm_swim__name(s, i));
}

/*  Suspects each no-inbound member whose heartbeats stopped reaching us. */
static void nat_check(rm_swim_t *s)
{
    for (uint32_t i = 0; i < s->nnat; i++) {
        int64_t idx = rm_swim__find(s, s->nat[i]);
        if (idx < 0)
            continue;
        const rm_swim_members_entry_t *m = rm_swim__member(s, idx);
        if (!rm_swim__no_inbound(m) || m->state != RM_SWIM_ALIVE)
            continue;
        if (rm_swim_members_since(s->members, (uint32_t)idx, s->now) > s->cfg.nat_timeout_ms)
            rm_swim__suspect(s, s->nat[i], m->inc, rm_swim__self(s));
    }
}

/* ------------------------------------------------------------------ */
/* Probe pass: reap, shuffle, pick                                      */
/* ------------------------------------------------------------------ */

static void reap(rm_swim_t *s)
{
    for (uint32_t i = rm_swim__count(s); i-- > 1;) {
        const rm_swim_members_entry_t *m = rm_swim__member(s, i);
        if ((m->state == RM_SWIM_DEAD || m->state == RM_SWIM_LEFT) &&
            rm_swim_members_since(s->members, i, s->now) >= s->cfg.dead_reap_ms) {
            rm_swim__event(s, RM_SWIM_EV_REAPED, i);
            rm_swim_members_remove(s->members, i);
        }
    }
}

/*  End of a pass over the members: O(n) work once per n probes.  Reaping
    renumbers members, so it waits for the order to be rebuilt anyway. */
static void new_pass(rm_swim_t *s)
{
    if (rm_swim_members_dead(s->members) + rm_swim_members_left(s->members) > 0)
        reap(s);
    nat_rebuild(s);
    rm_swim_order_shuffle(s->order, rm_swim__count(s), s->rng);
}

static int64_t next_target(rm_swim_t *s)
{
    bool renewed = false;
    uint32_t i;
    for (;;) {
        if (!rm_swim_order_next(s->order, &i)) {
            if (renewed)
                return -1;
            new_pass(s);
            renewed = true;
            continue;
        }
        if (can_probe(s, i))
            return i;
    }
}

/* ------------------------------------------------------------------ */
/* Our probes                                                           */
/* ------------------------------------------------------------------ */

static int64_t scaled(const rm_swim_t *s, int64_t t)
{
    return t * (int64_t)(s->health + 1);
}

void rm_swim_probe_stop(rm_swim_t *s)
{
    free(s->probe.target);
    memset(&s->probe, 0, sizeof s->probe);
}

static void probe_acked(rm_swim_t *s)
{
    if (s->health > 0)
        s->health--;
    rm_swim_probe_stop(s);
}

static void probe_start(rm_swim_t *s)
{
    int64_t idx = next_target(s);
    s->next_probe = s->now + scaled(s, s->cfg.probe_interval_ms);
    if (idx < 0)
        return;
    rm_swim_probe_t *p = &s->probe;
    p->target = strdup(rm_swim__name(s, idx));
    if (!p->target)
        return;
    p->active = true;
    p->seq = ++s->seq;
    p->direct_deadline = s->now + scaled(s, s->cfg.probe_timeout_ms);
    p->end = s->next_probe;
    s->stats.probes++;
    rm_swim_wire_ping_t ping = {p->seq, p->target};
    rm_swim__send(s, rm_swim__addr(s, idx), idx, RM_SWIM_WIRE_PING, &ping);
}

static void probe_indirect(rm_swim_t *s)
{
    rm_swim_probe_t *p = &s->probe;
    uint32_t helpers[64];
    p->indirect = true;
    int64_t t = rm_swim__find(s, p->target);
    if (t < 0)
        return;
    uint32_t k = s->cfg.indirect_checks < 64 ? s->cfg.indirect_checks : 64;
    uint32_t got = rm_swim__pick(s, k, rm_swim__can_help, t, helpers);
    rm_swim_wire_ping_req_t req = {p->seq, p->target, (char *)rm_swim__addr(s, t), s->cfg.nack};
    for (uint32_t i = 0; i < got; i++)
        rm_swim__send(s, rm_swim__addr(s, helpers[i]), helpers[i], RM_SWIM_WIRE_PING_REQ, &req);
    p->expected_nacks = s->cfg.nack ? got : 0;
    if (got)
        s->stats.indirect_probes++;
}

/*  No ACK by the end of the interval.  Lifeguard: missing NACKs mean the
    fault is probably ours, so our health score rises by their number. */
static void probe_failed(rm_swim_t *s)
{
    rm_swim_probe_t *p = &s->probe;
    unsigned delta = 1;
    if (p->expected_nacks > 0)
        delta = p->nacks < p->expected_nacks ? p->expected_nacks - p->nacks : 0;
    s->health += delta;
    if (s->health >= s->cfg.awareness_max)
        s->health = s->cfg.awareness_max - 1;
    s->stats.probes_failed++;
    int64_t t = rm_swim__find(s, p->target);
    if (t >= 0 && rm_swim__live(rm_swim__member(s, t)))
        rm_swim__suspect(s, p->target, rm_swim__member(s, t)->inc, rm_swim__self(s));
    rm_swim_probe_stop(s);
}

static void run_probe(rm_swim_t *s)
{
    rm_swim_probe_t *p = &s->probe;
    if (p->active && !p->indirect && s->now >= p->direct_deadline)
        probe_indirect(s);
    if (p->active && s->now >= p->end)
        probe_failed(s);
    if (!p->active && !s->leaving && s->now >= s->next_probe) {
        nat_check(s);
        probe_start(s);
    }
}

void rm_swim_probe_heard(rm_swim_t *s, const char *from)
{
    int64_t idx = rm_swim__find(s, from);
    if (idx < 0)
        return;
    if (rm_swim__member(s, idx)->state == RM_SWIM_ALIVE)
        rm_swim_members_stamp(s->members, (uint32_t)idx, s->now);
    if (s->probe.active && strcmp(s->probe.target, from) == 0)
        probe_acked(s);
}

void rm_swim_probe_on_nack(rm_swim_t *s, uint64_t seq)
{
    if (s->probe.active && s->probe.seq == seq)
        s->probe.nacks++;
}

/*  Answered only under the name it asks for: a restarted node at the same
    address with another name does not pass for the old one. */
void rm_swim_probe_on_ping(rm_swim_t *s, const char *from, const char *from_addr,
                           const rm_swim_wire_ping_t *ping)
{
    if (strcmp(ping->target, rm_swim__self(s)) != 0)
        return;
    rm_swim_wire_ack_t ack = {ping->seq};
    rm_swim__send(s, from_addr, rm_swim__find(s, from), RM_SWIM_WIRE_ACK, &ack);
}

/* ------------------------------------------------------------------ */
/* Relays: the PING_REQs we serve                                       */
/* ------------------------------------------------------------------ */

static void relay_drop(rm_swim_t *s, uint32_t i)
{
    free(s->relays[i].origin);
    s->relays[i] = s->relays[--s->nrelays];
}

static void expire_relays(rm_swim_t *s)
{
    for (uint32_t i = s->nrelays; i-- > 0;) {
        rm_swim_probe_relay_t *r = &s->relays[i];
        if (s->now < r->deadline)
            continue;
        if (r->nack) {
            rm_swim_wire_ack_t nack = {r->origin_seq};
            rm_swim__send(s, r->origin, -1, RM_SWIM_WIRE_NACK, &nack);
        }
        relay_drop(s, i);
    }
}

void rm_swim_probe_on_ping_req(rm_swim_t *s, const char *from_addr,
                               const rm_swim_wire_ping_req_t *req)
{
    if (strcmp(req->target, rm_swim__self(s)) == 0) {
        rm_swim_wire_ack_t ack = {req->seq};
        rm_swim__send(s, from_addr, -1, RM_SWIM_WIRE_ACK, &ack);
        return;
    }
    /* A bounded table: a flood of PING_REQs cannot grow it. */
    if (s->nrelays >= s->cfg.max_relays)
        return;
    char *origin = strdup(from_addr);
    if (!origin ||
        rm_swim_array_grow((void **)&s->relays, &s->caprelays, s->nrelays + 1, sizeof *s->relays)) {
        free(origin);
        return;
    }
    /* Lifeguard: NACK at 80 % of the probe timeout, so that it reaches the
       prober before its probe interval ends. */
    int64_t wait = s->cfg.probe_timeout_ms * 4 / 5;
    rm_swim_probe_relay_t r = {++s->seq, origin, req->seq, s->now + (wait > 0 ? wait : 1),
                               req->nack};
    s->relays[s->nrelays++] = r;
    rm_swim_wire_ping_t ping = {r.seq, req->target};
    rm_swim__send(s, req->target_addr, rm_swim__find(s, req->target), RM_SWIM_WIRE_PING, &ping);
}

void rm_swim_probe_on_ack(rm_swim_t *s, uint64_t seq)
{
    if (s->probe.active && s->probe.seq == seq) {
        probe_acked(s);
        return;
    }
    for (uint32_t i = 0; i < s->nrelays; i++)
        if (s->relays[i].seq == seq) {
            rm_swim_wire_ack_t ack = {s->relays[i].origin_seq};
            rm_swim__send(s, s->relays[i].origin, -1, RM_SWIM_WIRE_ACK, &ack);
            relay_drop(s, i);
            return;
        }
}

/* ------------------------------------------------------------------ */
/* Timers                                                               */
/* ------------------------------------------------------------------ */

void rm_swim_probe_tick(rm_swim_t *s)
{
    expire_relays(s);
    run_probe(s);
}

int64_t rm_swim_probe_deadline(const rm_swim_t *s)
{
    int64_t d = RM_SWIM_NO_DEADLINE;
    const rm_swim_probe_t *p = &s->probe;
    if (p->active)
        d = p->indirect ? p->end : p->direct_deadline;
    else if (!s->leaving)
        d = s->next_probe;
    for (uint32_t i = 0; i < s->nrelays; i++)
        d = rm_swim__earlier(d, s->relays[i].deadline);
    return d;
}

void rm_swim_probe_free(rm_swim_t *s)
{
    while (s->nrelays)
        relay_drop(s, 0);
    for (uint32_t i = 0; i < s->nnat; i++)
        free(s->nat[i]);
    rm_swim_probe_stop(s);
    free(s->relays);
    free(s->nat);
}
