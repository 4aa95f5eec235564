#include "rm_node_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_log.h"
#include "rm_caps.h"
#include "rm_node_remove.h"
#include "rm_node_revoke.h"
#include "rm_node_s3.h"
#include "rm_node_submit.h"
#include "rm_node_upload.h"
#include "rm_rights.h"
#include "rm_s3_url.h"

#define MAX_WATCH_MS 60000
/*  A chunk a client asked for and this node still seeks on the mesh by
    then: the client is told to ask again (RM_EAGAIN) rather than left
    waiting past its patience while dead members time out one by one. */
#define PROXY_ANSWER_MS 2000

typedef rm_node_request_t request_t;

static void on_chunk_fetched(void *arg, const rm_hash_t *hash, int status, const char *error)
{
    rm_node_ctx_t *self = arg;
    /* No member gave it (none had it, or those that may have did not
       answer): if it is a done frame's output, the frame may have to be
       rendered again (rm_repair asks every live member first). */
    if (status != 0)
        rm_repair_output_missing(self->repair, hash);
    for (size_t i = 0; i < self->nwaiting;) {
        rm_node_waiting_t *w = &self->waiting[i];
        if (w->type != RM_MSG_CHUNK_GET || memcmp(w->hash.b, hash->b, 32) != 0) {
            i++;
            continue;
        }
        rm_chunk_t chunk = {.hash = *hash};
        rm_err_t err;
        if (status != 0)
            rm_node_reply_error(self->mesh, w->peer, w->req, (rm_code_t)status, error);
        else if (rm_store_get(self->store, hash, &chunk.data.data, &chunk.data.len, &err) != 0)
            rm_node_reply_error(self->mesh, w->peer, w->req, err.code, err.msg);
        else
            rm_node_upload_chunk(self, w->peer, NULL, w->req, &chunk);
        free(chunk.data.data);
        rm_node_waiting_drop(self, i);
    }
}

/*  A client asks for a chunk this node lacks (an output rendered and kept
    elsewhere): it is fetched from the members, then sent. */
static bool proxy_chunk(request_t *r)
{
    rm_node_ctx_t *self = r->node;
    const char *sources[16];
    size_t n = rm_jobsync_sources(self->jobsync, NULL, sources, 16);
    if (rm_role_has(r->who->role, RM_RIGHT_MESH) || n == 0)
        return false; /* nodes ask nodes themselves */
    rm_node_waiting_t *w = rm_node_waiting_add(r, RM_MSG_CHUNK_GET);
    if (!w)
        return false;
    w->hash = r->msg->u.chunk_ref.hash;
    w->deadline = zclock_mono() + PROXY_ANSWER_MS;
    rm_err_t err;
    if (rm_xfer_fetch(self->xfer, &w->hash, false, sources, n, on_chunk_fetched, self, &err) != 0) {
        rm_node_waiting_drop(self, self->nwaiting - 1);
        return false;
    }
    return true;
}

void rm_node_client_expire_waits(rm_node_ctx_t *self, int64_t now)
{
    for (size_t i = 0; i < self->nwaiting;) {
        rm_node_waiting_t *w = &self->waiting[i];
        if (w->type != RM_MSG_CHUNK_GET || w->deadline > now) {
            i++;
            continue;
        }
        char hex[65], text[RM_ERR_MSG_MAX];
        rm_hash_hex(&w->hash, hex);
        snprintf(text, sizeof text,
                 "chunk %.16s: not on node %s; fetching it from the mesh, ask again", hex,
                 self->config.name);
        rm_node_reply_error(self->mesh, w->peer, w->req, RM_EAGAIN, text);
        rm_node_waiting_drop(self, i); /* the fetch goes on: the next ask finds it here */
    }
}

int64_t rm_node_client_wakeup(const rm_node_ctx_t *self, int64_t now)
{
    int64_t at = INT64_MAX;
    for (size_t i = 0; i < self->nwaiting; i++)
        if (self->waiting[i].type == RM_MSG_CHUNK_GET && self->waiting[i].deadline < at)
            at = self->waiting[i].deadline;
    return at == INT64_MAX ? INT64_MAX : at - now < 0 ? 0 : at - now;
}

static void handle_chunk_get(request_t *r)
{
    rm_chunk_t chunk = {.hash = r->msg->u.chunk_ref.hash};
    rm_err_t err;
    if (rm_store_get(r->node->store, &chunk.hash, &chunk.data.data, &chunk.data.len, &err) != 0) {
        if (err.code != RM_ENOTFOUND || !proxy_chunk(r))
            rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    rm_node_upload_chunk(r->node, r->peer, NULL, r->msg->req, &chunk);
    free(chunk.data.data);
}

static void count_jobs(rm_node_ctx_t *self, rm_status_reply_t *s)
{
    for (size_t i = 0; i < rm_jobs_count(self->jobs); i++) {
        const char *state = rm_job_state(rm_jobs_at(self->jobs, i));
        if (strcmp(state, "queued") == 0)
            s->jobs_queued++;
        else if (strcmp(state, "rendering") == 0)
            s->jobs_active++;
        else if (strcmp(state, "done") == 0)
            s->jobs_done++;
        else
            s->jobs_failed++;
    }
}

static void handle_status(request_t *r)
{
    rm_node_ctx_t *self = r->node;
    rm_status_reply_t s = {
        .node = self->config.name,
        .version = RM_VERSION,
        .proto = RM_PROTO_VERSION,
        .uptime_s = (zclock_time() - self->started) / 1000,
        .coordinator = self->election.coordinator,
        .epoch = self->election.coordinator_epoch,
        .slots = rm_slots_count(self->slots),
        .slots_busy = rm_slots_busy(self->slots),
        .blender_ok = self->blender_ok,
        .blender = self->blender,
    };
    count_jobs(self, &s);
    rm_node_reply(self->mesh, r->peer, RM_MSG_STATUS_REPLY, r->msg->req, &s);
}

/*  The members as NODES shows them, this node's own capabilities live. */
static int members_now(rm_node_ctx_t *self, rm_nodes_reply_t *nodes)
{
    if (rm_member_list(self->member, nodes, NULL) != 0)
        return -1;
    char *caps = strdup(self->caps);
    if (nodes->nodes.count == 0 || !caps) {
        free(caps);
        return 0;
    }
    free(nodes->nodes.items[0].caps);
    nodes->nodes.items[0].caps = caps;
    nodes->nodes.items[0].blender_ok = self->blender_ok;
    return 0;
}

/*  A job that no node can start says so (rm_caps_waiting). */
static void note_waiting(rm_node_ctx_t *self, const rm_job_t *job, rm_job_summary_t *s,
                         const rm_nodes_reply_t *nodes)
{
    char why[512];
    if (rm_job_finished(job))
        return;
    rm_caps_waiting(rm_job_spec(job), nodes->nodes.items, nodes->nodes.count, why, sizeof why);
    const char *root = rm_job_spec(job)->source_root;
    if (!why[0] && rm_jobsync_project_nowhere(self->jobsync, rm_job_id(job)))
        snprintf(why, sizeof why,
                 "no node holds all of the project's files any more (evicted under "
                 "store_cap_mb, or lost with their nodes): %s",
                 root && rm_s3_url_is(root) ? "the nodes with S3 read it from S3 again"
                                            : "submit the project again");
    char *copy = why[0] ? strdup(why) : NULL;
    if (copy) {
        free(s->waiting);
        s->waiting = copy;
    }
}

static void handle_jobs(request_t *r)
{
    rm_node_ctx_t *self = r->node;
    size_t n = rm_jobs_count(self->jobs);
    rm_jobs_reply_t reply = {0};
    rm_err_t err;
    reply.jobs.items = calloc(n ? n : 1, sizeof(rm_job_summary_t));
    if (!reply.jobs.items) {
        rm_node_reply_error(self->mesh, r->peer, r->msg->req, RM_ENOMEM, "out of memory");
        return;
    }
    rm_nodes_reply_t nodes;
    bool have_nodes = members_now(self, &nodes) == 0;
    for (size_t i = 0; i < n; i++) {
        rm_job_t *job = rm_jobs_at(self->jobs, i);
        if (rm_job_summary(job, &reply.jobs.items[i], &err) != 0)
            break;
        if (have_nodes)
            note_waiting(self, job, &reply.jobs.items[i], &nodes);
        reply.jobs.count++;
    }
    if (have_nodes)
        rm_codec_free(rm_msg_desc(RM_MSG_NODES_REPLY), &nodes);
    rm_node_reply(self->mesh, r->peer, RM_MSG_JOBS_REPLY, r->msg->req, &reply);
    rm_codec_free(rm_msg_desc(RM_MSG_JOBS_REPLY), &reply);
}

static rm_job_t *find_job(request_t *r, const char *job_id)
{
    rm_job_t *job = rm_jobs_find(r->node->jobs, job_id);
    if (!job) {
        char text[160];
        snprintf(text, sizeof text, "no job %.64s on this node", job_id);
        rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, RM_ENOTFOUND, text);
    }
    return job;
}

/*  The job if `who` may act on it (`action`: "cancel"): anyone's with the
    right to manage any job, else only their own.  Else replies the refusal
    and returns NULL. */
static rm_job_t *find_own_job(request_t *r, const char *job_id, const char *action)
{
    rm_job_t *job = find_job(r, job_id);
    const char *submitter = job ? rm_job_spec(job)->submitter : NULL;
    if (!job || rm_rights_manage(r->who, submitter))
        return job;
    rm_err_t err;
    rm_rights_require(r->who, RM_RIGHT_ANY_JOB, &err);
    char text[RM_ERR_MSG_MAX + 160];
    snprintf(text, sizeof text, "%s (%s job %s of '%.64s')", err.msg, action, rm_job_id(job),
             submitter ? submitter : "");
    if (rm_refusal_log_ok(&r->node->refusals))
        rm_log_notice("refused: %s", text);
    rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, RM_EDENIED, text);
    return NULL;
}

/*  True if the job's data is kept from the asker: an artist asking of
    another's job where artists_private is set.  Nodes and admins see all. */
static bool private_to(const request_t *r, rm_job_t *job)
{
    return r->node->config.artists_private &&
           strcmp(rm_role_effective(r->who->role), RM_ROLE_ARTIST) == 0 &&
           !rm_rights_manage(r->who, rm_job_spec(job)->submitter);
}

/*  Content is fetched by hash: without the hashes (and the S3 places of
    its frames) the job is only seen. */
static void redact(rm_job_reply_t *reply)
{
    reply->redacted = true;
    memset(&reply->spec.manifest, 0, sizeof reply->spec.manifest);
    if (reply->spec.out_url)
        reply->spec.out_url[0] = '\0';
    if (reply->spec.source_root && strncmp(reply->spec.source_root, "s3://", 5) == 0)
        reply->spec.source_root[0] = '\0';
    for (uint32_t i = 0; i < reply->frames.count; i++) {
        rm_frame_info_t *f = &reply->frames.items[i];
        memset(&f->output, 0, sizeof f->output);
        memset(&f->log, 0, sizeof f->log);
        if (f->stored)
            f->stored[0] = '\0';
    }
}

static void handle_job_info(request_t *r)
{
    rm_job_t *job = find_job(r, r->msg->u.job_ref.job_id);
    rm_job_reply_t reply;
    rm_err_t err;
    if (!job)
        return;
    if (rm_job_info(job, &reply, &err) != 0) {
        rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    if (private_to(r, job))
        redact(&reply);
    rm_nodes_reply_t nodes;
    if (members_now(r->node, &nodes) == 0) {
        note_waiting(r->node, job, &reply.summary, &nodes);
        rm_codec_free(rm_msg_desc(RM_MSG_NODES_REPLY), &nodes);
    }
    rm_node_reply(r->node->mesh, r->peer, RM_MSG_JOB_REPLY, r->msg->req, &reply);
    rm_codec_free(rm_msg_desc(RM_MSG_JOB_REPLY), &reply);
}

static void handle_nodes(request_t *r)
{
    rm_node_ctx_t *self = r->node;
    rm_nodes_reply_t reply;
    rm_err_t err;
    if (rm_member_list(self->member, &reply, &err) != 0) {
        rm_node_reply_error(self->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    /* Entry 0 is this node: show its live state, not what it last gossiped. */
    char rendering[200];
    rm_member_meta_t meta;
    rm_node_meta(self, &meta, rendering, sizeof rendering);
    rm_node_info_t *me = &reply.nodes.items[0];
    char *fresh[] = {strdup(self->config.role), strdup(rendering), strdup(self->blender),
                     strdup(self->caps)};
    if (reply.nodes.count > 0 && fresh[0] && fresh[1] && fresh[2] && fresh[3]) {
        free(me->role);
        free(me->rendering);
        free(me->blender);
        free(me->caps);
        me->role = fresh[0];
        me->rendering = fresh[1];
        me->blender = fresh[2];
        me->caps = fresh[3];
        me->slots = meta.slots;
        me->slots_busy = meta.slots_busy;
        me->ms_per_frame = meta.ms_per_frame;
        me->blender_ok = meta.blender_ok;
        me->store_known = meta.store_known;
        me->store_bytes = meta.store_bytes;
        me->store_cap = meta.store_cap;
    } else {
        for (size_t i = 0; i < 4; i++)
            free(fresh[i]);
    }
    rm_node_reply(self->mesh, r->peer, RM_MSG_NODES_REPLY, r->msg->req, &reply);
    rm_codec_free(rm_msg_desc(RM_MSG_NODES_REPLY), &reply);
}

/*  A client's cancel or priority carries the order it signed: every node
    that merges the change checks it (rm_job_order.h). */
static bool has_order(request_t *r, const rm_bin_t *order)
{
    if (order->len > 0)
        return true;
    rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, RM_EAUTH,
                        "this meshctl predates signed cancels and priorities: update it");
    return false;
}

static void handle_cancel(request_t *r)
{
    const rm_cancel_t *c = &r->msg->u.cancel;
    rm_job_t *job = find_own_job(r, c->job_id, "cancel");
    rm_err_t err;
    if (!job || !has_order(r, &c->order))
        return;
    if (rm_job_finished(job) && strcmp(rm_job_state(job), "canceled") != 0) {
        rm_node_reply_ok(r->node->mesh, r->peer, r->msg->req, "job already finished");
        return;
    }
    if (rm_job_cancel(job, &c->order, &err) != 0) {
        rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    rm_work_job_changed(r->node->work, job); /* its renders here stop; others hear it by sync */
    rm_job_log(job, "cancelled by %s '%s'", rm_role_effective(r->who->role), r->who->name);
    rm_log_info("job %s cancelled by %s '%s'", rm_job_id(job), rm_role_effective(r->who->role),
                r->who->name);
    rm_node_reply_ok(r->node->mesh, r->peer, r->msg->req, "cancelled");
}

/*  PRIORITY: the job's owner (or an admin) sets it within their bounds. */
static void handle_priority(request_t *r)
{
    const rm_priority_t *p = &r->msg->u.priority;
    rm_job_t *job = find_own_job(r, p->job_id, "change the priority of");
    rm_err_t err;
    if (!job || !has_order(r, &p->order))
        return;
    if (rm_job_finished(job))
        rm_err_set(&err, RM_EINVAL, "job %s is %s: its priority no longer matters", p->job_id,
                   rm_job_state(job));
    else if (rm_quota_check_priority(r->node->quota, rm_role_effective(r->who->role), p->priority,
                                     &err) == 0 &&
             rm_job_set_priority(job, p->priority, &p->order, &err) == 0) {
        rm_job_log(job, "priority set to %lld by %s '%s'", (long long)p->priority,
                   rm_role_effective(r->who->role), r->who->name);
        rm_log_info("job %s: priority set to %lld by %s '%s'", p->job_id, (long long)p->priority,
                    rm_role_effective(r->who->role), r->who->name);
        rm_work_job_changed(r->node->work, job);
        rm_node_reply_ok(r->node->mesh, r->peer, r->msg->req, "priority set");
        return;
    }
    rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
}

/*  JOB_REMOVE from a client: one signed removal (meshctl rm). */
static void handle_remove(request_t *r)
{
    const rm_job_remove_t *m = &r->msg->u.job_remove;
    const char *what = NULL;
    rm_err_t err;
    if (m->removals.count != 1)
        rm_err_set(&err, RM_EINVAL, "one removal per request, not %u", m->removals.count);
    else if (rm_node_remove_from_client(r->node, r->who, &m->removals.items[0], &what, &err) == 0) {
        rm_node_reply_ok(r->node->mesh, r->peer, r->msg->req, what);
        return;
    }
    if (rm_refusal_log_ok(&r->node->refusals))
        rm_log_notice("refused: %s '%s' removing a job: %s", rm_role_effective(r->who->role),
                      r->who->name, err.msg);
    rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
}

/*  LOGS: the job's log, or a frame's Blender log from wherever it is
    (rm_logs.h).  A node asks on behalf of a client whose rights the node
    it came through checked. */
static void handle_logs(request_t *r)
{
    bool carried = rm_role_has(r->who->role, RM_RIGHT_MESH);
    rm_job_t *job = carried ? find_job(r, r->msg->u.logs.job_id)
                            : find_own_job(r, r->msg->u.logs.job_id, "read the logs of");
    if (job)
        rm_logs_server_request(r->node->logs, r->peer, r->who, r->msg->req, job, &r->msg->u.logs);
}

static void reply_watch(rm_node_ctx_t *self, zframe_t *peer, uint64_t req, rm_job_t *job)
{
    rm_job_summary_t summary;
    rm_err_t err;
    if (rm_job_summary(job, &summary, &err) != 0) {
        rm_node_reply_error(self->mesh, peer, req, err.code, err.msg);
        return;
    }
    rm_node_reply(self->mesh, peer, RM_MSG_WATCH_REPLY, req, &summary);
    rm_codec_free(&rm_job_summary_desc, &summary);
}

static void handle_watch(request_t *r)
{
    rm_node_ctx_t *self = r->node;
    rm_watch_t *w = &r->msg->u.watch;
    rm_job_t *job = find_job(r, w->job_id);
    if (!job)
        return;
    size_t mine = 0;
    for (size_t i = 0; i < self->nwatches; i++)
        mine += strcmp(self->watches[i].who, r->who->name) == 0;
    /* No room: answered at once, and the client asks again (a poll). */
    if (rm_job_version(job) != w->version || self->nwatches == RM_NODE_MAX_WATCHES ||
        mine >= RM_NODE_MAX_PER_CLIENT) {
        reply_watch(self, r->peer, r->msg->req, job);
        return;
    }
    rm_node_watch_t *watch = &self->watches[self->nwatches++];
    watch->peer = zframe_dup(r->peer);
    watch->req = r->msg->req;
    snprintf(watch->job_id, sizeof watch->job_id, "%s", w->job_id);
    watch->version = w->version;
    snprintf(watch->who, sizeof watch->who, "%s", r->who->name);
    uint64_t timeout = w->timeout_ms < MAX_WATCH_MS ? w->timeout_ms : MAX_WATCH_MS;
    watch->deadline = zclock_time() + (int64_t)timeout;
}

/*  Answers the watches whose job changed or whose time is up. */
void rm_node_client_serve_watches(rm_node_ctx_t *self)
{
    int64_t now = zclock_time();
    size_t kept = 0;
    for (size_t i = 0; i < self->nwatches; i++) {
        rm_node_watch_t *w = &self->watches[i];
        rm_job_t *job = rm_jobs_find(self->jobs, w->job_id);
        if (job && rm_job_version(job) == w->version && now < w->deadline) {
            self->watches[kept++] = *w;
            continue;
        }
        if (job)
            reply_watch(self, w->peer, w->req, job);
        zframe_destroy(&w->peer);
    }
    self->nwatches = kept;
}

/*  This node drains.  An admin's drain (asked here, or carried by a node
    naming the admin) keeps it down; a drain on a node's word alone lets a
    supervisor start it again (meshd.c). */
static void drain_self(request_t *r, const char *asked_by)
{
    rm_node_ctx_t *self = r->node;
    const rm_drain_t *d = &r->msg->u.drain;
    char text[RM_MAX_NAME + 64];
    bool admin = rm_role_has(r->who->role, RM_RIGHT_DRAIN);
    if (admin)
        rm_log_notice("drain (%s) asked by %s '%s': leaving the mesh to stay down",
                      d->hand_back ? "hand back" : "finish", rm_role_effective(r->who->role),
                      r->who->name);
    else if (asked_by && asked_by[0])
        rm_log_notice("drain (%s) asked by admin '%s' through node '%s': leaving the mesh to "
                      "stay down",
                      d->hand_back ? "hand back" : "finish", asked_by, r->who->name);
    else
        rm_log_notice("drain (%s) asked by node '%s': leaving the mesh, to be started again",
                      d->hand_back ? "hand back" : "finish", r->who->name);
    self->stay_down = self->stay_down || admin || (asked_by && asked_by[0]);
    rm_work_drain(self->work, d->hand_back);
    snprintf(text, sizeof text, "%s is draining: %s, then it leaves", self->config.name,
             d->hand_back ? "handing its frames back" : "finishing its frames");
    rm_node_reply_ok(self->mesh, r->peer, r->msg->req, text);
}

static void handle_drain(request_t *r)
{
    rm_node_ctx_t *self = r->node;
    const rm_drain_t *d = &r->msg->u.drain;
    char text[RM_MAX_NAME + 64];
    rm_err_t err;
    bool node = rm_role_has(r->who->role, RM_RIGHT_MESH);
    bool here = !d->node[0] || strcmp(d->node, self->config.name) == 0;
    if (node && !here) {
        rm_node_reply_error(self->mesh, r->peer, r->msg->req, RM_EDENIED,
                            "a node carries a drain only to the node it names");
        return;
    }
    if (!node && rm_rights_require(r->who, RM_RIGHT_DRAIN, &err) != 0) {
        if (rm_refusal_log_ok(&self->refusals))
            rm_log_notice("refused: %s (drain %s)", err.msg, here ? self->config.name : d->node);
        rm_node_reply_error(self->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    if (here) {
        drain_self(r, node ? d->asked_by : NULL);
        return;
    }
    const char *addr = rm_member_addr_of(self->member, d->node);
    const char *state = rm_member_state_of(self->member, d->node);
    if (!addr) {
        snprintf(text, sizeof text, "node %s is %s", d->node,
                 state ? state : "not a member of this mesh");
        rm_node_reply_error(self->mesh, r->peer, r->msg->req, state ? RM_EUNREACH : RM_ENOTFOUND,
                            text);
        return;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_drain_t forward = {.node = d->node, .hand_back = d->hand_back, .asked_by = r->who->name};
    if (rm_msg_encode(RM_MSG_DRAIN, 0, &forward, &buf, &len, &err) != 0 ||
        rm_member_send(self->member, addr, buf, len, &err) != 0) {
        rm_node_reply_error(self->mesh, r->peer, r->msg->req, err.code, err.msg);
        free(buf);
        return;
    }
    free(buf);
    rm_log_notice("drain of %s asked by %s '%s': carried to it", d->node,
                  rm_role_effective(r->who->role), r->who->name);
    snprintf(text, sizeof text, "asked %s to drain", d->node);
    rm_node_reply_ok(self->mesh, r->peer, r->msg->req, text);
}

static void handle_revoke(request_t *r)
{
    size_t added = 0;
    rm_err_t err;
    char text[160];
    if (rm_node_revoke_in(r->node, r->who, &r->msg->u.revoke, &added, &err) != 0) {
        rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    snprintf(text, sizeof text, "%zu new revocation(s) of %u; every member hears of them", added,
             r->msg->u.revoke.revocations.count);
    rm_node_reply_ok(r->node->mesh, r->peer, r->msg->req, text);
}

static void handle_gossip(request_t *r)
{
    rm_member_gossip_in(r->node->member, r->peer, r->who, &r->msg->u.gossip);
}

static void handle_import(request_t *r)
{
    rm_node_s3_import(r->node, r->peer, r->who, r->msg);
}

/*  What clients (and nodes, for these types) ask of this node, and the
    right each needs.  Requests about one job (CANCEL, LOGS) check the
    owner in their handler; DRAIN sorts admins from carrying nodes. */
typedef struct {
    void (*handle)(request_t *r);
    rm_right_t right;
} request_kind_t;

static const request_kind_t client_requests[RM_MSG_TYPE_COUNT] = {
    [RM_MSG_SUBMIT] = {rm_node_submit_handle, RM_RIGHT_SUBMIT},
    [RM_MSG_CHUNK_PUT] = {rm_node_submit_chunk_put, RM_RIGHT_SUBMIT},
    [RM_MSG_CHUNKS_HELD] = {rm_node_submit_chunks_held, RM_RIGHT_SUBMIT},
    [RM_MSG_CHUNK_GET] = {handle_chunk_get, RM_RIGHT_VIEW},
    [RM_MSG_STATUS] = {handle_status, RM_RIGHT_VIEW},
    [RM_MSG_JOBS] = {handle_jobs, RM_RIGHT_VIEW},
    [RM_MSG_JOB_INFO] = {handle_job_info, RM_RIGHT_VIEW},
    [RM_MSG_NODES] = {handle_nodes, RM_RIGHT_VIEW},
    [RM_MSG_CANCEL] = {handle_cancel, RM_RIGHT_VIEW},
    [RM_MSG_LOGS] = {handle_logs, RM_RIGHT_VIEW},
    [RM_MSG_WATCH] = {handle_watch, RM_RIGHT_VIEW},
    [RM_MSG_GOSSIP] = {handle_gossip, RM_RIGHT_MESH},
    [RM_MSG_DRAIN] = {handle_drain, RM_RIGHT_VIEW},
    [RM_MSG_REVOKE] = {handle_revoke, RM_RIGHT_REVOKE},
    [RM_MSG_JOB_REMOVE] = {handle_remove, RM_RIGHT_VIEW},
    [RM_MSG_PRIORITY] = {handle_priority, RM_RIGHT_SUBMIT},
    [RM_MSG_IMPORT] = {handle_import, RM_RIGHT_SUBMIT},
};

static void dispatch(request_t *r)
{
    rm_msg_type_t type = r->msg->type;
    rm_err_t err;
    if (type >= RM_MSG_TYPE_COUNT || !client_requests[type].handle) {
        char text[96];
        snprintf(text, sizeof text, "a node does not take %s requests",
                 rm_msg_name(type) ? rm_msg_name(type) : "unknown");
        rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, RM_EPROTO, text);
        return;
    }
    if (rm_rights_require(r->who, client_requests[type].right, &err) != 0) {
        if (rm_refusal_log_ok(&r->node->refusals))
            rm_log_notice("refused %s: %s", rm_msg_name(type), err.msg);
        rm_node_reply_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    client_requests[type].handle(r);
}

void rm_node_client_handle(rm_node_ctx_t *self, zframe_t *peer, const rm_cred_t *who, rm_msg_t *msg)
{
    request_t r = {.node = self, .peer = peer, .who = who, .msg = msg};
    dispatch(&r);
}
