/*  rm_election: the rule, over hand-made membership views. */
#include <string.h>

#include "rm_election.h"
#include "rm_test.h"

#define M(n, alive, stable, epoch, acting)                                                         \
    {                                                                                              \
        n, alive, stable, false, false, epoch, acting                                              \
    }

int main(void)
{
    rm_election_t a = {0};
    /* Alone: claims epoch 1. */
    rm_election_member_t alone[] = {M("n2", true, false, 0, false)};
    CHECK(rm_election_update(&a, alone, 1) && a.acting && a.epoch == 1);
    CHECK(strcmp(a.coordinator, "n2") == 0);

    /* n1 (smaller name) acts in epoch 1: n2 steps down and follows it. */
    rm_election_member_t two[] = {M("n2", true, false, 1, false), M("n1", true, false, 1, true)};
    CHECK(rm_election_update(&a, two, 2) && !a.acting);
    CHECK(strcmp(a.coordinator, "n1") == 0 && a.coordinator_epoch == 1);

    /* A stable node outranks names; as the best it claims the next epoch. */
    rm_election_t s = {0};
    rm_election_member_t stable[] = {M("n9", true, true, 0, false), M("n1", true, false, 4, true)};
    CHECK(rm_election_update(&s, stable, 2) && s.acting && s.epoch == 5);
    /* Once n1 sees that claim it steps down. */
    rm_election_t n1 = {.epoch = 4, .acting = true};
    rm_election_member_t seen_by_n1[] = {M("n1", true, false, 4, true),
                                         M("n9", true, true, 5, true)};
    CHECK(rm_election_update(&n1, seen_by_n1, 2) && !n1.acting);
    CHECK(strcmp(n1.coordinator, "n9") == 0 && n1.coordinator_epoch == 5 && n1.epoch == 5);
    /* Steady state: no change, no new epoch. */
    CHECK(!rm_election_update(
        &s, (rm_election_member_t[]){M("n9", true, true, 5, true), M("n1", true, false, 5, false)},
        2));
    CHECK(s.acting && s.epoch == 5);

    /* The coordinator dies (not alive): the best of the rest claims above
       the highest epoch seen. */
    rm_election_member_t after[] = {M("n1", true, false, 5, false), M("n9", false, true, 5, true)};
    CHECK(rm_election_update(&n1, after, 2) && n1.acting && n1.epoch == 6);

    /* No-inbound and draining nodes are never candidates. */
    rm_election_t nat = {0};
    rm_election_member_t nats[] = {{"a", true, true, true, false, 0, false},
                                   {"b", true, false, false, true, 0, false},
                                   M("c", true, false, 0, false)};
    CHECK(!rm_election_update(&nat, nats, 3) && !nat.acting && nat.coordinator[0] == '\0');

    /* Two claims of one number (two sides of a partition) are ordered by name. */
    rm_election_t x = {0};
    rm_election_member_t split[] = {M("n5", true, false, 3, false), M("n2", false, false, 3, true),
                                    M("n3", true, false, 3, true), M("n4", true, false, 3, true)};
    rm_election_update(&x, split, 4);
    CHECK(!x.acting && strcmp(x.coordinator, "n4") == 0);
    RM_TEST_DONE();
}
