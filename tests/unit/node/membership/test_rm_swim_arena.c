/*  rm_swim_arena: records read back, garbage compacted away with the
    owner's offsets rewritten, exact reservation. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rm_swim_arena.h"
#include "rm_test.h"

#define NREC 40

/*  An owner like the engine's member table: offsets and lengths. */
typedef struct {
    uint32_t off[NREC];
    uint16_t addr_off[NREC];
    size_t size[NREC];
    uint32_t n;
    unsigned compactions, asked;
} owner_t;

static uint32_t *record(void *o, uint32_t i, size_t *size)
{
    owner_t *w = o;
    if (i == 0)
        w->compactions++;
    if (i >= w->n)
        return NULL;
    w->asked++;
    *size = w->size[i];
    return &w->off[i];
}

static void put(rm_swim_arena_t *a, owner_t *w, uint32_t i, int version, size_t meta_len)
{
    char name[32], addr[32];
    uint8_t meta[512];
    snprintf(name, sizeof name, "member-%u", i);
    snprintf(addr, sizeof addr, "tcp://10.0.0.%u:%d", i, version);
    memset(meta, version, meta_len);
    CHECK(rm_swim_arena_put(a, name, addr, meta, meta_len, &w->off[i], &w->addr_off[i]) == 0);
    w->size[i] = strlen(name) + 1 + strlen(addr) + 1 + meta_len;
}

static bool holds(rm_swim_arena_t *a, owner_t *w, uint32_t i, int version, size_t meta_len)
{
    char name[32], addr[32];
    snprintf(name, sizeof name, "member-%u", i);
    snprintf(addr, sizeof addr, "tcp://10.0.0.%u:%d", i, version);
    const char *n = rm_swim_arena_at(a, w->off[i]);
    const char *ad = rm_swim_arena_at(a, w->off[i] + w->addr_off[i]);
    const uint8_t *m = (const uint8_t *)ad + strlen(ad) + 1;
    if (strcmp(n, name) != 0 || strcmp(ad, addr) != 0)
        return false;
    for (size_t k = 0; k < meta_len; k++)
        if (m[k] != (uint8_t)version)
            return false;
    return true;
}

static void test_records_read_back(void)
{
    owner_t w = {0};
    rm_swim_arena_t *a = rm_swim_arena_new(record, &w);
    CHECK(a);
    for (uint32_t i = 0; i < NREC; i++, w.n++)
        put(a, &w, i, 1, i * 10);
    for (uint32_t i = 0; i < NREC; i++)
        CHECK_MSG(holds(a, &w, i, 1, i * 10), "record %u", i);
    CHECK(w.off[0] == 0 && w.addr_off[0] == strlen("member-0") + 1);
    CHECK(w.compactions == 0);
    rm_swim_arena_destroy(&a);
    CHECK(a == NULL);
    rm_swim_arena_destroy(&a);
}

/*  Replaced records pile up as garbage until a put compacts them: every
    live record is asked for, moved and still reads the same. */
static void test_garbage_is_compacted(void)
{
    owner_t w = {0};
    rm_swim_arena_t *a = rm_swim_arena_new(record, &w);
    int version[NREC];
    for (uint32_t i = 0; i < NREC; i++, w.n++) {
        put(a, &w, i, 1, 100);
        version[i] = 1;
    }
    for (int round = 0; round < 30; round++)
        for (uint32_t i = 0; i < NREC; i += 3) {
            size_t old = w.size[i];
            put(a, &w, i, ++version[i], 100);
            rm_swim_arena_release(a, old);
        }
    CHECK(w.compactions > 0);
    CHECK(w.asked == w.compactions * NREC);
    for (uint32_t i = 0; i < NREC; i++)
        CHECK_MSG(holds(a, &w, i, version[i], 100), "record %u after compaction", i);
    rm_swim_arena_destroy(&a);
}

/*  Under 4 KiB of garbage is never worth a compaction. */
static void test_small_garbage_stays(void)
{
    owner_t w = {0};
    rm_swim_arena_t *a = rm_swim_arena_new(record, &w);
    w.n = 1;
    put(a, &w, 0, 1, 0);
    for (int v = 2; v < 100; v++) {
        size_t old = w.size[0];
        put(a, &w, 0, v, 0);
        rm_swim_arena_release(a, old);
    }
    CHECK(w.compactions == 0);
    CHECK(holds(a, &w, 0, 99, 0));
    rm_swim_arena_destroy(&a);
}

/*  After a reservation, puts of that many bytes do not move the buffer. */
static void test_reserve_is_exact_room(void)
{
    owner_t w = {0};
    rm_swim_arena_t *a = rm_swim_arena_new(record, &w);
    w.n = 1;
    put(a, &w, 0, 1, 0);
    size_t need = 0;
    for (uint32_t i = 1; i < NREC; i++)
        need += strlen("member-00") + 1 + strlen("tcp://10.0.0.00:1") + 1 + 200;
    rm_swim_arena_reserve(a, need);
    const char *base = rm_swim_arena_at(a, 0);
    for (uint32_t i = 1; i < NREC; i++, w.n++)
        put(a, &w, i, 1, 200);
    CHECK(rm_swim_arena_at(a, 0) == base);
    for (uint32_t i = 0; i < NREC; i++)
        CHECK(holds(a, &w, i, 1, i ? 200 : 0));
    rm_swim_arena_destroy(&a);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_records_read_back);
    RM_RUN(test_garbage_is_compacted);
    RM_RUN(test_small_garbage_stays);
    RM_RUN(test_reserve_is_exact_room);
    RM_TEST_DONE();
}
