/*  rm_swim_array: growth by an eighth, contents kept. */
#include <stdint.h>

#include "rm_swim_array.h"
#include "rm_test.h"

static void test_grows_by_an_eighth(void)
{
    uint32_t *a = NULL, cap = 0;
    CHECK(rm_swim_array_grow((void **)&a, &cap, 1, sizeof *a) == 0 && a && cap == 8);
    CHECK(rm_swim_array_grow((void **)&a, &cap, 9, sizeof *a) == 0 && cap == 17);
    CHECK(rm_swim_array_grow((void **)&a, &cap, 18, sizeof *a) == 0 && cap == 27);
    /* A big step goes up the same series until it is enough. */
    CHECK(rm_swim_array_grow((void **)&a, &cap, 10000, sizeof *a) == 0);
    CHECK_MSG(cap >= 10000 && cap < 10000 + 10000 / 8 + 8, "capacity %u", cap);
    free(a);
}

static void test_keeps_what_was_there(void)
{
    uint64_t *a = NULL;
    uint32_t cap = 0;
    for (uint32_t n = 0; n < 5000; n++) {
        CHECK(rm_swim_array_grow((void **)&a, &cap, n + 1, sizeof *a) == 0);
        a[n] = n * 3;
    }
    for (uint32_t n = 0; n < 5000; n++)
        CHECK(a[n] == n * 3);
    free(a);
}

static void test_enough_room_changes_nothing(void)
{
    uint32_t *a = NULL, cap = 0;
    rm_swim_array_grow((void **)&a, &cap, 20, sizeof *a);
    uint32_t *before = a, cap_before = cap;
    CHECK(rm_swim_array_grow((void **)&a, &cap, cap, sizeof *a) == 0);
    CHECK(rm_swim_array_grow((void **)&a, &cap, 0, sizeof *a) == 0);
    CHECK(a == before && cap == cap_before);
    free(a);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_grows_by_an_eighth);
    RM_RUN(test_keeps_what_was_there);
    RM_RUN(test_enough_room_changes_nothing);
    RM_TEST_DONE();
}
