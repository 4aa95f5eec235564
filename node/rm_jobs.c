#include "rm_jobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rm_frames.h"

#define JOURNAL_MAX_ENTRY (1024 * 1024)

enum { ENTRY_FRAME = 1, ENTRY_FAIL, ENTRY_CANCEL, ENTRY_START, ENTRY_FINISH };

typedef struct {
    uint64_t version;
    rm_job_spec_t spec;
    bool canceled;
    char *error;
    int64_t started_at;
    int64_t finished_at;
    RM_LIST(rm_frame_rec_t) frames;
} job_record_t;

typedef struct {
    uint64_t kind;
    rm_frame_rec_t frame;
    char *text;
    int64_t at;
} journal_entry_t;

static const rm_field_t frame_rec_fields[] = {
    RM_FIELD(rm_frame_rec_t, frame, RM_F_U64, RM_FRAME_MAX, "frame number"),
    RM_FIELD(rm_frame_rec_t, state, RM_F_U64, RM_FRAME_FAILED,
             "0 pending 1 assigned 2 done 3 failed"),
    RM_FIELD(rm_frame_rec_t, epoch, RM_F_U64, 0, "coordinator epoch of the assignment"),
    RM_FIELD(rm_frame_rec_t, node, RM_F_STR, RM_MAX_NAME, "node assigned or that rendered it"),
    RM_FIELD(rm_frame_rec_t, attempts, RM_F_U64, 0, "failed attempts"),
    RM_FIELD(rm_frame_rec_t, render_ms, RM_F_U64, 0, "render time"),
    RM_FIELD(rm_frame_rec_t, output, RM_F_B32, 0, "one-file manifest of the output"),
    RM_FIELD(rm_frame_rec_t, size, RM_F_U64, 0, "output bytes"),
    RM_FIELD(rm_frame_rec_t, file, RM_F_STR, RM_MAX_PATH, "output file name"),
    RM_FIELD(rm_frame_rec_t, error, RM_F_STR, RM_MAX_TEXT, "last failure reason"),
};
static const rm_struct_desc_t frame_rec_desc =
    RM_DESC(rm_frame_rec_t, "frame_record", frame_rec_fields, "a frame's durable state");

static const rm_field_t job_record_fields[] = {
    RM_FIELD(job_record_t, version, RM_F_U64, 0, "record format, 1"),
    RM_FIELD_STRUCT(job_record_t, spec, rm_job_spec_desc, "the job as submitted"),
    RM_FIELD(job_record_t, canceled, RM_F_BOOL, 0, "cancelled by a user"),
    RM_FIELD(job_record_t, error, RM_F_STR, RM_MAX_TEXT, "why the job failed"),
    RM_FIELD(job_record_t, started_at, RM_F_I64, 0, "unix ms of the first assignment"),
    RM_FIELD(job_record_t, finished_at, RM_F_I64, 0, "unix ms it finished"),
    RM_FIELD_LIST_OF(job_record_t, frames, frame_rec_desc, RM_MAX_FRAMES, "every frame"),
};
static const rm_struct_desc_t job_record_desc =
    RM_DESC(job_record_t, "job_record", job_record_fields, "snapshot of a job");

static const rm_field_t journal_fields[] = {
    RM_FIELD(journal_entry_t, kind, RM_F_U64, ENTRY_FINISH,
             "1 frame 2 fail 3 cancel 4 start 5 finish"),
    RM_FIELD_STRUCT(journal_entry_t, frame, frame_rec_desc, "the frame's new record"),
    RM_FIELD(journal_entry_t, text, RM_F_STR, RM_MAX_TEXT, "failure reason"),
    RM_FIELD(journal_entry_t, at, RM_F_I64, 0, "unix ms"),
};
static const rm_struct_desc_t journal_desc =
    RM_DESC(journal_entry_t, "journal_entry", journal_fields, "one change of a job");

struct _rm_job_t {
    job_record_t rec;
    char *dir;
    int journal_fd;
    uint64_t journal_entries;
    uint64_t version;
    uint64_t *progress; /* per frame index, percent while assigned */
};

struct _rm_jobs_t {
    char *root;
    rm_job_t **jobs;
    size_t count;
    size_t cap;
};

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static char *strdup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/*  Writes the snapshot atomically, then empties the journal it includes. */
static int job_write_snapshot(rm_job_t *job, rm_err_t *err)
{
    char path[4096], tmp[4200];
    uint8_t *buf = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/job.state", job->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (rm_codec_encode(&job_record_desc, &job->rec, &buf, &len, err) != 0)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        free(buf);
        return rm_err_set(err, rm_err_from_errno(e), "cannot write %s: %s", tmp, strerror(e));
    }
    free(buf);
    close(fd);
    if (rename(tmp, path) != 0 || fsync_dir(job->dir) != 0) {
        int e = errno;
        unlink(tmp);
        return rm_err_set(err, rm_err_from_errno(e), "cannot replace %s: %s", path, strerror(e));
    }
    if (job->journal_fd >= 0 && ftruncate(job->journal_fd, 0) == 0)
        job->journal_entries = 0;
    return 0;
}

static int job_append(rm_job_t *job, const journal_entry_t *entry, rm_err_t *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_codec_encode(&journal_desc, entry, &buf, &len, err) != 0)
        return -1;
    uint8_t header[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                         (uint8_t)len};
    off_t start = lseek(job->journal_fd, 0, SEEK_END);
    if (write_all(job->journal_fd, header, 4) != 0 || write_all(job->journal_fd, buf, len) != 0 ||
        fdatasync(job->journal_fd) != 0) {
        int e = errno;
        free(buf);
        /* A torn entry at the tail would hide later ones: cut it off. */
        if (start >= 0 && ftruncate(job->journal_fd, start) != 0)
            e = errno;
        return rm_err_set(err, rm_err_from_errno(e), "cannot write the journal of job %s: %s",
                          job->rec.spec.job_id, strerror(e));
    }
    free(buf);
    job->journal_entries++;
    return 0;
}

/*  Folds a long journal into the snapshot.  Called only once the entries
    are applied in memory: the snapshot is written from memory and the
    journal is emptied, so an entry not yet applied would be lost. */
static void maybe_compact(rm_job_t *job)
{
    if (job->journal_entries > 64 + 2 * (uint64_t)job->rec.frames.count)
        job_write_snapshot(job, NULL); /* on failure the journal simply stays */
}

static rm_frame_rec_t *frame_at(const rm_job_t *job, uint64_t frame, size_t *index)
{
    size_t lo = 0, hi = job->rec.frames.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t f = job->rec.frames.items[mid].frame;
        if (f == frame) {
            if (index)
                *index = mid;
            return &job->rec.frames.items[mid];
        }
        if (f < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void apply_entry(rm_job_t *job, journal_entry_t *entry)
{
    switch (entry->kind) {
    case ENTRY_FRAME: {
        rm_frame_rec_t *rec = frame_at(job, entry->frame.frame, NULL);
        if (rec) {
            rm_codec_free(&frame_rec_desc, rec);
            *rec = entry->frame;
            memset(&entry->frame, 0, sizeof entry->frame);
        }
        break;
    }
    case ENTRY_FAIL:
        free(job->rec.error);
        job->rec.error = entry->text;
        entry->text = NULL;
        break;
    case ENTRY_CANCEL:
        job->rec.canceled = true;
        break;
    case ENTRY_START:
        job->rec.started_at = entry->at;
        break;
    case ENTRY_FINISH:
        job->rec.finished_at = entry->at;
        break;
    default:
        break;
    }
    job->version++;
}

/*  Replays a journal; a torn or damaged tail (crash mid-append) ends it. */
static void job_replay(rm_job_t *job)
{
    uint8_t header[4];
    for (;;) {
        if (read(job->journal_fd, header, 4) != 4)
            break;
        size_t len =
            (size_t)header[0] << 24 | (size_t)header[1] << 16 | (size_t)header[2] << 8 | header[3];
        if (len == 0 || len > JOURNAL_MAX_ENTRY)
            break;
        uint8_t *buf = malloc(len);
        if (!buf)
            break;
        if (read(job->journal_fd, buf, len) != (ssize_t)len) {
            free(buf);
            break;
        }
        journal_entry_t entry = {0};
        size_t used = 0;
        int rc = rm_codec_decode(&journal_desc, &entry, buf, len, &used, NULL);
        free(buf);
        if (rc != 0)
            break;
        apply_entry(job, &entry);
        rm_codec_free(&journal_desc, &entry);
    }
}

static void job_free(rm_job_t **job_p)
{
    rm_job_t *job = *job_p;
    if (!job)
        return;
    if (job->journal_fd >= 0)
        close(job->journal_fd);
    rm_codec_free(&job_record_desc, &job->rec);
    free(job->dir);
    free(job->progress);
    free(job);
    *job_p = NULL;
}

static rm_job_t *job_alloc(const char *root, const char *job_id, rm_err_t *err)
{
    rm_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    job->journal_fd = -1;
    size_t n = strlen(root) + strlen(job_id) + 2;
    job->dir = malloc(n);
    if (!job->dir) {
        free(job);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(job->dir, n, "%s/%s", root, job_id);
    return job;
}

static int job_open_journal(rm_job_t *job, rm_err_t *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/job.journal", job->dir);
    job->journal_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (job->journal_fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open %s: %s", path,
                          strerror(errno));
    return 0;
}

static int job_alloc_progress(rm_job_t *job, rm_err_t *err)
{
    job->progress = calloc(job->rec.frames.count ? job->rec.frames.count : 1, sizeof(uint64_t));
    if (!job->progress)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

static int jobs_push(rm_jobs_t *self, rm_job_t *job, rm_err_t *err)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        rm_job_t **grown = realloc(self->jobs, cap * sizeof *grown);
        if (!grown)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        self->jobs = grown;
        self->cap = cap;
    }
    self->jobs[self->count++] = job;
    return 0;
}

static bool valid_job_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

static int job_load(rm_jobs_t *self, const char *job_id, rm_err_t *err)
{
    char path[4096];
    rm_job_t *job = job_alloc(self->root, job_id, err);
    if (!job)
        return -1;
    snprintf(path, sizeof path, "%s/job.state", job->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size > RM_MAX_MSG_SIZE * 4) {
        if (fd >= 0)
            close(fd);
        job_free(&job);
        return rm_err_set(err, RM_EIO, "cannot read %s", path);
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    ssize_t got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    size_t used = 0;
    if (got != st.st_size ||
        rm_codec_decode(&job_record_desc, &job->rec, buf, (size_t)got, &used, err) != 0) {
        free(buf);
        job_free(&job);
        return rm_err_prefix(err, "%s is damaged: ", path);
    }
    free(buf);
    if (job_open_journal(job, err) != 0 || job_alloc_progress(job, err) != 0) {
        job_free(&job);
        return -1;
    }
    job_replay(job);
    /* Renders in flight died with the process that ran them. */
    for (uint32_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state == RM_FRAME_ASSIGNED)
            job->rec.frames.items[i].state = RM_FRAME_PENDING;
    if (job_write_snapshot(job, err) != 0 || jobs_push(self, job, err) != 0) {
        job_free(&job);
        return -1;
    }
    return 0;
}

static int cmp_job_age(const void *a, const void *b)
{
    const rm_job_t *x = *(rm_job_t *const *)a, *y = *(rm_job_t *const *)b;
    if (x->rec.spec.submitted_at != y->rec.spec.submitted_at)
        return x->rec.spec.submitted_at < y->rec.spec.submitted_at ? -1 : 1;
    return strcmp(x->rec.spec.job_id, y->rec.spec.job_id);
}

rm_jobs_t *rm_jobs_new(const char *root, rm_err_t *err)
{
    if (mkdir(root, 0700) != 0 && errno != EEXIST) {
        rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", root, strerror(errno));
        return NULL;
    }
    rm_jobs_t *self = calloc(1, sizeof *self);
    if (!self || !(self->root = strdup(root))) {
        free(self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    DIR *dir = opendir(root);
    if (!dir) {
        rm_err_set(err, rm_err_from_errno(errno), "cannot read %s: %s", root, strerror(errno));
        rm_jobs_destroy(&self);
        return NULL;
    }
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (!valid_job_id(de->d_name))
            continue;
        rm_err_t load_err;
        if (job_load(self, de->d_name, &load_err) != 0)
            fprintf(stderr, "meshd: skipping job %s: %s\n", de->d_name, load_err.msg);
    }
    closedir(dir);
    if (self->count > 1)
        qsort(self->jobs, self->count, sizeof *self->jobs, cmp_job_age);
    return self;
}

void rm_jobs_destroy(rm_jobs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_jobs_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        job_free(&self->jobs[i]);
    free(self->jobs);
    free(self->root);
    free(self);
    *self_p = NULL;
}

static int init_frames(rm_job_t *job, rm_err_t *err)
{
    uint64_t *frames = NULL;
    uint32_t n = 0;
    const rm_job_spec_t *spec = &job->rec.spec;
    if (rm_frames_expand(spec->frames.items, spec->frames.count, &frames, &n, err) != 0)
        return -1;
    job->rec.frames.items = calloc(n ? n : 1, sizeof(rm_frame_rec_t));
    if (!job->rec.frames.items) {
        free(frames);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    job->rec.frames.count = n;
    for (uint32_t i = 0; i < n; i++) {
        rm_frame_rec_t *f = &job->rec.frames.items[i];
        f->frame = frames[i];
        f->node = strdup("");
        f->file = strdup("");
        f->error = strdup("");
        if (!f->node || !f->file || !f->error) {
            free(frames);
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        }
    }
    free(frames);
    return 0;
}

static int create_dirs(const rm_job_t *job, const char *root, rm_err_t *err)
{
    char path[4096];
    const char *subs[] = {"", "/out", "/logs"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", job->dir, subs[i]);
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", path,
                              strerror(errno));
    }
    /* The job's own entry in ROOT must survive a power loss too. */
    if (fsync_dir(root) != 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot sync %s: %s", root,
                          strerror(errno));
    return 0;
}

int rm_jobs_create(rm_jobs_t *self, const rm_job_spec_t *spec, rm_job_t **job_out, bool *created,
                   rm_err_t *err)
{
    *created = false;
    *job_out = NULL;
    if (!valid_job_id(spec->job_id))
        return rm_err_set(err, RM_EINVAL, "job id '%s' is not 1-64 lowercase hex characters",
                          spec->job_id);
    rm_job_t *existing = rm_jobs_find(self, spec->job_id);
    if (existing) {
        if (memcmp(existing->rec.spec.manifest.b, spec->manifest.b, 32) != 0)
            return rm_err_set(err, RM_EINVAL, "job id %s is taken by another project",
                              spec->job_id);
        *job_out = existing;
        return 0;
    }
    if (rm_frames_validate(spec->frames.items, spec->frames.count, err) != 0)
        return -1;
    rm_job_t *job = job_alloc(self->root, spec->job_id, err);
    if (!job)
        return -1;
    job->rec.version = 1;
    job->rec.error = strdup("");
    if (!job->rec.error || rm_codec_copy(&rm_job_spec_desc, &job->rec.spec, spec, err) != 0 ||
        init_frames(job, err) != 0 || job_alloc_progress(job, err) != 0 ||
        create_dirs(job, self->root, err) != 0 || job_open_journal(job, err) != 0 ||
        job_write_snapshot(job, err) != 0 || jobs_push(self, job, err) != 0) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", job->dir);
        job_free(&job);
        /* Leave no half-created job behind to be loaded at restart. */
        char path[4200];
        snprintf(path, sizeof path, "%s/job.state", dir);
        unlink(path);
        return -1;
    }
    job->version = 1;
    *job_out = job;
    *created = true;
    return 0;
}

rm_job_t *rm_jobs_find(rm_jobs_t *self, const char *job_id)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->jobs[i]->rec.spec.job_id, job_id) == 0)
            return self->jobs[i];
    return NULL;
}

size_t rm_jobs_count(rm_jobs_t *self)
{
    return self->count;
}

rm_job_t *rm_jobs_at(rm_jobs_t *self, size_t index)
{
    return index < self->count ? self->jobs[index] : NULL;
}

static bool job_runnable(const rm_job_t *job, size_t *first_pending)
{
    if (job->rec.canceled || job->rec.error[0])
        return false;
    for (size_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state == RM_FRAME_PENDING) {
            *first_pending = i;
            return true;
        }
    return false;
}

uint32_t rm_jobs_next_task(rm_jobs_t *self, const char *node, uint64_t epoch, rm_job_t **job_out,
                           uint64_t *frames, uint32_t max)
{
    rm_job_t *best = NULL;
    size_t best_first = 0;
    for (size_t i = 0; i < self->count; i++) {
        size_t first;
        if (!job_runnable(self->jobs[i], &first))
            continue;
        if (!best || self->jobs[i]->rec.spec.priority > best->rec.spec.priority) {
            best = self->jobs[i];
            best_first = first;
        }
    }
    *job_out = best;
    if (!best)
        return 0;
    uint64_t chunk = best->rec.spec.chunk ? best->rec.spec.chunk : 1;
    uint32_t n = 0;
    for (size_t i = best_first; i < best->rec.frames.count && n < max && n < chunk; i++) {
        rm_frame_rec_t *f = &best->rec.frames.items[i];
        if (f->state != RM_FRAME_PENDING)
            break;
        f->state = RM_FRAME_ASSIGNED;
        f->epoch = epoch;
        free(f->node);
        f->node = strdup_or_empty(node);
        best->progress[i] = 0;
        frames[n++] = f->frame;
    }
    if (best->rec.started_at == 0) {
        journal_entry_t entry = {.kind = ENTRY_START, .at = now_ms()};
        best->rec.started_at = entry.at;
        job_append(best, &entry, NULL); /* only informative: losing it loses nothing */
        maybe_compact(best);
    }
    best->version++;
    return n;
}

static bool all_done(const rm_job_t *job)
{
    for (size_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state != RM_FRAME_DONE)
            return false;
    return true;
}

static int finish(rm_job_t *job, rm_err_t *err)
{
    journal_entry_t entry = {.kind = ENTRY_FINISH, .at = now_ms()};
    if (job_append(job, &entry, err) != 0)
        return -1;
    job->rec.finished_at = entry.at;
    maybe_compact(job);
    return 0;
}

/*  Journals a frame's new record, then applies it. */
static int commit_frame(rm_job_t *job, rm_frame_rec_t *next, rm_err_t *err)
{
    journal_entry_t entry = {.kind = ENTRY_FRAME, .frame = *next, .at = now_ms()};
    if (job_append(job, &entry, err) != 0) {
        rm_codec_free(&frame_rec_desc, next);
        return -1;
    }
    apply_entry(job, &entry);
    rm_codec_free(&frame_rec_desc, &entry.frame);
    maybe_compact(job);
    return 0;
}

int rm_job_frame_done(rm_job_t *job, uint64_t frame, const rm_hash_t *output, uint64_t size,
                      const char *file, uint64_t render_ms, const char *node, rm_err_t *err)
{
    rm_frame_rec_t *cur = frame_at(job, frame, NULL);
    if (!cur)
        return rm_err_set(err, RM_ENOTFOUND, "job %s has no frame %llu", job->rec.spec.job_id,
                          (unsigned long long)frame);
    if (cur->state == RM_FRAME_DONE)
        return 0;
    rm_frame_rec_t next = {0};
    if (rm_codec_copy(&frame_rec_desc, &next, cur, err) != 0)
        return -1;
    next.state = RM_FRAME_DONE;
    next.output = *output;
    next.size = size;
    next.render_ms = render_ms;
    free(next.file);
    free(next.node);
    next.file = strdup_or_empty(file);
    next.node = strdup_or_empty(node);
    free(next.error);
    next.error = strdup(""); /* the failures before are in the job log */
    if (commit_frame(job, &next, err) != 0)
        return -1;
    if (all_done(job))
        return finish(job, err);
    return 0;
}

int rm_job_frame_failed(rm_job_t *job, uint64_t frame, const char *reason, uint64_t max_attempts,
                        rm_err_t *err)
{
    rm_frame_rec_t *cur = frame_at(job, frame, NULL);
    if (!cur)
        return rm_err_set(err, RM_ENOTFOUND, "job %s has no frame %llu", job->rec.spec.job_id,
                          (unsigned long long)frame);
    if (cur->state == RM_FRAME_DONE || cur->state == RM_FRAME_FAILED)
        return 0;
    rm_frame_rec_t next = {0};
    if (rm_codec_copy(&frame_rec_desc, &next, cur, err) != 0)
        return -1;
    next.attempts++;
    next.state = next.attempts >= max_attempts ? RM_FRAME_FAILED : RM_FRAME_PENDING;
    free(next.error);
    next.error = strdup_or_empty(reason);
    bool fatal = next.state == RM_FRAME_FAILED;
    if (commit_frame(job, &next, err) != 0)
        return -1;
    if (fatal) {
        char why[RM_ERR_MSG_MAX];
        snprintf(why, sizeof why, "frame %llu failed %llu times; last: %s",
                 (unsigned long long)frame, (unsigned long long)max_attempts, reason);
        return rm_job_fail(job, why, err);
    }
    return 0;
}

void rm_job_frame_release(rm_job_t *job, uint64_t frame, const char *reason)
{
    rm_frame_rec_t *cur = frame_at(job, frame, NULL);
    if (!cur || cur->state != RM_FRAME_ASSIGNED)
        return;
    cur->state = RM_FRAME_PENDING;
    if (reason) {
        free(cur->error);
        cur->error = strdup_or_empty(reason);
    }
    job->version++;
}

int rm_job_fail(rm_job_t *job, const char *reason, rm_err_t *err)
{
    if (job->rec.error[0])
        return 0;
    journal_entry_t entry = {.kind = ENTRY_FAIL, .text = (char *)reason, .at = now_ms()};
    if (job_append(job, &entry, err) != 0)
        return -1;
    free(job->rec.error);
    job->rec.error = strdup_or_empty(reason);
    for (size_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state == RM_FRAME_ASSIGNED)
            job->rec.frames.items[i].state = RM_FRAME_PENDING;
    job->version++;
    maybe_compact(job);
    return finish(job, err);
}

int rm_job_cancel(rm_job_t *job, rm_err_t *err)
{
    if (job->rec.canceled)
        return 0;
    journal_entry_t entry = {.kind = ENTRY_CANCEL, .at = now_ms()};
    if (job_append(job, &entry, err) != 0)
        return -1;
    job->rec.canceled = true;
    for (size_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state == RM_FRAME_ASSIGNED)
            job->rec.frames.items[i].state = RM_FRAME_PENDING;
    job->version++;
    maybe_compact(job);
    if (job->rec.finished_at == 0)
        return finish(job, err);
    return 0;
}

void rm_job_frame_progress(rm_job_t *job, uint64_t frame, uint64_t percent)
{
    size_t index;
    if (frame_at(job, frame, &index) && job->progress[index] != percent) {
        job->progress[index] = percent;
        job->version++;
    }
}

const char *rm_job_id(const rm_job_t *job)
{
    return job->rec.spec.job_id;
}

const rm_job_spec_t *rm_job_spec(const rm_job_t *job)
{
    return &job->rec.spec;
}

const char *rm_job_state(const rm_job_t *job)
{
    if (job->rec.canceled)
        return "canceled";
    if (job->rec.error[0])
        return "failed";
    if (all_done(job))
        return "done";
    for (size_t i = 0; i < job->rec.frames.count; i++) {
        const rm_frame_rec_t *f = &job->rec.frames.items[i];
        if (f->state != RM_FRAME_PENDING || f->attempts > 0)
            return "rendering";
    }
    return "queued";
}

bool rm_job_finished(const rm_job_t *job)
{
    return job->rec.canceled || job->rec.error[0] || all_done(job);
}

uint64_t rm_job_version(const rm_job_t *job)
{
    return job->version;
}

const rm_frame_rec_t *rm_job_frame(const rm_job_t *job, uint64_t frame)
{
    return frame_at(job, frame, NULL);
}

const char *rm_job_dir(const rm_job_t *job)
{
    return job->dir;
}

void rm_job_log(rm_job_t *job, const char *fmt, ...)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/job.log", job->dir);
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    time_t t = time(NULL);
    struct tm tm;
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
    fprintf(f, "%s ", stamp);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

int rm_jobs_check_record(const uint8_t *data, size_t len, bool journal_entry, rm_err_t *err)
{
    const rm_struct_desc_t *desc = journal_entry ? &journal_desc : &job_record_desc;
    union {
        job_record_t record;
        journal_entry_t entry;
    } obj;
    memset(&obj, 0, sizeof obj);
    size_t used = 0;
    if (rm_codec_decode(desc, &obj, data, len, &used, err) != 0)
        return -1;
    rm_codec_free(desc, &obj);
    return 0;
}

static const char *frame_state_name(uint64_t state)
{
    static const char *const names[] = {"pending", "assigned", "done", "failed"};
    return state <= RM_FRAME_FAILED ? names[state] : "unknown";
}

int rm_job_summary(const rm_job_t *job, rm_job_summary_t *out, rm_err_t *err)
{
    rm_job_summary_t s = {0};
    const rm_job_spec_t *spec = &job->rec.spec;
    s.job_id = spec->job_id;
    s.name = spec->name;
    s.state = (char *)rm_job_state(job);
    s.priority = spec->priority;
    s.frames_total = job->rec.frames.count;
    for (size_t i = 0; i < job->rec.frames.count; i++) {
        uint64_t st = job->rec.frames.items[i].state;
        s.frames_done += st == RM_FRAME_DONE;
        s.frames_failed += st == RM_FRAME_FAILED;
        s.frames_rendering += st == RM_FRAME_ASSIGNED;
    }
    s.submitted_at = spec->submitted_at;
    s.started_at = job->rec.started_at;
    s.finished_at = job->rec.finished_at;
    s.submitter = spec->submitter;
    s.error = job->rec.error;
    s.version = job->version;
    memset(out, 0, sizeof *out);
    return rm_codec_copy(&rm_job_summary_desc, out, &s, err);
}

int rm_job_info(const rm_job_t *job, rm_job_reply_t *out, rm_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (rm_job_summary(job, &out->summary, err) != 0 ||
        rm_codec_copy(&rm_job_spec_desc, &out->spec, &job->rec.spec, err) != 0)
        goto fail;
    uint32_t n = job->rec.frames.count;
    out->frames.items = calloc(n ? n : 1, sizeof(rm_frame_info_t));
    if (!out->frames.items) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        goto fail;
    }
    out->frames.count = n;
    for (uint32_t i = 0; i < n; i++) {
        const rm_frame_rec_t *f = &job->rec.frames.items[i];
        rm_frame_info_t *o = &out->frames.items[i];
        o->frame = f->frame;
        o->state = strdup(frame_state_name(f->state));
        o->node = strdup_or_empty(f->node);
        o->attempts = f->attempts;
        o->render_ms = f->render_ms;
        o->progress = f->state == RM_FRAME_ASSIGNED ? job->progress[i] : 0;
        o->output = f->output;
        o->size = f->size;
        o->file = strdup_or_empty(f->file);
        o->error = strdup_or_empty(f->error);
        if (!o->state || !o->node || !o->file || !o->error) {
            rm_err_set(err, RM_ENOMEM, "out of memory");
            goto fail;
        }
    }
    return 0;
fail:
    rm_codec_free(rm_msg_desc(RM_MSG_JOB_REPLY), out);
    return -1;
}
