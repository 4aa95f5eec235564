/*  rm_swim_members: the engine's member table: lookups, counts by state,
    removal, strings replaced in place, stamps, and what leaves it (wire
    updates, push-pull parts, events, views). */
#include <stdint.h>
#include <stdio.h>

#include "rm_swim_members.h"
#include "rm_test.h"

static rm_swim_members_t *table(int n, size_t meta_len)
{
    rm_swim_members_t *t = rm_swim_members_new(1000);
    uint8_t meta[RM_SWIM_MAX_META];
    char name[32], addr[32];
    memset(meta, 'm', sizeof meta);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "node%d", i);
        snprintf(addr, sizeof addr, "tcp://10.0.0.%d:7700", i);
        CHECK(rm_swim_members_add(t, 1000, name, addr, (uint64_t)i, RM_SWIM_ALIVE, 0, meta,
                                  meta_len) == i);
    }
    return t;
}

static void test_add_and_find(void)
{
    rm_swim_members_t *t = table(50, 3);
    CHECK(rm_swim_members_count(t) == 50 && rm_swim_members_live(t) == 50);
    CHECK(rm_swim_members_find(t, "node17") == 17 && rm_swim_members_find(t, "node50") == -1);
    CHECK(strcmp(rm_swim_members_name(t, 17), "node17") == 0);
    CHECK(strcmp(rm_swim_members_addr(t, 17), "tcp://10.0.0.17:7700") == 0);
    CHECK(memcmp(rm_swim_members_meta(t, 17), "mmm", 3) == 0);
    CHECK(rm_swim_members_at(t, 17)->inc == 17 && rm_swim_members_at(t, 17)->meta_len == 3);
    rm_swim_members_destroy(&t);
    CHECK(t == NULL);
    rm_swim_members_destroy(&t);
}

static void test_counts_follow_states(void)
{
    rm_swim_members_t *t = table(6, 0);
    rm_swim_members_set_state(t, 1, RM_SWIM_SUSPECT);
    rm_swim_members_set_state(t, 2, RM_SWIM_DEAD);
    rm_swim_members_set_state(t, 3, RM_SWIM_LEFT);
    CHECK(rm_swim_members_live(t) == 4 && rm_swim_members_dead(t) == 1);
    CHECK(rm_swim_members_left(t) == 1);
    CHECK(rm_swim_members_count_in(t, RM_SWIM_MASK(RM_SWIM_ALIVE)) == 3);
    CHECK(rm_swim_members_count_in(t, RM_SWIM_LIVE) == 4);
    CHECK(rm_swim_members_count_in(t, RM_SWIM_ALL) == 6);
    CHECK(rm_swim_members_meta(t, 1) == NULL);
    rm_swim_members_destroy(&t);
}

/*  The last member takes the removed one's number, and is found there. */
static void test_remove_moves_the_last(void)
{
    rm_swim_members_t *t = table(5, 1);
    rm_swim_members_set_state(t, 2, RM_SWIM_DEAD);
    rm_swim_members_remove(t, 2);
    CHECK(rm_swim_members_count(t) == 4 && rm_swim_members_dead(t) == 0);
    CHECK(rm_swim_members_find(t, "node2") == -1 && rm_swim_members_find(t, "node4") == 2);
    CHECK(strcmp(rm_swim_members_addr(t, 2), "tcp://10.0.0.4:7700") == 0);
    rm_swim_members_remove(t, 3); /* the last itself */
    CHECK(rm_swim_members_count(t) == 3 && rm_swim_members_find(t, "node3") == -1);
    rm_swim_members_destroy(&t);
}

/*  New strings, also when given the table's own (a view the caller holds),
    many times over (the arena compacts underneath). */
static void test_set_strings(void)
{
    rm_swim_members_t *t = table(10, 100);
    uint8_t meta[300];
    for (int round = 0; round < 200; round++) {
        memset(meta, round, sizeof meta);
        CHECK(rm_swim_members_set_strings(t, (uint32_t)(round % 10), "tcp://moved:1", meta,
                                          100 + (size_t)round) == 0);
        uint32_t i = (uint32_t)((round + 5) % 10);
        CHECK(rm_swim_members_set_strings(t, i, rm_swim_members_addr(t, i),
                                          rm_swim_members_meta(t, i),
                                          rm_swim_members_at(t, i)->meta_len) == 0);
    }
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%d", i);
        CHECK(rm_swim_members_find(t, name) == i);
        CHECK(strcmp(rm_swim_members_addr(t, (uint32_t)i), "tcp://moved:1") == 0);
    }
    CHECK(rm_swim_members_at(t, 9)->meta_len == 299 && rm_swim_members_meta(t, 9)[298] == 199);
    char long_addr[RM_SWIM_MAX_ADDR + 2];
    memset(long_addr, 'a', sizeof long_addr - 1);
    long_addr[sizeof long_addr - 1] = '\0';
    CHECK(rm_swim_members_set_strings(t, 0, long_addr, NULL, 0) == -1);
    rm_swim_members_destroy(&t);
}

/*  Stamps count deciseconds from the epoch (1000 here). */
static void test_stamps(void)
{
    rm_swim_members_t *t = table(2, 0);
    CHECK(rm_swim_members_since(t, 1, 1000) == 0);
    CHECK(rm_swim_members_since(t, 1, 6050) == 5050);
    rm_swim_members_stamp(t, 1, 4321);
    CHECK(rm_swim_members_since(t, 1, 4321) == 21); /* stamped at 4300 */
    CHECK(rm_swim_members_since(t, 0, 4321) == 3321);
    rm_swim_members_destroy(&t);
}

static void test_wire_and_view(void)
{
    rm_swim_members_t *t = table(3, 2);
    rm_swim_members_at(t, 2)->flags = RM_SWIM_WIRE_NO_INBOUND;
    rm_swim_wire_update_t u;
    rm_swim_members_wire(t, 2, RM_SWIM_SUSPECT, "node0", &u);
    CHECK(strcmp(u.name, "node2") == 0 && strcmp(u.addr, "tcp://10.0.0.2:7700") == 0);
    CHECK(u.incarnation == 2 && u.state == RM_SWIM_SUSPECT && strcmp(u.from, "node0") == 0);
    CHECK(u.flags == RM_SWIM_WIRE_NO_INBOUND && u.meta.len == 2);
    rm_swim_member_t v;
    rm_swim_members_view(t, 2, &v);
    CHECK(strcmp(v.name, "node2") == 0 && v.state == RM_SWIM_ALIVE && v.no_inbound);
    CHECK(v.meta_len == 2 && v.meta[1] == 'm');
    rm_swim_event_t ev;
    CHECK(rm_swim_members_event(t, 2, RM_SWIM_EV_UPDATED, &ev) == 0);
    rm_swim_members_remove(t, 2); /* the event keeps its own copy */
    CHECK(ev.kind == RM_SWIM_EV_UPDATED && strcmp(ev.name, "node2") == 0);
    CHECK(strcmp(ev.addr, "tcp://10.0.0.2:7700") == 0 && ev.meta_len == 2 && ev.meta[0] == 'm');
    CHECK(ev.no_inbound && ev.incarnation == 2);
    rm_swim_event_free(&ev);
    rm_swim_members_destroy(&t);
}

/*  Parts are contiguous, cover every member once and stay within the
    budget (each entry counted with its msgpack slack). */
static void test_plan_parts(void)
{
    rm_swim_members_t *t = table(12, 400);
    uint32_t starts[RM_SWIM_MAX_PP_PARTS + 1];
    uint32_t parts = rm_swim_members_plan_parts(t, 4096, starts);
    CHECK_MSG(parts == 2, "%u parts", parts);
    CHECK(starts[0] == 0 && starts[parts] == 12);
    size_t entry =
        strlen("node10") + 1 + strlen("tcp://10.0.0.10:7700") + 1 + 400 + RM_SWIM_WIRE_STATE_SLACK;
    for (uint32_t p = 0; p < parts; p++) {
        CHECK(starts[p + 1] > starts[p]);
        CHECK((starts[p + 1] - starts[p]) * entry <= 4096 - RM_SWIM_WIRE_PART_SLACK);
    }
    CHECK(rm_swim_members_plan_parts(t, RM_SWIM_MAX_MSG * 4, starts) == 1 && starts[1] == 12);
    rm_swim_members_destroy(&t);
}

/*  Reserving for a push-pull counts only alive members we do not know. */
static void test_reserve_counts_newcomers(void)
{
    rm_swim_members_t *t = table(3, 0);
    rm_swim_wire_update_t states[4] = {
        {"node1", "a", 1, RM_SWIM_ALIVE, "", 0, {NULL, 0}},
        {"new1", "a", 1, RM_SWIM_ALIVE, "", 0, {NULL, 0}},
        {"new2", "a", 1, RM_SWIM_DEAD, "", 0, {NULL, 0}},
        {"new3", "a", 1, RM_SWIM_ALIVE, "", 0, {NULL, 0}},
    };
    CHECK(rm_swim_members_reserve(t, states, 4) == 5);
    CHECK(rm_swim_members_add(t, 2000, "new1", "a", 1, RM_SWIM_ALIVE, 0, NULL, 0) == 3);
    CHECK(rm_swim_members_find(t, "node1") == 1 && rm_swim_members_find(t, "new1") == 3);
    rm_swim_members_destroy(&t);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_add_and_find);
    RM_RUN(test_counts_follow_states);
    RM_RUN(test_remove_moves_the_last);
    RM_RUN(test_set_strings);
    RM_RUN(test_stamps);
    RM_RUN(test_wire_and_view);
    RM_RUN(test_plan_parts);
    RM_RUN(test_reserve_counts_newcomers);
    RM_TEST_DONE();
}
