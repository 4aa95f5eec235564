#include "rm_logs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <czmq.h>

#include "rm_manifest.h"
#include "rm_msg.h"

int rm_logs_frame_path(const char *task_log, uint64_t frame, char *buf, size_t size)
{
    const char *slash = strrchr(task_log, '/');
    int dir = slash ? (int)(slash - task_log) : 1;
    int n = snprintf(buf, size, "%.*s/frame_%04" PRIu64 ".log", dir, slash ? task_log : ".", frame);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int rm_logs_cut(const char *task_log, uint64_t *from, const char *dest, rm_err_t *err)
{
    FILE *in = fopen(task_log, "rb");
    if (!in)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot read %s: %s", task_log,
                          strerror(errno));
    struct stat st;
    uint64_t end = fstat(fileno(in), &st) == 0 ? (uint64_t)st.st_size : 0;
    uint64_t start = *from <= end ? *from : 0;
    if (end - start > RM_MAX_LOG)
        start = end - RM_MAX_LOG;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", dest);
    FILE *out = fopen(tmp, "wb");
    int rc = 0;
    if (!out || fseeko(in, (off_t)start, SEEK_SET) != 0) {
        rc = rm_err_set(err, rm_err_from_errno(errno), "cannot write %s: %s", tmp, strerror(errno));
    } else {
        char buf[65536];
        uint64_t left = end - start;
        while (left > 0 && rc == 0) {
            size_t n = fread(buf, 1, left < sizeof buf ? (size_t)left : sizeof buf, in);
            if (n == 0 || fwrite(buf, 1, n, out) != n)
                rc = rm_err_set(err, RM_EIO, "cannot copy %s to %s", task_log, tmp);
            left -= n;
        }
    }
    if (out && fclose(out) != 0 && rc == 0)
        rc = rm_err_set(err, rm_err_from_errno(errno), "cannot write %s: %s", tmp, strerror(errno));
    fclose(in);
    if (rc == 0 && rename(tmp, dest) != 0)
        rc =
            rm_err_set(err, rm_err_from_errno(errno), "cannot rename %s: %s", tmp, strerror(errno));
    if (rc != 0) {
        remove(tmp);
        return -1;
    }
    *from = end;
    return 0;
}

int rm_logs_append_file(const char *path, uint8_t **buf, size_t *len, bool *truncated)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat st;
    size_t size = fstat(fileno(f), &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 0;
    size_t room = *len < RM_MAX_LOG ? RM_MAX_LOG - *len : 0;
    size_t want = size;
    if (want > room) {
        *truncated = true;
        want = room;
    }
    uint8_t *grown = realloc(*buf, *len + want + 1);
    if (!grown || fseeko(f, (off_t)(size - want), SEEK_SET) != 0) {
        if (grown)
            *buf = grown;
        fclose(f);
        return -1;
    }
    *buf = grown;
    *len += fread(*buf + *len, 1, want, f);
    fclose(f);
    return 0;
}

/*  Task logs are named frames_FIRST.log or frames_FIRST-LAST.log. */
static bool log_covers(const char *name, uint64_t frame)
{
    unsigned long long first = 0, last = 0;
    char tail[8];
    if (sscanf(name, "frames_%llu-%llu%7s", &first, &last, tail) == 3 && strcmp(tail, ".log") == 0)
        return first <= frame && frame <= last;
    if (sscanf(name, "frames_%llu%7s", &first, tail) == 2 && strcmp(tail, ".log") == 0)
        return first == frame;
    return false;
}

bool rm_logs_append_task_logs(const char *job_dir, uint64_t frame, uint8_t **buf, size_t *len,
                              bool *truncated)
{
    char dir[4200];
    bool found = false;
    snprintf(dir, sizeof dir, "%s/logs", job_dir);
    zdir_t *logs = zdir_new(dir, "-");
    zlist_t *files = logs ? zdir_list(logs) : NULL;
    for (zfile_t *f = files ? zlist_first(files) : NULL; f; f = zlist_next(files)) {
        const char *name = strrchr(zfile_filename(f, NULL), '/');
        if (name && log_covers(name + 1, frame) &&
            rm_logs_append_file(zfile_filename(f, NULL), buf, len, truncated) == 0)
            found = true;
    }
    zlist_destroy(&files);
    zdir_destroy(&logs);
    return found;
}

int rm_logs_read_stored(rm_store_t *store, const rm_hash_t *log, uint8_t **buf, size_t *len,
                        bool *truncated, rm_err_t *err)
{
    rm_manifest_t m = {0};
    *buf = NULL;
    *len = 0;
    *truncated = false;
    if (rm_manifest_load(store, log, &m, err) != 0)
        return -1;
    if (m.files.count != 1) {
        rm_manifest_free(&m);
        return rm_err_set(err, RM_EPROTO, "a frame's log manifest lists %u files, not 1",
                          m.files.count);
    }
    /* Only the chunks holding the last RM_MAX_LOG bytes are read. */
    const rm_manifest_file_t *f = &m.files.items[0];
    uint32_t first = f->chunks.count;
    size_t sizes = 0;
    int rc = 0;
    uint8_t **parts = calloc(f->chunks.count ? f->chunks.count : 1, sizeof *parts);
    size_t *lens = calloc(f->chunks.count ? f->chunks.count : 1, sizeof *lens);
    if (!parts || !lens)
        rc = rm_err_set(err, RM_ENOMEM, "out of memory");
    while (rc == 0 && first > 0 && sizes < RM_MAX_LOG) {
        first--;
        if (rm_store_get(store, &f->chunks.items[first], &parts[first], &lens[first], err) != 0)
            rc = -1;
        else
            sizes += lens[first];
    }
    size_t skip = sizes > RM_MAX_LOG ? sizes - RM_MAX_LOG : 0;
    if (rc == 0 && !(*buf = malloc(sizes - skip + 1)))
        rc = rm_err_set(err, RM_ENOMEM, "out of memory");
    for (uint32_t i = first; rc == 0 && i < f->chunks.count; i++) {
        size_t cut = skip < lens[i] ? skip : lens[i];
        memcpy(*buf + *len, parts[i] + cut, lens[i] - cut);
        *len += lens[i] - cut;
        skip -= cut;
    }
    *truncated = rc == 0 && (first > 0 || sizes > RM_MAX_LOG);
    for (uint32_t i = 0; parts && i < f->chunks.count; i++)
        free(parts[i]);
    free(parts);
    free(lens);
    rm_manifest_free(&m);
    if (rc != 0) {
        free(*buf);
        *buf = NULL;
        *len = 0;
    }
    return rc;
}
