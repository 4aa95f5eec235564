/*  rm_swim: SWIM + Lifeguard membership engine.  See rm_swim.h for the
    protocol and the wire format, docs/membership.md for the reasoning and
    the measurements.  No I/O, no clock, no global state: everything lives
    in the rm_swim_t and every input carries `now`.

    This file holds the engine's inputs and outputs and what happens to
    the membership: updates applied (alive, suspect, dead, left), our own
    refutations, their gossip.  Failure detection is in rm_swim_probe.c,
    push-pull in rm_swim_sync.c; rm_swim_private.h ties the three. */
#include "rm_swim.h"

#include <stdlib.h>
#include <string.h>

#include "rm_swim_config.h"
#include "rm_swim_private.h"

typedef rm_swim_members_entry_t member_t;

static bool valid_str(const char *s, size_t max)
{
    return s && *s && strnlen(s, max + 1) <= max;
}

/*  A new member: in the table, in the rest of this probe pass, and on the
    NAT watch list when it accepts no inbound connections. */
static int64_t member_add(rm_swim_t *s, const char *name, const char *addr, uint64_t inc,
                          uint8_t state, uint8_t flags, const uint8_t *meta, size_t mlen)
{
    if (rm_swim_order_reserve(s->order, rm_swim__count(s) + 1))
        return -1;
    int64_t idx =
        rm_swim_members_add(s->members, s->now, name, addr, inc, state, flags, meta, mlen);
    if (idx > 0)
        rm_swim_order_insert(s->order, (uint32_t)idx, s->rng);
    if (idx >= 0 && (flags & RM_SWIM_WIRE_NO_INBOUND))
        rm_swim_probe_watch(s, name);
    return idx;
}

/* ------------------------------------------------------------------ */
/* Outputs: events, messages, gossip                                    */
/* ------------------------------------------------------------------ */

void rm_swim__event(rm_swim_t *s, rm_swim_event_kind_t kind, uint32_t idx)
{
    rm_swim_event_t ev;
    if (rm_swim_members_event(s->members, idx, kind, &ev) == 0 && rm_swim_fifo_push(s->events, &ev))
        free(ev.name);
}

static void output_push(rm_swim_t *s, const char *to, uint8_t *data, size_t len)
{
    rm_swim_output_t o = {strdup(to), data, len};
    if (!o.addr || rm_swim_fifo_push(s->out, &o)) {
        free(o.addr);
        free(data);
        return;
    }
    s->stats.msgs_out++;
    s->stats.bytes_out += len;
}

/*  ceil(log10(n + 1)): decimal digits of n. */
static unsigned digits(uint64_t n)
{
    unsigned d = 0;
    while (n) {
        d++;
        n /= 10;
    }
    return d;
}

/*  memberlist's mult * log10(n): 4 sends below 10 members, where gossip to
    3 of a few peers per round misses one in five or so (an epoch claim not
    heard); at least three rounds' worth keeps small meshes in step. */
static unsigned retransmit_limit(const rm_swim_t *s)
{
    unsigned limit = s->cfg.retransmit_mult * digits(rm_swim_members_live(s->members));
    unsigned rounds = 3 * s->cfg.gossip_nodes;
    return limit > rounds ? limit : rounds;
}

/*  The gossip timer is left out of the deadline while the queue is empty;
    news arriving then keeps it on its grid, as memberlist's ticker does,
    rather than gossiping at once (that would flood at latency speed
    instead of once per gossip interval). */
static void gossip_on_grid(rm_swim_t *s)
{
    int64_t gi = s->cfg.gossip_interval_ms;
    if (!rm_swim_bcast_count(s->bq) && s->next_gossip < s->now)
        s->next_gossip += gi * ((s->now - s->next_gossip + gi - 1) / gi);
}

static uint8_t *encode_update(const rm_swim_t *s, int64_t idx, uint8_t state, const char *from,
                              size_t *len)
{
    rm_swim_wire_update_t u;
    rm_swim_members_wire(s->members, (uint32_t)idx, state, from, &u);
    return rm_swim_wire_encode_update(&u, len);
}

/*  Gossips member idx's current state; `from` names the accuser for
    suspect and dead ("" for alive). */
static void announce(rm_swim_t *s, uint32_t idx, const char *from)
{
    size_t len;
    uint8_t *data = encode_update(s, idx, rm_swim__member(s, idx)->state, from, &len);
    if (!data)
        return;
    gossip_on_grid(s);
    rm_swim_bcast_put(s->bq, rm_swim__name(s, idx), data, len);
}

/*  Appends the updates array: the buddy-system suspicion first (if any),
    then queued updates that fit the packet budget. */
static int append_updates(rm_swim_t *s, uint8_t **buf, size_t *len, const uint8_t *buddy,
                          size_t buddy_len, bool piggyback, uint32_t *taken)
{
    const uint8_t *data[RM_SWIM_MAX_UPDATES];
    size_t lens[RM_SWIM_MAX_UPDATES];
    uint32_t pick[RM_SWIM_MAX_UPDATES], n = 0, count = 0;
    size_t fixed = *len + RM_SWIM_WIRE_UPDATES_HEAD + buddy_len;
    size_t budget = s->cfg.packet_budget > fixed ? s->cfg.packet_budget - fixed : 0;
    if (buddy) {
        data[count] = buddy;
        lens[count++] = buddy_len;
    }
    if (piggyback)
        n = rm_swim_bcast_pick(s->bq, budget, RM_SWIM_MAX_UPDATES - count, pick);
    for (uint32_t i = 0; i < n; i++, count++)
        data[count] = rm_swim_bcast_data(s->bq, pick[i], &lens[count]);
    if (rm_swim_wire_append_updates(buf, len, data, lens, count))
        return -1;
    rm_swim_bcast_sent(s->bq, pick, n, retransmit_limit(s));
    *taken = count;
    return 0;
}

int rm_swim__send(rm_swim_t *s, const char *to, int64_t to_idx, rm_swim_wire_kind_t kind,
                  const void *body)
{
    uint8_t *buf, *buddy = NULL;
    size_t len, buddy_len = 0;
    uint32_t taken = 0;
    bool push_pull = kind == RM_SWIM_WIRE_PUSH_PULL;
    if (rm_swim_wire_encode_head(kind, rm_swim__self(s), body, &buf, &len))
        return -1;
    /* Lifeguard's buddy system: a suspect hears about it from whoever
       talks to it, so it can refute at once. */
    if (to_idx > 0 && rm_swim__member(s, to_idx)->state == RM_SWIM_SUSPECT && !push_pull)
        buddy = encode_update(s, to_idx, RM_SWIM_SUSPECT, rm_swim__self(s), &buddy_len);
    int rc = append_updates(s, &buf, &len, buddy, buddy_len, !push_pull, &taken);
    free(buddy);
    if (rc) {
        free(buf);
        return -1;
    }
    output_push(s, to, buf, len);
    return (int)taken;
}

/* ------------------------------------------------------------------ */
/* Choosing members                                                     */
/* ------------------------------------------------------------------ */

bool rm_swim__reachable(const rm_swim_t *s, uint32_t i)
{
    return i > 0 && i < rm_swim__count(s) && !rm_swim__no_inbound(rm_swim__member(s, i));
}

bool rm_swim__can_help(const rm_swim_t *s, uint32_t i)
{
    return rm_swim__reachable(s, i) && rm_swim__member(s, i)->state == RM_SWIM_ALIVE;
}

/*  Live, or dead for less than gossip_to_the_dead: it may come back. */
static bool can_gossip(const rm_swim_t *s, uint32_t i)
{
    if (!rm_swim__reachable(s, i))
        return false;
    const member_t *m = rm_swim__member(s, i);
    return rm_swim__live(m) ||
           (m->state == RM_SWIM_DEAD &&
            rm_swim_members_since(s->members, i, s->now) < s->cfg.gossip_to_the_dead_ms);
}

uint32_t rm_swim__pick(rm_swim_t *s, uint32_t k, bool (*ok)(const rm_swim_t *, uint32_t),
                       int64_t except, uint32_t *out)
{
    uint32_t got = 0, n = rm_swim__count(s);
    for (uint64_t tries = 0; tries < 3ull * n && got < k; tries++) {
        uint32_t i = (uint32_t)rm_swim_rng_below(s->rng, n);
        bool dup = (int64_t)i == except;
        for (uint32_t j = 0; j < got && !dup; j++)
            dup = out[j] == i;
        if (!dup && ok(s, i))
            out[got++] = i;
    }
    return got;
}

/* ------------------------------------------------------------------ */
/* State changes: alive, suspect, dead, left, refute                    */
/* ------------------------------------------------------------------ */

static void refute(rm_swim_t *s, uint64_t accused)
{
    member_t *self = rm_swim__member(s, 0);
    self->inc = (accused > self->inc ? accused : self->inc) + 1;
    if (s->health + 1 < s->cfg.awareness_max)
        s->health++;
    s->stats.refutes++;
    announce(s, 0, "");
}

/*  An accusation about this node.  One about an older incarnation means
    the accuser missed our refutation (it may have been lost while our
    link was down): gossip our current alive again, without raising it. */
static void accused(rm_swim_t *s, uint64_t inc)
{
    if (s->leaving)
        return;
    if (inc >= rm_swim__member(s, 0)->inc)
        refute(s, inc);
    else
        announce(s, 0, "");
}

static bool same_data(const rm_swim_t *s, int64_t idx, const rm_swim_wire_update_t *u)
{
    const member_t *m = rm_swim__member(s, idx);
    return strcmp(rm_swim__addr(s, idx), u->addr) == 0 &&
           m->flags == (uint8_t)(u->flags & RM_SWIM_WIRE_NO_INBOUND) &&
           m->meta_len == u->meta.len &&
           (!u->meta.len ||
            !memcmp(rm_swim_members_meta(s->members, (uint32_t)idx), u->meta.data, u->meta.len));
}

/*  Someone claims we are alive with a higher incarnation, or other data:
    a previous life of this node.  Raise past it. */
static void self_alive(rm_swim_t *s, const rm_swim_wire_update_t *u)
{
    uint64_t inc = rm_swim__member(s, 0)->inc;
    if (s->leaving)
        return;
    if (u->incarnation > inc || (u->incarnation == inc && !same_data(s, 0, u)))
        refute(s, u->incarnation);
}

static void alive_new(rm_swim_t *s, const rm_swim_wire_update_t *u, bool quiet)
{
    uint8_t flags = (uint8_t)(u->flags & RM_SWIM_WIRE_NO_INBOUND);
    int64_t idx = member_add(s, u->name, u->addr, u->incarnation, RM_SWIM_ALIVE, flags,
                             u->meta.data, u->meta.len);
    if (idx < 0)
        return;
    rm_swim__event(s, RM_SWIM_EV_ALIVE, (uint32_t)idx);
    if (!quiet)
        announce(s, (uint32_t)idx, "");
}

/*  quiet_new: a member new to us is not gossiped (see rm_swim__merge). */
static void on_alive(rm_swim_t *s, const rm_swim_wire_update_t *u, bool quiet_new)
{
    uint8_t flags = (uint8_t)(u->flags & RM_SWIM_WIRE_NO_INBOUND);
    if (strcmp(u->name, rm_swim__self(s)) == 0) {
        self_alive(s, u);
        return;
    }
    int64_t idx = rm_swim__find(s, u->name);
    if (idx < 0) {
        alive_new(s, u, quiet_new);
        return;
    }
    if (u->incarnation <= rm_swim__member(s, idx)->inc)
        return;
    bool changed = !same_data(s, idx, u);
    if (changed &&
        rm_swim_members_set_strings(s->members, (uint32_t)idx, u->addr, u->meta.data, u->meta.len))
        return;
    member_t *m = rm_swim__member(s, idx);
    if (changed && (flags & RM_SWIM_WIRE_NO_INBOUND))
        rm_swim_probe_watch(s, u->name);
    m->flags = flags;
    m->inc = u->incarnation;
    rm_swim_members_stamp(s->members, (uint32_t)idx, s->now);
    rm_swim_suspects_drop(s->suspects, u->name);
    uint8_t was = m->state;
    rm_swim_members_set_state(s->members, (uint32_t)idx, RM_SWIM_ALIVE);
    if (was != RM_SWIM_ALIVE)
        rm_swim__event(s, RM_SWIM_EV_ALIVE, (uint32_t)idx);
    else if (changed)
        rm_swim__event(s, RM_SWIM_EV_UPDATED, (uint32_t)idx);
    announce(s, (uint32_t)idx, "");
}

void rm_swim__suspect(rm_swim_t *s, const char *name, uint64_t inc, const char *from)
{
    if (strcmp(name, rm_swim__self(s)) == 0) {
        accused(s, inc);
        return;
    }
    int64_t idx = rm_swim__find(s, name);
    if (idx < 0 || inc < rm_swim__member(s, idx)->inc)
        return;
    member_t *m = rm_swim__member(s, idx);
    bool ours = strcmp(from, rm_swim__self(s)) == 0;
    if (m->state == RM_SWIM_SUSPECT) {
        if (rm_swim_suspects_confirm(s->suspects, name, from, ours)) {
            s->stats.suspicions++;
            announce(s, (uint32_t)idx, from);
        }
        return;
    }
    if (m->state != RM_SWIM_ALIVE)
        return;
    m->inc = inc;
    rm_swim_members_set_state(s->members, (uint32_t)idx, RM_SWIM_SUSPECT);
    s->stats.suspicions++;
    rm_swim_suspects_start(s->suspects, name, inc, from, ours, s->now,
                           rm_swim_members_live(s->members));
    rm_swim__event(s, RM_SWIM_EV_SUSPECT, (uint32_t)idx);
    announce(s, (uint32_t)idx, from);
}

static void on_dead(rm_swim_t *s, const char *name, uint64_t inc, const char *from, bool left)
{
    if (strcmp(name, rm_swim__self(s)) == 0) {
        accused(s, inc);
        return;
    }
    int64_t idx = rm_swim__find(s, name);
    if (idx < 0 || inc < rm_swim__member(s, idx)->inc)
        return;
    member_t *m = rm_swim__member(s, idx);
    /* Dead stays dead, except that the member's own word that it left is
       the better news. */
    if (m->state == RM_SWIM_LEFT || (m->state == RM_SWIM_DEAD && !left))
        return;
    m->inc = inc;
    rm_swim_members_stamp(s->members, (uint32_t)idx, s->now);
    rm_swim_suspects_drop(s->suspects, name);
    rm_swim_members_set_state(s->members, (uint32_t)idx, left ? RM_SWIM_LEFT : RM_SWIM_DEAD);
    rm_swim__event(s, left ? RM_SWIM_EV_LEFT : RM_SWIM_EV_DEAD, (uint32_t)idx);
    announce(s, (uint32_t)idx, from);
}

static void apply_update(rm_swim_t *s, const rm_swim_wire_update_t *u, const char *sender)
{
    const char *from = u->from[0] ? u->from : sender;
    switch (u->state) {
    case RM_SWIM_ALIVE:
        on_alive(s, u, false);
        break;
    case RM_SWIM_SUSPECT:
        rm_swim__suspect(s, u->name, u->incarnation, from);
        break;
    case RM_SWIM_DEAD:
        on_dead(s, u->name, u->incarnation, from, false);
        break;
    default:
        on_dead(s, u->name, u->incarnation, u->name, true);
        break;
    }
}

/*  Members new to us are added quietly, except a joining sender, which we
    announce as a seed does; a member the peer holds dead only becomes
    suspect here, accused by us. */
void rm_swim__merge(rm_swim_t *s, const rm_swim_wire_update_t *u, const char *sender, bool join)
{
    switch (u->state) {
    case RM_SWIM_ALIVE:
        on_alive(s, u, !(join && strcmp(u->name, sender) == 0));
        break;
    case RM_SWIM_SUSPECT:
    case RM_SWIM_DEAD:
        rm_swim__suspect(s, u->name, u->incarnation, rm_swim__self(s));
        break;
    default:
        on_dead(s, u->name, u->incarnation, u->name, true);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Gossip                                                               */
/* ------------------------------------------------------------------ */

/*  Our addition to the buddy system: a member whose probe of a suspect
    failed tells the suspect every gossip interval (the suspicion rides
    first on the message), so a node that was cut off for a moment hears
    it as soon as its link is back, not only when it is next probed.  Only
    the few accusers do it, so a dead node in a big cluster gets little. */
static void tell_suspects(rm_swim_t *s)
{
    rm_swim_wire_gossip_t g = {false};
    for (uint32_t i = 0; i < rm_swim_suspects_count(s->suspects); i++) {
        bool ours;
        const char *name = rm_swim_suspects_name(s->suspects, i, &ours);
        int64_t idx = ours ? rm_swim__find(s, name) : -1;
        if (idx > 0 && rm_swim__reachable(s, (uint32_t)idx) &&
            rm_swim__member(s, idx)->state == RM_SWIM_SUSPECT)
            rm_swim__send(s, rm_swim__addr(s, idx), idx, RM_SWIM_WIRE_GOSSIP, &g);
    }
}

static void gossip_round(rm_swim_t *s)
{
    uint32_t targets[64];
    tell_suspects(s);
    bool pull = s->cfg.no_inbound && !s->leaving;
    if (!rm_swim_bcast_count(s->bq) && !pull)
        return;
    uint32_t k = s->cfg.gossip_nodes < 64 ? s->cfg.gossip_nodes : 64;
    uint32_t got = rm_swim__pick(s, k, can_gossip, -1, targets);
    rm_swim_wire_gossip_t g = {pull};
    for (uint32_t i = 0; i < got; i++) {
        if (!rm_swim_bcast_count(s->bq) && !pull)
            return;
        rm_swim__send(s, rm_swim__addr(s, targets[i]), targets[i], RM_SWIM_WIRE_GOSSIP, &g);
    }
}

/*  A GOSSIP that asks for a reply (from a no-inbound member) gets our
    queued updates back over its connection. */
static void on_gossip(rm_swim_t *s, const char *from_addr, int64_t from_idx, bool reply)
{
    bool suspect = from_idx > 0 && rm_swim__member(s, from_idx)->state == RM_SWIM_SUSPECT;
    if (!reply || (!rm_swim_bcast_count(s->bq) && !suspect))
        return;
    rm_swim_wire_gossip_t g = {false};
    rm_swim__send(s, from_addr, from_idx, RM_SWIM_WIRE_GOSSIP, &g);
}

/* ------------------------------------------------------------------ */
/* Receiving                                                            */
/* ------------------------------------------------------------------ */

static void handle_message(rm_swim_t *s, const char *from_addr, rm_swim_wire_msg_t *w)
{
    const rm_swim_wire_body_t *b = &w->body;
    switch (w->kind) {
    case RM_SWIM_WIRE_PING:
        rm_swim_probe_on_ping(s, w->from, from_addr, &b->ping);
        break;
    case RM_SWIM_WIRE_ACK:
        rm_swim_probe_on_ack(s, b->ack.seq);
        break;
    case RM_SWIM_WIRE_NACK:
        rm_swim_probe_on_nack(s, b->ack.seq);
        break;
    case RM_SWIM_WIRE_PING_REQ:
        rm_swim_probe_on_ping_req(s, from_addr, &b->req);
        break;
    case RM_SWIM_WIRE_GOSSIP:
        on_gossip(s, from_addr, rm_swim__find(s, w->from), b->gossip.reply);
        break;
    case RM_SWIM_WIRE_PUSH_PULL:
        rm_swim_sync_on_push_pull(s, w->from, from_addr, &b->pp);
        break;
    default:
        break;
    }
}

static void advance(rm_swim_t *s, int64_t now)
{
    /* Time never runs backwards for the engine, whatever the caller does. */
    if (now > s->now)
        s->now = now;
}

int rm_swim_receive(rm_swim_t *self, int64_t now, const char *from_addr, const uint8_t *data,
                    size_t len, rm_err_t *err)
{
    rm_swim_wire_msg_t *w;
    if (!valid_str(from_addr, RM_SWIM_MAX_ADDR))
        return rm_err_set(err, RM_EINVAL, "membership message without a sender address");
    advance(self, now);
    self->stats.msgs_in++;
    self->stats.bytes_in += len;
    w = malloc(sizeof *w);
    if (!w)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    if (rm_swim_wire_decode(data, len, w, err)) {
        self->stats.bad_in++;
        free(w);
        return -1;
    }
    if (strcmp(w->from, rm_swim__self(self)) == 0) {
        self->stats.bad_in++;
        rm_swim_wire_free(w);
        free(w);
        return rm_err_set(err, RM_EPROTO, "membership message from %s claims this node's own name",
                          from_addr);
    }
    rm_swim_probe_heard(self, w->from);
    for (uint32_t i = 0; i < w->nupdates; i++)
        apply_update(self, &w->updates[i], w->from);
    handle_message(self, from_addr, w);
    if (w->kind == RM_SWIM_WIRE_PING)
        rm_swim_sync_stranger(self, w->from, from_addr);
    rm_swim_wire_free(w);
    free(w);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Timers                                                               */
/* ------------------------------------------------------------------ */

static void expire_suspicions(rm_swim_t *s)
{
    char name[RM_SWIM_MAX_NAME + 1];
    uint64_t inc;
    while (rm_swim_suspects_expired(s->suspects, s->now, name, &inc))
        on_dead(s, name, inc, rm_swim__self(s), false);
}

/*  A no-inbound node cannot be probed: its raised incarnation, gossiped,
    is its sign of life. */
static void heartbeat(rm_swim_t *s)
{
    s->next_heartbeat = s->now + s->cfg.nat_heartbeat_ms;
    rm_swim__member(s, 0)->inc++;
    announce(s, 0, "");
}

void rm_swim_tick(rm_swim_t *self, int64_t now)
{
    rm_swim_t *s = self;
    advance(s, now);
    rm_swim_probe_tick(s);
    expire_suspicions(s);
    if (s->now >= s->next_gossip) {
        int64_t gi = s->cfg.gossip_interval_ms;
        s->next_gossip += gi * ((s->now - s->next_gossip) / gi + 1);
        gossip_round(s);
    }
    if (s->leaving)
        return;
    rm_swim_sync_tick(s);
    if (s->cfg.no_inbound && s->now >= s->next_heartbeat)
        heartbeat(s);
}

int64_t rm_swim_next_deadline(const rm_swim_t *s)
{
    int64_t d = rm_swim_probe_deadline(s);
    d = rm_swim__earlier(d, rm_swim_suspects_deadline(s->suspects));
    if (rm_swim_bcast_count(s->bq) || rm_swim_suspects_count(s->suspects) ||
        (s->cfg.no_inbound && !s->leaving))
        d = rm_swim__earlier(d, s->next_gossip);
    if (s->leaving)
        return d;
    d = rm_swim__earlier(d, rm_swim_sync_deadline(s));
    if (s->cfg.no_inbound)
        d = rm_swim__earlier(d, s->next_heartbeat);
    return d;
}

/* ------------------------------------------------------------------ */
/* Public API                                                           */
/* ------------------------------------------------------------------ */

static int make_parts(rm_swim_t *s, uint64_t seed)
{
    const rm_swim_config_t *c = &s->cfg;
    s->out = rm_swim_fifo_new(sizeof(rm_swim_output_t));
    s->events = rm_swim_fifo_new(sizeof(rm_swim_event_t));
    s->rng = rm_swim_rng_new(seed);
    s->members = rm_swim_members_new(s->now);
    s->order = rm_swim_order_new();
    s->suspects = rm_swim_suspects_new(c->suspicion_mult, c->suspicion_max_timeout_mult,
                                       c->probe_interval_ms);
    s->bq = rm_swim_bcast_new(c->max_broadcasts);
    return s->out && s->events && s->rng && s->members && s->order && s->suspects && s->bq ? 0 : -1;
}

/*  Staggered first timers: engines started together do not beat together. */
static void start_timers(rm_swim_t *s)
{
    const rm_swim_config_t *c = &s->cfg;
    int64_t now = s->now;
    s->next_probe = now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)c->probe_interval_ms);
    s->next_gossip = now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)c->gossip_interval_ms);
    s->next_pp = now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)c->push_pull_interval_ms + 1);
    s->pp_drawn = c->push_pull_interval_ms;
    s->next_reconnect =
        now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)c->reconnect_interval_ms + 1);
    s->next_heartbeat = now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)c->nat_heartbeat_ms);
}

rm_swim_t *rm_swim_new(const rm_swim_config_t *cfg, const char *self_name, const char *self_addr,
                       uint64_t seed, int64_t now, rm_err_t *err)
{
    rm_swim_config_t def;
    if (!cfg) {
        rm_swim_config_default(&def);
        cfg = &def;
    }
    if (rm_swim_config_check(cfg, err))
        return NULL;
    if (!valid_str(self_name, RM_SWIM_MAX_NAME) || !valid_str(self_addr, RM_SWIM_MAX_ADDR)) {
        rm_err_set(err, RM_EINVAL, "member name and address must be 1..%d bytes", RM_SWIM_MAX_NAME);
        return NULL;
    }
    rm_swim_t *s = calloc(1, sizeof *s);
    if (!s) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->now = now;
    if (make_parts(s, seed))
        goto nomem;
    s->seq = rm_swim_rng_next(s->rng) >> 33; /* a restarted node does not reuse old seqs */
    uint8_t flags = cfg->no_inbound ? RM_SWIM_WIRE_NO_INBOUND : 0;
    if (member_add(s, self_name, self_addr, 0, RM_SWIM_ALIVE, flags, NULL, 0) != 0)
        goto nomem;
    start_timers(s);
    announce(s, 0, "");
    return s;
nomem:
    rm_swim_destroy(&s);
    rm_err_set(err, RM_ENOMEM, "out of memory");
    return NULL;
}

/*  The caller's messages and events that were never taken. */
static void drop_untaken(rm_swim_t *s)
{
    rm_swim_output_t o;
    rm_swim_event_t e;
    while (s->out && rm_swim_fifo_pop(s->out, &o))
        rm_swim_output_free(&o);
    while (s->events && rm_swim_fifo_pop(s->events, &e))
        rm_swim_event_free(&e);
    rm_swim_fifo_destroy(&s->out);
    rm_swim_fifo_destroy(&s->events);
}

void rm_swim_destroy(rm_swim_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_swim_t *s = *self_p;
    rm_swim_probe_free(s);
    drop_untaken(s);
    rm_swim_bcast_destroy(&s->bq);
    rm_swim_suspects_destroy(&s->suspects);
    rm_swim_order_destroy(&s->order);
    rm_swim_members_destroy(&s->members);
    rm_swim_rng_destroy(&s->rng);
    free(s->join_addr);
    free(s);
    *self_p = NULL;
}

int rm_swim_join(rm_swim_t *self, int64_t now, const char *seed_addr, rm_err_t *err)
{
    if (!valid_str(seed_addr, RM_SWIM_MAX_ADDR))
        return rm_err_set(err, RM_EINVAL, "join: seed address must be 1..%d bytes",
                          RM_SWIM_MAX_ADDR);
    if (self->leaving)
        return rm_err_set(err, RM_EINVAL, "join: this node is leaving");
    advance(self, now);
    char *c = strdup(seed_addr);
    if (!c)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    free(self->join_addr);
    self->join_addr = c;
    self->next_join = self->now + self->cfg.join_retry_ms;
    announce(self, 0, ""); /* the joiner announces itself once it knows whom to tell */
    self->stats.push_pulls++;
    rm_swim_sync_send(self, seed_addr, -1, true, true);
    return 0;
}

void rm_swim_leave(rm_swim_t *self, int64_t now)
{
    advance(self, now);
    if (self->leaving)
        return;
    self->leaving = true;
    rm_swim_members_set_state(self->members, 0, RM_SWIM_LEFT);
    announce(self, 0, rm_swim__self(self));
    rm_swim_probe_stop(self);
    free(self->join_addr);
    self->join_addr = NULL;
}

int rm_swim_set_meta(rm_swim_t *self, int64_t now, const uint8_t *meta, size_t len, rm_err_t *err)
{
    if (len > RM_SWIM_MAX_META)
        return rm_err_set(err, RM_EINVAL, "member metadata of %zu bytes, max %d", len,
                          RM_SWIM_MAX_META);
    if (len && !meta)
        return rm_err_set(err, RM_EINVAL, "member metadata: NULL with a length");
    if (self->leaving)
        return rm_err_set(err, RM_EINVAL, "member metadata: this node is leaving");
    advance(self, now);
    if (rm_swim_members_set_strings(self->members, 0, rm_swim__addr(self, 0), meta, len))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    rm_swim__member(self, 0)->inc++;
    announce(self, 0, "");
    return 0;
}

int rm_swim_next_output(rm_swim_t *self, rm_swim_output_t *out)
{
    return rm_swim_fifo_pop(self->out, out);
}

void rm_swim_output_free(rm_swim_output_t *out)
{
    if (!out)
        return;
    free(out->addr);
    free(out->data);
    memset(out, 0, sizeof *out);
}

int rm_swim_next_event(rm_swim_t *self, rm_swim_event_t *ev)
{
    return rm_swim_fifo_pop(self->events, ev);
}

void rm_swim_event_free(rm_swim_event_t *ev)
{
    if (!ev)
        return;
    free(ev->name); /* name, addr and meta share one allocation */
    memset(ev, 0, sizeof *ev);
}

size_t rm_swim_count(const rm_swim_t *self, unsigned state_mask)
{
    return rm_swim_members_count_in(self->members, state_mask);
}

size_t rm_swim_member_total(const rm_swim_t *self)
{
    return rm_swim__count(self);
}

int rm_swim_member_at(const rm_swim_t *self, size_t index, rm_swim_member_t *out)
{
    if (index >= rm_swim__count(self))
        return -1;
    rm_swim_members_view(self->members, (uint32_t)index, out);
    return 0;
}

int rm_swim_find(const rm_swim_t *self, const char *name, rm_swim_member_t *out)
{
    int64_t idx = name ? rm_swim__find(self, name) : -1;
    return idx < 0 ? -1 : rm_swim_member_at(self, (size_t)idx, out);
}

const char *rm_swim_state_name(rm_swim_state_t state)
{
    switch (state) {
    case RM_SWIM_ALIVE:
        return "alive";
    case RM_SWIM_SUSPECT:
        return "suspect";
    case RM_SWIM_DEAD:
        return "dead";
    case RM_SWIM_LEFT:
        return "left";
    }
    return "unknown";
}

size_t rm_swim_pending_broadcasts(const rm_swim_t *self)
{
    return rm_swim_bcast_count(self->bq);
}

void rm_swim_stats(const rm_swim_t *self, rm_swim_stats_t *out)
{
    *out = self->stats;
    out->health_score = self->health;
}
