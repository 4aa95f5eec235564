/*  A job between nodes: its record, its digest, and the deltas of local
    changes that rm_jobsync sends and merges. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "rm_job_merge.h"
#include "rm_job_private.h"
#include "rm_job_proof.h"

/* ------------------------------------------------------------------ */
/* Replication                                                         */
/* ------------------------------------------------------------------ */

int rm_job_export(const rm_job_t *job, uint8_t **buf, size_t *len, rm_err_t *err)
{
    return rm_job_record_encode(&job->rec, buf, len, err);
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
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, sizeof job->digest_entry.b);
        crypto_generichash_update(&st, (const uint8_t *)job->rec.spec.job_id,
                                  strlen(job->rec.spec.job_id) + 1);
        crypto_generichash_update(&st, job->digest.b, sizeof job->digest.b);
        crypto_generichash_final(&st, job->digest_entry.b, sizeof job->digest_entry.b);
        job->digest_version = job->version;
    }
    *out = job->digest;
    return 0;
}

int rm_job_apply_record(rm_job_t *job, const rm_job_record_t *rec, bool *changed, rm_err_t *err)
{
    *changed = false;
    if (rm_job_merge_check_spec(&job->rec.spec, &rec->spec, err) != 0 ||
        rm_job_merge_in(job, rec, changed, err) != 0)
        return -1;
    if (*changed)
        rm_job_finish_if_done(job);
    return 0;
}

/*  True if a frame of the delta names `name` as its node or coordinator. */
static bool named_in(const rm_job_record_delta_t *delta, const char *name)
{
    for (uint32_t i = 0; name[0] && i < delta->frames.count; i++) {
        const rm_frame_rec_t *f = &delta->frames.items[i];
        if ((f->node && strcmp(f->node, name) == 0) ||
            (f->grant_by && strcmp(f->grant_by, name) == 0))
            return true;
    }
    return false;
}

/*  The signers (shallow) its frames' signatures need, so that a peer that
    lacks them can check the delta. */
static int delta_signers(const rm_job_t *job, rm_job_record_delta_t *delta, rm_err_t *err)
{
    uint32_t n = job->rec.signers.count;
    if (n == 0)
        return 0;
    if (!(delta->signers.items = calloc(n, sizeof(rm_bin_t))))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        char name[RM_MAX_NAME + 1];
        rm_job_proof_signer_name(&job->rec.signers.items[i], name, sizeof name);
        if (named_in(delta, name))
            delta->signers.items[delta->signers.count++] = job->rec.signers.items[i];
    }
    return 0;
}

int rm_job_digest_entry(rm_job_t *job, rm_hash_t *out, rm_err_t *err)
{
    rm_hash_t ignored;
    if (rm_job_digest(job, &ignored, err) != 0)
        return -1;
    *out = job->digest_entry;
    return 0;
}

void rm_job_on_dirty(rm_job_t *job, rm_job_dirty_fn *fn, void *arg)
{
    job->on_dirty = fn;
    job->on_dirty_arg = arg;
}

void rm_job_on_reopen(rm_job_t *job, rm_job_dirty_fn *fn, void *arg)
{
    job->on_reopen = fn;
    job->on_reopen_arg = arg;
}

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
        rm_job_record_delta_t delta = {.frames = {calloc(job->ndirty, sizeof(rm_frame_rec_t)), 0}};
        if (!delta.frames.items)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        /* Shallow copies: only encoded, never freed through the delta. */
        for (uint32_t i = 0; i < job->ndirty; i++)
            delta.frames.items[delta.frames.count++] = job->rec.frames.items[job->dirty_list[i]];
        int rc = delta_signers(job, &delta, err);
        if (rc == 0)
            rc = rm_job_record_encode_delta(&delta, buf, len, err);
        free(delta.frames.items);
        free(delta.signers.items);
        if (rc != 0)
            return -1;
    }
    for (uint32_t i = 0; i < job->ndirty; i++)
        job->dirty[job->dirty_list[i]] = 0;
    job->ndirty = 0;
    job->dirty_job = false;
    return 0;
}

int rm_job_apply_changes(rm_job_t *job, const uint8_t *buf, size_t len, bool *changed,
                         rm_err_t *err)
{
    rm_job_record_delta_t in = {0};
    rm_job_record_batch_t b = {0};
    *changed = false;
    if (rm_job_record_decode_delta(buf, len, &in, err) != 0)
        return rm_err_prefix(err, "job %s: ", job->rec.spec.job_id);
    int rc = rm_job_merge_delta(&job->rec, &in, &b, err);
    if (rc == 0)
        rc = rm_job_apply_merge(job, &b, changed, err);
    if (*changed)
        rm_job_finish_if_done(job);
    rm_job_record_batch_free(&b);
    rm_job_record_delta_free(&in);
    return rc;
}
