#include "rm_outputs.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "rm_log.h"
#include "rm_reqid.h"
#include "rm_s3_url.h"

#define ADDR_MAX 300
#define MAX_TRIED 8
#define WARNING_MAX 2048 /* a frame's warning, as recorded */

/*  A rendered frame whose output is not durable yet: waiting for a
    replica's copy, or for S3 (upload != 0). */
typedef struct {
    char job_id[65];
    uint64_t frame;
    rm_hash_t output;
    uint64_t size;
    char file[RM_MAX_PATH + 1];
    uint64_t render_ms;
    char warning[WARNING_MAX]; /* cut to this length */
    rm_hash_t log;
    char replica[RM_MAX_NAME + 1];
    char replica_addr[ADDR_MAX];
    char tried[MAX_TRIED][RM_MAX_NAME + 1];
    int ntried;
    uint64_t req;
    int64_t deadline;             /* INT64_MAX while it waits for S3 */
    uint64_t upload;              /* its rm_uploads id; 0: replicated to a node */
    char stored[RM_MAX_PATH * 3]; /* s3://BUCKET/KEY of its main image */
    uint32_t s3_waits;            /* times S3 could not be reached for it */
} copy_t;

/*  A REPLICATE we serve: answered once the output and its log are fetched. */
typedef struct {
    char from[ADDR_MAX];
    uint64_t req;
    rm_hash_t hash, log;
    bool out_pending, log_pending; /* fetches not ended yet */
} serving_t;

struct _rm_outputs_t {
    char name[RM_MAX_NAME + 1];
    rm_jobs_t *jobs;
    rm_member_t *member;
    rm_xfer_t *xfer;
    rm_grants_t *grants;
    rm_uploads_t *uploads;
    char s3_why[RM_ERR_MSG_MAX];
    uint64_t max_attempts;
    rm_reqid_t ids; /* of REPLICATEs sent */
    uint64_t next_upload;
    copy_t *copies;
    size_t ncopies, copies_cap;
    serving_t *serving;
    size_t nserving, serving_cap;
};

/*  The alive member (not tried yet) that ranks first for this frame:
    rendezvous hashing spreads copies over the mesh. */
static const char *pick_replica(rm_outputs_t *self, const copy_t *c, const char **addr)
{
    size_t count = 0;
    const rm_member_peer_t *peers = rm_member_peers(self->member, &count);
    const char *best = NULL;
    uint64_t best_score = 0;
    for (size_t i = 0; peers && i < count; i++) {
        if (!peers[i].alive || !peers[i].addr[0] || (peers[i].has_meta && peers[i].meta->draining))
            continue;
        bool tried = false;
        for (int t = 0; t < c->ntried && !tried; t++)
            tried = strcmp(c->tried[t], peers[i].name) == 0;
        if (tried)
            continue;
        char key[400];
        uint64_t score;
        int n = snprintf(key, sizeof key, "%s/%llu/%s", c->job_id, (unsigned long long)c->frame,
                         peers[i].name);
        crypto_generichash((uint8_t *)&score, sizeof score, (const uint8_t *)key, (size_t)n, NULL,
                           0);
        if (!best || score > best_score) {
            best = peers[i].name;
            best_score = score;
            *addr = peers[i].addr;
        }
    }
    return best;
}

/*  Done already at the generation this node was given the frame at (a
    grant of a later generation: it was reopened since that record). */
static bool done_already(rm_outputs_t *self, const char *job_id, const rm_frame_rec_t *rec)
{
    if (!rec || rec->state != RM_FRAME_DONE)
        return false;
    const rm_job_grant_t *grant = rm_grants_find(self->grants, job_id, rec->frame);
    return !grant || grant->gen <= rec->gen;
}

static void record_done(rm_outputs_t *self, const copy_t *c, const char *copy_on)
{
    rm_job_t *job = rm_jobs_find(self->jobs, c->job_id);
    rm_err_t err;
    if (!job)
        return;
    const rm_frame_rec_t *rec = rm_job_frame(job, c->frame);
    if (done_already(self, c->job_id, rec)) {
        rm_job_log(job, "frame %llu: the copy rendered on %s was not needed (done by %s first)",
                   (unsigned long long)c->frame, self->name, rec->node ? rec->node : "?");
        return;
    }
    rm_frame_output_t out = {.output = c->output,
                             .size = c->size,
                             .file = c->file,
                             .render_ms = c->render_ms,
                             .warning = c->warning,
                             .log = c->log};
    const rm_job_grant_t *grant = rm_grants_find(self->grants, c->job_id, c->frame);
    if (!grant)
        rm_log_warning("job %s frame %llu: rendered here without a signed assignment: the other "
                       "nodes will not count it done",
                       c->job_id, (unsigned long long)c->frame);
    int rc = rm_job_frame_done(job, c->frame, &out, self->name, grant, &err);
    rm_grants_drop(self->grants, c->job_id, c->frame);
    if (rc != 0) {
        rm_log_error("job %s frame %llu: %s", c->job_id, (unsigned long long)c->frame, err.msg);
        rm_job_frame_release(job, c->frame, err.msg);
        return;
    }
    if (c->upload)
        rm_job_log(job, "frame %llu stored in %s", (unsigned long long)c->frame, c->stored);
    else if (copy_on)
        rm_job_log(job, "frame %llu stored on %s and %s", (unsigned long long)c->frame, self->name,
                   copy_on);
    else
        rm_job_log(job, "frame %llu stored on %s only (no other node to copy it to)",
                   (unsigned long long)c->frame, self->name);
}

/*  Asks the next replica, or records the frame with the one copy there is. */
static void replicate_next(rm_outputs_t *self, size_t i, int64_t now)
{
    copy_t *c = &self->copies[i];
    const char *addr = NULL;
    const char *replica = c->ntried < MAX_TRIED ? pick_replica(self, c, &addr) : NULL;
    if (!replica) {
        copy_t done = *c;
        self->copies[i] = self->copies[--self->ncopies];
        record_done(self, &done, NULL);
        return;
    }
    snprintf(c->replica, sizeof c->replica, "%s", replica);
    snprintf(c->replica_addr, sizeof c->replica_addr, "%s", addr);
    snprintf(c->tried[c->ntried++], sizeof c->tried[0], "%s", replica);
    c->req = rm_reqid_next(&self->ids);
    c->deadline = now + RM_OUTPUTS_REPLICATE_MS;
    rm_replicate_t body = {
        .hash = c->output, .job_id = c->job_id, .frame = c->frame, .log = c->log};
    rm_member_send_msg(self->member, addr, RM_MSG_REPLICATE, c->req, &body);
}

/*  The replica answers over our link to it, or over its own connection to
    us ("rid:"), whose routing id we cannot tie to its name: accept those. */
static bool reply_from(const copy_t *c, const char *from)
{
    return strcmp(from, c->replica_addr) == 0 || strncmp(from, "rid:", 4) == 0;
}

/*  The frame's files go to S3 under the job's out_url. */
static void upload_frame(rm_outputs_t *self, size_t i, rm_job_t *job, const char *out_url)
{
    copy_t *c = &self->copies[i];
    rm_s3_url_t url;
    rm_err_t err = {0};
    int rc = rm_s3_url_parse(out_url, "the job's output", &url, &err);
    if (rc == 0 && !self->uploads)
        rc = rm_err_set(&err, RM_EINVAL, "this node cannot write to S3: %s", self->s3_why);
    if (rc == 0) {
        c->upload = ++self->next_upload;
        c->deadline = INT64_MAX;
        snprintf(c->stored, sizeof c->stored, "s3://%s/%s%s", url.bucket, url.key, c->file);
        rc = rm_uploads_add(self->uploads, c->upload, url.bucket, url.key, &c->output, &err);
    }
    if (rc != 0) {
        copy_t failed = *c;
        self->copies[i] = self->copies[--self->ncopies];
        rm_grants_drop(self->grants, failed.job_id, failed.frame);
        rm_job_frame_failed(job, failed.frame, err.msg, self->max_attempts, NULL);
    }
}

void rm_outputs_add(rm_outputs_t *self, rm_job_t *job, uint64_t frame, const rm_frame_output_t *out)
{
    if (self->ncopies == self->copies_cap) {
        size_t cap = self->copies_cap ? self->copies_cap * 2 : 16;
        copy_t *grown = realloc(self->copies, cap * sizeof *grown);
        if (!grown) {
            rm_job_frame_release(job, frame, "out of memory");
            return;
        }
        self->copies = grown;
        self->copies_cap = cap;
    }
    copy_t *c = &self->copies[self->ncopies++];
    memset(c, 0, sizeof *c);
    snprintf(c->job_id, sizeof c->job_id, "%s", rm_job_id(job));
    snprintf(c->file, sizeof c->file, "%s", out->file);
    snprintf(c->warning, sizeof c->warning, "%s", out->warning ? out->warning : "");
    c->frame = frame;
    c->output = out->output;
    c->size = out->size;
    c->render_ms = out->render_ms;
    c->log = out->log;
    const rm_frame_rec_t *rec = rm_job_frame(job, frame);
    const char *out_url = rm_job_spec(job)->out_url;
    if (done_already(self, c->job_id, rec)) { /* a copy finished first */
        copy_t done = *c;
        self->ncopies--;
        record_done(self, &done, NULL);
    } else if (out_url && out_url[0]) {
        upload_frame(self, self->ncopies - 1, job, out_url);
    } else {
        replicate_next(self, self->ncopies - 1, zclock_mono());
    }
}

static void on_replicated(rm_outputs_t *self, const char *from, const rm_msg_t *msg)
{
    for (size_t i = 0; i < self->ncopies; i++) {
        copy_t *c = &self->copies[i];
        if (c->req != msg->req || !reply_from(c, from))
            continue;
        if (msg->type == RM_MSG_OK) {
            copy_t done = *c;
            self->copies[i] = self->copies[--self->ncopies];
            record_done(self, &done, done.replica);
        } else {
            rm_log_warning("job %s frame %llu: %s did not keep a copy: %s", c->job_id,
                           (unsigned long long)c->frame, c->replica, msg->u.error.message);
            replicate_next(self, i, zclock_mono());
        }
        return;
    }
}

static bool hash_is_zero(const rm_hash_t *h)
{
    static const rm_hash_t zero;
    return memcmp(h->b, zero.b, sizeof zero.b) == 0;
}

/*  Answers serving[i] (OK when status is 0) and forgets it. */
static void serving_end(rm_outputs_t *self, size_t i, int status, const char *error)
{
    serving_t s = self->serving[i];
    self->serving[i] = self->serving[--self->nserving];
    if (status == 0) {
        rm_ok_t ok = {.message = "held"};
        rm_member_send_msg(self->member, s.from, RM_MSG_OK, s.req, &ok);
    } else {
        rm_member_send_error(self->member, s.from, s.req, (rm_code_t)status, error);
    }
}

static bool find_serving(rm_outputs_t *self, const char *from, uint64_t req, size_t *at)
{
    for (size_t i = 0; i < self->nserving; i++)
        if (self->serving[i].req == req && strcmp(self->serving[i].from, from) == 0) {
            *at = i;
            return true;
        }
    return false;
}

static void on_fetched_output(void *arg, const rm_hash_t *hash, int status, const char *error)
{
    rm_outputs_t *self = arg;
    for (size_t i = 0; i < self->nserving;) {
        serving_t *s = &self->serving[i];
        bool out = s->out_pending && memcmp(s->hash.b, hash->b, 32) == 0;
        bool log = s->log_pending && memcmp(s->log.b, hash->b, 32) == 0;
        if (!out && !log) {
            i++;
            continue;
        }
        s->out_pending &= !out;
        s->log_pending &= !log;
        if (status != 0 || (!s->out_pending && !s->log_pending))
            serving_end(self, i, status, error); /* serving[i] is another one now */
        else
            i++;
    }
}

static void serve_replicate(rm_outputs_t *self, const char *from, const rm_msg_t *msg, bool leaving)
{
    /* A copy on a leaving node is no copy: the sender asks another. */
    if (leaving) {
        rm_member_send_error(self->member, from, msg->req, RM_EAGAIN,
                             "this node is leaving the mesh");
        return;
    }
    if (self->nserving == self->serving_cap) {
        size_t cap = self->serving_cap ? self->serving_cap * 2 : 16;
        serving_t *grown = realloc(self->serving, cap * sizeof *grown);
        if (!grown) {
            rm_member_send_error(self->member, from, msg->req, RM_ENOMEM, "out of memory");
            return;
        }
        self->serving = grown;
        self->serving_cap = cap;
    }
    const rm_replicate_t *r = &msg->u.replicate;
    serving_t *s = &self->serving[self->nserving++];
    memset(s, 0, sizeof *s);
    snprintf(s->from, sizeof s->from, "%s", from);
    s->req = msg->req;
    s->hash = r->hash;
    s->log = r->log;
    s->out_pending = true;
    s->log_pending = !hash_is_zero(&r->log);
    /* Either fetch may end inside rm_xfer_fetch (already here): the entry is
       looked up again after each. */
    const char *sources[1] = {from};
    rm_err_t err;
    rm_hash_t hash = r->hash, log = r->log;
    size_t at;
    if (rm_xfer_fetch(self->xfer, &hash, true, sources, 1, on_fetched_output, self, &err) != 0 &&
        find_serving(self, from, msg->req, &at)) {
        serving_end(self, at, err.code, err.msg);
        return;
    }
    if (find_serving(self, from, msg->req, &at) && self->serving[at].log_pending &&
        rm_xfer_fetch(self->xfer, &log, true, sources, 1, on_fetched_output, self, &err) != 0 &&
        find_serving(self, from, msg->req, &at))
        serving_end(self, at, err.code, err.msg);
}

rm_outputs_t *rm_outputs_new(const rm_work_parts_t *parts, rm_grants_t *grants, rm_err_t *err)
{
    rm_outputs_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(self->name, sizeof self->name, "%s", parts->config->name);
    snprintf(self->s3_why, sizeof self->s3_why, "%s",
             parts->s3_why ? parts->s3_why : "no S3 settings");
    self->jobs = parts->jobs;
    self->member = parts->member;
    self->xfer = parts->xfer;
    self->grants = grants;
    self->uploads = parts->uploads;
    self->max_attempts = parts->config->max_attempts;
    /* Answers come back to the worker (RM_REQ_WORK), which hands them here. */
    rm_reqid_init(&self->ids, RM_REQ_WORK);
    return self;
}

void rm_outputs_destroy(rm_outputs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_outputs_t *self = *self_p;
    free(self->copies);
    free(self->serving);
    free(self);
    *self_p = NULL;
}

size_t rm_outputs_count(const rm_outputs_t *self)
{
    return self->ncopies;
}

const char *rm_outputs_at(const rm_outputs_t *self, size_t i, uint64_t *frame)
{
    *frame = self->copies[i].frame;
    return self->copies[i].job_id;
}

void rm_outputs_hashes_at(const rm_outputs_t *self, size_t i, rm_hash_t *output, rm_hash_t *log)
{
    *output = self->copies[i].output;
    *log = self->copies[i].log;
}

bool rm_outputs_can_s3(const rm_outputs_t *self)
{
    return self->uploads != NULL;
}

void rm_outputs_release_uploads(rm_outputs_t *self)
{
    for (size_t i = 0; i < self->ncopies;) {
        copy_t *c = &self->copies[i];
        if (!c->upload) {
            i++;
            continue;
        }
        rm_uploads_drop(self->uploads, c->upload);
        rm_job_t *job = rm_jobs_find(self->jobs, c->job_id);
        if (job)
            rm_job_frame_release(job, c->frame, "its node left before S3 stored it");
        rm_grants_drop(self->grants, c->job_id, c->frame);
        self->copies[i] = self->copies[--self->ncopies];
    }
}

size_t rm_outputs_serving(const rm_outputs_t *self)
{
    return self->nserving;
}

bool rm_outputs_handle(rm_outputs_t *self, const char *from, const rm_msg_t *msg, bool leaving)
{
    if (msg->type == RM_MSG_REPLICATE) {
        serve_replicate(self, from, msg, leaving);
        return true;
    }
    if (msg->type != RM_MSG_OK && msg->type != RM_MSG_ERROR)
        return false;
    for (size_t i = 0; i < self->ncopies; i++)
        if (!self->copies[i].upload && self->copies[i].req == msg->req &&
            reply_from(&self->copies[i], from)) {
            on_replicated(self, from, msg);
            return true;
        }
    return false;
}

static size_t find_upload(const rm_outputs_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->ncopies; i++)
        if (self->copies[i].upload == id)
            return i;
    return SIZE_MAX;
}

void rm_outputs_upload_event(rm_outputs_t *self)
{
    rm_upload_event_t ev;
    if (!self->uploads || rm_uploads_recv(self->uploads, &ev) != 0)
        return;
    size_t i = find_upload(self, ev.id);
    if (i == SIZE_MAX)
        return;
    copy_t *c = &self->copies[i];
    rm_job_t *job = rm_jobs_find(self->jobs, c->job_id);
    if (ev.state == RM_UPLOAD_WAITING) {
        /* Said at the 1st, 2nd, 4th, 8th... wait: an outage of hours
           leaves a few lines per frame, not one a minute. */
        uint32_t n = ++c->s3_waits;
        if ((n & (n - 1)) != 0)
            return;
        rm_log_warning("job %s frame %llu waits on this node for S3 (try %u, again in %u s): %s",
                       c->job_id, (unsigned long long)c->frame, n, ev.wait_s, ev.text);
        if (job)
            rm_job_log(job, "frame %llu waits on %s for S3 (try %u, again in %u s): %s",
                       (unsigned long long)c->frame, self->name, n, ev.wait_s, ev.text);
        return;
    }
    copy_t done = *c;
    self->copies[i] = self->copies[--self->ncopies];
    if (ev.state == RM_UPLOAD_STORED) {
        if (job && done.s3_waits > 0)
            rm_job_log(job, "frame %llu reached S3 after %u failed tries",
                       (unsigned long long)done.frame, done.s3_waits);
        if (job && ev.existed > 0)
            rm_job_log(job, "frame %llu: %u of its %u file(s) were in S3 already (left untouched)",
                       (unsigned long long)done.frame, ev.existed, ev.files);
        record_done(self, &done, NULL);
        return;
    }
    rm_log_warning("job %s frame %llu cannot be stored in S3: %s", done.job_id,
                   (unsigned long long)done.frame, ev.text);
    rm_grants_drop(self->grants, done.job_id, done.frame);
    if (job)
        rm_job_frame_failed(job, done.frame, ev.text, self->max_attempts, NULL);
}

/*  Frames of jobs that ended are not uploaded any more. */
static void drop_ended(rm_outputs_t *self)
{
    for (size_t i = 0; i < self->ncopies;) {
        rm_job_t *job = rm_jobs_find(self->jobs, self->copies[i].job_id);
        if (self->copies[i].upload && (!job || rm_job_finished(job))) {
            rm_uploads_drop(self->uploads, self->copies[i].upload);
            self->copies[i] = self->copies[--self->ncopies];
        } else {
            i++;
        }
    }
}

void rm_outputs_tick(rm_outputs_t *self, int64_t now)
{
    drop_ended(self);
    for (size_t i = 0; i < self->ncopies;) {
        if (now < self->copies[i].deadline) {
            i++;
            continue;
        }
        rm_log_warning("job %s frame %llu: %s did not answer for its copy", self->copies[i].job_id,
                       (unsigned long long)self->copies[i].frame, self->copies[i].replica);
        size_t before = self->ncopies;
        replicate_next(self, i, now);
        if (self->ncopies == before)
            i++;
    }
}

int64_t rm_outputs_wakeup(const rm_outputs_t *self, int64_t at)
{
    for (size_t i = 0; i < self->ncopies; i++)
        if (self->copies[i].deadline < at)
            at = self->copies[i].deadline;
    return at;
}
