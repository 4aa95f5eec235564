/*  rm_gc: what no root reaches leaves the store once its grace is over;
    under a size cap, the least recently used evictable roots go first and
    the roots that must stay are never touched. */
#include "rm_gc.h"
#include "rm_manifest.h"
#include "rm_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/rm-test-gc.XXXXXX";

static void write_file(const char *path, const char *text, size_t copies)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    for (size_t i = 0; f && i < copies; i++)
        fputs(text, f);
    if (f)
        fclose(f);
}

/*  Sets a chunk's modification time `age` seconds back. */
static void age_chunk(rm_store_t *store, const rm_hash_t *h, int age)
{
    char hex[65], path[1200];
    rm_hash_hex(h, hex);
    snprintf(path, sizeof path, "%s/%.2s/%s", rm_store_root(store), hex, hex);
    struct timespec t[2] = {{time(NULL) - age, 0}, {time(NULL) - age, 0}};
    CHECK(utimensat(AT_FDCWD, path, t, 0) == 0);
}

/*  A plan of `n` roots, older_than `grace` seconds back, no cap. */
static rm_gc_plan_t plan_of(const rm_hash_t *roots, size_t n, int grace)
{
    return (rm_gc_plan_t){.roots = roots, .nroots = n, .older_than = time(NULL) - grace};
}

static bool stop_now(void *arg)
{
    (void)arg;
    return true;
}

static void test_collects_what_no_root_reaches(void)
{
    char path[700], src[700];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/store", dir);
    rm_store_t *store = rm_store_new(path, &err);
    snprintf(src, sizeof src, "%s/scene.blend", dir);
    write_file(src, "a scene of some size ", 20000); /* several chunks */
    const char *paths[] = {src};
    rm_manifest_t m = {0};
    rm_hash_t project, output, stray, lost;
    uint64_t size;
    CHECK_MSG(rm_manifest_build(dir, paths, 1, store, NULL, NULL, &m, &err) == 0, "%s", err.msg);
    CHECK(m.files.count == 1 && m.files.items[0].chunks.count > 1);
    CHECK(rm_manifest_store(&m, store, NULL, NULL, &project, &err) == 0);
    snprintf(src, sizeof src, "%s/frame.png", dir);
    write_file(src, "a frame", 1);
    CHECK(rm_manifest_store_file(store, src, "frame.png", &output, &size, &err) == 0);
    CHECK(rm_store_put_data(store, "an upload nobody submitted", 26, &stray, &err) == 0);
    memset(lost.b, 0x5a, 32); /* a root the store does not hold */
    uint64_t bytes, chunks;
    CHECK(rm_store_usage(store, &bytes, &chunks, &err) == 0);
    rm_hash_t roots[] = {project, output, lost};
    rm_gc_stats_t st;
    /* Everything is younger than the grace: nothing goes. */
    rm_gc_plan_t plan = plan_of(roots, 3, 60);
    CHECK(rm_gc_collect(store, &plan, &st, &err) == 0);
    CHECK(st.deleted == 0 && st.kept == chunks && st.roots_missing == 1);
    CHECK(st.bytes_kept == bytes && st.evicted == 0);
    /* Past it, only the stray upload goes. */
    age_chunk(store, &stray, 120);
    CHECK(rm_gc_collect(store, &plan, &st, &err) == 0);
    CHECK(st.deleted == 1 && st.bytes_freed == 26 && !rm_store_has(store, &stray));
    CHECK(rm_store_has(store, &project) && rm_store_has(store, &output) &&
          rm_store_has(store, &m.files.items[0].chunks.items[1]));
    /* A chunk a new job reuses (touched) starts its grace again. */
    rm_hash_t one = m.files.items[0].chunks.items[0];
    age_chunk(store, &one, 120);
    age_chunk(store, &project, 120);
    rm_store_touch(store, &one);
    plan = plan_of(roots + 1, 1, 60);
    CHECK(rm_gc_collect(store, &plan, &st, &err) == 0);
    CHECK(rm_store_has(store, &one) && !rm_store_has(store, &project));
    /* Asked to stop: it stops without error. */
    plan = plan_of(NULL, 0, -60);
    plan.stop = stop_now;
    CHECK(rm_gc_collect(store, &plan, &st, &err) == 0);
    rm_manifest_free(&m);
    rm_store_destroy(&store);
}

/*  A project of `copies` x 21 bytes of `text` stored as DIR/NAME; its
    manifest's hash in *root. */
static void make_project(rm_store_t *store, const char *name, const char *text, size_t copies,
                         rm_hash_t *root)
{
    char sub[700], src[800];
    rm_err_t err;
    snprintf(sub, sizeof sub, "%s/%s", dir, name);
    CHECK(mkdir(sub, 0700) == 0);
    snprintf(src, sizeof src, "%s/scene.blend", sub);
    write_file(src, text, copies);
    const char *paths[] = {src};
    rm_manifest_t m = {0};
    CHECK_MSG(rm_manifest_build(sub, paths, 1, store, NULL, NULL, &m, &err) == 0, "%s", err.msg);
    CHECK(rm_manifest_store(&m, store, NULL, NULL, root, &err) == 0);
    rm_manifest_free(&m);
}

/*  Sets the modification time of a root and its chunks `age` seconds back. */
static void age_tree(rm_store_t *store, const rm_hash_t *root, int age)
{
    rm_manifest_t m = {0};
    rm_err_t err;
    age_chunk(store, root, age);
    CHECK(rm_manifest_load(store, root, &m, &err) == 0);
    for (uint32_t f = 0; f < m.files.count; f++)
        for (uint32_t c = 0; c < m.files.items[f].chunks.count; c++)
            age_chunk(store, &m.files.items[f].chunks.items[c], age);
    rm_manifest_free(&m);
}

static uint64_t usage(rm_store_t *store)
{
    uint64_t bytes = 0, chunks = 0;
    rm_err_t err;
    CHECK(rm_store_usage(store, &bytes, &chunks, &err) == 0);
    return bytes;
}

/*  Three finished projects of ~400 KB and one that must stay, under a cap
    that holds the one that must stay and about two more: the oldest
    evictable one goes, at once (no grace), the others and the one that
    must stay are whole. */
static void test_a_cap_evicts_the_least_recently_used_first(void)
{
    char path[700];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/capped", dir);
    rm_store_t *store = rm_store_new(path, &err);
    rm_hash_t must, newest, middle, oldest;
    make_project(store, "must", "the running job's scene", 20000, &must);
    uint64_t one = usage(store);
    make_project(store, "newest", "finished a minute ago ", 20000, &newest);
    make_project(store, "middle", "finished an hour ago  ", 20000, &middle);
    make_project(store, "oldest", "finished yesterday    ", 20000, &oldest);
    uint64_t all = usage(store);
    rm_hash_t evictable[] = {newest, middle, oldest}; /* most recently used first */
    /* Every chunk written an hour ago, before this collection began. */
    age_tree(store, &must, 3600);
    for (size_t i = 0; i < 3; i++)
        age_tree(store, &evictable[i], 3600);
    rm_gc_plan_t plan = plan_of(&must, 1, 60);
    plan.started_at = time(NULL) - 1;
    plan.evictable = evictable;
    plan.nevictable = 3;
    plan.cap_bytes = one * 3 + one / 2;
    rm_gc_stats_t st;
    CHECK_MSG(rm_gc_collect(store, &plan, &st, &err) == 0, "%s", err.msg);
    CHECK_MSG(st.evicted == 1 && !rm_store_has(store, &oldest), "evicted %llu",
              (unsigned long long)st.evicted);
    CHECK(rm_store_has(store, &must) && rm_store_has(store, &newest) &&
          rm_store_has(store, &middle));
    uint64_t now = usage(store);
    CHECK_MSG(now <= plan.cap_bytes && now < all && st.bytes_kept == now, "%llu of cap %llu",
              (unsigned long long)now, (unsigned long long)plan.cap_bytes);
    rm_store_destroy(&store);
}

/*  What must stay stays, even over the cap; an evictable root that shares
    its chunks with it keeps those. */
static void test_what_must_stay_stays_over_the_cap(void)
{
    char path[700];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/over", dir);
    rm_store_t *store = rm_store_new(path, &err);
    rm_hash_t must, same;
    make_project(store, "must2", "a scene two jobs share ", 20000, &must);
    make_project(store, "same", "a scene two jobs share ", 20000, &same); /* same chunks */
    rm_gc_plan_t plan = plan_of(&must, 1, 60);
    plan.evictable = &same;
    plan.nevictable = 1;
    plan.cap_bytes = 1000; /* far less than the project */
    rm_gc_stats_t st;
    CHECK(rm_gc_collect(store, &plan, &st, &err) == 0);
    CHECK(rm_store_has(store, &must) && st.bytes_kept > plan.cap_bytes);
    rm_manifest_t m = {0};
    CHECK(rm_manifest_load(store, &must, &m, &err) == 0);
    for (uint32_t c = 0; c < m.files.items[0].chunks.count; c++)
        CHECK(rm_store_has(store, &m.files.items[0].chunks.items[c]));
    rm_manifest_free(&m);
    /* Without a cap every evictable root is kept. */
    make_project(store, "other", "another finished scene ", 20000, &same);
    plan.evictable = &same;
    plan.cap_bytes = 0;
    CHECK(rm_gc_collect(store, &plan, &st, &err) == 0);
    CHECK(st.evicted == 0 && rm_store_has(store, &same));
    rm_store_destroy(&store);
}

/*  The store counts the bytes of the chunks it writes (not those it had). */
static void test_the_store_counts_what_it_adds(void)
{
    char path[700];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/counted", dir);
    rm_store_t *store = rm_store_new(path, &err);
    rm_hash_t h;
    CHECK(rm_store_bytes_added(store) == 0);
    CHECK(rm_store_put_data(store, "twelve bytes", 12, &h, &err) == 0);
    CHECK(rm_store_put_data(store, "twelve bytes", 12, &h, &err) == 0); /* there already */
    CHECK(rm_store_bytes_added(store) == 12 && rm_store_chunk_size(store, &h) == 12);
    /* Putting a chunk it has marks it used, as rm_store_touch does: an old
       unreferenced chunk put again outlives the grace. */
    age_chunk(store, &h, 3600);
    CHECK(rm_store_put_data(store, "twelve bytes", 12, &h, &err) == 0);
    rm_gc_plan_t plan = plan_of(NULL, 0, 60);
    rm_gc_stats_t st;
    CHECK(rm_gc_collect(store, &plan, &st, &err) == 0);
    CHECK(st.deleted == 0 && rm_store_has(store, &h));
    rm_hash_t absent;
    memset(absent.b, 7, 32);
    CHECK(rm_store_chunk_size(store, &absent) == -1);
    rm_store_destroy(&store);
}

/*  A new job on an evicted project while the collector walks: the chunks
    it touched (a SUBMIT finding them here) stay, the others go. */
static void test_what_a_new_job_touches_during_a_collection_stays(void)
{
    char path[700];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/touched", dir);
    rm_store_t *store = rm_store_new(path, &err);
    rm_hash_t old;
    make_project(store, "touched-project", "a project used again ", 20000, &old);
    age_tree(store, &old, 3600);
    rm_manifest_t m = {0};
    CHECK(rm_manifest_load(store, &old, &m, &err) == 0);
    rm_hash_t first = m.files.items[0].chunks.items[0], second = m.files.items[0].chunks.items[1];
    rm_gc_plan_t plan = plan_of(NULL, 0, 60);
    plan.started_at = time(NULL) - 1;
    plan.evictable = &old;
    plan.nevictable = 1;
    plan.cap_bytes = 1;            /* nothing fits */
    rm_store_touch(store, &first); /* after the roots were listed */
    rm_gc_stats_t st;
    CHECK(rm_gc_collect(store, &plan, &st, &err) == 0);
    CHECK(st.evicted == 1 && rm_store_has(store, &first) && !rm_store_has(store, &second));
    rm_manifest_free(&m);
    rm_store_destroy(&store);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(dir) != NULL);
    RM_RUN(test_collects_what_no_root_reaches);
    RM_RUN(test_a_cap_evicts_the_least_recently_used_first);
    RM_RUN(test_what_must_stay_stays_over_the_cap);
    RM_RUN(test_the_store_counts_what_it_adds);
    RM_RUN(test_what_a_new_job_touches_during_a_collection_stays);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
