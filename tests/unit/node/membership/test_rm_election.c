/*  rm_election: the rule, over hand-made membership views. */
#include <string.h>

#include "rm_election.h"
#include "rm_test.h"

#define M(n, alive, stable, epoch, acting)                                                         \
    {                                                                                              \
        n, alive, stable, false, false, epoch, acting, false                                       \
    }

/*  n2, alone so far: it has claimed epoch 1. */
static rm_election_t lone_n2(void)
{
    rm_election_t a = {0};
    rm_election_member_t alone[] = {M("n2", true, false, 0, false)};
    CHECK(rm_election_update(&a, alone, 1));
    return a;
}

/*  n9 (stable) has seen n1 act in epoch 4 and claimed epoch 5. */
static rm_election_t stable_n9(void)
{
    rm_election_t s = {0};
    rm_election_member_t stable[] = {M("n9", true, true, 0, false), M("n1", true, false, 4, true)};
    CHECK(rm_election_update(&s, stable, 2));
    return s;
}

/*  n1 acted in epoch 4, then saw n9's claim of epoch 5 and stepped down. */
static rm_election_t n1_under_n9(void)
{
    rm_election_t n1 = {.epoch = 4, .acting = true};
    rm_election_member_t seen_by_n1[] = {M("n1", true, false, 4, true),
                                         M("n9", true, true, 5, true)};
    CHECK(rm_election_update(&n1, seen_by_n1, 2));
    return n1;
}

static void test_a_lone_node_claims_epoch_one(void)
{
    rm_election_t a = {0};
    rm_election_member_t alone[] = {M("n2", true, false, 0, false)};
    CHECK(rm_election_update(&a, alone, 1) && a.acting && a.epoch == 1);
    CHECK(strcmp(a.coordinator, "n2") == 0);
}

/*  n1 (smaller name) acts in epoch 1: n2 steps down and follows it. */
static void test_steps_down_for_a_smaller_name_acting_in_its_epoch(void)
{
    rm_election_t a = lone_n2();
    rm_election_member_t two[] = {M("n2", true, false, 1, false), M("n1", true, false, 1, true)};
    CHECK(rm_election_update(&a, two, 2) && !a.acting);
    CHECK(strcmp(a.coordinator, "n1") == 0 && a.coordinator_epoch == 1);
}

/*  A stable node outranks names; as the best it claims the next epoch. */
static void test_a_stable_node_outranks_names_and_claims_the_next_epoch(void)
{
    rm_election_t s = {0};
    rm_election_member_t stable[] = {M("n9", true, true, 0, false), M("n1", true, false, 4, true)};
    CHECK(rm_election_update(&s, stable, 2) && s.acting && s.epoch == 5);
}

/*  Once n1 sees that claim it steps down. */
static void test_the_acting_node_steps_down_when_it_sees_a_better_claim(void)
{
    rm_election_t n1 = {.epoch = 4, .acting = true};
    rm_election_member_t seen_by_n1[] = {M("n1", true, false, 4, true),
                                         M("n9", true, true, 5, true)};
    CHECK(rm_election_update(&n1, seen_by_n1, 2) && !n1.acting);
    CHECK(strcmp(n1.coordinator, "n9") == 0 && n1.coordinator_epoch == 5 && n1.epoch == 5);
}

/*  Steady state: no change, no new epoch. */
static void test_a_steady_state_changes_nothing(void)
{
    rm_election_t s = stable_n9();
    CHECK(!rm_election_update(
        &s, (rm_election_member_t[]){M("n9", true, true, 5, true), M("n1", true, false, 5, false)},
        2));
    CHECK(s.acting && s.epoch == 5);
}

/*  The coordinator dies (not alive): the best of the rest claims above
    the highest epoch seen. */
static void test_the_best_of_the_rest_claims_above_a_dead_coordinator(void)
{
    rm_election_t n1 = n1_under_n9();
    rm_election_member_t after[] = {M("n1", true, false, 5, false), M("n9", false, true, 5, true)};
    CHECK(rm_election_update(&n1, after, 2) && n1.acting && n1.epoch == 6);
}

/*  No-inbound and draining nodes are never candidates. */
static void test_no_inbound_and_draining_nodes_are_never_candidates(void)
{
    rm_election_t nat = {0};
    rm_election_member_t nats[] = {{"a", true, true, true, false, 0, false, false},
                                   {"b", true, false, false, true, 0, false, false},
                                   M("c", true, false, 0, false)};
    CHECK(!rm_election_update(&nat, nats, 3) && !nat.acting && nat.coordinator[0] == '\0');
}

/*  Two claims of one number (two sides of a partition) are ordered by name. */
static void test_two_claims_of_one_epoch_are_ordered_by_name(void)
{
    rm_election_t x = {0};
    rm_election_member_t split[] = {M("n5", true, false, 3, false), M("n2", false, false, 3, true),
                                    M("n3", true, false, 3, true), M("n4", true, false, 3, true)};
    rm_election_update(&x, split, 4);
    CHECK(!x.acting && strcmp(x.coordinator, "n4") == 0);
}

/*  A worker's credential may not coordinate: it is never a candidate, and
    its claim, however high, is not followed nor raises the next epoch. */
static void test_workers_never_coordinate(void)
{
    rm_election_member_t w = M("a-worker", true, true, 0, false);
    w.worker = true;
    rm_election_t self = {0};
    rm_election_member_t alone[] = {w};
    CHECK(!rm_election_update(&self, alone, 1) && !self.acting && self.coordinator[0] == '\0');
    /* n2 sees n1 acting in epoch 3 and a worker (smaller name, "stable")
       claiming a huge epoch: n1 stays the coordinator. */
    rm_election_t n2 = {.epoch = 3};
    rm_election_member_t thief = M("a-thief", true, true, RM_EPOCH_MAX, true);
    thief.worker = true;
    rm_election_member_t seen[] = {M("n2", true, false, 3, false), M("n1", true, false, 3, true),
                                   thief};
    rm_election_update(&n2, seen, 3);
    CHECK(!n2.acting && strcmp(n2.coordinator, "n1") == 0 && n2.coordinator_epoch == 3);
    CHECK(n2.epoch == 3);
    /* n1 keeps acting in epoch 3. */
    rm_election_t n1 = {.epoch = 3, .acting = true};
    rm_election_member_t seen_by_n1[] = {M("n1", true, false, 3, true),
                                         M("n2", true, false, 3, false), thief};
    CHECK(!rm_election_update(&n1, seen_by_n1, 3) && n1.acting && n1.epoch == 3);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_a_lone_node_claims_epoch_one);
    RM_RUN(test_steps_down_for_a_smaller_name_acting_in_its_epoch);
    RM_RUN(test_a_stable_node_outranks_names_and_claims_the_next_epoch);
    RM_RUN(test_the_acting_node_steps_down_when_it_sees_a_better_claim);
    RM_RUN(test_a_steady_state_changes_nothing);
    RM_RUN(test_the_best_of_the_rest_claims_above_a_dead_coordinator);
    RM_RUN(test_no_inbound_and_draining_nodes_are_never_candidates);
    RM_RUN(test_two_claims_of_one_epoch_are_ordered_by_name);
    RM_RUN(test_workers_never_coordinate);
    RM_TEST_DONE();
}
