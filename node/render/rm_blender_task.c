/*  rm_blender_task: checks and folders before a task's first Blender. */
#include "rm_blender_task.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_blender_args.h"

/*  Creates dir and its parents. */
static int make_dirs(const char *dir, rm_err_t *err)
{
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    if (zsys_dir_create("%s", dir) != 0 || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return rm_err_set(err, rm_err_from_errno(errno), "cannot create directory %s: %s", dir,
                          strerror(errno));
    return 0;
}

/*  Opens the log at path for appending, making its folder. */
static int open_log(const char *path, rm_err_t *err)
{
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        rc = make_dirs(dir, err);
    }
    free(dir);
    if (rc)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open log %s: %s", path,
                          strerror(errno));
    return fd;
}

int rm_blender_task_prepare(rm_slot_task_t *t, int *log_fd, uint64_t *log_end, rm_err_t *err)
{
    struct stat st;
    rm_err_clear(err);
    *log_fd = -1;
    if (stat(t->blend, &st) != 0)
        rm_err_set(err, rm_err_from_errno(errno), "cannot open %s: %s", t->blend, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rm_err_set(err, RM_EINVAL, "%s is not a file", t->blend);
    else if (make_dirs(t->out_dir, err) == 0 && (*log_fd = open_log(t->log_path, err)) >= 0)
        t->key = rm_blender_args_key(t, &st);
    off_t end = *log_fd >= 0 ? lseek(*log_fd, 0, SEEK_END) : 0;
    *log_end = end > 0 ? (uint64_t)end : 0;
    if (err->code == RM_OK && !(t->real_out = realpath(t->out_dir, NULL)))
        rm_err_set(err, rm_err_from_errno(errno), "cannot resolve %s: %s", t->out_dir,
                   strerror(errno));
    if (err->code == RM_OK && !t->key)
        rm_err_set(err, RM_ENOMEM, "out of memory, or a setting that is not UTF-8");
    return err->code == RM_OK ? 0 : -1;
}
