#include "rm_jobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>
#include <sodium.h>

#include "rm_frames.h"
#include "rm_fs.h"

#define JOURNAL_MAX_ENTRY (1024 * 1024)
/*  Format of job.state and of the journal entries beside it.  1 had no
    failed_on; it is still read, and rewritten as 2 when loaded. */
#define RECORD_VERSION 2
/*  Largest snapshot loaded or record merged. */
#define RECORD_MAX_BYTES ((size_t)RM_MAX_MSG_SIZE * 4)

enum { ENTRY_FRAME = 1, ENTRY_FAIL, ENTRY_CANCEL, ENTRY_START, ENTRY_FINISH, ENTRY_SUBMITTED };

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

/*  Format 2 appends failed_on to the fields of format 1. */
#define FRAME_REC_FIELDS_V1                                                                        \
    RM_FIELD(rm_frame_rec_t, frame, RM_F_U64, RM_FRAME_MAX, "frame number"),                       \
        RM_FIELD(rm_frame_rec_t, state, RM_F_U64, RM_FRAME_FAILED,                                 \
                 "0 pending 1 assigned 2 done 3 failed"),                                          \
        RM_FIELD(rm_frame_rec_t, epoch, RM_F_U64, 0, "coordinator epoch of the assignment"),       \
        RM_FIELD(rm_frame_rec_t, node, RM_F_STR, RM_MAX_NAME,                                      \
                 "node assigned or that rendered it"),                                             \
        RM_FIELD(rm_frame_rec_t, attempts, RM_F_U64, 0, "failed attempts"),                        \
        RM_FIELD(rm_frame_rec_t, render_ms, RM_F_U64, 0, "render time"),                           \
        RM_FIELD(rm_frame_rec_t, output, RM_F_B32, 0, "one-file manifest of the output"),          \
        RM_FIELD(rm_frame_rec_t, size, RM_F_U64, 0, "output bytes"),                               \
        RM_FIELD(rm_frame_rec_t, file, RM_F_STR, RM_MAX_PATH, "output file name"),                 \
        RM_FIELD(rm_frame_rec_t, error, RM_F_STR, RM_MAX_TEXT, "last failure reason")

static const rm_field_t frame_rec_v1_fields[] = {FRAME_REC_FIELDS_V1};
static const rm_struct_desc_t frame_rec_v1_desc =
    RM_DESC(rm_frame_rec_t, "frame_record", frame_rec_v1_fields, "a frame's durable state, v1");

static const rm_field_t frame_rec_fields[] = {
    FRAME_REC_FIELDS_V1,
    /* The codec bounds the count; check_frame each name. */
    RM_FIELD_LIST(rm_frame_rec_t, failed_on, RM_F_STR, RM_MAX_FAILED_ON,
                  "nodes the frame failed on, sorted"),
    RM_FIELD(rm_frame_rec_t, warning, RM_F_STR, RM_MAX_TEXT,
             "what Blender reported (missing files)"),
    RM_FIELD(rm_frame_rec_t, log, RM_F_B32, 0, "one-file manifest of the last render's log"),
};
/* warning and log may be absent: records written before they existed. */
const rm_struct_desc_t rm_frame_rec_desc =
    RM_DESC_OPT(rm_frame_rec_t, "frame_record", frame_rec_fields, 2, "a frame's durable state");

#define JOB_RECORD_FIELDS(FRAME_DESC)                                                              \
    RM_FIELD(job_record_t, version, RM_F_U64, 0, "record format, 2"),                              \
        RM_FIELD_STRUCT(job_record_t, spec, rm_job_spec_desc, "the job as submitted"),             \
        RM_FIELD(job_record_t, canceled, RM_F_BOOL, 0, "cancelled by a user"),                     \
        RM_FIELD(job_record_t, error, RM_F_STR, RM_MAX_TEXT, "why the job failed"),                \
        RM_FIELD(job_record_t, started_at, RM_F_I64, 0, "unix ms of the first assignment"),        \
        RM_FIELD(job_record_t, finished_at, RM_F_I64, 0, "unix ms it finished"),                   \
        RM_FIELD_LIST_OF(job_record_t, frames, FRAME_DESC, RM_MAX_FRAMES, "every frame")

static const rm_field_t job_record_v1_fields[] = {JOB_RECORD_FIELDS(frame_rec_v1_desc)};
static const rm_struct_desc_t job_record_v1_desc =
    RM_DESC(job_record_t, "job_record", job_record_v1_fields, "snapshot of a job, v1");
static const rm_field_t job_record_fields[] = {JOB_RECORD_FIELDS(rm_frame_rec_desc)};
static const rm_struct_desc_t job_record_desc =
    RM_DESC(job_record_t, "job_record", job_record_fields, "snapshot of a job");

#define JOURNAL_FIELDS(FRAME_DESC, LAST_KIND, KINDS)                                               \
    RM_FIELD(journal_entry_t, kind, RM_F_U64, LAST_KIND, KINDS),                                   \
        RM_FIELD_STRUCT(journal_entry_t, frame, FRAME_DESC, "the frame's new record"),             \
        RM_FIELD(journal_entry_t, text, RM_F_STR, RM_MAX_TEXT, "failure reason"),                  \
        RM_FIELD(journal_entry_t, at, RM_F_I64, 0, "unix ms")

static const rm_field_t journal_v1_fields[] = {
    JOURNAL_FIELDS(frame_rec_v1_desc, ENTRY_FINISH, "1 frame 2 fail 3 cancel 4 start 5 finish")};
static const rm_struct_desc_t journal_v1_desc =
    RM_DESC(journal_entry_t, "journal_entry", journal_v1_fields, "one change of a job, v1");
static const rm_field_t journal_fields[] = {JOURNAL_FIELDS(
    rm_frame_rec_desc, ENTRY_SUBMITTED, "1 frame 2 fail 3 cancel 4 start 5 finish 6 submitted_at")};
static const rm_struct_desc_t journal_desc =
    RM_DESC(journal_entry_t, "journal_entry", journal_fields, "one change of a job");

/*  The descriptors of each format: a journal belongs to its snapshot. */
typedef struct {
    uint64_t version;
    const rm_struct_desc_t *record;
    const rm_struct_desc_t *journal;
} format_t;

static const format_t formats[] = {
    {1, &job_record_v1_desc, &journal_v1_desc},
    {RECORD_VERSION, &job_record_desc, &journal_desc},
};

/*  Changes not yet journalled: built first, written with one fsync, then
    applied (see job_apply_batch). */
typedef struct {
    journal_entry_t *items;
    size_t count;
    size_t cap;
} batch_t;

struct _rm_job_t {
    job_record_t rec;
    char *dir;
    int journal_fd;
    uint64_t journal_entries;
    uint64_t version;
    uint64_t *progress; /* per frame index, percent while assigned */
    /* Local changes not yet taken by rm_job_take_changes (merges are not
       local: they came from a peer, which spreads them itself). */
    uint8_t *dirty;       /* per frame index */
    uint32_t *dirty_list; /* indexes of the dirty frames */
    uint32_t ndirty;
    bool dirty_job; /* a job-level field changed */
    bool merging;   /* changes being applied come from a peer or the disk */
    /* Frames per state and frames with a failure anywhere, kept up to date
       by apply_entry (set by recount after bulk changes): the scheduler
       asks these per assignment, so they must not cost a scan. */
    uint64_t counts[4];
    uint64_t with_failures;
    bool counted;
    uint64_t digest_version; /* rm_job_digest's cache */
    rm_hash_t digest;
};

struct _rm_jobs_t {
    char *root;
    rm_job_t **jobs;
    size_t count;
    size_t cap;
};

static char *strdup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/*  Reasons come from Blender's output: cut to what the codec stores, or the
    snapshot could no longer be written. */
static char *strdup_text(const char *s)
{
    return strndup(s ? s : "", RM_MAX_TEXT);
}

/*  Writes the snapshot atomically, then empties the journal it includes. */
static int job_write_snapshot(rm_job_t *job, rm_err_t *err)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/job.state", job->dir);
    if (rm_codec_encode(&job_record_desc, &job->rec, &buf, &len, err) != 0)
        return -1;
    int rc = rm_fs_write_atomic(path, buf, len, 0600, err);
    free(buf);
    if (rc != 0)
        return -1;
    if (job->journal_fd >= 0 && ftruncate(job->journal_fd, 0) == 0)
        job->journal_entries = 0;
    return 0;
}

/*  Appends the length-prefixed encoding of one entry to *buf. */
static int encode_entry(const journal_entry_t *entry, uint8_t **buf, size_t *len, rm_err_t *err)
{
    size_t start = *len;
    uint8_t *grown = realloc(*buf, start + 4);
    if (!grown)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    *buf = grown;
    *len = start + 4;
    if (rm_codec_encode(&journal_desc, entry, buf, len, err) != 0)
        return -1;
    size_t n = *len - start - 4;
    /* Replay stops at a longer entry, and would drop every later one. */
    if (n > JOURNAL_MAX_ENTRY)
        return rm_err_set(err, RM_EINVAL, "a journal entry of %zu bytes is over %d", n,
                          JOURNAL_MAX_ENTRY);
    uint8_t *h = *buf + start;
    h[0] = (uint8_t)(n >> 24);
    h[1] = (uint8_t)(n >> 16);
    h[2] = (uint8_t)(n >> 8);
    h[3] = (uint8_t)n;
    return 0;
}

/*  Appends entries, with one fdatasync when `sync`: all are durable, or
    none is.  Without it they survive a crash of meshd (the kernel has them)
    but maybe not a power loss: fine for what is only worth redoing
    (assignments, releases), too slow to fsync on every task. */
static int job_append_many(rm_job_t *job, const journal_entry_t *entries, size_t count, bool sync,
                           rm_err_t *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    for (size_t i = 0; i < count; i++)
        if (encode_entry(&entries[i], &buf, &len, err) != 0) {
            free(buf);
            return -1;
        }
    off_t start = lseek(job->journal_fd, 0, SEEK_END);
    if (rm_fs_write_all(job->journal_fd, buf, len) != 0 ||
        (sync && fdatasync(job->journal_fd) != 0)) {
        int e = errno;
        free(buf);
        /* A torn entry at the tail would hide later ones: cut it off. */
        if (start >= 0 && ftruncate(job->journal_fd, start) != 0)
            e = errno;
        return rm_err_set(err, rm_err_from_errno(e), "cannot write the journal of job %s: %s",
                          job->rec.spec.job_id, strerror(e));
    }
    free(buf);
    job->journal_entries += count;
    return 0;
}

static int job_append(rm_job_t *job, const journal_entry_t *entry, rm_err_t *err)
{
    return job_append_many(job, entry, 1, true, err);
}

static journal_entry_t *batch_add(batch_t *b, uint64_t kind, rm_err_t *err)
{
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        journal_entry_t *grown = realloc(b->items, cap * sizeof *grown);
        if (!grown) {
            rm_err_set(err, RM_ENOMEM, "out of memory");
            return NULL;
        }
        b->items = grown;
        b->cap = cap;
    }
    journal_entry_t *e = &b->items[b->count++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->at = zclock_time();
    return e;
}

static void batch_free(batch_t *b)
{
    for (size_t i = 0; i < b->count; i++)
        rm_codec_free(&journal_desc, &b->items[i]);
    free(b->items);
    memset(b, 0, sizeof *b);
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

/* ------------------------------------------------------------------ */
/* The lattice of a frame record (rule in rm_jobs.h)                   */
/* ------------------------------------------------------------------ */

enum { CLASS_LIVE, CLASS_FAILED, CLASS_DONE };

static int frame_class(uint64_t state)
{
    if (state == RM_FRAME_DONE)
        return CLASS_DONE;
    return state == RM_FRAME_FAILED ? CLASS_FAILED : CLASS_LIVE;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

static int cmp_str(const char *a, const char *b)
{
    int c = strcmp(a ? a : "", b ? b : "");
    return (c > 0) - (c < 0);
}

static int cmp_hash(const rm_hash_t *a, const rm_hash_t *b)
{
    int c = memcmp(a->b, b->b, sizeof a->b);
    return (c > 0) - (c < 0);
}

/*  Every field the winner carries, so that equal means identical and the
    result never depends on the order of the arguments. */
static int cmp_carried(const rm_frame_rec_t *a, const rm_frame_rec_t *b)
{
    int c;
    if ((c = cmp_u64(a->epoch, b->epoch)) || (c = cmp_str(a->node, b->node)) ||
        (c = cmp_hash(&a->output, &b->output)) || (c = cmp_u64(a->size, b->size)) ||
        (c = cmp_u64(a->render_ms, b->render_ms)) || (c = cmp_str(a->file, b->file)) ||
        (c = cmp_str(a->error, b->error)) || (c = cmp_str(a->warning, b->warning)))
        return c;
    return cmp_hash(&a->log, &b->log);
}

int rm_frame_rec_cmp(const rm_frame_rec_t *a, const rm_frame_rec_t *b)
{
    int ca = frame_class(a->state), cb = frame_class(b->state), c;
    if (ca != cb)
        return ca < cb ? -1 : 1;
    /* Attempts first: the live record with more attempts is the later one
       (its attempts are then the maximum, which keeps the join associative). */
    /* Then the stamp: the coordinator stamps each assignment and each
       give-back with (epoch, sequence), so its latest decision wins. */
    if (ca == CLASS_LIVE &&
        ((c = cmp_u64(a->attempts, b->attempts)) || (c = cmp_u64(a->epoch, b->epoch)) ||
         (c = cmp_u64(a->state, b->state))))
        return c;
    if (ca == CLASS_DONE && (c = cmp_hash(&b->output, &a->output)) != 0)
        return c; /* the smaller output wins */
    return cmp_carried(a, b);
}

static void names_free(char **items, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

/*  *out = the first RM_MAX_FAILED_ON names of a | b (both sorted, distinct).
    Keeping the smallest names makes the cap itself associative. */
static int names_union(char *const *a, uint32_t na, char *const *b, uint32_t nb, char ***out,
                       uint32_t *nout, rm_err_t *err)
{
    uint32_t cap = na + nb < RM_MAX_FAILED_ON ? na + nb : RM_MAX_FAILED_ON;
    char **items = calloc(cap ? cap : 1, sizeof *items);
    uint32_t i = 0, j = 0, n = 0;
    if (!items)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    while (n < cap && (i < na || j < nb)) {
        int c = i >= na ? 1 : j >= nb ? -1 : strcmp(a[i], b[j]);
        const char *next = c <= 0 ? a[i++] : b[j++];
        if (c == 0)
            j++;
        if (!(items[n++] = strdup(next))) {
            names_free(items, n);
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        }
    }
    *out = items;
    *nout = n;
    return 0;
}

static int cmp_name_ref(const void *key, const void *item)
{
    return strcmp(key, *(char *const *)item);
}

bool rm_frame_failed_on(const rm_frame_rec_t *frame, const char *node)
{
    return frame && node && frame->failed_on.count &&
           bsearch(node, frame->failed_on.items, frame->failed_on.count, sizeof(char *),
                   cmp_name_ref) != NULL;
}

/*  True if names_union(a, b) would give a back. */
static bool names_absorb(const rm_frame_rec_t *a, const rm_frame_rec_t *b)
{
    uint32_t na = a->failed_on.count;
    for (uint32_t i = 0; i < b->failed_on.count; i++) {
        const char *name = b->failed_on.items[i];
        bool cut = na == RM_MAX_FAILED_ON && strcmp(name, a->failed_on.items[na - 1]) > 0;
        if (!cut && !rm_frame_failed_on(a, name))
            return false;
    }
    return true;
}

/*  True if merging `theirs` into `ours` leaves ours as it is: tells what to
    journal without building every frame's join. */
static bool frame_absorbs(const rm_frame_rec_t *ours, const rm_frame_rec_t *theirs)
{
    return rm_frame_rec_cmp(ours, theirs) >= 0 && ours->attempts >= theirs->attempts &&
           names_absorb(ours, theirs);
}

/*  *out (zeroed by the caller) = the join of a and b, deep-copied. */
static int frame_join(const rm_frame_rec_t *a, const rm_frame_rec_t *b, rm_frame_rec_t *out,
                      rm_err_t *err)
{
    rm_frame_rec_t win = rm_frame_rec_cmp(a, b) >= 0 ? *a : *b;
    win.failed_on.items = NULL; /* shallow: the union replaces it */
    win.failed_on.count = 0;
    win.attempts = a->attempts > b->attempts ? a->attempts : b->attempts;
    if (rm_codec_copy(&rm_frame_rec_desc, out, &win, err) != 0)
        return -1;
    if (names_union(a->failed_on.items, a->failed_on.count, b->failed_on.items, b->failed_on.count,
                    &out->failed_on.items, &out->failed_on.count, err) != 0) {
        rm_codec_free(&rm_frame_rec_desc, out);
        return -1;
    }
    return 0;
}

/*  What a join needs of a record: failed_on sorted, distinct, names of
    1..RM_MAX_NAME bytes (the codec bounds only the count).  From the
    network or a damaged disk: RM_EPROTO, never an assert. */
static int check_frame(const rm_frame_rec_t *f, rm_err_t *err)
{
    for (uint32_t i = 0; i < f->failed_on.count; i++) {
        const char *name = f->failed_on.items[i];
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > RM_MAX_NAME)
            return rm_err_set(err, RM_EPROTO, "frame %llu: failed_on[%u] has %zu bytes, not 1-%d",
                              (unsigned long long)f->frame, i, n, RM_MAX_NAME);
        if (i > 0 && strcmp(f->failed_on.items[i - 1], name) >= 0)
            return rm_err_set(err, RM_EPROTO, "frame %llu: failed_on is not sorted and distinct",
                              (unsigned long long)f->frame);
    }
    return 0;
}

/*  Frames strictly ascending (frame_at bisects) and each one well formed. */
static int check_record(const job_record_t *rec, rm_err_t *err)
{
    for (uint32_t i = 0; i < rec->frames.count; i++) {
        const rm_frame_rec_t *f = &rec->frames.items[i];
        if (i > 0 && rec->frames.items[i - 1].frame >= f->frame)
            return rm_err_set(err, RM_EPROTO, "frame records are not in ascending order at %u", i);
        if (check_frame(f, err) != 0)
            return -1;
    }
    return 0;
}

static int64_t min_nonzero(int64_t a, int64_t b)
{
    if (a == 0 || b == 0)
        return a ? a : b;
    return a < b ? a : b;
}

/*  The job's failure reason after a merge: the smallest non-empty. */
static const char *join_reason(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    if (!a[0] || !b[0])
        return a[0] ? a : b;
    return strcmp(a, b) <= 0 ? a : b;
}

static void recount(rm_job_t *job)
{
    memset(job->counts, 0, sizeof job->counts);
    job->with_failures = 0;
    for (uint32_t i = 0; i < job->rec.frames.count; i++) {
        const rm_frame_rec_t *f = &job->rec.frames.items[i];
        if (f->state < 4)
            job->counts[f->state]++;
        job->with_failures += f->failed_on.count > 0;
    }
    job->counted = true;
}

/*  The counts after one frame record replaces another. */
static void count_change(rm_job_t *job, const rm_frame_rec_t *before, const rm_frame_rec_t *after)
{
    if (!job->counted || before->state >= 4 || after->state >= 4)
        return;
    job->counts[before->state]--;
    job->counts[after->state]++;
    job->with_failures += (after->failed_on.count > 0) - (before->failed_on.count > 0);
}

static void mark_dirty(rm_job_t *job, size_t index)
{
    if (job->merging || !job->dirty || job->dirty[index])
        return;
    job->dirty[index] = 1;
    job->dirty_list[job->ndirty++] = (uint32_t)index;
}

static void apply_entry(rm_job_t *job, journal_entry_t *entry)
{
    if (entry->kind != ENTRY_FRAME && !job->merging)
        job->dirty_job = true;
    switch (entry->kind) {
    case ENTRY_FRAME: {
        size_t index = 0;
        rm_frame_rec_t *rec = frame_at(job, entry->frame.frame, &index);
        if (rec) {
            mark_dirty(job, index);
            count_change(job, rec, &entry->frame);
            rm_codec_free(&rm_frame_rec_desc, rec);
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
    case ENTRY_SUBMITTED:
        job->rec.spec.submitted_at = entry->at;
        break;
    default:
        break;
    }
    job->version++;
}

/*  Replays a journal written in the format of `desc`; a torn or damaged
    tail (crash mid-append) ends it. */
static void job_replay(rm_job_t *job, const rm_struct_desc_t *desc)
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
        int rc = rm_codec_decode(desc, &entry, buf, len, &used, NULL);
        free(buf);
        if (rc == 0 && entry.kind == ENTRY_FRAME && check_frame(&entry.frame, NULL) != 0)
            rc = -1;
        if (rc != 0) {
            rm_codec_free(desc, &entry);
            break;
        }
        apply_entry(job, &entry);
        rm_codec_free(desc, &entry);
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
    free(job->dirty);
    free(job->dirty_list);
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
    size_t n = job->rec.frames.count ? job->rec.frames.count : 1;
    job->progress = calloc(n, sizeof(uint64_t));
    job->dirty = calloc(n, 1);
    job->dirty_list = calloc(n, sizeof(uint32_t));
    if (!job->progress || !job->dirty || !job->dirty_list)
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

/*  The format of a record: its first field, read without decoding the rest. */
static const format_t *record_format(const uint8_t *data, size_t len, rm_err_t *err)
{
    rm_reader_t r;
    uint32_t fields;
    uint64_t version;
    rm_reader_init(&r, data, len);
    if (rm_read_array(&r, 0, &fields, err) != 0)
        return NULL;
    if (fields == 0) {
        rm_err_set(err, RM_EPROTO, "job_record: no fields");
        return NULL;
    }
    if (rm_read_u64(&r, &version, err) != 0) {
        rm_err_prefix(err, "job_record.version: ");
        return NULL;
    }
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (formats[i].version == version)
            return &formats[i];
    rm_err_set(err, RM_EPROTO, "job record format %llu is not one this meshd reads (1 to %d)",
               (unsigned long long)version, RECORD_VERSION);
    return NULL;
}

/*  Decodes a snapshot of any known format into rec (zeroed) as the current
    format; *fmt tells how its journal is written. */
static int decode_snapshot(const uint8_t *data, size_t len, job_record_t *rec, const format_t **fmt,
                           rm_err_t *err)
{
    size_t used = 0;
    *fmt = record_format(data, len, err);
    if (!*fmt || rm_codec_decode((*fmt)->record, rec, data, len, &used, err) != 0)
        return -1;
    if (check_record(rec, err) != 0) {
        rm_codec_free(&job_record_desc, rec);
        return -1;
    }
    rec->version = RECORD_VERSION; /* format 1 lacks only failed_on: empty */
    return 0;
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
    const format_t *fmt = NULL;
    if (got != st.st_size || decode_snapshot(buf, (size_t)got, &job->rec, &fmt, err) != 0) {
        free(buf);
        job_free(&job);
        if (got != st.st_size)
            rm_err_set(err, RM_EIO, "short read");
        return rm_err_prefix(err, "%s is damaged: ", path);
    }
    free(buf);
    if (job_open_journal(job, err) != 0 || job_alloc_progress(job, err) != 0) {
        job_free(&job);
        return -1;
    }
    job->merging = true; /* what the disk holds was spread before, or will be by digests */
    job_replay(job, fmt->journal);
    job->merging = false;
    /* Renders in flight died with the process that ran them. */
    for (uint32_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state == RM_FRAME_ASSIGNED)
            job->rec.frames.items[i].state = RM_FRAME_PENDING;
    recount(job);
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
    recount(job);
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
    return rm_fs_fsync_dir(root, err);
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
    job->rec.version = RECORD_VERSION;
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
    job->dirty_job = true; /* a new job: its whole record goes out */
    if (self->count > 1)   /* rm_jobs_at is in submission order */
        qsort(self->jobs, self->count, sizeof *self->jobs, cmp_job_age);
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

/*  Adds the entry that assigns frame f to node in epoch. */
static int add_assignment(batch_t *batch, const rm_frame_rec_t *f, const char *node, uint64_t epoch)
{
    journal_entry_t *e = batch_add(batch, ENTRY_FRAME, NULL);
    if (!e)
        return -1;
    char *name = strdup_or_empty(node);
    if (!name || rm_codec_copy(&rm_frame_rec_desc, &e->frame, f, NULL) != 0) {
        free(name);
        batch->count--;
        return -1;
    }
    e->frame.state = RM_FRAME_ASSIGNED;
    e->frame.epoch = epoch;
    free(e->frame.node);
    e->frame.node = name;
    return 0;
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
    batch_t batch = {0};
    uint32_t n = 0;
    for (size_t i = best_first; i < best->rec.frames.count && n < max && n < chunk; i++, n++)
        if (best->rec.frames.items[i].state != RM_FRAME_PENDING ||
            add_assignment(&batch, &best->rec.frames.items[i], node, epoch) != 0)
            break;
    if (best->rec.started_at == 0 && batch_add(&batch, ENTRY_START, NULL) == NULL)
        n = 0; /* out of memory: assign nothing rather than half */
    if (n > 0) {
        job_append_many(best, batch.items, batch.count, false, NULL); /* see rm_jobs.h */
        for (uint32_t k = 0; k < n; k++) {
            frames[k] = batch.items[k].frame.frame;
            best->progress[best_first + k] = 0;
        }
        uint64_t version = best->version;
        for (size_t k = 0; k < batch.count; k++)
            apply_entry(best, &batch.items[k]);
        best->version = version + 1;
        maybe_compact(best);
    }
    batch_free(&batch);
    return n;
}

static bool all_done(const rm_job_t *job)
{
    if (job->counted)
        return job->counts[RM_FRAME_DONE] == job->rec.frames.count;
    for (size_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state != RM_FRAME_DONE)
            return false;
    return true;
}

static int finish(rm_job_t *job, rm_err_t *err)
{
    journal_entry_t entry = {.kind = ENTRY_FINISH, .at = zclock_time()};
    if (job_append(job, &entry, err) != 0)
        return -1;
    job->rec.finished_at = entry.at;
    job->dirty_job = true;
    maybe_compact(job);
    return 0;
}

/*  A merge that brought the last frame done: this node saw the job finish
    (finished_at merges by max, so every node ends with the same time). */
static void finish_if_done(rm_job_t *job)
{
    if (job->rec.finished_at == 0 && all_done(job))
        finish(job, NULL);
}

/*  Journals a frame's new record, then applies it. */
static int commit_frame(rm_job_t *job, rm_frame_rec_t *next, rm_err_t *err)
{
    journal_entry_t entry = {.kind = ENTRY_FRAME, .frame = *next, .at = zclock_time()};
    if (job_append(job, &entry, err) != 0) {
        rm_codec_free(&rm_frame_rec_desc, next);
        return -1;
    }
    apply_entry(job, &entry);
    rm_codec_free(&rm_frame_rec_desc, &entry.frame);
    maybe_compact(job);
    return 0;
}

int rm_job_frame_done(rm_job_t *job, uint64_t frame, const rm_frame_output_t *out, const char *node,
                      rm_err_t *err)
{
    rm_frame_rec_t *cur = frame_at(job, frame, NULL);
    if (!cur)
        return rm_err_set(err, RM_ENOTFOUND, "job %s has no frame %llu", job->rec.spec.job_id,
                          (unsigned long long)frame);
    if (cur->state == RM_FRAME_DONE)
        return 0;
    rm_frame_rec_t next = {0};
    if (rm_codec_copy(&rm_frame_rec_desc, &next, cur, err) != 0)
        return -1;
    next.state = RM_FRAME_DONE;
    next.output = out->output;
    next.size = out->size;
    next.render_ms = out->render_ms;
    next.log = out->log;
    free(next.file);
    free(next.node);
    free(next.warning);
    next.file = strdup_or_empty(out->file);
    next.node = strdup_or_empty(node);
    next.warning = strdup_or_empty(out->warning);
    free(next.error);
    next.error = strdup(""); /* the failures before are in the job log */
    if (commit_frame(job, &next, err) != 0)
        return -1;
    if (all_done(job))
        return finish(job, err);
    return 0;
}

/*  Adds node to the record's failed_on. */
static int add_failed_on(rm_frame_rec_t *rec, const char *node, rm_err_t *err)
{
    char **items;
    uint32_t count;
    char *one[1] = {(char *)node};
    if (!node || !node[0])
        return 0;
    if (names_union(rec->failed_on.items, rec->failed_on.count, one, 1, &items, &count, err) != 0)
        return -1;
    names_free(rec->failed_on.items, rec->failed_on.count);
    rec->failed_on.items = items;
    rec->failed_on.count = count;
    return 0;
}

#define MAX_REASONS 4000

static char *failure_reasons(const char *before, const char *node, const char *reason)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return strdup("");
    if (before && before[0])
        fprintf(f, "%s\n", before);
    if (node && node[0])
        fprintf(f, "%s: ", node);
    fprintf(f, "%s", reason ? reason : "");
    if (fclose(f) != 0 || !text)
        return strdup("");
    if (size > MAX_REASONS) { /* keep the latest */
        const char *cut = strchr(text + size - MAX_REASONS, '\n');
        char *tail = strdup(cut ? cut + 1 : text + size - MAX_REASONS);
        free(text);
        return tail;
    }
    return text;
}

int rm_job_frame_failed_on(rm_job_t *job, uint64_t frame, const char *node, const char *reason,
                           uint64_t max_attempts, rm_err_t *err)
{
    rm_frame_rec_t *cur = frame_at(job, frame, NULL);
    if (!cur)
        return rm_err_set(err, RM_ENOTFOUND, "job %s has no frame %llu", job->rec.spec.job_id,
                          (unsigned long long)frame);
    if (node && strlen(node) > RM_MAX_NAME)
        return rm_err_set(err, RM_EINVAL, "node name of %zu bytes, max %d", strlen(node),
                          RM_MAX_NAME);
    if (cur->state == RM_FRAME_DONE || cur->state == RM_FRAME_FAILED)
        return 0;
    rm_frame_rec_t next = {0};
    if (rm_codec_copy(&rm_frame_rec_desc, &next, cur, err) != 0)
        return -1;
    next.attempts++;
    next.state = next.attempts >= max_attempts ? RM_FRAME_FAILED : RM_FRAME_PENDING;
    /* Each failure adds "node: reason", so a job that fails by the
       Flamenco rules reports every node's reason. */
    char *reasons = failure_reasons(next.error, node, reason);
    free(next.error);
    next.error = reasons;
    if (add_failed_on(&next, node, err) != 0) {
        rm_codec_free(&rm_frame_rec_desc, &next);
        return -1;
    }
    bool fatal = next.state == RM_FRAME_FAILED;
    /* Written now: reason may point into the record that the commit frees. */
    char why[RM_ERR_MSG_MAX];
    snprintf(why, sizeof why, "frame %llu failed %llu times; last: %s", (unsigned long long)frame,
             (unsigned long long)max_attempts, reason ? reason : "");
    if (commit_frame(job, &next, err) != 0)
        return -1;
    return fatal ? rm_job_fail(job, why, err) : 0;
}

int rm_job_frame_failed(rm_job_t *job, uint64_t frame, const char *reason, uint64_t max_attempts,
                        rm_err_t *err)
{
    const rm_frame_rec_t *cur = frame_at(job, frame, NULL);
    char node[RM_MAX_NAME + 1] = "";
    if (cur && cur->node)
        snprintf(node, sizeof node, "%s", cur->node);
    return rm_job_frame_failed_on(job, frame, node, reason, max_attempts, err);
}

void rm_job_frame_release(rm_job_t *job, uint64_t frame, const char *reason)
{
    rm_frame_rec_t *cur = frame_at(job, frame, NULL);
    if (!cur || cur->state != RM_FRAME_ASSIGNED)
        return;
    journal_entry_t entry = {.kind = ENTRY_FRAME, .at = zclock_time()};
    if (rm_codec_copy(&rm_frame_rec_desc, &entry.frame, cur, NULL) != 0) {
        cur->state = RM_FRAME_PENDING; /* out of memory: at least release it */
        recount(job);
        job->version++;
        return;
    }
    entry.frame.state = RM_FRAME_PENDING;
    if (reason) {
        free(entry.frame.error);
        entry.frame.error = strdup_text(reason);
    }
    job_append_many(job, &entry, 1, false, NULL); /* best effort: see rm_jobs.h */
    apply_entry(job, &entry);
    rm_codec_free(&journal_desc, &entry);
    maybe_compact(job);
}

void rm_job_frame_reissue(rm_job_t *job, uint64_t frame, uint64_t stamp, const char *reason)
{
    rm_frame_rec_t *cur = frame_at(job, frame, NULL);
    if (!cur || (cur->state != RM_FRAME_ASSIGNED && cur->state != RM_FRAME_PENDING))
        return;
    journal_entry_t entry = {.kind = ENTRY_FRAME, .at = zclock_time()};
    if (rm_codec_copy(&rm_frame_rec_desc, &entry.frame, cur, NULL) != 0)
        return;
    (void)reason; /* the frame's error keeps failure reasons; the caller logs this one */
    entry.frame.state = RM_FRAME_PENDING;
    entry.frame.epoch = stamp;
    job_append_many(job, &entry, 1, false, NULL); /* worth redoing only, like assignments */
    apply_entry(job, &entry);
    rm_codec_free(&journal_desc, &entry);
    maybe_compact(job);
}

int rm_job_fail(rm_job_t *job, const char *reason, rm_err_t *err)
{
    if (job->rec.error[0])
        return 0;
    char *text = strdup_text(reason);
    if (!text)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    journal_entry_t entry = {.kind = ENTRY_FAIL, .text = text, .at = zclock_time()};
    if (job_append(job, &entry, err) != 0) {
        free(text);
        return -1;
    }
    free(job->rec.error);
    job->rec.error = text;
    job->dirty_job = true;
    for (size_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state == RM_FRAME_ASSIGNED)
            job->rec.frames.items[i].state = RM_FRAME_PENDING;
    recount(job);
    job->version++;
    maybe_compact(job);
    return finish(job, err);
}

int rm_job_cancel(rm_job_t *job, rm_err_t *err)
{
    if (job->rec.canceled)
        return 0;
    journal_entry_t entry = {.kind = ENTRY_CANCEL, .at = zclock_time()};
    if (job_append(job, &entry, err) != 0)
        return -1;
    job->rec.canceled = true;
    job->dirty_job = true;
    for (size_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state == RM_FRAME_ASSIGNED)
            job->rec.frames.items[i].state = RM_FRAME_PENDING;
    recount(job);
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
    if (!journal_entry) {
        job_record_t rec = {0};
        const format_t *fmt;
        if (decode_snapshot(data, len, &rec, &fmt, err) != 0)
            return -1;
        rm_codec_free(&job_record_desc, &rec);
        return 0;
    }
    journal_entry_t entry = {0};
    size_t used = 0;
    int rc = rm_codec_decode(&journal_desc, &entry, data, len, &used, err);
    if (rc == 0 && entry.kind == ENTRY_FRAME)
        rc = check_frame(&entry.frame, err);
    rm_codec_free(&journal_desc, &entry);
    return rc;
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
        o->warning = strdup_or_empty(f->warning);
        o->log = f->log;
        if (!o->state || !o->node || !o->file || !o->error || !o->warning) {
            rm_err_set(err, RM_ENOMEM, "out of memory");
            goto fail;
        }
    }
    return 0;
fail:
    rm_codec_free(rm_msg_desc(RM_MSG_JOB_REPLY), out);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Replication: export and merge                                       */
/* ------------------------------------------------------------------ */

int rm_job_export(const rm_job_t *job, uint8_t **buf, size_t *len, rm_err_t *err)
{
    *buf = NULL;
    *len = 0;
    return rm_codec_encode(&job_record_desc, &job->rec, buf, len, err);
}

uint64_t rm_job_count(const rm_job_t *job, rm_frame_state_t state)
{
    return (unsigned)state < 4 ? job->counts[state] : 0;
}

uint64_t rm_job_failures_on(const rm_job_t *job, const char *node)
{
    uint64_t n = 0;
    if (job->counted && job->with_failures == 0)
        return 0;
    for (uint32_t i = 0; i < job->rec.frames.count; i++)
        n += rm_frame_failed_on(&job->rec.frames.items[i], node);
    return n;
}

/*  Bad input is the sender's fault: whatever the check said, RM_EPROTO. */
static int as_proto(rm_err_t *err)
{
    if (err)
        err->code = RM_EPROTO;
    return -1;
}

/*  Decodes a record from a peer: the current format only, nothing after it. */
static int decode_incoming(const uint8_t *buf, size_t len, job_record_t *rec, rm_err_t *err)
{
    size_t used = 0;
    if (!buf || len == 0 || len > RECORD_MAX_BYTES)
        return rm_err_set(err, RM_EPROTO, "job record of %zu bytes, expected 1 to %zu", len,
                          RECORD_MAX_BYTES);
    const format_t *fmt = record_format(buf, len, err);
    if (!fmt)
        return -1;
    if (fmt->version != RECORD_VERSION)
        return rm_err_set(err, RM_EPROTO, "job record format %llu, expected %d",
                          (unsigned long long)fmt->version, RECORD_VERSION);
    if (rm_codec_decode(&job_record_desc, rec, buf, len, &used, err) != 0)
        return -1;
    if (used != len)
        rm_err_set(err, RM_EPROTO, "%zu bytes after the job record", len - used);
    else if (!valid_job_id(rec->spec.job_id))
        rm_err_set(err, RM_EPROTO, "job id '%s' is not 1-64 lowercase hex characters",
                   rec->spec.job_id);
    else if (check_record(rec, err) == 0)
        return 0;
    rm_codec_free(&job_record_desc, rec);
    return -1;
}

/*  The spec never changes, but for submitted_at (see rm_jobs.h). */
static int spec_check(const rm_job_spec_t *ours, const rm_job_spec_t *theirs, rm_err_t *err)
{
    if (memcmp(ours->manifest.b, theirs->manifest.b, sizeof ours->manifest.b) != 0)
        return rm_err_set(err, RM_EINVAL, "job id %s is taken by another project", ours->job_id);
    rm_job_spec_t a = *ours, b = *theirs; /* shallow, only to encode */
    a.submitted_at = b.submitted_at = 0;
    uint8_t *ea = NULL, *eb = NULL;
    size_t la = 0, lb = 0;
    int rc = -1;
    if (rm_codec_encode(&rm_job_spec_desc, &a, &ea, &la, err) == 0 &&
        rm_codec_encode(&rm_job_spec_desc, &b, &eb, &lb, err) == 0) {
        rc = 0;
        if (la != lb || memcmp(ea, eb, la) != 0)
            rc = rm_err_set(err, RM_EINVAL,
                            "job %s: the record's spec differs from ours (a job's "
                            "spec never changes)",
                            ours->job_id);
    }
    free(ea);
    free(eb);
    return rc;
}

/*  Both records hold the same frames in the same order. */
static int frames_match(const job_record_t *ours, const job_record_t *theirs, rm_err_t *err)
{
    if (ours->frames.count != theirs->frames.count)
        return rm_err_set(err, RM_EPROTO, "job %s: %u frame records, its spec has %u frames",
                          ours->spec.job_id, theirs->frames.count, ours->frames.count);
    for (uint32_t i = 0; i < ours->frames.count; i++)
        if (ours->frames.items[i].frame != theirs->frames.items[i].frame)
            return rm_err_set(err, RM_EPROTO, "job %s: frame record %u is frame %llu, not %llu",
                              ours->spec.job_id, i,
                              (unsigned long long)theirs->frames.items[i].frame,
                              (unsigned long long)ours->frames.items[i].frame);
    return 0;
}

/*  One entry per frame that merging `in` changes. */
static int collect_frames(const rm_job_t *job, const job_record_t *in, batch_t *b, rm_err_t *err)
{
    for (uint32_t i = 0; i < in->frames.count; i++) {
        const rm_frame_rec_t *ours = &job->rec.frames.items[i], *theirs = &in->frames.items[i];
        if (frame_absorbs(ours, theirs))
            continue;
        journal_entry_t *e = batch_add(b, ENTRY_FRAME, err);
        if (!e || frame_join(ours, theirs, &e->frame, err) != 0)
            return -1;
    }
    return 0;
}

static int add_at(batch_t *b, uint64_t kind, int64_t at, rm_err_t *err)
{
    journal_entry_t *e = batch_add(b, kind, err);
    if (!e)
        return -1;
    e->at = at;
    return 0;
}

/*  One entry per job-level field that merging `in` changes. */
static int collect_flags(const rm_job_t *job, const job_record_t *in, batch_t *b, rm_err_t *err)
{
    const job_record_t *ours = &job->rec;
    const char *reason = join_reason(ours->error, in->error);
    int64_t started = min_nonzero(ours->started_at, in->started_at);
    int64_t finished = ours->finished_at > in->finished_at ? ours->finished_at : in->finished_at;
    int64_t submitted = min_nonzero(ours->spec.submitted_at, in->spec.submitted_at);
    if ((in->canceled && !ours->canceled && add_at(b, ENTRY_CANCEL, zclock_time(), err) != 0) ||
        (started != ours->started_at && add_at(b, ENTRY_START, started, err) != 0) ||
        (finished != ours->finished_at && add_at(b, ENTRY_FINISH, finished, err) != 0) ||
        (submitted != ours->spec.submitted_at && add_at(b, ENTRY_SUBMITTED, submitted, err) != 0))
        return -1;
    if (cmp_str(reason, ours->error) == 0)
        return 0;
    journal_entry_t *e = batch_add(b, ENTRY_FAIL, err);
    if (!e || !(e->text = strdup(reason)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

/*  Applies a batch; journalled first (no fsync, see below) unless the caller writes
    a snapshot instead.  Version + 1 if anything changed. */
static int job_apply_batch(rm_job_t *job, batch_t *b, bool journal, rm_err_t *err)
{
    if (b->count == 0)
        return 0;
    /* Written, not fsync'd: what a merge brings is durable where it was
       made (and a done frame's output on two nodes), and digests bring it
       back after a crash that lost it; an fsync per merge on every node
       would cost the whole mesh a disk flush per frame. */
    if (journal && job_append_many(job, b->items, b->count, false, err) != 0)
        return -1;
    uint64_t version = job->version;
    for (size_t i = 0; i < b->count; i++)
        apply_entry(job, &b->items[i]);
    job->version = version + 1;
    if (journal)
        maybe_compact(job); /* only now: the snapshot is written from memory */
    return 0;
}

static int job_merge_record(rm_job_t *job, const job_record_t *in, bool journal, bool *changed,
                            rm_err_t *err)
{
    batch_t b = {0};
    int rc = -1;
    bool was = job->merging;
    job->merging = true;
    if (frames_match(&job->rec, in, err) == 0 && collect_frames(job, in, &b, err) == 0 &&
        collect_flags(job, in, &b, err) == 0 && job_apply_batch(job, &b, journal, err) == 0) {
        *changed = b.count > 0;
        rc = 0;
    }
    job->merging = was;
    batch_free(&b);
    return rc;
}

/*  A job we did not know, in memory: its bottom (every frame pending)
    joined with the record. */
static rm_job_t *job_from_record(const char *root, const job_record_t *in, rm_err_t *err)
{
    bool changed;
    if (rm_frames_validate(in->spec.frames.items, in->spec.frames.count, err) != 0) {
        as_proto(err);
        return NULL;
    }
    rm_job_t *job = job_alloc(root, in->spec.job_id, err);
    if (!job)
        return NULL;
    job->rec.version = RECORD_VERSION;
    job->rec.error = strdup("");
    if (!job->rec.error) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        job_free(&job);
    } else if (rm_codec_copy(&rm_job_spec_desc, &job->rec.spec, &in->spec, err) != 0 ||
               init_frames(job, err) != 0 || job_merge_record(job, in, false, &changed, err) != 0 ||
               job_alloc_progress(job, err) != 0) {
        job_free(&job);
    }
    return job;
}

/*  ... then written like rm_jobs_create writes a new job. */
static rm_job_t *jobs_adopt(rm_jobs_t *self, const job_record_t *in, rm_err_t *err)
{
    rm_job_t *job = job_from_record(self->root, in, err);
    if (!job)
        return NULL;
    if (create_dirs(job, self->root, err) != 0 || job_open_journal(job, err) != 0 ||
        job_write_snapshot(job, err) != 0 || jobs_push(self, job, err) != 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/job.state", job->dir);
        job_free(&job);
        unlink(path); /* leave no half-created job to be loaded at restart */
        return NULL;
    }
    job->version = 1;
    return job;
}

int rm_jobs_merge(rm_jobs_t *self, const uint8_t *buf, size_t len, rm_job_t **job_out,
                  bool *changed, rm_err_t *err)
{
    job_record_t in = {0};
    *job_out = NULL;
    *changed = false;
    if (decode_incoming(buf, len, &in, err) != 0)
        return -1;
    rm_job_t *job = rm_jobs_find(self, in.spec.job_id);
    int rc = 0;
    if (!job) {
        job = jobs_adopt(self, &in, err);
        rc = job ? 0 : -1;
        *changed = job != NULL;
    } else if (spec_check(&job->rec.spec, &in.spec, err) != 0 ||
               job_merge_record(job, &in, true, changed, err) != 0) {
        rc = -1;
    }
    if (rc != 0)
        rm_err_prefix(err, "merging job %s: ", in.spec.job_id);
    rm_codec_free(&job_record_desc, &in);
    if (rc != 0)
        return -1;
    if (*changed)
        finish_if_done(job);
    /* A new job, or an earlier submitted_at, moves it in submission order. */
    if (*changed && self->count > 1)
        qsort(self->jobs, self->count, sizeof *self->jobs, cmp_job_age);
    *job_out = job;
    return 0;
}

int rm_job_merge_frame(rm_job_t *job, const rm_frame_rec_t *rec, bool *changed, rm_err_t *err)
{
    *changed = false;
    rm_frame_rec_t *cur = frame_at(job, rec->frame, NULL);
    if (!cur)
        return rm_err_set(err, RM_EPROTO, "job %s has no frame %llu", job->rec.spec.job_id,
                          (unsigned long long)rec->frame);
    if (rec->state > RM_FRAME_FAILED)
        return rm_err_set(err, RM_EPROTO, "frame %llu: unknown state %llu",
                          (unsigned long long)rec->frame, (unsigned long long)rec->state);
    if (check_frame(rec, err) != 0)
        return -1;
    if (frame_absorbs(cur, rec))
        return 0;
    batch_t b = {0};
    journal_entry_t *e = batch_add(&b, ENTRY_FRAME, err);
    int rc = -1;
    job->merging = true;
    if (e && frame_join(cur, rec, &e->frame, err) == 0 && job_apply_batch(job, &b, true, err) == 0)
        rc = 0;
    job->merging = false;
    batch_free(&b);
    *changed = rc == 0;
    if (*changed)
        finish_if_done(job);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Spreading local changes                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    RM_LIST(rm_frame_rec_t) frames;
} frame_batch_t;

static const rm_field_t frame_batch_fields[] = {
    RM_FIELD_LIST_OF(frame_batch_t, frames, rm_frame_rec_desc, RM_MAX_FRAMES, "frame records"),
};
static const rm_struct_desc_t frame_batch_desc =
    RM_DESC(frame_batch_t, "frame_batch", frame_batch_fields, "changed frames of one job");

bool rm_job_has_changes(const rm_job_t *job)
{
    return job->ndirty > 0 || job->dirty_job;
}

int rm_job_take_changes(rm_job_t *job, uint8_t **buf, size_t *len, bool *job_level, rm_err_t *err)
{
    *buf = NULL;
    *len = 0;
    *job_level = job->dirty_job;
    if (job->ndirty > 0) {
        frame_batch_t batch = {.frames = {calloc(job->ndirty, sizeof(rm_frame_rec_t)), 0}};
        if (!batch.frames.items)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        /* Shallow copies: only encoded, never freed through the batch. */
        for (uint32_t i = 0; i < job->ndirty; i++)
            batch.frames.items[batch.frames.count++] = job->rec.frames.items[job->dirty_list[i]];
        int rc = rm_codec_encode(&frame_batch_desc, &batch, buf, len, err);
        free(batch.frames.items);
        if (rc != 0)
            return -1;
    }
    for (uint32_t i = 0; i < job->ndirty; i++)
        job->dirty[job->dirty_list[i]] = 0;
    job->ndirty = 0;
    job->dirty_job = false;
    return 0;
}

int rm_job_merge_frames(rm_job_t *job, const uint8_t *buf, size_t len, bool *changed, rm_err_t *err)
{
    frame_batch_t in = {0};
    size_t used = 0;
    *changed = false;
    if (rm_codec_decode(&frame_batch_desc, &in, buf, len, &used, err) != 0)
        return rm_err_prefix(err, "job %s: ", job->rec.spec.job_id);
    batch_t b = {0};
    int rc = 0;
    if (used != len)
        rc = rm_err_set(err, RM_EPROTO, "%zu bytes after the frame records", len - used);
    for (uint32_t i = 0; rc == 0 && i < in.frames.count; i++) {
        const rm_frame_rec_t *rec = &in.frames.items[i];
        const rm_frame_rec_t *cur = frame_at(job, rec->frame, NULL);
        if (!cur)
            rc = rm_err_set(err, RM_EPROTO, "job %s has no frame %llu", job->rec.spec.job_id,
                            (unsigned long long)rec->frame);
        else if (rec->state > RM_FRAME_FAILED)
            rc = rm_err_set(err, RM_EPROTO, "frame %llu: unknown state %llu",
                            (unsigned long long)rec->frame, (unsigned long long)rec->state);
        else if (check_frame(rec, err) != 0)
            rc = -1;
        else if (!frame_absorbs(cur, rec)) {
            journal_entry_t *e = batch_add(&b, ENTRY_FRAME, err);
            if (!e || frame_join(cur, rec, &e->frame, err) != 0)
                rc = -1;
        }
    }
    if (rc == 0) {
        job->merging = true;
        rc = job_apply_batch(job, &b, true, err);
        job->merging = false;
        *changed = rc == 0 && b.count > 0;
        if (*changed)
            finish_if_done(job);
    }
    batch_free(&b);
    rm_codec_free(&frame_batch_desc, &in);
    return rc;
}

int rm_job_digest(rm_job_t *job, rm_hash_t *out, rm_err_t *err)
{
    if (job->digest_version != job->version || job->version == 0) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (rm_job_export(job, &buf, &len, err) != 0)
            return -1;
        crypto_generichash(job->digest.b, sizeof job->digest.b, buf, len, NULL, 0);
        free(buf);
        job->digest_version = job->version;
    }
    *out = job->digest;
    return 0;
}

size_t rm_job_frame_count(const rm_job_t *job)
{
    return job->rec.frames.count;
}

const rm_frame_rec_t *rm_job_frame_at(const rm_job_t *job, size_t index)
{
    return index < job->rec.frames.count ? &job->rec.frames.items[index] : NULL;
}

int rm_job_assign(rm_job_t *job, const uint64_t *frames, uint32_t n, const char *node,
                  uint64_t epoch, rm_err_t *err)
{
    batch_t batch = {0};
    int rc = 0;
    for (uint32_t k = 0; rc == 0 && k < n; k++) {
        size_t index;
        const rm_frame_rec_t *f = frame_at(job, frames[k], &index);
        if (!f || f->state == RM_FRAME_DONE || f->state == RM_FRAME_FAILED)
            rc = rm_err_set(err, RM_EINVAL, "job %s: frame %llu cannot be assigned",
                            job->rec.spec.job_id, (unsigned long long)frames[k]);
        else if (add_assignment(&batch, f, node, epoch) != 0)
            rc = rm_err_set(err, RM_ENOMEM, "out of memory");
        else
            job->progress[index] = 0;
    }
    if (rc == 0 && job->rec.started_at == 0 && batch_add(&batch, ENTRY_START, err) == NULL)
        rc = -1;
    if (rc == 0 && batch.count > 0) {
        job_append_many(job, batch.items, batch.count, false, NULL); /* see rm_jobs.h */
        uint64_t version = job->version;
        for (size_t k = 0; k < batch.count; k++)
            apply_entry(job, &batch.items[k]);
        job->version = version + 1;
        maybe_compact(job);
    }
    batch_free(&batch);
    return rc;
}
