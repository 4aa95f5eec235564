/*  rm_swim: SWIM + Lifeguard membership engine.  See rm_swim.h for the
    protocol and the wire format, docs/membership.md for the reasoning and
    the measurements.  No I/O, no clock, no global state: everything lives
    in the rm_swim_t and every input carries `now`. */
#include "rm_swim.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_swim_arena.h"
#include "rm_swim_array.h"
#include "rm_swim_bcast.h"
#include "rm_swim_config.h"
#include "rm_swim_fifo.h"
#include "rm_swim_names.h"
#include "rm_swim_rng.h"
#include "rm_swim_wire.h"

#define MAX_CONFIRM 16 /* suspicion confirmations tracked (k is at most this) */

/* ------------------------------------------------------------------ */
/* Engine state                                                         */
/* ------------------------------------------------------------------ */

/*  24 bytes, strings in the engine's arena: a 10000-node simulation holds
    10^8 of these, and every byte here is 100 MB there. */
typedef struct {
    uint64_t inc;      /* incarnation */
    uint32_t str;      /* arena offset of "name\0addr\0" then meta */
    int32_t stamp;     /* deciseconds since the engine started (see since()):
                          dead/left: since when; alive: last sign of life */
    uint16_t addr_off; /* addr = name + addr_off */
    uint16_t meta_len;
    uint8_t state; /* rm_swim_state_t */
    uint8_t flags;
} member_t;

typedef struct {
    char *name;
    uint64_t inc;
    int64_t start, deadline, min, max;
    unsigned k, confirmations;
    char *who[MAX_CONFIRM + 1]; /* the first accuser, then each confirmer */
    unsigned nwho;
    bool ours; /* one of our own probes failed on it: we keep telling it */
} suspicion_t;

typedef struct {
    uint64_t seq;
    char *origin; /* address to answer */
    uint64_t origin_seq;
    int64_t deadline;
    bool nack;
} relay_t;

typedef struct {
    bool active;
    bool indirect;
    char *target;
    uint64_t seq;
    int64_t direct_deadline, end;
    unsigned expected_nacks, nacks;
} probe_t;

struct _rm_swim_t {
    rm_swim_config_t cfg;
    rm_swim_rng_t *rng;
    int64_t now;
    bool leaving;
    unsigned health;
    uint64_t seq;

    member_t *m; /* m[0] is this node */
    uint32_t n, cap;
    rm_swim_arena_t *arena; /* every member's strings */
    int64_t epoch;          /* creation time: member stamps count from it */
    rm_swim_names_t *names; /* member name -> index in m */
    uint32_t *order;        /* probe order: shuffled member indices */
    uint32_t norder, caporder, probe_pos;
    uint32_t live, dead, left; /* counts by state, this node included */

    probe_t probe;
    int64_t next_probe, next_gossip, next_pp, next_reconnect, next_heartbeat, next_join;
    int64_t next_unknown_pp; /* rate limit of push-pulls with unknown senders */
    int64_t pp_drawn;        /* the push-pull interval next_pp was drawn over */
    char *join_addr;

    suspicion_t *susp;
    uint32_t nsusp, capsusp;
    relay_t *relays;
    uint32_t nrelays, caprelays;
    rm_swim_bcast_t *bq; /* updates waiting to be piggybacked */
    char **nat;          /* names of no-inbound members, to watch for their heartbeats */
    uint32_t nnat, capnat;

    rm_swim_fifo_t *out, *events;
    rm_swim_stats_t stats;
};

/* ------------------------------------------------------------------ */
/* Small helpers: math without libm                                    */
/* ------------------------------------------------------------------ */

/*  Natural log for x >= 1 by ln(m * 2^e) = e ln 2 + 2 atanh((m-1)/(m+1)):
    the node library does not link libm, and 1e-12 is plenty for timers. */
static double ln(double x)
{
    const double ln2 = 0.69314718055994530942;
    int e = 0;
    if (x <= 0)
        return 0;
    while (x >= 2) {
        x /= 2;
        e++;
    }
    while (x < 1) {
        x *= 2;
        e--;
    }
    double z = (x - 1) / (x + 1), z2 = z * z, term = z, sum = 0;
    for (int i = 1; i < 40; i += 2) {
        sum += term / i;
        term *= z2;
    }
    return e * ln2 + 2 * sum;
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

static bool valid_str(const char *s, size_t max)
{
    return s && *s && strnlen(s, max + 1) <= max;
}

/* ------------------------------------------------------------------ */
/* Members: array + hash index + probe order                            */
/* ------------------------------------------------------------------ */

static const char *m_name(const rm_swim_t *s, const member_t *m)
{
    return rm_swim_arena_at(s->arena, m->str);
}

static const char *m_addr(const rm_swim_t *s, const member_t *m)
{
    return rm_swim_arena_at(s->arena, m->str + m->addr_off);
}

static const uint8_t *m_meta(const rm_swim_t *s, const member_t *m)
{
    const char *a = m_addr(s, m);
    return (const uint8_t *)a + strlen(a) + 1;
}

static size_t m_size(const rm_swim_t *s, const member_t *m)
{
    return (size_t)((const char *)m_meta(s, m) - m_name(s, m)) + m->meta_len;
}

/*  The arena's view of the member table, for its compaction. */
static uint32_t *arena_record(void *owner, uint32_t i, size_t *size)
{
    rm_swim_t *s = owner;
    if (i >= s->n)
        return NULL;
    *size = m_size(s, &s->m[i]);
    return &s->m[i].str;
}

/*  Stamps are deciseconds since the engine started, in 32 bits (6.8 years,
    then they stay at the maximum): 0.1 s is finer than any timer they
    serve (gossip to the dead, reaping, the NAT timeout). */
static int32_t stamp_now(const rm_swim_t *s)
{
    int64_t d = (s->now - s->epoch) / 100;
    return d > INT32_MAX ? INT32_MAX : (int32_t)d;
}

static int64_t since(const rm_swim_t *s, const member_t *m)
{
    return s->now - (s->epoch + (int64_t)m->stamp * 100);
}

/*  The name index's view of the member table. */
static const char *member_name(const void *owner, uint32_t idx)
{
    const rm_swim_t *s = owner;
    return m_name(s, &s->m[idx]);
}

static int64_t find_idx(const rm_swim_t *s, const char *name)
{
    return rm_swim_names_find(s->names, name);
}

static bool m_no_inbound(const member_t *m)
{
    return (m->flags & RM_SWIM_WIRE_NO_INBOUND) != 0;
}

static bool m_live(const member_t *m)
{
    return m->state == RM_SWIM_ALIVE || m->state == RM_SWIM_SUSPECT;
}

static void count_state(rm_swim_t *s, uint8_t state, int delta)
{
    if (state == RM_SWIM_ALIVE || state == RM_SWIM_SUSPECT)
        s->live += (uint32_t)delta;
    else if (state == RM_SWIM_DEAD)
        s->dead += (uint32_t)delta;
    else if (state == RM_SWIM_LEFT)
        s->left += (uint32_t)delta;
}

static void set_state(rm_swim_t *s, uint32_t idx, uint8_t state)
{
    count_state(s, s->m[idx].state, -1);
    s->m[idx].state = state;
    count_state(s, state, +1);
}

/*  New address and meta for member idx.  The arguments may point into the
    arena (the caller's rm_swim_member_t), so they are copied first. */
static int set_strings(rm_swim_t *s, uint32_t idx, const char *addr, const uint8_t *meta,
                       size_t mlen)
{
    char name[RM_SWIM_MAX_NAME + 1], a[RM_SWIM_MAX_ADDR + 1];
    uint8_t mt[RM_SWIM_MAX_META];
    if (mlen > sizeof mt || strlen(addr) >= sizeof a)
        return -1;
    snprintf(name, sizeof name, "%s", m_name(s, &s->m[idx]));
    snprintf(a, sizeof a, "%s", addr);
    if (mlen)
        memcpy(mt, meta, mlen);
    size_t old = m_size(s, &s->m[idx]);
    uint32_t off;
    uint16_t ao;
    if (rm_swim_arena_put(s->arena, name, a, mt, mlen, &off, &ao))
        return -1;
    rm_swim_arena_release(s->arena, old);
    s->m[idx].str = off;
    s->m[idx].addr_off = ao;
    s->m[idx].meta_len = (uint16_t)mlen;
    return 0;
}

static void nat_watch(rm_swim_t *s, const char *name)
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

/*  New members go to a random place in the rest of the current probe pass,
    as memberlist does, so each is probed within one pass. */
static void order_insert(rm_swim_t *s, uint32_t idx)
{
    s->order[s->norder++] = idx;
    uint32_t span = s->norder - s->probe_pos;
    uint32_t j = s->probe_pos + (uint32_t)rm_swim_rng_below(s->rng, span);
    s->order[s->norder - 1] = s->order[j];
    s->order[j] = idx;
}

static int64_t member_add(rm_swim_t *s, const char *name, const char *addr, uint64_t inc,
                          uint8_t state, uint8_t flags, const uint8_t *meta, size_t mlen)
{
    uint32_t off;
    uint16_t ao;
    if (rm_swim_array_grow((void **)&s->m, &s->cap, s->n + 1, sizeof *s->m) ||
        rm_swim_array_grow((void **)&s->order, &s->caporder, s->n + 1, sizeof *s->order) ||
        rm_swim_names_reserve(s->names, s->n + 1))
        return -1;
    if (rm_swim_arena_put(s->arena, name, addr, meta, mlen, &off, &ao))
        return -1;
    uint32_t idx = s->n++;
    s->m[idx] = (member_t){inc, off, stamp_now(s), ao, (uint16_t)mlen, 0, flags};
    set_state(s, idx, state);
    rm_swim_names_set(s->names, name, idx);
    if (idx > 0)
        order_insert(s, idx);
    if (flags & RM_SWIM_WIRE_NO_INBOUND)
        nat_watch(s, name);
    return idx;
}

/*  Removes member idx (never 0) by moving the last one into its place.
    Only called between probe passes, when the order is rebuilt anyway. */
static void member_remove(rm_swim_t *s, uint32_t idx)
{
    uint32_t last = s->n - 1;
    rm_swim_names_remove(s->names, m_name(s, &s->m[idx]));
    count_state(s, s->m[idx].state, -1);
    rm_swim_arena_release(s->arena, m_size(s, &s->m[idx]));
    if (idx != last) {
        s->m[idx] = s->m[last];
        rm_swim_names_set(s->names, m_name(s, &s->m[idx]), idx);
    }
    s->n--;
}

/* ------------------------------------------------------------------ */
/* Events and outputs                                                   */
/* ------------------------------------------------------------------ */

static void event_push(rm_swim_t *s, rm_swim_event_kind_t kind, uint32_t idx)
{
    const member_t *m = &s->m[idx];
    size_t nl = strlen(m_name(s, m)), al = strlen(m_addr(s, m));
    rm_swim_event_t ev = {kind, NULL, NULL, m->inc, NULL, m->meta_len, m_no_inbound(m)};
    ev.name = malloc(nl + 1 + al + 1 + m->meta_len);
    if (!ev.name)
        return;
    memcpy(ev.name, m_name(s, m), nl + 1 + al + 1 + m->meta_len);
    ev.addr = ev.name + nl + 1;
    if (m->meta_len)
        ev.meta = (uint8_t *)ev.addr + al + 1;
    if (rm_swim_fifo_push(s->events, &ev))
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

/* ------------------------------------------------------------------ */
/* Broadcast queue (memberlist's TransmitLimitedQueue)                  */
/* ------------------------------------------------------------------ */

/*  memberlist's mult * log10(n): 4 sends below 10 members, where gossip to
    3 of a few peers per round misses one in five or so (an epoch claim not
    heard); at least three rounds' worth keeps small meshes in step. */
static unsigned retransmit_limit(const rm_swim_t *s)
{
    unsigned limit = s->cfg.retransmit_mult * digits(s->live);
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

/*  Member m as an update: in `state`, accused by `from` (NULL: ""). */
static void member_wire(const rm_swim_t *s, const member_t *m, uint8_t state, const char *from,
                        rm_swim_wire_update_t *u)
{
    *u = (rm_swim_wire_update_t){(char *)m_name(s, m),
                                 (char *)m_addr(s, m),
                                 m->inc,
                                 state,
                                 (char *)from,
                                 m->flags,
                                 {m->meta_len ? (uint8_t *)m_meta(s, m) : NULL, m->meta_len}};
}

static uint8_t *encode_update(const rm_swim_t *s, const member_t *m, uint8_t state,
                              const char *from, size_t *len)
{
    rm_swim_wire_update_t u;
    member_wire(s, m, state, from, &u);
    return rm_swim_wire_encode_update(&u, len);
}

/*  Gossips member idx's current state; `from` names the accuser for
    suspect and dead ("" for alive). */
static void broadcast(rm_swim_t *s, uint32_t idx, const char *from)
{
    size_t len;
    uint8_t *data = encode_update(s, &s->m[idx], s->m[idx].state, from, &len);
    if (!data)
        return;
    gossip_on_grid(s);
    rm_swim_bcast_put(s->bq, m_name(s, &s->m[idx]), data, len);
}

/* ------------------------------------------------------------------ */
/* Encoding messages                                                    */
/* ------------------------------------------------------------------ */

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

/*  Builds and queues one message to `to` (to_idx: the member, or -1).
    Returns the number of piggybacked updates, or -1. */
static int send_msg(rm_swim_t *s, const char *to, int64_t to_idx, rm_swim_wire_kind_t kind,
                    const void *body)
{
    uint8_t *buf, *buddy = NULL;
    size_t len, buddy_len = 0;
    uint32_t taken = 0;
    bool push_pull = kind == RM_SWIM_WIRE_PUSH_PULL;
    if (rm_swim_wire_encode_head(kind, m_name(s, &s->m[0]), body, &buf, &len))
        return -1;
    /* Lifeguard's buddy system: a suspect hears about it from whoever
       talks to it, so it can refute at once. */
    if (to_idx > 0 && s->m[to_idx].state == RM_SWIM_SUSPECT && !push_pull)
        buddy = encode_update(s, &s->m[to_idx], RM_SWIM_SUSPECT, m_name(s, &s->m[0]), &buddy_len);
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
/* Suspicion (Lifeguard's dynamic suspicion timeout)                    */
/* ------------------------------------------------------------------ */

/*  min = suspicion_mult * max(1, log10(n)) * probe_interval (memberlist). */
static int64_t suspicion_min(const rm_swim_t *s)
{
    double scale = s->live > 10 ? ln((double)s->live) / ln(10.0) : 1.0;
    return (int64_t)((double)s->cfg.suspicion_mult * scale * (double)s->cfg.probe_interval_ms);
}

static suspicion_t *susp_find(rm_swim_t *s, const char *name)
{
    for (uint32_t i = 0; i < s->nsusp; i++)
        if (strcmp(s->susp[i].name, name) == 0)
            return &s->susp[i];
    return NULL;
}

static void susp_drop(rm_swim_t *s, const char *name)
{
    suspicion_t *p = susp_find(s, name);
    if (!p)
        return;
    free(p->name);
    for (unsigned i = 0; i < p->nwho; i++)
        free(p->who[i]);
    *p = s->susp[--s->nsusp];
}

static void susp_start(rm_swim_t *s, const char *name, uint64_t inc, const char *from)
{
    susp_drop(s, name);
    if (rm_swim_array_grow((void **)&s->susp, &s->capsusp, s->nsusp + 1, sizeof *s->susp))
        return;
    suspicion_t p = {.name = strdup(name), .inc = inc, .start = s->now};
    p.k = s->cfg.suspicion_mult > 2 ? s->cfg.suspicion_mult - 2 : 0;
    if (p.k > MAX_CONFIRM)
        p.k = MAX_CONFIRM;
    /* Too few members to expect k independent confirmations. */
    if (s->live < p.k + 2)
        p.k = 0;
    p.min = suspicion_min(s);
    p.max = (int64_t)s->cfg.suspicion_max_timeout_mult * p.min;
    p.deadline = p.start + (p.k ? p.max : p.min);
    p.who[0] = strdup(from);
    p.nwho = 1;
    p.ours = strcmp(from, m_name(s, &s->m[0])) == 0;
    if (!p.name || !p.who[0]) {
        free(p.name);
        free(p.who[0]);
        return;
    }
    s->susp[s->nsusp++] = p;
}

/*  An independent accuser: timeout = max - (max - min) * log(c+1)/log(k+1).
    Returns true when it was news (then the suspicion is re-gossiped). */
static bool susp_confirm(rm_swim_t *s, const char *name, const char *from)
{
    suspicion_t *p = susp_find(s, name);
    if (!p || p->confirmations >= p->k)
        return false;
    for (unsigned i = 0; i < p->nwho; i++)
        if (strcmp(p->who[i], from) == 0)
            return false;
    char *c = strdup(from);
    if (!c)
        return false;
    p->who[p->nwho++] = c;
    p->confirmations++;
    p->ours = p->ours || strcmp(from, m_name(s, &s->m[0])) == 0;
    double frac = ln(p->confirmations + 1.0) / ln(p->k + 1.0);
    int64_t timeout = p->max - (int64_t)(frac * (double)(p->max - p->min));
    if (timeout < p->min)
        timeout = p->min;
    p->deadline = p->start + timeout;
    return true;
}

/* ------------------------------------------------------------------ */
/* State changes: alive, suspect, dead, left, refute                    */
/* ------------------------------------------------------------------ */

static void refute(rm_swim_t *s, uint64_t accused)
{
    member_t *self = &s->m[0];
    self->inc = (accused > self->inc ? accused : self->inc) + 1;
    if (s->health + 1 < s->cfg.awareness_max)
        s->health++;
    s->stats.refutes++;
    broadcast(s, 0, "");
}

/*  An accusation about this node.  One about an older incarnation means
    the accuser missed our refutation (it may have been lost while our
    link was down): gossip our current alive again, without raising it. */
static void accused(rm_swim_t *s, uint64_t inc)
{
    if (s->leaving)
        return;
    if (inc >= s->m[0].inc)
        refute(s, inc);
    else
        broadcast(s, 0, "");
}

static bool same_data(const rm_swim_t *s, const member_t *m, const rm_swim_wire_update_t *u)
{
    return strcmp(m_addr(s, m), u->addr) == 0 &&
           m->flags == (uint8_t)(u->flags & RM_SWIM_WIRE_NO_INBOUND) &&
           m->meta_len == u->meta.len &&
           (!u->meta.len || !memcmp(m_meta(s, m), u->meta.data, u->meta.len));
}

/*  Someone claims we are alive with a higher incarnation, or other data:
    a previous life of this node.  Raise past it. */
static void self_alive(rm_swim_t *s, const rm_swim_wire_update_t *u)
{
    const member_t *self = &s->m[0];
    if (s->leaving)
        return;
    if (u->incarnation > self->inc || (u->incarnation == self->inc && !same_data(s, self, u)))
        refute(s, u->incarnation);
}

static void on_alive(rm_swim_t *s, const rm_swim_wire_update_t *u, bool quiet_new)
{
    uint8_t flags = (uint8_t)(u->flags & RM_SWIM_WIRE_NO_INBOUND);
    if (strcmp(u->name, m_name(s, &s->m[0])) == 0) {
        self_alive(s, u);
        return;
    }
    int64_t idx = find_idx(s, u->name);
    if (idx < 0) {
        idx = member_add(s, u->name, u->addr, u->incarnation, RM_SWIM_ALIVE, flags, u->meta.data,
                         u->meta.len);
        if (idx < 0)
            return;
        event_push(s, RM_SWIM_EV_ALIVE, (uint32_t)idx);
        if (!quiet_new)
            broadcast(s, (uint32_t)idx, "");
        return;
    }
    member_t *m = &s->m[idx];
    if (u->incarnation <= m->inc)
        return;
    bool changed = !same_data(s, m, u);
    if (changed && set_strings(s, (uint32_t)idx, u->addr, u->meta.data, u->meta.len))
        return;
    m = &s->m[idx];
    if (changed && (flags & RM_SWIM_WIRE_NO_INBOUND))
        nat_watch(s, u->name);
    m->flags = flags;
    m->inc = u->incarnation;
    m->stamp = stamp_now(s);
    susp_drop(s, u->name);
    uint8_t was = m->state;
    set_state(s, (uint32_t)idx, RM_SWIM_ALIVE);
    if (was != RM_SWIM_ALIVE)
        event_push(s, RM_SWIM_EV_ALIVE, (uint32_t)idx);
    else if (changed)
        event_push(s, RM_SWIM_EV_UPDATED, (uint32_t)idx);
    broadcast(s, (uint32_t)idx, "");
}

static void on_suspect(rm_swim_t *s, const char *name, uint64_t inc, const char *from)
{
    if (strcmp(name, m_name(s, &s->m[0])) == 0) {
        accused(s, inc);
        return;
    }
    int64_t idx = find_idx(s, name);
    if (idx < 0 || inc < s->m[idx].inc)
        return;
    member_t *m = &s->m[idx];
    if (m->state == RM_SWIM_SUSPECT) {
        if (susp_confirm(s, name, from)) {
            s->stats.suspicions++;
            broadcast(s, (uint32_t)idx, from);
        }
        return;
    }
    if (m->state != RM_SWIM_ALIVE)
        return;
    m->inc = inc;
    set_state(s, (uint32_t)idx, RM_SWIM_SUSPECT);
    s->stats.suspicions++;
    susp_start(s, name, inc, from);
    event_push(s, RM_SWIM_EV_SUSPECT, (uint32_t)idx);
    broadcast(s, (uint32_t)idx, from);
}

static void on_dead(rm_swim_t *s, const char *name, uint64_t inc, const char *from, bool left)
{
    if (strcmp(name, m_name(s, &s->m[0])) == 0) {
        accused(s, inc);
        return;
    }
    int64_t idx = find_idx(s, name);
    if (idx < 0 || inc < s->m[idx].inc)
        return;
    member_t *m = &s->m[idx];
    /* Dead stays dead, except that the member's own word that it left is
       the better news. */
    if (m->state == RM_SWIM_LEFT || (m->state == RM_SWIM_DEAD && !left))
        return;
    m->inc = inc;
    m->stamp = stamp_now(s);
    susp_drop(s, name);
    set_state(s, (uint32_t)idx, left ? RM_SWIM_LEFT : RM_SWIM_DEAD);
    event_push(s, left ? RM_SWIM_EV_LEFT : RM_SWIM_EV_DEAD, (uint32_t)idx);
    broadcast(s, (uint32_t)idx, from);
}

static void apply_update(rm_swim_t *s, const rm_swim_wire_update_t *u, const char *sender)
{
    const char *from = u->from[0] ? u->from : sender;
    switch (u->state) {
    case RM_SWIM_ALIVE:
        on_alive(s, u, false);
        break;
    case RM_SWIM_SUSPECT:
        on_suspect(s, u->name, u->incarnation, from);
        break;
    case RM_SWIM_DEAD:
        on_dead(s, u->name, u->incarnation, from, false);
        break;
    default:
        on_dead(s, u->name, u->incarnation, u->name, true);
        break;
    }
}

/*  Push-pull merge (memberlist's mergeState): members new to us are added
    quietly, except a joining sender, which we announce as a seed does; a
    member the peer holds dead only becomes suspect here, accused by us. */
static void merge_state(rm_swim_t *s, const rm_swim_wire_update_t *u, const char *sender, bool join)
{
    switch (u->state) {
    case RM_SWIM_ALIVE:
        on_alive(s, u, !(join && strcmp(u->name, sender) == 0));
        break;
    case RM_SWIM_SUSPECT:
    case RM_SWIM_DEAD:
        on_suspect(s, u->name, u->incarnation, m_name(s, &s->m[0]));
        break;
    default:
        on_dead(s, u->name, u->incarnation, u->name, true);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Choosing members                                                     */
/* ------------------------------------------------------------------ */

/*  May we start talking to member i?  Never to a no-inbound one. */
static bool reachable(const rm_swim_t *s, uint32_t i)
{
    return i > 0 && i < s->n && !m_no_inbound(&s->m[i]);
}

static bool can_probe(const rm_swim_t *s, uint32_t i)
{
    return reachable(s, i) && m_live(&s->m[i]);
}

static bool can_help(const rm_swim_t *s, uint32_t i)
{
    return reachable(s, i) && s->m[i].state == RM_SWIM_ALIVE;
}

static bool can_gossip(const rm_swim_t *s, uint32_t i)
{
    if (!reachable(s, i))
        return false;
    const member_t *m = &s->m[i];
    return m_live(m) || (m->state == RM_SWIM_DEAD && since(s, m) < s->cfg.gossip_to_the_dead_ms);
}

/*  Up to k distinct random members passing `ok`, never `except`
    (memberlist's kRandomNodes: at most 3n draws). */
static uint32_t pick_random(rm_swim_t *s, uint32_t k, bool (*ok)(const rm_swim_t *, uint32_t),
                            int64_t except, uint32_t *out)
{
    uint32_t got = 0;
    for (uint64_t tries = 0; tries < 3ull * s->n && got < k; tries++) {
        uint32_t i = (uint32_t)rm_swim_rng_below(s->rng, s->n);
        bool dup = (int64_t)i == except;
        for (uint32_t j = 0; j < got && !dup; j++)
            dup = out[j] == i;
        if (!dup && ok(s, i))
            out[got++] = i;
    }
    return got;
}

/* ------------------------------------------------------------------ */
/* Probe pass: reap, shuffle, pick                                      */
/* ------------------------------------------------------------------ */

static void reap(rm_swim_t *s)
{
    for (uint32_t i = s->n; i-- > 1;) {
        const member_t *m = &s->m[i];
        if ((m->state == RM_SWIM_DEAD || m->state == RM_SWIM_LEFT) &&
            since(s, m) >= s->cfg.dead_reap_ms) {
            event_push(s, RM_SWIM_EV_REAPED, i);
            member_remove(s, i);
        }
    }
}

static void nat_rebuild(rm_swim_t *s)
{
    for (uint32_t i = 0; i < s->nnat; i++)
        free(s->nat[i]);
    s->nnat = 0;
    for (uint32_t i = 1; i < s->n; i++)
        if (m_no_inbound(&s->m[i]))
            nat_watch(s, m_name(s, &s->m[i]));
}

/*  End of a pass over the members: O(n) work once per n probes. */
static void new_pass(rm_swim_t *s)
{
    if (s->dead + s->left > 0)
        reap(s);
    nat_rebuild(s);
    s->norder = 0;
    for (uint32_t i = 1; i < s->n; i++)
        s->order[s->norder++] = i;
    for (uint32_t i = s->norder; i > 1; i--) {
        uint32_t j = (uint32_t)rm_swim_rng_below(s->rng, i), t = s->order[i - 1];
        s->order[i - 1] = s->order[j];
        s->order[j] = t;
    }
    s->probe_pos = 0;
}

static int64_t next_target(rm_swim_t *s)
{
    bool renewed = false;
    for (;;) {
        if (s->probe_pos >= s->norder) {
            if (renewed)
                return -1;
            new_pass(s);
            renewed = true;
            continue;
        }
        uint32_t i = s->order[s->probe_pos++];
        if (can_probe(s, i))
            return i;
    }
}

/* ------------------------------------------------------------------ */
/* Probing (with Lifeguard's Local Health Multiplier)                   */
/* ------------------------------------------------------------------ */

static int64_t scaled(const rm_swim_t *s, int64_t t)
{
    return t * (int64_t)(s->health + 1);
}

static void probe_end(rm_swim_t *s)
{
    free(s->probe.target);
    memset(&s->probe, 0, sizeof s->probe);
}

static void probe_acked(rm_swim_t *s)
{
    if (s->health > 0)
        s->health--;
    probe_end(s);
}

static void probe_start(rm_swim_t *s)
{
    int64_t idx = next_target(s);
    s->next_probe = s->now + scaled(s, s->cfg.probe_interval_ms);
    if (idx < 0)
        return;
    probe_t *p = &s->probe;
    p->target = strdup(m_name(s, &s->m[idx]));
    if (!p->target)
        return;
    p->active = true;
    p->seq = ++s->seq;
    p->direct_deadline = s->now + scaled(s, s->cfg.probe_timeout_ms);
    p->end = s->next_probe;
    s->stats.probes++;
    rm_swim_wire_ping_t ping = {p->seq, p->target};
    send_msg(s, m_addr(s, &s->m[idx]), idx, RM_SWIM_WIRE_PING, &ping);
}

static void probe_indirect(rm_swim_t *s)
{
    probe_t *p = &s->probe;
    uint32_t helpers[64];
    p->indirect = true;
    int64_t t = find_idx(s, p->target);
    if (t < 0)
        return;
    uint32_t k = s->cfg.indirect_checks < 64 ? s->cfg.indirect_checks : 64;
    uint32_t got = pick_random(s, k, can_help, t, helpers);
    rm_swim_wire_ping_req_t req = {p->seq, p->target, (char *)m_addr(s, &s->m[t]), s->cfg.nack};
    for (uint32_t i = 0; i < got; i++)
        send_msg(s, m_addr(s, &s->m[helpers[i]]), helpers[i], RM_SWIM_WIRE_PING_REQ, &req);
    p->expected_nacks = s->cfg.nack ? got : 0;
    if (got)
        s->stats.indirect_probes++;
}

/*  No ACK by the end of the interval.  Lifeguard: missing NACKs mean the
    fault is probably ours, so our health score rises by their number. */
static void probe_failed(rm_swim_t *s)
{
    probe_t *p = &s->probe;
    unsigned delta = 1;
    if (p->expected_nacks > 0)
        delta = p->nacks < p->expected_nacks ? p->expected_nacks - p->nacks : 0;
    s->health += delta;
    if (s->health >= s->cfg.awareness_max)
        s->health = s->cfg.awareness_max - 1;
    s->stats.probes_failed++;
    int64_t t = find_idx(s, p->target);
    if (t >= 0 && m_live(&s->m[t]))
        on_suspect(s, p->target, s->m[t].inc, m_name(s, &s->m[0]));
    probe_end(s);
}

/*  No-inbound members cannot be probed: suspect one whose heartbeats
    stopped reaching us. */
static void nat_check(rm_swim_t *s)
{
    for (uint32_t i = 0; i < s->nnat; i++) {
        int64_t idx = find_idx(s, s->nat[i]);
        if (idx < 0 || !m_no_inbound(&s->m[idx]) || s->m[idx].state != RM_SWIM_ALIVE)
            continue;
        if (since(s, &s->m[idx]) > s->cfg.nat_timeout_ms)
            on_suspect(s, s->nat[i], s->m[idx].inc, m_name(s, &s->m[0]));
    }
}

static void run_probe(rm_swim_t *s)
{
    probe_t *p = &s->probe;
    if (p->active && !p->indirect && s->now >= p->direct_deadline)
        probe_indirect(s);
    if (p->active && s->now >= p->end)
        probe_failed(s);
    if (!p->active && !s->leaving && s->now >= s->next_probe) {
        nat_check(s);
        probe_start(s);
    }
}

/* ------------------------------------------------------------------ */
/* Relays (we are a PING_REQ helper)                                    */
/* ------------------------------------------------------------------ */

static void relay_drop(rm_swim_t *s, uint32_t i)
{
    free(s->relays[i].origin);
    s->relays[i] = s->relays[--s->nrelays];
}

static void expire_relays(rm_swim_t *s)
{
    for (uint32_t i = s->nrelays; i-- > 0;) {
        relay_t *r = &s->relays[i];
        if (s->now < r->deadline)
            continue;
        if (r->nack) {
            rm_swim_wire_ack_t nack = {r->origin_seq};
            send_msg(s, r->origin, -1, RM_SWIM_WIRE_NACK, &nack);
        }
        relay_drop(s, i);
    }
}

static void on_ping_req(rm_swim_t *s, const char *from_addr, const rm_swim_wire_ping_req_t *req)
{
    if (strcmp(req->target, m_name(s, &s->m[0])) == 0) {
        rm_swim_wire_ack_t ack = {req->seq};
        send_msg(s, from_addr, -1, RM_SWIM_WIRE_ACK, &ack);
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
    relay_t r = {++s->seq, origin, req->seq, s->now + (wait > 0 ? wait : 1), req->nack};
    s->relays[s->nrelays++] = r;
    rm_swim_wire_ping_t ping = {r.seq, req->target};
    send_msg(s, req->target_addr, find_idx(s, req->target), RM_SWIM_WIRE_PING, &ping);
}

static void on_ack(rm_swim_t *s, uint64_t seq)
{
    if (s->probe.active && s->probe.seq == seq) {
        probe_acked(s);
        return;
    }
    for (uint32_t i = 0; i < s->nrelays; i++)
        if (s->relays[i].seq == seq) {
            rm_swim_wire_ack_t ack = {s->relays[i].origin_seq};
            send_msg(s, s->relays[i].origin, -1, RM_SWIM_WIRE_ACK, &ack);
            relay_drop(s, i);
            return;
        }
}

/* ------------------------------------------------------------------ */
/* Gossip, push-pull, reconnect                                         */
/* ------------------------------------------------------------------ */

/*  Our addition to the buddy system: a member whose probe of a suspect
    failed tells the suspect every gossip interval (the suspicion rides
    first on the message), so a node that was cut off for a moment hears
    it as soon as its link is back, not only when it is next probed.  Only
    the few accusers do it, so a dead node in a big cluster gets little. */
static void tell_suspects(rm_swim_t *s)
{
    rm_swim_wire_gossip_t g = {false};
    for (uint32_t i = 0; i < s->nsusp; i++) {
        if (!s->susp[i].ours)
            continue;
        int64_t idx = find_idx(s, s->susp[i].name);
        if (idx > 0 && reachable(s, (uint32_t)idx) && s->m[idx].state == RM_SWIM_SUSPECT)
            send_msg(s, m_addr(s, &s->m[idx]), idx, RM_SWIM_WIRE_GOSSIP, &g);
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
    uint32_t got = pick_random(s, k, can_gossip, -1, targets);
    rm_swim_wire_gossip_t g = {pull};
    for (uint32_t i = 0; i < got; i++) {
        if (!rm_swim_bcast_count(s->bq) && !pull)
            return;
        send_msg(s, m_addr(s, &s->m[targets[i]]), targets[i], RM_SWIM_WIRE_GOSSIP, &g);
    }
}

/*  A GOSSIP that asks for a reply (from a no-inbound member) gets our
    queued updates back over its connection. */
static void on_gossip(rm_swim_t *s, const char *from_addr, int64_t from_idx, bool reply)
{
    bool suspect = from_idx > 0 && s->m[from_idx].state == RM_SWIM_SUSPECT;
    if (!reply || (!rm_swim_bcast_count(s->bq) && !suspect))
        return;
    rm_swim_wire_gossip_t g = {false};
    send_msg(s, from_addr, from_idx, RM_SWIM_WIRE_GOSSIP, &g);
}

static size_t entry_size(const rm_swim_t *s, const member_t *m)
{
    return m_size(s, m) + RM_SWIM_WIRE_STATE_SLACK;
}

static void fill_entry(const rm_swim_t *s, uint32_t i, rm_swim_wire_update_t *u)
{
    member_wire(s, &s->m[i], s->m[i].state, NULL, u);
}

/*  Splits the state into parts under the push-pull budget.  Returns the
    part count; starts[p] is the first member of part p. */
static uint32_t plan_parts(const rm_swim_t *s, uint32_t *starts)
{
    size_t budget =
        s->cfg.push_pull_budget < RM_SWIM_MAX_MSG ? s->cfg.push_pull_budget : RM_SWIM_MAX_MSG;
    budget = budget > RM_SWIM_WIRE_PART_SLACK * 2 ? budget - RM_SWIM_WIRE_PART_SLACK
                                                  : RM_SWIM_WIRE_PART_SLACK;
    uint32_t parts = 1, in_part = 0;
    size_t used = 0;
    starts[0] = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        size_t e = entry_size(s, &s->m[i]);
        if (in_part > 0 && (used + e > budget || in_part >= RM_SWIM_MAX_PP_STATES)) {
            if (parts == RM_SWIM_MAX_PP_PARTS)
                break; /* beyond 64 MiB of state: the rest waits for the next exchange */
            starts[parts++] = i;
            used = 0;
            in_part = 0;
        }
        used += e;
        in_part++;
    }
    starts[parts] = s->n;
    return parts;
}

static void send_state(rm_swim_t *s, const char *to, int64_t to_idx, bool join, bool reply)
{
    uint32_t starts[RM_SWIM_MAX_PP_PARTS + 1];
    uint32_t parts = plan_parts(s, starts);
    uint32_t most = 0;
    for (uint32_t p = 0; p < parts; p++)
        if (starts[p + 1] - starts[p] > most)
            most = starts[p + 1] - starts[p];
    rm_swim_wire_update_t *items = calloc(most ? most : 1, sizeof *items);
    if (!items)
        return;
    for (uint32_t p = 0; p < parts; p++) {
        rm_swim_wire_push_pull_t pp = {join, reply, p, parts, {items, starts[p + 1] - starts[p]}};
        for (uint32_t i = starts[p]; i < starts[p + 1]; i++)
            fill_entry(s, i, &items[i - starts[p]]);
        send_msg(s, to, to_idx, RM_SWIM_WIRE_PUSH_PULL, &pp);
    }
    free(items);
}

/*  memberlist's pushPullScale: above 32 members the interval grows with
    ceil(log2(n / 32)) + 1, so the cluster-wide rate stays bounded. */
static int64_t push_pull_interval(const rm_swim_t *s)
{
    int64_t mult = 1;
    for (uint64_t cap = 32; cap < s->live; cap *= 2)
        mult++;
    return s->cfg.push_pull_interval_ms * mult;
}

static void periodic_push_pull(rm_swim_t *s)
{
    uint32_t who;
    s->pp_drawn = push_pull_interval(s);
    s->next_pp = s->now + s->pp_drawn;
    if (pick_random(s, 1, can_help, -1, &who) == 1) {
        s->stats.push_pulls++;
        send_state(s, m_addr(s, &s->m[who]), who, false, true);
    }
}

/*  Serf's reconnect: with probability dead/alive, push-pull with a random
    dead member, so the halves of a healed partition meet again. */
static void reconnect(rm_swim_t *s)
{
    s->next_reconnect = s->now + s->cfg.reconnect_interval_ms;
    if (!s->dead || rm_swim_rng_unit(s->rng) > (double)s->dead / (double)(s->live ? s->live : 1))
        return;
    uint64_t r = rm_swim_rng_below(s->rng, s->dead);
    for (uint32_t i = 1; i < s->n; i++) {
        if (s->m[i].state != RM_SWIM_DEAD || r-- > 0)
            continue;
        if (!m_no_inbound(&s->m[i])) {
            s->stats.push_pulls++;
            send_state(s, m_addr(s, &s->m[i]), i, false, true);
        }
        return;
    }
}

/*  Room for every member of a push-pull at once, exactly: a bootstrap
    or a join learns thousands, and growth by steps would overshoot. */
static void reserve(rm_swim_t *s, const rm_swim_wire_push_pull_t *pp)
{
    uint64_t bytes = 0;
    uint32_t need = s->n;
    for (uint32_t i = 0; i < pp->states.count; i++) {
        const rm_swim_wire_update_t *u = &pp->states.items[i];
        if (u->state != RM_SWIM_ALIVE || find_idx(s, u->name) >= 0)
            continue;
        need++;
        bytes += strlen(u->name) + strlen(u->addr) + 2 + u->meta.len;
    }
    rm_swim_arena_reserve(s->arena, bytes);
    if (need <= s->cap)
        return;
    member_t *m = realloc(s->m, (size_t)need * sizeof *m);
    if (m) {
        s->m = m;
        s->cap = need;
    }
    uint32_t *o = realloc(s->order, (size_t)need * sizeof *o);
    if (o) {
        s->order = o;
        s->caporder = need;
    }
}

static void on_push_pull(rm_swim_t *s, const char *from, const char *from_addr,
                         const rm_swim_wire_push_pull_t *pp)
{
    reserve(s, pp);
    for (uint32_t i = 0; i < pp->states.count; i++)
        merge_state(s, &pp->states.items[i], from, pp->join);
    /* When a push-pull shows a bigger cluster than our timer was drawn
       for, the next exchange is drawn again over the interval scaled to
       it, so nodes that start together (a simulation, a data-centre
       restart) do not all push-pull in the first unscaled interval. */
    int64_t interval = push_pull_interval(s);
    if (s->cfg.push_pull_interval_ms > 0 && interval > s->pp_drawn) {
        s->pp_drawn = interval;
        s->next_pp = s->now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)interval);
    }
    if (!pp->reply) {
        /* Joined.  Nodes that joined at the same moment as we did are not in
           the seed's answer, and their announcements may miss us: a second
           exchange with a random member a moment later picks them up. */
        if (s->join_addr && s->cfg.push_pull_interval_ms > 0)
            s->next_pp = s->now + s->cfg.probe_interval_ms +
                         (int64_t)rm_swim_rng_below(s->rng, (uint64_t)s->cfg.probe_interval_ms);
        free(s->join_addr);
        s->join_addr = NULL;
        return;
    }
    if (pp->part + 1 == pp->parts)
        send_state(s, from_addr, find_idx(s, from), false, false);
}

/* ------------------------------------------------------------------ */
/* Receiving                                                            */
/* ------------------------------------------------------------------ */

/*  Any message from a member is a sign of life: it answers our probe of
    it, and it is the heartbeat of a no-inbound member. */
static void heard_from(rm_swim_t *s, const char *from)
{
    int64_t idx = find_idx(s, from);
    if (idx < 0)
        return;
    if (s->m[idx].state == RM_SWIM_ALIVE)
        s->m[idx].stamp = stamp_now(s);
    if (s->probe.active && strcmp(s->probe.target, from) == 0)
        probe_acked(s);
}

/*  A PING from a member still unknown to us, or dead, after its message
    was applied: the gossip about it missed us (a join race, a healed
    partition).  Exchange state with it, at most once per probe interval.
    Only PINGs: a joiner gossips to 15 members a second but probes one, and
    each exchange carries the full state. */
static void sync_stranger(rm_swim_t *s, const char *from, const char *from_addr)
{
    int64_t idx = find_idx(s, from);
    if ((idx >= 0 && s->m[idx].state != RM_SWIM_DEAD) || s->leaving || s->now < s->next_unknown_pp)
        return;
    s->next_unknown_pp = s->now + s->cfg.probe_interval_ms;
    s->stats.push_pulls++;
    send_state(s, from_addr, idx, false, true);
}

static void dispatch(rm_swim_t *s, const char *from_addr, rm_swim_wire_msg_t *w)
{
    const rm_swim_wire_body_t *b = &w->body;
    switch (w->kind) {
    case RM_SWIM_WIRE_PING:
        if (strcmp(b->ping.target, m_name(s, &s->m[0])) == 0) {
            rm_swim_wire_ack_t ack = {b->ping.seq};
            send_msg(s, from_addr, find_idx(s, w->from), RM_SWIM_WIRE_ACK, &ack);
        }
        break;
    case RM_SWIM_WIRE_ACK:
        on_ack(s, b->ack.seq);
        break;
    case RM_SWIM_WIRE_NACK:
        if (s->probe.active && s->probe.seq == b->ack.seq)
            s->probe.nacks++;
        break;
    case RM_SWIM_WIRE_PING_REQ:
        on_ping_req(s, from_addr, &b->req);
        break;
    case RM_SWIM_WIRE_GOSSIP:
        on_gossip(s, from_addr, find_idx(s, w->from), b->gossip.reply);
        break;
    case RM_SWIM_WIRE_PUSH_PULL:
        on_push_pull(s, w->from, from_addr, &b->pp);
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
    if (strcmp(w->from, m_name(self, &self->m[0])) == 0) {
        self->stats.bad_in++;
        rm_swim_wire_free(w);
        free(w);
        return rm_err_set(err, RM_EPROTO, "membership message from %s claims this node's own name",
                          from_addr);
    }
    heard_from(self, w->from);
    for (uint32_t i = 0; i < w->nupdates; i++)
        apply_update(self, &w->updates[i], w->from);
    dispatch(self, from_addr, w);
    if (w->kind == RM_SWIM_WIRE_PING)
        sync_stranger(self, w->from, from_addr);
    rm_swim_wire_free(w);
    free(w);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Timers                                                               */
/* ------------------------------------------------------------------ */

static void expire_suspicions(rm_swim_t *s)
{
    for (uint32_t i = 0; i < s->nsusp;) {
        if (s->now < s->susp[i].deadline) {
            i++;
            continue;
        }
        char *name = strdup(s->susp[i].name);
        uint64_t inc = s->susp[i].inc;
        susp_drop(s, s->susp[i].name);
        if (name)
            on_dead(s, name, inc, m_name(s, &s->m[0]), false);
        free(name);
        i = 0; /* on_dead may have reordered the table */
    }
}

static void heartbeat(rm_swim_t *s)
{
    s->next_heartbeat = s->now + s->cfg.nat_heartbeat_ms;
    s->m[0].inc++;
    broadcast(s, 0, "");
}

void rm_swim_tick(rm_swim_t *self, int64_t now)
{
    rm_swim_t *s = self;
    advance(s, now);
    expire_relays(s);
    run_probe(s);
    expire_suspicions(s);
    if (s->now >= s->next_gossip) {
        int64_t gi = s->cfg.gossip_interval_ms;
        s->next_gossip += gi * ((s->now - s->next_gossip) / gi + 1);
        gossip_round(s);
    }
    if (s->leaving)
        return;
    if (s->cfg.push_pull_interval_ms > 0 && s->now >= s->next_pp)
        periodic_push_pull(s);
    if (s->cfg.reconnect_interval_ms > 0 && s->now >= s->next_reconnect)
        reconnect(s);
    if (s->join_addr && s->now >= s->next_join) {
        s->next_join = s->now + s->cfg.join_retry_ms;
        s->stats.push_pulls++;
        send_state(s, s->join_addr, -1, true, true);
    }
    if (s->cfg.no_inbound && s->now >= s->next_heartbeat)
        heartbeat(s);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int64_t rm_swim_next_deadline(const rm_swim_t *s)
{
    int64_t d = RM_SWIM_NO_DEADLINE;
    const probe_t *p = &s->probe;
    if (p->active)
        d = p->indirect ? p->end : p->direct_deadline;
    else if (!s->leaving)
        d = s->next_probe;
    for (uint32_t i = 0; i < s->nrelays; i++)
        d = min64(d, s->relays[i].deadline);
    for (uint32_t i = 0; i < s->nsusp; i++)
        d = min64(d, s->susp[i].deadline);
    if (rm_swim_bcast_count(s->bq) || s->nsusp || (s->cfg.no_inbound && !s->leaving))
        d = min64(d, s->next_gossip);
    if (s->leaving)
        return d;
    if (s->cfg.push_pull_interval_ms > 0)
        d = min64(d, s->next_pp);
    if (s->cfg.reconnect_interval_ms > 0 && s->dead)
        d = min64(d, s->next_reconnect);
    if (s->join_addr)
        d = min64(d, s->next_join);
    if (s->cfg.no_inbound)
        d = min64(d, s->next_heartbeat);
    return d;
}

/* ------------------------------------------------------------------ */
/* Public API                                                           */
/* ------------------------------------------------------------------ */

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
    s->epoch = now;
    s->out = rm_swim_fifo_new(sizeof(rm_swim_output_t));
    s->events = rm_swim_fifo_new(sizeof(rm_swim_event_t));
    s->rng = rm_swim_rng_new(seed);
    s->arena = rm_swim_arena_new(arena_record, s);
    s->names = rm_swim_names_new(member_name, s);
    s->bq = rm_swim_bcast_new(cfg->max_broadcasts);
    if (!s->out || !s->events || !s->rng || !s->arena || !s->names || !s->bq)
        goto nomem;
    s->seq =
        rm_swim_rng_next(s->rng) >> 33; /* a restarted node does not reuse old sequence numbers */
    uint8_t flags = cfg->no_inbound ? RM_SWIM_WIRE_NO_INBOUND : 0;
    if (member_add(s, self_name, self_addr, 0, RM_SWIM_ALIVE, flags, NULL, 0) != 0)
        goto nomem;
    /* Staggered first timers: engines started together do not beat together. */
    s->next_probe = now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)cfg->probe_interval_ms);
    s->next_gossip = now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)cfg->gossip_interval_ms);
    s->next_pp = now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)cfg->push_pull_interval_ms + 1);
    s->pp_drawn = cfg->push_pull_interval_ms;
    s->next_reconnect =
        now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)cfg->reconnect_interval_ms + 1);
    s->next_heartbeat = now + (int64_t)rm_swim_rng_below(s->rng, (uint64_t)cfg->nat_heartbeat_ms);
    broadcast(s, 0, "");
    return s;
nomem:
    rm_swim_destroy(&s);
    rm_err_set(err, RM_ENOMEM, "out of memory");
    return NULL;
}

/*  The caller's messages and events that were never taken. */
static void drain(rm_swim_t *s)
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
    rm_swim_arena_destroy(&s->arena);
    while (s->nsusp)
        susp_drop(s, s->susp[0].name);
    while (s->nrelays)
        relay_drop(s, 0);
    rm_swim_bcast_destroy(&s->bq);
    for (uint32_t i = 0; i < s->nnat; i++)
        free(s->nat[i]);
    drain(s);
    free(s->probe.target);
    free(s->join_addr);
    free(s->m);
    rm_swim_names_destroy(&s->names);
    free(s->order);
    free(s->susp);
    free(s->relays);
    free(s->nat);
    rm_swim_rng_destroy(&s->rng);
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
    broadcast(self, 0, ""); /* the joiner announces itself once it knows whom to tell */
    self->stats.push_pulls++;
    send_state(self, seed_addr, -1, true, true);
    return 0;
}

void rm_swim_leave(rm_swim_t *self, int64_t now)
{
    advance(self, now);
    if (self->leaving)
        return;
    self->leaving = true;
    set_state(self, 0, RM_SWIM_LEFT);
    broadcast(self, 0, m_name(self, &self->m[0]));
    probe_end(self);
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
    if (set_strings(self, 0, m_addr(self, &self->m[0]), meta, len))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    self->m[0].inc++;
    broadcast(self, 0, "");
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
    size_t n = 0;
    for (uint32_t i = 0; i < self->n; i++)
        if (state_mask & RM_SWIM_MASK(self->m[i].state))
            n++;
    return n;
}

size_t rm_swim_member_total(const rm_swim_t *self)
{
    return self->n;
}

int rm_swim_member_at(const rm_swim_t *self, size_t index, rm_swim_member_t *out)
{
    if (index >= self->n)
        return -1;
    const member_t *m = &self->m[index];
    *out = (rm_swim_member_t){m_name(self, m),
                              m_addr(self, m),
                              (rm_swim_state_t)m->state,
                              m->inc,
                              m->meta_len ? m_meta(self, m) : NULL,
                              m->meta_len,
                              m_no_inbound(m)};
    return 0;
}

int rm_swim_find(const rm_swim_t *self, const char *name, rm_swim_member_t *out)
{
    int64_t idx = name ? find_idx(self, name) : -1;
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
