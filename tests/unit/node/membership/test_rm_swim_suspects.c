/*  rm_swim_suspects: Lifeguard's suspicion timeouts as docs/membership.md
    gives them, confirmations by distinct accusers, expiry. */
#include <stdbool.h>
#include <stdint.h>

#include "rm_swim.h"
#include "rm_swim_suspects.h"
#include "rm_test.h"

static rm_swim_suspects_t *defaults(void)
{
    return rm_swim_suspects_new(4, 6, 1000); /* memberlist's LAN settings */
}

/*  min = 4 * max(1, log10(n)) s, max = 6 * min: 8 / 48 s at 100 members,
    12 / 72 s at 1000, 16 / 96 s at 10000. */
static void test_timeout_scales_with_the_mesh(void)
{
    const struct {
        uint32_t live;
        int64_t max;
    } cases[] = {{5, 24000}, {10, 24000}, {100, 48000}, {1000, 72000}, {10000, 96000}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rm_swim_suspects_t *s = defaults();
        rm_swim_suspects_start(s, "x", 1, "a", false, 0, cases[c].live);
        int64_t d = rm_swim_suspects_deadline(s);
        CHECK_MSG(d >= cases[c].max - 1 && d <= cases[c].max, "n=%u: %lld ms", cases[c].live,
                  (long long)d);
        rm_swim_suspects_destroy(&s);
    }
}

/*  One independent confirmation of k = 2 at n = 100: 22.8 s; the second
    reaches min (8 s).  The same accuser twice, or a third, changes
    nothing. */
static void test_confirmations_shrink_it(void)
{
    rm_swim_suspects_t *s = defaults();
    rm_swim_suspects_start(s, "x", 1, "a", false, 1000, 100);
    CHECK(!rm_swim_suspects_confirm(s, "x", "a", false));
    CHECK(rm_swim_suspects_confirm(s, "x", "b", false));
    int64_t d = rm_swim_suspects_deadline(s) - 1000;
    CHECK_MSG(d > 22700 && d < 22800, "after one confirmation: %lld ms", (long long)d);
    CHECK(rm_swim_suspects_confirm(s, "x", "c", false));
    CHECK(rm_swim_suspects_deadline(s) == 1000 + 8000);
    CHECK(!rm_swim_suspects_confirm(s, "x", "d", false));
    CHECK(!rm_swim_suspects_confirm(s, "nobody", "d", false));
    rm_swim_suspects_destroy(&s);
}

/*  Below k + 2 live members nobody can confirm: min from the start. */
static void test_small_mesh_starts_at_min(void)
{
    rm_swim_suspects_t *s = defaults();
    rm_swim_suspects_start(s, "x", 1, "a", false, 0, 3);
    CHECK(rm_swim_suspects_deadline(s) == 4000);
    CHECK(!rm_swim_suspects_confirm(s, "x", "b", false));
    rm_swim_suspects_destroy(&s);
}

static void test_expiry_and_drop(void)
{
    rm_swim_suspects_t *s = defaults();
    char name[RM_SWIM_MAX_NAME + 1];
    uint64_t inc;
    CHECK(rm_swim_suspects_deadline(s) == RM_SWIM_NO_DEADLINE);
    rm_swim_suspects_start(s, "x", 7, "a", false, 0, 3);
    rm_swim_suspects_start(s, "y", 8, "a", false, 1000, 3);
    rm_swim_suspects_start(s, "z", 9, "a", false, 1000, 3);
    rm_swim_suspects_drop(s, "z");
    CHECK(rm_swim_suspects_count(s) == 2);
    CHECK(!rm_swim_suspects_expired(s, 3999, name, &inc));
    CHECK(rm_swim_suspects_expired(s, 4000, name, &inc) && strcmp(name, "x") == 0 && inc == 7);
    CHECK(!rm_swim_suspects_expired(s, 4000, name, &inc));
    CHECK(rm_swim_suspects_deadline(s) == 5000);
    CHECK(rm_swim_suspects_expired(s, 9000, name, &inc) && strcmp(name, "y") == 0 && inc == 8);
    CHECK(rm_swim_suspects_count(s) == 0);
    rm_swim_suspects_destroy(&s);
}

/*  A new start replaces the old suspicion; `ours` is remembered, also
    when we confirm another's accusation. */
static void test_restart_and_ours(void)
{
    rm_swim_suspects_t *s = defaults();
    bool ours;
    rm_swim_suspects_start(s, "x", 1, "a", false, 0, 100);
    rm_swim_suspects_start(s, "x", 2, "b", false, 5000, 100);
    CHECK(rm_swim_suspects_count(s) == 1 && rm_swim_suspects_deadline(s) == 5000 + 48000);
    CHECK(strcmp(rm_swim_suspects_name(s, 0, &ours), "x") == 0 && !ours);
    CHECK(rm_swim_suspects_confirm(s, "x", "me", true));
    rm_swim_suspects_name(s, 0, &ours);
    CHECK(ours);
    rm_swim_suspects_destroy(&s);
    CHECK(s == NULL);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_timeout_scales_with_the_mesh);
    RM_RUN(test_confirmations_shrink_it);
    RM_RUN(test_small_mesh_starts_at_min);
    RM_RUN(test_expiry_and_drop);
    RM_RUN(test_restart_and_ours);
    RM_TEST_DONE();
}
