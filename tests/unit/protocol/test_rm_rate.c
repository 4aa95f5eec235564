/*  rm_rate: a token bucket driven by a fake clock. */
#include "rm_rate.h"
#include "rm_test.h"

/*  Unlimited: nothing ever waits. */
static void test_no_limit_never_waits(void)
{
    rm_rate_t r;
    rm_rate_init(&r, 0, 0);
    CHECK(!rm_rate_limited(&r));
    rm_rate_take(&r, UINT64_C(1) << 40, 0);
    CHECK(rm_rate_wait(&r, 0) == 0);
}

/*  1 MB/s: a quarter second saved up, then the bytes taken are owed and
    paid back at the rate; a chunk is never split (the bucket goes below
    zero). */
static void test_bytes_go_at_the_rate(void)
{
    rm_rate_t r;
    rm_rate_init(&r, 1000000, 100);
    CHECK(rm_rate_limited(&r) && rm_rate_wait(&r, 100) == 0);
    rm_rate_take(&r, 250000, 100); /* the burst */
    CHECK(rm_rate_wait(&r, 100) == 0);
    rm_rate_take(&r, 4000000, 100); /* a 4 MB chunk: 4 s owed */
    CHECK(rm_rate_wait(&r, 100) == 4000);
    CHECK(rm_rate_wait(&r, 1100) == 3000);
    CHECK(rm_rate_wait(&r, 4100) == 0);
    /* Saved up for no longer than a quarter second. */
    CHECK(rm_rate_wait(&r, 60100) == 0);
    rm_rate_take(&r, 500000, 60100);
    CHECK(rm_rate_wait(&r, 60100) == 250);
}

/*  Many small takes over a long time add up to the rate (no fraction of a
    millisecond lost between calls). */
static void test_small_steps_keep_the_rate(void)
{
    rm_rate_t r;
    rm_rate_init(&r, 3000, 0); /* 3 bytes per ms */
    int64_t now = 0;
    uint64_t sent = 0;
    while (now < 10000) {
        if (rm_rate_wait(&r, now) == 0) {
            rm_rate_take(&r, 7, now);
            sent += 7;
        }
        now += 1;
    }
    /* 10 s at 3000 B/s, plus the burst of 750 */
    CHECK_MSG(sent >= 30000 && sent <= 30000 + 750 + 7, "%llu", (unsigned long long)sent);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_no_limit_never_waits);
    RM_RUN(test_bytes_go_at_the_rate);
    RM_RUN(test_small_steps_keep_the_rate);
    RM_TEST_DONE();
}
