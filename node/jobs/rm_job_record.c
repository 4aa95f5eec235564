#include "rm_job_record.h"

#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "rm_frames.h"
#include "rm_job_order.h"
#include "rm_signed.h"

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
    /* The codec bounds the count; rm_job_record_check_frame each name. */
    RM_FIELD_LIST(rm_frame_rec_t, failed_on, RM_F_STR, RM_MAX_FAILED_ON,
                  "nodes the frame failed on, sorted"),
    RM_FIELD(rm_frame_rec_t, warning, RM_F_STR, RM_MAX_TEXT,
             "what Blender reported (missing files)"),
    RM_FIELD(rm_frame_rec_t, log, RM_F_B32, 0, "one-file manifest of the last render's log"),
    RM_FIELD(rm_frame_rec_t, grant_by, RM_F_STR, RM_MAX_NAME, "coordinator that assigned it"),
    RM_FIELD(rm_frame_rec_t, grant_sig, RM_F_BIN, 64, "its signature of the assignment"),
    RM_FIELD(rm_frame_rec_t, done_sig, RM_F_BIN, 64, "the rendering node's signature"),
    RM_FIELD(rm_frame_rec_t, gen, RM_F_U64, 0, "generation: + 1 each time its output was lost"),
};
/* warning, log, the signatures and gen may be absent: records written
   before they existed; gen is written only once non-zero. */
const rm_struct_desc_t rm_job_record_frame_desc = RM_DESC_SPARSE(
    rm_frame_rec_t, "frame_record", frame_rec_fields, 6, 1, "a frame's durable state");

#define JOB_RECORD_FIELDS(FRAME_DESC)                                                              \
    RM_FIELD(rm_job_record_t, version, RM_F_U64, 0, "record format, 2"),                           \
        RM_FIELD_STRUCT(rm_job_record_t, spec, rm_job_spec_desc, "the job as submitted"),          \
        RM_FIELD(rm_job_record_t, canceled, RM_F_BOOL, 0, "cancelled by a user"),                  \
        RM_FIELD(rm_job_record_t, error, RM_F_STR, RM_MAX_TEXT, "why the job failed"),             \
        RM_FIELD(rm_job_record_t, started_at, RM_F_I64, 0, "unix ms of the first assignment"),     \
        RM_FIELD(rm_job_record_t, finished_at, RM_F_I64, 0, "unix ms it finished"),                \
        RM_FIELD_LIST_OF(rm_job_record_t, frames, FRAME_DESC, RM_MAX_FRAMES, "every frame")

static const rm_field_t job_record_v1_fields[] = {JOB_RECORD_FIELDS(frame_rec_v1_desc)};
static const rm_struct_desc_t job_record_v1_desc =
    RM_DESC(rm_job_record_t, "job_record", job_record_v1_fields, "snapshot of a job, v1");
static const rm_field_t job_record_fields[] = {
    JOB_RECORD_FIELDS(rm_job_record_frame_desc),
    /* Each is checked against the mesh key before it is used. */
    RM_FIELD_LIST(rm_job_record_t, signers, RM_F_BIN, RM_JOB_MAX_SIGNERS,
                  "credentials of the nodes that signed its frames"),
    RM_FIELD(rm_job_record_t, priority, RM_F_I64, 0, "priority set after submission"),
    RM_FIELD(rm_job_record_t, priority_at, RM_F_I64, 0, "unix ms it was set; 0: the spec's"),
    RM_FIELD(rm_job_record_t, cancel_order, RM_F_BIN, RM_JOB_ORDER_MAX,
             "the cancel, signed by who asked"),
    RM_FIELD(rm_job_record_t, priority_order, RM_F_BIN, RM_JOB_ORDER_MAX,
             "the priority set, signed by who asked"),
};
/* signers, priority, priority_at and the orders were appended: older
   snapshots lack them.  The orders only once there is one, so the records
   of jobs never cancelled or reprioritised are the bytes they were. */
static const rm_struct_desc_t job_record_desc =
    RM_DESC_SPARSE(rm_job_record_t, "job_record", job_record_fields, 5, 2, "snapshot of a job");

#define JOURNAL_FIELDS(FRAME_DESC, LAST_KIND, KINDS)                                               \
    RM_FIELD(rm_job_record_entry_t, kind, RM_F_U64, LAST_KIND, KINDS),                             \
        RM_FIELD_STRUCT(rm_job_record_entry_t, frame, FRAME_DESC, "the frame's new record"),       \
        RM_FIELD(rm_job_record_entry_t, text, RM_F_STR, RM_MAX_TEXT, "failure reason"),            \
        RM_FIELD(rm_job_record_entry_t, at, RM_F_I64, 0, "unix ms")

static const rm_field_t journal_v1_fields[] = {JOURNAL_FIELDS(
    frame_rec_v1_desc, RM_JOB_RECORD_FINISH, "1 frame 2 fail 3 cancel 4 start 5 finish")};
static const rm_struct_desc_t journal_v1_desc =
    RM_DESC(rm_job_record_entry_t, "journal_entry", journal_v1_fields, "one change of a job, v1");
static const rm_field_t journal_fields[] = {
    JOURNAL_FIELDS(rm_job_record_frame_desc, RM_JOB_RECORD_PRIORITY,
                   "1 frame 2 fail 3 cancel 4 start 5 finish 6 submitted_at 7 signer 8 priority"),
    RM_FIELD(rm_job_record_entry_t, cred, RM_F_BIN, RM_SIGNED_MAX, "a signer's credential"),
    RM_FIELD(rm_job_record_entry_t, value, RM_F_I64, 0, "the priority set"),
    RM_FIELD(rm_job_record_entry_t, order, RM_F_BIN, RM_JOB_ORDER_MAX,
             "a cancel's or priority's signed order")};
static const rm_struct_desc_t journal_desc = RM_DESC_SPARSE(
    rm_job_record_entry_t, "journal_entry", journal_fields, 3, 1, "one change of a job");

static const rm_field_t delta_fields[] = {
    RM_FIELD_LIST_OF(rm_job_record_delta_t, frames, rm_job_record_frame_desc, RM_MAX_FRAMES,
                     "frame records"),
    RM_FIELD_LIST(rm_job_record_delta_t, signers, RM_F_BIN, RM_JOB_MAX_SIGNERS,
                  "credentials its frames' signatures need"),
};
static const rm_struct_desc_t delta_desc =
    RM_DESC_OPT(rm_job_record_delta_t, "frame_batch", delta_fields, 1, "changed frames of one job");

/*  The descriptors of each format: a journal belongs to its snapshot. */
struct rm_job_record_format {
    uint64_t version;
    const rm_struct_desc_t *record;
    const rm_struct_desc_t *journal;
};

static const rm_job_record_format_t formats[] = {
    {1, &job_record_v1_desc, &journal_v1_desc},
    {RM_JOB_RECORD_VERSION, &job_record_desc, &journal_desc},
};

/*  Every frame of the spec's ranges, pending, with empty strings. */
static int init_frames(rm_job_record_t *rec, rm_err_t *err)
{
    uint64_t *frames = NULL;
    uint32_t n = 0;
    const rm_job_spec_t *spec = &rec->spec;
    if (rm_frames_expand(spec->frames.items, spec->frames.count, &frames, &n, err) != 0)
        return -1;
    rec->frames.items = calloc(n ? n : 1, sizeof(rm_frame_rec_t));
    if (!rec->frames.items) {
        free(frames);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    rec->frames.count = n;
    for (uint32_t i = 0; i < n; i++) {
        rm_frame_rec_t *f = &rec->frames.items[i];
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

int rm_job_record_init(rm_job_record_t *rec, const rm_job_spec_t *spec, rm_err_t *err)
{
    memset(rec, 0, sizeof *rec);
    rec->version = RM_JOB_RECORD_VERSION;
    rec->error = strdup("");
    if (!rec->error) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
    } else if (rm_codec_copy(&rm_job_spec_desc, &rec->spec, spec, err) == 0 &&
               init_frames(rec, err) == 0) {
        return 0;
    }
    rm_job_record_free(rec);
    return -1;
}

void rm_job_record_free(rm_job_record_t *rec)
{
    rm_codec_free(&job_record_desc, rec);
}

int rm_job_record_encode(const rm_job_record_t *rec, uint8_t **buf, size_t *len, rm_err_t *err)
{
    *buf = NULL;
    *len = 0;
    return rm_codec_encode(&job_record_desc, rec, buf, len, err);
}

int rm_job_record_cmp_bin(const rm_bin_t *a, const rm_bin_t *b)
{
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    int c = a->len ? memcmp(a->data, b->data, a->len) : 0;
    return (c > 0) - (c < 0);
}

int rm_job_record_copy_bin(rm_bin_t *out, const rm_bin_t *in, rm_err_t *err)
{
    if (!in || in->len == 0)
        return 0;
    if (!(out->data = malloc(in->len)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    memcpy(out->data, in->data, in->len);
    out->len = in->len;
    return 0;
}

int rm_job_record_check_signers(const rm_bin_t *signers, uint32_t count, rm_err_t *err)
{
    for (uint32_t i = 0; i < count; i++) {
        if (signers[i].len == 0 || signers[i].len > RM_SIGNED_MAX)
            return rm_err_set(err, RM_EPROTO, "signer %u: %zu bytes, not 1-%d", i, signers[i].len,
                              RM_SIGNED_MAX);
        if (i > 0 && rm_job_record_cmp_bin(&signers[i - 1], &signers[i]) >= 0)
            return rm_err_set(err, RM_EPROTO, "signers are not sorted and distinct");
    }
    return 0;
}

static int cmp_bin_ref(const void *key, const void *item)
{
    return rm_job_record_cmp_bin(key, item);
}

bool rm_job_record_has_signer(const rm_job_record_t *rec, const rm_bin_t *cred)
{
    return rec->signers.count &&
           bsearch(cred, rec->signers.items, rec->signers.count, sizeof(rm_bin_t), cmp_bin_ref);
}

/*  Frames strictly ascending (rm_job_record_frame bisects), each well formed. */
static int check_record(const rm_job_record_t *rec, rm_err_t *err)
{
    for (uint32_t i = 0; i < rec->frames.count; i++) {
        const rm_frame_rec_t *f = &rec->frames.items[i];
        if (i > 0 && rec->frames.items[i - 1].frame >= f->frame)
            return rm_err_set(err, RM_EPROTO, "frame records are not in ascending order at %u", i);
        if (rm_job_record_check_frame(f, err) != 0)
            return -1;
    }
    return rm_job_record_check_signers(rec->signers.items, rec->signers.count, err);
}

/*  The format of a record: its first field, read without decoding the rest. */
static const rm_job_record_format_t *record_format(const uint8_t *data, size_t len, rm_err_t *err)
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
               (unsigned long long)version, RM_JOB_RECORD_VERSION);
    return NULL;
}

int rm_job_record_peek_id(const uint8_t *data, size_t len, char *id, size_t size)
{
    rm_reader_t r;
    uint32_t n, slen;
    uint64_t version;
    const char *s;
    rm_reader_init(&r, data, len);
    if (rm_read_array(&r, 0, &n, NULL) != 0 || n < 2 || rm_read_u64(&r, &version, NULL) != 0 ||
        rm_read_array(&r, 0, &n, NULL) != 0 || n < 1 ||
        rm_read_str_ref(&r, 64, &s, &slen, NULL) != 0 || slen >= size)
        return -1;
    memcpy(id, s, slen);
    id[slen] = '\0';
    return rm_job_record_valid_id(id) ? 0 : -1;
}

int rm_job_record_decode_snapshot(const uint8_t *data, size_t len, rm_job_record_t *rec,
                                  const rm_job_record_format_t **fmt, rm_err_t *err)
{
    size_t used = 0;
    *fmt = record_format(data, len, err);
    if (!*fmt || rm_codec_decode((*fmt)->record, rec, data, len, &used, err) != 0)
        return -1;
    if (check_record(rec, err) != 0) {
        rm_job_record_free(rec);
        return -1;
    }
    rec->version = RM_JOB_RECORD_VERSION; /* format 1 lacks only failed_on: empty */
    return 0;
}

int rm_job_record_decode_peer(const uint8_t *data, size_t len, rm_job_record_t *rec, rm_err_t *err)
{
    size_t used = 0;
    if (!data || len == 0 || len > RM_JOB_RECORD_MAX_BYTES)
        return rm_err_set(err, RM_EPROTO, "job record of %zu bytes, expected 1 to %zu", len,
                          RM_JOB_RECORD_MAX_BYTES);
    const rm_job_record_format_t *fmt = record_format(data, len, err);
    if (!fmt)
        return -1;
    if (fmt->version != RM_JOB_RECORD_VERSION)
        return rm_err_set(err, RM_EPROTO, "job record format %llu, expected %d",
                          (unsigned long long)fmt->version, RM_JOB_RECORD_VERSION);
    if (rm_codec_decode(&job_record_desc, rec, data, len, &used, err) != 0)
        return -1;
    if (used != len)
        rm_err_set(err, RM_EPROTO, "%zu bytes after the job record", len - used);
    else if (!rm_job_record_valid_id(rec->spec.job_id))
        rm_err_set(err, RM_EPROTO, "job id '%s' is not 1-64 lowercase hex characters",
                   rec->spec.job_id);
    else if (check_record(rec, err) == 0)
        return 0;
    rm_job_record_free(rec);
    return -1;
}

int rm_job_record_encode_entry(const rm_job_record_entry_t *entry, uint8_t **buf, size_t *len,
                               rm_err_t *err)
{
    return rm_codec_encode(&journal_desc, entry, buf, len, err);
}

int rm_job_record_decode_entry(const rm_job_record_format_t *fmt, const uint8_t *data, size_t len,
                               rm_job_record_entry_t *entry, rm_err_t *err)
{
    const rm_struct_desc_t *desc = fmt ? fmt->journal : &journal_desc;
    size_t used = 0;
    int rc = rm_codec_decode(desc, entry, data, len, &used, err);
    if (rc == 0 && entry->kind == RM_JOB_RECORD_FRAME)
        rc = rm_job_record_check_frame(&entry->frame, err);
    if (rc != 0)
        rm_codec_free(desc, entry);
    return rc;
}

void rm_job_record_entry_free(rm_job_record_entry_t *entry)
{
    rm_codec_free(&journal_desc, entry);
}

/*  Takes cred into its sorted place (a duplicate, or no memory: left in
    the entry, which frees it). */
static void insert_signer(rm_job_record_t *rec, rm_bin_t *cred)
{
    uint32_t n = rec->signers.count, at = 0;
    if (cred->len == 0 || rm_job_record_has_signer(rec, cred) || n >= RM_JOB_MAX_SIGNERS)
        return;
    rm_bin_t *grown = realloc(rec->signers.items, (n + 1) * sizeof *grown);
    if (!grown)
        return;
    rec->signers.items = grown;
    while (at < n && rm_job_record_cmp_bin(&grown[at], cred) < 0)
        at++;
    memmove(&grown[at + 1], &grown[at], (n - at) * sizeof *grown);
    grown[at] = *cred;
    rec->signers.count = n + 1;
    *cred = (rm_bin_t){0};
}

/*  *into takes the bytes of *from, which takes the old ones to be freed. */
static void swap_bin(rm_bin_t *into, rm_bin_t *from)
{
    rm_bin_t old = *into;
    *into = *from;
    *from = old;
}

void rm_job_record_apply(rm_job_record_t *rec, rm_job_record_entry_t *entry)
{
    switch (entry->kind) {
    case RM_JOB_RECORD_FRAME: {
        rm_frame_rec_t *f = rm_job_record_frame(rec, entry->frame.frame, NULL);
        if (f) {
            rm_codec_free(&rm_job_record_frame_desc, f);
            *f = entry->frame;
            memset(&entry->frame, 0, sizeof entry->frame);
        }
        break;
    }
    case RM_JOB_RECORD_FAIL:
        free(rec->error);
        rec->error = entry->text;
        entry->text = NULL;
        break;
    case RM_JOB_RECORD_CANCEL:
        rec->canceled = true;
        if (entry->order.len > 0)
            swap_bin(&rec->cancel_order, &entry->order);
        break;
    case RM_JOB_RECORD_START:
        rec->started_at = entry->at;
        break;
    case RM_JOB_RECORD_FINISH:
        rec->finished_at = entry->at;
        break;
    case RM_JOB_RECORD_SUBMITTED:
        rec->spec.submitted_at = entry->at;
        break;
    case RM_JOB_RECORD_SIGNER:
        insert_signer(rec, &entry->cred);
        break;
    case RM_JOB_RECORD_PRIORITY:
        rec->priority = entry->value;
        rec->priority_at = entry->at;
        swap_bin(&rec->priority_order, &entry->order);
        break;
    default:
        break;
    }
}

rm_job_record_entry_t *rm_job_record_batch_add(rm_job_record_batch_t *batch, uint64_t kind,
                                               rm_err_t *err)
{
    if (batch->count == batch->cap) {
        size_t cap = batch->cap ? batch->cap * 2 : 16;
        rm_job_record_entry_t *grown = realloc(batch->items, cap * sizeof *grown);
        if (!grown) {
            rm_err_set(err, RM_ENOMEM, "out of memory");
            return NULL;
        }
        batch->items = grown;
        batch->cap = cap;
    }
    rm_job_record_entry_t *e = &batch->items[batch->count++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->at = zclock_time();
    return e;
}

void rm_job_record_batch_free(rm_job_record_batch_t *batch)
{
    for (size_t i = 0; i < batch->count; i++)
        rm_job_record_entry_free(&batch->items[i]);
    free(batch->items);
    memset(batch, 0, sizeof *batch);
}

int rm_job_record_encode_delta(const rm_job_record_delta_t *delta, uint8_t **buf, size_t *len,
                               rm_err_t *err)
{
    return rm_codec_encode(&delta_desc, delta, buf, len, err);
}

int rm_job_record_decode_delta(const uint8_t *data, size_t len, rm_job_record_delta_t *delta,
                               rm_err_t *err)
{
    size_t used = 0;
    if (rm_codec_decode(&delta_desc, delta, data, len, &used, err) != 0)
        return -1;
    if (used != len)
        rm_err_set(err, RM_EPROTO, "%zu bytes after the frame records", len - used);
    else if (rm_job_record_check_signers(delta->signers.items, delta->signers.count, err) == 0)
        return 0;
    rm_job_record_delta_free(delta);
    return -1;
}

void rm_job_record_delta_free(rm_job_record_delta_t *delta)
{
    rm_codec_free(&delta_desc, delta);
}

rm_frame_rec_t *rm_job_record_frame(const rm_job_record_t *rec, uint64_t frame, size_t *index)
{
    size_t lo = 0, hi = rec->frames.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t f = rec->frames.items[mid].frame;
        if (f == frame) {
            if (index)
                *index = mid;
            return &rec->frames.items[mid];
        }
        if (f < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int rm_job_record_check_frame(const rm_frame_rec_t *f, rm_err_t *err)
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

static int cmp_name_ref(const void *key, const void *item)
{
    return strcmp(key, *(char *const *)item);
}

bool rm_job_record_failed_on(const rm_frame_rec_t *frame, const char *node)
{
    return frame && node && frame->failed_on.count &&
           bsearch(node, frame->failed_on.items, frame->failed_on.count, sizeof(char *),
                   cmp_name_ref) != NULL;
}

bool rm_job_record_valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}
