/*  rm_gc: what no root reaches leaves the store once its grace is over. */
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
    CHECK(rm_gc_collect(store, roots, 3, time(NULL) - 60, NULL, NULL, &st, &err) == 0);
    CHECK(st.deleted == 0 && st.kept == chunks && st.roots_missing == 1);
    /* Past it, only the stray upload goes. */
    age_chunk(store, &stray, 120);
    CHECK(rm_gc_collect(store, roots, 3, time(NULL) - 60, NULL, NULL, &st, &err) == 0);
    CHECK(st.deleted == 1 && st.bytes_freed == 26 && !rm_store_has(store, &stray));
    CHECK(rm_store_has(store, &project) && rm_store_has(store, &output) &&
          rm_store_has(store, &m.files.items[0].chunks.items[1]));
    /* A chunk a new job reuses (touched) starts its grace again. */
    rm_hash_t one = m.files.items[0].chunks.items[0];
    age_chunk(store, &one, 120);
    age_chunk(store, &project, 120);
    rm_store_touch(store, &one);
    CHECK(rm_gc_collect(store, roots + 1, 1, time(NULL) - 60, NULL, NULL, &st, &err) == 0);
    CHECK(rm_store_has(store, &one) && !rm_store_has(store, &project));
    /* Asked to stop: it stops without error. */
    CHECK(rm_gc_collect(store, NULL, 0, time(NULL) + 60, stop_now, NULL, &st, &err) == 0);
    rm_manifest_free(&m);
    rm_store_destroy(&store);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(dir) != NULL);
    RM_RUN(test_collects_what_no_root_reaches);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
