/*  rm_blender_tmpdir: a slot's private TMPDIR, made, purged and removed. */
#include "rm_blender_tmpdir.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_fs.h"
#include "rm_slot_msg.h"

extern char **environ;

#define DIR_PREFIX "rendermesh-slot"

struct _rm_blender_tmpdir_t {
    char *path;
    char **env; /* environ with TMPDIR=path */
};

/*  True for DIR_PREFIX N-PID-XXXXXX whose PID no longer exists. */
static bool is_stale(const char *name)
{
    size_t len = strlen(DIR_PREFIX);
    const char *dash = strncmp(name, DIR_PREFIX, len) == 0 ? strchr(name + len, '-') : NULL;
    uint64_t pid;
    char *end;
    return dash && rm_slot_parse_u64_prefix(dash + 1, &pid, &end) && *end == '-' && pid != 0 &&
           pid <= INT32_MAX && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/*  Slot dirs of meshd processes that died without cleaning up. */
static void purge_stale(const char *root)
{
    DIR *dir = opendir(root);
    struct dirent *entry;
    while (dir && (entry = readdir(dir))) {
        if (!is_stale(entry->d_name))
            continue;
        char *path = zsys_sprintf("%s/%s", root, entry->d_name);
        if (path)
            rm_fs_remove_tree(path, NULL);
        zstr_free(&path);
    }
    if (dir)
        closedir(dir);
}

static void env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

/*  environ without its TMPDIR, with TMPDIR=dir; NULL if out of memory. */
static char **env_with_tmpdir(const char *dir)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    size_t j = 0;
    for (size_t i = 0; env && i < n; i++)
        if (strncmp(environ[i], "TMPDIR=", 7) != 0)
            env[j++] = strdup(environ[i]);
    if (env)
        env[j] = zsys_sprintf("TMPDIR=%s", dir);
    if (env && !env[j]) {
        env_free(env);
        env = NULL;
    }
    return env;
}

rm_blender_tmpdir_t *rm_blender_tmpdir_new(int slot, rm_err_t *err)
{
    const char *root = getenv("TMPDIR");
    root = root && *root ? root : "/tmp";
    purge_stale(root);
    rm_blender_tmpdir_t *self = calloc(1, sizeof *self);
    char *path =
        self ? zsys_sprintf("%s/" DIR_PREFIX "%d-%d-XXXXXX", root, slot, (int)getpid()) : NULL;
    char **env = path && mkdtemp(path) ? env_with_tmpdir(path) : NULL;
    if (!env) {
        rm_err_set(err, rm_err_from_errno(errno), "%s", strerror(errno));
        zstr_free(&path);
        free(self);
        return NULL;
    }
    self->path = path;
    self->env = env;
    return self;
}

void rm_blender_tmpdir_destroy(rm_blender_tmpdir_t **self_p)
{
    rm_blender_tmpdir_t *self = *self_p;
    if (!self)
        return;
    rm_fs_remove_tree(self->path, NULL);
    zstr_free(&self->path);
    env_free(self->env);
    free(self);
    *self_p = NULL;
}

const char *rm_blender_tmpdir_path(const rm_blender_tmpdir_t *self)
{
    return self->path;
}

char **rm_blender_tmpdir_env(const rm_blender_tmpdir_t *self)
{
    return self->env;
}

void rm_blender_tmpdir_purge(rm_blender_tmpdir_t *self)
{
    DIR *dir = opendir(self->path);
    struct dirent *entry;
    while (dir && (entry = readdir(dir))) {
        if (strncmp(entry->d_name, "blender_", 8) != 0)
            continue;
        char *sub = zsys_sprintf("%s/%s", self->path, entry->d_name);
        if (sub)
            rm_fs_remove_tree(sub, NULL);
        zstr_free(&sub);
    }
    if (dir)
        closedir(dir);
}
