/*  Tests for rm_s3_import's cache pruning (the import itself runs against
    moto in tests/e2e/test_s3.sh and test_s3_refill.sh): entries whose
    manifest the store lost go, the others and files that are not entries
    stay. */
#include "rm_fs.h"
#include "rm_s3_import.h"
#include "rm_store.h"
#include "rm_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/rm_s3_import_test.XXXXXX";

/*  CACHE/<hex of name's hash> holding `len` bytes of `hash`. */
static void entry(const char *cache, const char *name, const rm_hash_t *hash, size_t len,
                  char *path, size_t size)
{
    rm_hash_t id;
    char hex[65];
    rm_err_t err;
    rm_hash(name, strlen(name), &id);
    rm_hash_hex(&id, hex);
    snprintf(path, size, "%s/%s", cache, hex);
    CHECK_MSG(rm_fs_write_atomic(path, hash->b, len, 0600, &err) == 0, "%s", err.msg);
}

static void test_entries_of_lost_manifests_are_pruned(void)
{
    char root[128], cache[128], kept[256], lost[256], short_[256], temp[256];
    rm_err_t err;
    snprintf(root, sizeof root, "%s/chunks", dir);
    snprintf(cache, sizeof cache, "%s/imports-cache", dir);
    rm_store_t *store = rm_store_new(root, &err);
    CHECK_MSG(store, "%s", err.msg);
    if (!store)
        return;
    CHECK(rm_fs_mkdir_p(cache, 0700, 0700, &err) == 0);
    rm_hash_t held, gone;
    CHECK(rm_store_put_data(store, "a manifest", 10, &held, &err) == 0);
    rm_hash("deleted by the collector", 24, &gone);
    entry(cache, "bucket/kept.png", &held, sizeof held.b, kept, sizeof kept);
    entry(cache, "bucket/lost.png", &gone, sizeof gone.b, lost, sizeof lost);
    entry(cache, "bucket/short.png", &held, 5, short_, sizeof short_);
    snprintf(temp, sizeof temp, "%s/entry.tmp-0123", cache); /* one being written */
    FILE *f = fopen(temp, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK(rm_s3_import_prune(cache, store) == 2);
    CHECK(access(kept, F_OK) == 0 && access(temp, F_OK) == 0);
    CHECK(access(lost, F_OK) != 0 && access(short_, F_OK) != 0);
    CHECK(rm_s3_import_prune(cache, store) == 0);
    char none[160];
    snprintf(none, sizeof none, "%s/no-such-cache", dir);
    CHECK(rm_s3_import_prune(none, store) == 0); /* never imported anything */
    rm_store_destroy(&store);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RM_RUN(test_entries_of_lost_manifests_are_pruned);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
