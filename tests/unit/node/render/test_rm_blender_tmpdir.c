/*  Tests of a slot's private TMPDIR: where it is made, the environment
    naming it, purging Blender's session dirs, removal, and the dirs of dead
    meshd processes removed at the next start.  TMPDIR points at a fresh
    folder for each case. */
#include "rm_blender_tmpdir.h"
#include "rm_test.h"

#include <czmq.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

/*  A fresh root, set as TMPDIR. */
static void fresh_root(void)
{
    snprintf(root, sizeof root, "/tmp/rm_tmpdir_test_XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    setenv("TMPDIR", root, 1);
}

static void remove_root(void)
{
    zdir_t *dir = zdir_new(root, NULL);
    if (dir)
        zdir_remove(dir, true);
    zdir_destroy(&dir);
}

static bool path_exists(const char *fmt, const char *a, const char *b)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, fmt, a, b);
    return lstat(path, &st) == 0;
}

static void make_path(const char *fmt, const char *a, const char *b, bool dir)
{
    char path[256];
    snprintf(path, sizeof path, fmt, a, b);
    if (dir) {
        CHECK_MSG(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
    } else {
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (f)
            fclose(f);
    }
}

static void test_made_below_tmpdir_and_named_in_env(void)
{
    fresh_root();
    rm_err_t err;
    rm_blender_tmpdir_t *tmp = rm_blender_tmpdir_new(3, &err);
    CHECK(tmp != NULL);
    const char *path = tmp ? rm_blender_tmpdir_path(tmp) : "";
    char want[128];
    snprintf(want, sizeof want, "%s/rendermesh-slot3-%d-", root, (int)getpid());
    CHECK_MSG(strncmp(path, want, strlen(want)) == 0, "%s", path);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    int tmpdirs = 0;
    char **env = tmp ? rm_blender_tmpdir_env(tmp) : NULL;
    for (size_t i = 0; env && env[i]; i++) {
        if (strncmp(env[i], "TMPDIR=", 7) == 0) {
            tmpdirs++;
            CHECK(streq(env[i] + 7, path));
        }
    }
    CHECK(tmpdirs == 1);
    CHECK(env && getenv("PATH") && strstr(env[0], "=")); /* the rest of ours is there */
    rm_blender_tmpdir_destroy(&tmp);
    CHECK(tmp == NULL);
    remove_root();
}

static void test_purge_removes_what_blender_left(void)
{
    fresh_root();
    rm_err_t err;
    rm_blender_tmpdir_t *tmp = rm_blender_tmpdir_new(0, &err);
    const char *path = tmp ? rm_blender_tmpdir_path(tmp) : root;
    make_path("%s/%s", path, "blender_a1b2c3", true);
    make_path("%s/%s", path, "blender_a1b2c3/deep", true);
    make_path("%s/%s", path, "blender_a1b2c3/deep/file", false);
    make_path("%s/%s", path, "blender_quit.blend", false);
    make_path("%s/%s", path, "other", false);
    if (tmp)
        rm_blender_tmpdir_purge(tmp);
    CHECK(!path_exists("%s/%s", path, "blender_a1b2c3"));
    CHECK(!path_exists("%s/%s", path, "blender_quit.blend"));
    CHECK(path_exists("%s/%s", path, "other"));
    char kept[256];
    snprintf(kept, sizeof kept, "%s", path);
    rm_blender_tmpdir_destroy(&tmp);
    CHECK_MSG(!path_exists("%s%s", kept, ""), "%s outlived its slot", kept);
    remove_root();
}

/*  Dirs of processes that are gone go; ours and strangers' stay. */
static void test_dead_slots_dirs_are_removed(void)
{
    fresh_root();
    char live[64];
    snprintf(live, sizeof live, "rendermesh-slot0-%d-abc", (int)getpid());
    make_path("%s/%s", root, "rendermesh-slot1-2147483647-xyz", true); /* beyond any pid */
    make_path("%s/%s", root, "rendermesh-slot1-2147483647-xyz/blender_1", true);
    make_path("%s/%s", root, live, true);
    make_path("%s/%s", root, "rendermesh-slot1-0-xyz", true);
    make_path("%s/%s", root, "rendermesh-slotx", true);
    make_path("%s/%s", root, "unrelated-2147483647-xyz", true);
    rm_err_t err;
    rm_blender_tmpdir_t *tmp = rm_blender_tmpdir_new(1, &err);
    CHECK(tmp != NULL);
    CHECK(!path_exists("%s/%s", root, "rendermesh-slot1-2147483647-xyz"));
    CHECK(path_exists("%s/%s", root, live));
    CHECK(path_exists("%s/%s", root, "rendermesh-slot1-0-xyz"));
    CHECK(path_exists("%s/%s", root, "rendermesh-slotx"));
    CHECK(path_exists("%s/%s", root, "unrelated-2147483647-xyz"));
    rm_blender_tmpdir_destroy(&tmp);
    remove_root();
}

static void test_unusable_tmpdir_says_why(void)
{
    setenv("TMPDIR", "/nonexistent/rm_tmpdir_test", 1);
    rm_err_t err;
    CHECK(rm_blender_tmpdir_new(0, &err) == NULL);
    CHECK_MSG(streq(err.msg, strerror(ENOENT)), "%s", err.msg);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_made_below_tmpdir_and_named_in_env);
    RM_RUN(test_purge_removes_what_blender_left);
    RM_RUN(test_dead_slots_dirs_are_removed);
    RM_RUN(test_unusable_tmpdir_says_why);
    RM_TEST_DONE();
}
