/*  rm_swim_probe: the engine's failure detection, seen from its peers:
    PING and ACK, indirect probes and their NACKs, the Local Health
    Multiplier, the PING_REQs it serves, no-inbound members. */
#include "swim_peers.h"

static void config(rm_swim_config_t *c)
{
    rm_swim_config_default(c);
}

/*  A PING is answered only under the name it asks for. */
static void test_ping_answered_under_our_name(void)
{
    peers_t p;
    rm_swim_config_t c;
    config(&c);
    peers_init(&p, &c, 1);
    meet(&p, 3, 0);
    forget(&p);
    send_from(&p, "n2", "mem://2", RM_SWIM_WIRE_PING, &(rm_swim_wire_ping_t){42, "me"}, NULL, 0);
    const sent_t *ack = first_sent(&p, RM_SWIM_WIRE_ACK);
    CHECK(ack && ack->seq == 42 && strcmp(ack->to, "mem://2") == 0);
    forget(&p);
    send_from(&p, "n2", "mem://2", RM_SWIM_WIRE_PING, &(rm_swim_wire_ping_t){43, "old-me"}, NULL,
              0);
    CHECK(first_sent(&p, RM_SWIM_WIRE_ACK) == NULL);
    peers_free(&p);
}

/*  Each probe pass visits every member once; an ACK ends the probe. */
static void test_probe_pass_and_ack(void)
{
    peers_t p;
    rm_swim_config_t c;
    rm_swim_stats_t st;
    int probed[5] = {0};
    config(&c);
    peers_init(&p, &c, 2);
    meet(&p, 4, 0);
    for (int k = 0; k < 4; k++) {
        forget(&p);
        const sent_t *ping = next_probe(&p);
        CHECK(ping != NULL);
        if (!ping)
            break;
        int who = atoi(ping->target + 1);
        CHECK_MSG(who >= 1 && who <= 4 && strcmp(ping->to + 6, ping->target + 1) == 0, "%s at %s",
                  ping->target, ping->to);
        probed[who]++;
        char name[16], addr[16];
        name_addr(who, name, addr);
        send_from(&p, name, addr, RM_SWIM_WIRE_ACK, &(rm_swim_wire_ack_t){ping->seq}, NULL, 0);
    }
    for (int i = 1; i <= 4; i++)
        CHECK_MSG(probed[i] == 1, "n%d probed %d times in a pass", i, probed[i]);
    run_to(&p, p.now + 600);
    CHECK(count_sent(&p, RM_SWIM_WIRE_PING_REQ) == 0);
    rm_swim_stats(p.e, &st);
    CHECK(st.probes == 4 && st.probes_failed == 0 && st.health_score == 0);
    peers_free(&p);
}

/*  No ACK in the probe timeout: PING_REQs to 3 others; none by the end of
    the interval: suspect, and the missing NACKs count against our own
    health (the fault is probably ours). */
static void test_unanswered_probe(void)
{
    peers_t p;
    rm_swim_config_t c;
    rm_swim_stats_t st;
    config(&c);
    peers_init(&p, &c, 3);
    meet(&p, 5, 0);
    forget(&p);
    const sent_t *ping = next_probe(&p);
    CHECK(ping != NULL);
    if (!ping)
        return;
    char target[64];
    snprintf(target, sizeof target, "%s", ping->target);
    int64_t sent_at = ping->at;
    run_to(&p, sent_at + 499);
    CHECK(count_sent(&p, RM_SWIM_WIRE_PING_REQ) == 0);
    run_to(&p, sent_at + 600);
    CHECK(count_sent(&p, RM_SWIM_WIRE_PING_REQ) == 3);
    for (int i = 0; i < p.nsent; i++)
        if (p.sent[i].kind == RM_SWIM_WIRE_PING_REQ) {
            CHECK(strcmp(p.sent[i].target, target) == 0 && p.sent[i].nack);
            CHECK(strcmp(p.sent[i].target_addr + 6, target + 1) == 0);
            CHECK(strcmp(p.sent[i].to + 6, target + 1) != 0); /* never the target itself */
        }
    run_to(&p, sent_at + 1000);
    CHECK(has_event(&p, RM_SWIM_EV_SUSPECT, target));
    rm_swim_stats(p.e, &st);
    CHECK(st.probes_failed == 1 && st.indirect_probes == 1 && st.health_score == 3);
    peers_free(&p);
}

/*  Helpers that NACK say the target, not us, is the problem: our health
    does not suffer. */
static void test_nacks_spare_our_health(void)
{
    peers_t p;
    rm_swim_config_t c;
    rm_swim_stats_t st;
    config(&c);
    peers_init(&p, &c, 3);
    meet(&p, 5, 0);
    forget(&p);
    const sent_t *ping = next_probe(&p);
    CHECK(ping != NULL);
    if (!ping)
        return;
    int64_t sent_at = ping->at;
    run_to(&p, sent_at + 600);
    sent_t reqs[3];
    int n = 0;
    for (int i = 0; i < p.nsent && n < 3; i++)
        if (p.sent[i].kind == RM_SWIM_WIRE_PING_REQ)
            reqs[n++] = p.sent[i];
    CHECK(n == 3);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%s", reqs[i].to + 6);
        send_from(&p, name, reqs[i].to, RM_SWIM_WIRE_NACK, &(rm_swim_wire_ack_t){reqs[i].seq}, NULL,
                  0);
    }
    run_to(&p, sent_at + 1000);
    rm_swim_stats(p.e, &st);
    CHECK(st.probes_failed == 1 && st.health_score == 0);
    peers_free(&p);
}

/*  Any message from the target counts as its ACK. */
static void test_any_message_answers_the_probe(void)
{
    peers_t p;
    rm_swim_config_t c;
    rm_swim_stats_t st;
    config(&c);
    peers_init(&p, &c, 4);
    meet(&p, 4, 0);
    forget(&p);
    const sent_t *ping = next_probe(&p);
    CHECK(ping != NULL);
    if (!ping)
        return;
    char name[64], addr[64];
    snprintf(name, sizeof name, "%s", ping->target);
    snprintf(addr, sizeof addr, "%s", ping->to);
    send_from(&p, name, addr, RM_SWIM_WIRE_GOSSIP, &(rm_swim_wire_gossip_t){false}, NULL, 0);
    run_to(&p, p.now + 900);
    CHECK(count_sent(&p, RM_SWIM_WIRE_PING_REQ) == 0);
    rm_swim_stats(p.e, &st);
    CHECK(st.probes_failed == 0);
    peers_free(&p);
}

/*  A PING_REQ: we PING the target with our own seq and relay its ACK with
    the prober's; unanswered, a NACK at 80 % of the probe timeout. */
static void test_serves_ping_req(void)
{
    peers_t p;
    rm_swim_config_t c;
    config(&c);
    peers_init(&p, &c, 5);
    meet(&p, 3, 0);
    forget(&p);
    rm_swim_wire_ping_req_t req = {77, "n2", "mem://2", true};
    send_from(&p, "n1", "mem://1", RM_SWIM_WIRE_PING_REQ, &req, NULL, 0);
    const sent_t *ping = first_sent(&p, RM_SWIM_WIRE_PING);
    CHECK(ping && strcmp(ping->to, "mem://2") == 0 && strcmp(ping->target, "n2") == 0);
    if (!ping)
        return;
    uint64_t our_seq = ping->seq;
    forget(&p);
    send_from(&p, "n2", "mem://2", RM_SWIM_WIRE_ACK, &(rm_swim_wire_ack_t){our_seq}, NULL, 0);
    const sent_t *ack = first_sent(&p, RM_SWIM_WIRE_ACK);
    CHECK(ack && ack->seq == 77 && strcmp(ack->to, "mem://1") == 0);

    /* Unanswered this time. */
    forget(&p);
    int64_t asked = p.now;
    send_from(&p, "n1", "mem://1", RM_SWIM_WIRE_PING_REQ,
              &(rm_swim_wire_ping_req_t){78, "n3", "mem://3", true}, NULL, 0);
    run_to(&p, asked + 399);
    CHECK(first_sent(&p, RM_SWIM_WIRE_NACK) == NULL);
    run_to(&p, asked + 400);
    const sent_t *nack = first_sent(&p, RM_SWIM_WIRE_NACK);
    CHECK(nack && nack->seq == 78 && strcmp(nack->to, "mem://1") == 0);
    /* A PING_REQ about us is answered by us. */
    forget(&p);
    send_from(&p, "n1", "mem://1", RM_SWIM_WIRE_PING_REQ,
              &(rm_swim_wire_ping_req_t){79, "me", "mem://0", false}, NULL, 0);
    ack = first_sent(&p, RM_SWIM_WIRE_ACK);
    CHECK(ack && ack->seq == 79 && first_sent(&p, RM_SWIM_WIRE_PING) == NULL);
    peers_free(&p);
}

/*  A flood of PING_REQs cannot grow the relay table past max_relays. */
static void test_relays_are_bounded(void)
{
    peers_t p;
    rm_swim_config_t c;
    config(&c);
    c.max_relays = 2;
    peers_init(&p, &c, 6);
    meet(&p, 3, 0);
    forget(&p);
    for (uint64_t k = 0; k < 5; k++)
        send_from(&p, "n1", "mem://1", RM_SWIM_WIRE_PING_REQ,
                  &(rm_swim_wire_ping_req_t){100 + k, "n2", "mem://2", false}, NULL, 0);
    CHECK(count_sent(&p, RM_SWIM_WIRE_PING) == 2);
    peers_free(&p);
}

/*  A no-inbound member is never probed, and is suspected after 5 s
    without a sign of life; a message from it is one. */
static void test_no_inbound_member(void)
{
    peers_t p;
    rm_swim_config_t c;
    config(&c);
    peers_init(&p, &c, 7);
    meet(&p, 3, 3);
    forget(&p);
    for (int64_t t = 1000; t <= 4500; t += 500) {
        run_to(&p, t);
        send_from(&p, "n1", "mem://1", RM_SWIM_WIRE_ACK, &(rm_swim_wire_ack_t){0}, NULL, 0);
        send_from(&p, "n2", "mem://2", RM_SWIM_WIRE_ACK, &(rm_swim_wire_ack_t){0}, NULL, 0);
    }
    send_from(&p, "n3", "rid:3", RM_SWIM_WIRE_GOSSIP, &(rm_swim_wire_gossip_t){true}, NULL, 0);
    run_to(&p, 9000);
    for (int i = 0; i < p.nsent; i++)
        CHECK_MSG(strcmp(p.sent[i].to, "mem://3") != 0, "message of kind %d to mem://3",
                  p.sent[i].kind);
    CHECK(!has_event(&p, RM_SWIM_EV_SUSPECT, "n3"));
    run_to(&p, 12000);
    CHECK(has_event(&p, RM_SWIM_EV_SUSPECT, "n3"));
    peers_free(&p);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_ping_answered_under_our_name);
    RM_RUN(test_probe_pass_and_ack);
    RM_RUN(test_unanswered_probe);
    RM_RUN(test_nacks_spare_our_health);
    RM_RUN(test_any_message_answers_the_probe);
    RM_RUN(test_serves_ping_req);
    RM_RUN(test_relays_are_bounded);
    RM_RUN(test_no_inbound_member);
    RM_TEST_DONE();
}
