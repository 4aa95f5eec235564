#include "rm_job_journal.h"
#include "rm_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct _rm_job_journal_t {
    char *dir;    /* ROOT/<id> */
    char *job_id; /* for messages */
    int fd;       /* job.journal */
    uint64_t entries;
};

static rm_job_journal_t *journal_alloc(const char *root, const char *job_id, rm_err_t *err)
{
    rm_job_journal_t *self = calloc(1, sizeof *self);
    size_t n = strlen(root) + strlen(job_id) + 2;
    if (self) {
        self->fd = -1;
        self->dir = malloc(n);
        self->job_id = strdup(job_id);
    }
    if (!self || !self->dir || !self->job_id) {
        rm_job_journal_destroy(&self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(self->dir, n, "%s/%s", root, job_id);
    return self;
}

void rm_job_journal_destroy(rm_job_journal_t **self_p)
{
    rm_job_journal_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0)
        close(self->fd);
    free(self->dir);
    free(self->job_id);
    free(self);
    *self_p = NULL;
}

const char *rm_job_journal_dir(const rm_job_journal_t *self)
{
    return self->dir;
}

static int open_journal(rm_job_journal_t *self, rm_err_t *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/job.journal", self->dir);
    self->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open %s: %s", path,
                          strerror(errno));
    return 0;
}

static int create_dirs(const char *dir, const char *root, rm_err_t *err)
{
    char path[4096];
    const char *subs[] = {"", "/out", "/logs"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", dir, subs[i]);
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", path,
                              strerror(errno));
    }
    /* The job's own entry in ROOT must survive a power loss too. */
    return rm_fs_fsync_dir(root, err);
}

rm_job_journal_t *rm_job_journal_create(const char *root, const rm_job_record_t *rec, rm_err_t *err)
{
    rm_job_journal_t *self = journal_alloc(root, rec->spec.job_id, err);
    if (!self)
        return NULL;
    if (create_dirs(self->dir, root, err) != 0 || open_journal(self, err) != 0 ||
        rm_job_journal_snapshot(self, rec, err) != 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/job.state", self->dir);
        unlink(path); /* leave no half-created job to be loaded at restart */
        rm_job_journal_destroy(&self);
    }
    return self;
}

/*  Reads ROOT/<id>/job.state, bounded before anything is allocated. */
static int read_snapshot(const rm_job_journal_t *self, rm_job_record_t *rec,
                         const rm_job_record_format_t **fmt, rm_err_t *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/job.state", self->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size > RM_JOB_RECORD_MAX_BYTES) {
        if (fd >= 0)
            close(fd);
        return rm_err_set(err, RM_EIO, "cannot read %s", path);
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    ssize_t got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (got != st.st_size || rm_job_record_decode_snapshot(buf, (size_t)got, rec, fmt, err) != 0) {
        free(buf);
        if (got != st.st_size)
            rm_err_set(err, RM_EIO, "short read");
        return rm_err_prefix(err, "%s is damaged: ", path);
    }
    free(buf);
    return 0;
}

/*  Applies the journal, written in fmt, to rec; a torn or damaged tail
    (crash mid-append) ends it.  Returns the entries applied. */
static uint64_t replay(rm_job_journal_t *self, const rm_job_record_format_t *fmt,
                       rm_job_record_t *rec)
{
    uint8_t header[4];
    uint64_t applied = 0;
    for (;;) {
        if (read(self->fd, header, 4) != 4)
            break;
        size_t len =
            (size_t)header[0] << 24 | (size_t)header[1] << 16 | (size_t)header[2] << 8 | header[3];
        if (len == 0 || len > RM_JOB_JOURNAL_MAX_ENTRY)
            break;
        uint8_t *buf = malloc(len);
        if (!buf)
            break;
        if (read(self->fd, buf, len) != (ssize_t)len) {
            free(buf);
            break;
        }
        rm_job_record_entry_t entry = {0};
        int rc = rm_job_record_decode_entry(fmt, buf, len, &entry, NULL);
        free(buf);
        if (rc != 0)
            break;
        rm_job_record_apply(rec, &entry);
        rm_job_record_entry_free(&entry);
        applied++;
    }
    return applied;
}

rm_job_journal_t *rm_job_journal_load(const char *root, const char *job_id, rm_job_record_t *rec,
                                      uint64_t *replayed, rm_err_t *err)
{
    const rm_job_record_format_t *fmt = NULL;
    rm_job_journal_t *self = journal_alloc(root, job_id, err);
    if (!self)
        return NULL;
    if (read_snapshot(self, rec, &fmt, err) != 0) {
        rm_job_journal_destroy(&self);
        return NULL;
    }
    if (open_journal(self, err) != 0) {
        rm_job_record_free(rec);
        rm_job_journal_destroy(&self);
        return NULL;
    }
    *replayed = replay(self, fmt, rec);
    return self;
}

/*  Appends the length-prefixed encoding of one entry to *buf. */
static int encode_entry(const rm_job_record_entry_t *entry, uint8_t **buf, size_t *len,
                        rm_err_t *err)
{
    size_t start = *len;
    uint8_t *grown = realloc(*buf, start + 4);
    if (!grown)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    *buf = grown;
    *len = start + 4;
    if (rm_job_record_encode_entry(entry, buf, len, err) != 0)
        return -1;
    size_t n = *len - start - 4;
    /* Replay stops at a longer entry, and would drop every later one. */
    if (n > RM_JOB_JOURNAL_MAX_ENTRY)
        return rm_err_set(err, RM_EINVAL, "a journal entry of %zu bytes is over %d", n,
                          RM_JOB_JOURNAL_MAX_ENTRY);
    uint8_t *h = *buf + start;
    h[0] = (uint8_t)(n >> 24);
    h[1] = (uint8_t)(n >> 16);
    h[2] = (uint8_t)(n >> 8);
    h[3] = (uint8_t)n;
    return 0;
}

int rm_job_journal_append(rm_job_journal_t *self, const rm_job_record_entry_t *entries,
                          size_t count, bool sync, rm_err_t *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    for (size_t i = 0; i < count; i++)
        if (encode_entry(&entries[i], &buf, &len, err) != 0) {
            free(buf);
            return -1;
        }
    off_t start = lseek(self->fd, 0, SEEK_END);
    if (rm_fs_write_all(self->fd, buf, len) != 0 || (sync && fdatasync(self->fd) != 0)) {
        int e = errno;
        free(buf);
        /* A torn entry at the tail would hide later ones: cut it off. */
        if (start >= 0 && ftruncate(self->fd, start) != 0)
            e = errno;
        return rm_err_set(err, rm_err_from_errno(e), "cannot write the journal of job %s: %s",
                          self->job_id, strerror(e));
    }
    free(buf);
    self->entries += count;
    return 0;
}

int rm_job_journal_snapshot(rm_job_journal_t *self, const rm_job_record_t *rec, rm_err_t *err)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/job.state", self->dir);
    if (rm_job_record_encode(rec, &buf, &len, err) != 0)
        return -1;
    int rc = rm_fs_write_atomic(path, buf, len, 0600, err);
    free(buf);
    if (rc != 0)
        return -1;
    if (self->fd >= 0 && ftruncate(self->fd, 0) == 0)
        self->entries = 0;
    return 0;
}

void rm_job_journal_compact(rm_job_journal_t *self, const rm_job_record_t *rec)
{
    if (self->entries > 64 + 2 * (uint64_t)rec->frames.count)
        rm_job_journal_snapshot(self, rec, NULL);
}
