#include "rm_node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_log.h"
#include "rm_node_client.h"
#include "rm_node_upload.h"
#include "rm_node_ctx.h"
#include "rm_node_door.h"
#include "rm_node_gc.h"
#include "rm_node_rendezvous.h"
#include "rm_node_s3.h"
#include "rm_node_remove.h"
#include "rm_node_revoke.h"
#include "rm_node_start.h"
#include "rm_node_submit.h"
#include "rm_reqid.h"
#include "rm_zap.h"
#include "rm_rights.h"

#define HAND_BACK_MS 15000 /* SIGTERM: longest wait for outputs in hand and their hand-over */

struct _rm_node_t {
    zactor_t *actor;
};

typedef struct {
    const rm_config_t *config;
    rm_err_t *err;
} start_args_t;

/* ------------------------------------------------------------- the election */

/*  The highest epoch seen is kept in HOME/epoch, so a restarted node never
    claims an epoch number it (or anyone) used before. */
static void save_epoch(rm_node_ctx_t *self)
{
    char path[1100], text[32];
    rm_err_t err;
    int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)self->election.epoch);
    if (rm_node_home_path(self, "epoch", path, sizeof path, &err) != 0 ||
        rm_secret_write(path, text, (size_t)n, &err) != 0)
        rm_log_warning("cannot save the epoch: %s", err.msg);
}

/*  Re-runs the election over the current membership view. */
static void elect(rm_node_ctx_t *self)
{
    /* A node told to join does not coordinate alone before it has. */
    if (self->config.join[0] && rm_member_alive(self->member) <= 1)
        return;
    size_t n = 0;
    const rm_election_member_t *view = rm_member_view(self->member, &n);
    if (!view)
        return;
    char before[sizeof self->election.coordinator];
    uint64_t before_epoch = self->election.coordinator_epoch;
    uint64_t before_seen = self->election.epoch;
    snprintf(before, sizeof before, "%s", self->election.coordinator);
    rm_election_update(&self->election, view, n);
    if (self->election.epoch != before_seen)
        save_epoch(self);
    if (strcmp(before, self->election.coordinator) != 0 ||
        before_epoch != self->election.coordinator_epoch)
        rm_log_info("coordinator: %s, epoch %llu%s at %lld",
                    self->election.coordinator[0] ? self->election.coordinator : "(none)",
                    (unsigned long long)self->election.coordinator_epoch,
                    self->election.acting ? " (this node)" : "", (long long)zclock_time());
}

static int64_t next_wakeup(rm_node_ctx_t *self)
{
    int64_t wait = rm_member_wakeup(self->member), now = zclock_time(), mono = zclock_mono();
    for (size_t i = 0; i < self->nwatches; i++)
        if (self->watches[i].deadline - now < wait)
            wait = self->watches[i].deadline - now;
    int64_t more[] = {
        rm_work_wakeup(self->work, mono),     rm_jobsync_wakeup(self->jobsync, mono),
        rm_xfer_wakeup(self->xfer, mono),     rm_handover_wakeup(self->handover, mono),
        rm_repair_wakeup(self->repair, mono), rm_node_client_wakeup(self, mono)};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        if (more[i] < wait)
            wait = more[i];
    return wait < 0 ? 0 : wait;
}

/* ----------------------------------------------------- messages from nodes */

/*  The request id of a message whose body did not decode, so the error
    reaches the request that caused it (0 if even the header is bad). */
static uint64_t header_req(zframe_t *payload)
{
    rm_reader_t r;
    uint32_t count = 0;
    uint64_t version = 0, type = 0, req = 0;
    rm_reader_init(&r, zframe_data(payload), zframe_size(payload));
    if (rm_read_array(&r, 16, &count, NULL) != 0 || count < 3 ||
        rm_read_u64(&r, &version, NULL) != 0 || rm_read_u64(&r, &type, NULL) != 0 ||
        rm_read_u64(&r, &req, NULL) != 0)
        return 0;
    return req;
}

/*  CHUNK_GET that came over one of our outbound links (from a peer we
    reach, or answering a node behind NAT). */
static void serve_chunk(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                        const rm_msg_t *msg)
{
    (void)who;
    rm_chunk_t chunk = {.hash = msg->u.chunk_ref.hash};
    rm_err_t err;
    if (rm_store_get(self->store, &chunk.hash, &chunk.data.data, &chunk.data.len, &err) != 0) {
        rm_member_send_error(self->member, from, msg->req, err.code, err.msg);
    } else {
        rm_node_upload_chunk(self, NULL, from, msg->req, &chunk);
        rm_node_submit_progress(self);
    }
    free(chunk.data.data);
}

/*  CHUNK_MAP: which chunks of a project this node holds, for a peer that
    fetches it (rm_xfer.h). */
static void serve_chunk_map(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                            const rm_msg_t *msg)
{
    (void)who;
    rm_chunk_map_reply_t reply = {{0}, {0}};
    rm_err_t err;
    if (rm_xfer_chunk_map(self->xfer, &msg->u.chunk_map.hash, &reply, &err) != 0)
        rm_member_send_error(self->member, from, msg->req, err.code, err.msg);
    else
        rm_member_send_msg(self->member, from, RM_MSG_CHUNK_MAP_REPLY, msg->req, &reply);
    rm_codec_free(rm_msg_desc(RM_MSG_CHUNK_MAP_REPLY), &reply);
}

/*  DRAIN that came over one of our outbound links (a node carrying an
    admin's drain to us, behind NAT): as on the main socket. */
static void drain_over_link(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                            const rm_msg_t *msg)
{
    (void)from;
    const rm_drain_t *d = &msg->u.drain;
    if (d->node[0] && strcmp(d->node, self->config.name) != 0)
        return;
    const char *how = d->hand_back ? "hand back" : "finish";
    if (d->asked_by && d->asked_by[0]) {
        rm_log_notice("drain (%s) asked by admin '%s' through node '%s': leaving the mesh to "
                      "stay down",
                      how, d->asked_by, who->name);
        self->stay_down = true;
    } else {
        rm_log_notice("drain (%s) asked by node '%s': leaving the mesh, to be started again", how,
                      who->name);
    }
    rm_work_drain(self->work, d->hand_back);
}

/*  REVOKE from another node: new revocations are kept and passed on. */
static void revoke_from_node(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                             const rm_msg_t *msg)
{
    (void)from;
    size_t added = 0;
    rm_node_revoke_in(self, who, &msg->u.revoke, &added, NULL);
}

static void remove_from_node(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                             const rm_msg_t *msg)
{
    (void)from;
    rm_node_remove_from_node(self, who, msg);
}

static void to_jobsync(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                       const rm_msg_t *msg)
{
    rm_jobsync_handle(self->jobsync, from, who, msg);
}

static void to_work(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                    const rm_msg_t *msg)
{
    rm_work_handle(self->work, from, who, msg);
}

static void to_repair(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                      const rm_msg_t *msg)
{
    (void)who;
    rm_repair_handle(self->repair, from, msg);
}

static void to_logs(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                    const rm_msg_t *msg)
{
    (void)from, (void)who;
    rm_logs_server_on_message(self->logs, msg);
}

static void to_handover(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                        const rm_msg_t *msg)
{
    (void)who;
    rm_handover_handle(self->handover, from, msg);
}

static void to_xfer(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                    const rm_msg_t *msg)
{
    (void)who;
    rm_xfer_on_message(self->xfer, from, msg);
}

/*  An answer no part waits for: an ERROR to a push that needs no answer
    (JOB_SYNC), or one from a node that does not tag its ids. */
static void unexpected_answer(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                              const rm_msg_t *msg)
{
    (void)self, (void)from;
    if (msg->type == RM_MSG_ERROR)
        rm_log_debug("error from %s: %s", who->name, msg->u.error.message);
}

typedef void (*node_msg_fn)(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                            const rm_msg_t *msg);

/*  Requests only nodes send, whichever socket they came in on. */
static const node_msg_fn node_requests[RM_MSG_TYPE_COUNT] = {
    [RM_MSG_JOB_SYNC] = to_jobsync,
    [RM_MSG_JOB_HELD] = to_jobsync,
    [RM_MSG_JOB_DELTA] = to_jobsync,
    [RM_MSG_JOB_DIGEST] = to_jobsync,
    [RM_MSG_WORK_REQ] = to_work,
    [RM_MSG_ASSIGN] = to_work,
    [RM_MSG_REPLICATE] = to_work,
    [RM_MSG_HAVE] = to_repair,
    [RM_MSG_CHUNK_MAP] = serve_chunk_map,
    [RM_MSG_REVOKE] = revoke_from_node,
    [RM_MSG_JOB_REMOVE] = remove_from_node,
};

/*  Requests over our own links to other nodes; on the main socket these
    types take the client path (dispatch), which can also proxy. */
static const node_msg_fn link_requests[RM_MSG_TYPE_COUNT] = {
    [RM_MSG_CHUNK_GET] = serve_chunk,
    [RM_MSG_DRAIN] = drain_over_link,
};

/*  Answers to this node's own requests go to the part that asked
    (rm_reqid.h), whichever socket they came in on. */
static const node_msg_fn answers[RM_REQ_OWNER_COUNT] = {
    [RM_REQ_NONE] = unexpected_answer, [RM_REQ_JOBSYNC] = unexpected_answer,
    [RM_REQ_WORK] = to_work,           [RM_REQ_LOGS] = to_logs,
    [RM_REQ_HANDOVER] = to_handover,   [RM_REQ_XFER] = to_xfer,
    [RM_REQ_REPAIR] = to_repair,
};

static bool is_answer(rm_msg_type_t type)
{
    return type == RM_MSG_OK || type == RM_MSG_ERROR || type == RM_MSG_CHUNK_DATA ||
           type == RM_MSG_LOGS_REPLY || type == RM_MSG_HAVE_REPLY || type == RM_MSG_CHUNK_MAP_REPLY;
}

/*  A message from another node, if the node-to-node tables take it;
    `over_link`: it came over one of our outbound links.  Answers go back
    to `from` through rm_member_send. */
static bool node_message(rm_node_ctx_t *self, const char *from, const rm_cred_t *who,
                         const rm_msg_t *msg, bool over_link)
{
    node_msg_fn fn = NULL;
    if (is_answer(msg->type))
        fn = answers[rm_reqid_owner(msg->req)];
    else if (msg->type < RM_MSG_TYPE_COUNT && node_requests[msg->type])
        fn = node_requests[msg->type];
    else if (msg->type < RM_MSG_TYPE_COUNT && over_link)
        fn = link_requests[msg->type];
    if (!fn)
        return false;
    fn(self, from, who, msg);
    return true;
}

static void on_node_message(void *arg, const char *from, const rm_cred_t *who, const rm_msg_t *msg)
{
    if (!node_message(arg, from, who, msg, true))
        rm_log_debug("ignored %s from %s over a link",
                     rm_msg_name(msg->type) ? rm_msg_name(msg->type) : "a message", who->name);
}

/*  A job changed by a merge: renders of a job that ended stop here. */
static void on_job_merged(void *arg, rm_job_t *job, bool created)
{
    rm_node_ctx_t *self = arg;
    if (created)
        rm_log_info("job %s '%s' learnt from the mesh", rm_job_id(job), rm_job_spec(job)->name);
    rm_work_job_changed(self->work, job);
}

/*  No member could give a job's project: one that came from S3 is read
    from there again. */
static void on_project_lacking(void *arg, rm_job_t *job, int status, const char *error)
{
    (void)status, (void)error;
    rm_node_s3_refill(arg, job);
}

/*  Graceful leave: the others hear it from us instead of suspecting us.
    For at most a second the loop runs on (answers from no-inbound peers
    come in on the main socket), with only the membership's turn. */
static void leave_mesh(rm_node_ctx_t *self)
{
    if (!self->member || rm_member_alive(self->member) <= 1)
        return;
    rm_member_leave(self->member);
    self->leaving = true;
    rm_loop_run(self->loop, 1000);
}

static void on_mesh_readable(void *arg, void *sock)
{
    (void)sock;
    rm_node_ctx_t *self = arg;
    zmsg_t *in = zmsg_recv(self->mesh);
    if (!in)
        return;
    zframe_t *peer = zmsg_pop(in);
    zframe_t *payload = zmsg_pop(in);
    uint8_t key[32];
    rm_msg_t msg;
    rm_err_t err;
    memset(&msg, 0, sizeof msg);
    const rm_cred_t *who = NULL;
    if (peer && payload && rm_node_door_key(payload, key) == 0)
        who = rm_roster_find(self->roster, key, (int64_t)time(NULL));
    if (!who || zmsg_size(in) != 0) {
        if (rm_refusal_log_ok(&self->refusals))
            rm_log_warning("refused a message from an unknown, expired or revoked peer");
        goto out;
    }
    if (rm_msg_decode(zframe_data(payload), zframe_size(payload), &msg, &err) != 0) {
        rm_log_warning("malformed message from %s: %s", who->name, err.msg);
        rm_node_reply_error(self->mesh, peer, header_req(payload), RM_EPROTO, err.msg);
        goto out;
    }
    if (rm_role_has(who->role, RM_RIGHT_MESH)) {
        char from[300];
        rm_member_rid_addr(peer, from, sizeof from);
        if (node_message(self, from, who, &msg, false))
            goto out;
    }
    rm_node_client_handle(self, peer, who, &msg);
out:
    rm_msg_free(&msg);
    zframe_destroy(&peer);
    zframe_destroy(&payload);
    zmsg_destroy(&in);
}

/* ---------------------------------------------------------------- the actor */

/*  "$TERM": stop now.  "HAND_BACK" (meshd on SIGTERM): give frames back,
    wait for outputs in hand to be stored and copied, leave, then "DRAINED".
    While leaving, commands are read and dropped: the node is stopping. */
static void on_pipe_readable(void *arg, void *sock)
{
    (void)sock;
    rm_node_ctx_t *self = arg;
    char *command = zstr_recv(self->pipe);
    if (self->leaving)
        ;
    else if (!command || streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "HAND_BACK") && !self->hand_back_until) {
        self->hand_back_until = zclock_mono() + HAND_BACK_MS;
        self->stay_down = true; /* whoever sent the signal stops us on purpose */
        rm_work_drain(self->work, true);
    }
    zstr_free(&command);
}

/*  The work of one loop turn after an event: the order matters (new work
    before disk work, changes out before membership). */
static void turn(rm_node_ctx_t *self)
{
    int64_t now = zclock_mono();
    elect(self);
    rm_work_tick(self->work, now);
    rm_slots_flush(self->slots);
    rm_slots_tick(self->slots, now);
    rm_jobsync_flush(self->jobsync);
    rm_jobsync_tick(self->jobsync, now);
    rm_xfer_tick(self->xfer, now);
    rm_logs_server_tick(self->logs, now);
    rm_node_revoke_tick(self, now);
    rm_node_remove_tick(self, now);
    rm_node_gc_tick(self, now, false);
    rm_repair_tick(self->repair, now);
    rm_node_rendezvous_tick(self, now);
    rm_node_client_serve_watches(self);
    rm_node_client_expire_waits(self, now);
    rm_node_upload_tick(self, now);
    char rendering[200];
    rm_member_meta_t meta;
    rm_node_meta(self, &meta, rendering, sizeof rendering);
    rm_member_set_meta(self->member, &meta);
    rm_member_tick(self->member);
    /* A leaving node must not take the last copies of finished frames with
       it: they go to members that stay first, from the start of the drain,
       so SIGTERM's bounded wait covers both (rm_handover.h). */
    if (rm_work_draining(self->work))
        rm_handover_start(self->handover, now);
    bool drained = rm_work_drained(self->work);
    rm_handover_tick(self->handover, now, drained);
    bool late = self->hand_back_until && now >= self->hand_back_until;
    if ((drained && rm_handover_done(self->handover)) || late) {
        if (late)
            rm_handover_report(self->handover);
        rm_log_info("%s drained: leaving the mesh", self->config.name);
        self->drained = true;
        self->terminated = true;
    }
}

static void on_door_readable(void *arg, void *sock)
{
    (void)sock;
    rm_node_door_handle(arg);
}

static void on_watch_readable(void *arg, void *sock)
{
    (void)sock;
    rm_node_ctx_t *self = arg;
    rm_door_watch_handle(self->watch, &self->refusals);
}

/*  The loop's turn after every event: the node's work, then how long it
    may sleep.  While leaving, only the membership's. */
static int64_t node_turn(void *arg)
{
    rm_node_ctx_t *self = arg;
    if (self->leaving) {
        rm_member_tick(self->member);
        if (rm_member_left(self->member))
            rm_loop_stop(self->loop);
        return 50;
    }
    turn(self);
    if (self->terminated) {
        rm_loop_stop(self->loop);
        return -1;
    }
    return next_wakeup(self);
}

static void node_actor(zsock_t *pipe, void *args)
{
    start_args_t *start = args;
    rm_node_ctx_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(start->err, RM_ENOMEM, "out of memory");
        zsock_signal(pipe, 1);
        return;
    }
    self->pipe = pipe;
    if (rm_node_start(self, start->config, start->err) != 0) {
        rm_node_stop(self);
        free(self);
        zsock_signal(pipe, 1);
        return;
    }
    rm_member_on_message(self->member, on_node_message, self);
    rm_jobsync_on_changed(self->jobsync, on_job_merged, self);
    rm_jobsync_on_project_lacking(self->jobsync, on_project_lacking, self);
    /* Who reads what: the node's own sockets here; the peer links
       (rm_member), the render slots (rm_slots), the S3 threads
       (rm_node_s3), the store's collector (rm_node_gc) and the rendezvous
       thread (rm_node_rendezvous) registered theirs as they started. */
    if (rm_loop_reader(self->loop, self->pipe, on_pipe_readable, self) != 0 ||
        rm_loop_reader(self->loop, self->door, on_door_readable, self) != 0 ||
        rm_loop_reader(self->loop, self->mesh, on_mesh_readable, self) != 0 ||
        rm_loop_reader(self->loop, rm_door_watch_actor(self->watch), on_watch_readable, self) !=
            0) {
        rm_err_set(start->err, RM_ENOMEM, "out of memory");
        rm_node_stop(self);
        free(self);
        zsock_signal(pipe, 1);
        return;
    }
    rm_loop_set_turn(self->loop, node_turn, self);
    zsock_signal(pipe, 0);
    rm_loop_run(self->loop, -1); /* until the turn stops it: self->terminated */
    rm_log_info("%s stopping", self->config.name);
    bool drained = self->drained, stay_down = self->stay_down;
    leave_mesh(self);
    rm_node_stop(self);
    free(self);
    if (drained)
        zstr_send(pipe, stay_down ? "DRAINED" : "DRAINED RESTART");
}

rm_node_t *rm_node_new(const rm_config_t *config, rm_err_t *err)
{
    rm_node_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    start_args_t args = {.config = config, .err = err};
    rm_err_t local;
    if (!err)
        args.err = &local;
    rm_err_clear(args.err);
    /* zactor_new returns once the actor signalled; it ignores the status,
       so the actor reports failure through args.err. */
    self->actor = zactor_new(node_actor, &args);
    if (!self->actor || args.err->code != RM_OK) {
        if (args.err->code == RM_OK)
            rm_err_set(args.err, RM_EIO, "the node could not start");
        zactor_destroy(&self->actor);
        free(self);
        return NULL;
    }
    return self;
}

void rm_node_destroy(rm_node_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
}

zactor_t *rm_node_actor(rm_node_t *self)
{
    return self->actor;
}
