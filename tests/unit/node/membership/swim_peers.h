/*  Hand-driven peers for one rm_swim engine, shared by the tests of the
    engine's parts (test_rm_swim_probe.c, test_rm_swim_sync.c): the test
    plays every other member, sends the engine crafted messages and reads
    what it sends back, decoded, with the time under its control.

    The engine is "me" at mem://0; peer i is "n<i>" at mem://<i>. */
#ifndef SWIM_PEERS_H
#define SWIM_PEERS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rm_swim.h"
#include "rm_swim_wire.h"
#include "rm_test.h"

#define SENT_MAX 1024

/*  One message the engine sent, in short. */
typedef struct {
    int64_t at; /* when */
    char to[64];
    rm_swim_wire_kind_t kind;
    uint64_t seq;             /* PING, ACK, NACK, PING_REQ */
    char target[64];          /* PING, PING_REQ */
    char target_addr[64];     /* PING_REQ */
    bool nack, reply;         /* PING_REQ; GOSSIP and PUSH_PULL */
    bool join;                /* PUSH_PULL */
    uint64_t part, parts;     /* PUSH_PULL */
    uint32_t states, updates; /* PUSH_PULL states; piggybacked updates */
} sent_t;

typedef struct {
    rm_swim_t *e;
    int64_t now;
    sent_t sent[SENT_MAX];
    int nsent;
    rm_swim_event_kind_t events[SENT_MAX];
    char event_of[SENT_MAX][64];
    int nevents;
} peers_t;

static inline void peers_init(peers_t *p, const rm_swim_config_t *cfg, uint64_t seed)
{
    rm_err_t err;
    memset(p, 0, sizeof *p);
    p->e = rm_swim_new(cfg, "me", "mem://0", seed, 0, &err);
    CHECK_MSG(p->e, "%s", err.msg);
}

static inline void peers_free(peers_t *p)
{
    rm_swim_destroy(&p->e);
}

static inline void name_addr(int i, char *name, char *addr)
{
    sprintf(name, "n%d", i);
    sprintf(addr, "mem://%d", i);
}

static inline rm_swim_wire_update_t alive_update(const char *name, const char *addr, uint64_t inc,
                                                 bool no_inbound)
{
    return (rm_swim_wire_update_t){(char *)name, (char *)addr,
                                   inc,          RM_SWIM_ALIVE,
                                   "",           no_inbound ? RM_SWIM_WIRE_NO_INBOUND : 0,
                                   {NULL, 0}};
}

/*  Takes what the engine queued (messages and events) into p. */
static inline void collect(peers_t *p)
{
    rm_swim_output_t o;
    rm_swim_event_t ev;
    rm_err_t err;
    static rm_swim_wire_msg_t m;
    while (rm_swim_next_output(p->e, &o)) {
        CHECK_MSG(rm_swim_wire_decode(o.data, o.len, &m, &err) == 0, "%s", err.msg);
        if (p->nsent < SENT_MAX) {
            sent_t *s = &p->sent[p->nsent++];
            memset(s, 0, sizeof *s);
            s->at = p->now;
            snprintf(s->to, sizeof s->to, "%s", o.addr);
            s->kind = m.kind;
            s->updates = m.nupdates;
            switch (m.kind) {
            case RM_SWIM_WIRE_PING:
                s->seq = m.body.ping.seq;
                snprintf(s->target, sizeof s->target, "%s", m.body.ping.target);
                break;
            case RM_SWIM_WIRE_ACK:
            case RM_SWIM_WIRE_NACK:
                s->seq = m.body.ack.seq;
                break;
            case RM_SWIM_WIRE_PING_REQ:
                s->seq = m.body.req.seq;
                snprintf(s->target, sizeof s->target, "%s", m.body.req.target);
                snprintf(s->target_addr, sizeof s->target_addr, "%s", m.body.req.target_addr);
                s->nack = m.body.req.nack;
                break;
            case RM_SWIM_WIRE_GOSSIP:
                s->reply = m.body.gossip.reply;
                break;
            default:
                s->join = m.body.pp.join;
                s->reply = m.body.pp.reply;
                s->part = m.body.pp.part;
                s->parts = m.body.pp.parts;
                s->states = m.body.pp.states.count;
                break;
            }
        }
        rm_swim_wire_free(&m);
        rm_swim_output_free(&o);
    }
    while (rm_swim_next_event(p->e, &ev)) {
        if (p->nevents < SENT_MAX) {
            p->events[p->nevents] = ev.kind;
            snprintf(p->event_of[p->nevents++], 64, "%s", ev.name);
        }
        rm_swim_event_free(&ev);
    }
}

static inline void forget(peers_t *p)
{
    p->nsent = 0;
    p->nevents = 0;
}

/*  Peer `from` (name, address) sends the engine a message at p->now. */
static inline void send_from(peers_t *p, const char *from, const char *from_addr,
                             rm_swim_wire_kind_t kind, const void *body,
                             const rm_swim_wire_update_t *ups, uint32_t nups)
{
    uint8_t *buf, *enc[RM_SWIM_MAX_UPDATES];
    size_t len, lens[RM_SWIM_MAX_UPDATES];
    rm_err_t err;
    CHECK(rm_swim_wire_encode_head(kind, from, body, &buf, &len) == 0);
    for (uint32_t i = 0; i < nups; i++)
        enc[i] = rm_swim_wire_encode_update(&ups[i], &lens[i]);
    CHECK(rm_swim_wire_append_updates(&buf, &len, (const uint8_t *const *)enc, lens, nups) == 0);
    for (uint32_t i = 0; i < nups; i++)
        free(enc[i]);
    int rc = rm_swim_receive(p->e, p->now, from_addr, buf, len, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    free(buf);
    collect(p);
}

/*  Peers 1..n introduce themselves (n1 gossips their alive updates). */
static inline void meet(peers_t *p, int n, int no_inbound_peer)
{
    rm_swim_wire_update_t ups[RM_SWIM_MAX_UPDATES];
    static char names[RM_SWIM_MAX_UPDATES][16], addrs[RM_SWIM_MAX_UPDATES][16];
    for (int i = 1; i <= n; i++) {
        name_addr(i, names[i - 1], addrs[i - 1]);
        ups[i - 1] = alive_update(names[i - 1], addrs[i - 1], 1, i == no_inbound_peer);
    }
    rm_swim_wire_gossip_t g = {false};
    send_from(p, "n1", "mem://1", RM_SWIM_WIRE_GOSSIP, &g, ups, (uint32_t)n);
}

/*  Lets time run to `until`, ticking the engine whenever it asks. */
static inline void run_to(peers_t *p, int64_t until)
{
    for (;;) {
        int64_t d = rm_swim_next_deadline(p->e);
        if (d > until)
            break;
        if (d > p->now)
            p->now = d;
        rm_swim_tick(p->e, p->now);
        collect(p);
    }
    p->now = until;
}

/*  The first message of `kind` sent since the last forget, or NULL. */
static inline const sent_t *first_sent(const peers_t *p, rm_swim_wire_kind_t kind)
{
    for (int i = 0; i < p->nsent; i++)
        if (p->sent[i].kind == kind)
            return &p->sent[i];
    return NULL;
}

static inline int count_sent(const peers_t *p, rm_swim_wire_kind_t kind)
{
    int n = 0;
    for (int i = 0; i < p->nsent; i++)
        n += p->sent[i].kind == kind;
    return n;
}

static inline bool has_event(const peers_t *p, rm_swim_event_kind_t kind, const char *name)
{
    for (int i = 0; i < p->nevents; i++)
        if (p->events[i] == kind && strcmp(p->event_of[i], name) == 0)
            return true;
    return false;
}

/*  Runs until the engine probes someone; returns that PING. */
static inline const sent_t *next_probe(peers_t *p)
{
    for (int64_t t = p->now + 100; t < p->now + 10000; t += 100) {
        run_to(p, t);
        const sent_t *ping = first_sent(p, RM_SWIM_WIRE_PING);
        if (ping)
            return ping;
    }
    return NULL;
}

#endif
