/*  rm_swim_order: a pass visits every member but this node once; joiners
    land in the rest of the pass; passes are shuffled. */
#include <stdbool.h>
#include <stdint.h>

#include "rm_swim_order.h"
#include "rm_test.h"

#define N 50

/*  Walks the rest of the pass; counts visits per member. */
static uint32_t walk(rm_swim_order_t *o, int *seen)
{
    uint32_t idx, n = 0;
    while (rm_swim_order_next(o, &idx)) {
        if (idx < 2 * N)
            seen[idx]++;
        n++;
    }
    return n;
}

static void test_pass_visits_each_once(void)
{
    rm_swim_order_t *o = rm_swim_order_new();
    rm_swim_rng_t *rng = rm_swim_rng_new(1);
    int seen[2 * N] = {0};
    uint32_t idx;
    CHECK(o && !rm_swim_order_next(o, &idx)); /* empty before the first pass */
    CHECK(rm_swim_order_reserve(o, N) == 0);
    rm_swim_order_shuffle(o, N, rng);
    CHECK(walk(o, seen) == N - 1);
    CHECK(seen[0] == 0);
    for (int i = 1; i < N; i++)
        CHECK_MSG(seen[i] == 1, "member %d visited %d times", i, seen[i]);
    rm_swim_order_destroy(&o);
    CHECK(o == NULL);
    rm_swim_order_destroy(&o);
    rm_swim_rng_destroy(&rng);
}

static void test_passes_are_shuffled(void)
{
    rm_swim_order_t *o = rm_swim_order_new();
    rm_swim_rng_t *rng = rm_swim_rng_new(2);
    uint32_t first[N], idx;
    int same = 0, in_order = 0;
    rm_swim_order_reserve(o, N);
    rm_swim_order_shuffle(o, N, rng);
    for (int i = 0; rm_swim_order_next(o, &idx); i++) {
        first[i] = idx;
        in_order += idx == (uint32_t)i + 1;
    }
    rm_swim_order_shuffle(o, N, rng);
    for (int i = 0; rm_swim_order_next(o, &idx); i++)
        same += idx == first[i];
    CHECK_MSG(in_order < 10 && same < 10, "%d in place, %d as the pass before", in_order, same);
    rm_swim_order_destroy(&o);
    rm_swim_rng_destroy(&rng);
}

/*  A member added mid-pass is visited in this pass, after what was
    already visited. */
static void test_joiner_lands_in_the_rest(void)
{
    rm_swim_rng_t *rng = rm_swim_rng_new(3);
    for (int trial = 0; trial < 20; trial++) {
        rm_swim_order_t *o = rm_swim_order_new();
        int seen[2 * N] = {0};
        uint32_t idx;
        rm_swim_order_reserve(o, N + 1);
        rm_swim_order_shuffle(o, N, rng);
        for (int i = 0; i < 20; i++) {
            CHECK(rm_swim_order_next(o, &idx));
            seen[idx]++;
        }
        rm_swim_order_insert(o, N, rng);
        CHECK(walk(o, seen) == N - 1 - 20 + 1);
        for (int i = 1; i <= N; i++)
            CHECK_MSG(seen[i] == 1, "trial %d: member %d visited %d times", trial, i, seen[i]);
        rm_swim_order_destroy(&o);
    }
    rm_swim_rng_destroy(&rng);
}

static void test_reserve_exact(void)
{
    rm_swim_order_t *o = rm_swim_order_new();
    rm_swim_rng_t *rng = rm_swim_rng_new(4);
    int seen[2 * N] = {0};
    rm_swim_order_reserve_exact(o, 2 * N);
    rm_swim_order_shuffle(o, 2 * N, rng);
    CHECK(walk(o, seen) == 2 * N - 1);
    rm_swim_order_destroy(&o);
    rm_swim_rng_destroy(&rng);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_pass_visits_each_once);
    RM_RUN(test_passes_are_shuffled);
    RM_RUN(test_joiner_lands_in_the_rest);
    RM_RUN(test_reserve_exact);
    RM_TEST_DONE();
}
