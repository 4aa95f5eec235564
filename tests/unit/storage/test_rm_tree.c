/*  Tests for rm_tree's lexical paths: normalisation as Blender does it
    (".." removed without resolving symlinks), $PWD as the working folder,
    below-root and common ancestors.  Walking trees is tested through
    rm_manifest_build (test_rm_manifest.c). */
#include "rm_test.h"
#include "rm_tree.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void check_abs(const char *in, const char *want)
{
    char *got = rm_path_absolute(in);
    CHECK_MSG(got && strcmp(got, want) == 0, "'%s' gave '%s', want '%s'", in, got ? got : "", want);
    free(got);
}

static void test_normalise(void)
{
    check_abs("/", "/");
    check_abs("/a/b/c", "/a/b/c");
    check_abs("/a/b/", "/a/b");
    check_abs("//a//b///c/", "/a/b/c");
    check_abs("/a/./b/.", "/a/b");
    check_abs("/a/b/../c", "/a/c");
    check_abs("/shots/sh010/../../assets/props.blend", "/assets/props.blend");
    check_abs("/a/..", "/");
    check_abs("/..", "/");
    check_abs("/../../x", "/x");
    check_abs("/a/b/../../..", "/");
    check_abs("/a/.../b", "/a/.../b"); /* only "." and ".." are special */
    check_abs("/a/..b/c", "/a/..b/c");
}

/*  Relative paths start at $PWD when it is the working folder (a symlink
    the user cd'ed through is kept), else at getcwd (). */
static void test_relative(void)
{
    char base[] = "/tmp/rm_tree_test.XXXXXX", real[64], link[64], want[128];
    CHECK(mkdtemp(base) != NULL);
    snprintf(real, sizeof real, "%s/real", base);
    snprintf(link, sizeof link, "%s/link", base);
    CHECK(mkdir(real, 0700) == 0 && symlink("real", link) == 0);
    char *old = getcwd(NULL, 0);
    CHECK(chdir(link) == 0);
    setenv("PWD", link, 1);
    snprintf(want, sizeof want, "%s/x/y.png", base);
    check_abs("../x/y.png", want); /* lexical: from link, not from real */
    snprintf(want, sizeof want, "%s/tex", link);
    check_abs("tex/", want);
    setenv("PWD", "/nonexistent", 1); /* a stale $PWD is not believed */
    char *cwd = getcwd(NULL, 0);
    snprintf(want, sizeof want, "%s/tex", cwd ? cwd : "?");
    check_abs("tex", want);
    free(cwd);
    CHECK(old && chdir(old) == 0);
    free(old);
    CHECK(unlink(link) == 0 && rmdir(real) == 0 && rmdir(base) == 0);
}

static bool same(const char *got, const char *want)
{
    return got && strcmp(got, want) == 0;
}

static void test_below_and_common(void)
{
    CHECK(same(rm_path_below("/a/b", "/a/b/c/d"), "c/d"));
    CHECK(same(rm_path_below("/a/b", "/a/b"), ""));
    CHECK(rm_path_below("/a/b", "/a/bc") == NULL);
    CHECK(rm_path_below("/a/b", "/a") == NULL);
    CHECK(same(rm_path_below("/", "/a"), "a"));

    char dir[64] = "/studio/shots/sh010";
    rm_path_common(dir, "/studio/shots/sh010/maps/ground.png");
    CHECK_MSG(strcmp(dir, "/studio/shots/sh010") == 0, "%s", dir);
    rm_path_common(dir, "/studio/assets/props.blend");
    CHECK_MSG(strcmp(dir, "/studio") == 0, "%s", dir);
    rm_path_common(dir, "/studiox/a");
    CHECK_MSG(strcmp(dir, "/") == 0, "%s", dir);
    char d2[64] = "/a/b";
    rm_path_common(d2, "/a/b");
    CHECK_MSG(strcmp(d2, "/a/b") == 0, "%s", d2);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_normalise);
    RM_RUN(test_relative);
    RM_RUN(test_below_and_common);
    RM_TEST_DONE();
}
