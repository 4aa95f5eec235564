/*  rm_swim_rng: the sequence is pinned (a change would silently change
    every recorded simulation), and the ranges hold. */
#include <stdint.h>

#include "rm_swim_rng.h"
#include "rm_test.h"

/*  xoshiro256** seeded with splitmix64(1): the first outputs, as the
    reference code gives them. */
static void test_seed_gives_the_reference_sequence(void)
{
    static const uint64_t expect[] = {0xb3f2af6d0fc710c5ull, 0x853b559647364ceaull,
                                      0x92f89756082a4514ull, 0x642e1c7bc266a3a7ull};
    rm_swim_rng_t *r = rm_swim_rng_new(1);
    CHECK(r);
    for (int i = 0; i < 4; i++)
        CHECK(rm_swim_rng_next(r) == expect[i]);
    rm_swim_rng_destroy(&r);
    r = rm_swim_rng_new(0);
    CHECK(rm_swim_rng_next(r) == 0x99ec5f36cb75f2b4ull);
    rm_swim_rng_destroy(&r);
}

static void test_same_seed_replays(void)
{
    rm_swim_rng_t *a = rm_swim_rng_new(42), *b = rm_swim_rng_new(42), *c = rm_swim_rng_new(43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rm_swim_rng_next(a);
        CHECK(x == rm_swim_rng_next(b));
        differ += x != rm_swim_rng_next(c);
    }
    CHECK(differ > 990);
    rm_swim_rng_destroy(&a);
    rm_swim_rng_destroy(&b);
    rm_swim_rng_destroy(&c);
}

static void test_below_stays_in_range(void)
{
    rm_swim_rng_t *r = rm_swim_rng_new(7);
    int seen[10] = {0};
    for (int i = 0; i < 10000; i++) {
        uint64_t v = rm_swim_rng_below(r, 10);
        CHECK(v < 10);
        if (v < 10)
            seen[v]++;
    }
    for (int i = 0; i < 10; i++)
        CHECK_MSG(seen[i] > 800 && seen[i] < 1200, "%d drawn %d times of 10000", i, seen[i]);
    CHECK(rm_swim_rng_below(r, 1) == 0);
    rm_swim_rng_destroy(&r);
}

/*  below(0) is 0 without a draw: the engine relies on it to keep its
    sequence when a table is empty. */
static void test_below_zero_takes_no_draw(void)
{
    rm_swim_rng_t *a = rm_swim_rng_new(5), *b = rm_swim_rng_new(5);
    CHECK(rm_swim_rng_below(a, 0) == 0);
    CHECK(rm_swim_rng_next(a) == rm_swim_rng_next(b));
    rm_swim_rng_destroy(&a);
    rm_swim_rng_destroy(&b);
}

static void test_unit_is_in_zero_one(void)
{
    rm_swim_rng_t *r = rm_swim_rng_new(9);
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        double u = rm_swim_rng_unit(r);
        CHECK(u >= 0.0 && u < 1.0);
        sum += u;
    }
    CHECK_MSG(sum > 4800 && sum < 5200, "mean %f", sum / 10000);
    rm_swim_rng_destroy(&r);
}

static void test_destroy_nulls_the_pointer(void)
{
    rm_swim_rng_t *r = rm_swim_rng_new(3);
    rm_swim_rng_destroy(&r);
    CHECK(r == NULL);
    rm_swim_rng_destroy(&r);
    rm_swim_rng_destroy(NULL);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_seed_gives_the_reference_sequence);
    RM_RUN(test_same_seed_replays);
    RM_RUN(test_below_stays_in_range);
    RM_RUN(test_below_zero_takes_no_draw);
    RM_RUN(test_unit_is_in_zero_one);
    RM_RUN(test_destroy_nulls_the_pointer);
    RM_TEST_DONE();
}
