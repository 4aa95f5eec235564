/*  rm_swim_bcast: what goes out first, what replaces what, what is
    dropped. */
#include <stdint.h>
#include <stdio.h>

#include "rm_swim_bcast.h"
#include "rm_test.h"

/*  Queues "<name>:<tag>" padded to len bytes about member `name`. */
static void put(rm_swim_bcast_t *q, const char *name, const char *tag, size_t len)
{
    uint8_t *d = calloc(1, len);
    snprintf((char *)d, len, "%s:%s", name, tag);
    rm_swim_bcast_put(q, name, d, len);
}

/*  The picked updates' texts, joined by spaces, into out. */
static uint32_t pick(rm_swim_bcast_t *q, size_t budget, uint32_t max, uint32_t *pos, char *out,
                     size_t outlen)
{
    uint32_t n = rm_swim_bcast_pick(q, budget, max, pos);
    out[0] = '\0';
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *d = rm_swim_bcast_data(q, pos[i], &len);
        snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? " " : "", (const char *)d);
    }
    return n;
}

static void test_newest_first_then_fewest_sent(void)
{
    rm_swim_bcast_t *q = rm_swim_bcast_new(100);
    uint32_t pos[8];
    char got[256];
    put(q, "a", "1", 16);
    put(q, "b", "1", 16);
    put(q, "c", "1", 16);
    CHECK(pick(q, 1000, 8, pos, got, sizeof got) == 3);
    CHECK_MSG(strcmp(got, "c:1 b:1 a:1") == 0, "%s", got);
    /* c and b sent once: a (never sent) goes first now. */
    rm_swim_bcast_sent(q, pos, 2, 10);
    pick(q, 1000, 8, pos, got, sizeof got);
    CHECK_MSG(strcmp(got, "a:1 c:1 b:1") == 0, "%s", got);
    rm_swim_bcast_destroy(&q);
    CHECK(q == NULL);
    rm_swim_bcast_destroy(&q);
}

static void test_newer_update_replaces(void)
{
    rm_swim_bcast_t *q = rm_swim_bcast_new(100);
    uint32_t pos[8];
    char got[256];
    put(q, "a", "1", 16);
    put(q, "b", "1", 16);
    rm_swim_bcast_sent(q, (uint32_t[]){0, 1}, 2, 10);
    put(q, "a", "2", 16);
    CHECK(rm_swim_bcast_count(q) == 2);
    pick(q, 1000, 8, pos, got, sizeof got);
    CHECK_MSG(strcmp(got, "a:2 b:1") == 0, "%s", got); /* and its send count starts again */
    rm_swim_bcast_destroy(&q);
}

/*  Whatever does not fit the budget is skipped, smaller ones after it
    still go; `max` caps the count. */
static void test_budget_and_max(void)
{
    rm_swim_bcast_t *q = rm_swim_bcast_new(100);
    uint32_t pos[8];
    char got[256];
    put(q, "small", "1", 10);
    put(q, "big", "1", 100);
    put(q, "mid", "1", 40);
    CHECK(pick(q, 60, 8, pos, got, sizeof got) == 2);
    CHECK_MSG(strcmp(got, "mid:1 small:1") == 0, "%s", got);
    CHECK(pick(q, 1000, 1, pos, got, sizeof got) == 1 && strcmp(got, "mid:1") == 0);
    CHECK(pick(q, 5, 8, pos, got, sizeof got) == 0);
    rm_swim_bcast_destroy(&q);
}

static void test_dropped_after_limit_sends(void)
{
    rm_swim_bcast_t *q = rm_swim_bcast_new(100);
    uint32_t pos[8];
    char got[256];
    put(q, "a", "1", 16);
    put(q, "b", "1", 16);
    for (int i = 0; i < 2; i++) {
        pick(q, 1000, 1, pos, got, sizeof got); /* the one sent least */
        rm_swim_bcast_sent(q, pos, 1, 3);
    }
    CHECK(rm_swim_bcast_count(q) == 2);
    for (int i = 0; i < 4; i++) {
        uint32_t n = pick(q, 1000, 8, pos, got, sizeof got);
        rm_swim_bcast_sent(q, pos, n, 3);
    }
    CHECK(rm_swim_bcast_count(q) == 0);
    CHECK(pick(q, 1000, 8, pos, got, sizeof got) == 0);
    rm_swim_bcast_destroy(&q);
}

/*  Full: the most-sent entry makes room. */
static void test_full_queue_drops_most_sent(void)
{
    rm_swim_bcast_t *q = rm_swim_bcast_new(3);
    uint32_t pos[8];
    char got[256];
    put(q, "a", "1", 16);
    put(q, "b", "1", 16);
    put(q, "c", "1", 16);
    pick(q, 1000, 1, pos, got, sizeof got);
    CHECK(strcmp(got, "c:1") == 0);
    rm_swim_bcast_sent(q, pos, 1, 10);
    rm_swim_bcast_sent(q, pos, 1, 10);
    put(q, "d", "1", 16);
    CHECK(rm_swim_bcast_count(q) == 3);
    pick(q, 1000, 8, pos, got, sizeof got);
    CHECK_MSG(strcmp(got, "d:1 b:1 a:1") == 0, "%s", got);
    rm_swim_bcast_destroy(&q);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_newest_first_then_fewest_sent);
    RM_RUN(test_newer_update_replaces);
    RM_RUN(test_budget_and_max);
    RM_RUN(test_dropped_after_limit_sends);
    RM_RUN(test_full_queue_drops_most_sent);
    RM_TEST_DONE();
}
