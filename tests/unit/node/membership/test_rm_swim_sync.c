/*  rm_swim_sync: the engine's push-pull, seen from its peers: join and
    its retries, answers after the last part, quiet merges, strangers,
    parts under the budget, the periodic exchange. */
#include "swim_peers.h"

/*  A push-pull part from peer `from` carrying states of n1..n<n>, each
    with meta_len bytes of metadata. */
static void push_pull_meta(peers_t *p, const char *from, const char *addr, bool join, bool reply,
                           uint64_t part, uint64_t parts, int n, size_t meta_len)
{
    static char names[64][16], addrs[64][16];
    static uint8_t meta[RM_SWIM_MAX_META];
    rm_swim_wire_update_t states[64];
    for (int i = 1; i <= n; i++) {
        name_addr(i, names[i - 1], addrs[i - 1]);
        states[i - 1] = alive_update(names[i - 1], addrs[i - 1], 1, false);
        states[i - 1].meta = (rm_bin_t){meta, meta_len};
    }
    rm_swim_wire_push_pull_t pp = {join, reply, part, parts, {states, (uint32_t)n}};
    send_from(p, from, addr, RM_SWIM_WIRE_PUSH_PULL, &pp, NULL, 0);
}

static void push_pull_from(peers_t *p, const char *from, const char *addr, bool join, bool reply,
                           uint64_t part, uint64_t parts, int n)
{
    push_pull_meta(p, from, addr, join, reply, part, parts, n, 0);
}

/*  The join goes to the seed, marked join, and is repeated every 2 s
    until some push-pull answers it. */
static void test_join_retried_until_answered(void)
{
    peers_t p;
    rm_err_t err;
    peers_init(&p, NULL, 1);
    CHECK(rm_swim_join(p.e, 0, "mem://9", &err) == 0);
    collect(&p);
    const sent_t *pp = first_sent(&p, RM_SWIM_WIRE_PUSH_PULL);
    CHECK(pp && strcmp(pp->to, "mem://9") == 0 && pp->join && pp->reply && pp->states == 1);
    forget(&p);
    run_to(&p, 1999);
    CHECK(count_sent(&p, RM_SWIM_WIRE_PUSH_PULL) == 0);
    run_to(&p, 2000);
    pp = first_sent(&p, RM_SWIM_WIRE_PUSH_PULL);
    CHECK(pp && strcmp(pp->to, "mem://9") == 0 && pp->join);
    /* The seed answers: no more retries; its members are ours. */
    push_pull_from(&p, "n9", "mem://9", false, false, 0, 1, 9);
    CHECK(rm_swim_count(p.e, RM_SWIM_ALL) == 10);
    forget(&p);
    run_to(&p, 9000);
    for (int i = 0; i < p.nsent; i++)
        CHECK(!(p.sent[i].kind == RM_SWIM_WIRE_PUSH_PULL && p.sent[i].join));
    peers_free(&p);
}

/*  An exchange in parts is answered once, after its last part, to the
    address it came from. */
static void test_answer_after_last_part(void)
{
    peers_t p;
    peers_init(&p, NULL, 2);
    forget(&p);
    push_pull_from(&p, "n1", "rid:1", false, true, 0, 2, 3);
    CHECK(count_sent(&p, RM_SWIM_WIRE_PUSH_PULL) == 0);
    push_pull_from(&p, "n1", "rid:1", false, true, 1, 2, 3);
    const sent_t *pp = first_sent(&p, RM_SWIM_WIRE_PUSH_PULL);
    CHECK(pp && strcmp(pp->to, "rid:1") == 0 && !pp->reply && !pp->join && pp->states == 4);
    CHECK(count_sent(&p, RM_SWIM_WIRE_PUSH_PULL) == 1);
    peers_free(&p);
}

/*  Members first learned from a push-pull are not gossiped (the partner
    knew them), except a joining sender, whom we announce as a seed. */
static void test_merges_quietly_but_announces_joiners(void)
{
    peers_t p;
    peers_init(&p, NULL, 3);
    size_t before = rm_swim_pending_broadcasts(p.e);
    push_pull_from(&p, "n1", "mem://1", false, false, 0, 1, 5);
    CHECK(rm_swim_count(p.e, RM_SWIM_ALL) == 6);
    CHECK(has_event(&p, RM_SWIM_EV_ALIVE, "n4"));
    CHECK(rm_swim_pending_broadcasts(p.e) == before);
    static char name[16], addr[16];
    name_addr(7, name, addr);
    rm_swim_wire_update_t joiner = alive_update(name, addr, 1, false);
    rm_swim_wire_push_pull_t pp = {true, true, 0, 1, {&joiner, 1}};
    send_from(&p, "n7", "mem://7", RM_SWIM_WIRE_PUSH_PULL, &pp, NULL, 0);
    CHECK(rm_swim_pending_broadcasts(p.e) == before + 1);
    peers_free(&p);
}

/*  A PING from a member we do not know starts a push-pull with it, at
    most once per probe interval. */
static void test_stranger_gets_our_state(void)
{
    peers_t p;
    peers_init(&p, NULL, 4);
    push_pull_from(&p, "n1", "mem://1", false, false, 0, 1, 3);
    forget(&p);
    p.now = 5000;
    send_from(&p, "n8", "mem://8", RM_SWIM_WIRE_PING, &(rm_swim_wire_ping_t){1, "me"}, NULL, 0);
    const sent_t *pp = first_sent(&p, RM_SWIM_WIRE_PUSH_PULL);
    CHECK(first_sent(&p, RM_SWIM_WIRE_ACK) != NULL);
    CHECK(pp && strcmp(pp->to, "mem://8") == 0 && pp->reply && pp->states == 4);
    forget(&p);
    p.now = 5500;
    send_from(&p, "n9", "mem://9", RM_SWIM_WIRE_PING, &(rm_swim_wire_ping_t){2, "me"}, NULL, 0);
    CHECK(count_sent(&p, RM_SWIM_WIRE_PUSH_PULL) == 0);
    p.now = 6000;
    send_from(&p, "n9", "mem://9", RM_SWIM_WIRE_PING, &(rm_swim_wire_ping_t){3, "me"}, NULL, 0);
    CHECK(count_sent(&p, RM_SWIM_WIRE_PUSH_PULL) == 1);
    peers_free(&p);
}

/*  A state bigger than push_pull_budget goes in numbered parts, each a
    valid message, together holding every member once. */
static void test_state_in_parts(void)
{
    peers_t p;
    rm_swim_config_t c;
    rm_err_t err;
    rm_swim_config_default(&c);
    c.push_pull_budget = 4096;
    peers_init(&p, &c, 5);
    push_pull_meta(&p, "n1", "mem://1", false, false, 0, 1, 11, 400);
    forget(&p);
    CHECK(rm_swim_join(p.e, 0, "mem://1", &err) == 0);
    collect(&p);
    uint32_t states = 0, parts = 0;
    for (int i = 0; i < p.nsent; i++)
        if (p.sent[i].kind == RM_SWIM_WIRE_PUSH_PULL) {
            CHECK(p.sent[i].part == parts && p.sent[i].join);
            parts++;
            states += p.sent[i].states;
        }
    CHECK_MSG(parts >= 2 && states == 12, "%u parts, %u states", parts, states);
    for (int i = 0; i < p.nsent; i++)
        if (p.sent[i].kind == RM_SWIM_WIRE_PUSH_PULL)
            CHECK(p.sent[i].parts == parts);
    peers_free(&p);
}

/*  Every push_pull_interval, one exchange with a random alive member (the
    peers answer the engine's probes, so that they stay alive). */
static void test_periodic_exchange(void)
{
    peers_t p;
    rm_swim_config_t c;
    rm_swim_config_default(&c);
    c.push_pull_interval_ms = 5000;
    peers_init(&p, &c, 6);
    push_pull_from(&p, "n1", "mem://1", false, false, 0, 1, 4);
    forget(&p);
    for (int64_t t = 0, answered = 0; t <= 30000; t += 50) {
        run_to(&p, t);
        for (; answered < p.nsent; answered++) {
            const sent_t *s = &p.sent[answered];
            if (s->kind == RM_SWIM_WIRE_PING)
                send_from(&p, s->target, s->to, RM_SWIM_WIRE_ACK, &(rm_swim_wire_ack_t){s->seq},
                          NULL, 0);
        }
    }
    CHECK(rm_swim_count(p.e, RM_SWIM_MASK(RM_SWIM_ALIVE)) == 5);
    int n = 0;
    for (int i = 0; i < p.nsent; i++)
        if (p.sent[i].kind == RM_SWIM_WIRE_PUSH_PULL) {
            n++;
            CHECK(p.sent[i].reply && !p.sent[i].join && strncmp(p.sent[i].to, "mem://", 6) == 0);
        }
    CHECK_MSG(n >= 5 && n <= 7, "%d push-pulls in 30 s", n);
    peers_free(&p);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_join_retried_until_answered);
    RM_RUN(test_answer_after_last_part);
    RM_RUN(test_merges_quietly_but_announces_joiners);
    RM_RUN(test_stranger_gets_our_state);
    RM_RUN(test_state_in_parts);
    RM_RUN(test_periodic_exchange);
    RM_TEST_DONE();
}
