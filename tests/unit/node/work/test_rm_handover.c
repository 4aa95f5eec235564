/*  rm_handover: which member a leaving node hands a finished frame to.
    The members are plain rm_member_peer_t records, as rm_member_peers
    gives them. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "rm_handover.h"
#include "rm_test.h"

#define NPEERS 6

static rm_member_meta_t metas[NPEERS];
static rm_member_peer_t peers[NPEERS];

static void peer(size_t i, const char *name, const char *addr, bool alive, bool has_meta,
                 bool draining)
{
    metas[i] = (rm_member_meta_t){.draining = draining};
    peers[i] = (rm_member_peer_t){
        .name = name, .addr = addr, .alive = alive, .has_meta = has_meta, .meta = &metas[i]};
}

/*  The rendezvous score rm_work's first copy uses. */
static uint64_t score(const char *job, uint64_t frame, const char *name)
{
    char key[400];
    uint64_t s;
    int n = snprintf(key, sizeof key, "%s/%llu/%s", job, (unsigned long long)frame, name);
    crypto_generichash((uint8_t *)&s, sizeof s, (const uint8_t *)key, (size_t)n, NULL, 0);
    return s;
}

static const char *pick_name(const rm_member_peer_t *p, size_t count, const char *job,
                             uint64_t frame, const uint64_t *tried, size_t ntried)
{
    int i = rm_handover_pick(p, count, job, frame, tried, ntried);
    return i < 0 ? NULL : p[i].name;
}

static const char *job = "00000000000000a1";

/*  Only alive members with an address that do not drain count; one whose
    metadata has not arrived yet counts like rm_work's first copy. */
static void members(void)
{
    peer(0, "n1", "tcp://10.0.0.1:7700", true, true, false);
    peer(1, "n2", "tcp://10.0.0.2:7700", true, true, true);   /* draining */
    peer(2, "n3", "tcp://10.0.0.3:7700", false, true, false); /* suspect, dead or left */
    peer(3, "n4", "", true, true, false);                     /* no-inbound: unreachable */
    peer(4, "n5", "tcp://10.0.0.5:7700", true, false, false); /* no metadata yet */
    peer(5, "n6", "tcp://10.0.0.6:7700", true, true, false);
}

static void test_picks_only_alive_reachable_members_that_stay(void)
{
    members();
    for (uint64_t frame = 1; frame <= 200; frame++) {
        const char *got = pick_name(peers, NPEERS, job, frame, NULL, 0);
        CHECK(got != NULL);
        if (!got)
            continue;
        CHECK_MSG(strcmp(got, "n1") == 0 || strcmp(got, "n5") == 0 || strcmp(got, "n6") == 0,
                  "frame %llu went to %s", (unsigned long long)frame, got);
    }
}

/*  The highest rendezvous score among those: the member that took the
    first copy ranks first again while it stays. */
static void test_picks_the_highest_rendezvous_score_like_the_first_copy(void)
{
    members();
    for (uint64_t frame = 1; frame <= 200; frame++) {
        const char *got = pick_name(peers, NPEERS, job, frame, NULL, 0);
        CHECK(got != NULL);
        if (!got)
            continue;
        const char *eligible[] = {"n1", "n5", "n6"};
        const char *want = NULL;
        uint64_t best = 0;
        for (size_t e = 0; e < 3; e++)
            if (!want || score(job, frame, eligible[e]) > best) {
                want = eligible[e];
                best = score(job, frame, eligible[e]);
            }
        CHECK_MSG(strcmp(got, want) == 0, "frame %llu: %s, not %s", (unsigned long long)frame, got,
                  want);
    }
}

static void test_the_pick_is_deterministic(void)
{
    members();
    for (uint64_t frame = 1; frame <= 200; frame++) {
        const char *got = pick_name(peers, NPEERS, job, frame, NULL, 0);
        CHECK(got != NULL);
        if (got)
            CHECK(strcmp(got, pick_name(peers, NPEERS, job, frame, NULL, 0)) == 0);
    }
}

static void test_a_name_id_is_stable_and_tells_names_apart(void)
{
    CHECK(rm_handover_name_id("n1") == rm_handover_name_id("n1"));
    CHECK(rm_handover_name_id("n1") != rm_handover_name_id("n5"));
}

/*  A refusal or silence asks the next; when all were asked there is no one. */
static void test_a_refusal_asks_the_next_until_none_is_left(void)
{
    members();
    uint64_t tried[RM_HANDOVER_TRIES];
    size_t ntried = 0;
    const char *seen[3] = {0};
    for (int k = 0; k < 3; k++) {
        const char *got = pick_name(peers, NPEERS, job, 7, tried, ntried);
        CHECK(got != NULL);
        if (!got)
            break;
        for (int m = 0; m < k; m++)
            CHECK(strcmp(seen[m], got) != 0);
        seen[k] = got;
        tried[ntried++] = rm_handover_name_id(got);
    }
    CHECK(rm_handover_pick(peers, NPEERS, job, 7, tried, ntried) == -1);
}

/*  The last node leaving: every other member drains or is gone. */
static void test_the_last_node_leaving_has_nobody_to_hand_to(void)
{
    members();
    peer(0, "n1", "tcp://10.0.0.1:7700", true, true, true);
    peer(4, "n5", "tcp://10.0.0.5:7700", false, false, false);
    peer(5, "n6", "tcp://10.0.0.6:7700", true, true, true);
    CHECK(rm_handover_pick(peers, NPEERS, job, 7, NULL, 0) == -1);
    CHECK(rm_handover_pick(NULL, 0, job, 7, NULL, 0) == -1);
}

/*  Two nodes leave at once (n2 drained, n3 SIGTERMed), each seeing the
    other draining: the members as n2 and as n3 see them. */
static rm_member_peer_t from_n2[4], from_n3[4];
static rm_member_meta_t stay = {.draining = false}, leaving = {.draining = true};

static void two_leaving(void)
{
    const char *names[] = {"n1", "n3", "n4", "n5"};
    const char *names3[] = {"n1", "n2", "n4", "n5"};
    for (size_t i = 0; i < 4; i++) {
        bool l2 = strcmp(names[i], "n3") == 0, l3 = strcmp(names3[i], "n2") == 0;
        from_n2[i] = (rm_member_peer_t){.name = names[i],
                                        .addr = "tcp://x:1",
                                        .alive = true,
                                        .has_meta = true,
                                        .meta = l2 ? &leaving : &stay};
        from_n3[i] = (rm_member_peer_t){.name = names3[i],
                                        .addr = "tcp://x:1",
                                        .alive = true,
                                        .has_meta = true,
                                        .meta = l3 ? &leaving : &stay};
    }
}

/*  Neither hands a frame to the other. */
static void test_two_leaving_nodes_do_not_hand_to_each_other(void)
{
    two_leaving();
    for (uint64_t frame = 1; frame <= 100; frame++) {
        const char *a = pick_name(from_n2, 4, job, frame, NULL, 0);
        const char *b = pick_name(from_n3, 4, job, frame, NULL, 0);
        CHECK(a && b);
        if (!a || !b)
            continue;
        CHECK(strcmp(a, "n3") != 0 && strcmp(b, "n2") != 0);
    }
}

/*  Both pick the same member that stays, so a frame they both held ends
    up on one node that stays, not on two that leave. */
static void test_two_leaving_nodes_pick_the_same_member_that_stays(void)
{
    two_leaving();
    for (uint64_t frame = 1; frame <= 100; frame++) {
        const char *a = pick_name(from_n2, 4, job, frame, NULL, 0);
        const char *b = pick_name(from_n3, 4, job, frame, NULL, 0);
        CHECK(a && b);
        if (!a || !b)
            continue;
        CHECK_MSG(strcmp(a, b) == 0, "frame %llu: n2 hands to %s, n3 to %s",
                  (unsigned long long)frame, a, b);
    }
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(sodium_init() >= 0);
    RM_RUN(test_picks_only_alive_reachable_members_that_stay);
    RM_RUN(test_picks_the_highest_rendezvous_score_like_the_first_copy);
    RM_RUN(test_the_pick_is_deterministic);
    RM_RUN(test_a_name_id_is_stable_and_tells_names_apart);
    RM_RUN(test_a_refusal_asks_the_next_until_none_is_left);
    RM_RUN(test_the_last_node_leaving_has_nobody_to_hand_to);
    RM_RUN(test_two_leaving_nodes_do_not_hand_to_each_other);
    RM_RUN(test_two_leaving_nodes_pick_the_same_member_that_stays);
    RM_TEST_DONE();
}
