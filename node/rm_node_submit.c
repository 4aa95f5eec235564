/*  SUBMIT and its chunks: the spec checked (signature, bounds, the S3
    output), the project's missing chunks asked for (NEED), the job
    created and held by a second node before ACCEPTED. */
#include "rm_node_submit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_caps.h"
#include "rm_frames.h"
#include "rm_log.h"
#include "rm_manifest.h"
#include "rm_render_opts.h"
#include "rm_rights.h"
#include "rm_node_s3.h"
#include "rm_s3_url.h"
#include "rm_spec_sig.h"

/*  However long the members keep fetching: past this, "submit again". */
#define SUBMIT_WAIT_MAX_MS (3600 * 1000)

/*  Everything a node can check about a spec without Blender. */
static int validate_spec(const rm_config_t *config, const rm_job_spec_t *spec, rm_err_t *err)
{
    if (!spec->blend[0])
        return rm_err_set(err, RM_EINVAL, "the job names no .blend file");
    if (spec->frames.count == 0)
        return rm_err_set(err, RM_EINVAL, "the job has no frames: give --frames");
    if (rm_frames_validate(spec->frames.items, spec->frames.count, err) != 0)
        return -1;
    if (rm_render_opts_check(spec, err) != 0)
        return -1;
    if (spec->chunk == 0)
        return rm_err_set(err, RM_EINVAL, "the job's chunk (frames per task) is 0: give 1 or more");
    if (spec->allow_scripts && !config->allow_scripts)
        return rm_err_set(err, RM_EAUTH,
                          "this node does not run Python embedded in .blend files "
                          "(allow_scripts = false in its meshd.conf)");
    /* An S3 project's root is its prefix: no absolute path of the .blend
       is below it, so the driver leaves them all as they are. */
    if (spec->source_root && spec->source_root[0] && spec->source_root[0] != '/' &&
        !rm_s3_url_is(spec->source_root))
        return rm_err_set(err, RM_EINVAL, "source_root '%s' is not an absolute path",
                          spec->source_root);
    return rm_caps_check_requires(spec, err);
}

/*  Frames to S3 (--out s3://BUCKET/PREFIX/): a prefix this node can write. */
static int validate_out_url(const rm_node_ctx_t *self, const rm_job_spec_t *spec, rm_err_t *err)
{
    rm_s3_url_t url;
    if (!spec->out_url || !spec->out_url[0])
        return 0;
    if (rm_s3_url_parse(spec->out_url, "--out", &url, err) != 0)
        return -1;
    if (!rm_s3_url_is_prefix(&url))
        return rm_err_set(err, RM_EINVAL, "--out %s: frames go under a prefix: end it with '/'",
                          spec->out_url);
    if (rm_node_s3_bucket_allowed(self, spec->out_url, "--out", err) != 0)
        return -1;
    if (!self->s3_ok)
        return rm_err_set(err, RM_EINVAL, "--out %s: this node cannot write to S3: %s",
                          spec->out_url, self->s3_why);
    return 0;
}

/*  The spec as its sender signed it (rm_spec_sig.h). */
static int signed_by_sender(rm_node_request_t *r, const rm_job_spec_t *spec, rm_err_t *err)
{
    if (rm_hash_is_zero(&r->who->sign_pk))
        return rm_err_set(err, RM_EAUTH,
                          "the credential of '%s' predates signed jobs: ask an admin for a new "
                          "one (meshctl invite --role artist --name %s)",
                          r->who->name, r->who->name);
    return rm_spec_check_sig(spec, r->who->sign_pk.b, err);
}

/*  The submitter's credential, as the door admitted it, goes with the job. */
static int add_credential(rm_node_request_t *r, rm_job_spec_t *spec, rm_err_t *err)
{
    const rm_bin_t *cred = rm_roster_signed(r->node->roster, r->who->curve_pk.b);
    uint8_t *copy = cred ? malloc(cred->len) : NULL;
    if (!copy)
        return rm_err_set(err, RM_ENOMEM, "the submitter's credential is not at hand");
    memcpy(copy, cred->data, cred->len);
    free(spec->client_cred.data);
    spec->client_cred = (rm_bin_t){.data = copy, .len = cred->len};
    return 0;
}

static bool manifest_has_file(const rm_manifest_t *manifest, const char *path)
{
    for (uint32_t i = 0; i < manifest->files.count; i++)
        if (strcmp(manifest->files.items[i].path, path) == 0)
            return true;
    return false;
}

/*  Replies NEED with what the store lacks, or returns 0 when it has all. */
static int need_chunks(rm_node_request_t *r, const rm_job_spec_t *spec, bool *complete,
                       rm_err_t *err)
{
    rm_node_ctx_t *self = r->node;
    rm_need_t need = {0};
    *complete = false;
    if (!rm_store_has(self->store, &spec->manifest)) {
        need.hashes.items = (rm_hash_t *)&spec->manifest;
        need.hashes.count = 1;
        rm_node_reply(self->mesh, r->peer, RM_MSG_NEED, r->msg->req, &need);
        return 0;
    }
    rm_manifest_t manifest = {0};
    if (rm_manifest_load(self->store, &spec->manifest, &manifest, err) != 0)
        return -1;
    if (!manifest_has_file(&manifest, spec->blend)) {
        rm_manifest_free(&manifest);
        return rm_err_set(err, RM_EINVAL, "the project does not contain '%s'", spec->blend);
    }
    int rc = rm_manifest_missing(&manifest, self->store, &need.hashes.items, &need.hashes.count,
                                 RM_MAX_NEED, err);
    /* Chunks this job reuses start their grace again: the collector
       (rm_gc.h) must not take them before the job refers to them. */
    if (rc == 0 && need.hashes.count == 0) {
        rm_store_touch(self->store, &spec->manifest);
        for (uint32_t i = 0; i < manifest.files.count; i++)
            for (uint32_t j = 0; j < manifest.files.items[i].chunks.count; j++)
                rm_store_touch(self->store, &manifest.files.items[i].chunks.items[j]);
    }
    rm_manifest_free(&manifest);
    if (rc != 0) {
        free(need.hashes.items);
        return -1;
    }
    if (need.hashes.count > 0)
        rm_node_reply(self->mesh, r->peer, RM_MSG_NEED, r->msg->req, &need);
    else
        *complete = true;
    free(need.hashes.items);
    return 0;
}

static void send_accepted(rm_node_ctx_t *self, zframe_t *peer, uint64_t req, rm_job_t *job)
{
    rm_job_summary_t summary = {0};
    rm_err_t err;
    if (rm_job_summary(job, &summary, &err) != 0) {
        rm_node_reply_error(self->mesh, peer, req, err.code, err.msg);
        return;
    }
    rm_accepted_t accepted = {.job_id = (char *)rm_job_id(job),
                              .frames_total = summary.frames_total};
    rm_node_reply(self->mesh, peer, RM_MSG_ACCEPTED, req, &accepted);
    rm_codec_free(&rm_job_summary_desc, &summary);
}

/*  A second node holds the job (or none could in time): the submissions
    waiting for it are answered. */
static void on_job_held(void *arg, const char *job_id, int status, const char *error)
{
    rm_node_ctx_t *self = arg;
    rm_job_t *job = rm_jobs_find(self->jobs, job_id);
    for (size_t i = 0; i < self->nwaiting;) {
        rm_node_waiting_t *w = &self->waiting[i];
        /* Held: every submission of the job is answered.  Not held in
           time: only those whose own wait is over (a client that submitted
           again meanwhile still waits). */
        if (w->type != RM_MSG_SUBMIT || strcmp(w->job_id, job_id) != 0 ||
            (status != 0 && w->deadline > zclock_mono())) {
            i++;
            continue;
        }
        if (status == 0 && job)
            send_accepted(self, w->peer, w->req, job);
        else
            rm_node_reply_error(self->mesh, w->peer, w->req,
                                status ? (rm_code_t)status : RM_ENOTFOUND, error);
        rm_node_waiting_drop(self, i);
    }
}

void rm_node_submit_handle(rm_node_request_t *r)
{
    rm_node_ctx_t *self = r->node;
    rm_job_spec_t *spec = &r->msg->u.submit;
    rm_err_t err;
    rm_job_t *job = rm_jobs_find(self->jobs, spec->job_id);
    bool complete = false, created = false;
    if (job && memcmp(rm_job_spec(job)->manifest.b, spec->manifest.b, 32) != 0) {
        rm_err_set(&err, RM_EINVAL, "job id %s is taken by another project", spec->job_id);
        goto fail;
    }
    if (!job) {
        if (signed_by_sender(r, spec, &err) != 0 || validate_spec(&self->config, spec, &err) != 0 ||
            validate_out_url(self, spec, &err) != 0 ||
            rm_quota_check_spec(self->quota, rm_role_effective(r->who->role), spec, &err) != 0 ||
            need_chunks(r, spec, &complete, &err) != 0)
            goto fail;
        if (!complete)
            return;
        /* Its chunks came without waiting for the disk (CHUNK_PUT): one
           sync for all of them, before anything refers to them. */
        if (rm_store_sync(self->store, &err) != 0)
            goto fail;
        if (rm_quota_check_stored(self->quota, self->jobs, self->store, r->who->name,
                                  &spec->manifest, &err) != 0 ||
            rm_quota_admit(self->quota, self->jobs, r->who->name, (int64_t)zclock_mono(), &err) !=
                0)
            goto fail;
        /* Checked before acknowledging: a project over max_project_gb or a
           full disk is the submitter's error to see now, not a job that
           fails later.  It is unpacked when a render starts here, as on
           every other node, not while the submitter waits. */
        if (rm_slots_project_check(self->slots, spec, &err) != 0)
            goto fail;
        char *submitter = strdup(r->who->name);
        char *role = strdup(rm_role_effective(r->who->role));
        char *format = strdup(spec->format); /* "" keeps the file's own */
        if (!submitter || !role || !format) {
            free(submitter);
            free(role);
            free(format);
            rm_err_set(&err, RM_ENOMEM, "out of memory");
            goto fail;
        }
        free(spec->submitter);
        free(spec->submitter_role);
        free(spec->format);
        spec->submitter = submitter;
        spec->submitter_role = role;
        spec->format = format;
        spec->submitted_at = (int64_t)zclock_time();
        /* Every node that gets the record checks what this node added. */
        if (add_credential(r, spec, &err) != 0 ||
            rm_spec_verify(spec, self->token.mesh_pk.b, &err) != 0 ||
            rm_jobs_create(self->jobs, spec, &job, &created, &err) != 0)
            goto fail;
        rm_log_info("job %s '%s' from %s '%s': %u frame range(s), accepted", spec->job_id,
                    spec->name, spec->submitter_role, r->who->name, spec->frames.count);
        rm_job_log(job, "submitted by %s: %s", r->who->name, spec->blend);
    }
    /* Acknowledged once a second node holds it: a node lost now loses
       nothing that was acknowledged.  The same client asking again while
       it waits (its own wait for the answer ran out) gets the answer to
       its latest ask; the wait goes on as it was. */
    int64_t wait_ms = (int64_t)self->config.submit_wait_s * 1000;
    for (size_t i = 0; i < self->nwaiting; i++) {
        rm_node_waiting_t *w = &self->waiting[i];
        if (w->type == RM_MSG_SUBMIT && strcmp(w->job_id, rm_job_id(job)) == 0 &&
            strcmp(w->who, r->who->name) == 0) {
            zframe_destroy(&w->peer);
            w->peer = zframe_dup(r->peer);
            w->req = r->msg->req;
            if (rm_jobsync_replicate(self->jobsync, job, wait_ms, on_job_held, self, &err) != 0)
                goto fail;
            return;
        }
    }
    rm_node_waiting_t *w = rm_node_waiting_add(r, RM_MSG_SUBMIT);
    if (!w) {
        rm_err_set(&err, RM_EAGAIN,
                   "this node is busy (or %s has %d requests waiting here): submit again",
                   r->who->name, RM_NODE_MAX_PER_CLIENT);
        goto fail;
    }
    snprintf(w->job_id, sizeof w->job_id, "%s", rm_job_id(job));
    w->since = zclock_mono();
    w->deadline = w->since + wait_ms;
    int64_t deadline = w->deadline; /* w may be answered, and gone, inside the call */
    if (rm_jobsync_replicate(self->jobsync, job, wait_ms, on_job_held, self, &err) != 0) {
        rm_node_waiting_drop(self, self->nwaiting - 1);
        goto fail;
    }
    /* jobsync keeps one wait per job: it must last as long as this one (a
       second client submitting the same job). */
    rm_jobsync_replicate_extend(self->jobsync, rm_job_id(job), deadline);
    return;
fail:
    rm_log_warning("job %s from %s refused: %s", spec->job_id, r->who->name, err.msg);
    rm_node_reply_error(self->mesh, r->peer, r->msg->req, err.code, err.msg);
}

void rm_node_submit_progress(rm_node_ctx_t *self)
{
    int64_t now = zclock_mono();
    if (now - self->submit_progress_at < 1000)
        return; /* once a second is enough: the waits are seconds long */
    self->submit_progress_at = now;
    for (size_t i = 0; i < self->nwaiting; i++) {
        rm_node_waiting_t *w = &self->waiting[i];
        if (w->type != RM_MSG_SUBMIT)
            continue;
        int64_t until = now + (int64_t)self->config.submit_wait_s * 1000;
        if (until > w->since + SUBMIT_WAIT_MAX_MS)
            until = w->since + SUBMIT_WAIT_MAX_MS;
        if (until > w->deadline) {
            w->deadline = until;
            rm_jobsync_replicate_extend(self->jobsync, w->job_id, until);
        }
    }
}

void rm_node_submit_chunks_held(rm_node_request_t *r)
{
    const rm_need_t *ask = &r->msg->u.chunks_held;
    uint32_t n = ask->hashes.count;
    rm_have_reply_t reply = {.held = {.data = calloc((n + 7) / 8 + 1, 1), .len = (n + 7) / 8}};
    if (!reply.held.data) {
        rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, RM_ENOMEM, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        if (rm_store_has(r->node->store, &ask->hashes.items[i])) {
            reply.held.data[i / 8] |= (uint8_t)(1u << (i % 8));
            /* Not sent again on the strength of this answer: the
               collector's grace starts anew, so the SUBMIT finds it. */
            rm_store_touch(r->node->store, &ask->hashes.items[i]);
        }
    rm_node_reply(r->node->mesh, r->peer, RM_MSG_CHUNKS_HELD_REPLY, r->msg->req, &reply);
    free(reply.held.data);
}

void rm_node_submit_chunk_put(rm_node_request_t *r)
{
    rm_chunk_t *chunk = &r->msg->u.chunk;
    rm_err_t err;
    /* Durable with the SUBMIT that names it: thousands of chunks in a row
       must not cost two fsyncs each. */
    if (rm_store_put_unsynced(r->node->store, &chunk->hash, chunk->data.data, chunk->data.len,
                              &err) != 0) {
        rm_log_warning("chunk from %s refused: %s", r->who->name, err.msg);
        rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    rm_chunk_ref_t ok = {.hash = chunk->hash};
    rm_node_reply(r->node->mesh, r->peer, RM_MSG_CHUNK_OK, r->msg->req, &ok);
}
