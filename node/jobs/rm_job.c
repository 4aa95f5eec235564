#include "rm_job_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <czmq.h>
#include <sodium.h>

#include "rm_frames.h"
#include "rm_job_journal.h"
#include "rm_text.h"
#include "rm_job_merge.h"
#include "rm_job_order.h"
#include "rm_job_proof.h"

/*  How a change is journalled before it is applied. */
typedef enum {
    JOURNAL_SYNC,       /* fsync'd; a failure is the caller's error */
    JOURNAL_WRITE,      /* written, no fsync; a failure is the caller's error */
    JOURNAL_BEST_EFFORT /* written, no fsync; applied even if the write failed */
} durability_t;

char *rm_job_strdup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/*  Reasons come from Blender's output: cut to what the codec stores, or the
    snapshot could no longer be written. */
static char *strdup_text(const char *s)
{
    return strndup(s ? s : "", RM_MAX_TEXT);
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

/*  The job has something to spread: its table hears of it once. */
static void became_dirty(rm_job_t *job)
{
    if (job->on_dirty && job->ndirty == 0 && !job->dirty_job)
        job->on_dirty(job->on_dirty_arg, job);
}

static void set_dirty_job(rm_job_t *job)
{
    became_dirty(job);
    job->dirty_job = true;
}

static void mark_dirty(rm_job_t *job, size_t index)
{
    if (job->merging || !job->dirty || job->dirty[index])
        return;
    became_dirty(job);
    job->dirty[index] = 1;
    job->dirty_list[job->ndirty++] = (uint32_t)index;
}

/*  Applies one journalled entry: the record, the counts, what to spread. */
static void apply_entry(rm_job_t *job, rm_job_record_entry_t *entry)
{
    size_t index = 0;
    const rm_frame_rec_t *cur = NULL;
    if (entry->kind != RM_JOB_RECORD_FRAME && !job->merging)
        set_dirty_job(job);
    if (entry->kind == RM_JOB_RECORD_FRAME &&
        (cur = rm_job_record_frame(&job->rec, entry->frame.frame, &index))) {
        mark_dirty(job, index);
        count_change(job, cur, &entry->frame);
        if (cur->state == RM_FRAME_DONE && entry->frame.state != RM_FRAME_DONE) {
            job->reopened = true;
            if (job->on_reopen)
                job->on_reopen(job->on_reopen_arg, job);
        }
    }
    rm_job_record_apply(&job->rec, entry);
}

/*  Journals a batch, then applies it (version + 1).  Then, and only then,
    may the caller compact: the snapshot is written from memory and
    empties the journal, so an entry not yet applied would be lost. */
static int commit_batch(rm_job_t *job, rm_job_record_batch_t *b, durability_t how, rm_err_t *err)
{
    if (b->count == 0)
        return 0;
    rm_err_t *werr = how == JOURNAL_BEST_EFFORT ? NULL : err;
    if (job->journal &&
        rm_job_journal_append(job->journal, b->items, b->count, how == JOURNAL_SYNC, werr) != 0 &&
        how != JOURNAL_BEST_EFFORT)
        return -1;
    for (size_t i = 0; i < b->count; i++)
        apply_entry(job, &b->items[i]);
    job->version++;
    return 0;
}

static void compact_journal(rm_job_t *job)
{
    if (job->journal)
        rm_job_journal_compact(job->journal, &job->rec);
}

/*  A batch's new FRAME entry holding a copy of cur, for the caller to change. */
static rm_frame_rec_t *change_frame(rm_job_record_batch_t *b, const rm_frame_rec_t *cur,
                                    rm_err_t *err)
{
    rm_job_record_entry_t *e = rm_job_record_batch_add(b, RM_JOB_RECORD_FRAME, err);
    if (!e || rm_codec_copy(&rm_job_record_frame_desc, &e->frame, cur, err) != 0)
        return NULL;
    return &e->frame;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

void rm_job_destroy(rm_job_t **self_p)
{
    rm_job_t *job = *self_p;
    if (!job)
        return;
    rm_job_journal_destroy(&job->journal);
    rm_job_record_free(&job->rec);
    free(job->progress);
    free(job->dirty);
    free(job->dirty_list);
    free(job);
    *self_p = NULL;
}

static int alloc_progress(rm_job_t *job, rm_err_t *err)
{
    size_t n = job->rec.frames.count ? job->rec.frames.count : 1;
    job->progress = calloc(n, sizeof(uint64_t));
    job->dirty = calloc(n, 1);
    job->dirty_list = calloc(n, sizeof(uint32_t));
    if (!job->progress || !job->dirty || !job->dirty_list)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

/*  A job of spec in memory only, every frame pending. */
static rm_job_t *job_bottom(const rm_job_spec_t *spec, rm_err_t *err)
{
    rm_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    if (rm_job_record_init(&job->rec, spec, err) != 0 || alloc_progress(job, err) != 0) {
        rm_job_destroy(&job);
        return NULL;
    }
    recount(job);
    return job;
}

rm_job_t *rm_job_new(const char *root, const rm_job_spec_t *spec, rm_err_t *err)
{
    if (rm_frames_validate(spec->frames.items, spec->frames.count, err) != 0)
        return NULL;
    rm_job_t *job = job_bottom(spec, err);
    if (!job)
        return NULL;
    if (!(job->journal = rm_job_journal_create(root, &job->rec, err))) {
        rm_job_destroy(&job);
        return NULL;
    }
    job->version = 1;
    job->dirty_job = true; /* a new job: its whole record goes out */
    return job;
}

rm_job_t *rm_job_load(const char *root, const char *job_id, rm_err_t *err)
{
    uint64_t replayed = 0;
    rm_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    /* What the disk holds was spread before, or will be by digests: not
       marked as changed. */
    job->journal = rm_job_journal_load(root, job_id, &job->rec, &replayed, err);
    if (!job->journal || alloc_progress(job, err) != 0) {
        rm_job_destroy(&job);
        return NULL;
    }
    job->version = replayed;
    /* Renders in flight died with the process that ran them. */
    for (uint32_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state == RM_FRAME_ASSIGNED)
            job->rec.frames.items[i].state = RM_FRAME_PENDING;
    recount(job);
    job->early_finish = job->rec.finished_at != 0 && !rm_job_finished(job);
    if (rm_job_journal_snapshot(job->journal, &job->rec, err) != 0) {
        rm_job_destroy(&job);
        return NULL;
    }
    return job;
}

/*  Every assigned or done record a merge would bring is signed as
    rm_job_proof says, by signers the job or the batch holds; every cancel
    and priority it brings carries the order of who asked. */
static int check_proofs(rm_job_t *job, const rm_job_record_batch_t *b, rm_err_t *err)
{
    if (!job->trust || !job->trust->check_signer)
        return 0;
    rm_job_keys_t *keys = rm_job_keys_new(job->trust);
    int rc = keys ? 0 : rm_err_set(err, RM_ENOMEM, "out of memory");
    for (uint32_t i = 0; rc == 0 && i < job->rec.signers.count; i++)
        rc = rm_job_keys_add(keys, &job->rec.signers.items[i], err);
    for (size_t i = 0; rc == 0 && i < b->count; i++)
        if (b->items[i].kind == RM_JOB_RECORD_SIGNER)
            rc = rm_job_keys_add(keys, &b->items[i].cred, err);
    for (size_t i = 0; rc == 0 && i < b->count; i++) {
        const rm_job_record_entry_t *e = &b->items[i];
        const rm_frame_rec_t *f = &e->frame;
        if (e->kind == RM_JOB_RECORD_CANCEL)
            rc = rm_job_proof_check_order(job->trust, &job->rec.spec, RM_JOB_ORDER_CANCEL,
                                          &e->order, 0, 0, zclock_time(), err);
        else if (e->kind == RM_JOB_RECORD_PRIORITY)
            rc = rm_job_proof_check_order(job->trust, &job->rec.spec, RM_JOB_ORDER_PRIORITY,
                                          &e->order, e->at, e->value, zclock_time(), err);
        if (e->kind != RM_JOB_RECORD_FRAME)
            continue;
        /* Only attempts or failed_on change: what is signed stays ours. */
        const rm_frame_rec_t *cur = rm_job_record_frame(&job->rec, f->frame, NULL);
        if (cur && rm_job_merge_cmp(cur, f) == 0)
            continue;
        rc = rm_job_proof_check(keys, job->rec.spec.job_id, f, err);
    }
    rm_job_keys_destroy(&keys);
    return rc;
}

/*  Applies the entries of a merge (journalled as JOURNAL_WRITE: what a
    merge brings is durable where it was made, and digests bring it back
    after a crash that lost it; an fsync per merge on every node would
    cost the whole mesh a disk flush per frame).  Not marked as changes. */
int rm_job_apply_merge(rm_job_t *job, rm_job_record_batch_t *b, bool *changed, rm_err_t *err)
{
    *changed = false;
    if (check_proofs(job, b, err) != 0)
        return -1;
    bool was = job->merging;
    job->merging = true;
    int rc = commit_batch(job, b, JOURNAL_WRITE, err);
    job->merging = was;
    if (job->rec.finished_at != 0 && !rm_job_finished(job))
        job->early_finish = true;
    if (rc == 0 && b->count > 0)
        compact_journal(job);
    *changed = rc == 0 && b->count > 0;
    return rc;
}

int rm_job_merge_in(rm_job_t *job, const rm_job_record_t *in, bool *changed, rm_err_t *err)
{
    rm_job_record_batch_t b = {0};
    int rc = rm_job_merge_record(&job->rec, in, &b, err);
    if (rc == 0)
        rc = rm_job_apply_merge(job, &b, changed, err);
    rm_job_record_batch_free(&b);
    return rc;
}

bool rm_job_all_done(const rm_job_t *job)
{
    if (job->counted)
        return job->counts[RM_FRAME_DONE] == job->rec.frames.count;
    for (size_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state != RM_FRAME_DONE)
            return false;
    return true;
}

/*  Records finished_at; part of the change that finished the job, so no
    version of its own. */
static int finish(rm_job_t *job, rm_err_t *err)
{
    rm_job_record_batch_t b = {0};
    rm_job_record_entry_t *e = rm_job_record_batch_add(&b, RM_JOB_RECORD_FINISH, err);
    int rc = e ? rm_job_journal_append(job->journal, e, 1, true, err) : -1;
    if (rc == 0) {
        job->rec.finished_at = e->at;
        job->reopened = false;
        job->early_finish = false;
        set_dirty_job(job);
        compact_journal(job);
    }
    rm_job_record_batch_free(&b);
    return rc;
}

/*  A merge that brought the last frame done: this node saw the job finish
    (finished_at merges by max, so every node ends with the same time);
    again after a reopened frame was rendered again. */
void rm_job_finish_if_done(rm_job_t *job)
{
    if ((job->rec.finished_at == 0 || job->reopened || job->early_finish) && rm_job_all_done(job))
        finish(job, NULL);
}

rm_job_t *rm_job_adopt(const char *root, const rm_job_record_t *rec, const rm_job_trust_t *trust,
                       rm_err_t *err)
{
    bool changed;
    if (rm_frames_validate(rec->spec.frames.items, rec->spec.frames.count, err) != 0) {
        if (err)
            err->code = RM_EPROTO; /* bad input is the sender's fault */
        return NULL;
    }
    rm_job_t *job = job_bottom(&rec->spec, err);
    if (!job)
        return NULL;
    job->trust = trust;
    if (rm_job_merge_in(job, rec, &changed, err) != 0 ||
        !(job->journal = rm_job_journal_create(root, &job->rec, err))) {
        rm_job_destroy(&job);
        return NULL;
    }
    job->version = 1;
    rm_job_finish_if_done(job);
    return job;
}

void rm_job_set_trust(rm_job_t *job, const rm_job_trust_t *trust)
{
    job->trust = trust;
}

/* ------------------------------------------------------------------ */
/* State changes                                                       */
/* ------------------------------------------------------------------ */

/*  True if this node signs what it changes. */
static bool signs(const rm_job_t *job)
{
    return job->trust && job->trust->sign_sk && job->trust->cred.len > 0;
}

/*  A credential joins the job's signers with the first signature it checks. */
static int journal_signer(rm_job_t *job, rm_job_record_batch_t *b, const rm_bin_t *cred,
                          rm_err_t *err)
{
    if (cred->len == 0 || rm_job_record_has_signer(&job->rec, cred))
        return 0;
    for (size_t i = 0; i < b->count; i++)
        if (b->items[i].kind == RM_JOB_RECORD_SIGNER &&
            rm_job_record_cmp_bin(&b->items[i].cred, cred) == 0)
            return 0;
    rm_job_record_entry_t *e = rm_job_record_batch_add(b, RM_JOB_RECORD_SIGNER, err);
    return e ? rm_job_record_copy_bin(&e->cred, cred, err) : -1;
}

/*  A frame record leaving one state for another keeps no proof of the last. */
static void drop_proof(rm_frame_rec_t *f)
{
    free(f->grant_by);
    free(f->grant_sig.data);
    free(f->done_sig.data);
    f->grant_by = NULL;
    f->grant_sig = f->done_sig = (rm_bin_t){0};
}

/*  Adds the entry that assigns frame f to node with stamp epoch, signed
    if this node signs. */
static int add_assignment(rm_job_t *job, rm_job_record_batch_t *b, const rm_frame_rec_t *f,
                          const char *node, uint64_t epoch)
{
    char *name = rm_job_strdup_or_empty(node);
    rm_frame_rec_t *next = name ? change_frame(b, f, NULL) : NULL;
    if (!next) {
        free(name);
        return -1;
    }
    next->state = RM_FRAME_ASSIGNED;
    next->epoch = epoch;
    free(next->node);
    next->node = name;
    drop_proof(next);
    if (signs(job) && rm_job_proof_sign_grant(job->rec.spec.job_id, next, job->trust, NULL) != 0)
        return -1;
    return 0;
}

int rm_job_assign(rm_job_t *job, const uint64_t *frames, uint32_t n, const char *node,
                  uint64_t epoch, rm_err_t *err)
{
    rm_job_record_batch_t b = {0};
    int rc = 0;
    for (uint32_t k = 0; rc == 0 && k < n; k++) {
        size_t index;
        const rm_frame_rec_t *f = rm_job_record_frame(&job->rec, frames[k], &index);
        if (!f || f->state == RM_FRAME_DONE || f->state == RM_FRAME_FAILED)
            rc = rm_err_set(err, RM_EINVAL, "job %s: frame %llu cannot be assigned",
                            job->rec.spec.job_id, (unsigned long long)frames[k]);
        else if (add_assignment(job, &b, f, node, epoch) != 0)
            rc = rm_err_set(err, RM_ENOMEM, "out of memory");
        else
            job->progress[index] = 0;
    }
    if (rc == 0 && n > 0 && signs(job))
        rc = journal_signer(job, &b, &job->trust->cred, err);
    if (rc == 0 && job->rec.started_at == 0 &&
        rm_job_record_batch_add(&b, RM_JOB_RECORD_START, err) == NULL)
        rc = -1;
    if (rc == 0 && b.count > 0) {
        commit_batch(job, &b, JOURNAL_BEST_EFFORT, NULL);
        compact_journal(job);
    }
    rm_job_record_batch_free(&b);
    return rc;
}

/*  Journals (fsync'd) and applies one changed frame. */
static int commit_frame(rm_job_t *job, rm_job_record_batch_t *b, rm_err_t *err)
{
    int rc = commit_batch(job, b, JOURNAL_SYNC, err);
    if (rc == 0)
        compact_journal(job);
    rm_job_record_batch_free(b);
    return rc;
}

int rm_job_set_priority(rm_job_t *job, int64_t priority, const rm_bin_t *order, rm_err_t *err)
{
    rm_job_record_batch_t b = {0};
    rm_job_record_entry_t *e = rm_job_record_batch_add(&b, RM_JOB_RECORD_PRIORITY, err);
    if (!e)
        return -1;
    int64_t now = e->at;
    e->value = priority;
    int rc = rm_job_record_copy_bin(&e->order, order, err);
    if (rc == 0 && e->order.len > 0) {
        rm_job_order_t o;
        if ((rc = rm_job_order_peek(&e->order, &o, err)) == 0) {
            e->at = o.at;
            rm_codec_free(&rm_job_order_desc, &o);
            rc = rm_job_proof_check_order(job->trust, &job->rec.spec, RM_JOB_ORDER_PRIORITY,
                                          &e->order, e->at, priority, now, err);
        }
        if (rc == 0 && e->at <= job->rec.priority_at)
            rc = rm_err_set(err, RM_ESTALE,
                            "job %s: a priority set at the same time or later stands (%lld)",
                            job->rec.spec.job_id, (long long)rm_job_priority(job));
    } else if (rc == 0 && e->at <= job->rec.priority_at) {
        e->at = job->rec.priority_at + 1; /* clocks apart: still the latest */
    }
    if (rc != 0) {
        rm_job_record_batch_free(&b);
        return -1;
    }
    return commit_frame(job, &b, err);
}

int64_t rm_job_priority(const rm_job_t *job)
{
    return job->rec.priority_at ? job->rec.priority : job->rec.spec.priority;
}

/*  The done record carries the grant it was rendered under and this
    node's signature (none without a grant: peers then refuse it). */
static int sign_done(rm_job_t *job, rm_job_record_batch_t *b, rm_frame_rec_t *next,
                     const rm_job_grant_t *grant, rm_err_t *err)
{
    drop_proof(next);
    if (!grant || !signs(job))
        return 0;
    next->epoch = grant->stamp;
    if (!(next->grant_by = strdup(grant->by)) || !(next->grant_sig.data = malloc(64)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    memcpy(next->grant_sig.data, grant->sig, 64);
    next->grant_sig.len = 64;
    if (rm_job_proof_sign_done(job->rec.spec.job_id, next, job->trust, err) != 0)
        return -1;
    /* next may move with the batch from here on */
    if (journal_signer(job, b, &job->trust->cred, err) != 0)
        return -1;
    return journal_signer(job, b, &grant->cred, err);
}

/*  Replaces a changed frame record's strings (NULL: empty); -1 when memory
    ran out (the record then holds NULLs: the caller drops its batch). */
static int set_frame_texts(rm_frame_rec_t *f, const char *node, const char *file,
                           const char *warning, const char *error)
{
    free(f->node);
    free(f->file);
    free(f->warning);
    free(f->error);
    f->node = rm_job_strdup_or_empty(node);
    f->file = rm_job_strdup_or_empty(file);
    f->warning = rm_job_strdup_or_empty(warning);
    f->error = strdup_text(error);
    return f->node && f->file && f->warning && f->error ? 0 : -1;
}

int rm_job_frame_done(rm_job_t *job, uint64_t frame, const rm_frame_output_t *out, const char *node,
                      const rm_job_grant_t *grant, rm_err_t *err)
{
    const rm_frame_rec_t *cur = rm_job_record_frame(&job->rec, frame, NULL);
    if (!cur)
        return rm_err_set(err, RM_ENOTFOUND, "job %s has no frame %llu", job->rec.spec.job_id,
                          (unsigned long long)frame);
    /* The generation it was given at: a later one than this node's done
       record counts (the reopen has not reached us yet); an earlier one
       was lost and reopened since, and its grant signs that generation. */
    uint64_t gen = grant ? grant->gen : cur->gen;
    if (gen < cur->gen || (gen == cur->gen && cur->state == RM_FRAME_DONE))
        return 0;
    rm_job_record_batch_t b = {0};
    rm_frame_rec_t *next = change_frame(&b, cur, err);
    if (!next) {
        rm_job_record_batch_free(&b);
        return -1;
    }
    next->state = RM_FRAME_DONE;
    next->gen = gen;
    next->output = out->output;
    next->size = out->size;
    next->render_ms = out->render_ms;
    next->log = out->log;
    /* The failures before are in the job log: the error is cleared. */
    if (set_frame_texts(next, node, out->file, out->warning, "") != 0) {
        rm_job_record_batch_free(&b);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    if (sign_done(job, &b, next, grant, err) != 0) {
        rm_job_record_batch_free(&b);
        return -1;
    }
    if (commit_frame(job, &b, err) != 0)
        return -1;
    if (rm_job_all_done(job))
        return finish(job, err);
    return 0;
}

#define MAX_REASONS 4000

/*  The frame's error after a failure: each adds "node: reason", so a job
    that fails by the Flamenco rules reports every node's reason. */
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

int rm_job_frame_failed(rm_job_t *job, uint64_t frame, const char *reason, uint64_t max_attempts,
                        rm_err_t *err)
{
    const rm_frame_rec_t *cur = rm_job_record_frame(&job->rec, frame, NULL);
    if (!cur)
        return rm_err_set(err, RM_ENOTFOUND, "job %s has no frame %llu", job->rec.spec.job_id,
                          (unsigned long long)frame);
    if (cur->state == RM_FRAME_DONE || cur->state == RM_FRAME_FAILED)
        return 0;
    char node[RM_MAX_NAME + 1];
    snprintf(node, sizeof node, "%s", cur->node ? cur->node : "");
    rm_job_record_batch_t b = {0};
    rm_frame_rec_t *next = change_frame(&b, cur, err);
    if (!next || rm_job_merge_add_failed_on(next, node, err) != 0) {
        rm_job_record_batch_free(&b);
        return -1;
    }
    next->attempts++;
    next->state = next->attempts >= max_attempts ? RM_FRAME_FAILED : RM_FRAME_PENDING;
    char *reasons = failure_reasons(next->error, node, reason);
    free(next->error);
    next->error = reasons;
    bool fatal = next->state == RM_FRAME_FAILED;
    /* Written now: reason may point into the record that the commit frees. */
    char why[RM_ERR_MSG_MAX];
    snprintf(why, sizeof why, "frame %llu failed %llu times; last: %s", (unsigned long long)frame,
             (unsigned long long)max_attempts, reason ? reason : "");
    if (commit_frame(job, &b, err) != 0)
        return -1;
    return fatal ? rm_job_fail(job, why, err) : 0;
}

void rm_job_frame_release(rm_job_t *job, uint64_t frame, const char *reason)
{
    rm_frame_rec_t *cur = rm_job_record_frame(&job->rec, frame, NULL);
    if (!cur || cur->state != RM_FRAME_ASSIGNED)
        return;
    rm_job_record_batch_t b = {0};
    rm_frame_rec_t *next = change_frame(&b, cur, NULL);
    if (!next) {
        rm_job_record_batch_free(&b);
        cur->state = RM_FRAME_PENDING; /* out of memory: at least release it */
        recount(job);
        job->version++;
        return;
    }
    next->state = RM_FRAME_PENDING;
    if (reason) {
        free(next->error);
        next->error = strdup_text(reason);
    }
    commit_batch(job, &b, JOURNAL_BEST_EFFORT, NULL); /* see rm_job.h */
    compact_journal(job);
    rm_job_record_batch_free(&b);
}

void rm_job_frame_reissue(rm_job_t *job, uint64_t frame, uint64_t stamp, const char *reason)
{
    const rm_frame_rec_t *cur = rm_job_record_frame(&job->rec, frame, NULL);
    if (!cur || (cur->state != RM_FRAME_ASSIGNED && cur->state != RM_FRAME_PENDING))
        return;
    rm_job_record_batch_t b = {0};
    rm_frame_rec_t *next = change_frame(&b, cur, NULL);
    (void)reason; /* the frame's error keeps failure reasons; the caller logs this one */
    if (next) {
        next->state = RM_FRAME_PENDING;
        next->epoch = stamp;
        commit_batch(job, &b, JOURNAL_BEST_EFFORT, NULL); /* worth redoing only, like assignments */
        compact_journal(job);
    }
    rm_job_record_batch_free(&b);
}

int rm_job_frame_reopen(rm_job_t *job, uint64_t frame, const rm_hash_t *output, const char *reason,
                        rm_err_t *err)
{
    const rm_frame_rec_t *cur = rm_job_record_frame(&job->rec, frame, NULL);
    if (!cur || cur->state != RM_FRAME_DONE || rm_hash_cmp(&cur->output, output) != 0 ||
        job->rec.canceled || job->rec.error[0])
        return 0;
    rm_job_record_batch_t b = {0};
    rm_frame_rec_t *next = change_frame(&b, cur, err);
    if (!next) {
        rm_job_record_batch_free(&b);
        return -1;
    }
    next->state = RM_FRAME_PENDING;
    next->gen = cur->gen + 1;
    next->epoch = 0; /* below any assignment of the new generation */
    next->size = next->render_ms = 0;
    memset(&next->output, 0, sizeof next->output);
    memset(&next->log, 0, sizeof next->log);
    drop_proof(next);
    if (set_frame_texts(next, NULL, NULL, NULL, reason) != 0) {
        rm_job_record_batch_free(&b);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    if (commit_frame(job, &b, err) != 0)
        return -1;
    rm_job_log(job, "frame %llu: %s; rendering it again", (unsigned long long)frame, reason);
    return 0;
}

/*  The job ends (failed or cancelled): journalled (fsync'd) and applied.
    Its assigned frames go back to pending, not journalled nor spread
    (see rm_job.h). */
static int end_job(rm_job_t *job, uint64_t kind, const char *reason, const rm_bin_t *order,
                   rm_err_t *err)
{
    rm_job_record_batch_t b = {0};
    rm_job_record_entry_t *e = rm_job_record_batch_add(&b, kind, err);
    int rc = -1;
    if (e && kind == RM_JOB_RECORD_FAIL && !(e->text = strdup_text(reason)))
        rm_err_set(err, RM_ENOMEM, "out of memory");
    else if (e && rm_job_record_copy_bin(&e->order, order, err) == 0)
        rc = commit_batch(job, &b, JOURNAL_SYNC, err);
    rm_job_record_batch_free(&b);
    if (rc != 0)
        return -1;
    for (size_t i = 0; i < job->rec.frames.count; i++)
        if (job->rec.frames.items[i].state == RM_FRAME_ASSIGNED)
            job->rec.frames.items[i].state = RM_FRAME_PENDING;
    recount(job);
    compact_journal(job);
    return 0;
}

int rm_job_fail(rm_job_t *job, const char *reason, rm_err_t *err)
{
    if (job->rec.error[0])
        return 0;
    if (end_job(job, RM_JOB_RECORD_FAIL, reason, NULL, err) != 0)
        return -1;
    return finish(job, err);
}

int rm_job_cancel(rm_job_t *job, const rm_bin_t *order, rm_err_t *err)
{
    if (order && order->len > 0 &&
        rm_job_proof_check_order(job->trust, &job->rec.spec, RM_JOB_ORDER_CANCEL, order, 0, 0,
                                 zclock_time(), err) != 0)
        return -1;
    if (job->rec.canceled)
        return 0;
    if (end_job(job, RM_JOB_RECORD_CANCEL, NULL, order, err) != 0)
        return -1;
    return job->rec.finished_at == 0 || job->early_finish ? finish(job, err) : 0;
}

void rm_job_frame_progress(rm_job_t *job, uint64_t frame, uint64_t percent)
{
    size_t index;
    if (rm_job_record_frame(&job->rec, frame, &index) && job->progress[index] != percent) {
        job->progress[index] = percent;
        job->version++;
    }
}

/* ------------------------------------------------------------------ */
/* Reading it                                                          */
/* ------------------------------------------------------------------ */

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
    if (rm_job_all_done(job))
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
    return job->rec.canceled || job->rec.error[0] || rm_job_all_done(job);
}

int64_t rm_job_finished_at(const rm_job_t *job)
{
    return job->rec.finished_at;
}

uint64_t rm_job_version(const rm_job_t *job)
{
    return job->version;
}

const rm_frame_rec_t *rm_job_frame(const rm_job_t *job, uint64_t frame)
{
    return rm_job_record_frame(&job->rec, frame, NULL);
}

const char *rm_job_dir(const rm_job_t *job)
{
    return rm_job_journal_dir(job->journal);
}

void rm_job_log(rm_job_t *job, const char *fmt, ...)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/job.log", rm_job_dir(job));
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    time_t t = time(NULL);
    struct tm tm;
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
    /* Names and reasons in it came over the network: one line each. */
    char raw[4096], safe[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    fprintf(f, "%s %s\n", stamp, rm_text_escape(raw, false, safe, sizeof safe));
    fclose(f);
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
        n += rm_job_record_failed_on(&job->rec.frames.items[i], node);
    return n;
}

size_t rm_job_frame_count(const rm_job_t *job)
{
    return job->rec.frames.count;
}

const rm_frame_rec_t *rm_job_frame_at(const rm_job_t *job, size_t index)
{
    return index < job->rec.frames.count ? &job->rec.frames.items[index] : NULL;
}
