#include "rm_work.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "rm_log.h"
#include "rm_caps.h"
#include "rm_grants.h"
#include "rm_outputs.h"
#include "rm_prio.h"
#include "rm_reqid.h"
#include "rm_s3_url.h"
#include "rm_rights.h"

#define WORKERS_EVERY_MS 100
#define SCHED_EVERY_MS 250
#define ASK_AGAIN_MS 1000     /* an unanswered WORK_REQ is repeated */
#define PRIO_EVERY_MS 200     /* running work is checked against new jobs */
#define PREEMPT_EVERY_MS 1000 /* at most one running task stopped per second */
#define GRANTS_PRUNE_MS 10000 /* grants of frames ended are dropped */

struct _rm_work_t {
    rm_config_t config;
    char name[RM_MAX_NAME + 1];
    rm_jobs_t *jobs;
    rm_slots_t *slots;
    rm_sched_t *sched;
    rm_jobsync_t *jobsync;
    rm_member_t *member;
    rm_xfer_t *xfer;
    const rm_election_t *election;
    bool draining, hand_back;
    int64_t next_report, asked_at, idle_until, workers_at, sched_at;
    bool asking;
    uint64_t ask_req;
    rm_reqid_t ids;                     /* of WORK_REQs and REPLICATEs sent */
    rm_outputs_t *outputs;              /* rendered frames made durable, copies kept for others */
    rm_task_t queue[RM_WORK_LOOKAHEAD]; /* assigned, waiting for a slot */
    size_t nqueue;
    uint64_t asked_free; /* the free count of the last WORK_REQ */
    int64_t prio_at, preempt_at;
    char caps[RM_MAX_NAME]; /* what this node's Blender can do (rm_caps) */
    rm_grants_t *grants;    /* signed assignments of the frames given to us */
    int64_t grants_at;
};

static void on_output(void *arg, rm_job_t *job, uint64_t frame, const rm_frame_output_t *out)
{
    rm_work_t *self = arg;
    rm_outputs_add(self->outputs, job, frame, out);
}

void rm_work_set_caps(rm_work_t *self, const char *caps)
{
    snprintf(self->caps, sizeof self->caps, "%s", caps ? caps : "");
}

rm_work_t *rm_work_new(const rm_work_parts_t *parts, rm_err_t *err)
{
    rm_work_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    self->config = *parts->config;
    snprintf(self->name, sizeof self->name, "%s", parts->config->name);
    self->jobs = parts->jobs;
    self->slots = parts->slots;
    self->sched = parts->sched;
    self->jobsync = parts->jobsync;
    self->member = parts->member;
    self->xfer = parts->xfer;
    self->election = parts->election;
    if (!(self->grants = rm_grants_new()) ||
        !(self->outputs = rm_outputs_new(parts, self->grants, err))) {
        rm_grants_destroy(&self->grants);
        free(self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    /* Request ids of this node's own: replies are matched by id and sender,
       and a random base keeps two nodes' ids apart. */
    rm_reqid_init(&self->ids, RM_REQ_WORK);
    rm_slots_on_output(self->slots, on_output, self);
    return self;
}

void rm_work_destroy(rm_work_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_work_t *self = *self_p;
    rm_slots_on_output(self->slots, NULL, NULL);
    for (size_t i = 0; i < self->nqueue; i++)
        rm_codec_free(&rm_task_desc, &self->queue[i]);
    rm_outputs_destroy(&self->outputs);
    rm_grants_destroy(&self->grants);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------- worker */

static bool job_ready_here(rm_work_t *self, rm_job_t *job)
{
    if (rm_job_finished(job))
        return false;
    /* A job this node did not accept itself is checked against its policy
       before it renders any of it. */
    if (rm_job_spec(job)->allow_scripts && !self->config.allow_scripts)
        return false;
    /* A frame rendered without what the scene asks for is not the artist's
       frame: such jobs wait for a node that has it. */
    if (!rm_caps_satisfy(self->caps, rm_job_spec(job), NULL))
        return false;
    /* Frames this node could not store are left to nodes that can. */
    const char *out_url = rm_job_spec(job)->out_url;
    rm_s3_url_t url;
    if (out_url && out_url[0] &&
        (!rm_outputs_can_s3(self->outputs) || rm_s3_url_parse(out_url, "--out", &url, NULL) != 0 ||
         !rm_s3_url_bucket_listed(self->config.s3_buckets, &url)))
        return false;
    return rm_jobsync_project_ready(self->jobsync, job);
}

static void free_tasks(rm_task_t *tasks, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        free(tasks[i].job_id);
        free(tasks[i].frames.items);
    }
    free(tasks);
}

/*  WORK_REQ body: borrowed job ids in ready, owned running tasks. */
static int build_request(rm_work_t *self, rm_work_req_t *req, rm_err_t *err)
{
    memset(req, 0, sizeof *req);
    req->epoch = self->election->epoch;
    req->free = 0;
    if (!self->draining && rm_slots_count(self->slots) > 0)
        req->free = rm_slots_free(self->slots) + RM_WORK_LOOKAHEAD - self->nqueue;
    size_t n = 0;
    rm_job_t *const *active = rm_jobs_active(self->jobs, &n);
    req->ready.items = calloc(n ? n : 1, sizeof(char *));
    if (!req->ready.items)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && req->ready.count < RM_MAX_READY; i++) {
        rm_job_t *job = active[i];
        if (job_ready_here(self, job))
            req->ready.items[req->ready.count++] = (char *)rm_job_id(job);
    }
    rm_task_t *running = NULL;
    uint32_t count = 0;
    if (rm_slots_running(self->slots, &running, &count, err) != 0)
        return -1;
    rm_task_t *all = realloc(running, (count + rm_outputs_count(self->outputs) + self->nqueue + 1) *
                                          sizeof *all);
    if (!all) {
        free_tasks(running, count);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    for (size_t i = 0, n = rm_outputs_count(self->outputs); i < n; i++) {
        rm_task_t *t = &all[count];
        uint64_t frame;
        const char *job_id = rm_outputs_at(self->outputs, i, &frame);
        memset(t, 0, sizeof *t);
        t->job_id = strdup(job_id);
        t->frames.items = malloc(sizeof(uint64_t));
        if (!t->job_id || !t->frames.items) {
            free(t->job_id);
            free(t->frames.items);
            break;
        }
        t->frames.items[0] = frame;
        t->frames.count = 1;
        count++;
    }
    for (size_t i = 0; i < self->nqueue; i++) {
        memset(&all[count], 0, sizeof all[count]);
        if (rm_codec_copy(&rm_task_desc, &all[count], &self->queue[i], NULL) == 0) {
            free(all[count].grants.data); /* a report names frames only */
            free(all[count].gens.items);
            all[count].grants = (rm_bin_t){0};
            all[count].gens.items = NULL;
            all[count].gens.count = 0;
            all[count].stamp = 0;
            count++;
        }
    }
    req->running.items = all;
    req->running.count = count;
    return 0;
}

static void free_request(rm_work_req_t *req)
{
    free(req->ready.items);
    free_tasks(req->running.items, req->running.count);
}

/*  An assignment from (epoch, coordinator) is stale if this node has seen
    a later claim. */
static bool stale(const rm_work_t *self, uint64_t epoch, const char *coordinator)
{
    const rm_election_t *e = self->election;
    if (epoch < e->epoch)
        return true;
    /* Two claims of one number (a partition): (number, name) orders them. */
    return epoch == e->coordinator_epoch && e->coordinator[0] &&
           strcmp(coordinator, e->coordinator) < 0;
}

static void begin_task(rm_work_t *self, const rm_task_t *task)
{
    rm_job_t *job = rm_jobs_find(self->jobs, task->job_id);
    if (!job || rm_job_finished(job))
        return; /* the coordinator sees it missing from the next report */
    rm_err_t err;
    /* This node's own policy, again at the start: whoever assigned the
       task, a job this node would not take is not rendered here. */
    const rm_job_spec_t *spec = rm_job_spec(job);
    if (spec->allow_scripts && !self->config.allow_scripts) {
        rm_log_warning("job %s: refused %u assigned frame(s): it runs the .blend's scripts and "
                       "this node does not (allow_scripts = false)",
                       task->job_id, task->frames.count);
        return;
    }
    if (!rm_caps_satisfy(self->caps, spec, NULL)) {
        rm_log_warning("job %s: refused %u assigned frame(s): this node lacks what it requires",
                       task->job_id, task->frames.count);
        return;
    }
    if (rm_slots_take(self->slots, job, task->frames.items, task->frames.count, &err) != 0)
        rm_log_warning("job %s: cannot start %u frame(s) here: %s", task->job_id,
                       task->frames.count, err.msg);
}

/*  Queued tasks go to slots as they free. */
static void start_queued(rm_work_t *self)
{
    while (self->nqueue > 0 && rm_slots_free(self->slots) > 0) {
        rm_task_t task = self->queue[0];
        memmove(self->queue, self->queue + 1, --self->nqueue * sizeof *self->queue);
        begin_task(self, &task);
        rm_codec_free(&rm_task_desc, &task);
        self->next_report = 0; /* tell the coordinator at once what runs */
    }
}

static void apply_assign(rm_work_t *self, const rm_assign_t *assign, int64_t now,
                         uint64_t asked_free)
{
    /* Nothing for a request that wanted work: wait a little before the next.
       (An answer to a report sent with no free slot says nothing.) */
    if (assign->tasks.count == 0 && asked_free > 0)
        self->idle_until = now + RM_WORK_IDLE_ASK_MS;
    for (uint32_t i = 0; i < assign->tasks.count; i++) {
        const rm_task_t *task = &assign->tasks.items[i];
        rm_grants_take(self->grants, assign->coordinator, &assign->coordinator_cred, task);
        if (rm_slots_free(self->slots) > 0) {
            begin_task(self, task);
        } else if (self->nqueue < RM_WORK_LOOKAHEAD) {
            memset(&self->queue[self->nqueue], 0, sizeof self->queue[0]);
            if (rm_codec_copy(&rm_task_desc, &self->queue[self->nqueue], task, NULL) == 0)
                self->nqueue++;
        }
        /* else dropped: the next report omits it and the coordinator gives
           it to another worker */
    }
    if (assign->tasks.count > 0)
        self->next_report = 0; /* tell the coordinator at once what runs */
}

static void ask_for_work(rm_work_t *self, int64_t now)
{
    const char *coordinator = self->election->coordinator;
    if (!coordinator[0])
        return;
    rm_work_req_t req;
    rm_err_t err;
    if (build_request(self, &req, &err) != 0) {
        rm_log_warning("work: %s", err.msg);
        free_request(&req);
        return;
    }
    self->next_report = now + RM_WORK_REPORT_MS;
    self->asked_free = req.free;
    if (strcmp(coordinator, self->name) == 0) {
        rm_assign_t assign = {0};
        if (rm_sched_acting(self->sched) &&
            rm_sched_request(self->sched, self->name, &req, now, &assign, &err) == 0)
            apply_assign(self, &assign, now, req.free);
        rm_codec_free(rm_msg_desc(RM_MSG_ASSIGN), &assign);
    } else {
        const char *addr = rm_member_addr_of(self->member, coordinator);
        if (addr) {
            self->ask_req = rm_reqid_next(&self->ids);
            self->asking = true;
            self->asked_at = now;
            rm_member_send_msg(self->member, addr, RM_MSG_WORK_REQ, self->ask_req, &req);
        }
    }
    free_request(&req);
}

static void handle_assign(rm_work_t *self, const char *from, const rm_cred_t *who,
                          const rm_msg_t *msg)
{
    const rm_assign_t *assign = &msg->u.assign;
    const rm_election_t *e = self->election;
    int64_t now = zclock_mono();
    uint64_t asked_free = msg->req == self->ask_req ? self->asked_free : 0;
    /* Only the coordinator this node follows assigns it work, in the epoch
       it follows it in: another node's ASSIGN, or one naming another
       coordinator, is refused (a stolen node credential assigns nothing). */
    if (strcmp(who->name, assign->coordinator) != 0 ||
        !rm_role_has(who->role, RM_RIGHT_COORDINATE) ||
        (!stale(self, assign->epoch, assign->coordinator) &&
         (strcmp(assign->coordinator, e->coordinator) != 0 ||
          assign->epoch != e->coordinator_epoch))) {
        char why[RM_MAX_NAME * 3 + 160];
        snprintf(
            why, sizeof why,
            "an assignment from %s naming %s (epoch %llu); this node follows %s (epoch %llu)%s",
            who->name, assign->coordinator, (unsigned long long)assign->epoch,
            e->coordinator[0] ? e->coordinator : "no coordinator",
            (unsigned long long)e->coordinator_epoch,
            rm_role_has(who->role, RM_RIGHT_COORDINATE) ? "" : "; a worker may not coordinate");
        rm_log_warning("work: refused %s", why);
        rm_member_send_error(self->member, from, msg->req, RM_ESTALE, why);
        return;
    }
    if (msg->req == self->ask_req)
        self->asking = false;
    if (stale(self, assign->epoch, assign->coordinator)) {
        char why[RM_MAX_NAME * 2 + 100];
        snprintf(why, sizeof why, "epoch %llu of %s is older than epoch %llu of %s",
                 (unsigned long long)assign->epoch, assign->coordinator,
                 (unsigned long long)self->election->coordinator_epoch,
                 self->election->coordinator);
        rm_log_warning("work: refused an assignment: %s", why);
        rm_member_send_error(self->member, from, msg->req, RM_ESTALE, why);
        return;
    }
    if (self->draining) {
        if (assign->tasks.count > 0)
            rm_member_send_error(self->member, from, msg->req, RM_EINVAL, "this node is draining");
        return;
    }
    apply_assign(self, assign, now, asked_free);
}

static bool ready_here(void *arg, rm_job_t *job)
{
    return job_ready_here(arg, job);
}

/*  Priorities act at once (rm_prio.h).  The queue is checked right before
    it feeds a slot that freed (a job accepted in the same turn goes first)
    and every PRIO_EVERY_MS, and so is preemption: each check looks at
    every job, so not every loop turn. */
static void check_priorities(rm_work_t *self, int64_t now)
{
    bool feeding = self->nqueue > 0 && rm_slots_free(self->slots) > 0;
    if (self->draining || (!feeding && now - self->prio_at < PRIO_EVERY_MS))
        return;
    self->prio_at = now;
    bool changed = self->nqueue > 0 && rm_prio_take_back(self->jobs, self->queue, &self->nqueue,
                                                         ready_here, self, self->name) > 0;
    if (now - self->preempt_at >= PREEMPT_EVERY_MS && rm_slots_free(self->slots) == 0) {
        if (rm_prio_preempt(self->jobs, self->slots, self->queue, self->nqueue, ready_here, self)) {
            self->preempt_at = now;
            changed = true;
        }
    }
    if (changed) { /* ask at once: the slot that frees next gets the higher job */
        self->idle_until = 0;
        self->next_report = 0;
    }
}

/* ---------------------------------------------------------------- coordinator */

static void handle_work_req(rm_work_t *self, const char *from, const rm_cred_t *who,
                            const rm_msg_t *msg)
{
    rm_assign_t assign = {0};
    rm_err_t err;
    if (!rm_sched_acting(self->sched)) {
        char why[RM_MAX_NAME + 64];
        snprintf(why, sizeof why, "not the coordinator (%s is)",
                 self->election->coordinator[0] ? self->election->coordinator : "nobody");
        rm_member_send_error(self->member, from, msg->req, RM_EINVAL, why);
        return;
    }
    /* A node asks for itself only: the name is its credential's. */
    if (rm_sched_request(self->sched, who->name, &msg->u.work_req, zclock_mono(), &assign, &err) !=
        0)
        rm_member_send_error(self->member, from, msg->req, err.code, err.msg);
    else
        rm_member_send_msg(self->member, from, RM_MSG_ASSIGN, msg->req, &assign);
    rm_codec_free(rm_msg_desc(RM_MSG_ASSIGN), &assign);
}

static void update_workers(rm_work_t *self)
{
    size_t count = 0;
    const rm_member_peer_t *peers = rm_member_peers(self->member, &count);
    rm_sched_worker_t *workers = calloc(count + 1, sizeof *workers);
    if (!workers)
        return;
    size_t n = 0;
    workers[n++] = (rm_sched_worker_t){
        .name = self->name,
        .alive = true,
        .draining = self->draining,
        .can_render = rm_slots_count(self->slots) > 0,
        .slots = rm_slots_count(self->slots),
        .ms_per_frame = rm_slots_ms_per_frame(self->slots),
    };
    for (size_t i = 0; peers && i < count; i++) {
        const rm_member_meta_t *m = peers[i].has_meta ? peers[i].meta : NULL;
        workers[n++] = (rm_sched_worker_t){
            .name = peers[i].name,
            .alive = peers[i].alive,
            .draining = m && m->draining,
            .can_render = m && m->blender_ok && m->slots > 0,
            .slots = m ? m->slots : 0,
            .ms_per_frame = m ? m->ms_per_frame : 0,
        };
    }
    rm_sched_set_workers(self->sched, workers, n, NULL);
    free(workers);
}

/* ---------------------------------------------------------------- driving */

void rm_work_tick(rm_work_t *self, int64_t now)
{
    bool acting = self->election->acting;
    if (acting && !rm_sched_acting(self->sched))
        update_workers(self);
    /* A no-op unless acting or the epoch changed. */
    rm_sched_set_acting(self->sched, acting, self->election->epoch, self->name, now);
    if (acting && now - self->workers_at >= WORKERS_EVERY_MS) {
        self->workers_at = now;
        update_workers(self);
    }
    if (acting && now - self->sched_at >= SCHED_EVERY_MS) {
        self->sched_at = now;
        rm_sched_tick(self->sched, now);
    }
    rm_outputs_tick(self->outputs, now);
    if (now - self->grants_at >= GRANTS_PRUNE_MS) {
        self->grants_at = now;
        rm_grants_prune(self->grants, self->jobs);
    }
    check_priorities(self, now);
    start_queued(self);
    if (self->asking && now - self->asked_at >= ASK_AGAIN_MS)
        self->asking = false;
    bool want = !self->draining && !self->asking && now >= self->idle_until &&
                rm_slots_count(self->slots) > 0 &&
                rm_slots_free(self->slots) + RM_WORK_LOOKAHEAD > self->nqueue;
    if (want || now >= self->next_report)
        ask_for_work(self, now);
}

int64_t rm_work_wakeup(rm_work_t *self, int64_t now)
{
    int64_t at = self->next_report;
    if (self->election->acting && self->sched_at + SCHED_EVERY_MS < at)
        at = self->sched_at + SCHED_EVERY_MS;
    if (self->asking && self->asked_at + ASK_AGAIN_MS < at)
        at = self->asked_at + ASK_AGAIN_MS;
    if (!self->draining && rm_slots_count(self->slots) > 0 &&
        rm_slots_free(self->slots) + RM_WORK_LOOKAHEAD > self->nqueue && self->idle_until < at)
        at = self->idle_until;
    at = rm_outputs_wakeup(self->outputs, at);
    return at - now < 0 ? 0 : at - now;
}

bool rm_work_handle(rm_work_t *self, const char *from, const rm_cred_t *who, const rm_msg_t *msg)
{
    switch (msg->type) {
    case RM_MSG_WORK_REQ:
        handle_work_req(self, from, who, msg);
        return true;
    case RM_MSG_ASSIGN:
        handle_assign(self, from, who, msg);
        return true;
    case RM_MSG_REPLICATE:
        return rm_outputs_handle(self->outputs, from, msg, self->draining);
    case RM_MSG_OK:
    case RM_MSG_ERROR:
        if (msg->req == self->ask_req && self->asking) {
            self->asking = false;
            if (msg->type == RM_MSG_ERROR)
                self->idle_until = zclock_mono() + RM_WORK_IDLE_ASK_MS;
            return true;
        }
        return rm_outputs_handle(self->outputs, from, msg, self->draining);
    default:
        return false;
    }
}

void rm_work_members_changed(rm_work_t *self)
{
    self->workers_at = 0;
}

void rm_work_job_changed(rm_work_t *self, rm_job_t *job)
{
    if (rm_job_finished(job))
        rm_slots_cancel(self->slots, rm_job_id(job));
    self->prio_at = 0; /* a priority may have changed: check at the next turn */
}

void rm_work_drain(rm_work_t *self, bool hand_back)
{
    if (!self->draining)
        rm_log_info("%s is draining: %s", self->name,
                    hand_back ? "handing its frames back" : "finishing its frames");
    self->draining = true;
    /* Queued tasks are not started: the next report omits them and the
       coordinator gives them to others at once. */
    for (size_t i = 0; i < self->nqueue; i++)
        rm_codec_free(&rm_task_desc, &self->queue[i]);
    self->nqueue = 0;
    if (hand_back && !self->hand_back) {
        self->hand_back = true;
        rm_outputs_release_uploads(self->outputs);
        for (size_t i = 0; i < rm_jobs_count(self->jobs); i++)
            rm_slots_cancel(self->slots, rm_job_id(rm_jobs_at(self->jobs, i)));
    }
    self->next_report = 0;
    update_workers(self);
}

bool rm_work_draining(const rm_work_t *self)
{
    return self->draining;
}

bool rm_work_drained(rm_work_t *self)
{
    /* Copies it still serves end first: rm_handover hands them on. */
    if (!self->draining || rm_slots_busy(self->slots) > 0 || rm_outputs_count(self->outputs) > 0 ||
        rm_outputs_serving(self->outputs) > 0)
        return false;
    rm_task_t *running = NULL;
    uint32_t count = 0;
    if (rm_slots_running(self->slots, &running, &count, NULL) != 0)
        return false;
    free_tasks(running, count);
    return count == 0;
}

void rm_work_upload_event(rm_work_t *self)
{
    rm_outputs_upload_event(self->outputs);
}

rm_outputs_t *rm_work_outputs(rm_work_t *self)
{
    return self->outputs;
}
