#include "rm_job_merge.h"

#include <stdlib.h>
#include <string.h>

enum { CLASS_LIVE, CLASS_FAILED, CLASS_DONE };

static int frame_class(uint64_t state)
{
    if (state == RM_FRAME_DONE)
        return CLASS_DONE;
    return state == RM_FRAME_FAILED ? CLASS_FAILED : CLASS_LIVE;
}

static int order_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

static int order_str(const char *a, const char *b)
{
    int c = strcmp(a ? a : "", b ? b : "");
    return (c > 0) - (c < 0);
}

static int order_hash(const rm_hash_t *a, const rm_hash_t *b)
{
    int c = memcmp(a->b, b->b, sizeof a->b);
    return (c > 0) - (c < 0);
}

/*  Every field the winner carries, so that equal means identical and the
    result never depends on the order of the arguments. */
static int order_carried(const rm_frame_rec_t *a, const rm_frame_rec_t *b)
{
    int c;
    if ((c = order_u64(a->epoch, b->epoch)) || (c = order_str(a->node, b->node)) ||
        (c = order_hash(&a->output, &b->output)) || (c = order_u64(a->size, b->size)) ||
        (c = order_u64(a->render_ms, b->render_ms)) || (c = order_str(a->file, b->file)) ||
        (c = order_str(a->error, b->error)) || (c = order_str(a->warning, b->warning)) ||
        (c = order_hash(&a->log, &b->log)) || (c = order_str(a->grant_by, b->grant_by)) ||
        (c = rm_job_record_cmp_bin(&a->grant_sig, &b->grant_sig)))
        return c;
    return rm_job_record_cmp_bin(&a->done_sig, &b->done_sig);
}

int rm_job_merge_cmp(const rm_frame_rec_t *a, const rm_frame_rec_t *b)
{
    int ca = frame_class(a->state), cb = frame_class(b->state), c;
    /* A later generation is the frame after its output was lost: it wins
       over everything the generations before decided, done included. */
    if ((c = order_u64(a->gen, b->gen)) != 0)
        return c;
    if (ca != cb)
        return ca < cb ? -1 : 1;
    /* Attempts first: the live record with more attempts is the later one
       (its attempts are then the maximum, which keeps the join associative). */
    /* Then the stamp: the coordinator stamps each assignment and each
       give-back with (epoch, sequence), so its latest decision wins. */
    if (ca == CLASS_LIVE &&
        ((c = order_u64(a->attempts, b->attempts)) || (c = order_u64(a->epoch, b->epoch)) ||
         (c = order_u64(a->state, b->state))))
        return c;
    if (ca == CLASS_DONE && (c = order_hash(&b->output, &a->output)) != 0)
        return c; /* the smaller output wins */
    return order_carried(a, b);
}

static void names_free(char **items, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

/*  *out = the first RM_MAX_FAILED_ON names of a | b (both sorted, distinct). */
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

/*  True if names_union(a, b) would give a back. */
static bool names_absorb(const rm_frame_rec_t *a, const rm_frame_rec_t *b)
{
    uint32_t na = a->failed_on.count;
    for (uint32_t i = 0; i < b->failed_on.count; i++) {
        const char *name = b->failed_on.items[i];
        bool cut = na == RM_MAX_FAILED_ON && strcmp(name, a->failed_on.items[na - 1]) > 0;
        if (!cut && !rm_job_record_failed_on(a, name))
            return false;
    }
    return true;
}

bool rm_job_merge_absorbs(const rm_frame_rec_t *ours, const rm_frame_rec_t *theirs)
{
    return rm_job_merge_cmp(ours, theirs) >= 0 && ours->attempts >= theirs->attempts &&
           names_absorb(ours, theirs);
}

int rm_job_merge_join(const rm_frame_rec_t *a, const rm_frame_rec_t *b, rm_frame_rec_t *out,
                      rm_err_t *err)
{
    rm_frame_rec_t win = rm_job_merge_cmp(a, b) >= 0 ? *a : *b;
    win.failed_on.items = NULL; /* shallow: the union replaces it */
    win.failed_on.count = 0;
    win.attempts = a->attempts > b->attempts ? a->attempts : b->attempts;
    if (rm_codec_copy(&rm_job_record_frame_desc, out, &win, err) != 0)
        return -1;
    if (names_union(a->failed_on.items, a->failed_on.count, b->failed_on.items, b->failed_on.count,
                    &out->failed_on.items, &out->failed_on.count, err) != 0) {
        rm_codec_free(&rm_job_record_frame_desc, out);
        return -1;
    }
    return 0;
}

int rm_job_merge_add_failed_on(rm_frame_rec_t *rec, const char *node, rm_err_t *err)
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

int rm_job_merge_check_spec(const rm_job_spec_t *ours, const rm_job_spec_t *theirs, rm_err_t *err)
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
static int frames_match(const rm_job_record_t *ours, const rm_job_record_t *theirs, rm_err_t *err)
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

/*  One entry, the join, if merging `theirs` changes `ours`. */
static int add_join(const rm_frame_rec_t *ours, const rm_frame_rec_t *theirs,
                    rm_job_record_batch_t *out, rm_err_t *err)
{
    if (rm_job_merge_absorbs(ours, theirs))
        return 0;
    rm_job_record_entry_t *e = rm_job_record_batch_add(out, RM_JOB_RECORD_FRAME, err);
    if (!e || rm_job_merge_join(ours, theirs, &e->frame, err) != 0)
        return -1;
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

static int add_at(rm_job_record_batch_t *out, uint64_t kind, int64_t at, rm_err_t *err)
{
    rm_job_record_entry_t *e = rm_job_record_batch_add(out, kind, err);
    if (!e)
        return -1;
    e->at = at;
    return 0;
}

/*  canceled = OR; of two signed cancels the smaller order is kept (an
    unsigned one, made by a node on its own, yields to a signed one).  A
    cancel merged in is stamped now, when this node learns of it. */
static int add_cancel(const rm_job_record_t *ours, const rm_job_record_t *theirs,
                      rm_job_record_batch_t *out, rm_err_t *err)
{
    if (!theirs->canceled)
        return 0;
    const rm_bin_t *order = &theirs->cancel_order;
    if (ours->canceled &&
        (order->len == 0 ||
         (ours->cancel_order.len > 0 && rm_job_record_cmp_bin(&ours->cancel_order, order) <= 0)))
        return 0;
    rm_job_record_entry_t *e = rm_job_record_batch_add(out, RM_JOB_RECORD_CANCEL, err);
    return e ? rm_job_record_copy_bin(&e->order, order, err) : -1;
}

/*  One entry per job-level field that merging `theirs` changes. */
static int add_flags(const rm_job_record_t *ours, const rm_job_record_t *theirs,
                     rm_job_record_batch_t *out, rm_err_t *err)
{
    const char *reason = join_reason(ours->error, theirs->error);
    int64_t started = min_nonzero(ours->started_at, theirs->started_at);
    int64_t finished =
        ours->finished_at > theirs->finished_at ? ours->finished_at : theirs->finished_at;
    int64_t submitted = min_nonzero(ours->spec.submitted_at, theirs->spec.submitted_at);
    if (add_cancel(ours, theirs, out, err) != 0 ||
        (started != ours->started_at && add_at(out, RM_JOB_RECORD_START, started, err) != 0) ||
        (finished != ours->finished_at && add_at(out, RM_JOB_RECORD_FINISH, finished, err) != 0) ||
        (submitted != ours->spec.submitted_at &&
         add_at(out, RM_JOB_RECORD_SUBMITTED, submitted, err) != 0))
        return -1;
    /* The priority register: the later setting wins, then the higher,
       then the smaller order (two people set the same at the same ms). */
    int later = theirs->priority_at != ours->priority_at
                    ? (theirs->priority_at > ours->priority_at ? 1 : -1)
                : theirs->priority != ours->priority
                    ? (theirs->priority > ours->priority ? 1 : -1)
                    : -rm_job_record_cmp_bin(&theirs->priority_order, &ours->priority_order);
    if (later > 0) {
        rm_job_record_entry_t *p = rm_job_record_batch_add(out, RM_JOB_RECORD_PRIORITY, err);
        if (!p || rm_job_record_copy_bin(&p->order, &theirs->priority_order, err) != 0)
            return -1;
        p->at = theirs->priority_at;
        p->value = theirs->priority;
    }
    if (order_str(reason, ours->error) == 0)
        return 0;
    rm_job_record_entry_t *e = rm_job_record_batch_add(out, RM_JOB_RECORD_FAIL, err);
    if (!e || !(e->text = strdup(reason)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

/*  One entry per signer in `signers` that ours lacks: the signers come
    first in a batch, so its frames can be checked against them. */
static int add_signers(const rm_job_record_t *ours, const rm_bin_t *signers, uint32_t count,
                       rm_job_record_batch_t *out, rm_err_t *err)
{
    for (uint32_t i = 0; i < count; i++) {
        if (rm_job_record_has_signer(ours, &signers[i]))
            continue;
        rm_job_record_entry_t *e = rm_job_record_batch_add(out, RM_JOB_RECORD_SIGNER, err);
        if (!e || rm_job_record_copy_bin(&e->cred, &signers[i], err) != 0)
            return -1;
    }
    return 0;
}

int rm_job_merge_record(const rm_job_record_t *ours, const rm_job_record_t *theirs,
                        rm_job_record_batch_t *out, rm_err_t *err)
{
    if (frames_match(ours, theirs, err) != 0 ||
        add_signers(ours, theirs->signers.items, theirs->signers.count, out, err) != 0)
        return -1;
    for (uint32_t i = 0; i < theirs->frames.count; i++)
        if (add_join(&ours->frames.items[i], &theirs->frames.items[i], out, err) != 0)
            return -1;
    return add_flags(ours, theirs, out, err);
}

int rm_job_merge_delta(const rm_job_record_t *ours, const rm_job_record_delta_t *delta,
                       rm_job_record_batch_t *out, rm_err_t *err)
{
    if (add_signers(ours, delta->signers.items, delta->signers.count, out, err) != 0)
        return -1;
    for (uint32_t i = 0; i < delta->frames.count; i++) {
        const rm_frame_rec_t *rec = &delta->frames.items[i];
        const rm_frame_rec_t *cur = rm_job_record_frame(ours, rec->frame, NULL);
        if (!cur)
            return rm_err_set(err, RM_EPROTO, "job %s has no frame %llu", ours->spec.job_id,
                              (unsigned long long)rec->frame);
        if (rec->state > RM_FRAME_FAILED)
            return rm_err_set(err, RM_EPROTO, "frame %llu: unknown state %llu",
                              (unsigned long long)rec->frame, (unsigned long long)rec->state);
        if (rm_job_record_check_frame(rec, err) != 0 || add_join(cur, rec, out, err) != 0)
            return -1;
    }
    return 0;
}
