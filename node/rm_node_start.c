#include "rm_node_start.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_log.h"
#include "rm_node_upload.h"
#include "rm_node.h"
#include "rm_node_gc.h"
#include "rm_node_revoke.h"
#include "rm_node_rendezvous.h"
#include "rm_node_s3.h"
#include "rm_s3_url.h"
#include "rm_blender_probe.h"
#include "rm_sandbox.h"
#include "rm_signed.h"
#include "rm_spec_sig.h"
#include "rm_caps.h"
#include "rm_endpoint.h"
#include "rm_zap.h"
#include "rm_rights.h"

#define DOOR_RCVHWM 16
#define DOOR_MAX_MSG 8192 /* a HELLO is a few hundred bytes */

/*  The token given with --token becomes the node's identity; later starts
    may omit it. */
static int load_identity(rm_node_ctx_t *self, rm_err_t *err)
{
    char identity[1100];
    if (rm_node_home_path(self, "identity.token", identity, sizeof identity, err) != 0)
        return -1;
    const char *src = self->config.token[0] ? self->config.token : identity;
    if (rm_token_load(src, &self->token, err) != 0)
        return -1;
    if (rm_cred_verify(self->token.credential.data, self->token.credential.len,
                       self->token.mesh_pk.b, (int64_t)time(NULL), &self->cred, err) != 0)
        return rm_err_prefix(err, "token %s: ", src);
    if (!rm_role_has(self->cred.role, RM_RIGHT_MESH))
        return rm_err_set(err, RM_EAUTH,
                          "token %s is for a %s, not a node (meshctl invite --role node, or "
                          "--role worker)",
                          src, self->cred.role);
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

#define HANDSHAKE_MS 5000

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
    /* A peer that starts a handshake and stalls is dropped after this
       (libzmq's default is 30 s): connections are not held for free. */
    zsock_set_handshake_ivl(sock, HANDSHAKE_MS);
    return sock;
}

static void admit(void *zap, const rm_cred_t *cred)
{
    rm_zap_admit(zap, cred->curve_pk.b, cred->expires);
}

static int bind_sockets(rm_node_ctx_t *self, rm_err_t *err)
{
    rm_endpoint_t ep;
    char main_ep[300], door_ep[300];
    if (rm_endpoint_parse(self->config.listen, RM_ENDPOINT_BIND, &ep, err) != 0)
        return rm_err_prefix(err, "listen: ");
    rm_endpoint_format(&ep, ep.port, main_ep, sizeof main_ep);
    rm_endpoint_format(&ep, ep.port + 1, door_ep, sizeof door_ep);
    /* The ZAP handler first: a CURVE socket bound without one admits anyone. */
    if (!(self->zap = rm_zap_new(err)))
        return -1;
    rm_roster_each(self->roster, admit, self->zap);
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
    zsock_set_ipv6(self->mesh, ep.ipv6);
    zsock_set_ipv6(self->door, ep.ipv6);
    /* A door flood keeps its I/O thread busy accepting and handshaking;
       the main socket, where known clients and peers talk, has its own. */
    if (zmq_ctx_get(zsys_init(), ZMQ_IO_THREADS) >= RM_NODE_IO_THREADS) {
        zsock_set_affinity(self->door, 1);
        zsock_set_affinity(self->mesh, 2);
    }
    if (zsock_bind(self->mesh, "%s", main_ep) < 0)
        return rm_err_set(err, RM_EIO, "cannot listen on %s: %s", main_ep,
                          zmq_strerror(zmq_errno()));
    if (zsock_bind(self->door, "%s", door_ep) < 0)
        return rm_err_set(err, RM_EIO, "cannot listen on %s (the door): %s", door_ep,
                          zmq_strerror(zmq_errno()));
    return 0;
}

/*  Fail closed: a node that should sandbox Blender and cannot does not
    render.  Without one, a .blend reads and writes what meshd's user can:
    `meshctl nodes` says so next to the version. */
static int probe_sandbox(rm_node_ctx_t *self, rm_err_t *err)
{
    if (!self->config.sandbox) {
        rm_log_warning("%s: sandbox = false: Blender runs with all of this node's rights",
                       self->config.name);
        size_t n = strlen(self->blender);
        snprintf(self->blender + n, sizeof self->blender - n, " (no sandbox)");
        return 0;
    }
    if (rm_sandbox_probe(self->config.blender, self->config.home, err) == 0)
        return 0;
    return rm_err_prefix(err,
                         "cannot run Blender in a sandbox (install bubblewrap, or set sandbox = "
                         "off in meshd.conf to render without one): ");
}

static void probe_blender(rm_node_ctx_t *self)
{
    rm_err_t err;
    if (rm_blender_probe_version(self->config.blender, self->blender, sizeof self->blender, &err) ==
            0 &&
        probe_sandbox(self, &err) == 0) {
        self->blender_ok = true;
        /* Without an answer the node takes no job that requires anything. */
        if (rm_blender_probe_caps(self->config.blender, self->caps, sizeof self->caps, &err) != 0)
            rm_log_warning("%s: %s; jobs that require denoising go to other nodes",
                           self->config.name, err.msg);
        rm_log_info("%s renders with %s (%s), %llu slot(s), can: %s", self->config.name,
                    self->blender, self->config.blender, (unsigned long long)self->config.slots,
                    self->caps[0] ? self->caps : "(nothing optional)");
        return;
    }
    self->blender_ok = false;
    snprintf(self->blender, sizeof self->blender, "%s", err.msg);
    rm_log_error("%s: this node will not render: %s", self->config.name, err.msg);
}

/*  The address other members reach this node at. */
static int advertised_address(const rm_config_t *config, char *out, size_t size, rm_err_t *err)
{
    rm_endpoint_t ep;
    if (config->no_inbound) {
        snprintf(out, size, "nat:%s", config->name);
        return 0;
    }
    const char *addr = config->advertise[0] ? config->advertise : config->listen;
    if (rm_endpoint_parse(addr, RM_ENDPOINT_BIND, &ep, err) != 0)
        return rm_err_prefix(err, "advertise: ");
    if (rm_endpoint_is_wildcard(&ep))
        return rm_err_set(err, RM_EINVAL,
                          "listening on %s: give --advertise tcp://HOST:PORT, the address other "
                          "nodes reach this one at",
                          config->listen);
    snprintf(out, size, "%s", addr);
    return 0;
}

static void load_epoch(rm_node_ctx_t *self)
{
    char path[1100];
    uint8_t *data = NULL;
    size_t len = 0;
    unsigned long long epoch = 0;
    if (rm_node_home_path(self, "epoch", path, sizeof path, NULL) != 0 || access(path, F_OK) != 0)
        return;
    if (rm_secret_read(path, &data, &len, 32, NULL) == 0 &&
        sscanf((const char *)data, "%llu", &epoch) == 1)
        self->election.epoch = epoch;
    free(data);
}

/*  A job learnt from another node is taken only as its submitter signed it. */
static int check_adopted_spec(void *arg, const rm_job_spec_t *spec, rm_err_t *err)
{
    rm_node_ctx_t *self = arg;
    return rm_spec_verify(spec, self->token.mesh_pk.b, err);
}

/*  A signer of frame records: a credential of this mesh (expired since is
    fine: it was valid when it signed), not revoked. */
static int check_signer(void *arg, const rm_bin_t *blob, rm_cred_t *out, rm_err_t *err)
{
    rm_node_ctx_t *self = arg;
    rm_cred_t peek;
    if (rm_signed_peek(&rm_cred_desc, blob->data, blob->len, &peek, err) != 0)
        return -1;
    int64_t issued = peek.issued;
    rm_codec_free(&rm_cred_desc, &peek);
    if (rm_cred_verify(blob->data, blob->len, self->token.mesh_pk.b, issued, out, err) != 0)
        return -1;
    const rm_revocation_t *rev = rm_node_revoked(self, out);
    if (!rev)
        return 0;
    rm_err_set(err, RM_EAUTH, "the credentials of '%s' were revoked", out->name);
    rm_codec_free(&rm_cred_desc, out);
    return -1;
}

static void set_trust(rm_node_ctx_t *self)
{
    self->trust = (rm_job_trust_t){.name = self->cred.name,
                                   .cred = self->token.credential,
                                   .check_signer = check_signer,
                                   .arg = self};
    if (self->token.sign_sk.len == 64)
        self->trust.sign_sk = self->token.sign_sk.data;
    else
        rm_log_warning("this node's credential predates signed frames: the frames it renders "
                       "will not count on other nodes; ask an admin for a new one "
                       "(meshctl invite --role node --name %s)",
                       self->cred.name);
    rm_jobs_set_trust(self->jobs, &self->trust);
}

static int start_membership(rm_node_ctx_t *self, rm_err_t *err)
{
    load_epoch(self);
    char addr[300];
    if (advertised_address(&self->config, addr, sizeof addr, err) != 0)
        return -1;
    self->member = rm_member_new(&self->config, &self->token, self->cred.name, addr, self->mesh,
                                 self->loop, err);
    if (!self->member)
        return -1;
    rm_node_revoke_watch_links(self);
    snprintf(self->advertise, sizeof self->advertise, "%s", addr);
    /* s3://: the members are found in the bucket (rm_node_rendezvous). */
    if (self->config.join[0] && !rm_s3_url_is(self->config.join) &&
        rm_member_join(self->member, self->config.join, err) != 0)
        return rm_err_prefix(err, "--join %s: ", self->config.join);
    return 0;
}

static int xfer_send(void *arg, const char *addr, const uint8_t *data, size_t len)
{
    rm_node_ctx_t *self = arg;
    return rm_member_send(self->member, addr, data, len, NULL);
}

/*  Replication, transfers, scheduling and the worker: the mesh's job side. */
static int start_mesh_work(rm_node_ctx_t *self, rm_err_t *err)
{
    if (!(self->xfer = rm_xfer_new(self->store, xfer_send, self, err)) ||
        !(self->jobsync = rm_jobsync_new(self->jobs, self->member, self->xfer, self->store, err)) ||
        !(self->sched = rm_sched_new(self->jobs, self->config.max_attempts, err)))
        return -1;
    rm_work_parts_t parts = {.config = &self->config,
                             .jobs = self->jobs,
                             .slots = self->slots,
                             .sched = self->sched,
                             .jobsync = self->jobsync,
                             .member = self->member,
                             .xfer = self->xfer,
                             .election = &self->election,
                             .uploads = self->uploads,
                             .s3_why = self->s3_why};
    if (!(self->work = rm_work_new(&parts, err)) ||
        !(self->logs = rm_logs_server_new(self->config.name, self->mesh, self->store, self->member,
                                          self->jobsync, self->xfer, err)))
        return -1;
    if (!(self->handover =
              rm_handover_new(self->config.name, self->jobs, self->store, self->member)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    if (!(self->repair =
              rm_repair_new(self->config.name, self->config.repair_after_s, self->jobs,
                            self->member, self->store, self->xfer, &self->election, err)))
        return -1;
    rm_work_set_caps(self->work, self->caps);
    return 0;
}

int rm_node_start(rm_node_ctx_t *self, const rm_config_t *config, rm_err_t *err)
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
    if (rm_node_home_path(self, "roster", path, sizeof path, err) != 0)
        return -1;
    rm_err_t roster_err;
    /* The roster is a cache of credentials peers present again at the door. */
    if (rm_roster_load(self->roster, path, self->token.mesh_pk.b, (int64_t)time(NULL),
                       &roster_err) != 0)
        rm_log_warning("starting with an empty roster: %s", roster_err.msg);
    if (rm_node_revoke_start(self, err) != 0)
        return -1;
    if (rm_node_home_path(self, "chunks", path, sizeof path, err) != 0 ||
        !(self->store = rm_store_new(path, err)))
        return -1;
    if (rm_store_removed_at_open(self->store) > 0)
        rm_log_warning("store: %llu chunk(s) written just before a crash did not reach the disk "
                       "whole: removed (fetched again when needed)",
                       (unsigned long long)rm_store_removed_at_open(self->store));
    if (rm_node_home_path(self, "jobs", path, sizeof path, err) != 0 ||
        !(self->jobs = rm_jobs_new(path, err)))
        return -1;
    rm_jobs_set_adopt_check(self->jobs, check_adopted_spec, self);
    set_trust(self);
    rm_jobs_set_retention(self->jobs, (int64_t)self->config.retain_days * 86400000);
    if (!(self->quota = rm_quota_new(&self->config)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    probe_blender(self);
    if (rm_node_home_path(self, "projects", path, sizeof path, err) != 0 ||
        !(self->slots = rm_slots_new(&self->config, self->config.name, self->blender_ok, self->jobs,
                                     self->store, path, err)))
        return -1;
    if (bind_sockets(self, err) != 0)
        return -1;
    if (!(self->watch = rm_door_watch_new(self->door, self->mesh, err)))
        return -1;
    /* The parts started below register what they read on the loop; the
       node's own sockets are registered by rm_node.c. */
    if (!(self->loop = rm_loop_new()) || rm_slots_watch(self->slots, self->loop) != 0)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    if (start_membership(self, err) != 0 || rm_node_s3_start(self, err) != 0 ||
        rm_node_rendezvous_start(self, err) != 0 || start_mesh_work(self, err) != 0 ||
        rm_node_gc_start(self, err) != 0)
        return -1;
    rm_node_upload_start(self);
    rm_xfer_set_download_limit(self->xfer, self->config.download_limit_mbps * 125000);
    if (self->config.upload_limit_mbps || self->config.download_limit_mbps)
        rm_log_info("chunk traffic limited: upload %llu Mbit/s, download %llu Mbit/s (0: none)",
                    (unsigned long long)self->config.upload_limit_mbps,
                    (unsigned long long)self->config.download_limit_mbps);
    rm_log_info("%s listening on %s (door on port+1), %zu job(s) on disk", self->config.name,
                self->config.listen, rm_jobs_count(self->jobs));
    if (!rm_role_has(self->cred.role, RM_RIGHT_COORDINATE))
        rm_log_info("%s holds a worker's credential: it renders, never coordinates",
                    self->config.name);
    return 0;
}

void rm_node_stop(rm_node_ctx_t *self)
{
    /* The node's own readers (rm_node.c), before their sockets go. */
    rm_loop_reader_end(self->loop, self->pipe);
    rm_loop_reader_end(self->loop, self->door);
    rm_loop_reader_end(self->loop, self->mesh);
    if (self->watch)
        rm_loop_reader_end(self->loop, rm_door_watch_actor(self->watch));
    rm_node_gc_stop(self); /* before the store it reads */
    rm_node_upload_stop(self);
    if (self->jobsync)
        rm_jobsync_flush(self->jobsync); /* what changed last goes out before we go */
    rm_work_destroy(&self->work);
    rm_node_rendezvous_stop(self);
    rm_node_s3_stop(self); /* after the worker, which queues its uploads */
    rm_handover_destroy(&self->handover);
    rm_repair_destroy(&self->repair);
    rm_sched_destroy(&self->sched);
    rm_xfer_destroy(&self->xfer); /* no callbacks after this */
    rm_logs_server_destroy(&self->logs);
    rm_jobsync_destroy(&self->jobsync);
    for (size_t i = 0; i < self->nwaiting; i++)
        zframe_destroy(&self->waiting[i].peer);
    rm_member_destroy(&self->member);
    for (size_t i = 0; i < self->nwatches; i++)
        zframe_destroy(&self->watches[i].peer);
    if (self->slots)
        rm_slots_flush(self->slots); /* rendered frames are kept, not rendered again */
    rm_slots_destroy(&self->slots);
    rm_door_watch_destroy(&self->watch); /* before the sockets it watches */
    zsock_destroy(&self->mesh);
    zsock_destroy(&self->door);
    rm_zap_destroy(&self->zap);
    rm_quota_destroy(&self->quota);
    rm_jobs_destroy(&self->jobs);
    rm_store_destroy(&self->store);
    rm_roster_destroy(&self->roster);
    rm_revocations_destroy(&self->revocations);
    zhashx_destroy(&self->revoke_sent);
    rm_codec_free(&rm_cred_desc, &self->cred);
    rm_token_free(&self->token);
    rm_loop_destroy(&self->loop); /* last: the parts above end their readers on it */
}
