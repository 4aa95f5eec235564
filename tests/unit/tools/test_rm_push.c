/*  Tests for rm_push against a fake node backed by a real store: a project
    streamed while it is chunked arrives whole (the SUBMIT then needs
    nothing), within the memory bound; a changed project sends only what
    changed; a node that predates CHUNKS_HELD gets the chunks through NEED
    as before; a refused chunk fails the push with the node's words. */
#include "rm_client.h"
#include "rm_manifest.h"
#include "rm_project.h"
#include "rm_push.h"
#include "rm_store.h"
#include "rm_submit.h"
#include "rm_test.h"

#include "tools/fake_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char tmp[] = "/tmp/rm_push_test.XXXXXX";
static fake_t fk;
static rm_store_t *store; /* the fake node's */
static rm_client_t *client;

static void write_random(const char *path, size_t len, uint64_t seed)
{
    uint8_t *buf = malloc(len);
    for (size_t i = 0; buf && i < len; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        buf[i] = (uint8_t)(seed >> 56);
    }
    FILE *f = fopen(path, "wb");
    CHECK(f && buf && fwrite(buf, 1, len, f) == len);
    if (f)
        fclose(f);
    free(buf);
}

/*  A project in TMP/name: scene.blend of `mib` MiB (seed), and more.bin
    of 1000 bytes (seed2). */
static void make_project(const char *name, size_t mib, uint64_t seed, uint64_t seed2, char *blend,
                         size_t size)
{
    char root[200], more[300];
    snprintf(root, sizeof root, "%s/%s", tmp, name);
    mkdir(root, 0700);
    snprintf(blend, size, "%s/scene.blend", root);
    snprintf(more, sizeof more, "%s/more.bin", root);
    write_random(blend, mib << 20, seed);
    write_random(more, 1000, seed2);
}

static rm_project_t *push_project(const char *blend, rm_push_t *push, rm_err_t *err)
{
    char root[300], more[320];
    snprintf(root, sizeof root, "%s", blend);
    *strrchr(root, '/') = '\0';
    snprintf(more, sizeof more, "%s/more.bin", root);
    const char *paths[] = {blend, more};
    rm_project_t *p = rm_project_new(root, blend, paths, 2, push ? rm_push_sink : NULL, push, err);
    if (p && push && rm_push_finish(push, err) != 0)
        rm_project_destroy(&p);
    return p;
}

static bool all_stored(rm_project_t *p)
{
    rm_manifest_t m;
    rm_hash_t *missing = NULL;
    uint32_t nmissing = 0;
    rm_err_t err;
    if (rm_manifest_load(store, rm_project_manifest_hash(p), &m, &err) != 0)
        return false;
    int rc = rm_manifest_missing(&m, store, &missing, &nmissing, 1000, &err);
    rm_manifest_free(&m);
    free(missing);
    return rc == 0 && nmissing == 0;
}

static int submit(rm_project_t *p, rm_submit_stats_t *st, rm_err_t *err)
{
    rm_job_spec_t spec = {.job_id = "00000000000000bb",
                          .name = "t",
                          .blend = "scene.blend",
                          .manifest = *rm_project_manifest_hash(p),
                          .format = "PNG",
                          .chunk = 1};
    return rm_submit_run(client, p, &spec, st, err);
}

static void test_a_streamed_project_arrives_whole_within_the_bound(void)
{
    char blend[300];
    make_project("a", 24, 1, 2, blend, sizeof blend); /* ~370 chunks: two batches and more */
    rm_err_t err = {0};
    size_t bound = 2u << 20;
    rm_push_t *push = rm_push_new(client, bound, &err);
    fk.puts = fk.helds = 0;
    rm_project_t *p = push ? push_project(blend, push, &err) : NULL;
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (!p) {
        rm_push_destroy(&push);
        return;
    }
    uint32_t total = rm_project_chunks_total(p); /* the manifest included */
    CHECK(total > RM_PUSH_BATCH && fk.helds >= 2);
    CHECK(rm_push_streaming(push) && rm_push_chunks_held(push) == 0);
    CHECK_MSG(rm_push_chunks_sent(push) == total && fk.puts == (int)total, "%llu of %u sent",
              (unsigned long long)rm_push_chunks_sent(push), total);
    CHECK(rm_push_bytes_sent(push) == rm_project_bytes_total(p));
    /* At most the bound and the chunk that crossed it (FastCDC: <= 1 MiB). */
    CHECK_MSG(rm_push_peak_buffered(push) <= bound + RM_MAX_CHUNK_SIZE, "%zu kept at once",
              rm_push_peak_buffered(push));
    CHECK(all_stored(p));
    rm_submit_stats_t st;
    CHECK_MSG(submit(p, &st, &err) == 0, "%s", err.msg);
    CHECK(st.chunks_sent == 0 && st.frames_total == 24); /* nothing left to NEED */
    rm_project_destroy(&p);
    rm_push_destroy(&push);
}

static void test_a_changed_project_sends_what_changed(void)
{
    char blend[300];
    make_project("b", 4, 3, 4, blend, sizeof blend);
    rm_err_t err = {0};
    rm_push_t *push = rm_push_new(client, RM_PUSH_MAX_BUFFERED, &err);
    rm_project_t *p = push ? push_project(blend, push, &err) : NULL;
    CHECK_MSG(p != NULL, "%s", err.msg);
    uint32_t total = p ? rm_project_chunks_total(p) : 0;
    rm_project_destroy(&p);
    rm_push_destroy(&push);
    /* more.bin changes: its chunk and the manifest go; the .blend's do not. */
    char more[300];
    snprintf(more, sizeof more, "%s/b/more.bin", tmp);
    write_random(more, 1000, 5);
    push = rm_push_new(client, RM_PUSH_MAX_BUFFERED, &err);
    fk.puts = 0;
    p = push ? push_project(blend, push, &err) : NULL;
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (p) {
        CHECK_MSG(rm_push_chunks_sent(push) == 2 && fk.puts == 2, "%llu sent",
                  (unsigned long long)rm_push_chunks_sent(push));
        CHECK(rm_push_chunks_held(push) == total - 2 && all_stored(p));
    }
    rm_project_destroy(&p);
    rm_push_destroy(&push);
}

static void test_an_older_node_gets_the_chunks_through_need(void)
{
    char blend[300];
    make_project("c", 2, 6, 7, blend, sizeof blend);
    rm_err_t err = {0};
    fk.old = true;
    fk.puts = 0;
    rm_push_t *push = rm_push_new(client, RM_PUSH_MAX_BUFFERED, &err);
    rm_project_t *p = push ? push_project(blend, push, &err) : NULL;
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (p) {
        CHECK(!rm_push_streaming(push) && rm_push_chunks_sent(push) == 0 && fk.puts == 0);
        rm_submit_stats_t st;
        CHECK_MSG(submit(p, &st, &err) == 0, "%s", err.msg);
        CHECK(st.chunks_sent == rm_project_chunks_total(p) && all_stored(p));
    }
    fk.old = false;
    rm_project_destroy(&p);
    rm_push_destroy(&push);
}

static void test_a_refused_chunk_fails_the_push(void)
{
    char blend[300];
    make_project("d", 2, 8, 9, blend, sizeof blend);
    rm_err_t err = {0};
    fk.puts_refused = 1;
    rm_push_t *push = rm_push_new(client, RM_PUSH_MAX_BUFFERED, &err);
    rm_project_t *p = push ? push_project(blend, push, &err) : NULL;
    CHECK(p == NULL && err.code == RM_ENOSPC);
    CHECK_MSG(strstr(err.msg, "refused a chunk: disk full") != NULL, "%s", err.msg);
    rm_project_destroy(&p);
    rm_push_destroy(&push);
    fk.puts_refused = 0;
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    keys_t k;
    make_keys(&k);
    char dir[200], addr[64];
    rm_err_t err;
    snprintf(dir, sizeof dir, "%s/node-store", tmp);
    store = rm_store_new(dir, &err);
    zactor_t *actor = store ? fake_start(&fk, &k, FAKE_NODE, store) : NULL;
    fake_addr(&fk, addr, sizeof addr);
    client = actor ? rm_client_new(addr, &k.client, 5000, &err) : NULL;
    CHECK_MSG(client != NULL, "%s", err.msg);
    if (client) {
        RM_RUN(test_a_streamed_project_arrives_whole_within_the_bound);
        RM_RUN(test_a_changed_project_sends_what_changed);
        RM_RUN(test_an_older_node_gets_the_chunks_through_need);
        RM_RUN(test_a_refused_chunk_fails_the_push);
    }
    rm_client_destroy(&client);
    zactor_destroy(&actor);
    rm_store_destroy(&store);
    free_keys(&k);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
