/*  rm_swim_names: the index agrees with a plain array under adds, moves
    and removals (backward-shift deletion keeps every run findable). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rm_swim_names.h"
#include "rm_test.h"

#define MAXM 5000

/*  The owner: a table of names, filled and emptied like the engine's
    member table (the last member moves into a removed one's place). */
typedef struct {
    char name[MAXM][16];
    uint32_t n;
} owner_t;

static const char *key(const void *o, uint32_t idx)
{
    return ((const owner_t *)o)->name[idx];
}

static void add(rm_swim_names_t *x, owner_t *w, const char *name)
{
    CHECK(rm_swim_names_reserve(x, w->n + 1) == 0);
    snprintf(w->name[w->n], sizeof w->name[0], "%s", name);
    rm_swim_names_set(x, w->name[w->n], w->n);
    w->n++;
}

static void remove_at(rm_swim_names_t *x, owner_t *w, uint32_t idx)
{
    uint32_t last = w->n - 1;
    rm_swim_names_remove(x, w->name[idx]);
    if (idx != last) {
        memcpy(w->name[idx], w->name[last], sizeof w->name[0]);
        rm_swim_names_set(x, w->name[idx], idx);
    }
    w->n--;
}

static bool agrees(const rm_swim_names_t *x, const owner_t *w)
{
    for (uint32_t i = 0; i < w->n; i++)
        if (rm_swim_names_find(x, w->name[i]) != (int64_t)i)
            return false;
    return true;
}

static void test_finds_what_was_added(void)
{
    static owner_t w;
    w.n = 0;
    rm_swim_names_t *x = rm_swim_names_new(key, &w);
    char name[16];
    CHECK(x && rm_swim_names_find(x, "nobody") == -1);
    rm_swim_names_remove(x, "nobody"); /* empty, never reserved */
    for (int i = 0; i < MAXM; i++) {
        snprintf(name, sizeof name, "node%d", i);
        add(x, &w, name);
    }
    CHECK(agrees(x, &w));
    CHECK(rm_swim_names_find(x, "node5000") == -1);
    CHECK(rm_swim_names_find(x, "") == -1);
    rm_swim_names_destroy(&x);
    CHECK(x == NULL);
    rm_swim_names_destroy(&x);
}

/*  Random removals and additions, checked against the owner after each. */
static void test_removal_keeps_the_rest(void)
{
    static owner_t w;
    w.n = 0;
    rm_swim_names_t *x = rm_swim_names_new(key, &w);
    uint64_t r = 1;
    char name[16];
    int next = 0, bad = 0;
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "m%d", next++);
        add(x, &w, name);
    }
    for (int step = 0; step < 3000; step++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        if ((r >> 40) % 2 && w.n > 0) {
            uint32_t idx = (uint32_t)((r >> 20) % w.n);
            char gone[16];
            memcpy(gone, w.name[idx], sizeof gone);
            remove_at(x, &w, idx);
            bad += rm_swim_names_find(x, gone) != -1;
        } else if (w.n < MAXM) {
            snprintf(name, sizeof name, "m%d", next++);
            add(x, &w, name);
        }
        bad += !agrees(x, &w);
    }
    CHECK_MSG(bad == 0, "%d steps where the index and the table disagreed", bad);
    rm_swim_names_remove(x, "never-added");
    CHECK(agrees(x, &w));
    rm_swim_names_destroy(&x);
}

/*  Setting a known name again repoints it, without a second entry: the
    engine's removal moves its last member into the hole. */
static void test_set_repoints(void)
{
    static owner_t w;
    w.n = 0;
    rm_swim_names_t *x = rm_swim_names_new(key, &w);
    add(x, &w, "a");
    add(x, &w, "b");
    add(x, &w, "c");
    remove_at(x, &w, 0);
    CHECK(w.n == 2 && rm_swim_names_find(x, "c") == 0 && rm_swim_names_find(x, "b") == 1);
    CHECK(rm_swim_names_find(x, "a") == -1);
    rm_swim_names_set(x, "b", 1);
    remove_at(x, &w, 1);
    CHECK(rm_swim_names_find(x, "b") == -1 && rm_swim_names_find(x, "c") == 0);
    rm_swim_names_destroy(&x);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_finds_what_was_added);
    RM_RUN(test_removal_keeps_the_rest);
    RM_RUN(test_set_repoints);
    RM_TEST_DONE();
}
