/*  rm_scan: a .blend's needs, read with the local Blender (see rm_scan.h). */
#define _GNU_SOURCE /* environ */
#include "rm_scan.h"
#include "rm_fs.h"

#include <czmq.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FIELDS 8

/*  --- Parsing the records --------------------------------------------------- */

/*  Undoes the script's escapes (\\, \t, \n) in place. */
static void unescape(char *s)
{
    char *out = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *out++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

static size_t split(char *line, char **fields)
{
    size_t n = 0;
    for (char *p = line; n < MAX_FIELDS;) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    for (size_t i = 0; i < n; i++)
        unescape(fields[i]);
    return n;
}

static int add_dep(rm_scan_t *scan, char **f, rm_err_t *err)
{
    rm_dep_t *deps = realloc(scan->deps, (scan->ndeps + 1) * sizeof *deps);
    if (!deps)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    scan->deps = deps;
    rm_dep_t *d = &deps[scan->ndeps];
    d->kind = strdup(f[1]);
    d->user = strdup(f[2]);
    d->path = strdup(f[3]);
    d->exists = strcmp(f[4], "1") == 0;
    d->required = strcmp(f[5], "1") == 0;
    d->stored_absolute = strcmp(f[6], "1") == 0;
    scan->ndeps++; /* counted now so that rm_scan_free frees a half-made one */
    if (!d->kind || !d->user || !d->path)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

static int join_scenes(rm_scan_t *scan, char **f, size_t n, rm_err_t *err)
{
    size_t len = 1;
    for (size_t i = 1; i < n; i++)
        len += strlen(f[i]) + 2;
    if (!(scan->scenes = calloc(1, len)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (size_t i = 1; i < n; i++) {
        if (i > 1)
            strcat(scan->scenes, ", ");
        strcat(scan->scenes, f[i]);
    }
    return 0;
}

static int parse_line(rm_scan_t *scan, char *line, rm_err_t *err)
{
    char *f[MAX_FIELDS];
    size_t n = split(line, f);
    if (strcmp(f[0], "blend") == 0 && n == 2 && !scan->blend)
        return (scan->blend = strdup(f[1])) ? 0 : rm_err_set(err, RM_ENOMEM, "out of memory");
    if (strcmp(f[0], "range") == 0 && n == 4) {
        scan->has_range = sscanf(f[1], "%ld", &scan->first) == 1 &&
                          sscanf(f[2], "%ld", &scan->last) == 1 &&
                          sscanf(f[3], "%ld", &scan->step) == 1;
        return scan->has_range ? 0 : rm_err_set(err, RM_EPROTO, "bad frame range from Blender");
    }
    if (strcmp(f[0], "noscene") == 0 && !scan->scenes)
        return join_scenes(scan, f, n, err);
    if (strcmp(f[0], "denoise") == 0 && n == 2) {
        scan->denoise = strcmp(f[1], "1") == 0;
        return 0;
    }
    if (strcmp(f[0], "dep") == 0 && n == 7)
        return add_dep(scan, f, err);
    if (strcmp(f[0], "unreadable") == 0 || f[0][0] == '\0')
        return 0;
    return rm_err_set(err, RM_EPROTO, "scan_blend.py wrote a record meshctl does not know: '%.60s'",
                      f[0]);
}

int rm_scan_parse(const char *text, size_t len, rm_scan_t *scan, rm_err_t *err)
{
    memset(scan, 0, sizeof *scan);
    char *copy = malloc(len + 1);
    if (!copy)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    int rc = 0;
    for (char *line = copy; rc == 0 && line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        rc = parse_line(scan, line, err);
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
    if (rc != 0)
        rm_scan_free(scan);
    return rc;
}

void rm_scan_free(rm_scan_t *scan)
{
    for (size_t i = 0; i < scan->ndeps; i++) {
        free(scan->deps[i].kind);
        free(scan->deps[i].user);
        free(scan->deps[i].path);
    }
    free(scan->deps);
    free(scan->blend);
    free(scan->scenes);
    memset(scan, 0, sizeof *scan);
}

/*  --- Running Blender -------------------------------------------------------- */

/* Set by CMake; unset in other builds. */
#ifndef RM_SCAN_SOURCE_PATH
#define RM_SCAN_SOURCE_PATH NULL
#endif
#ifndef RM_SCAN_INSTALL_PATH
#define RM_SCAN_INSTALL_PATH NULL
#endif
int rm_scan_script_path(char *path, size_t size, rm_err_t *err)
{
    return rm_fs_find_shared("scan_blend.py", RM_SCAN_SOURCE_PATH, RM_SCAN_INSTALL_PATH, path, size,
                             err);
}

/*  Waits for pid at most timeout_ms, then kills it.  Its exit status, or
    -1 when it was killed for taking too long. */
static int wait_bounded(pid_t pid, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        if (r < 0 && errno != EINTR)
            return 128;
        if (zclock_mono() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (*len + 4096 + 1 > cap) {
            char *grown = realloc(buf, cap = cap * 2 + 8192);
            if (!grown)
                break;
            buf = grown;
        }
        size_t n = fread(buf + *len, 1, cap - *len - 1, f);
        *len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    if (buf)
        buf[*len] = '\0';
    return buf;
}

/*  The last line of Blender's log that says what went wrong. */
static void last_error(const char *log_path, char *out, size_t size)
{
    size_t len;
    char *log = slurp(log_path, &len);
    out[0] = '\0';
    for (char *line = log; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strstr(line, "Error") || strstr(line, "error") || strstr(line, "Traceback"))
            snprintf(out, size, "%s", line);
        line = nl ? nl + 1 : NULL;
    }
    free(log);
}

static int spawn(const char *blender, char *const *argv, const char *log, pid_t *pid, rm_err_t *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawnp(pid, blender, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return rm_err_set(err, RM_ENOTFOUND,
                          "no Blender here (%s: %s) to read what the .blend uses; install "
                          "Blender, set MESH_BLENDER, or pass --no-scan",
                          blender, strerror(rc));
    return 0;
}

int rm_scan_run(const char *blend, const char *scene, rm_scan_t *scan, rm_err_t *err)
{
    char script[4096], dir[] = "/tmp/meshctl-scan.XXXXXX", out[64], log[64];
    memset(scan, 0, sizeof *scan);
    if (rm_scan_script_path(script, sizeof script, err) != 0)
        return -1;
    if (!mkdtemp(dir))
        return rm_err_set(err, RM_EIO, "cannot create a folder in /tmp: %s", strerror(errno));
    snprintf(out, sizeof out, "%s/scan.txt", dir);
    snprintf(log, sizeof log, "%s/blender.log", dir);
    const char *blender = getenv("MESH_BLENDER") ? getenv("MESH_BLENDER") : "blender";
    char *argv[] = {(char *)blender,
                    "-b",
                    "--factory-startup",
                    "--disable-autoexec",
                    (char *)blend,
                    "--python-exit-code",
                    "2",
                    "--python",
                    script,
                    "--",
                    out,
                    (char *)(scene ? scene : ""),
                    NULL};
    pid_t pid;
    int rc = spawn(blender, argv, log, &pid, err);
    if (rc == 0) {
        int status = wait_bounded(pid, RM_SCAN_TIMEOUT_MS);
        size_t len = 0;
        char *text = slurp(out, &len);
        char why[256];
        last_error(log, why, sizeof why);
        if (status < 0)
            rc = rm_err_set(err, RM_EINVAL, "Blender took more than %d s to read %s",
                            RM_SCAN_TIMEOUT_MS / 1000, blend);
        else if (status != 0 || !text)
            rc = rm_err_set(err, RM_EINVAL, "Blender cannot read %s (exit %d)%s%s", blend, status,
                            *why ? ": " : "", why);
        else if ((rc = rm_scan_parse(text, len, scan, err)) == 0 && !scan->blend)
            rc = rm_err_set(err, RM_EINVAL, "Blender cannot read %s%s%s", blend, *why ? ": " : "",
                            why);
        free(text);
        if (rc != 0)
            rm_scan_free(scan);
    }
    unlink(out);
    unlink(log);
    rmdir(dir);
    return rc;
}
