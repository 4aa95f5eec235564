#include "rm_fs.h"

#include <errno.h>
#include <limits.h>

#include "rm_test.h"

static char base[64];

/*  A fresh folder per case, under /tmp. */
static const char *fresh(void)
{
    snprintf(base, sizeof base, "/tmp/rm-fs-test-XXXXXX");
    CHECK(mkdtemp(base) != NULL);
    return base;
}

static int slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return (int)n;
}

static int count_entries(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    return n;
}

static void test_write_all_writes_every_byte(void)
{
    char path[128], buf[300000];
    static char data[256 * 1024];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + i % 26);
    snprintf(path, sizeof path, "%s/big", fresh());
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0 && rm_fs_write_all(fd, data, sizeof data) == 0);
    close(fd);
    CHECK(slurp(path, buf, sizeof buf) == (int)sizeof data);
    CHECK(memcmp(buf, data, sizeof data) == 0);
    CHECK(rm_fs_remove_tree(base, NULL) == 0);
}

static void test_write_all_reports_a_bad_fd(void)
{
    CHECK(rm_fs_write_all(-1, "x", 1) == -1 && errno == EBADF);
}

static void test_write_atomic_replaces_and_leaves_no_temporary(void)
{
    char path[128], buf[64];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/state", fresh());
    CHECK(rm_fs_write_atomic(path, "old", 3, 0600, &err) == 0);
    CHECK_MSG(rm_fs_write_atomic(path, "new one", 7, 0600, &err) == 0, "%s", err.msg);
    CHECK(slurp(path, buf, sizeof buf) == 7 && strcmp(buf, "new one") == 0);
    CHECK(count_entries(base) == 1);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(rm_fs_remove_tree(base, NULL) == 0);
}

static void test_write_atomic_failure_keeps_the_old_file(void)
{
    char path[128], buf[64];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/nodir/state", fresh());
    CHECK(rm_fs_write_atomic(path, "x", 1, 0600, &err) == -1);
    CHECK_MSG(strstr(err.msg, "cannot create ") != NULL, "%s", err.msg);
    /* a folder in the way of the rename: the target stays, no temp left */
    snprintf(path, sizeof path, "%s/taken", base);
    CHECK(mkdir(path, 0700) == 0);
    CHECK(rm_fs_write_atomic(path, "x", 1, 0600, &err) == -1);
    CHECK_MSG(strstr(err.msg, "cannot rename ") != NULL, "%s", err.msg);
    CHECK(count_entries(base) == 1);
    (void)buf;
    CHECK(rm_fs_remove_tree(base, NULL) == 0);
}

static void test_fsync_dir_names_a_missing_folder(void)
{
    rm_err_t err;
    CHECK(rm_fs_fsync_dir(fresh(), &err) == 0);
    CHECK(rm_fs_fsync_dir("/nonexistent-rm-fs", &err) == -1 && err.code == RM_ENOTFOUND);
    CHECK_MSG(strstr(err.msg, "/nonexistent-rm-fs") != NULL, "%s", err.msg);
    CHECK(rm_fs_remove_tree(base, NULL) == 0);
}

static void test_mkdir_p_makes_parents_with_their_mode(void)
{
    char path[128], mid[128];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/a//b/c/", fresh());
    snprintf(mid, sizeof mid, "%s/a/b", base);
    CHECK_MSG(rm_fs_mkdir_p(path, 0750, 0700, &err) == 0, "%s", err.msg);
    CHECK_MSG(rm_fs_mkdir_p(path, 0750, 0700, &err) == 0, "again: %s", err.msg);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    CHECK(stat(mid, &st) == 0 && (st.st_mode & 0777) == 0750);
    CHECK(rm_fs_remove_tree(base, NULL) == 0);
}

static void test_mkdir_p_refuses_a_file_in_the_way(void)
{
    char path[128];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/file", fresh());
    CHECK(rm_fs_write_atomic(path, "x", 1, 0600, &err) == 0);
    CHECK(rm_fs_mkdir_p(path, 0700, 0700, &err) == -1);
    CHECK_MSG(strstr(err.msg, "is not a directory") != NULL, "%s", err.msg);
    snprintf(path, sizeof path, "%s/file/sub", base);
    CHECK(rm_fs_mkdir_p(path, 0700, 0700, &err) == -1);
    CHECK_MSG(strstr(err.msg, "cannot create directory ") != NULL, "%s", err.msg);
    CHECK(rm_fs_mkdir_p("", 0700, 0700, &err) == -1 && err.code == RM_EINVAL);
    CHECK(rm_fs_remove_tree(base, NULL) == 0);
}

static void test_remove_tree_removes_everything(void)
{
    char path[128];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/x/y/z", fresh());
    CHECK(rm_fs_mkdir_p(path, 0700, 0700, &err) == 0);
    snprintf(path, sizeof path, "%s/x/y/z/f", base);
    CHECK(rm_fs_write_atomic(path, "x", 1, 0600, &err) == 0);
    snprintf(path, sizeof path, "%s/x/y/ro", base);
    CHECK(rm_fs_mkdir_p(path, 0700, 0500, &err) == 0); /* empty and read-only: still goes */
    CHECK_MSG(rm_fs_remove_tree(base, &err) == 0, "%s", err.msg);
    struct stat st;
    CHECK(lstat(base, &st) != 0 && errno == ENOENT);
    CHECK(rm_fs_remove_tree(base, &err) == 0); /* already gone: fine */
}

static void test_remove_tree_does_not_follow_a_symlink_out(void)
{
    char outside[64], keep[128], link[128], linkdir[128];
    rm_err_t err;
    snprintf(outside, sizeof outside, "%s", fresh());
    snprintf(keep, sizeof keep, "%s/keep", outside);
    CHECK(rm_fs_write_atomic(keep, "precious", 8, 0600, &err) == 0);
    fresh();
    snprintf(link, sizeof link, "%s/to-dir", base);
    CHECK(symlink(outside, link) == 0);
    snprintf(linkdir, sizeof linkdir, "%s/sub", base);
    CHECK(mkdir(linkdir, 0700) == 0);
    snprintf(link, sizeof link, "%s/sub/to-file", base);
    CHECK(symlink(keep, link) == 0);
    CHECK_MSG(rm_fs_remove_tree(base, &err) == 0, "%s", err.msg);
    struct stat st;
    CHECK(lstat(base, &st) != 0);
    char buf[64];
    CHECK(slurp(keep, buf, sizeof buf) == 8 && strcmp(buf, "precious") == 0);
    /* the tree's root itself a symlink: the link goes, its target stays */
    snprintf(link, sizeof link, "%s-link", outside);
    CHECK(symlink(outside, link) == 0);
    CHECK(rm_fs_remove_tree(link, &err) == 0);
    CHECK(lstat(link, &st) != 0 && slurp(keep, buf, sizeof buf) == 8);
    CHECK(rm_fs_remove_tree(outside, NULL) == 0);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_write_all_writes_every_byte);
    RM_RUN(test_write_all_reports_a_bad_fd);
    RM_RUN(test_write_atomic_replaces_and_leaves_no_temporary);
    RM_RUN(test_write_atomic_failure_keeps_the_old_file);
    RM_RUN(test_fsync_dir_names_a_missing_folder);
    RM_RUN(test_mkdir_p_makes_parents_with_their_mode);
    RM_RUN(test_mkdir_p_refuses_a_file_in_the_way);
    RM_RUN(test_remove_tree_removes_everything);
    RM_RUN(test_remove_tree_does_not_follow_a_symlink_out);
    RM_TEST_DONE();
}
