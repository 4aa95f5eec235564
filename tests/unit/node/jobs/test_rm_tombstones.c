/*  rm_tombstones: removals kept across restarts, forgotten with time. */
#define _XOPEN_SOURCE 700
#include "job_fixtures.h"

#include <unistd.h>

#include "rm_test.h"
#include "rm_tombstones.h"

static char root[] = "/tmp/rm-test-tombstones.XXXXXX";

static void test_keep_and_reload(void)
{
    char path[700];
    rm_err_t err;
    uint8_t sig[] = {1, 2, 3};
    rm_bin_t removal = {sig, sizeof sig};
    snprintf(path, sizeof path, "%s/t1", root);
    rm_tombstones_t *t = rm_tombstones_new(path);
    CHECK(t && rm_tombstones_count(t) == 0);
    CHECK(rm_tombstones_add(t, "aa", 1000, &removal, &err) == 1);
    CHECK(rm_tombstones_add(t, "aa", 2000, &removal, &err) == 0);
    CHECK(rm_tombstones_add(t, "bb", 5000, &removal, &err) == 1);
    rm_tombstones_destroy(&t);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 077) == 0);
    t = rm_tombstones_new(path);
    const rm_tombstone_t *a = rm_tombstones_find(t, "aa");
    CHECK(rm_tombstones_count(t) == 2 && a && a->removed_at == 1000 && a->removal.len == 3 &&
          a->removal.data[2] == 3);
    CHECK(rm_tombstones_find(t, "cc") == NULL && rm_tombstones_find(t, NULL) == NULL);
    /* Removals older than the retention are forgotten, on disk too. */
    CHECK(rm_tombstones_expire(t, 2000) == 1 && rm_tombstones_find(t, "aa") == NULL);
    rm_tombstones_destroy(&t);
    t = rm_tombstones_new(path);
    CHECK(rm_tombstones_count(t) == 1 && rm_tombstones_find(t, "bb"));
    rm_tombstones_destroy(&t);
    CHECK(t == NULL);
}

/*  A damaged file is an empty set, not a node that cannot start. */
static void test_damaged_file(void)
{
    char path[700];
    snprintf(path, sizeof path, "%s/t2", root);
    fx_write_file(path, (const uint8_t *)"\x91\xc1junk", 6);
    chmod(path, 0600);
    rm_tombstones_t *t = rm_tombstones_new(path);
    CHECK(t && rm_tombstones_count(t) == 0);
    rm_tombstones_destroy(&t);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    RM_RUN(test_keep_and_reload);
    RM_RUN(test_damaged_file);
    fx_remove_tree(root);
    RM_TEST_DONE();
}
