/*  rm_fs: write-all, atomic replace, folder fsync, mkdir -p, rm -rf. */
#define _XOPEN_SOURCE 700 /* nftw */

#include "rm_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rm_fs_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) { /* no progress and no reason: give up rather than spin */
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int rm_fs_fsync_dir(const char *path, rm_err_t *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open directory %s: %s", path,
                          strerror(errno));
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0)
        return rm_err_set(err, rm_err_from_errno(saved), "cannot sync directory %s: %s", path,
                          strerror(saved));
    return 0;
}

/*  Creates PATH.tmp-<random> exclusively, so two writers of one file (two
    threads, two processes) never share a temporary file. */
static int open_temp_beside(const char *path, char *tmp, size_t size, mode_t mode, rm_err_t *err)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        uint8_t rnd[8];
        char hex[17];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
        if ((size_t)snprintf(tmp, size, "%s.tmp-%s", path, hex) >= size)
            return rm_err_set(err, RM_EINVAL, "path too long: %s", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", tmp,
                              strerror(errno));
    }
    return rm_err_set(err, RM_EIO, "cannot create a temporary file for %s", path);
}

/*  The folder part of path ("." for a bare name, "/" for "/x"). */
static void dir_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else if (slash == path)
        snprintf(dir, size, "/");
    else
        snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

int rm_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, rm_err_t *err)
{
    char tmp[PATH_MAX + 32];
    int fd = open_temp_beside(path, tmp, sizeof tmp, mode, err);
    if (fd < 0)
        return -1;
    /* fchmod: the umask must not loosen nor tighten a secret's mode */
    int rc = rm_fs_write_all(fd, data, len) != 0 || fchmod(fd, mode) != 0 || fsync(fd) != 0;
    int saved = errno;
    if (close(fd) != 0 && !rc) {
        rc = 1;
        saved = errno;
    }
    if (rc) {
        unlink(tmp);
        return rm_err_set(err, rm_err_from_errno(saved), "cannot write %s: %s", path,
                          strerror(saved));
    }
    if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        return rm_err_set(err, rm_err_from_errno(saved), "cannot rename %s to %s: %s", tmp, path,
                          strerror(saved));
    }
    char dir[PATH_MAX];
    dir_of(path, dir, sizeof dir);
    return rm_fs_fsync_dir(dir, err);
}

/*  mkdir that accepts an existing folder. */
static int make_one(const char *path, mode_t mode, rm_err_t *err)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    return rm_err_set(err, rm_err_from_errno(errno), "cannot create directory %s: %s", path,
                      strerror(errno));
}

int rm_fs_mkdir_p(const char *path, mode_t parent_mode, mode_t mode, rm_err_t *err)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return rm_err_set(err, RM_EINVAL, "directory name '%s' is empty or too long", path);
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
        if (p[1] == '\0' || p[1] == '/')
            continue; /* "a//b", "a/": the next component is not a new folder */
        *p = '\0';
        int rc = make_one(buf, parent_mode, err);
        *p = '/';
        if (rc != 0)
            return -1;
    }
    if (make_one(buf, mode, err) != 0)
        return -1;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return rm_err_set(err, RM_EINVAL, "%s is not a directory", path);
    return 0;
}

/*  nftw passes no context: the first failure is kept here (per thread, as
    slots remove their folders from their own threads). */
static _Thread_local int remove_errno;
static _Thread_local char remove_failed[PATH_MAX];

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    /* FTW_DEPTH: a folder comes after its contents; FTW_PHYS: a link is
       itself an entry (FTW_SL), removed by unlink, never followed. */
    int rc = type == FTW_DP || type == FTW_DNR ? rmdir(path) : unlink(path);
    if (rc != 0 && errno != ENOENT && remove_errno == 0) {
        remove_errno = errno;
        snprintf(remove_failed, sizeof remove_failed, "%s", path);
    }
    return 0; /* carry on: remove as much as can be removed */
}

int rm_fs_remove_tree(const char *path, rm_err_t *err)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return rm_err_set(err, rm_err_from_errno(errno), "cannot remove %s: %s", path,
                          strerror(errno));
    }
    remove_errno = 0;
    if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && remove_errno == 0) {
        remove_errno = errno;
        snprintf(remove_failed, sizeof remove_failed, "%s", path);
    }
    if (remove_errno != 0)
        return rm_err_set(err, rm_err_from_errno(remove_errno), "cannot remove %s: %s",
                          remove_failed, strerror(remove_errno));
    return 0;
}

int rm_fs_find_shared(const char *name, const char *source_path, const char *install_path,
                      char *path, size_t size, rm_err_t *err)
{
    char exe[4096], beside[4300];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(beside, sizeof beside, "%s/../share/rendermesh/%s", exe, name);
    const char *candidates[3];
    size_t count = 0;
    if (source_path)
        candidates[count++] = source_path;
    if (install_path)
        candidates[count++] = install_path;
    candidates[count++] = beside;
    for (size_t i = 0; i < count; i++) {
        if (access(candidates[i], R_OK) == 0 && strlen(candidates[i]) < size) {
            snprintf(path, size, "%s", candidates[i]);
            return 0;
        }
    }
    return rm_err_set(err, RM_ENOTFOUND, "%s not found (looked in %s%s%s)", name, candidates[0],
                      count > 1 ? " and " : "", count > 1 ? candidates[count - 1] : "");
}

bool rm_fs_blend_magic(const uint8_t *head, size_t n)
{
    bool blender = n >= 7 && memcmp(head, "BLENDER", 7) == 0;
    bool gzip = n >= 2 && head[0] == 0x1f && head[1] == 0x8b;
    bool zstd = n >= 4 && memcmp(head, "\x28\xb5\x2f\xfd", 4) == 0;
    return blender || gzip || zstd;
}
