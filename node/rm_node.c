#include "rm_node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_blender_probe.h"
#include "rm_caps.h"
#include "rm_cred.h"
#include "rm_frames.h"
#include "rm_handover.h"
#include "rm_jobs.h"
#include "rm_manifest.h"
#include "rm_jobsync.h"
#include "rm_logs.h"
#include "rm_member.h"
#include "rm_roster.h"
#include "rm_sched.h"
#include "rm_slots.h"
#include "rm_store.h"
#include "rm_work.h"
#include "rm_xfer.h"
#include "rm_door_watch.h"
#include "rm_zap.h"

#define MAX_WATCHES 1024
#define MAX_WATCH_MS 60000
#define DOOR_MAX_MSG 8192
#define DOOR_RCVHWM 16
#define MAX_WAITING 1024     /* client requests waiting on the mesh */
#define SUBMIT_HOLD_MS 30000 /* how long a submission waits for a second node */
#define HAND_BACK_MS 15000   /* SIGTERM: longest wait for outputs in hand and their hand-over */

typedef struct {
    zframe_t *peer; /* routing id */
    uint64_t req;
    char job_id[65];
    uint64_t version;
    int64_t deadline;
} watch_t;

/*  A client request answered later: a submission waiting for a second node
    to hold its job, or a chunk fetched from the mesh for it. */
typedef struct {
    zframe_t *peer;
    uint64_t req;
    rm_msg_type_t type;
    char job_id[65];
    rm_hash_t hash;
    int64_t deadline; /* SUBMIT: when its own wait for a second node ends */
} waiting_t;

/*  The actor's state: everything the node holds. */
typedef struct {
    zsock_t *pipe;
    rm_config_t config;
    rm_token_t token;
    rm_cred_t cred; /* our own, verified */
    zsock_t *zap;
    zsock_t *door;
    zsock_t *mesh;
    rm_door_watch_t *watch; /* failed handshakes on door and mesh */
    zpoller_t *poller;
    rm_roster_t *roster;
    rm_store_t *store;
    rm_jobs_t *jobs;
    rm_slots_t *slots;
    rm_member_t *member;
    rm_xfer_t *xfer;
    rm_jobsync_t *jobsync;
    rm_sched_t *sched;
    rm_work_t *work;
    rm_handover_t *handover; /* leaving: finished outputs go to members that stay */
    rm_logs_server_t *logs;
    rm_election_t election;
    rm_refusals_t refusals; /* rate of refusal log lines */
    bool blender_ok;
    char blender[512];
    char caps[RM_MAX_NAME]; /* what this Blender can do that jobs may require */
    int64_t started;
    watch_t watches[MAX_WATCHES];
    size_t nwatches;
    waiting_t waiting[MAX_WAITING];
    size_t nwaiting;
    bool terminated;
    int64_t hand_back_until; /* SIGTERM: 0, or when to leave anyway */
    bool drained;            /* left after draining: meshd exits 0 */
} node_t;

struct _rm_node_t {
    zactor_t *actor;
};

typedef struct {
    const rm_config_t *config;
    rm_err_t *err;
} start_args_t;

/* ---------------------------------------------------------------- start-up */

static int path_in_home(const node_t *self, const char *name, char *out, size_t size, rm_err_t *err)
{
    if ((size_t)snprintf(out, size, "%s/%s", self->config.home, name) >= size)
        return rm_err_set(err, RM_EINVAL, "home path too long");
    return 0;
}

/*  The token given with --token becomes the node's identity; later starts
    may omit it. */
static int load_identity(node_t *self, rm_err_t *err)
{
    char identity[1100];
    if (path_in_home(self, "identity.token", identity, sizeof identity, err) != 0)
        return -1;
    const char *src = self->config.token[0] ? self->config.token : identity;
    if (rm_token_load(src, &self->token, err) != 0)
        return -1;
    if (rm_cred_verify(self->token.credential.data, self->token.credential.len,
                       self->token.mesh_pk.b, (int64_t)time(NULL), &self->cred, err) != 0)
        return rm_err_prefix(err, "token %s: ", src);
    if (strcmp(self->cred.role, RM_ROLE_NODE) != 0)
        return rm_err_set(err, RM_EAUTH,
                          "token %s is for a %s, not a node (meshctl invite --role node)", src,
                          self->cred.role);
    if (self->config.token[0] && rm_token_save(identity, &self->token, err) != 0)
        return -1;
    /* Members, the election and every peer know a node by its credential's
       name: a second name would split its identity. */
    if (self->config.name[0] && strcmp(self->config.name, self->cred.name) != 0)
        return rm_err_set(err, RM_EINVAL,
                          "name '%s' (--name or meshd.conf) is not the name in the token, '%s': "
                          "drop it, or invite the node under that name",
                          self->config.name, self->cred.name);
    snprintf(self->config.name, sizeof self->config.name, "%s", self->cred.name);
    return 0;
}

static zsock_t *curve_router(const uint8_t pk[32], const uint8_t sk[32], const char *domain)
{
    zsock_t *sock = zsock_new(ZMQ_ROUTER);
    if (!sock)
        return NULL;
    zsock_set_zap_domain(sock, domain);
    zsock_set_curve_server(sock, 1);
    zsock_set_curve_publickey_bin(sock, pk);
    zsock_set_curve_secretkey_bin(sock, sk);
    zsock_set_maxmsgsize(sock, RM_MAX_MSG_SIZE);
    zsock_set_router_mandatory(sock, 1);
    zsock_set_linger(sock, 0);
    zsock_set_sndtimeo(sock, 0);
    return sock;
}

static int bind_sockets(node_t *self, rm_err_t *err)
{
    char host[256];
    int port;
    if (rm_endpoint_parse(self->config.listen, host, sizeof host, &port, err) != 0)
        return -1;
    /* The ZAP handler first: a CURVE socket bound without one admits anyone. */
    self->zap = rm_zap_bind(err);
    if (!self->zap)
        return -1;
    uint8_t door_pk[32], door_sk[32];
    rm_door_keypair(self->token.mesh_pk.b, door_pk, door_sk);
    self->door = curve_router(door_pk, door_sk, RM_ZAP_DOMAIN_DOOR);
    if (self->door) {
        /* Anyone with the mesh public key reaches the door: it takes only
           small HELLOs, and few at a time. */
        zsock_set_maxmsgsize(self->door, DOOR_MAX_MSG);
        zsock_set_rcvhwm(self->door, DOOR_RCVHWM);
    }
    self->mesh = curve_router(self->token.curve_pk.b, self->token.curve_sk.b, RM_ZAP_DOMAIN_MESH);
    if (!self->door || !self->mesh)
        return rm_err_set(err, RM_EIO, "cannot create sockets");
    if (zsock_bind(self->mesh, "tcp://%s:%d", host, port) < 0)
        return rm_err_set(err, RM_EIO, "cannot listen on tcp://%s:%d: %s", host, port,
                          zmq_strerror(zmq_errno()));
    if (zsock_bind(self->door, "tcp://%s:%d", host, port + 1) < 0)
        return rm_err_set(err, RM_EIO, "cannot listen on tcp://%s:%d (the door): %s", host,
                          port + 1, zmq_strerror(zmq_errno()));
    return 0;
}

static void probe_blender(node_t *self)
{
    rm_err_t err;
    if (rm_blender_probe_version(self->config.blender, self->blender, sizeof self->blender, &err) ==
        0) {
        self->blender_ok = true;
        /* Without an answer the node takes no job that requires anything. */
        if (rm_blender_probe_caps(self->config.blender, self->caps, sizeof self->caps, &err) != 0)
            zsys_warning("%s: %s; jobs that require denoising go to other nodes", self->config.name,
                         err.msg);
        zsys_info("%s renders with %s (%s), %llu slot(s), can: %s", self->config.name,
                  self->blender, self->config.blender, (unsigned long long)self->config.slots,
                  self->caps[0] ? self->caps : "(nothing optional)");
        return;
    }
    self->blender_ok = false;
    snprintf(self->blender, sizeof self->blender, "%s", err.msg);
    zsys_error("%s: this node will not render: %s", self->config.name, err.msg);
}

/*  The address other members reach this node at. */
static int advertised_address(const rm_config_t *config, char *out, size_t size, rm_err_t *err)
{
    char host[256];
    int port;
    if (config->no_inbound) {
        snprintf(out, size, "nat:%s", config->name);
        return 0;
    }
    const char *addr = config->advertise[0] ? config->advertise : config->listen;
    if (rm_endpoint_parse(addr, host, sizeof host, &port, err) != 0)
        return rm_err_prefix(err, "advertise: ");
    if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
        return rm_err_set(err, RM_EINVAL,
                          "listening on %s: give --advertise tcp://HOST:PORT, the address other "
                          "nodes reach this one at",
                          config->listen);
    snprintf(out, size, "%s", addr);
    return 0;
}

static void load_epoch(node_t *self);

static int start_membership(node_t *self, rm_err_t *err)
{
    load_epoch(self);
    char addr[300];
    if (advertised_address(&self->config, addr, sizeof addr, err) != 0)
        return -1;
    self->member = rm_member_new(&self->config, &self->token, self->cred.name, addr, self->mesh,
                                 self->poller, err);
    if (!self->member)
        return -1;
    if (self->config.join[0] && rm_member_join(self->member, self->config.join, err) != 0)
        return rm_err_prefix(err, "--join %s: ", self->config.join);
    return 0;
}

static int xfer_send(void *arg, const char *addr, const uint8_t *data, size_t len)
{
    node_t *self = arg;
    return rm_member_send(self->member, addr, data, len, NULL);
}

static void on_node_message(void *arg, const char *from, const rm_cred_t *who, const rm_msg_t *msg);
static void on_job_merged(void *arg, rm_job_t *job, bool created);

/*  Replication, transfers, scheduling and the worker: the mesh's job side. */
static int start_mesh_work(node_t *self, rm_err_t *err)
{
    if (!(self->xfer = rm_xfer_new(self->store, xfer_send, self, err)) ||
        !(self->jobsync = rm_jobsync_new(self->jobs, self->member, self->xfer, self->store, err)) ||
        !(self->sched = rm_sched_new(self->jobs, self->config.max_attempts, err)) ||
        !(self->work =
              rm_work_new(&self->config, self->config.name, self->jobs, self->slots, self->sched,
                          self->jobsync, self->member, self->xfer, &self->election, err)) ||
        !(self->logs = rm_logs_server_new(self->config.name, self->mesh, self->store, self->member,
                                          self->jobsync, self->xfer, err)))
        return -1;
    if (!(self->handover =
              rm_handover_new(self->config.name, self->jobs, self->store, self->member)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    rm_work_set_caps(self->work, self->caps);
    rm_member_on_message(self->member, on_node_message, self);
    rm_jobsync_on_changed(self->jobsync, on_job_merged, self);
    return 0;
}

static int node_start(node_t *self, const rm_config_t *config, rm_err_t *err)
{
    char path[1100];
    self->config = *config;
    self->started = zclock_time();
    if (mkdir(self->config.home, 0700) != 0 && errno != EEXIST)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", self->config.home,
                          strerror(errno));
    /* Blender runs in other directories: every path handed to it is absolute. */
    char *home = realpath(config->home, NULL);
    if (!home || strlen(home) >= sizeof self->config.home) {
        free(home);
        return rm_err_set(err, RM_EINVAL, "cannot resolve home %s", config->home);
    }
    snprintf(self->config.home, sizeof self->config.home, "%s", home);
    free(home);
    if (load_identity(self, err) != 0)
        return -1;
    if (!(self->roster = rm_roster_new()))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    if (path_in_home(self, "roster", path, sizeof path, err) != 0)
        return -1;
    rm_err_t roster_err;
    /* The roster is a cache of credentials peers present again at the door. */
    if (rm_roster_load(self->roster, path, self->token.mesh_pk.b, (int64_t)time(NULL),
                       &roster_err) != 0)
        zsys_warning("starting with an empty roster: %s", roster_err.msg);
    if (path_in_home(self, "chunks", path, sizeof path, err) != 0 ||
        !(self->store = rm_store_new(path, err)))
        return -1;
    if (path_in_home(self, "jobs", path, sizeof path, err) != 0 ||
        !(self->jobs = rm_jobs_new(path, err)))
        return -1;
    probe_blender(self);
    if (path_in_home(self, "projects", path, sizeof path, err) != 0 ||
        !(self->slots = rm_slots_new(&self->config, self->config.name, self->blender_ok, self->jobs,
                                     self->store, path, err)))
        return -1;
    if (bind_sockets(self, err) != 0)
        return -1;
    if (!(self->watch = rm_door_watch_new(self->door, self->mesh, err)))
        return -1;
    self->poller = zpoller_new(self->pipe, self->zap, self->door, self->mesh,
                               rm_door_watch_actor(self->watch), NULL);
    if (!self->poller)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    /* Signals are meshd's to handle (it asks for a hand-back): the loop
       must keep polling after one. */
    zpoller_set_nonstop(self->poller, true);
    rm_slots_poll_on(self->slots, self->poller);
    if (start_membership(self, err) != 0 || start_mesh_work(self, err) != 0)
        return -1;
    zsys_info("%s listening on %s (door on port+1), %zu job(s) on disk", self->config.name,
              self->config.listen, rm_jobs_count(self->jobs));
    return 0;
}

static void handle_door(node_t *self);
static void handle_mesh(node_t *self);

/*  Graceful leave: the others hear it from us instead of suspecting us. */
static void leave_mesh(node_t *self)
{
    if (!self->member || rm_member_alive(self->member) <= 1)
        return;
    rm_member_leave(self->member);
    int64_t end = zclock_mono() + 1000;
    while (!rm_member_left(self->member) && zclock_mono() < end) {
        void *which = zpoller_wait(self->poller, 50);
        if (which == self->zap)
            rm_zap_handle(self->zap, self->roster, &self->refusals);
        else if (which == self->mesh)
            handle_mesh(self); /* answers from no-inbound peers come in here */
        else if (which == self->door)
            handle_door(self);
        else if (which == rm_door_watch_actor(self->watch))
            rm_door_watch_handle(self->watch, &self->refusals);
        else if (which == self->pipe)
            zstr_free(&(char *){zstr_recv(self->pipe)});
        else if (which && !rm_member_handle(self->member, which))
            rm_slots_handle(self->slots, which); /* slot events; slots stop next */
        rm_member_tick(self->member);
    }
}

static void node_stop(node_t *self)
{
    leave_mesh(self);
    if (self->jobsync)
        rm_jobsync_flush(self->jobsync); /* what changed last goes out before we go */
    rm_work_destroy(&self->work);
    rm_handover_destroy(&self->handover);
    rm_sched_destroy(&self->sched);
    rm_xfer_destroy(&self->xfer); /* no callbacks after this */
    rm_logs_server_destroy(&self->logs);
    rm_jobsync_destroy(&self->jobsync);
    for (size_t i = 0; i < self->nwaiting; i++)
        zframe_destroy(&self->waiting[i].peer);
    rm_member_destroy(&self->member);
    for (size_t i = 0; i < self->nwatches; i++)
        zframe_destroy(&self->watches[i].peer);
    zpoller_destroy(&self->poller);
    if (self->slots)
        rm_slots_flush(self->slots); /* rendered frames are kept, not rendered again */
    rm_slots_destroy(&self->slots);
    rm_door_watch_destroy(&self->watch); /* before the sockets it watches */
    zsock_destroy(&self->mesh);
    zsock_destroy(&self->door);
    zsock_destroy(&self->zap);
    rm_jobs_destroy(&self->jobs);
    rm_store_destroy(&self->store);
    rm_roster_destroy(&self->roster);
    rm_codec_free(&rm_cred_desc, &self->cred);
    rm_token_free(&self->token);
}

/* ---------------------------------------------------------------- replies */

static void send_msg(zsock_t *sock, zframe_t *peer, rm_msg_type_t type, uint64_t req,
                     const void *body)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    if (rm_msg_encode(type, req, body, &buf, &len, &err) != 0) {
        zsys_error("cannot encode %s: %s", rm_msg_name(type), err.msg);
        rm_msg_encode_error(req, err.code, err.msg, &buf, &len, NULL);
        if (!buf)
            return;
    }
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(peer)});
    zmsg_addmem(msg, buf, len);
    free(buf);
    /* A peer that went away loses its reply; nothing else depends on it. */
    zmsg_send(&msg, sock);
    zmsg_destroy(&msg);
}

static void send_error(zsock_t *sock, zframe_t *peer, uint64_t req, rm_code_t code,
                       const char *text)
{
    rm_error_msg_t body = {.code = code, .message = (char *)text};
    send_msg(sock, peer, RM_MSG_ERROR, req, &body);
}

static void send_ok(zsock_t *sock, zframe_t *peer, uint64_t req, const char *text)
{
    rm_ok_t body = {.message = (char *)text};
    send_msg(sock, peer, RM_MSG_OK, req, &body);
}

/* ---------------------------------------------------------------- the door */

static int peer_key(zframe_t *frame, uint8_t key[32])
{
    const char *user = zframe_meta(frame, "User-Id");
    if (!user || strlen(user) != 40 || !zmq_z85_decode(key, user))
        return -1;
    return 0;
}

static void handle_door(node_t *self)
{
    zmsg_t *in = zmsg_recv(self->door);
    if (!in)
        return;
    zframe_t *peer = zmsg_pop(in);
    zframe_t *payload = zmsg_pop(in);
    const char *address = payload ? zframe_meta(payload, "Peer-Address") : NULL;
    uint8_t key[32];
    rm_msg_t msg;
    rm_cred_t cred = {0};
    rm_err_t err;
    memset(&msg, 0, sizeof msg);
    if (!peer || !payload || zmsg_size(in) != 0 || peer_key(payload, key) != 0) {
        if (rm_refusal_log_ok(&self->refusals))
            zsys_warning("door: refused a malformed message from %s", address ? address : "?");
        goto out;
    }
    if (rm_msg_decode(zframe_data(payload), zframe_size(payload), &msg, &err) != 0) {
        if (rm_refusal_log_ok(&self->refusals))
            zsys_warning("door: refused a malformed message from %s: %s", address ? address : "?",
                         err.msg);
        goto out;
    }
    if (msg.type != RM_MSG_HELLO) {
        if (rm_refusal_log_ok(&self->refusals))
            zsys_warning("door: refused %s from %s: only HELLO is accepted here",
                         rm_msg_name(msg.type), address ? address : "?");
        goto out;
    }
    if (rm_cred_verify(msg.u.hello.credential.data, msg.u.hello.credential.len,
                       self->token.mesh_pk.b, (int64_t)time(NULL), &cred, &err) != 0) {
        char z85[41];
        rm_key_z85(key, z85);
        if (rm_refusal_log_ok(&self->refusals))
            zsys_warning("door: refused %s (key %s): %s", address ? address : "?", z85, err.msg);
        goto out;
    }
    if (memcmp(cred.curve_pk.b, key, 32) != 0) {
        if (rm_refusal_log_ok(&self->refusals))
            zsys_warning("door: refused %s: credential of '%s' belongs to another CURVE key",
                         address ? address : "?", cred.name);
        goto out;
    }
    bool known = rm_roster_find(self->roster, key, (int64_t)time(NULL)) != NULL;
    if (rm_roster_add(self->roster, &cred, msg.u.hello.credential.data, msg.u.hello.credential.len,
                      &err) != 0) {
        zsys_error("door: %s", err.msg);
        goto out;
    }
    char roster_path[1100];
    if (!known && path_in_home(self, "roster", roster_path, sizeof roster_path, &err) == 0 &&
        rm_roster_save(self->roster, roster_path, &err) != 0)
        zsys_warning("cannot save the roster: %s", err.msg); /* peers knock again */
    zsys_info("door: admitted %s '%s' from %s", cred.role, cred.name, address ? address : "?");
    rm_welcome_t welcome = {
        .proto = RM_PROTO_VERSION, .credential = self->token.credential, .node = self->config.name};
    send_msg(self->door, peer, RM_MSG_WELCOME, msg.req, &welcome);
out:
    rm_codec_free(&rm_cred_desc, &cred);
    rm_msg_free(&msg);
    zframe_destroy(&peer);
    zframe_destroy(&payload);
    zmsg_destroy(&in);
}

/* ---------------------------------------------------------------- requests */

typedef struct {
    node_t *node;
    zframe_t *peer;
    const rm_cred_t *who;
    rm_msg_t *msg;
} request_t;

static bool one_of(const char *value, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(value, *allowed) == 0)
            return true;
    return false;
}

/*  Everything a node can check about a spec without Blender. */
static int validate_spec(const rm_config_t *config, const rm_job_spec_t *spec, rm_err_t *err)
{
    static const char *const engines[] = {"", "CYCLES", "BLENDER_EEVEE", "BLENDER_WORKBENCH", NULL};
    static const char *const devices[] = {"", "CPU", "CUDA", "OPTIX", "HIP", NULL};
    /* Blender's still-image formats ("" = the file's own); movies cannot
       be split between nodes. */
    static const char *const formats[] = {
        "",    "PNG",  "JPEG",     "OPEN_EXR", "OPEN_EXR_MULTILAYER", "TIFF",
        "BMP", "IRIS", "JPEG2000", "TARGA",    "TARGA_RAW",           "CINEON",
        "DPX", "HDR",  "WEBP",     NULL};
    if (!spec->blend[0])
        return rm_err_set(err, RM_EINVAL, "the job names no .blend file");
    if (spec->frames.count == 0)
        return rm_err_set(err, RM_EINVAL, "the job has no frames: give --frames");
    if (rm_frames_validate(spec->frames.items, spec->frames.count, err) != 0)
        return -1;
    if (!one_of(spec->engine, engines))
        return rm_err_set(err, RM_EINVAL, "unknown engine '%s'", spec->engine);
    if (!one_of(spec->device, devices))
        return rm_err_set(err, RM_EINVAL, "unknown device '%s'", spec->device);
    if (!one_of(spec->format, formats))
        return rm_err_set(err, RM_EINVAL, "unknown output format '%s'", spec->format);
    if (spec->percent > 1000)
        return rm_err_set(err, RM_EINVAL, "resolution percentage %llu is over 1000",
                          (unsigned long long)spec->percent);
    if (spec->res_x > 65536 || spec->res_y > 65536)
        return rm_err_set(err, RM_EINVAL, "resolution %llux%llu is too large",
                          (unsigned long long)spec->res_x, (unsigned long long)spec->res_y);
    if (spec->allow_scripts && !config->allow_scripts)
        return rm_err_set(err, RM_EAUTH,
                          "this node does not run Python embedded in .blend files "
                          "(allow_scripts = false in its meshd.conf)");
    if (spec->task_timeout > 7 * 86400)
        return rm_err_set(err, RM_EINVAL, "task timeout of %llu s is over 7 days",
                          (unsigned long long)spec->task_timeout);
    if (spec->source_root && spec->source_root[0] && spec->source_root[0] != '/')
        return rm_err_set(err, RM_EINVAL, "source_root '%s' is not an absolute path",
                          spec->source_root);
    return rm_caps_check_requires(spec, err);
}

static bool manifest_has_file(const rm_manifest_t *manifest, const char *path)
{
    for (uint32_t i = 0; i < manifest->files.count; i++)
        if (strcmp(manifest->files.items[i].path, path) == 0)
            return true;
    return false;
}

/*  Replies NEED with what the store lacks, or returns 0 when it has all. */
static int need_chunks(request_t *r, const rm_job_spec_t *spec, bool *complete, rm_err_t *err)
{
    node_t *self = r->node;
    rm_need_t need = {0};
    *complete = false;
    if (!rm_store_has(self->store, &spec->manifest)) {
        need.hashes.items = (rm_hash_t *)&spec->manifest;
        need.hashes.count = 1;
        send_msg(self->mesh, r->peer, RM_MSG_NEED, r->msg->req, &need);
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
    rm_manifest_free(&manifest);
    if (rc != 0) {
        free(need.hashes.items);
        return -1;
    }
    if (need.hashes.count > 0)
        send_msg(self->mesh, r->peer, RM_MSG_NEED, r->msg->req, &need);
    else
        *complete = true;
    free(need.hashes.items);
    return 0;
}

static waiting_t *add_waiting(node_t *self, zframe_t *peer, uint64_t req, rm_msg_type_t type)
{
    if (self->nwaiting == MAX_WAITING)
        return NULL;
    waiting_t *w = &self->waiting[self->nwaiting++];
    memset(w, 0, sizeof *w);
    w->peer = zframe_dup(peer);
    w->req = req;
    w->type = type;
    return w;
}

static void drop_waiting(node_t *self, size_t i)
{
    zframe_destroy(&self->waiting[i].peer);
    self->waiting[i] = self->waiting[--self->nwaiting];
}

static void send_accepted(node_t *self, zframe_t *peer, uint64_t req, rm_job_t *job)
{
    rm_job_summary_t summary = {0};
    rm_err_t err;
    if (rm_job_summary(job, &summary, &err) != 0) {
        send_error(self->mesh, peer, req, err.code, err.msg);
        return;
    }
    rm_accepted_t accepted = {.job_id = (char *)rm_job_id(job),
                              .frames_total = summary.frames_total};
    send_msg(self->mesh, peer, RM_MSG_ACCEPTED, req, &accepted);
    rm_codec_free(&rm_job_summary_desc, &summary);
}

/*  A second node holds the job (or none could in time): the submissions
    waiting for it are answered. */
static void on_job_held(void *arg, const char *job_id, int status, const char *error)
{
    node_t *self = arg;
    rm_job_t *job = rm_jobs_find(self->jobs, job_id);
    for (size_t i = 0; i < self->nwaiting;) {
        waiting_t *w = &self->waiting[i];
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
            send_error(self->mesh, w->peer, w->req, status ? (rm_code_t)status : RM_ENOTFOUND,
                       error);
        drop_waiting(self, i);
    }
}

static void handle_submit(request_t *r)
{
    node_t *self = r->node;
    rm_job_spec_t *spec = &r->msg->u.submit;
    rm_err_t err;
    rm_job_t *job = rm_jobs_find(self->jobs, spec->job_id);
    bool complete = false, created = false;
    char project[4096];
    if (job && memcmp(rm_job_spec(job)->manifest.b, spec->manifest.b, 32) != 0) {
        rm_err_set(&err, RM_EINVAL, "job id %s is taken by another project", spec->job_id);
        goto fail;
    }
    if (!job) {
        if (validate_spec(&self->config, spec, &err) != 0 ||
            need_chunks(r, spec, &complete, &err) != 0)
            goto fail;
        if (!complete)
            return;
        /* Unpack before acknowledging: a full disk is the submitter's error
           to see now, not a job that fails later. */
        if (rm_slots_project_dir(self->slots, spec, project, sizeof project, &err) != 0)
            goto fail;
        char *submitter = strdup(r->who->name);
        char *format = strdup(spec->format); /* "" keeps the file's own */
        if (!submitter || !format) {
            free(submitter);
            free(format);
            rm_err_set(&err, RM_ENOMEM, "out of memory");
            goto fail;
        }
        free(spec->submitter);
        free(spec->format);
        spec->submitter = submitter;
        spec->format = format;
        spec->submitted_at = (int64_t)zclock_time();
        if (spec->chunk == 0)
            spec->chunk = 1;
        if (rm_jobs_create(self->jobs, spec, &job, &created, &err) != 0)
            goto fail;
        zsys_info("job %s '%s' from %s: %u frame range(s), accepted", spec->job_id, spec->name,
                  r->who->name, spec->frames.count);
        rm_job_log(job, "submitted by %s: %s", r->who->name, spec->blend);
    }
    /* Acknowledged once a second node holds it: a node lost now loses
       nothing that was acknowledged. */
    waiting_t *w = add_waiting(self, r->peer, r->msg->req, RM_MSG_SUBMIT);
    if (!w) {
        rm_err_set(&err, RM_EAGAIN, "this node is busy: submit again");
        goto fail;
    }
    snprintf(w->job_id, sizeof w->job_id, "%s", rm_job_id(job));
    w->deadline = zclock_mono() + SUBMIT_HOLD_MS;
    if (rm_jobsync_replicate(self->jobsync, job, SUBMIT_HOLD_MS, on_job_held, self, &err) != 0) {
        drop_waiting(self, self->nwaiting - 1);
        goto fail;
    }
    return;
fail:
    zsys_warning("job %s from %s refused: %s", spec->job_id, r->who->name, err.msg);
    send_error(self->mesh, r->peer, r->msg->req, err.code, err.msg);
}

static void handle_chunk_put(request_t *r)
{
    rm_chunk_t *chunk = &r->msg->u.chunk;
    rm_err_t err;
    if (rm_store_put(r->node->store, &chunk->hash, chunk->data.data, chunk->data.len, &err) != 0) {
        zsys_warning("chunk from %s refused: %s", r->who->name, err.msg);
        send_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    rm_chunk_ref_t ok = {.hash = chunk->hash};
    send_msg(r->node->mesh, r->peer, RM_MSG_CHUNK_OK, r->msg->req, &ok);
}

static void on_chunk_fetched(void *arg, const rm_hash_t *hash, int status, const char *error)
{
    node_t *self = arg;
    for (size_t i = 0; i < self->nwaiting;) {
        waiting_t *w = &self->waiting[i];
        if (w->type != RM_MSG_CHUNK_GET || memcmp(w->hash.b, hash->b, 32) != 0) {
            i++;
            continue;
        }
        rm_chunk_t chunk = {.hash = *hash};
        rm_err_t err;
        if (status != 0)
            send_error(self->mesh, w->peer, w->req, (rm_code_t)status, error);
        else if (rm_store_get(self->store, hash, &chunk.data.data, &chunk.data.len, &err) != 0)
            send_error(self->mesh, w->peer, w->req, err.code, err.msg);
        else
            send_msg(self->mesh, w->peer, RM_MSG_CHUNK_DATA, w->req, &chunk);
        free(chunk.data.data);
        drop_waiting(self, i);
    }
}

/*  A client asks for a chunk this node lacks (an output rendered and kept
    elsewhere): it is fetched from the members, then sent. */
static bool proxy_chunk(request_t *r)
{
    node_t *self = r->node;
    const char *sources[16];
    size_t n = rm_jobsync_sources(self->jobsync, NULL, sources, 16);
    if (strcmp(r->who->role, RM_ROLE_NODE) == 0 || n == 0)
        return false; /* nodes ask nodes themselves */
    waiting_t *w = add_waiting(self, r->peer, r->msg->req, RM_MSG_CHUNK_GET);
    if (!w)
        return false;
    w->hash = r->msg->u.chunk_ref.hash;
    rm_err_t err;
    if (rm_xfer_fetch(self->xfer, &w->hash, false, sources, n, on_chunk_fetched, self, &err) != 0) {
        drop_waiting(self, self->nwaiting - 1);
        return false;
    }
    return true;
}

static void handle_chunk_get(request_t *r)
{
    rm_chunk_t chunk = {.hash = r->msg->u.chunk_ref.hash};
    rm_err_t err;
    if (rm_store_get(r->node->store, &chunk.hash, &chunk.data.data, &chunk.data.len, &err) != 0) {
        if (err.code != RM_ENOTFOUND || !proxy_chunk(r))
            send_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    send_msg(r->node->mesh, r->peer, RM_MSG_CHUNK_DATA, r->msg->req, &chunk);
    free(chunk.data.data);
}

static void count_jobs(node_t *self, rm_status_reply_t *s)
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
    node_t *self = r->node;
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
    send_msg(self->mesh, r->peer, RM_MSG_STATUS_REPLY, r->msg->req, &s);
}

/*  The members as NODES shows them, this node's own capabilities live. */
static int members_now(node_t *self, rm_nodes_reply_t *nodes)
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
static void note_waiting(const rm_job_t *job, rm_job_summary_t *s, const rm_nodes_reply_t *nodes)
{
    char why[512];
    if (rm_job_finished(job))
        return;
    rm_caps_waiting(rm_job_spec(job), nodes->nodes.items, nodes->nodes.count, why, sizeof why);
    char *copy = why[0] ? strdup(why) : NULL;
    if (copy) {
        free(s->waiting);
        s->waiting = copy;
    }
}

static void handle_jobs(request_t *r)
{
    node_t *self = r->node;
    size_t n = rm_jobs_count(self->jobs);
    rm_jobs_reply_t reply = {0};
    rm_err_t err;
    reply.jobs.items = calloc(n ? n : 1, sizeof(rm_job_summary_t));
    if (!reply.jobs.items) {
        send_error(self->mesh, r->peer, r->msg->req, RM_ENOMEM, "out of memory");
        return;
    }
    rm_nodes_reply_t nodes;
    bool have_nodes = members_now(self, &nodes) == 0;
    for (size_t i = 0; i < n; i++) {
        rm_job_t *job = rm_jobs_at(self->jobs, i);
        if (rm_job_summary(job, &reply.jobs.items[i], &err) != 0)
            break;
        if (have_nodes)
            note_waiting(job, &reply.jobs.items[i], &nodes);
        reply.jobs.count++;
    }
    if (have_nodes)
        rm_codec_free(rm_msg_desc(RM_MSG_NODES_REPLY), &nodes);
    send_msg(self->mesh, r->peer, RM_MSG_JOBS_REPLY, r->msg->req, &reply);
    rm_codec_free(rm_msg_desc(RM_MSG_JOBS_REPLY), &reply);
}

static rm_job_t *find_job(request_t *r, const char *job_id)
{
    rm_job_t *job = rm_jobs_find(r->node->jobs, job_id);
    if (!job) {
        char text[160];
        snprintf(text, sizeof text, "no job %.64s on this node", job_id);
        send_error(r->node->mesh, r->peer, r->msg->req, RM_ENOTFOUND, text);
    }
    return job;
}

static void handle_job_info(request_t *r)
{
    rm_job_t *job = find_job(r, r->msg->u.job_ref.job_id);
    rm_job_reply_t reply;
    rm_err_t err;
    if (!job)
        return;
    if (rm_job_info(job, &reply, &err) != 0) {
        send_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    rm_nodes_reply_t nodes;
    if (members_now(r->node, &nodes) == 0) {
        note_waiting(job, &reply.summary, &nodes);
        rm_codec_free(rm_msg_desc(RM_MSG_NODES_REPLY), &nodes);
    }
    send_msg(r->node->mesh, r->peer, RM_MSG_JOB_REPLY, r->msg->req, &reply);
    rm_codec_free(rm_msg_desc(RM_MSG_JOB_REPLY), &reply);
}

/*  What this node gossips about itself, from its live state. */
static void local_meta(node_t *self, rm_member_meta_t *meta, char *rendering, size_t size)
{
    rm_slots_describe(self->slots, rendering, size);
    *meta = (rm_member_meta_t){
        .role = self->config.role,
        .slots = rm_slots_count(self->slots),
        .slots_busy = rm_slots_busy(self->slots),
        .ms_per_frame = rm_slots_ms_per_frame(self->slots),
        .blender_ok = self->blender_ok,
        .blender = self->blender,
        .caps = self->caps,
        .rendering = rendering,
        .epoch = self->election.epoch,
        .acting = self->election.acting,
        .draining = self->work && rm_work_draining(self->work),
    };
}

/*  The highest epoch seen is kept in HOME/epoch, so a restarted node never
    claims an epoch number it (or anyone) used before. */
static void save_epoch(node_t *self)
{
    char path[1100], text[32];
    rm_err_t err;
    int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)self->election.epoch);
    if (path_in_home(self, "epoch", path, sizeof path, &err) != 0 ||
        rm_secret_write(path, text, (size_t)n, &err) != 0)
        zsys_warning("cannot save the epoch: %s", err.msg);
}

static void load_epoch(node_t *self)
{
    char path[1100];
    uint8_t *data = NULL;
    size_t len = 0;
    unsigned long long epoch = 0;
    if (path_in_home(self, "epoch", path, sizeof path, NULL) != 0 || access(path, F_OK) != 0)
        return;
    if (rm_secret_read(path, &data, &len, 32, NULL) == 0 &&
        sscanf((const char *)data, "%llu", &epoch) == 1)
        self->election.epoch = epoch;
    free(data);
}

/*  Re-runs the election over the current membership view. */
static void elect(node_t *self)
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
        zsys_info("coordinator: %s, epoch %llu%s at %lld",
                  self->election.coordinator[0] ? self->election.coordinator : "(none)",
                  (unsigned long long)self->election.coordinator_epoch,
                  self->election.acting ? " (this node)" : "", (long long)zclock_time());
}

static void handle_nodes(request_t *r)
{
    node_t *self = r->node;
    rm_nodes_reply_t reply;
    rm_err_t err;
    if (rm_member_list(self->member, &reply, &err) != 0) {
        send_error(self->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    /* Entry 0 is this node: show its live state, not what it last gossiped. */
    char rendering[200];
    rm_member_meta_t meta;
    local_meta(self, &meta, rendering, sizeof rendering);
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
    } else {
        for (size_t i = 0; i < 4; i++)
            free(fresh[i]);
    }
    send_msg(self->mesh, r->peer, RM_MSG_NODES_REPLY, r->msg->req, &reply);
    rm_codec_free(rm_msg_desc(RM_MSG_NODES_REPLY), &reply);
}

static void handle_cancel(request_t *r)
{
    rm_job_t *job = find_job(r, r->msg->u.job_ref.job_id);
    rm_err_t err;
    if (!job)
        return;
    if (rm_job_finished(job) && strcmp(rm_job_state(job), "canceled") != 0) {
        send_ok(r->node->mesh, r->peer, r->msg->req, "job already finished");
        return;
    }
    if (rm_job_cancel(job, &err) != 0) {
        send_error(r->node->mesh, r->peer, r->msg->req, err.code, err.msg);
        return;
    }
    rm_work_job_changed(r->node->work, job); /* its renders here stop; others hear it by sync */
    rm_job_log(job, "cancelled by %s", r->who->name);
    zsys_info("job %s cancelled by %s", rm_job_id(job), r->who->name);
    send_ok(r->node->mesh, r->peer, r->msg->req, "cancelled");
}

/*  LOGS: the job's log, or a frame's Blender log from wherever it is
    (rm_logs.h). */
static void handle_logs(request_t *r)
{
    rm_job_t *job = find_job(r, r->msg->u.logs.job_id);
    if (job)
        rm_logs_server_request(r->node->logs, r->peer, r->who, r->msg->req, job, &r->msg->u.logs);
}

static void reply_watch(node_t *self, zframe_t *peer, uint64_t req, rm_job_t *job)
{
    rm_job_summary_t summary;
    rm_err_t err;
    if (rm_job_summary(job, &summary, &err) != 0) {
        send_error(self->mesh, peer, req, err.code, err.msg);
        return;
    }
    send_msg(self->mesh, peer, RM_MSG_WATCH_REPLY, req, &summary);
    rm_codec_free(&rm_job_summary_desc, &summary);
}

static void handle_watch(request_t *r)
{
    node_t *self = r->node;
    rm_watch_t *w = &r->msg->u.watch;
    rm_job_t *job = find_job(r, w->job_id);
    if (!job)
        return;
    if (rm_job_version(job) != w->version || self->nwatches == MAX_WATCHES) {
        reply_watch(self, r->peer, r->msg->req, job);
        return;
    }
    watch_t *slot = &self->watches[self->nwatches++];
    slot->peer = zframe_dup(r->peer);
    slot->req = r->msg->req;
    snprintf(slot->job_id, sizeof slot->job_id, "%s", w->job_id);
    slot->version = w->version;
    uint64_t timeout = w->timeout_ms < MAX_WATCH_MS ? w->timeout_ms : MAX_WATCH_MS;
    slot->deadline = zclock_time() + (int64_t)timeout;
}

/*  Answers the watches whose job changed or whose time is up. */
static void serve_watches(node_t *self)
{
    int64_t now = zclock_time();
    size_t kept = 0;
    for (size_t i = 0; i < self->nwatches; i++) {
        watch_t *w = &self->watches[i];
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

static int64_t next_wakeup(node_t *self)
{
    int64_t wait = rm_member_wakeup(self->member), now = zclock_time(), mono = zclock_mono();
    for (size_t i = 0; i < self->nwatches; i++)
        if (self->watches[i].deadline - now < wait)
            wait = self->watches[i].deadline - now;
    int64_t more[] = {rm_work_wakeup(self->work, mono), rm_jobsync_wakeup(self->jobsync, mono),
                      rm_xfer_wakeup(self->xfer, mono), rm_handover_wakeup(self->handover, mono)};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        if (more[i] < wait)
            wait = more[i];
    return wait < 0 ? 0 : wait;
}

static void handle_drain(request_t *r)
{
    node_t *self = r->node;
    const rm_drain_t *d = &r->msg->u.drain;
    char text[RM_MAX_NAME + 64];
    if (!d->node[0] || strcmp(d->node, self->config.name) == 0) {
        rm_work_drain(self->work, d->hand_back);
        snprintf(text, sizeof text, "%s is draining: %s, then it leaves", self->config.name,
                 d->hand_back ? "handing its frames back" : "finishing its frames");
        send_ok(self->mesh, r->peer, r->msg->req, text);
        return;
    }
    if (strcmp(r->who->role, RM_ROLE_NODE) == 0) {
        send_error(self->mesh, r->peer, r->msg->req, RM_EINVAL, "a node drains only itself");
        return;
    }
    const char *addr = rm_member_addr_of(self->member, d->node);
    const char *state = rm_member_state_of(self->member, d->node);
    if (!addr) {
        snprintf(text, sizeof text, "node %s is %s", d->node,
                 state ? state : "not a member of this mesh");
        send_error(self->mesh, r->peer, r->msg->req, state ? RM_EUNREACH : RM_ENOTFOUND, text);
        return;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    rm_drain_t forward = {.node = d->node, .hand_back = d->hand_back};
    if (rm_msg_encode(RM_MSG_DRAIN, 0, &forward, &buf, &len, &err) != 0 ||
        rm_member_send(self->member, addr, buf, len, &err) != 0) {
        send_error(self->mesh, r->peer, r->msg->req, err.code, err.msg);
        free(buf);
        return;
    }
    free(buf);
    snprintf(text, sizeof text, "asked %s to drain", d->node);
    send_ok(self->mesh, r->peer, r->msg->req, text);
}

static void dispatch(request_t *r)
{
    switch (r->msg->type) {
    case RM_MSG_SUBMIT:
        handle_submit(r);
        break;
    case RM_MSG_CHUNK_PUT:
        handle_chunk_put(r);
        break;
    case RM_MSG_CHUNK_GET:
        handle_chunk_get(r);
        break;
    case RM_MSG_STATUS:
        handle_status(r);
        break;
    case RM_MSG_JOBS:
        handle_jobs(r);
        break;
    case RM_MSG_JOB_INFO:
        handle_job_info(r);
        break;
    case RM_MSG_NODES:
        handle_nodes(r);
        break;
    case RM_MSG_CANCEL:
        handle_cancel(r);
        break;
    case RM_MSG_LOGS:
        handle_logs(r);
        break;
    case RM_MSG_WATCH:
        handle_watch(r);
        break;
    case RM_MSG_GOSSIP:
        rm_member_gossip_in(r->node->member, r->peer, r->who, &r->msg->u.gossip);
        break;
    case RM_MSG_DRAIN:
        handle_drain(r);
        break;
    default: {
        char text[96];
        snprintf(text, sizeof text, "a node does not take %s requests",
                 rm_msg_name(r->msg->type) ? rm_msg_name(r->msg->type) : "unknown");
        send_error(r->node->mesh, r->peer, r->msg->req, RM_EPROTO, text);
    }
    }
}

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

/*  Messages between nodes, whichever socket they came in on: answers go
    back to `from` through rm_member_send. */
static bool node_message_type(rm_msg_type_t type)
{
    switch (type) {
    case RM_MSG_JOB_SYNC:
    case RM_MSG_JOB_HELD:
    case RM_MSG_JOB_DELTA:
    case RM_MSG_JOB_DIGEST:
    case RM_MSG_WORK_REQ:
    case RM_MSG_ASSIGN:
    case RM_MSG_REPLICATE:
    case RM_MSG_OK:
    case RM_MSG_ERROR:
    case RM_MSG_CHUNK_DATA:
        return true;
    default:
        return false;
    }
}

/*  CHUNK_GET that came over one of our outbound links (from a peer we
    reach, or answering a node behind NAT). */
static void serve_chunk(node_t *self, const char *from, const rm_msg_t *msg)
{
    rm_chunk_t chunk = {.hash = msg->u.chunk_ref.hash};
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    if (rm_store_get(self->store, &chunk.hash, &chunk.data.data, &chunk.data.len, &err) != 0)
        rm_msg_encode_error(msg->req, err.code, err.msg, &buf, &len, NULL);
    else
        rm_msg_encode(RM_MSG_CHUNK_DATA, msg->req, &chunk, &buf, &len, NULL);
    if (buf)
        rm_member_send(self->member, from, buf, len, NULL);
    free(buf);
    free(chunk.data.data);
}

static void node_message(node_t *self, const char *from, const rm_cred_t *who, const rm_msg_t *msg)
{
    if (rm_logs_server_on_message(self->logs, msg) || rm_xfer_on_message(self->xfer, from, msg) ||
        rm_jobsync_handle(self->jobsync, from, who, msg) ||
        rm_handover_handle(self->handover, from, msg) || rm_work_handle(self->work, from, who, msg))
        return;
    if (msg->type == RM_MSG_CHUNK_GET)
        serve_chunk(self, from, msg);
    else if (msg->type == RM_MSG_DRAIN &&
             (!msg->u.drain.node[0] || strcmp(msg->u.drain.node, self->config.name) == 0))
        rm_work_drain(self->work, msg->u.drain.hand_back);
    else if (msg->type == RM_MSG_ERROR)
        zsys_debug("error from %s: %s", who->name, msg->u.error.message);
}

static void on_node_message(void *arg, const char *from, const rm_cred_t *who, const rm_msg_t *msg)
{
    node_message(arg, from, who, msg);
}

/*  A job changed by a merge: renders of a job that ended stop here. */
static void on_job_merged(void *arg, rm_job_t *job, bool created)
{
    node_t *self = arg;
    if (created)
        zsys_info("job %s '%s' learnt from the mesh", rm_job_id(job), rm_job_spec(job)->name);
    rm_work_job_changed(self->work, job);
}

static void handle_mesh(node_t *self)
{
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
    if (peer && payload && peer_key(payload, key) == 0)
        who = rm_roster_find(self->roster, key, (int64_t)time(NULL));
    if (!who || zmsg_size(in) != 0) {
        zsys_warning("refused a message from an unknown or expired peer");
        goto out;
    }
    if (rm_msg_decode(zframe_data(payload), zframe_size(payload), &msg, &err) != 0) {
        zsys_warning("malformed message from %s: %s", who->name, err.msg);
        send_error(self->mesh, peer, header_req(payload), RM_EPROTO, err.msg);
        goto out;
    }
    if (strcmp(who->role, RM_ROLE_NODE) == 0 && node_message_type(msg.type)) {
        char from[300];
        rm_member_rid_addr(peer, from, sizeof from);
        node_message(self, from, who, &msg);
        goto out;
    }
    request_t r = {.node = self, .peer = peer, .who = who, .msg = &msg};
    dispatch(&r);
out:
    rm_msg_free(&msg);
    zframe_destroy(&peer);
    zframe_destroy(&payload);
    zmsg_destroy(&in);
}

/* ---------------------------------------------------------------- the actor */

/*  "$TERM": stop now.  "HAND_BACK" (meshd on SIGTERM): give frames back,
    wait for outputs in hand to be stored and copied, leave, then "DRAINED". */
static void handle_pipe(node_t *self)
{
    char *command = zstr_recv(self->pipe);
    if (!command || streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "HAND_BACK") && !self->hand_back_until) {
        self->hand_back_until = zclock_mono() + HAND_BACK_MS;
        rm_work_drain(self->work, true);
    }
    zstr_free(&command);
}

/*  The work of one loop turn after an event: the order matters (new work
    before disk work, changes out before membership). */
static void turn(node_t *self)
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
    serve_watches(self);
    char rendering[200];
    rm_member_meta_t meta;
    local_meta(self, &meta, rendering, sizeof rendering);
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
        zsys_info("%s drained: leaving the mesh", self->config.name);
        self->drained = true;
        self->terminated = true;
    }
}

static void node_actor(zsock_t *pipe, void *args)
{
    start_args_t *start = args;
    node_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(start->err, RM_ENOMEM, "out of memory");
        zsock_signal(pipe, 1);
        return;
    }
    self->pipe = pipe;
    if (node_start(self, start->config, start->err) != 0) {
        node_stop(self);
        free(self);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    while (!self->terminated) {
        void *which = zpoller_wait(self->poller, (int)next_wakeup(self));
        if (which == self->pipe)
            handle_pipe(self);
        else if (which == self->zap)
            rm_zap_handle(self->zap, self->roster, &self->refusals);
        else if (which == self->door)
            handle_door(self);
        else if (which == self->mesh)
            handle_mesh(self);
        else if (which == rm_door_watch_actor(self->watch))
            rm_door_watch_handle(self->watch, &self->refusals);
        else if (which && !rm_member_handle(self->member, which))
            rm_slots_handle(self->slots, which);
        else if (!which && zpoller_terminated(self->poller))
            break;
        turn(self);
    }
    zsys_info("%s stopping", self->config.name);
    bool drained = self->drained;
    node_stop(self);
    free(self);
    if (drained)
        zstr_send(pipe, "DRAINED"); /* meshd exits 0 */
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
